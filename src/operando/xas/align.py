"""One global energy offset that maps measured spectra onto the computed energy scale.

FEFF's energies are not on the experimental scale (its E0 is a Fermi-level threshold, and the
absolute offset depends on the code and the core-hole model), so a measured spectrum must be
shifted before a model trained on computed spectra reads it. The offset is fitted ONCE, on a
reference compound measured and computed (for Cu: CuO), and then applied unchanged to every
measured spectrum of that element: never fitted per test spectrum, which would erase the
chemical shift that carries the oxidation state.

:func:`fit_energy_shift` returns the shift ``delta`` (eV) such that ``measured(E - delta)``
best matches ``computed(E)`` in least squares over a window: a grid scan in ``step`` over
``search`` followed by a parabola through the best three points. Both spectra should be
normalised (edge step 1). Positive ``delta`` moves the measured spectrum up in energy.
"""
from __future__ import annotations

import numpy as np

from operando.errors import InputError


def shift_misfit(delta: float, meas_e, meas_mu, comp_e, comp_mu, window: tuple[float, float]) -> float:
    """Mean squared difference of ``measured(E - delta)`` and ``computed(E)`` on ``window`` (eV)."""
    e = np.arange(window[0], window[1], 0.1)
    a = np.interp(e - delta, meas_e, meas_mu)
    b = np.interp(e, comp_e, comp_mu)
    return float(np.mean((a - b) ** 2))


def fit_energy_shift(meas_e, meas_mu, comp_e, comp_mu, *, window: tuple[float, float] | None = None,
                     search: tuple[float, float] = (-15.0, 15.0), step: float = 0.1) -> float:
    """Global shift (eV) of a measured reference onto its computed twin; see module docstring.

    ``window`` (absolute eV on the computed scale) defaults to the part of the computed
    spectrum that the measured one covers at every trial shift. Raises InputError when the two
    spectra do not overlap over at least 10 eV.
    """
    meas_e = np.asarray(meas_e, float)
    comp_e = np.asarray(comp_e, float)
    if window is None:
        window = (max(comp_e[0], meas_e[0] + search[1]), min(comp_e[-1], meas_e[-1] + search[0]))
    if window[1] - window[0] < 10.0:
        raise InputError(None, f"measured {meas_e[0]:.1f}-{meas_e[-1]:.1f} eV and computed "
                               f"{comp_e[0]:.1f}-{comp_e[-1]:.1f} eV overlap over less than 10 eV "
                               f"for shifts in {search} eV")
    deltas = np.arange(search[0], search[1] + step / 2, step)
    cost = np.array([shift_misfit(d, meas_e, meas_mu, comp_e, comp_mu, window) for d in deltas])
    i = int(np.argmin(cost))
    if 0 < i < len(deltas) - 1:
        c0, c1, c2 = cost[i - 1], cost[i], cost[i + 1]
        den = c0 - 2 * c1 + c2
        if den > 0:
            return float(deltas[i] + 0.5 * step * (c0 - c2) / den)
    return float(deltas[i])
