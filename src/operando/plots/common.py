"""Shared conventions of the project's figures.

Spectroscopists read IR spectra with the wavenumber DECREASING from left to right, so every
spectral axis is inverted and labelled ``Wavenumber [cm-1]``; intensities are labelled with
their units. Figures are built with :class:`matplotlib.figure.Figure` directly (no pyplot,
no global state, renders with Agg whatever the interactive backend) and saved atomically.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from operando.atomic import atomic_path

WAVENUMBER_LABEL = "Wavenumber [cm-1]"
ABSORBANCE_LABEL = "Absorbance [a.u.]"
DELTA_ABSORBANCE_LABEL = "ΔAbsorbance [a.u.]"
VOLTAGE_LABEL = "Voltage [V]"
VOLTAGE_CMAP = "plasma"


def new_figure(width_in: float, height_in: float) -> Figure:
    """A figure with constrained layout (labels never overlap)."""
    return Figure(figsize=(width_in, height_in), layout="constrained")


def set_wavenumber_axis(ax: Axes, wavenumber_cm1: np.ndarray) -> None:
    """High wavenumbers on the left, low on the right; labelled with units."""
    wn = np.asarray(wavenumber_cm1, dtype=np.float64)
    ax.set_xlim(float(wn.max()), float(wn.min()))
    ax.set_xlabel(WAVENUMBER_LABEL)


def time_axis(time_s: np.ndarray | None, n: int) -> tuple[np.ndarray, str]:
    """Times in a readable unit (s, min or h, by the span) and the axis label.

    Without times, the spectrum index is used.
    """
    if time_s is None:
        return np.arange(n, dtype=np.float64), "Spectrum index"
    t = np.asarray(time_s, dtype=np.float64)
    span = float(t.max() - t.min()) if t.size else 0.0
    if span >= 2 * 3600:
        return t / 3600.0, "Time [h]"
    if span >= 2 * 60:
        return t / 60.0, "Time [min]"
    return t, "Time [s]"


def evenly_spaced_indices(n: int, count: int) -> np.ndarray:
    """Up to ``count`` distinct indices spread evenly over ``0..n-1`` (both ends included)."""
    return np.unique(np.round(np.linspace(0, n - 1, max(1, min(count, n)))).astype(int))


def save_figure(fig: Figure, path: str | Path | None, *, dpi: int = 150) -> Figure:
    """Write ``fig`` to ``path`` atomically (format from the suffix, PNG by default); return it."""
    if path is not None:
        path = Path(path)
        fmt = path.suffix.lstrip(".").lower() or "png"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=dpi)
    return fig
