"""The seven OpIRBench metrics (Appendix C of arXiv 2602.18551).

Six per-spectrum metrics compare each predicted spectrum with the true one on the preprocessed
800-2000 cm-1 grid, then are reported as mean +- std over the test spectra; DILATE compares
each test experiment's time-ordered predicted sequence of spectra with the true sequence
(see :mod:`operando.ir.bench.dilate`) and is reported as mean +- std over experiments.

Conventions (one spectrum = one row; ``y`` true, ``p`` predicted, W wavenumbers):

* MAE = mean |y - p|; MSE = mean (y - p)^2; RMSE = sqrt(MSE).
* cosine = <y, p> / (|y| |p|), clipped to [-1, 1].
* SAM = angle between y and p in DEGREES, computed as ``2 atan2(|u - v|, |u + v|)`` with
  u = y/|y|, v = p/|p| (accurate near 0 deg, where arccos(cosine) is not).
  Zero-norm spectra: both zero -> cosine 1, SAM 0 (identical); exactly one zero ->
  cosine 0, SAM 90 (no direction in common), so that means over a test set stay finite.
* R2 = 1 - SS_res / SS_tot over the wavenumbers of that spectrum, SS_tot = sum (y - mean y)^2.
  Constant true spectrum (SS_tot == 0): R2 = 1 if the prediction is exact (SS_res == 0),
  else 0 (the ``force_finite`` convention of scikit-learn's ``r2_score``).

Tables divide by :data:`METRIC_SCALES` (the paper shows MAE / 1e-2, MSE / 1e-3, RMSE / 1e-2);
the standard deviation is the population one (ddof = 0).
"""
from __future__ import annotations

import numpy as np

from operando.ir.bench.dilate import DEFAULT_ALPHA, DEFAULT_GAMMA, dilate_terms

METRIC_NAMES = ("MAE", "MSE", "RMSE", "SAM", "cosine", "R2", "DILATE")
METRIC_SCALES: dict[str, float] = {"MAE": 1e-2, "MSE": 1e-3, "RMSE": 1e-2, "SAM": 1.0,
                                   "cosine": 1.0, "R2": 1.0, "DILATE": 1.0}
HIGHER_IS_BETTER = frozenset({"cosine", "R2"})


def _pair(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert to float64 (n_spectra, n_wavenumbers) arrays."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.ndim != 2 or y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must both be (n_spectra, n_wavenumbers) with the "
                         f"same shape, got {y_true.shape} and {y_pred.shape}")
    if y_true.shape[1] < 1:
        raise ValueError("spectra must have at least one wavenumber")
    if not (np.all(np.isfinite(y_true)) and np.all(np.isfinite(y_pred))):
        raise ValueError("y_true / y_pred contain non-finite values")
    return y_true, y_pred


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Mean absolute error per spectrum: (n, W), (n, W) -> (n,)."""
    y_true, y_pred = _pair(y_true, y_pred)
    return np.mean(np.abs(y_true - y_pred), axis=1)


def mse(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Mean squared error per spectrum: (n, W), (n, W) -> (n,)."""
    y_true, y_pred = _pair(y_true, y_pred)
    return np.mean((y_true - y_pred) ** 2, axis=1)


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Root mean squared error per spectrum: (n, W), (n, W) -> (n,)."""
    return np.sqrt(mse(y_true, y_pred))


def cosine_similarity(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Cosine of the angle between true and predicted spectrum: (n, W) pairs -> (n,) in [-1, 1].

    Both zero -> 1; exactly one zero -> 0.
    """
    y_true, y_pred = _pair(y_true, y_pred)
    norm_true = np.linalg.norm(y_true, axis=1)
    norm_pred = np.linalg.norm(y_pred, axis=1)
    both = (norm_true > 0) & (norm_pred > 0)
    denom = np.where(both, norm_true * norm_pred, 1.0)
    cos = np.clip(np.einsum("nw,nw->n", y_true, y_pred) / denom, -1.0, 1.0)
    neither = (norm_true == 0) & (norm_pred == 0)
    return np.where(both, cos, np.where(neither, 1.0, 0.0))


def spectral_angle_deg(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Spectral Angle Mapper in degrees: (n, W) pairs -> (n,) in [0, 180].

    Both zero -> 0; exactly one zero -> 90.
    """
    y_true, y_pred = _pair(y_true, y_pred)
    norm_true = np.linalg.norm(y_true, axis=1, keepdims=True)
    norm_pred = np.linalg.norm(y_pred, axis=1, keepdims=True)
    unit_true = y_true / np.where(norm_true > 0, norm_true, 1.0)
    unit_pred = y_pred / np.where(norm_pred > 0, norm_pred, 1.0)
    angle = 2.0 * np.arctan2(np.linalg.norm(unit_true - unit_pred, axis=1),
                             np.linalg.norm(unit_true + unit_pred, axis=1))
    deg = np.degrees(angle)
    zero_true = norm_true[:, 0] == 0
    zero_pred = norm_pred[:, 0] == 0
    return np.where(zero_true & zero_pred, 0.0, np.where(zero_true | zero_pred, 90.0, deg))


def r2_score(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Coefficient of determination over the wavenumbers of each spectrum: -> (n,).

    Constant true spectrum: 1 if the prediction is exact, else 0.
    """
    y_true, y_pred = _pair(y_true, y_pred)
    ss_res = np.sum((y_true - y_pred) ** 2, axis=1)
    ss_tot = np.sum((y_true - y_true.mean(axis=1, keepdims=True)) ** 2, axis=1)
    safe = ss_tot > 0
    r2 = 1.0 - ss_res / np.where(safe, ss_tot, 1.0)
    return np.where(safe, r2, np.where(ss_res == 0, 1.0, 0.0))


def spectrum_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, np.ndarray]:
    """All six per-spectrum metrics: (n, W) pairs -> {"MAE","MSE","RMSE","SAM","cosine","R2"}.

    Each value is an (n,) float64 array in natural units (not divided by METRIC_SCALES).
    """
    y_true, y_pred = _pair(y_true, y_pred)
    squared = mse(y_true, y_pred)
    return {"MAE": mae(y_true, y_pred), "MSE": squared, "RMSE": np.sqrt(squared),
            "SAM": spectral_angle_deg(y_true, y_pred),
            "cosine": cosine_similarity(y_true, y_pred), "R2": r2_score(y_true, y_pred)}


def sequence_dilate(y_true: np.ndarray, y_pred: np.ndarray, alpha: float = DEFAULT_ALPHA,
                    gamma: float = DEFAULT_GAMMA) -> dict[str, float]:
    """DILATE of one experiment's time-ordered sequence: (T, W), (T, W) -> shape/temporal/dilate.

    ``{"shape": soft-DTW, "temporal": TDI, "dilate": alpha*shape + (1-alpha)*temporal}``.
    """
    return dilate_terms(y_true, y_pred, alpha=alpha, gamma=gamma)


def scaled_mean_std(name: str, values: np.ndarray) -> tuple[float, float]:
    """Mean and population std of one metric's values, divided by ``METRIC_SCALES[name]``."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise ValueError(f"no values for metric {name}")
    scale = METRIC_SCALES[name]
    return float(np.mean(v) / scale), float(np.std(v) / scale)
