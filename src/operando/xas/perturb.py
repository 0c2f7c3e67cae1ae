"""Discrepancies a measured spectrum carries, applied to computed spectra on the model grid.

Each function maps spectra ``x`` (N, L) on ``anchor + grid`` (eV, uniform step) to perturbed
spectra of the same shape; the model reads them as it would a measured file. Issue 36 lists the
set (:data:`PERTURBATIONS`): rigid energy shift, extra Gaussian broadening (FWHM in eV), edge-step
(intensity) error, linear background tilt, white noise at a given SNR (relative to the edge step,
1), a coarser energy grid (resampled to 1 eV and back) and one combination (+2 eV, 1 eV, SNR 100).
Shifts and grid changes hold the end values outside the grid (as :func:`numpy.interp` does).
"""
from __future__ import annotations

import numpy as np


def shift(x: np.ndarray, grid: np.ndarray, ev: float) -> np.ndarray:
    """Spectrum moved up in energy by ``ev``: new(E) = old(E - ev)."""
    return np.stack([np.interp(grid - ev, grid, row) for row in x])


def broaden(x: np.ndarray, grid: np.ndarray, fwhm_ev: float) -> np.ndarray:
    """Convolution with a unit-area Gaussian of full width at half maximum ``fwhm_ev`` (edges padded)."""
    step = float(grid[1] - grid[0])
    sigma = fwhm_ev / (2 * np.sqrt(2 * np.log(2))) / step
    half = int(np.ceil(4 * sigma))
    k = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
    k /= k.sum()
    padded = np.pad(x, ((0, 0), (half, half)), mode="edge")
    return np.stack([np.convolve(row, k, mode="valid") for row in padded])


def scale(x: np.ndarray, factor: float) -> np.ndarray:
    """Edge-step (normalisation) error: every point multiplied by ``factor``."""
    return x * factor


def tilt(x: np.ndarray, grid: np.ndarray, slope_per_100ev: float) -> np.ndarray:
    """Add a straight background ``slope * (E - E_first) / 100 eV``."""
    return x + slope_per_100ev * (grid - grid[0]) / 100.0


def noise(x: np.ndarray, snr: float, rng: np.random.Generator) -> np.ndarray:
    """White Gaussian noise of standard deviation 1 / ``snr`` (the edge step is about 1)."""
    return x + rng.standard_normal(x.shape) / snr


def coarse(x: np.ndarray, grid: np.ndarray, step_ev: float = 1.0) -> np.ndarray:
    """Sampled every ``step_ev`` eV, then linearly interpolated back onto ``grid``."""
    g = np.arange(grid[0], grid[-1] + 1e-9, step_ev)
    return np.stack([np.interp(grid, g, np.interp(g, grid, row)) for row in x])


PERTURBATIONS = {
    "shift +1 eV": lambda x, g, r: shift(x, g, 1.0),
    "shift -1 eV": lambda x, g, r: shift(x, g, -1.0),
    "shift +3 eV": lambda x, g, r: shift(x, g, 3.0),
    "shift -3 eV": lambda x, g, r: shift(x, g, -3.0),
    "shift +5 eV": lambda x, g, r: shift(x, g, 5.0),
    "shift -5 eV": lambda x, g, r: shift(x, g, -5.0),
    "broaden 0.5 eV": lambda x, g, r: broaden(x, g, 0.5),
    "broaden 1 eV": lambda x, g, r: broaden(x, g, 1.0),
    "broaden 2 eV": lambda x, g, r: broaden(x, g, 2.0),
    "step x1.1": lambda x, g, r: scale(x, 1.1),
    "step x0.9": lambda x, g, r: scale(x, 0.9),
    "tilt +0.1/100 eV": lambda x, g, r: tilt(x, g, 0.1),
    "SNR 100": lambda x, g, r: noise(x, 100.0, r),
    "SNR 30": lambda x, g, r: noise(x, 30.0, r),
    "1 eV grid": lambda x, g, r: coarse(x, g, 1.0),
    "combined (+2 eV, 1 eV, SNR 100)": lambda x, g, r: noise(broaden(shift(x, g, 2.0), g, 1.0), 100.0, r),
}


def perturbed_sets(x: np.ndarray, grid: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """``{name: perturbed x}`` for every entry of :data:`PERTURBATIONS` (seeded noise)."""
    rng = np.random.default_rng(seed)
    return {name: f(x, grid, rng).astype(np.float32) for name, f in PERTURBATIONS.items()}
