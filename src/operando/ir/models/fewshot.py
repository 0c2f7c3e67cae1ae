"""Forecasting the rest of a running experiment from its first k measured spectra (few-shot).

The trained model forecasts a change ``d_m`` from the first spectrum at every step m (zero-shot,
:func:`operando.ir.forecast.anchored_forecast`). Once the first k spectra ``y_0 .. y_{k-1}`` of
the cell are measured, the forecast starts from the last of them and adds the model's change
from there on, corrected for how this cell departs from the model::

    f_m = y_{k-1} + alpha (d_m - d_{k-1}) + (phi_m - phi_{k-1}) r,    phi = sqrt(t - t_0)

Three corrections, nested, each fitted on the prefix in closed form (least squares; milliseconds):

* ``re-anchored``: alpha = 1, r = 0 (the zero-shot change, started from the latest measurement);
* ``gain``: alpha from ``y_j - y_0 ~ alpha d_j`` (the model may get the size of this cell's
  change wrong: rate constants differ from cell to cell);
* ``gain + drift``: alpha jointly with a per-wavenumber drift ``r`` growing as the square root of
  time (slow drift and diffusion-limited growth the model does not predict), shrunk towards 0
  by the James-Stein factor ``max(0, 1 - W var(r) / |r|^2)``, ``var(r)`` from the fit's
  residuals: a drift fitted from a few noisy spectra and extrapolated far ahead costs more than
  it brings unless it stands out of its noise.

Which one is used is decided on the prefix itself, by rolling-origin validation: each is fitted
on the first h spectra (h = max(2, k // 2) .. k - 1) and forecasts spectra h .. k - 1 from
spectrum h - 1; the one with the smallest total absolute error wins (ties go to the simpler).
With k = 1 nothing is fitted (the zero-shot forecast); with k = 2 there is nothing to validate
on, and ``gain`` is used. The measured prefix is returned unchanged at steps 0 .. k - 1.
:func:`linear_extrapolation` is the per-wavenumber straight line through the prefix (a baseline
of the prefix-k protocol).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VARIANTS = ("re-anchored", "gain", "gain + drift")
GAIN_RANGE = (0.0, 3.0)  # a fitted gain outside this is not a size correction but a misfit


@dataclass(frozen=True)
class PrefixCorrection:
    """A cell's correction of the zero-shot change (module docstring), fitted on ``k`` spectra:
    ``gain`` (alpha), ``drift`` (r, (W,), per unit of sqrt(seconds)) and the ``variant`` chosen."""

    k: int
    gain: float
    drift: np.ndarray
    variant: str = "re-anchored"

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


def _fit(variant: str, prefix: np.ndarray, change: np.ndarray, phi: np.ndarray) -> PrefixCorrection:
    """One correction fitted on ``prefix`` (k, W) with the model's ``change`` (>= k, W) and
    ``phi`` (>= k,)."""
    k, width = prefix.shape
    observed = prefix - prefix[0]
    predicted = change[:k] - change[0]
    zero = np.zeros(width)
    if variant == "re-anchored" or k < 2:
        return PrefixCorrection(k, 1.0, zero, "re-anchored")
    energy = float(np.sum(predicted ** 2))
    if variant == "gain":
        gain = float(np.sum(observed * predicted) / energy) if energy > 1e-300 else 1.0
        return PrefixCorrection(k, float(np.clip(gain, *GAIN_RANGE)), zero, "gain")
    p = phi[:k]
    norm = float(p @ p)
    if k < 3 or norm == 0.0:
        return _fit("gain", prefix, change, phi)
    # alpha from what the sqrt(t) course leaves of both changes, then r (joint least squares)
    along = lambda x: np.outer(p, p @ x) / norm  # noqa: E731  (part of each column along phi)
    obs_rest, pred_rest = observed - along(observed), predicted - along(predicted)
    rest_energy = float(np.sum(pred_rest ** 2))
    gain = float(np.sum(obs_rest * pred_rest) / rest_energy) if rest_energy > 1e-12 * max(energy, 1e-300) else 1.0
    gain = float(np.clip(gain, *GAIN_RANGE))
    drift = p @ (observed - gain * predicted) / norm
    residual = observed - gain * predicted - np.outer(p, drift)
    dof = max(k - 2, 1)  # the first row is zero by construction; one parameter per wavenumber
    variance = float(np.sum(residual ** 2)) / (dof * width) / norm  # of each drift coefficient
    strength = float(np.sum(drift ** 2))
    shrink = max(0.0, 1.0 - width * variance / strength) if strength > 0 else 0.0
    return PrefixCorrection(k, gain, shrink * drift, "gain + drift")


def prefix_correction(prefix: np.ndarray, change: np.ndarray, time_s: np.ndarray) -> PrefixCorrection:
    """Fit the correction on the measured ``prefix`` (k, W) and the zero-shot predicted change
    ``change`` (n >= k, W; row 0 zero) at times ``time_s`` (n,), increasing; the variant is
    chosen on the prefix (module docstring)."""
    prefix = np.asarray(prefix, dtype=np.float64)
    change = np.asarray(change, dtype=np.float64)
    k, width = prefix.shape
    if k < 1 or change.shape[0] < k or change.shape[1] != width or len(time_s) != change.shape[0]:
        raise ValueError(f"prefix {prefix.shape}, change {change.shape} and {len(time_s)} times do not fit")
    phi = _root_time(time_s)
    if k == 1:
        return PrefixCorrection(1, 1.0, np.zeros(width), "re-anchored")
    if k == 2:
        return _fit("gain", prefix, change, phi)
    errors = dict.fromkeys(VARIANTS, 0.0)
    for h in range(max(2, k // 2), k):
        for variant in VARIANTS:
            fit = _fit(variant, prefix[:h], change, phi)
            forecast = fit.apply(prefix[:h], change[:k], time_s[:k])
            errors[variant] += float(np.abs(forecast[h:] - prefix[h:]).sum())
    best = min(VARIANTS, key=lambda v: (errors[v], VARIANTS.index(v)))
    return _fit(best, prefix, change, phi)


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
