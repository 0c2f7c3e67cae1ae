"""Chemical Flow and the physics losses of ABCC (Section 4 of arXiv:2602.18551).

**Chemical Flow** (Eq. 10 and the third point of Algorithm 2 of the paper): instead of the
absolute spectrum ``s_m`` at step ``m``, the model predicts its change from the static input
spectrum ``s_0``, clipped and scaled into [-1, 1]::

    f_m = clip(s_m - s_0, -a, a) / a          s_m = s_0 + a * f_m  (inverse, unclipped values)

The clip scale ``a`` is a configuration value; :meth:`ChemicalFlow.fit_clip_scale` picks it as
a high quantile of ``|s_m - s_0|`` over the training data, so that only rare outliers clip.

**Losses** (torch, differentiable; ``pred`` and ``true`` are chemical flows of shape
(..., W), W wavenumbers; leading axes are samples, e.g. (B, W) or (B, T, W)):

* :func:`mass_loss` (L_mass, Eq. 12 of the paper, "mass conservation"): the channel-wise mean
  of the flow, i.e. the net absorbance change over the spectral window (optionally per band
  region), must match between prediction and truth::

      L_mass = mean_samples sum_r ( mean_{k in r} pred_k - mean_{k in r} true_k )^2

  With a single region (the default) it is the squared difference of the wavenumber means.
* :func:`peak_loss` (L_peak, Eq. 13, "peak shift"): relative displacement of the bands.
  Peaks are found on the target with :func:`scipy.signal.find_peaks` on ``|true|`` (so bands
  that fall count as well as bands that grow; prominence-based, not differentiable, on
  detached numpy copies). Around each target peak, a window of ``2 h + 1`` points; in it the
  position is a soft-argmax of ``|x| / max_window |x|`` with temperature ``tau``, for the
  prediction and for the target alike (so a perfect prediction gives exactly zero)::

      L_peak = mean_peaks | pos(pred) - pos(true) | / h      (displacement in half-windows)

  The soft-argmax is differentiable in ``pred``.

Only the paper's abstract (which names the mass-conservation and peak-shift constraints) was
available when this was written, not the text of Eqs. 12-13: the formulas above are this
project's reading of them, stated here so that they can be checked against the paper.

**Evaluation numbers**: :func:`mass_residual` (mean absolute net flow, or its error against
the truth) and :func:`peak_drift` (mean absolute peak-position error in cm-1, with sub-grid
parabolic refinement of a hard argmax).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.signal import find_peaks

from operando.errors import OperandoError

ArrayLike = np.ndarray | torch.Tensor


@dataclass(frozen=True)
class ChemicalFlow:
    """``forward(s_m, s_0) = clip(s_m - s_0, -a, a) / a``; ``inverse(f, s_0) = s_0 + a f``.

    Works on numpy arrays and torch tensors alike; ``s_0`` broadcasts against ``s_m`` (e.g.
    ``s_m`` (n, W) and ``s_0`` (W,)).
    """

    clip_scale: float

    def __post_init__(self) -> None:
        a = float(self.clip_scale)
        if not (np.isfinite(a) and a > 0):
            raise ValueError(f"clip_scale must be a positive finite number, got {self.clip_scale!r}")
        object.__setattr__(self, "clip_scale", a)

    def forward(self, s_m: ArrayLike, s_0: ArrayLike) -> ArrayLike:
        a = self.clip_scale
        if isinstance(s_m, torch.Tensor) or isinstance(s_0, torch.Tensor):
            s_m, s_0 = torch.as_tensor(s_m), torch.as_tensor(s_0)
            return torch.clamp(s_m - s_0, -a, a) / a
        return np.clip(np.asarray(s_m, float) - np.asarray(s_0, float), -a, a) / a

    __call__ = forward

    def inverse(self, flow: ArrayLike, s_0: ArrayLike) -> ArrayLike:
        if isinstance(flow, torch.Tensor) or isinstance(s_0, torch.Tensor):
            return torch.as_tensor(s_0) + self.clip_scale * torch.as_tensor(flow)
        return np.asarray(s_0, float) + self.clip_scale * np.asarray(flow, float)

    @staticmethod
    def fit_clip_scale(deltas: ArrayLike, quantile: float = 0.999) -> float:
        """The ``quantile`` of ``|deltas|`` (any shape, e.g. all ``s_m - s_0`` of a training set).

        Raises :class:`OperandoError` when that quantile is zero (no change at all), since a
        zero scale cannot normalise anything.
        """
        if not 0.0 < quantile <= 1.0:
            raise ValueError(f"quantile must be in (0, 1], got {quantile!r}")
        d = deltas.detach().cpu().numpy() if isinstance(deltas, torch.Tensor) else np.asarray(deltas, float)
        d = np.abs(d[np.isfinite(d)])
        if d.size == 0:
            raise OperandoError("cannot fit a chemical-flow clip scale: no finite differences given")
        a = float(np.quantile(d, quantile))
        if a <= 0:
            raise OperandoError(f"cannot fit a chemical-flow clip scale: the {quantile:g} quantile of "
                                "|s_m - s_0| is zero (the spectra do not change)")
        return a

    @classmethod
    def fit(cls, deltas: ArrayLike, quantile: float = 0.999) -> "ChemicalFlow":
        return cls(cls.fit_clip_scale(deltas, quantile))


# --- mass conservation -------------------------------------------------------------------------


def region_masks(wavenumber_cm1: np.ndarray, regions_cm1: list[tuple[float, float]]) -> np.ndarray:
    """0/1 masks (R, W) of the band regions ``[(lo, hi), ...]`` [cm-1] on the grid (inclusive)."""
    w = np.asarray(wavenumber_cm1, float)
    masks = np.stack([((w >= lo) & (w <= hi)).astype(float) for lo, hi in regions_cm1])
    empty = [r for r, m in zip(regions_cm1, masks) if not m.any()]
    if empty:
        raise ValueError(f"band region(s) {empty} contain no grid point of {w[0]:g}-{w[-1]:g} cm-1")
    return masks


def _region_means(x: torch.Tensor, masks: torch.Tensor | None) -> torch.Tensor:
    """(..., W) -> (..., R): mean of ``x`` over each region (one region = all W by default)."""
    if masks is None:
        return x.mean(dim=-1, keepdim=True)
    masks = masks.to(dtype=x.dtype, device=x.device)
    return (x @ masks.T) / masks.sum(dim=-1)


def mass_loss(pred: torch.Tensor, true: torch.Tensor, masks: ArrayLike | None = None) -> torch.Tensor:
    """L_mass: squared error of the channel-wise (region-wise) mean flow, batch mean.

    ``pred``, ``true``: (..., W). ``masks``: optional (R, W) band-region masks
    (:func:`region_masks`); the squared errors of the R regions are summed per sample.
    Returns a scalar tensor.
    """
    _check_pair(pred, true)
    m = None if masks is None else torch.as_tensor(masks)
    diff = _region_means(pred, m) - _region_means(true.to(pred.dtype), m)
    return (diff ** 2).sum(dim=-1).mean()


def mass_residual(pred_flow: ArrayLike, true_flow: ArrayLike | None = None) -> float:
    """Mean over spectra of ``|mean_W pred|`` (or ``|mean_W pred - mean_W true|``): a number."""
    p = _numpy(pred_flow)
    net = p.mean(axis=-1)
    if true_flow is not None:
        net = net - _numpy(true_flow).mean(axis=-1)
    return float(np.abs(net).mean())


# --- peak shift ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeakConfig:
    """Peak finding on the target and the soft-argmax window (all in grid points).

    A peak of ``|true|`` counts when its prominence is at least
    ``max(min_prominence, rel_prominence * max|true|)`` of its spectrum; at most ``max_peaks``
    per spectrum (the most prominent). ``half_window`` ``h``: the window is ``p-h .. p+h``.
    ``temperature``: soft-argmax temperature on the window-normalised magnitude (smaller is
    closer to a hard argmax).
    """

    half_window: int = 8
    temperature: float = 0.1
    min_prominence: float = 0.02
    rel_prominence: float = 0.1
    max_peaks: int = 8

    def __post_init__(self) -> None:
        if self.half_window < 1 or self.temperature <= 0 or self.max_peaks < 1:
            raise ValueError(f"invalid PeakConfig {self}")


def target_peaks(true: ArrayLike, config: PeakConfig = PeakConfig()) -> tuple[np.ndarray, np.ndarray]:
    """Peaks of ``|true|`` per spectrum: ``(rows, indices)``, both (P,), rows into the flattened
    leading axes of ``true`` (..., W). Not differentiable (numpy)."""
    t = np.abs(_numpy(true))
    t = t.reshape(-1, t.shape[-1])
    rows, cols = [], []
    for r, spectrum in enumerate(t):
        top = float(spectrum.max()) if spectrum.size else 0.0
        if not np.isfinite(top) or top <= 0:
            continue
        threshold = max(config.min_prominence, config.rel_prominence * top)
        idx, props = find_peaks(spectrum, prominence=threshold)
        if idx.size > config.max_peaks:
            keep = np.argsort(-props["prominences"], kind="stable")[:config.max_peaks]
            idx = np.sort(idx[keep])
        rows.extend([r] * idx.size)
        cols.extend(idx.tolist())
    return np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64)


def _windows(x: torch.Tensor, rows: np.ndarray, cols: np.ndarray, h: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Values of ``x`` (N, W) in the windows ``cols[p]-h .. cols[p]+h`` of row ``rows[p]``:
    (P, 2h+1) values (0 outside the grid) and (P, 2h+1) validity mask."""
    offsets = torch.arange(-h, h + 1, device=x.device)
    idx = torch.as_tensor(cols, device=x.device)[:, None] + offsets[None, :]
    valid = (idx >= 0) & (idx < x.shape[-1])
    rows_t = torch.as_tensor(rows, device=x.device)[:, None].expand_as(idx)
    values = x[rows_t, idx.clamp(0, x.shape[-1] - 1)]
    return torch.where(valid, values, torch.zeros_like(values)), valid


