"""Preprocessing onto the common grid: truncation, drift normalisation, scale clipping.

The paper (arXiv:2602.18551, OpIRSpec-7K) truncates every spectrum to the 800-2000 cm-1
fingerprint window, normalises it against global intensity drift and clips its scale. This
module does that deterministically and invertibly (formulae also in docs/ir/data.md):

1. **Truncation / common grid.** Linear interpolation of each spectrum onto
   ``g = linspace(800, 2000, 601)`` (2 cm-1 steps), on an ascending axis.
2. **Additive drift.** Per spectrum ``m``: ``o_m = quantile_q(a_m)`` with ``q = 0.02``, the
   level of the spectrum's lowest points (the baseline between bands), is subtracted. This
   removes the additive baseline wander of ATR-IR measurements over hours of cycling.
3. **Intensity scale.** Per *experiment*: ``s = quantile_0.995(a_0 - o_0)``, the near-maximum
   of the offset-corrected first spectrum; every spectrum of the experiment is divided by
   ``s``. The reference spectrum then peaks at about 1, cells with different ATR contact or
   intensity become comparable, and the changes relative to the first spectrum, which carry
   the chemistry, are kept (a per-spectrum scale would erase them).
4. **Clipping** of the normalised spectra to ``[clip_min, clip_max] = [-0.5, 1.5]`` to bound
   the effect of detector glitches and saturated bands.

So ``y_m = clip((a_m - o_m) / s, clip_min, clip_max)`` and, for unclipped values,
``a_m = y_m * s + o_m``; :class:`SpectralTransform` keeps ``o`` and ``s`` so simulated ground
truth can be mapped exactly like the measured spectra.
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
    clip_min: float = -0.5  # normalised units (reference spectrum peak ~ 1)
    clip_max: float = 1.5
    offset_quantile: float = 0.02  # per-spectrum baseline level
    scale_quantile: float = 0.995  # near-maximum of the first, offset-corrected spectrum
    min_scale: float = 1e-9  # a reference spectrum flatter than this cannot be normalised

    @property
    def grid(self) -> np.ndarray:
        """The common ascending wavenumber grid [cm-1], shape (n_points,)."""
        return np.linspace(self.grid_min_cm1, self.grid_max_cm1, self.n_points)


@dataclass(eq=False)  # holds arrays; compare fields explicitly
class SpectralTransform:
    """Per-experiment normalisation ``y = clip((a - offset) / scale)`` on the common grid.

    ``offset_per_spectrum``: (n_spectra,) absorbance offsets ``o_m``; ``scale``: the
    experiment's intensity scale ``s`` (absorbance units per normalised unit).
    """

    offset_per_spectrum: np.ndarray
    scale: float
    clip_min: float = -0.5
    clip_max: float = 1.5
    offset_quantile: float = 0.02  # how offset/scale were estimated (for the record)
    scale_quantile: float = 0.995

    def apply(self, absorbance_on_grid: np.ndarray) -> np.ndarray:
        """(n_spectra, n_grid) absorbance -> (n_spectra, n_grid) normalised, clipped (float64)."""
        a = np.asarray(absorbance_on_grid, dtype=np.float64)
        self._check_rows(a)
        y = (a - self.offset_per_spectrum[:, None]) / self.scale
        return np.clip(y, self.clip_min, self.clip_max)

    def inverse(self, normalised: np.ndarray) -> np.ndarray:
        """(n_spectra, n_grid) normalised -> absorbance (float64); exact where nothing was clipped."""
        y = np.asarray(normalised, dtype=np.float64)
        self._check_rows(y)
        return y * self.scale + self.offset_per_spectrum[:, None]

    def _check_rows(self, x: np.ndarray) -> None:
        if x.ndim != 2 or x.shape[0] != len(self.offset_per_spectrum):
            raise ValueError(f"expected ({len(self.offset_per_spectrum)}, n_grid) spectra, "
                             f"got shape {x.shape}")

    @classmethod
    def fit(cls, absorbance_on_grid: np.ndarray, config: PreprocessConfig = PreprocessConfig(),
            name: str = "the experiment") -> "SpectralTransform":
        """Estimate offsets and scale from (n_spectra, n_grid) measured spectra (see module docstring)."""
        a = np.asarray(absorbance_on_grid, dtype=np.float64)
        offset = np.quantile(a, config.offset_quantile, axis=1)
        scale = float(np.quantile(a[0] - offset[0], config.scale_quantile))
        if not np.isfinite(scale) or scale < config.min_scale:
            raise InputError(None, f"{name}: the first spectrum is flat on the {config.grid_min_cm1:g}-"
                             f"{config.grid_max_cm1:g} cm-1 window (band height {scale:.3g}), so its "
                             "intensity cannot be normalised; expected absorbance bands in that window")
        return cls(offset_per_spectrum=offset, scale=scale, clip_min=config.clip_min,
                   clip_max=config.clip_max, offset_quantile=config.offset_quantile,
                   scale_quantile=config.scale_quantile)


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
    and mapped with the *same* transform, ``component_spectra`` are resampled and divided by
    the same scale (concentrations are unchanged), so ``noiseless ~ concentrations @
    component_spectra + (baseline - offset) / scale`` still holds.
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
