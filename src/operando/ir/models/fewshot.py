"""Forecasting the rest of a running experiment from its first k measured spectra (few-shot).

The trained model forecasts a change ``d_m`` from the first spectrum at every step m (zero-shot,
:func:`operando.ir.forecast.anchored_forecast`). Once the first k spectra ``y_0 .. y_{k-1}`` of
the cell are measured, :func:`prefix_correction` fits, per cell and in closed form (one linear
least-squares problem: milliseconds), how this cell departs from that forecast::

    y_j - y_0  ~  alpha d_j + sqrt(t_j - t_0) r        (j < k)

a gain ``alpha`` of the predicted change (the model may get the size of the change wrong for
this cell) and a per-wavenumber drift ``r`` growing as the square root of time (what the
model does not predict: slow contact and baseline drift, and diffusion-limited growth such as
SEI thickening, go as sqrt(t)). The two are fitted jointly: ``alpha`` from the parts of the
observed and predicted changes that the sqrt(t) course does not explain, then ``r``. The
forecast starts at the last measured spectrum::

    f_m = y_{k-1} + alpha (d_m - d_{k-1}) + (sqrt(t_m - t_0) - sqrt(t_{k-1} - t_0)) r

With k = 1 it is the zero-shot forecast (alpha = 1, r = 0). The measured prefix is returned
unchanged at steps 0 .. k-1. :func:`linear_extrapolation` is the per-wavenumber straight line
through the prefix (a baseline of the prefix-k protocol).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PrefixCorrection:
    """A cell's correction of the zero-shot change (module docstring), fitted on ``k`` spectra:
    ``gain`` (alpha) and ``drift`` (r, (W,), per unit of sqrt(seconds))."""

    k: int
    gain: float
    drift: np.ndarray

    def apply(self, prefix: np.ndarray, change: np.ndarray, time_s: np.ndarray) -> np.ndarray:
        """The forecast (n, W) of every step: the measured ``prefix`` (k, W) at steps < k, then
        ``y_{k-1} + gain (d_m - d_{k-1}) + (phi_m - phi_{k-1}) drift`` with phi = sqrt(t - t_0)."""
        prefix = np.asarray(prefix, dtype=np.float64)
        change = np.asarray(change, dtype=np.float64)
        phi = _root_time(time_s)
        k = self.k
        out = prefix[k - 1] + self.gain * (change - change[k - 1]) + (phi - phi[k - 1])[:, None] * self.drift[None]
        out[:k] = prefix
        return out


def _root_time(time_s: np.ndarray) -> np.ndarray:
    t = np.asarray(time_s, dtype=np.float64)
    return np.sqrt(np.clip(t - t[0], 0.0, None))


def prefix_correction(prefix: np.ndarray, change: np.ndarray, time_s: np.ndarray) -> PrefixCorrection:
    """Fit the correction on the measured ``prefix`` (k, W) and the zero-shot predicted change
    ``change`` (n >= k, W; row 0 zero) at times ``time_s`` (n,), increasing."""
    prefix = np.asarray(prefix, dtype=np.float64)
    change = np.asarray(change, dtype=np.float64)
    k, width = prefix.shape
    if k < 1 or change.shape[0] < k or change.shape[1] != width or len(time_s) != change.shape[0]:
        raise ValueError(f"prefix {prefix.shape}, change {change.shape} and {len(time_s)} times do not fit")
    observed = prefix - prefix[0]
    predicted = change[:k] - change[0]
    phi = _root_time(time_s)[:k]
    norm = float(phi @ phi)
    if norm == 0.0:                      # k = 1: nothing measured after the first spectrum
        return PrefixCorrection(k, 1.0, np.zeros(width))
    # alpha from what the sqrt(t) course leaves of both changes, then r (joint least squares)
    along = lambda x: np.outer(phi, phi @ x) / norm  # noqa: E731  (part of each column along phi)
    obs_rest, pred_rest = observed - along(observed), predicted - along(predicted)
    energy = float(np.sum(pred_rest ** 2))
    gain = float(np.sum(obs_rest * pred_rest) / energy) if energy > 1e-12 * max(float(np.sum(predicted ** 2)), 1e-300) else 1.0
    drift = phi @ (observed - gain * predicted) / norm
    return PrefixCorrection(k, gain, drift)


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