def soft_peak_position(values: torch.Tensor, valid: torch.Tensor, temperature: float) -> torch.Tensor:
    """Soft-argmax offset (P,) in grid points from the window centre; ``values`` (P, 2h+1).

    Magnitudes are divided by the window's (detached) maximum, so the position does not depend
    on the band's height, only on its shape.
    """
    h = (values.shape[-1] - 1) // 2
    offsets = torch.arange(-h, h + 1, device=values.device, dtype=values.dtype)
    mag = values.abs()
    scale = mag.detach().amax(dim=-1, keepdim=True).clamp_min(1e-12)
    logits = (mag / scale) / temperature
    logits = logits.masked_fill(~valid, float("-inf"))
    weights = torch.softmax(logits, dim=-1)
    return (weights * offsets).sum(dim=-1)


def peak_loss(pred: torch.Tensor, true: torch.Tensor, config: PeakConfig = PeakConfig()) -> torch.Tensor:
    """L_peak: mean relative displacement of the target's peaks, in units of ``half_window``.

    ``pred``, ``true``: (..., W) chemical flows. Zero (still attached to ``pred``) when the
    target has no peak.
    """
    _check_pair(pred, true)
    flat_pred = pred.reshape(-1, pred.shape[-1])
    flat_true = true.detach().to(pred.dtype).reshape(-1, true.shape[-1])
    rows, cols = target_peaks(flat_true, config)
    if rows.size == 0:
        return flat_pred.sum() * 0.0
    h = config.half_window
    vp, valid = _windows(flat_pred, rows, cols, h)
    vt, _ = _windows(flat_true, rows, cols, h)
    pos_pred = soft_peak_position(vp, valid, config.temperature)
    pos_true = soft_peak_position(vt, valid, config.temperature)
    return (pos_pred - pos_true).abs().mean() / h


