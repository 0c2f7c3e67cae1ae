"""Placing measurements on the electrochemistry log's clock.

A spectrum or image frame acquired at ``acquired_at`` sits at
``t = acquired_at - log.started_at + time_offset_s`` seconds of the log (both timezone-aware;
naive instrument times were localised by the readers). The voltage and current there are linear
interpolations of the log; a measurement outside the log's span is refused, naming each one.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Sequence

import numpy as np

from operando.echem.eclab import EchemLog
from operando.errors import InputError


def times_on_log_clock(acquired_at: Sequence[datetime], log: EchemLog, time_offset_s: float = 0.0) -> np.ndarray:
    """Seconds on the log's clock for each acquisition time, shape (n,)."""
    if log.started_at is None:
        if log.metadata.get("format") == "csv":
            raise InputError(log.source, "the CSV log has no start time, so measurements cannot be placed on its "
                                         "clock: add a comment line such as "
                                         "'# started_at: 2024-05-01T10:00:00+02:00' above the header")
        raise InputError(log.source, "the electrochemistry log has no start time ('Acquisition started on'), "
                                     "so measurements cannot be placed on its clock")
    return np.array([(moment - log.started_at).total_seconds() + time_offset_s for moment in acquired_at])


def interpolate_log(log: EchemLog, times_s: np.ndarray, names: Sequence[str], what: str = "spectra"
                    ) -> tuple[np.ndarray, np.ndarray | None]:
    """Voltage (n,) and current (n,) or None at ``times_s``; refuses times outside the log,
    naming the measurements (``names``, one per time; ``what`` they are, in the message)."""
    t0, t1 = log.span_s
    outside = [i for i, t in enumerate(times_s) if not t0 <= t <= t1]
    if outside:
        start = log.started_at
        span = (f"{t0:.1f} .. {t1:.1f} s, i.e. {(start + timedelta(seconds=t0)).isoformat()} .. "
                f"{(start + timedelta(seconds=t1)).isoformat()}")
        detail = name_list([f"{names[i]} (t = {times_s[i]:.1f} s)" for i in outside])
        raise InputError(log.source, f"{len(outside)} of {len(names)} {what} fall outside the electrochemistry "
                                     f"log ({span}): {detail}; check --time-offset and --timezone")
    voltage = np.interp(times_s, log.time_s, log.voltage_v)
    current = None if log.current_ma is None else np.interp(times_s, log.time_s, log.current_ma)
    return voltage, current


def name_list(names: list[str], limit: int = 5) -> str:
    """The first ``limit`` names, and how many more."""
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
