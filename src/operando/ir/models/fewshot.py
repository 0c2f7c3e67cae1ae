"""Forecasting the rest of a running experiment from its first k measured spectra (few-shot).

The trained model forecasts a change ``d_m`` from the first spectrum at every step m (zero-shot,
:func:`operando.ir.forecast.anchored_forecast`). Once the first k spectra ``y_0 .. y_{k-1}`` of
the cell are measured, the forecast starts from the last of them and adds the model's change
from there on, scaled by a gain fitted to this cell::

    f_m = y_{k-1} + alpha (d_m - d_{k-1})

The model may get the size of a cell's change wrong (rate constants differ from cell to cell),
and the prefix shows by how much: ``alpha_hat`` is the least-squares gain of
``y_j - y_0 ~ alpha d_j`` over the prefix (closed form, milliseconds). But a gain fitted early
says little about the change still to come, so it is believed in proportion to how much of the
predicted change the prefix already covers::

    alpha = 1 + w (alpha_hat - 1),   w = |d_{k-1}|_1 / max_m |d_m|_1   (in [0, 1])

With k = 1 nothing is fitted (the zero-shot forecast); the measured prefix is returned unchanged
at steps 0 .. k-1. A per-wavenumber drift in sqrt(t), and choosing among corrections on the
prefix itself, were tried and dropped: fitted on a few early spectra they extrapolate worse
than the model (docs/ir/benchmark.md, prefix-k). :func:`linear_extrapolation` is the
per-wavenumber straight line through the prefix (a baseline of the prefix-k protocol).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GAIN_RANGE = (0.0, 3.0)  # a fitted gain outside this is not a size correction but a misfit


@dataclass(frozen=True)
class PrefixCorrection:
    """A cell's correction of the zero-shot change (module docstring), fitted on ``k`` spectra:
    the ``gain`` used (alpha), the least-squares ``fitted_gain`` (alpha_hat) and the ``coverage``
    (w) that weighs it."""

    k: int
    gain: float
    fitted_gain: float = 1.0
    coverage: float = 0.0

    def apply(self, prefix: np.ndarray, change: np.ndarray) -> np.ndarray:
        """The forecast (n, W) of every step: the measured ``prefix`` (k, W) at steps < k, then
        ``y_{k-1} + gain (d_m - d_{k-1})`` with ``change`` d (n, W)."""
        prefix = np.asarray(prefix, dtype=np.float64)
        change = np.asarray(change, dtype=np.float64)
        k = self.k
        out = prefix[k - 1] + self.gain * (change - change[k - 1])
        out[:k] = prefix
        return out


def prefix_correction(prefix: np.ndarray, change: np.ndarray) -> PrefixCorrection:
    """Fit the correction on the measured ``prefix`` (k, W) and the zero-shot predicted change
    ``change`` (n >= k, W; row 0 zero) of every step (module docstring)."""
    prefix = np.asarray(prefix, dtype=np.float64)
    change = np.asarray(change, dtype=np.float64)
    k, width = prefix.shape
    if k < 1 or change.shape[0] < k or change.shape[1] != width:
        raise ValueError(f"prefix {prefix.shape} and change {change.shape} do not fit")
    predicted = change - change[0]
    size = np.abs(predicted).sum(axis=1)
    if k == 1 or size.max() <= 0.0:
        return PrefixCorrection(k, 1.0)
    observed = prefix - prefix[0]
    energy = float(np.sum(predicted[:k] ** 2))
    fitted = float(np.sum(observed * predicted[:k]) / energy) if energy > 0.0 else 1.0
    fitted = float(np.clip(fitted, *GAIN_RANGE))
    coverage = float(np.clip(size[k - 1] / size.max(), 0.0, 1.0))
    return PrefixCorrection(k, 1.0 + coverage * (fitted - 1.0), fitted, coverage)


def linear_extrapolation(prefix: np.ndarray, time_s: np.ndarray) -> np.ndarray:
    """Per-wavenumber least-squares line in time through the ``prefix`` (k >= 2, W), evaluated
    at every time of ``time_s`` (n,): (n, W), the prefix itself at steps < k."""
    prefix = np.asarray(prefix, dtype=np.float64)
    t = np.asarray(time_s, dtype=np.float64)
    k = len(prefix)
    if k < 2:
        raise ValueError("a line through the prefix needs at least 2 spectra")
    tk = t[:k] - t[:k].mean()
    slope = (tk @ (prefix - prefix.mean(axis=0))) / float(tk @ tk)
    out = prefix.mean(axis=0) + (t - t[:k].mean())[:, None] * slope[None]
    out[:k] = prefix
    return out
