"""Match a series of IR spectra to the electrochemistry log and build an :class:`Experiment`.

Each spectrum is placed on the log's clock and gets the voltage and current there
(:mod:`operando.echem.clock`; a spectrum outside the log's span is refused). The spectra are then put
on one ascending wavenumber grid -- the axis of the finest-sampled spectrum restricted to the
range all spectra share -- by linear interpolation (skipped when all axes are identical).
Optionally a baseline is removed per spectrum (asymmetric least squares, pybaselines).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from operando.echem.clock import interpolate_log, name_list, times_on_log_clock
from operando.echem.eclab import EchemLog
from operando.errors import InputError, OperandoError
from operando.ir.data.experiment import Experiment, ExperimentMeta
from operando.ir.io import is_spectrum_file, read_spectrum
from operando.ir.io.spectrum import Spectrum, check_ir_window, require_absorbance

BASELINES = ("none", "asls")
# Asymmetric least squares (Eilers & Boelens 2005): smoothness lam and asymmetry p typical for
# IR absorbance on ~1 cm-1 grids.
ASLS_LAM, ASLS_P = 1e6, 0.01


@dataclass
class AlignmentReport:
    """What the alignment did, for the CLI to print."""

    n_spectra: int
    time_span_s: tuple[float, float]
    log_span_s: tuple[float, float]
    wavenumber_range_cm1: tuple[float, float]
    n_wavenumbers: int
    resampled: bool
    converted_from_transmittance: list[str] = field(default_factory=list)
    baseline: str = "none"
    current_note: str | None = None  # set when the log has no current: the experiment is stored without one

    def summary(self) -> str:
        lines = [f"{self.n_spectra} spectra matched at t = {self.time_span_s[0]:.1f} .. {self.time_span_s[1]:.1f} s "
                 f"of the electrochemistry log ({self.log_span_s[0]:.1f} .. {self.log_span_s[1]:.1f} s)",
                 f"common grid: {self.n_wavenumbers} points, {self.wavenumber_range_cm1[0]:.1f} .. "
                 f"{self.wavenumber_range_cm1[1]:.1f} cm-1" + (" (resampled)" if self.resampled else "")]
        if self.converted_from_transmittance:
            lines.append("converted from transmittance (A = -log10 T): "
                         f"{len(self.converted_from_transmittance)} spectra")
        if self.baseline != "none":
            lines.append(f"baseline removed: {self.baseline}")
        if self.current_note:
            lines.append(f"warning: {self.current_note}")
        return "\n".join(lines)


def load_spectra(directory: str | Path, *, timezone=None) -> list[Spectrum]:
    """Read every spectrum file in ``directory`` (not recursive), sorted by acquisition time.

    Spectra without an acquisition time, or two with the same time, are refused.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(directory, "not a directory of spectra")
    paths = sorted(p for p in directory.iterdir() if is_spectrum_file(p))
    if not paths:
        raise InputError(directory, "holds no spectrum files (OPUS, JCAMP-DX .jdx/.dx, CSV/TXT)")
    spectra = [read_spectrum(p, timezone=timezone) for p in paths]
    untimed = [s.source.name for s in spectra if s.acquired_at is None]
    if untimed:
        raise InputError(directory, f"{len(untimed)} spectra have no acquisition time ({name_list(untimed)}); "
                                    "use OPUS files, JCAMP-DX with ##LONGDATE, or CSV with '# acquired_at: ...'")
    spectra.sort(key=lambda s: s.acquired_at)
    for a, b in zip(spectra, spectra[1:]):
        if a.acquired_at == b.acquired_at:
            raise InputError(directory, f"{a.source.name} and {b.source.name} have the same acquisition time "
                                        f"{a.acquired_at.isoformat()}")
    return spectra


def common_grid(spectra: list[Spectrum]) -> tuple[np.ndarray, bool]:
    """The shared ascending grid (w,) and whether spectra need resampling onto it."""
    first = spectra[0].wavenumber_cm1
    if all(len(s) == len(first) and np.allclose(s.wavenumber_cm1, first, rtol=0, atol=1e-6) for s in spectra):
        return first.copy(), False
    lo = max(s.wavenumber_cm1[0] for s in spectra)
    hi = min(s.wavenumber_cm1[-1] for s in spectra)
    if lo >= hi:
        raise InputError(spectra[0].source.parent, f"the spectra share no wavenumber range (largest start "
                                                   f"{lo:.1f} cm-1 >= smallest end {hi:.1f} cm-1)")
    finest = min(spectra, key=lambda s: float(np.median(np.diff(s.wavenumber_cm1))))
    x = finest.wavenumber_cm1
    grid = x[(x >= lo - 1e-9) & (x <= hi + 1e-9)]
    if len(grid) < 2:
        raise InputError(spectra[0].source.parent, f"the common range {lo:.1f}-{hi:.1f} cm-1 holds < 2 points")
    return grid, True


def correct_baseline(wavenumber_cm1: np.ndarray, absorbance: np.ndarray, method: str) -> np.ndarray:
    """Subtract a per-spectrum baseline. Shapes: (w,), (n, w) -> (n, w)."""
    if method == "none":
        return absorbance
    if method != "asls":
        raise InputError(None, f"unknown baseline method {method!r}; choose from {BASELINES}", field="baseline")
    try:
        from pybaselines import Baseline  # optional dependency: operando[baseline]
    except ImportError:
        raise OperandoError("--baseline asls needs the optional dependency pybaselines: "
                            "pip install 'operando[baseline]'") from None
    fitter = Baseline(x_data=wavenumber_cm1)
    return np.stack([row - fitter.asls(row, lam=ASLS_LAM, p=ASLS_P)[0] for row in absorbance])


def missing_current_note(log: EchemLog) -> str | None:
    """What to tell the user when ``log`` has no current, or None when it has one."""
    if log.current_ma is not None:
        return None
    return (f"{log.source.name} has no current column (nor a charge column to form one from): the "
            "experiment is stored without current, and a model will see it as zero current")


def build_experiment(spectra: list[Spectrum], log: EchemLog, meta: ExperimentMeta, *,
                     time_offset_s: float = 0.0, convert_transmittance: bool = False,
                     baseline: str = "none") -> tuple[Experiment, AlignmentReport]:
    """Align ``spectra`` (sorted by time) with ``log`` into one :class:`Experiment`."""
    if not spectra:
        raise InputError(None, "no spectra to align")
    if baseline not in BASELINES:
        raise InputError(None, f"unknown baseline method {baseline!r}; choose from {BASELINES}", field="baseline")
    converted = []
    checked = []
    for s in spectra:
        check_ir_window(s, purpose="an operando IR dataset")
        a = require_absorbance(s, convert_transmittance=convert_transmittance)
        if a is not s:
            converted.append(s.source.name)
        checked.append(a)
    times = times_on_log_clock([s.acquired_at for s in checked], log, time_offset_s)
    voltage, current = interpolate_log(log, times, [s.source.name for s in checked])
    grid, resampled = common_grid(checked)
    absorbance = np.stack([np.interp(grid, s.wavenumber_cm1, s.values) if resampled else s.values
                           for s in checked])
    absorbance = correct_baseline(grid, absorbance, baseline)
    experiment = Experiment(meta=meta, time_s=times, voltage_v=voltage, wavenumber_cm1=grid,
                            absorbance=absorbance, current_ma=current)
    report = AlignmentReport(len(checked), (float(times[0]), float(times[-1])), log.span_s,
                             (float(grid[0]), float(grid[-1])), len(grid), resampled, converted, baseline,
                             missing_current_note(log))
    return experiment, report
