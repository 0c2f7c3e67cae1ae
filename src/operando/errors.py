"""The project's own error types.

Every malformed input is reported as one :class:`InputError` that names the file, the line
or field where the problem is, and what was expected. Code that reads user files raises it;
the CLI catches :class:`OperandoError` and prints the message without a traceback.
"""
from __future__ import annotations

from pathlib import Path


class OperandoError(Exception):
    """Base class of every error `operando` raises on purpose."""


class InputError(OperandoError, ValueError):
    """A user-supplied file or value is malformed.

    The message reads ``<file>: line <n>: field '<f>': <problem>`` with the parts that apply.
    """

    def __init__(self, path: str | Path | None, problem: str, *, line: int | None = None,
                 field: str | None = None):
        self.path = None if path is None else str(path)
        self.problem = problem
        self.line = line
        self.field = field
        parts = []
        if self.path is not None:
            parts.append(self.path)
        if line is not None:
            parts.append(f"line {line}")
        if field is not None:
            parts.append(f"field '{field}'")
        parts.append(problem)
        super().__init__(": ".join(parts))

    def __reduce__(self):
        # Rebuilt from its parts, so it survives pickling (a worker process reporting it).
        return _rebuild_input_error, (self.path, self.problem, self.line, self.field)


def _rebuild_input_error(path, problem, line, field) -> InputError:
    return InputError(path, problem, line=line, field=field)
