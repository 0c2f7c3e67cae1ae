"""Forecast tables as CSV: one ``Wavenumber [cm-1]`` column, then one column per time step.

The header of each step column is its time in seconds; ``steps.csv`` beside it maps step index
to ``Time [s]`` and ``Voltage [V]``. Files are written atomically.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from operando.atomic import atomic_path


def write_wide_csv(path: str | Path, wavenumber_cm1: np.ndarray, spectra: np.ndarray,
                   time_s: np.ndarray) -> Path:
    """spectra (k, W) at times time_s (k,) -> CSV with W rows and k + 1 columns."""
    frame = pd.DataFrame(np.asarray(spectra, dtype=np.float64).T, columns=[f"{t:g}" for t in time_s])
    frame.insert(0, "Wavenumber [cm-1]", wavenumber_cm1)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6g")
    return Path(path)


def write_steps_csv(path: str | Path, steps: np.ndarray, time_s: np.ndarray, voltage_v: np.ndarray) -> Path:
    frame = pd.DataFrame({"Step": steps, "Time [s]": time_s, "Voltage [V]": voltage_v})
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return Path(path)
