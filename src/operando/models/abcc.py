"""ABCC: the chemistry and physics pieces of arXiv 2602.18551 inside the flow forecaster.

The forecaster itself is :class:`~operando.models.generative.FlowForecaster`; an
:class:`ABCCConfig` in its :class:`~operando.models.generative.FlowModelConfig` (``abcc=``)
switches the pieces below on. Each one can be turned off on its own (docs/abcc.md):

1. **Chemical Flow, trajectory view** (``target="chemical_flow"`` plus ``trajectory``). The
   model generates the clipped, scaled change f_m = clip(s_m - s_0, -a, a) / a (Eq. 10). A
   cell's training pairs, in step order (the order of its voltage protocol), form a
   trajectory f_0 = 0, f_m1, f_m2, ... that starts at the origin: the reference pair m = 0
   (zero flow) is always one of them. With ``trajectory`` on, a batch is made of
   ``batch_size / segment_length`` trajectory segments (:class:`TrajectoryBatches`): each picks
   a cell with probability proportional to its number of pairs, and holds its origin pair plus
   ``segment_length - 1`` further pairs drawn without replacement along its trajectory and
   sorted by step. So every step of the model sees whole trajectories, from their origin to
   late steps, instead of isolated pairs. Off: rows drawn uniformly (plain pairs).
2. **Two-stream disentanglement** (``two_stream``; Eq. 11: D(v) = C_elec S_elec^T + C_SEI
   S_SEI^T + E). The component spectra are fixed beforehand from the separate static
   calibration set (``calibration``, never the operando data): :class:`StreamBasis`. Training
   targets are split per sample into the streams (:meth:`StreamBasis.fit`), and the network
   (:class:`StreamNet`) has one output branch per stream, each hard-projected onto its own
   subspace and fused with learnable weights. :meth:`FlowForecaster.sample_streams` returns
   the electrolyte and SEI contributions separately.
3. **Molecular mixture embedding** (``molecules``): the fixed-vocabulary cell embedding of the
   condition vector is replaced by :func:`~operando.chem.mixture.mixture_embedding` of the
   recipe (3D conformer descriptors by default; ``"2d"`` fingerprints; ``"file"`` user
   vectors; ``"vocab"`` is the old fixed vocabulary), plus the electrode and protocol one-hots
   (:class:`MixtureConditionEncoder`).
4. **Physics constraints** (``lambda_mass``, ``lambda_peak``): L_mass (Eq. 12) and L_peak
   (Eq. 13) of :mod:`operando.flow.physics` are added to the flow loss, on the model's
   one-step data estimate (:class:`PhysicsObjective`).
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from operando.data.experiment import Experiment, ExperimentMeta
from operando.errors import InputError
from operando.flow.meanflow import FlowNoise, MeanFlow, ObjectiveLoss, call_model, interpolate, noise_end_loss, per_sample
from operando.flow.physics import PeakConfig, mass_loss, peak_loss
from operando.models.baselines import ConditionEncoder
from operando.models.features import (ELECTRODE_VOCAB, PROTOCOL_VOCAB, condition_vector,
                                      step_features)
from operando.nn.sit1d import SiT1D, SiT1DConfig

RESIDUAL_MODES = ("none", "baseline", "full")
REFERENCE_MODES = ("span", "measured")
MOLECULE_KINDS = ("3d", "2d", "file", "vocab")
ELECTROLYTE_METHODS = ("svd", "mcr")
SIMULATED_CALIBRATION = "simulated"
REFERENCE_SYSTEM_PREFIX = "reference|"
STREAMS_FILE = "streams.json"


def settings_from_table(cls, value, what: str):
    """An instance of the dataclass ``cls`` from itself or from a dict of its fields (a config
    table); anything else, or an unknown key, raises ValueError naming ``what``."""
    if isinstance(value, cls):
        return value
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be a table of {what} settings, got {type(value).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise ValueError(f"unknown {what} settings {unknown}; known: {sorted(known)}")
    return cls(**value)


@dataclass
class ABCCConfig:
    """The ABCC switches (all on by default; saved inside forecaster.json).

    Chemical Flow: the target itself is ``FlowModelConfig.target``; ``trajectory`` /
    ``segment_length``: trajectory batches (see the module docstring).

    Two-stream: ``two_stream``; ``calibration``: the calibration HDF5 file (``operando simulate
    --calibration -o FILE``) or ``"simulated"`` (build the simulator's calibration set with
    ``calibration_seed`` in memory; only meaningful for simulated operando data);
    ``residual``: what may remain outside the two streams, ``"none"`` (nothing),
    ``"baseline"`` (an offset and slope: Legendre polynomials up to ``baseline_order``) or
    ``"full"`` (a third, unconstrained branch in the orthogonal complement);
    ``sei_nonnegative``: SEI coefficients of the training targets >= 0 (SEI grows);
    ``electrolyte_method``: ``"svd"`` (leading right singular vectors) or ``"mcr"`` (MCR-ALS
    spectra) of the calibration electrolytes, with K the smallest rank whose residual RMS is
    within ``noise_margin`` of the noise (at most ``max_electrolyte_components``);
    ``reference``: what a span-restricted forecast (two streams, ``residual`` other than
    ``"full"``) adds its change to: ``"span"`` (the part of s_v0 in the span of the stream and
    baseline spectra; the forecast then lies wholly in that span, as its training targets do)
    or ``"measured"`` (s_v0 itself, out-of-span part, such as its noise, included). Ignored
    when the forecast is not span-restricted.

    Molecules: ``molecules`` = ``"3d"`` | ``"2d"`` | ``"file"`` (vectors from
    ``molecule_file``) | ``"vocab"`` (the fixed vocabulary of :mod:`operando.models.features`).

    Physics: ``lambda_mass``, ``lambda_peak`` weights of L_mass and L_peak (0 = off);
    ``physics_rows``: at most this many samples of each batch enter them (the extra forward
    pass costs about 40 % of a MeanFlow step at the full batch of 64, about 10 % at 16);
    ``physics_t_max``: only samples with t <= physics_t_max enter them (1 = all).
    ``lambda_moment``: weight of the draws' mean-matching term L_moment (0 = off; see
    :class:`PhysicsObjective`), on at most ``moment_rows`` samples of each batch, and only
    after training step ``moment_from_step`` (0: from the first step; N: a last phase, the
    first N steps plain MeanFlow plus the physics terms).
    ``lambda_point``: weight of L_point, the squared-error fit of the noise-end mean estimate
    (0 = off), on at most ``point_rows`` samples of each batch; with it on, the point forecast
    is the mean of ``n_samples`` noise-end estimates z - u(z, 1, 1) instead of the mean of the
    one-step draws (the draws still give the interval).
    """

    trajectory: bool = True
    segment_length: int = 8
    two_stream: bool = True
    calibration: str = SIMULATED_CALIBRATION
    calibration_seed: int = 0
    residual: str = "baseline"
    baseline_order: int = 1
    sei_nonnegative: bool = True
    electrolyte_method: str = "svd"
    noise_margin: float = 1.1
    max_electrolyte_components: int = 16
    reference: str = "span"
    molecules: str = "3d"
    molecule_file: str | None = None
    # Measured on the system split (SiT1D small, batch 64, first 200 steps): gradient norms of
    # the MeanFlow loss 5-10, of L_mass 0.02-0.06 and of L_peak 0.8-1.7 (weight 1 each); these
    # weights make each physics term about 5 % of the flow loss's gradient.
    lambda_mass: float = 10.0
    lambda_peak: float = 0.3
    physics_rows: int = 16
    physics_t_max: float = 1.0
    lambda_moment: float = 0.0
    moment_rows: int = 32
    moment_from_step: int = 0
    lambda_point: float = 0.0
    point_rows: int = 32

    def __post_init__(self):
        if self.segment_length < 1:
            raise ValueError(f"segment_length must be >= 1, got {self.segment_length}")
        if self.residual not in RESIDUAL_MODES:
            raise ValueError(f"residual must be one of {RESIDUAL_MODES}, got {self.residual!r}")
        if self.reference not in REFERENCE_MODES:
            raise ValueError(f"reference must be one of {REFERENCE_MODES}, got {self.reference!r}")
        if self.baseline_order < 0:
            raise ValueError(f"baseline_order must be >= 0, got {self.baseline_order}")
        if self.electrolyte_method not in ELECTROLYTE_METHODS:
            raise ValueError(f"electrolyte_method must be one of {ELECTROLYTE_METHODS}, "
                             f"got {self.electrolyte_method!r}")
        if self.molecules not in MOLECULE_KINDS:
            raise ValueError(f"molecules must be one of {MOLECULE_KINDS}, got {self.molecules!r}")
        if self.molecules == "file" and not self.molecule_file:
            raise ValueError("molecules = 'file' needs molecule_file (CSV smiles,v0,... or .npz)")
        if min(self.lambda_mass, self.lambda_peak, self.lambda_moment, self.lambda_point) < 0:
            raise ValueError("lambda_mass, lambda_peak, lambda_moment and lambda_point must be >= 0")
        if min(self.physics_rows, self.moment_rows, self.point_rows) < 1:
            raise ValueError(f"physics_rows, moment_rows and point_rows must be >= 1, got {self.physics_rows}, "
                             f"{self.moment_rows}, {self.point_rows}")
        if self.moment_from_step < 0:
            raise ValueError(f"moment_from_step must be >= 0, got {self.moment_from_step}")
        if not 0.0 < self.physics_t_max <= 1.0:
            raise ValueError(f"physics_t_max must be in (0, 1], got {self.physics_t_max}")
        if self.noise_margin <= 0 or self.max_electrolyte_components < 1:
            raise ValueError("noise_margin must be > 0 and max_electrolyte_components >= 1")

    @classmethod
    def from_value(cls, value: "ABCCConfig | Mapping | None") -> "ABCCConfig | None":
        """None, a config, or a dict of fields (unknown keys raise ValueError)."""
        if value is None:
            return None
        return settings_from_table(cls, value, "abcc")

    @property
    def uses_physics(self) -> bool:
        return self.lambda_mass > 0 or self.lambda_peak > 0 or self.lambda_moment > 0 or self.lambda_point > 0

    @property
    def projects_reference(self) -> bool:
        """Whether forecasts add their change to the in-span part of s_v0 (``reference``)."""
        return self.two_stream and self.residual != "full" and self.reference == "span"


# ---------------------------------------------------------------------------- 1. trajectories

class TrajectoryBatches:
    """Batch sampler for the trainer: batches of trajectory segments (module docstring, 1.).

    ``trajectories``: per cell, the row indices of its training pairs in step order, the first
    being its origin pair (m = 0). Called as ``sampler(batch_size, generator)`` ->
    (batch_size,) int64 rows; only ``generator`` is used, so batches are reproducible.
    """

    def __init__(self, trajectories: Sequence[np.ndarray], segment_length: int):
        self.trajectories = [torch.as_tensor(np.asarray(t, dtype=np.int64)) for t in trajectories if len(t)]
        if not self.trajectories:
            raise ValueError("no trajectories to sample from")
        self.segment_length = int(segment_length)
        self.weights = torch.tensor([float(len(t)) for t in self.trajectories], dtype=torch.float64)

    def __call__(self, batch_size: int, generator: torch.Generator) -> Tensor:
        n_segments = math.ceil(batch_size / self.segment_length)
        cells = torch.multinomial(self.weights, n_segments, replacement=True, generator=generator)
        rows = []
        for cell in cells.tolist():
            trajectory = self.trajectories[cell]
            later = trajectory[1:]
            take = self.segment_length - 1
            if len(later) >= take:
                picked = torch.randperm(len(later), generator=generator)[:take]
            elif len(later):  # a short trajectory: every pair, then repeats
                picked = torch.randint(len(later), (take,), generator=generator)
            else:
                picked = torch.zeros(0, dtype=torch.int64)
            segment = [trajectory[:1]]
            if len(picked):
                segment.append(later[picked.sort().values])
            segment = torch.cat(segment)
            if len(segment) < self.segment_length:  # a cell with only its origin
                segment = segment.repeat(self.segment_length)[: self.segment_length]
            rows.append(segment)
        return torch.cat(rows)[:batch_size]


def trajectory_groups(lengths: Sequence[int]) -> list[np.ndarray]:
    """Row ranges of consecutive blocks of ``lengths`` rows: [0..n0), [n0..n0+n1), ..."""
    ends = np.cumsum(lengths)
    return [np.arange(end - n, end) for n, end in zip(lengths, ends)]


# ---------------------------------------------------------------------------- 2. two streams

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

    ``spectra`` (n, W); noise sigma from :func:`operando.data.stats.estimate_noise_std`
    (median over spectra); residual RMS(K) = sqrt(sum_{j > K} sv_j^2 / (n W)) with sv the
    singular values (returned, descending). K is clipped to 1..min(max_k, n).
    """
    from operando.data.stats import estimate_noise_std

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
        :func:`~operando.data.stats.estimate_noise_std`): about 1 when only noise lies outside."""
        from operando.data.stats import estimate_noise_std

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
    from operando.data.dataset import OperandoDataset
    from operando.data.preprocess import preprocess_dataset

    if config.calibration == SIMULATED_CALIBRATION:
        from operando.simulate import simulate_calibration

        return (preprocess_dataset(simulate_calibration(config.calibration_seed)),
                f"simulated calibration set (seed {config.calibration_seed})")
    path = Path(config.calibration)
    if not path.is_file():
        raise InputError(path, "calibration file not found; write it with `operando simulate --calibration -o "
                               f"{path}` (simulated data) or measure one (docs/abcc.md), or set "
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


# ---------------------------------------------------------------------------- 3. molecules

N_ELECTRODE_PROTOCOL = len(ELECTRODE_VOCAB) + len(PROTOCOL_VOCAB)


class MixtureConditionEncoder(ConditionEncoder):
    """[step features, mixture embedding, electrode + protocol one-hot, s_v0 PCA], standardized.

    The fixed-vocabulary salt/solvent/additive slots of
    :func:`~operando.models.features.condition_vector` are replaced by
    :func:`~operando.chem.mixture.mixture_embedding` with a
    :class:`~operando.chem.mixture.MoleculeEncoder` of kind ``molecules`` ("3d" needs RDKit: a
    clear error says how to install it). Shapes: (n_steps, n_inputs).
    """

    def __init__(self, molecules: str = "3d", molecule_file: str | None = None):
        from operando.chem.mixture import MoleculeEncoder

        self.molecules, self.molecule_file = molecules, molecule_file
        if molecules == "file":
            self.molecule_encoder = MoleculeEncoder.from_file(molecule_file)
        else:
            self.molecule_encoder = MoleculeEncoder(molecules)
        self._cache: dict[str, np.ndarray] = {}

    def cell_vector(self, meta: ExperimentMeta) -> np.ndarray:
        from operando.chem.mixture import mixture_embedding

        key = json.dumps(meta.electrolyte.to_dict(), sort_keys=True)
        if key not in self._cache:
            self._cache[key] = mixture_embedding(meta.electrolyte, self.molecule_encoder)
        one_hots = condition_vector(meta)[-N_ELECTRODE_PROTOCOL:]
        return np.concatenate([self._cache[key], one_hots])

    def raw(self, e: Experiment) -> np.ndarray:
        per_cell = np.concatenate([self.cell_vector(e.meta), self.basis(e.absorbance[0])[0]])
        return np.hstack([step_features(e), np.repeat(per_cell[None], len(e), axis=0)])

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray], molecules: str = "3d",
                   molecule_file: str | None = None) -> "MixtureConditionEncoder":
        fitted = ConditionEncoder.from_state(state)
        enc = cls(molecules, molecule_file)
        enc.basis, enc.scaler = fitted.basis, fitted.scaler
        return enc


def make_condition_encoder(config: ABCCConfig | None) -> ConditionEncoder:
    """The (unfitted) condition encoder of a forecaster: the fixed vocabulary without ABCC."""
    if config is None or config.molecules == "vocab":
        return ConditionEncoder()
    return MixtureConditionEncoder(config.molecules, config.molecule_file)


def condition_encoder_from_state(config: ABCCConfig | None, state: dict[str, np.ndarray]) -> ConditionEncoder:
    if config is None or config.molecules == "vocab":
        return ConditionEncoder.from_state(state)
    return MixtureConditionEncoder.from_state(state, config.molecules, config.molecule_file)


# ---------------------------------------------------------------------------- 4. physics

@dataclass
class PhysicsObjective:
    """A flow objective (MeanFlow or flow matching) plus L_mass and L_peak on the data estimate.

    The data estimate of a training sample is the model's own one-step answer from z_t::

        MeanFlow:       x_hat = z_t - t u_theta(z_t, r = 0, t)   (the average velocity over
                        [0, t] carries z_t to the data end of its path: exact for the ideal u)
        flow matching:  x_hat = z_t - t v_theta(z_t, t)         (the usual x-prediction)

    and ``loss = flow loss + lambda_mass L_mass(f(x_hat), f(x)) + lambda_peak L_peak(f(x_hat),
    f(x)) + lambda_moment L_moment + lambda_point L_point`` with f the chemical flow of a target: x itself for ``target = "chemical_flow"``,
    (x - s0) / ``flow_scale`` for ``target = "spectrum"``. Only samples that keep their
    condition (not dropped for guidance) and have t <= ``t_max`` enter the physics terms, at
    most ``max_rows`` of them (the first ones: batch rows are in random order anyway). The
    penalties compare statistics of x_hat (mean level, band positions) with those of the x
    that produced z_t: for t near 1 the ideal one-step answer is a draw of the conditional
    distribution, not x itself, so these terms are unbiased only for statistics that the
    condition fixes, which is what mass balance and band positions are meant to be.

    **L_moment** (the draws' mean against squared error; not in the paper). A point forecast is
    the mean of one-step draws x_k = eps_k - u(eps_k, 0, 1), and a generator fitted to the
    distribution need not put that mean where squared error wants it (docs/abcc.md, "Where the
    gap comes from"). With two independent draws of the same condition::

        L_moment = mean_W (x_1 - x) (x_2 - x)

    whose expectation over the draws is ``mean_W (E x_k - x)^2`` exactly (the squared error of
    the draws' mean; the draws' spread cancels: it is the energy score with exponent 2, up to
    a factor). So it pulls the mean of the draws towards the conditional mean of x and leaves
    their spread to the flow loss. The second draw's noise is the prior noise of the next
    batch row (``(i + 1) mod B``), independent of row i's, so no extra random numbers are
    drawn. A single value can be negative; only its expectation is a squared error. Only
    samples that keep their condition enter, at most ``moment_rows`` of them (any t: the draws
    start from the prior noise, not from z_t).
    ``moment_from_step``: L_moment enters only at training steps after it (the trainer passes
    ``step``; a call without one, outside training, includes it), so one run can train a last
    phase with it: measured better that way than from the first step (docs/abcc.md section 6,
    "L_moment on the random split").

    **L_point** (the noise-end mean against squared error; not in the paper). At t = 1 the path
    point z_1 = eps carries no information about x, so the instantaneous velocity there has the
    least-squares optimum u(z, 1, 1) = z - E[x | C] (:func:`~operando.flow.meanflow.noise_end_loss`)::

        L_point = mean_rows sum_W (eps - u(eps, 1, 1) - x)^2

    trains that estimate of the conditional mean by plain squared error. The flow loss itself
    never reaches t = 1 exactly and weights its errors adaptively (a robust loss, whose optimum
    sits nearer the median); the one-step draws use u(eps, 0, 1), a different input, so this
    term adds a point estimator beside the generator instead of bending the draws' mean as
    L_moment does. Only samples that keep their condition enter, at most ``point_rows`` of them,
    with the batch's own prior noise.

    The extra forward passes run on the bare module (``target_model``): a
    DistributedDataParallel wrapper then still sees one forward per step, and both passes'
    gradients reach the same parameters before its all-reduce.
    """

    base: object
    lambda_mass: float = 0.0
    lambda_peak: float = 0.0
    flow_scale: float | None = None
    t_max: float = 1.0
    max_rows: int = 16
    peak: PeakConfig = dataclasses.field(default_factory=PeakConfig)
    lambda_moment: float = 0.0
    moment_rows: int = 32
    moment_from_step: int = 0
    lambda_point: float = 0.0
    point_rows: int = 32

    def draw(self, batch_size: int, sample_shape, generator: torch.Generator | None = None,
             dtype: torch.dtype = torch.float32) -> FlowNoise:
        return self.base.draw(batch_size, sample_shape, generator, dtype)

    def to_flow(self, x: Tensor, s0: Tensor | None) -> Tensor:
        if self.flow_scale is None:
            return x
        return (x - s0) / self.flow_scale

    def data_estimate(self, model: Callable, x: Tensor, noise: FlowNoise, cond: Mapping[str, Tensor],
                      rows: Tensor) -> Tensor:
        """x_hat (n, W) of the training samples ``rows`` (see the class docstring)."""
        eps, t, _, _ = noise.to(x.device, x.dtype)
        z = interpolate(x[rows], eps[rows], t[rows])
        t = t[rows]
        r = torch.zeros_like(t) if isinstance(self.base, MeanFlow) else t  # MeanFlow: u(z_t, 0, t)
        u = call_model(model, z, t, r, {k: v[rows] for k, v in cond.items()}, self.no_drop(len(t), x.device))
        return z - per_sample(t, z) * u

    def no_drop(self, n: int, device) -> Tensor | None:
        """The ``drop_cond`` of the extra passes: every condition kept, (n,) bool; None (no
        argument) for a base objective that never drops conditions."""
        return torch.zeros(n, dtype=torch.bool, device=device) if self.base.cond_drop_prob > 0 else None

    def moment_loss(self, model: Callable, x: Tensor, noise: FlowNoise, cond: Mapping[str, Tensor],
                    rows: Tensor) -> Tensor:
        """L_moment of the training samples ``rows`` (class docstring): a scalar tensor."""
        eps = noise.eps.to(x.device, x.dtype)
        partner = (rows + 1) % len(eps)
        z = torch.cat([eps[rows], eps[partner]])
        t = torch.ones(len(z), device=x.device, dtype=x.dtype)
        doubled = {k: torch.cat([v[rows], v[rows]]) for k, v in cond.items()}
        draws = z - call_model(model, z, t, torch.zeros_like(t), doubled, self.no_drop(len(z), x.device))
        first, second = draws[: len(rows)] - x[rows], draws[len(rows):] - x[rows]
        return (first * second).mean()

    def loss(self, model: Callable, x: Tensor, noise: FlowNoise, cond: Mapping[str, Tensor] | None = None, *,
             target_model: Callable | None = None, step: int | None = None) -> ObjectiveLoss:
        out = self.base.loss(model, x, noise, cond, target_model=target_model, step=step)
        cond = dict(cond or {})
        bare = target_model if target_model is not None else model
        _, t, _, drop = noise.to(x.device, x.dtype)
        kept = ~drop.to(torch.bool) if self.base.cond_drop_prob > 0 else torch.ones_like(t, dtype=torch.bool)
        total = out.loss
        moment_on = step is None or step > self.moment_from_step
        if self.lambda_moment > 0 and moment_on and len(x) > 1:
            rows = torch.nonzero(kept).flatten()[: self.moment_rows]
            if len(rows):
                total = total + self.lambda_moment * self.moment_loss(bare, x, noise, cond, rows)
        if self.lambda_point > 0:
            rows = torch.nonzero(kept).flatten()[: self.point_rows]
            if len(rows):
                eps = noise.eps.to(x.device, x.dtype)[rows]
                point = noise_end_loss(bare, x[rows], eps, {k: v[rows] for k, v in cond.items()},
                                       self.no_drop(len(rows), x.device))
                total = total + self.lambda_point * point
        if not (self.lambda_mass > 0 or self.lambda_peak > 0):
            return ObjectiveLoss(total, out.mse)
        rows = torch.nonzero(kept & (t <= self.t_max)).flatten()[: self.max_rows]
        if len(rows) == 0:
            return ObjectiveLoss(total, out.mse)
        x_hat = self.data_estimate(bare, x, noise, cond, rows)
        s0 = cond.get("s0")
        f_hat = self.to_flow(x_hat, None if s0 is None else s0[rows])
        f_true = self.to_flow(x[rows], None if s0 is None else s0[rows])
        if self.lambda_mass > 0:
            total = total + self.lambda_mass * mass_loss(f_hat, f_true)
        if self.lambda_peak > 0:
            total = total + self.lambda_peak * peak_loss(f_hat, f_true, self.peak)
        return ObjectiveLoss(total, out.mse)


def write_stream_info(run_dir: str | Path, basis: StreamBasis, extra: dict | None = None) -> None:
    from operando.atomic import write_text

    write_text(Path(run_dir) / STREAMS_FILE, json.dumps({**basis.info, **(extra or {})}, indent=2))


def read_stream_info(run_dir: str | Path) -> dict:
    path = Path(run_dir) / STREAMS_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
