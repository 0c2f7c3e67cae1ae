"""Two-stream disentanglement, Eq. 11 of arXiv 2602.18551 (piece 2 of :mod:`operando.ir.models.abcc`):
the component spectra fixed from the calibration set (:class:`StreamBasis`) and the network with
one output branch per stream (:class:`StreamNet`)."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from operando.errors import InputError
from operando.flow.meanflow import per_sample
from operando.ir.models.abcc.config import REFERENCE_SYSTEM_PREFIX, SIMULATED_CALIBRATION, STREAMS_FILE, ABCCConfig
from operando.nn.sit1d import SiT1D, SiT1DConfig


def polynomial_shapes(wavenumber_cm1: np.ndarray, order: int) -> np.ndarray:
    """Legendre polynomials 0..order on the window scaled to [-1, 1]: (order + 1, W)."""
    wn = np.asarray(wavenumber_cm1, dtype=np.float64)
    x = 2.0 * (wn - wn.min()) / (float(wn.max() - wn.min()) or 1.0) - 1.0
    return np.stack([np.polynomial.legendre.Legendre.basis(d)(x) for d in range(order + 1)])


def _orthonormal(rows: np.ndarray) -> np.ndarray:
    """Orthonormal basis (K, W) of the span of ``rows`` (K, W) (which must be independent)."""
    if rows.shape[0] == 0:
        return np.zeros((0, rows.shape[1]))
    q, _ = np.linalg.qr(rows.T)
    return q.T


def _remove_span(x: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """``x`` (n, W) minus its orthogonal projection onto the span of ``basis`` (K, W)."""
    q = _orthonormal(basis)
    return x - (x @ q.T) @ q


def choose_rank(spectra: np.ndarray, margin: float = 1.1, max_k: int = 16) -> tuple[int, np.ndarray]:
    """Smallest K whose rank-K residual RMS is within ``margin`` of the noise: ``(K, sv)``.

    ``spectra`` (n, W); noise sigma from :func:`operando.noise.estimate_noise_std`
    (median over spectra); residual RMS(K) = sqrt(sum_{j > K} sv_j^2 / (n W)) with sv the
    singular values (returned, descending). K is clipped to 1..min(max_k, n).
    """
    from operando.noise import estimate_noise_std

    n, w = spectra.shape
    sv = np.linalg.svd(spectra, compute_uv=False)
    sigma = float(np.median(estimate_noise_std(spectra)))
    tail = np.concatenate([np.cumsum((sv ** 2)[::-1])[::-1], [0.0]])  # tail[k] = sum_{j >= k}
    rms = np.sqrt(tail / (n * w))
    within = np.flatnonzero(rms <= margin * sigma)
    k = int(within[0]) if within.size else len(sv)
    return int(np.clip(k, 1, min(max_k, n))), sv


@dataclass
class StreamFit:
    """The streams of a set of targets ``x`` (n, W); ``elec + sei + baseline + residual = x``.

    ``elec_coefficients`` (n, K_e) signed, ``sei_coefficients`` (n, K_s) (>= 0 when fitted
    so), ``baseline_coefficients`` (n, K_b) signed.
    """

    elec: np.ndarray
    sei: np.ndarray
    baseline: np.ndarray
    residual: np.ndarray
    elec_coefficients: np.ndarray
    sei_coefficients: np.ndarray
    baseline_coefficients: np.ndarray

    @property
    def in_span(self) -> np.ndarray:
        """elec + sei + baseline (n, W): what the streams explain."""
        return self.elec + self.sei + self.baseline


@dataclass(eq=False)  # holds arrays
class StreamBasis:
    """Fixed component spectra of the two streams on the common grid.

    ``elec`` (K_e, W): electrolyte components; ``sei`` (K_s, W): one spectrum per SEI
    reference (names in ``sei_names``); ``baseline`` (K_b, W): offset/slope shapes (K_b = 0
    for ``residual = "none"``). ``info``: how they were obtained (saved as streams.json).
    """

    elec: np.ndarray
    sei: np.ndarray
    baseline: np.ndarray
    sei_names: list[str]
    residual: str = "baseline"
    info: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        stacked = self.stacked
        if np.linalg.matrix_rank(stacked) < stacked.shape[0]:
            raise ValueError("the electrolyte, SEI and baseline spectra are linearly dependent; "
                             "fewer electrolyte components are needed")
        self._pinv = np.linalg.pinv(stacked)  # (W, K)

    @property
    def width(self) -> int:
        return self.elec.shape[1]

    @property
    def stacked(self) -> np.ndarray:
        """[elec; sei; baseline] (K_e + K_s + K_b, W)."""
        return np.vstack([self.elec, self.sei, self.baseline])

    def fit(self, x: np.ndarray, sei_nonnegative: bool = True) -> StreamFit:
        """Split targets ``x`` (n, W) into the streams (least squares on all the spectra).

        Electrolyte and baseline coefficients are signed (an electrolyte change removes and
        adds bands); SEI coefficients are non-negative with ``sei_nonnegative``. The problem
        is solved exactly: the signed block is eliminated by projecting onto its orthogonal
        complement, the SEI coefficients are then a non-negative least-squares problem
        (:func:`~operando.decompose.mcr.nnls_gram`), and the signed ones a plain least squares
        on what the SEI leaves.
        """
        from operando.decompose.mcr import nnls_gram

        x = np.asarray(x, dtype=np.float64)
        signed = np.vstack([self.elec, self.baseline])
        if sei_nonnegative and len(self.sei):
            sei_free = _remove_span(self.sei, signed)  # (K_s, W)
            c_sei = nnls_gram(sei_free @ sei_free.T, sei_free @ x.T).T  # (n, K_s)
            c_signed = np.linalg.lstsq(signed.T, (x - c_sei @ self.sei).T, rcond=None)[0].T
        else:
            c = x @ self._pinv
            k_e, k_s = len(self.elec), len(self.sei)
            c_sei = c[:, k_e:k_e + k_s]
            c_signed = np.hstack([c[:, :k_e], c[:, k_e + k_s:]])
        k_e = len(self.elec)
        c_elec, c_base = c_signed[:, :k_e], c_signed[:, k_e:]
        elec, sei, base = c_elec @ self.elec, c_sei @ self.sei, c_base @ self.baseline
        return StreamFit(elec, sei, base, x - elec - sei - base, c_elec, c_sei, c_base)

    def split(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(elec, sei, residual)`` of ``y`` (..., W), each (..., W), summing to ``y``.

        Unconstrained least squares on all the spectra (the unique split of anything in
        their span); the residual is the baseline part plus whatever lies outside the span.
        """
        y = np.asarray(y, dtype=np.float64)
        c = y @ self._pinv
        k_e, k_s = len(self.elec), len(self.sei)
        elec = c[..., :k_e] @ self.elec
        sei = c[..., k_e:k_e + k_s] @ self.sei
        return elec, sei, y - elec - sei

    def in_span(self, x: np.ndarray) -> np.ndarray:
        """``x`` (..., W) projected onto the span of all the spectra (orthogonally), same shape."""
        return (np.asarray(x, dtype=np.float64) @ self._pinv) @ self.stacked

    def outside_over_noise(self, spectrum: np.ndarray) -> float:
        """RMS of ``spectrum`` (W,) outside the span over its own noise std (second differences,
        :func:`~operando.ir.data.stats.estimate_noise_std`): about 1 when only noise lies outside."""
        from operando.noise import estimate_noise_std

        spectrum = np.asarray(spectrum, dtype=np.float64)
        outside = float(np.sqrt(np.mean((spectrum - self.in_span(spectrum)) ** 2)))
        return outside / max(float(estimate_noise_std(spectrum)), 1e-300)

    def explained(self, x: np.ndarray) -> float:
        """Share of the energy of ``x`` (n, W) in the span of all the spectra."""
        x = np.asarray(x, dtype=np.float64)
        rest = _remove_span(x, self.stacked)
        return float(1.0 - (rest ** 2).sum() / max((x ** 2).sum(), 1e-300))

    def tensors(self) -> dict[str, Tensor]:
        return {"elec_spectra": torch.from_numpy(self.elec), "sei_spectra": torch.from_numpy(self.sei),
                "baseline_spectra": torch.from_numpy(self.baseline)}

    @classmethod
    def from_calibration(cls, calibration, wavenumber_cm1: np.ndarray, config: ABCCConfig,
                         source: str | Path | None = None) -> "StreamBasis":
        """Fit the component spectra from a PREPROCESSED calibration dataset.

        Experiments whose system starts with ``"reference|"`` are SEI references (one product
        each); every other experiment is an electrolyte sample.

        * electrolyte (``"svd"``): the baseline shapes are projected out of the stacked
          electrolyte spectra X, so that drift does not pick the components; of that SVD
          (U s V^T) the K leading directions (K from :func:`choose_rank`) are taken back as
          the same combinations of the measured spectra, S_elec = diag(1/s_K) U_K^T X: whole
          electrolyte spectra (band areas and means included), spanning with the baseline
          shapes exactly what V_K and the shapes span. ``"mcr"``: the K spectra of MCR-ALS
          with a baseline;
        * SEI: per reference, the leading right singular vector of its spectra that the
          preprocessing did not clip (thicker films exceed the clip range once normalised by
          the thinnest one), signed so that its largest value is positive. These stay whole
          band spectra (the preprocessing already removed each spectrum's offset), so an SEI
          coefficient is an amount of that product.
        """
        grid = np.asarray(wavenumber_cm1, dtype=np.float64)
        electrolytes = [e for e in calibration if not e.system.startswith(REFERENCE_SYSTEM_PREFIX)]
        references = [e for e in calibration if e.system.startswith(REFERENCE_SYSTEM_PREFIX)]
        if not electrolytes or not references:
            raise InputError(source, "a calibration set needs electrolyte samples and SEI reference samples "
                                     f"(system label starting with {REFERENCE_SYSTEM_PREFIX!r}); found "
                                     f"{len(electrolytes)} and {len(references)}")
        for e in calibration:
            if e.wavenumber_cm1.shape != grid.shape or not np.allclose(e.wavenumber_cm1, grid):
                raise InputError(source, f"calibration experiment {e.name!r} is not on the operando data's "
                                         f"wavenumber grid ({len(grid)} points, {grid[0]:g}-{grid[-1]:g} cm-1)")
        shapes = polynomial_shapes(grid, config.baseline_order)
        elec_spectra = np.concatenate([e.absorbance for e in electrolytes]).astype(np.float64)
        debased = _remove_span(elec_spectra, shapes)
        k, sv = choose_rank(debased, config.noise_margin, config.max_electrolyte_components)
        if config.electrolyte_method == "svd":
            u, s = np.linalg.svd(debased, full_matrices=False)[:2]
            elec = (u[:, :k].T @ elec_spectra) / s[:k, None]
        else:
            from operando.decompose.mcr import mcr_als

            elec = mcr_als(elec_spectra, k, baseline=shapes, init="svd-nnls", max_iter=300).S
        sei, names = [], []
        for e in references:
            rows = e.absorbance.astype(np.float64)
            unclipped = rows[(rows.max(axis=1) < 1.5 - 1e-6) & (rows.min(axis=1) > -0.5 + 1e-6)]
            rows = unclipped if len(unclipped) else rows[:1]
            v = np.linalg.svd(rows, full_matrices=False)[2][0]
            sei.append(v * np.sign(v[np.argmax(np.abs(v))]))
            names.append(e.system[len(REFERENCE_SYSTEM_PREFIX):] or e.name)
        baseline = shapes if config.residual != "none" else np.zeros((0, len(grid)))
        info = {"calibration": str(source) if source is not None else None,
                "electrolyte_method": config.electrolyte_method,
                "n_electrolyte_spectra": int(len(elec_spectra)), "n_electrolyte_components": int(k),
                "electrolyte_singular_values": [float(s) for s in sv[:24]],
                "sei_references": names, "baseline_order": config.baseline_order, "residual": config.residual}
        return cls(np.asarray(elec, dtype=np.float64), np.array(sei), baseline, names, config.residual, info)

    @classmethod
    def from_net(cls, net: "StreamNet", info: dict | None = None) -> "StreamBasis":
        """The basis stored in a trained :class:`StreamNet`'s buffers."""
        info = dict(info or {})
        names = list(info.get("sei_references") or [f"SEI {i + 1}" for i in range(net.config.n_sei)])
        return cls(net.elec_spectra.double().numpy(), net.sei_spectra.double().numpy(),
                   net.baseline_spectra.double().numpy(), names, net.config.residual, info)


