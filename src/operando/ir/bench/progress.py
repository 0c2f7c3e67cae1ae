"""A progress bar per model while OpIRBench scores it, showing the phase it is in.

``fit`` (one unit; the elapsed time keeps counting while the model trains), ``predict`` (one
unit per test experiment), ``score`` (one unit) and, for models that sample, ``coverage`` (one
unit per test experiment). The bar goes to stderr and is cleared when the model is done (the
suite then prints its summary line).
"""
from __future__ import annotations

import contextlib
import threading
from typing import Iterator

from tqdm.auto import tqdm


class PhaseBar:
    """One model's bar: ``phase(name)`` switches the shown phase, ``advance()`` counts a unit."""

    def __init__(self, model: str, total: int, *, enabled: bool = True):
        self.model = model
        self.bar = tqdm(total=total, desc=f"{model} [start]", leave=False, disable=not enabled,
                        dynamic_ncols=True, mininterval=0.5, bar_format="{desc} {n_fmt}/{total_fmt} |{bar}| {elapsed}")

    def phase(self, name: str) -> None:
        self.bar.set_description_str(f"{self.model} [{name}]", refresh=True)

    def advance(self, n: int = 1) -> None:
        self.bar.update(n)

    def each(self, items):
        """Yield ``items``, counting a unit after each."""
        for item in items:
            yield item
            self.advance()

    @contextlib.contextmanager
    def ticking(self, every_s: float = 1.0) -> Iterator[None]:
        """Refresh the bar (its elapsed time) every ``every_s`` while the block runs, e.g. a fit."""
        stop = threading.Event()

        def tick():
            while not stop.wait(every_s):
                self.bar.refresh()

        thread = threading.Thread(target=tick, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def close(self) -> None:
        self.bar.close()
