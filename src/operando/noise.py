"""Noise and signal-to-noise of spectra, estimated from the spectra themselves.

SNR of one spectrum = peak-to-peak signal / noise standard deviation, where the noise is
estimated from second differences (robust to bands that are wide compared with the grid
step): for white noise of std sigma, x[i-1] - 2 x[i] + x[i+1] has std sqrt(6) sigma, and the
median absolute deviation (x1.4826) estimates that std while ignoring the few points on
steep band flanks. Any technique's spectra on a fine grid (IR, XANES, per-pixel spectra).
"""
from __future__ import annotations

import numpy as np


def estimate_noise_std(absorbance: np.ndarray) -> np.ndarray:
    """White-noise standard deviation of each spectrum.

    ``absorbance``: (n_spectra, n_wavenumbers) or (n_wavenumbers,) -> (n_spectra,) or scalar.
    """
    a = np.asarray(absorbance, dtype=np.float64)
    d2 = a[..., :-2] - 2.0 * a[..., 1:-1] + a[..., 2:]
    mad = np.median(np.abs(d2 - np.median(d2, axis=-1, keepdims=True)), axis=-1)
    return 1.4826 * mad / np.sqrt(6.0)


def estimate_snr(absorbance: np.ndarray) -> np.ndarray:
    """Peak-to-peak signal over estimated noise std, per spectrum (shapes as above)."""
    a = np.asarray(absorbance, dtype=np.float64)
    signal = np.quantile(a, 0.999, axis=-1) - np.quantile(a, 0.001, axis=-1)
    return signal / np.maximum(estimate_noise_std(a), 1e-12)