def load_calibration(config: ABCCConfig):
    """The PREPROCESSED calibration dataset named by ``config.calibration`` and its source."""
    from operando.ir.data.dataset import OperandoDataset
    from operando.ir.data.preprocess import preprocess_dataset

    if config.calibration == SIMULATED_CALIBRATION:
        from operando.ir.simulate import simulate_calibration

        return (preprocess_dataset(simulate_calibration(config.calibration_seed)),
                f"simulated calibration set (seed {config.calibration_seed})")
    path = Path(config.calibration)
    if not path.is_file():
        raise InputError(path, "calibration file not found; write it with `operando ir simulate --calibration -o "
                               f"{path}` (simulated data) or measure one (docs/ir/abcc.md), or set "
                               "model.abcc.calibration", field="model.abcc.calibration")
    return preprocess_dataset(OperandoDataset.load(path)), path


@dataclass
class StreamNetConfig:
    """Architecture of :class:`StreamNet` (saved as model_config.json).

    ``backbone``: the :class:`~operando.nn.sit1d.SiT1DConfig` fields (its ``out_channels`` is
    the number of branches); ``residual``: as in :class:`ABCCConfig`; ``n_elec``, ``n_sei``,
    ``n_baseline``: numbers of component spectra (buffer sizes).
    """

    backbone: dict
    residual: str = "baseline"
    n_elec: int = 1
    n_sei: int = 1
    n_baseline: int = 2

    @property
    def width(self) -> int:
        return int(self.backbone["width"])

    @property
    def n_branches(self) -> int:
        return 2 if self.residual == "none" else 3

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "StreamNetConfig":
        return cls(**data)


