"""The OpIRBench task and the one interface every model implements.

Task: given the first spectrum s_v0 of an experiment, its cell record (electrodes,
electrolyte, protocol) and the voltage/current history up to step m, predict the spectrum
s_vm on the preprocessed 800-2000 cm-1 grid.

A model is a :class:`Forecaster`: ``fit`` sees the training experiments with every spectrum
that is not a training target replaced by NaN (so leakage is impossible, not just
discouraged), and ``predict`` sees one experiment with only its first spectrum visible.
"""
from __future__ import annotations

import dataclasses
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from operando.ir.data.experiment import Experiment


@runtime_checkable
class Forecaster(Protocol):
    """What `operando ir bench` needs from a model."""

    name: str

    def fit(self, train: Sequence[Experiment]) -> None:
        """Learn from experiments whose absorbance rows are NaN where not a training target.

        Row 0 (the reference spectrum s_v0) is always visible.
        """

    def predict(self, context: Experiment, steps: np.ndarray) -> np.ndarray:
        """Forecast spectra at ``steps`` (k,) of ``context``: (k, n_wavenumbers).

        ``context.absorbance`` holds s_v0 in row 0 and NaN elsewhere; time, voltage and current
        of every step are given (a model must only use those up to each query step).
        """


def masked(e: Experiment, visible: np.ndarray) -> Experiment:
    """Copy of ``e`` with absorbance rows outside ``visible`` (and row 0 always kept) set to NaN
    and the ground truth dropped."""
    keep = np.zeros(len(e), dtype=bool)
    keep[np.asarray(visible, dtype=np.int64)] = True
    keep[0] = True
    absorbance = np.where(keep[:, None], e.absorbance, np.nan).astype(np.float32)
    return dataclasses.replace(e, absorbance=absorbance, truth=None)


def training_rows(e: Experiment) -> np.ndarray:
    """Indices of the visible (non-NaN) spectra of a masked experiment."""
    return np.flatnonzero(~np.isnan(e.absorbance).any(axis=1))


def hold_out_spectra(train: Sequence[Experiment], share: float, seed: int
                     ) -> tuple[list[Experiment], list[tuple[Experiment, np.ndarray]]]:
    """Hold a seeded ``share`` of the visible training spectra (never row 0) out of ``train``.

    Returns the training experiments without them, and ``(experiment, held steps)`` pairs
    whose experiment still shows them (for calibrating on data the model never fitted).
    """
    if not 0.0 < share < 1.0:
        raise ValueError(f"share must be in (0, 1), got {share!r}")
    candidates = [(i, int(r)) for i, e in enumerate(train) for r in training_rows(e) if r != 0]
    n_held = int(round(share * len(candidates)))
    if n_held == 0:
        raise ValueError(f"holding out {share:.0%} of {len(candidates)} training spectra leaves none to hold out")
    chosen = np.random.default_rng(seed).choice(len(candidates), size=n_held, replace=False)
    held: dict[int, list[int]] = {}
    for k in sorted(chosen):
        i, r = candidates[k]
        held.setdefault(i, []).append(r)
    kept = [e if i not in held else masked(e, np.setdiff1d(training_rows(e), held[i])) for i, e in enumerate(train)]
    return kept, [(train[i], np.array(rows, dtype=np.int64)) for i, rows in held.items()]


def system_folds(train: Sequence[Experiment], n_folds: int, seed: int) -> list[list[str]]:
    """The battery systems of ``train`` dealt into ``min(n_folds, n_systems)`` seeded folds
    (sorted names, shuffled, dealt round-robin), for calibrating on systems a model never saw.

    Every system lies in exactly one fold; raises ValueError with fewer than 2 systems.
    """
    systems = sorted({e.system for e in train})
    if n_folds < 2:
        raise ValueError(f"need at least 2 folds, got {n_folds!r}")
    if len(systems) < 2:
        raise ValueError(f"holding out whole systems needs at least 2 training systems; got {systems}")
    order = np.random.default_rng(seed).permutation(len(systems))
    k = min(n_folds, len(systems))
    return [sorted(systems[i] for i in order[f::k]) for f in range(k)]


def spaced_rows(e: Experiment, at_most: int) -> np.ndarray:
    """Up to ``at_most`` visible rows of ``e`` other than row 0, evenly spaced over the sequence."""
    rows = training_rows(e)
    rows = rows[rows != 0]
    if len(rows) <= at_most:
        return rows
    return rows[np.unique(np.round(np.linspace(0, len(rows) - 1, at_most)).astype(int))]
