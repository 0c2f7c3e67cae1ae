"""Preprocessing onto the common grid: truncation, per-spectrum drift normalisation, clipping.

The paper (arXiv:2602.18551, OpIRSpec-7K) truncates every spectrum to the 800-2000 cm-1
fingerprint window, normalises it "to mitigate global shifts" and clips its scale. A real
operando cell drifts from spectrum to spectrum: an offset and a tilt of the baseline and a
multiplicative change of a few per cent (ATR contact, source intensity); on the measured cell of
issue 34 they carry 85-90 % of the change against the first spectrum. This module removes them
per spectrum, deterministically and invertibly (formulae also in docs/ir/data.md):

1. **Truncation / common grid.** Linear interpolation of each spectrum onto
   ``g = linspace(800, 2000, 601)`` (2 cm-1 steps), on an ascending axis.
2. **The first spectrum: baseline and scale.** The line ``L_0(x) = o_0 + t_0 x`` (``x``: the
   wavenumber scaled to [-1, 1] over the window) of the linear quantile regression at
   ``q = 0.02`` through the first spectrum (the line its lowest 2 % of points lie under: the
   level between the bands) is subtracted, and the rest divided by ``s_0 = quantile_0.995``,
   the height of its strongest bands. The first spectrum then peaks at about 1.
3. **Every later spectrum: drift against the first.** Spectrum ``m`` is fitted by least squares
   as ``a_m ~ k_m a_0 + c_m + d_m x`` (:func:`fit_drift`), and its scale ``k_m``, offset ``c_m``
   and tilt ``d_m`` are removed before it is mapped like the first: in one step,
   ``L_m = c_m + k_m L_0`` and ``s_m = k_m s_0``. A scale outside [0.8, 1.25] is not drift but
   a spectrum that changed a lot (the least-squares scale then shrinks towards 0): it is
   bounded to that range and the offset and tilt are refitted with it. What is removed is exactly the part of the
   change that is a multiple of the first spectrum plus a line; chemistry that changes the
   bands relative to each other is kept.
4. **Clipping** of the normalised spectra to ``[clip_min, clip_max] = [-0.5, 1.5]`` to bound
   the effect of detector glitches and saturated bands.

So ``y_m = clip((a_m - L_m) / s_m, clip_min, clip_max)`` and, for unclipped values,
``a_m = y_m s_m + L_m``. Quantile regression, the quantile and the least-squares fit are
equivariant, so any spectrum with an added offset and tilt, multiplied by any positive factor,
gives the same ``y`` (the first one changes ``o_0, t_0, s_0`` only): the drift is removed
exactly, and so is a uniform change of the whole spectrum (which chemistry may also cause).
A forecast is mapped back with the parameters of the spectrum it starts from
(:func:`operando.ir.forecast.anchored_forecast`): the future's drift is unknown.
:class:`SpectralTransform` keeps ``o, t, s`` so simulated ground truth is mapped exactly like
the measured spectra.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from operando.errors import InputError
from operando.ir.data.dataset import OperandoDataset
from operando.ir.data.experiment import Experiment, GroundTruth

COMMON_GRID_CM1 = np.linspace(800.0, 2000.0, 601)
# A source axis may miss the window edge by float rounding only (e.g. 799.9999999999 cm-1).
_COVERAGE_TOLERANCE_CM1 = 1e-6


@dataclass(frozen=True)
class PreprocessConfig:
    """Settings of :func:`preprocess_experiment` (defaults: the paper's 800-2000 cm-1 window)."""

    grid_min_cm1: float = 800.0
    grid_max_cm1: float = 2000.0
    n_points: int = 601
    clip_min: float = -0.5  # normalised units (every spectrum peaks at about 1)
    clip_max: float = 1.5
    offset_quantile: float = 0.02  # the quantile of the per-spectrum baseline line
    scale_quantile: float = 0.995  # near-maximum of the first, baseline-corrected spectrum
    drift_scale_min: float = 0.8  # the range of a later spectrum's scale against the first that
    drift_scale_max: float = 1.25  # counts as drift (contact, source); beyond it, the bound is used
    min_scale: float = 1e-9  # a first spectrum flatter than this cannot be normalised

    @property
    def grid(self) -> np.ndarray:
        """The common ascending wavenumber grid [cm-1], shape (n_points,)."""
        return np.linspace(self.grid_min_cm1, self.grid_max_cm1, self.n_points)


def window_coordinate(n_points: int) -> np.ndarray:
    """``x`` of the baseline line: the grid's points mapped linearly onto [-1, 1], (n_points,)."""
    return np.linspace(-1.0, 1.0, n_points)


def quantile_line(spectra: np.ndarray, q: float, iterations: int = 80) -> tuple[np.ndarray, np.ndarray]:
    """Linear quantile regression of each spectrum on ``x`` in [-1, 1] (:func:`window_coordinate`).

    ``spectra`` (n, W) -> offsets ``o`` (n,) and tilts ``t`` (n,) minimising the check loss
    ``sum_j rho_q(a_j - o - t x_j)``. For a fixed tilt the best offset is the q-quantile of
    ``a - t x``, and the loss is convex in the tilt, so a golden-section search over the tilt
    (bracket: the tilt of the least-squares line +- twice the spectrum's range) finds it;
    ``iterations`` shrink the bracket by 0.618 each (80: below 1e-16 of the range).
    """
    a = np.asarray(spectra, dtype=np.float64)
    x = window_coordinate(a.shape[1])
    centre = (a @ x) / (x @ x)
    spread = 2.0 * (a.max(axis=1) - a.min(axis=1)) + 1e-12
    lo, hi = centre - spread, centre + spread

    def loss(tilt):
        r = a - tilt[:, None] * x[None]
        offset = np.quantile(r, q, axis=1)
        r = r - offset[:, None]
        return np.sum(np.where(r >= 0, q * r, (q - 1.0) * r), axis=1), offset

    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    t1, t2 = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    f1, f2 = loss(t1)[0], loss(t2)[0]
    for _ in range(iterations):
        left = f1 <= f2  # the minimum lies in [lo, t2]
        hi = np.where(left, t2, hi)
        lo = np.where(left, lo, t1)
        t2n = np.where(left, t1, lo + ratio * (hi - lo))
        t1n = np.where(left, hi - ratio * (hi - lo), t2)
        t1, t2 = t1n, t2n
        f1, f2 = loss(t1)[0], loss(t2)[0]
    tilt = 0.5 * (lo + hi)
    return loss(tilt)[1], tilt


@dataclass(eq=False)  # holds arrays; compare fields explicitly
class SpectralTransform:
    """Per-spectrum normalisation ``y_m = clip((a_m - o_m - t_m x) / s_m)`` on the common grid.

    ``offset_per_spectrum``, ``tilt_per_spectrum`` (n_spectra,): the baseline line's absorbance
    at the window's centre and its half-rise over the window; ``scale_per_spectrum`` (n_spectra,):
    absorbance units per normalised unit.
    """

    offset_per_spectrum: np.ndarray
    tilt_per_spectrum: np.ndarray
    scale_per_spectrum: np.ndarray
    clip_min: float = -0.5
    clip_max: float = 1.5
    offset_quantile: float = 0.02  # how the parameters were estimated (for the record)
    scale_quantile: float = 0.995

    @property
    def scale(self) -> float:
        """The first spectrum's scale: forecasts from it are mapped back with it."""
        return float(self.scale_per_spectrum[0])

    def baseline(self, n_points: int) -> np.ndarray:
        """The baseline lines ``o_m + t_m x``, (n_spectra, n_points)."""
        return self.offset_per_spectrum[:, None] + self.tilt_per_spectrum[:, None] * window_coordinate(n_points)[None]

    def apply(self, absorbance_on_grid: np.ndarray) -> np.ndarray:
        """(n_spectra, n_grid) absorbance -> (n_spectra, n_grid) normalised, clipped (float64)."""
        a = np.asarray(absorbance_on_grid, dtype=np.float64)
        self._check_rows(a)
        y = (a - self.baseline(a.shape[1])) / self.scale_per_spectrum[:, None]
        return np.clip(y, self.clip_min, self.clip_max)

    def inverse(self, normalised: np.ndarray) -> np.ndarray:
        """(n_spectra, n_grid) normalised -> absorbance (float64); exact where nothing was clipped."""
        y = np.asarray(normalised, dtype=np.float64)
        self._check_rows(y)
        return y * self.scale_per_spectrum[:, None] + self.baseline(y.shape[1])

    def _check_rows(self, x: np.ndarray) -> None:
        if x.ndim != 2 or x.shape[0] != len(self.offset_per_spectrum):
            raise ValueError(f"expected ({len(self.offset_per_spectrum)}, n_grid) spectra, "
                             f"got shape {x.shape}")

    @classmethod
    def fit(cls, absorbance_on_grid: np.ndarray, config: PreprocessConfig = PreprocessConfig(),
            name: str = "the experiment") -> "SpectralTransform":
        """Estimate every spectrum's baseline line and scale from (n_spectra, n_grid) measured
        spectra, the first one the reference (see module docstring)."""
        a = np.asarray(absorbance_on_grid, dtype=np.float64)
        x = window_coordinate(a.shape[1])
        o0, t0 = quantile_line(a[:1], config.offset_quantile)
        s0 = float(np.quantile(a[0] - o0[0] - t0[0] * x, config.scale_quantile))
        if not np.isfinite(s0) or s0 < config.min_scale:
            raise InputError(None, f"{name}: the first spectrum is flat on the {config.grid_min_cm1:g}-"
                             f"{config.grid_max_cm1:g} cm-1 window (band height {s0:.3g}), so its intensity "
                             "cannot be normalised; expected absorbance bands in that window")
        _, coef = fit_drift(a[1:], np.broadcast_to(a[0], a[1:].shape), x)
        k, c, d = (np.concatenate([[first], coef[:, i]]) for i, first in enumerate((1.0, 0.0, 0.0)))
        # A fitted scale far from 1 is not contact drift but a spectrum that changed a lot (its
        # least-squares scale against the first shrinks towards 0): bound it, refit offset and tilt.
        bounded = np.clip(k, config.drift_scale_min, config.drift_scale_max)
        for m in np.flatnonzero(bounded != k):
            (c[m], d[m]), *_ = np.linalg.lstsq(np.column_stack([np.ones_like(x), x]), a[m] - bounded[m] * a[0],
                                               rcond=None)
        k = bounded
        offset, tilt, scale = c + k * o0[0], d + k * t0[0], k * s0
        return cls(offset_per_spectrum=offset, tilt_per_spectrum=tilt, scale_per_spectrum=scale,
                   clip_min=config.clip_min, clip_max=config.clip_max, offset_quantile=config.offset_quantile,
                   scale_quantile=config.scale_quantile)


def fit_drift(true: np.ndarray, pred: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row of ``pred`` (n, W) fitted by least squares as ``alpha p + beta + gamma x`` to the
    same row of ``true`` (n, W); ``x`` (W,) the window coordinate in [-1, 1]
    (:func:`window_coordinate`, or the wavenumber scaled so). Returns the fitted rows (n, W) and
    the coefficients (n, 3): scale alpha, offset beta, tilt gamma."""
    true = np.asarray(true, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    fitted = np.empty(true.shape)
    coef = np.empty((len(true), 3))
    for i, (y, p) in enumerate(zip(true, pred)):
        design = np.column_stack([p, np.ones_like(p), x])
        coef[i], *_ = np.linalg.lstsq(design, y, rcond=None)
        fitted[i] = design @ coef[i]
    return fitted, coef


def resample(wavenumber_cm1: np.ndarray, absorbance: np.ndarray, grid: np.ndarray = COMMON_GRID_CM1,
             *, source: str = "the spectrum") -> np.ndarray:
    """Linearly interpolate spectra onto ``grid``.

    ``wavenumber_cm1`` (w,) strictly ascending or strictly descending (descending input is
    flipped first, so interpolation always runs on an ascending axis); ``absorbance`` (n, w)
    or (w,); ``grid`` (g,) ascending. Returns (n, g) (or (g,)) float64. Raises InputError when
    the source axis does not cover the grid (no extrapolation); ``source`` names the data in
    that message.
    """
    x = np.asarray(wavenumber_cm1, dtype=np.float64)
    a = np.asarray(absorbance, dtype=np.float64)
    grid = np.asarray(grid, dtype=np.float64)
    one_spectrum = a.ndim == 1
    a = np.atleast_2d(a)
    if x.ndim != 1 or a.shape[1] != len(x):
        raise ValueError(f"{source}: {len(x)} wavenumbers for spectra of width {a.shape[-1]}")
    if len(x) < 2:
        raise InputError(None, f"{source} has {len(x)} wavenumber(s); at least 2 are needed to interpolate")
    if x[0] > x[-1]:
        x, a = x[::-1], a[:, ::-1]
    if not np.all(np.diff(x) > 0):
        raise InputError(None, f"{source}: the wavenumber axis is not strictly monotonic")
    lo, hi = grid[0], grid[-1]
    if x[0] > lo + _COVERAGE_TOLERANCE_CM1 or x[-1] < hi - _COVERAGE_TOLERANCE_CM1:
        raise InputError(None, f"{source} covers {x[0]:g}-{x[-1]:g} cm-1, which does not cover the "
                         f"{lo:g}-{hi:g} cm-1 window")
    # Vectorised np.interp over all spectra: each grid point lies between x[j] and x[j + 1].
    g = np.clip(grid, x[0], x[-1])
    j = np.clip(np.searchsorted(x, g, side="right") - 1, 0, len(x) - 2)
    t = (g - x[j]) / (x[j + 1] - x[j])
    out = a[:, j] * (1.0 - t) + a[:, j + 1] * t
    return out[0] if one_spectrum else out


def preprocess_experiment(e: Experiment, config: PreprocessConfig = PreprocessConfig()
                          ) -> tuple[Experiment, SpectralTransform]:
    """Resample ``e`` onto ``config.grid``, normalise and clip it; return it with its transform.

    The returned experiment has ``wavenumber_cm1 = config.grid`` and float32 absorbance in
    normalised units. Ground truth, if present, stays comparable: ``noiseless`` is resampled
    and mapped with the *same* per-spectrum transform; ``component_spectra`` are resampled and
    divided by the first spectrum's scale (concentrations are unchanged), so ``noiseless_m ~
    (s_0 / s_m) concentrations_m @ component_spectra + (simulated baseline - L_m) / s_m``.
    """
    grid = config.grid
    source = f"experiment {e.name!r}"
    absorbance = resample(e.wavenumber_cm1, e.absorbance, grid, source=source)
    transform = SpectralTransform.fit(absorbance, config, name=source)
    truth = None
    if e.truth is not None:
        t = e.truth
        noiseless = resample(e.wavenumber_cm1, t.noiseless, grid, source=source)
        components = resample(e.wavenumber_cm1, t.component_spectra, grid, source=source)
        truth = GroundTruth(noiseless=transform.apply(noiseless).astype(np.float32),
                            component_names=list(t.component_names),
                            component_kinds=list(t.component_kinds),
                            component_spectra=(components / transform.scale).astype(np.float32),
                            concentrations=np.array(t.concentrations, copy=True))
    out = replace(e, time_s=np.array(e.time_s, copy=True), voltage_v=np.array(e.voltage_v, copy=True),
                  wavenumber_cm1=grid, absorbance=transform.apply(absorbance).astype(np.float32),
                  current_ma=None if e.current_ma is None else np.array(e.current_ma, copy=True),
                  truth=truth)
    return out, transform


def preprocess_dataset(ds: OperandoDataset, config: PreprocessConfig = PreprocessConfig()) -> OperandoDataset:
    """Preprocess every experiment of ``ds`` (see :func:`preprocess_experiment`); order is kept."""
    experiments = [preprocess_experiment(e, config)[0] for e in ds]
    note = (f"preprocessed: {config.grid_min_cm1:g}-{config.grid_max_cm1:g} cm-1, {config.n_points} points, "
            f"clip [{config.clip_min:g}, {config.clip_max:g}]")
    description = f"{ds.description} ({note})" if ds.description else note
    return OperandoDataset(experiments, simulated=ds.simulated, description=description)