def _project(x: Tensor, orthonormal: Tensor) -> Tensor:
    """Orthogonal projection of x (B, W) onto the span of the rows of ``orthonormal`` (K, W)."""
    return (x @ orthonormal.T) @ orthonormal


class StreamNet(nn.Module):
    """Two-stream velocity network ``u = net(z, t, r, s0=..., cond_vec=..., drop_cond=...)``.

    A :class:`~operando.nn.sit1d.SiT1D` trunk with one output map per branch, F_elec, F_SEI
    (and F_res): each is projected onto its own subspace (hard projection) and they are summed
    with learnable weights w (initialised to 1)::

        u = w_e P_elec F_elec + w_s P_SEI F_SEI + w_r P_res F_res + (I - P_V) z / t

    * ``residual = "baseline"``: P_res projects onto the baseline shapes; V is the span of all
      the spectra. ``"none"``: no third branch; V = span(elec, SEI).
    * in both, targets lie in V, so the part of the flow outside V is pure noise: its exact
      (average) velocity is (I - P_V) eps = (I - P_V) z_t / t for every r <= t, which the last
      term supplies. A generated sample, x = eps - u(eps, 0, 1), lies in V.
    * ``"full"``: P_res = I - P_(elec+SEI) (the orthogonal complement) and there is no analytic
      term; targets are the raw flows.

    Shapes: z, s0 (B, W); t, r (B,); cond_vec (B, F); returns u (B, W).
    """

    def __init__(self, config: StreamNetConfig, basis: StreamBasis | None = None):
        super().__init__()
        self.config = config
        backbone = SiT1DConfig.from_dict({**config.backbone, "out_channels": config.n_branches})
        self.backbone = SiT1D(backbone)
        w = config.width
        k_base = config.n_baseline if config.residual != "none" else 0
        shapes = {"elec_spectra": (config.n_elec, w), "sei_spectra": (config.n_sei, w),
                  "baseline_spectra": (k_base, w)}
        source = basis.tensors() if basis is not None else {}
        for name, shape in shapes.items():
            value = source.get(name, torch.zeros(shape, dtype=torch.float64))
            if tuple(value.shape) != shape:
                raise ValueError(f"{name} has shape {tuple(value.shape)}, expected {shape}")
            self.register_buffer(name, value.double().clone())
        # float64 buffers (the trainer casts data to the parameters' dtype, not the buffers'):
        # the saved spectra are the fitted ones to the bit, and projections are cast per call.
        for name, rows in (("elec_q", config.n_elec), ("sei_q", config.n_sei), ("baseline_q", k_base),
                           ("streams_q", config.n_elec + config.n_sei),
                           ("span_q", config.n_elec + config.n_sei + k_base)):
            self.register_buffer(name, torch.zeros(rows, w, dtype=torch.float64))
        if basis is not None:
            self._set_projectors(basis)
        self.stream_weights = nn.Parameter(torch.ones(config.n_branches))

    def _set_projectors(self, basis: StreamBasis) -> None:
        """Orthonormal bases of every subspace (float64 QR)."""
        with torch.no_grad():
            for name, rows in (("elec_q", basis.elec), ("sei_q", basis.sei), ("baseline_q", basis.baseline),
                               ("streams_q", np.vstack([basis.elec, basis.sei])), ("span_q", basis.stacked)):
                getattr(self, name).copy_(torch.from_numpy(_orthonormal(rows)))

    def branches(self, z: Tensor, t: Tensor, r: Tensor, **cond: Tensor) -> tuple[Tensor, ...]:
        """The projected, weighted branch outputs (each (B, W)), before the analytic term."""
        heads = self.backbone(z, t, r, **cond)                       # (B, C, W)
        heads = heads.to(z.dtype)
        w = self.stream_weights.to(z.dtype)
        out = [w[0] * _project(heads[:, 0], self.elec_q.to(z.dtype)),
               w[1] * _project(heads[:, 1], self.sei_q.to(z.dtype))]
        if self.config.residual == "baseline":
            out.append(w[2] * _project(heads[:, 2], self.baseline_q.to(z.dtype)))
        elif self.config.residual == "full":
            f = heads[:, 2]
            out.append(w[2] * (f - _project(f, self.streams_q.to(z.dtype))))
        return tuple(out)

    def forward(self, z: Tensor, t: Tensor, r: Tensor, *, s0: Tensor | None = None,
                cond_vec: Tensor | None = None, drop_cond: Tensor | None = None) -> Tensor:
        u = sum(self.branches(z, t, r, s0=s0, cond_vec=cond_vec, drop_cond=drop_cond))
        if self.config.residual != "full":
            outside = z - _project(z, self.span_q.to(z.dtype))
            u = u + outside / per_sample(t, z)
        return u

    @classmethod
    def from_run(cls, run_dir: str | Path, *, ema: bool = True) -> "StreamNet":
        """Rebuild a trained network from a run folder (model_config.json + weights), on CPU."""
        from operando.train.checkpoint import load_weights

        run_dir = Path(run_dir)
        config = StreamNetConfig.from_dict(json.loads((run_dir / "model_config.json").read_text()))
        model = cls(config)
        load_weights(run_dir, model, ema=ema)
        return model.eval()




def write_stream_info(run_dir: str | Path, basis: StreamBasis, extra: dict | None = None) -> None:
    from operando.atomic import write_text

    write_text(Path(run_dir) / STREAMS_FILE, json.dumps({**basis.info, **(extra or {})}, indent=2))


def read_stream_info(run_dir: str | Path) -> dict:
    path = Path(run_dir) / STREAMS_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
