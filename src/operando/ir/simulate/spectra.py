"""From concentrations to measured spectra: band mixing, peak shifts, baseline drift, noise.

The noiseless spectrum of sample ``m`` is::

    A_m(nu) = g r_m * sum_k C_mk S_k(nu - delta_mk) + a_m + b_m (nu - 1400) / 1000

with ``S_k`` the unit-concentration ATR spectrum of component ``k`` (band library times the ATR
depth factor), ``g`` the cell's ATR contact gain, ``r_m`` its drift from spectrum to spectrum
(1 +- a few per cent: contact and source intensity of a real cell), ``delta_mk = sigma_k (c_salt,m - 1 M)`` the
salt-dependent band shift of the bulk species and ``a_m, b_m`` a slowly drifting baseline offset
and slope. The shift is applied as a quartic polynomial in ``delta`` that interpolates spectra
evaluated once per species at shifts -3, -1.5, 0, 1.5, 3 cm-1 (error < 0.3 % of a band's height
for ``|delta| <= 3 cm-1``; shifts are clipped to that range)::

    S_k(nu - delta) ~= sum_p delta^p P_kp(nu),   p = 0..4,   P_k0 = S_k

so a whole experiment is five matrix products, no per-spectrum loop over bands.

Noise: white plus a smooth (correlated) component of the same standard deviation and a
correlation length of 10 cm-1. Every spectrum draws a true SNR, the 0.1-99.9 % peak-to-peak of
the noiseless spectrum inside the 800-2000 cm-1 analysis window over the white noise's standard
deviation, from a log-normal distribution (median 3,000, log-sd 0.5). Measured on the noisy
spectra with :func:`operando.noise.estimate_snr` (the same peak-to-peak over a second-difference
estimate of the white noise, which the bands' own curvature inflates) that is a median of about
900, the value of the measured operando cell of issue 34 (docs/ir/simulator.md).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from operando.ir.simulate.bands import (
    NATIVE_WAVENUMBER_CM1,
    REFERENCE_SALT_MOLAR,
    SALT_SHIFT_CM1_PER_MOLAR,
    component_spectra,
)
from operando.ir.simulate.chemistry import COMPONENT_NAMES

SNR_MEDIAN = 3000.0
SNR_LOG_SD = 0.5
SNR_WINDOW_CM1 = (800.0, 2000.0)
CORRELATED_NOISE_RATIO = 1.0  # sd of the smooth noise component over the white one
CORRELATED_NOISE_LENGTH_CM1 = 10.0  # its Gaussian correlation length (sd of the kernel)


SHIFT_NODES_CM1 = (-3.0, -1.5, 0.0, 1.5, 3.0)
MAX_SHIFT_CM1 = 3.0


@lru_cache(maxsize=4)
def _shift_polynomials(grid_key: tuple) -> np.ndarray:
    """Polynomial coefficients ``P`` (5, k, w) with ``S_k(nu - delta) ~= sum_p delta^p P[p, k]``."""
    wn = np.array(grid_key)
    names = list(COMPONENT_NAMES)
    samples = np.stack([component_spectra(names, wn, shift_cm1=d) for d in SHIFT_NODES_CM1])
    vander = np.vander(np.array(SHIFT_NODES_CM1), increasing=True)  # samples = vander @ coefficients
    coefficients = np.einsum("pq,qkw->pkw", np.linalg.inv(vander), samples)
    coefficients[0] = samples[SHIFT_NODES_CM1.index(0.0)]  # exact unshifted spectra
    coefficients.setflags(write=False)
    return coefficients


def unit_spectra(wavenumber_cm1: np.ndarray = NATIVE_WAVENUMBER_CM1) -> np.ndarray:
    """Unit-concentration spectra of :data:`COMPONENT_NAMES` (gain 1): (k, w)."""
    return _shift_polynomials(tuple(np.asarray(wavenumber_cm1, dtype=np.float64)))[0]


def shift_coefficients() -> np.ndarray:
    """Band shift per mol/L of salt above the reference, per component [cm-1 / M]: (k,)."""
    return np.array([SALT_SHIFT_CM1_PER_MOLAR.get(n, 0.0) for n in COMPONENT_NAMES])


def baseline(offset: np.ndarray, slope: np.ndarray, wavenumber_cm1: np.ndarray) -> np.ndarray:
    """Baseline ``a_m + b_m (nu - 1400) / 1000``: (n,), (n,), (w,) -> (n, w)."""
    return offset[:, None] + slope[:, None] * ((np.asarray(wavenumber_cm1) - 1400.0) / 1000.0)[None, :]


def render(concentrations: np.ndarray, salt_molar: np.ndarray, gain: float, offset: np.ndarray,
           slope: np.ndarray, wavenumber_cm1: np.ndarray = NATIVE_WAVENUMBER_CM1,
           contact: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Noiseless spectra and the cell's component spectra.

    ``concentrations`` (n, k) in :data:`COMPONENT_NAMES` order; ``salt_molar`` (n,) local salt;
    ``offset``, ``slope`` (n,) baseline; ``contact`` (n,) the per-spectrum drift ``r_m`` of the
    gain (default 1). Returns ``noiseless`` (n, w) and ``component_spectra`` (k, w) = ``gain * S``
    so that ``noiseless = r_m (C @ component_spectra + shift terms) + baseline``.
    """
    poly = _shift_polynomials(tuple(np.asarray(wavenumber_cm1, dtype=np.float64)))
    c = np.asarray(concentrations, dtype=np.float64)
    delta = np.clip((np.asarray(salt_molar)[:, None] - REFERENCE_SALT_MOLAR) * shift_coefficients()[None, :],
                    -MAX_SHIFT_CM1, MAX_SHIFT_CM1)
    chem = c @ poly[0]
    weighted = c
    for p in range(1, len(poly)):
        weighted = weighted * delta
        chem = chem + weighted @ poly[p]
    if contact is not None:
        chem = chem * np.asarray(contact, dtype=np.float64)[:, None]
    noiseless = gain * chem + baseline(offset, slope, wavenumber_cm1)
    return noiseless, gain * poly[0]


