"""OpIRBench splits (Appendix C of arXiv 2602.18551), seeded and saved as index files.

* ``random``: spectrum-level split, 10 % of the spectra (rounded down: 711 of 7,118) are test
  targets, drawn with a seeded generator from all spectra except each experiment's first one
  (the first spectrum s_v0 is the model's input, so predicting it says nothing).
* ``system``: whole battery systems are held out: by default the intermittent CoO/SuperP cell
  and the Cu|1.2 M LiPF6 in EC|Li cell (1,322 spectra, every one of them a test target); no
  experiment and no electrode/electrolyte condition appears on both sides.

A split is a table of ``(experiment, step, subset)`` rows; :func:`save_split` writes it as CSV
(``experiment,step,subset``) so that every model is scored on the same spectra, and
:func:`load_split` checks it against the dataset it is used with.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from operando.atomic import atomic_path
from operando.errors import InputError
from operando.ir.data.dataset import OperandoDataset

SPLITS = ("random", "system")
RANDOM_TEST_FRACTION = 0.1
SYSTEM_SPLIT_HELD_OUT = (
    "intermittent CoO/SuperP (90/10)|1 M LiPF6 in EC:DMC (1:1 w/w)|Li",
    "Cu|1.2 M LiPF6 in EC|Li",
)


@dataclass(frozen=True)
class Split:
    """Which spectra are training targets and which are test targets.

    ``train`` and ``test`` map experiment name -> sorted step indices (int arrays).
    """

    name: str
    seed: int
    train: dict[str, np.ndarray]
    test: dict[str, np.ndarray]

    @property
    def n_train(self) -> int:
        return int(sum(len(v) for v in self.train.values()))

    @property
    def n_test(self) -> int:
        return int(sum(len(v) for v in self.test.values()))

    def to_frame(self) -> pd.DataFrame:
        rows = [(name, int(i), subset) for subset, part in (("train", self.train), ("test", self.test))
                for name, idx in part.items() for i in idx]
        return pd.DataFrame(rows, columns=["experiment", "step", "subset"])


def dataset_fingerprint(ds: OperandoDataset) -> str:
    """Short hash of experiment names and lengths: a split only fits the dataset it was made for."""
    h = hashlib.sha256()
    for e in ds:
        h.update(f"{e.name}:{len(e)};".encode())
    return h.hexdigest()[:16]


def make_split(ds: OperandoDataset, name: str, seed: int = 0,
               held_out_systems: tuple[str, ...] = SYSTEM_SPLIT_HELD_OUT) -> Split:
    """Build the ``random`` or ``system`` split of ``ds`` (deterministic for a seed)."""
    if name == "random":
        return _random_split(ds, seed)
    if name == "system":
        return _system_split(ds, held_out_systems, seed)
    raise InputError(None, f"unknown split {name!r}; expected one of {SPLITS}")


def _random_split(ds: OperandoDataset, seed: int) -> Split:
    n_test = int(np.floor(RANDOM_TEST_FRACTION * ds.n_spectra))
    candidates = [(e.name, i) for e in ds for i in range(1, len(e))]
    rng = np.random.default_rng(seed)
    chosen = set(map(int, rng.choice(len(candidates), size=n_test, replace=False)))
    test: dict[str, list[int]] = {}
    for k in sorted(chosen):
        test.setdefault(candidates[k][0], []).append(candidates[k][1])
    train = {}
    for e in ds:
        held = set(test.get(e.name, ()))
        train[e.name] = np.array([i for i in range(len(e)) if i not in held], dtype=np.int64)
    return Split("random", seed, train, {k: np.array(v, dtype=np.int64) for k, v in test.items()})


def _system_split(ds: OperandoDataset, held_out: tuple[str, ...], seed: int) -> Split:
    systems = ds.systems()
    missing = [s for s in held_out if s not in systems]
    if missing:
        raise InputError(None, f"system split: held-out systems {missing} are not in the dataset; "
                         f"it has {sorted(systems)}")
    train, test = {}, {}
    for e in ds:
        target = test if e.system in held_out else train
        target[e.name] = np.arange(len(e), dtype=np.int64)
    return Split("system", seed, train, test)


def save_split(split: Split, ds: OperandoDataset, path: str | Path) -> Path:
    """Write the split as CSV with a ``# fingerprint=...`` first line; atomic."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(f"# split={split.name} seed={split.seed} fingerprint={dataset_fingerprint(ds)}\n")
            split.to_frame().to_csv(f, index=False)
    return path


def load_split(path: str | Path, ds: OperandoDataset) -> Split:
    """Read a split written by :func:`save_split`; refuse it if it was made for another dataset."""
    path = Path(path)
    try:
        header = path.read_text(encoding="utf-8").splitlines()[0]
        fields = dict(part.split("=", 1) for part in header.lstrip("# ").split())
        frame = pd.read_csv(path, comment="#")
    except (OSError, ValueError, IndexError) as e:
        raise InputError(path, f"not a split file ({e})") from None
    if fields.get("fingerprint") != dataset_fingerprint(ds):
        raise InputError(path, "this split was made for another dataset (fingerprint differs); "
                         "delete it to make a new one")
    parts: dict[str, dict[str, np.ndarray]] = {"train": {}, "test": {}}
    for (subset, name), g in frame.groupby(["subset", "experiment"], sort=False):
        parts[subset][name] = np.sort(g["step"].to_numpy(dtype=np.int64))
    return Split(fields["split"], int(fields["seed"]), parts["train"], parts["test"])


def get_split(ds: OperandoDataset, name: str, folder: str | Path, seed: int = 0) -> Split:
    """Load ``folder/<name>.csv`` if present, else make the split and save it there."""
    path = Path(folder) / f"{name}.csv"
    if path.exists():
        split = load_split(path, ds)
        if split.seed == seed:
            return split
    split = make_split(ds, name, seed)
    save_split(split, ds, path)
    return split