def _parabolic_argmax(window: np.ndarray, valid: np.ndarray) -> float:
    """Offset of the maximum of ``window`` (2h+1,) from its centre, refined by a parabola."""
    h = (window.size - 1) // 2
    w = np.where(valid, window, -np.inf)
    k = int(np.argmax(w))
    shift = 0.0
    if 0 < k < w.size - 1 and valid[k - 1] and valid[k + 1]:
        left, mid, right = w[k - 1], w[k], w[k + 1]
        denom = left - 2 * mid + right
        if denom < 0:
            shift = 0.5 * (left - right) / denom
    return k - h + shift


def peak_drift(pred: ArrayLike, true: ArrayLike, wavenumber_cm1: np.ndarray,
               config: PeakConfig = PeakConfig()) -> float:
    """Mean absolute peak-position error [cm-1] over the target's peaks (NaN if it has none).

    Each peak of ``|true|`` (found as in :func:`peak_loss`) is located in ``|true|`` and in
    ``|pred|`` by argmax within the window plus parabolic sub-grid refinement; positions are
    converted to cm-1 on ``wavenumber_cm1`` (W,) by linear interpolation.
    """
    p, t = _numpy(pred), _numpy(true)
    if p.shape != t.shape:
        raise ValueError(f"pred {p.shape} and true {t.shape} must have the same shape")
    grid = np.asarray(wavenumber_cm1, float)
    if grid.shape != (p.shape[-1],):
        raise ValueError(f"wavenumber_cm1 has {grid.shape} points for spectra of width {p.shape[-1]}")
    p, t = np.abs(p.reshape(-1, p.shape[-1])), np.abs(t.reshape(-1, t.shape[-1]))
    rows, cols = target_peaks(t, config)
    if rows.size == 0:
        return float("nan")
    h = config.half_window
    idx = cols[:, None] + np.arange(-h, h + 1)[None, :]
    valid = (idx >= 0) & (idx < p.shape[-1])
    idx = np.clip(idx, 0, p.shape[-1] - 1)
    index_axis = np.arange(grid.size)
    drifts = []
    for k in range(rows.size):
        pos_p = cols[k] + _parabolic_argmax(p[rows[k], idx[k]], valid[k])
        pos_t = cols[k] + _parabolic_argmax(t[rows[k], idx[k]], valid[k])
        drifts.append(abs(np.interp(pos_p, index_axis, grid) - np.interp(pos_t, index_axis, grid)))
    return float(np.mean(drifts))


# --- helpers --------------------------------------------------------------------------------------


def _numpy(x: ArrayLike) -> np.ndarray:
    return x.detach().cpu().numpy().astype(float) if isinstance(x, torch.Tensor) else np.asarray(x, float)


def _check_pair(pred: torch.Tensor, true: torch.Tensor) -> None:
    if not isinstance(pred, torch.Tensor) or not isinstance(true, torch.Tensor):
        raise TypeError("pred and true must be torch tensors")
    if pred.shape != true.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and true {tuple(true.shape)} must have the same shape")
