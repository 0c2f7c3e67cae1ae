"""One measured IR spectrum as read from an instrument file, and the checks every reader shares.

:class:`Spectrum` is what every reader in :mod:`operando.ir.io` returns: an ascending wavenumber
axis, the values, what they are (absorbance, transmittance or a single channel), when they
were acquired (timezone-aware) and where they came from.

Shared checks:

* :func:`check_ir_window` -- the forecasting models work on the mid-IR fingerprint
  800-2000 cm-1; a spectrum that does not cover it (e.g. near-IR only) is refused.
* :func:`looks_like_transmittance` / :func:`require_absorbance` -- transmittance given where
  absorbance is expected is detected (from the declared kind, or from values in 0-1 / 0-100
  whose bands point downwards) and refused, or converted with ``A = -log10(T)`` on request.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import numpy as np

from operando.errors import InputError

KINDS = ("absorbance", "transmittance", "single_channel")
# The mid-IR window the forecasting models are trained on (carbonate C=O, P-F, C-O, SEI bands).
IR_WINDOW_CM1 = (800.0, 2000.0)
# Near-IR starts around 4000 cm-1 (2.5 um); used only to word the refusal message.
NIR_LOWER_CM1 = 3500.0


@dataclass
class Spectrum:
    """One spectrum.

    Shapes: ``wavenumber_cm1`` (w,) strictly ascending [cm-1]; ``values`` (w,) finite.
    ``kind`` is one of :data:`KINDS`; transmittance may be a fraction (0-1) or a percentage
    (``metadata["transmittance_percent"] = True``). ``acquired_at`` is timezone-aware or None.
    """

    wavenumber_cm1: np.ndarray
    values: np.ndarray
    kind: str
    acquired_at: datetime | None
    source: Path
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.acquired_at is not None and self.acquired_at.utcoffset() is None:
            raise ValueError("acquired_at must be timezone-aware (localise naive times when reading)")
        self.source = Path(self.source)

    @property
    def range_cm1(self) -> tuple[float, float]:
        return float(self.wavenumber_cm1[0]), float(self.wavenumber_cm1[-1])

    def __len__(self) -> int:
        return int(len(self.values))


def finish_spectrum(path: str | Path, wavenumber_cm1, values, kind: str, acquired_at: datetime | None,
                    metadata: dict | None = None, *, line: int | None = None) -> Spectrum:
    """Validate and orient reader output into a :class:`Spectrum`.

    Checks lengths, at least 2 points, finite numbers and a strictly monotonic axis; a
    descending axis (usual for IR instruments) is flipped, never interpolated.
    """
    x = np.asarray(wavenumber_cm1, dtype=np.float64).ravel()
    y = np.asarray(values, dtype=np.float64).ravel()
    if len(x) != len(y):
        raise InputError(path, f"{len(x)} wavenumbers for {len(y)} values", line=line)
    if len(x) < 2:
        raise InputError(path, f"a spectrum needs at least 2 points, found {len(x)}", line=line)
    if not np.all(np.isfinite(x)):
        raise InputError(path, "the wavenumber axis holds non-finite numbers", line=line)
    bad = np.flatnonzero(~np.isfinite(y))
    if len(bad):
        raise InputError(path, f"{len(bad)} non-finite values (NaN/inf), first at "
                               f"{x[bad[0]]:.6g} cm-1", line=line)
    if x[0] > x[-1]:
        x, y = x[::-1].copy(), y[::-1].copy()
    steps = np.diff(x)
    if not np.all(steps > 0):
        i = int(np.flatnonzero(steps <= 0)[0])
        raise InputError(path, f"the wavenumber axis is not strictly monotonic (at {x[i]:.6g} cm-1)",
                         line=line)
    return Spectrum(x, y, kind, acquired_at, Path(path), dict(metadata or {}))


# ---------------------------------------------------------------------------- checks

def check_ir_window(spectrum: Spectrum, path: str | Path | None = None,
                    window_cm1: tuple[float, float] = IR_WINDOW_CM1, purpose: str = "IR forecasting") -> None:
    """Raise InputError unless ``spectrum`` covers ``window_cm1`` (default 800-2000 cm-1); the
    message says that ``purpose`` (e.g. "an operando IR dataset") needs that range."""
    lo, hi = spectrum.range_cm1
    need_lo, need_hi = window_cm1
    if lo <= need_lo and hi >= need_hi:
        return
    what = "near-infrared (NIR) only, " if lo >= NIR_LOWER_CM1 else ""
    raise InputError(path if path is not None else spectrum.source,
                     f"spectrum covers {lo:.1f}-{hi:.1f} cm-1 ({what}{len(spectrum)} points); "
                     f"{purpose} needs the mid-IR range {need_lo:.0f}-{need_hi:.0f} cm-1")


def looks_like_transmittance(values) -> tuple[bool, str]:
    """Guess from the values alone whether a spectrum is transmittance rather than absorbance.

    Transmittance lies in 0-1 (or 0-100 %) with a high baseline and bands pointing *down*:
    the median sits in the top part of the range. Absorbance has a low baseline and bands
    pointing up. Returns ``(verdict, reason)``; the reason words the error message.
    """
    y = np.asarray(values, dtype=np.float64)
    y = y[np.isfinite(y)]
    if len(y) < 10:
        return False, "too few points to judge"
    lo, med, hi = np.percentile(y, [1, 50, 99])
    if lo < -1e-3 or hi <= lo:
        return False, "values are negative or constant"
    downward = (med - lo) > 0.6 * (hi - lo)
    if hi <= 1.05 and med > 0.3 and downward:
        return True, f"values lie in 0-1 (median {med:.2f}) with bands pointing down"
    if 1.5 < hi <= 105.0 and med > 30.0 and downward:
        return True, f"values lie in 0-100 % (median {med:.1f}) with bands pointing down"
    return False, "values look like absorbance"


def guess_kind(values, metadata: dict) -> str:
    """Kind of a spectrum whose file does not say: transmittance if it looks like it, else absorbance.

    Records ``metadata["kind_declared"] = False`` and the reason in ``metadata["kind_reason"]``.
    """
    is_t, reason = looks_like_transmittance(values)
    metadata["kind_declared"] = False
    metadata["kind_reason"] = reason
    if is_t:
        metadata["transmittance_percent"] = bool(np.max(values) > 1.5)
    return "transmittance" if is_t else "absorbance"


def require_absorbance(spectrum: Spectrum, *, convert_transmittance: bool = False) -> Spectrum:
    """Return ``spectrum`` as absorbance, or raise InputError saying why it is not.

    Transmittance (declared by the file, or guessed by :func:`guess_kind` when it did not say)
    is converted with ``A = -log10(T)`` only when ``convert_transmittance`` is set
    (the CLI option ``--convert-transmittance``). Single-channel spectra are refused.
    """
    path = spectrum.source
    if spectrum.kind == "single_channel":
        raise InputError(path, "holds a single-channel spectrum, not absorbance; ratio it against a "
                               "reference (A = -log10(sample/reference)) first")
    if spectrum.kind == "absorbance":
        return spectrum
    reason = spectrum.metadata.get("kind_reason", "the file declares transmittance")
    percent = bool(spectrum.metadata.get("transmittance_percent", np.max(spectrum.values) > 1.5))
    if not convert_transmittance:
        raise InputError(path, f"holds transmittance, not absorbance ({reason}); rerun with "
                               "--convert-transmittance to use A = -log10(T)")
    t = spectrum.values / (100.0 if percent else 1.0)
    if np.any(t <= 0):
        i = int(np.flatnonzero(t <= 0)[0])
        raise InputError(path, f"transmittance <= 0 at {spectrum.wavenumber_cm1[i]:.6g} cm-1 cannot be "
                               "converted to absorbance")
    meta = dict(spectrum.metadata, converted_from="transmittance_percent" if percent else "transmittance")
    return replace(spectrum, values=-np.log10(t), kind="absorbance", metadata=meta)


