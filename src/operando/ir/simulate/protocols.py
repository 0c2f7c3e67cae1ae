"""Cell-cycling programs: galvanostatic steps, rests and intermittent (GITT-like) pulse trains.

Sign convention (as stored in ``current_ma``): the current is that of the working electrode,
NEGATIVE while it is lithiated (reduced; the cell voltage falls) and POSITIVE while it is
delithiated (oxidised). Voltages are of the working electrode vs the Li counter/reference
electrode [V vs Li/Li+]; limits are cell voltages, as a potentiostat applies them.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConstantCurrent:
    """Hold ``current_ma`` until the cell voltage crosses ``limit_v`` (below it for a negative
    current, above it for a positive one) or ``max_duration_s`` passes (``limit_v=None``: only
    the duration ends the step)."""

    current_ma: float
    limit_v: float | None
    max_duration_s: float


@dataclass(frozen=True)
class Rest:
    """Open circuit (zero current) for ``duration_s``."""

    duration_s: float


@dataclass(frozen=True)
class PulseTrain:
    """Intermittent titration: pulses of ``current_ma`` for ``pulse_s`` separated by rests of
    ``rest_s``, until a pulse reaches ``limit_v`` (that pulse stops there and is followed by one
    last rest) or ``max_duration_s`` passes."""

    current_ma: float
    pulse_s: float
    rest_s: float
    limit_v: float
    max_duration_s: float


Step = ConstantCurrent | Rest | PulseTrain


def voltage_crossed(voltage_v: float, current_ma: float, limit_v: float | None) -> bool:
    """Whether a step with ``current_ma`` has reached its voltage limit."""
    if limit_v is None or current_ma == 0:
        return False
    return voltage_v <= limit_v if current_ma < 0 else voltage_v >= limit_v


class ProgramRunner:
    """Feeds the applied current step by step and ends steps on their limits.

    Call :meth:`current` for the current of the next time step, then :meth:`advance` with the
    step length and the voltage reached. ``done`` turns True after the last step.
    """

    def __init__(self, steps: list[Step]):
        self.steps = list(steps)
        self.index = 0
        self.elapsed_s = 0.0  # in the current step
        self.phase_elapsed_s = 0.0  # in the current pulse or rest of a pulse train
        self.pulsing = True
        self.final_rest = False

    @property
    def done(self) -> bool:
        return self.index >= len(self.steps)

    def current(self) -> float:
        step = self.steps[self.index]
        if isinstance(step, Rest):
            return 0.0
        if isinstance(step, ConstantCurrent):
            return step.current_ma
        return step.current_ma if (self.pulsing and not self.final_rest) else 0.0

    def _next_step(self) -> None:
        self.index += 1
        self.elapsed_s = 0.0
        self.phase_elapsed_s = 0.0
        self.pulsing = True
        self.final_rest = False

    def advance(self, dt_s: float, voltage_v: float) -> None:
        step = self.steps[self.index]
        self.elapsed_s += dt_s
        if isinstance(step, Rest):
            if self.elapsed_s >= step.duration_s - 1e-9:
                self._next_step()
        elif isinstance(step, ConstantCurrent):
            if voltage_crossed(voltage_v, step.current_ma, step.limit_v) or \
                    self.elapsed_s >= step.max_duration_s - 1e-9:
                self._next_step()
        else:
            self.phase_elapsed_s += dt_s
            if self.final_rest:
                if self.phase_elapsed_s >= step.rest_s - 1e-9:
                    self._next_step()
            elif self.pulsing:
                if voltage_crossed(voltage_v, step.current_ma, step.limit_v) or \
                        self.elapsed_s >= step.max_duration_s - 1e-9:
                    self.final_rest, self.phase_elapsed_s = True, 0.0
                elif self.phase_elapsed_s >= step.pulse_s - 1e-9:
                    self.pulsing, self.phase_elapsed_s = False, 0.0
            elif self.phase_elapsed_s >= step.rest_s - 1e-9:
                self.pulsing, self.phase_elapsed_s = True, 0.0
