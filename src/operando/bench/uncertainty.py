"""Uncertainty of sampled forecasts: per-wavenumber spread, central intervals and their coverage.

A generative forecaster (MeanFlow, flow matching) gives N sampled sequences for one input,
``samples`` of shape (N, n, W): N samples of n spectra of W wavenumbers. From them:

* :func:`summarize_samples` -- mean and standard deviation (ddof=1) over the samples, and the
  central interval at ``level`` (default 0.9) from the empirical quantiles
  ``(1 - level) / 2`` and ``(1 + level) / 2`` (numpy's default linear interpolation);
* :func:`interval_coverage` -- the fraction of true values inside ``[low, high]`` (inclusive),
  overall and per spectrum. A calibrated forecaster covers about ``level`` of the truth.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class SampleSummary:
    """Per-wavenumber statistics of N sampled forecasts; every array (n, W)."""

    mean: np.ndarray
    std: np.ndarray
    low: np.ndarray
    high: np.ndarray
    level: float

    @property
    def width(self) -> np.ndarray:
        """Interval width ``high - low``, (n, W)."""
        return self.high - self.low


@dataclass
class Coverage:
    """Fraction of true values inside the interval: ``overall`` and ``per_spectrum`` (n,)."""

    overall: float
    per_spectrum: np.ndarray


def summarize_samples(samples: np.ndarray, level: float = 0.9) -> SampleSummary:
    """Mean, std and the central ``level`` interval of ``samples`` (N, n, W) over axis 0."""
    s = np.asarray(samples, float)
    if s.ndim != 3:
        raise ValueError(f"samples must be (N, n, W), got shape {s.shape}")
    if s.shape[0] < 2:
        raise ValueError("need at least 2 samples for a spread and an interval")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    low, high = np.quantile(s, [(1.0 - level) / 2.0, (1.0 + level) / 2.0], axis=0)
    return SampleSummary(mean=s.mean(axis=0), std=s.std(axis=0, ddof=1), low=low, high=high, level=level)


def interval_coverage(true: np.ndarray, low: np.ndarray, high: np.ndarray) -> Coverage:
    """Fraction of ``true`` (n, W) with ``low <= true <= high``; overall and per spectrum."""
    t, lo, hi = (np.asarray(a, float) for a in (true, low, high))
    if not (t.shape == lo.shape == hi.shape) or t.ndim != 2:
        raise ValueError(f"true, low and high must all be (n, W); got {t.shape}, {lo.shape}, {hi.shape}")
    if np.any(lo > hi):
        raise ValueError("low must not exceed high")
    inside = (t >= lo) & (t <= hi)
    return Coverage(overall=float(inside.mean()), per_spectrum=inside.mean(axis=1))