def add_noise(noiseless: np.ndarray, wavenumber_cm1: np.ndarray, rng: np.random.Generator,
              snr_median: float = SNR_MEDIAN, snr_log_sd: float = SNR_LOG_SD) -> tuple[np.ndarray, np.ndarray]:
    """Add noise at a log-normal target SNR per spectrum.

    ``noiseless`` (n, w) -> ``(noisy (n, w) float32, target_snr (n,))``. The target is the true
    SNR: the 0.1-99.9 % peak-to-peak of the noiseless spectrum in the analysis window over the
    standard deviation of the white noise. A smooth component of ``CORRELATED_NOISE_RATIO``
    times that deviation is added on top (module docstring).
    """
    from scipy.ndimage import gaussian_filter1d

    n = noiseless.shape[0]
    target = snr_median * np.exp(snr_log_sd * rng.standard_normal(n))
    white = rng.standard_normal(noiseless.shape)
    step_cm1 = float(np.mean(np.abs(np.diff(np.asarray(wavenumber_cm1, dtype=np.float64)))))
    smooth = gaussian_filter1d(rng.standard_normal(noiseless.shape), CORRELATED_NOISE_LENGTH_CM1 / step_cm1,
                               axis=1, mode="reflect")
    smooth /= np.maximum(smooth.std(axis=1, keepdims=True), 1e-300)
    wn = np.asarray(wavenumber_cm1)
    inside = (wn >= SNR_WINDOW_CM1[0]) & (wn <= SNR_WINDOW_CM1[1])
    window = noiseless[:, inside]
    sigma = (np.quantile(window, 0.999, axis=1) - np.quantile(window, 0.001, axis=1)) / target
    noisy = (noiseless + sigma[:, None] * (white + CORRELATED_NOISE_RATIO * smooth)).astype(np.float32)
    return noisy, target
