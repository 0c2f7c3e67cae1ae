"""Put spectra on a common energy grid relative to an edge.

:func:`relative_grid` builds the grid (default -5 .. +45 eV in 0.25 eV steps: the XANES window
that the computed Cu set and a 60 eV measured window both cover); :func:`resample` evaluates a
spectrum at ``edge + grid`` by linear interpolation. Points outside the measured range are never
invented: up to ``max_extrapolate`` eV (default 2 eV) is filled with the end value, beyond that
the call raises InputError naming the source and the missing range.
"""
from __future__ import annotations

import numpy as np

from operando.errors import InputError

GRID_START, GRID_STOP, GRID_STEP = -5.0, 45.0, 0.25


def relative_grid(start: float = GRID_START, stop: float = GRID_STOP, step: float = GRID_STEP) -> np.ndarray:
    """Uniform grid ``start, start + step, ..., stop`` (inclusive), eV relative to an edge."""
    n = int(round((stop - start) / step)) + 1
    return start + step * np.arange(n)


def resample(energy, mu, grid, edge: float = 0.0, *, max_extrapolate: float = 2.0,
             source: str = "<array>") -> np.ndarray:
    """mu at energies ``edge + grid`` (shape of ``grid``); see the module docstring for the ends."""
    e = np.asarray(energy, dtype=float)
    m = np.asarray(mu, dtype=float)
    target = edge + np.asarray(grid, dtype=float)
    short_lo = e[0] - target[0]
    short_hi = target[-1] - e[-1]
    if short_lo > max_extrapolate or short_hi > max_extrapolate:
        raise InputError(source, f"spectrum covers {e[0]:.1f}-{e[-1]:.1f} eV but the grid needs "
                                 f"{target[0]:.1f}-{target[-1]:.1f} eV (edge {edge:.1f} eV)")
    return np.interp(target, e, m)
