"""Cell metadata (`experiment.json`) and the in-memory operando experiment.

``experiment.json`` describes one cell::

    {"name": "...", "working_electrode": "Cu", "counter_electrode": "Li",
     "protocol": "galvanostatic" | "intermittent" | ...,
     "electrolyte": {"salt": {"name": "LiPF6", "smiles": "[Li+].F[P-](F)(F)(F)(F)F", "molarity": 1.0},
                     "solvents": [{"name": "EC", "smiles": "C1COC(=O)O1", "fraction": 0.5}, ...],
                     "fraction_basis": "volume" | "weight",
                     "additives": [{"name": "VC", "smiles": "C1=COC(=O)O1", "weight_percent": 2.0}]}}

:func:`ExperimentMeta.from_dict` validates it and raises one :class:`InputError` naming the
file and field for anything missing, of the wrong type, or out of range (fractions must sum
to 1 within 1e-3). Every SMILES is checked here, once, for every model: it must parse with the
project's own parser and, when RDKit is installed, with RDKit
(:func:`operando.ir.chem.fingerprints.check_smiles`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from operando.errors import InputError

FRACTION_TOLERANCE = 1e-3
FRACTION_BASES = ("volume", "weight")


def _get(d: dict, key: str, kind: type | tuple[type, ...], path, where: str):
    """Return ``d[key]`` checked against ``kind``; raise InputError naming ``where.key``."""
    name = f"{where}.{key}" if where else key
    if not isinstance(d, dict):
        raise InputError(path, f"expected a JSON object, got {type(d).__name__}", field=where or "<root>")
    if key not in d:
        raise InputError(path, "missing required field", field=name)
    value = d[key]
    # bool is an int in Python; a molarity of `true` is still wrong.
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise InputError(path, f"expected {_kind_name(kind)}, got a boolean", field=name)
    if not isinstance(value, kind):
        raise InputError(path, f"expected {_kind_name(kind)}, got {type(value).__name__} {value!r}",
                         field=name)
    return value


def _kind_name(kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "a string", int: "a number", float: "a number", list: "a list", dict: "an object"}
    return " or ".join(dict.fromkeys(names.get(k, k.__name__) for k in kinds))


def _smiles(d, path, where) -> str:
    """``d["smiles"]``, checked to be a SMILES every model reads; InputError naming file and field."""
    from operando.ir.chem.fingerprints import check_smiles

    value = _get(d, "smiles", str, path, where)
    try:
        check_smiles(value)
    except InputError as e:
        raise InputError(path, e.problem, field=f"{where}.smiles") from None
    return value


def _number(d, key, path, where, *, minimum: float = 0.0) -> float:
    value = float(_get(d, key, (int, float), path, where))
    if not np.isfinite(value) or value < minimum:
        raise InputError(path, f"expected a finite number >= {minimum}, got {value!r}", field=f"{where}.{key}")
    return value


@dataclass(frozen=True)
class Component:
    """A named molecule of the electrolyte (salt, solvent or additive)."""

    name: str
    smiles: str
    amount: float  # molarity [mol/L] for a salt, fraction for a solvent, weight percent for an additive


def _ratio(fractions) -> str:
    """``0.5, 0.5 -> '1:1'``; fractions that are no small-integer ratio stay as they are."""
    f = [float(x) for x in fractions]
    smallest = min(x for x in f if x > 0)
    scaled = [x / smallest for x in f]
    if all(abs(x - round(x)) < 1e-6 and round(x) <= 20 for x in scaled):
        return ":".join(str(round(x)) for x in scaled)
    return ":".join(f"{x:g}" for x in f)


@dataclass(frozen=True)
class Electrolyte:
    salt: Component
    solvents: tuple[Component, ...]
    fraction_basis: str = "weight"
    additives: tuple[Component, ...] = ()

    @property
    def label(self) -> str:
        """Human-readable recipe, e.g. ``1 M LiPF6 in EC:DMC (1:1 w/w) + 2% VC``."""
        names = ":".join(s.name for s in self.solvents)
        if len(self.solvents) > 1:
            basis = "w/w" if self.fraction_basis == "weight" else "v/v"
            names += f" ({_ratio(s.amount for s in self.solvents)} {basis})"
        text = f"{self.salt.amount:g} M {self.salt.name} in {names}"
        for a in self.additives:
            text += f" + {a.amount:g}% {a.name}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "salt": {"name": self.salt.name, "smiles": self.salt.smiles, "molarity": self.salt.amount},
            "solvents": [{"name": s.name, "smiles": s.smiles, "fraction": s.amount} for s in self.solvents],
            "fraction_basis": self.fraction_basis,
            "additives": [{"name": a.name, "smiles": a.smiles, "weight_percent": a.amount}
                          for a in self.additives],
        }

    @classmethod
    def from_dict(cls, d: Any, path: str | Path | None = None) -> "Electrolyte":
        w = "electrolyte"
        salt_d = _get(d, "salt", dict, path, w)
        salt = Component(_get(salt_d, "name", str, path, f"{w}.salt"),
                         _smiles(salt_d, path, f"{w}.salt"),
                         _number(salt_d, "molarity", path, f"{w}.salt"))
        solvents_l = _get(d, "solvents", list, path, w)
        if not solvents_l:
            raise InputError(path, "at least one solvent is required", field=f"{w}.solvents")
        solvents = []
        for i, s in enumerate(solvents_l):
            where = f"{w}.solvents[{i}]"
            solvents.append(Component(_get(s, "name", str, path, where), _smiles(s, path, where),
                                      _number(s, "fraction", path, where)))
        total = sum(s.amount for s in solvents)
        if abs(total - 1.0) > FRACTION_TOLERANCE:
            raise InputError(path, f"solvent fractions must sum to 1, they sum to {total:g}",
                             field=f"{w}.solvents")
        basis = d.get("fraction_basis", "weight") if isinstance(d, dict) else "weight"
        if basis not in FRACTION_BASES:
            raise InputError(path, f"expected one of {FRACTION_BASES}, got {basis!r}", field=f"{w}.fraction_basis")
        additives = []
        for i, a in enumerate(d.get("additives", []) or []):
            where = f"{w}.additives[{i}]"
            additives.append(Component(_get(a, "name", str, path, where), _smiles(a, path, where),
                                       _number(a, "weight_percent", path, where)))
        return cls(salt, tuple(solvents), basis, tuple(additives))


@dataclass(frozen=True)
class ExperimentMeta:
    """Contents of ``experiment.json``: which cell, which electrolyte, which protocol."""

    name: str
    working_electrode: str
    counter_electrode: str
    protocol: str
    electrolyte: Electrolyte
    extra: dict = field(default_factory=dict, compare=False)  # unknown keys, kept for round trips

    @property
    def system(self) -> str:
        """The battery-system label used for splits, e.g. ``Cu|1 M LiPF6 in EC|Li``.

        Intermittent protocols are a system of their own (as in the paper's list of ten). An
        explicit ``"system"`` key in experiment.json overrides the derived label.
        """
        if isinstance(self.extra.get("system"), str):
            return self.extra["system"]
        prefix = "" if self.protocol == "galvanostatic" else f"{self.protocol} "
        return f"{prefix}{self.working_electrode}|{self.electrolyte.label}|{self.counter_electrode}"

    def to_dict(self) -> dict[str, Any]:
        d = {"name": self.name, "working_electrode": self.working_electrode,
             "counter_electrode": self.counter_electrode, "protocol": self.protocol,
             "electrolyte": self.electrolyte.to_dict()}
        d.update(self.extra)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, d: Any, path: str | Path | None = None) -> "ExperimentMeta":
        known = ("name", "working_electrode", "counter_electrode", "protocol")
        values = {k: _get(d, k, str, path, "") for k in known}
        for k, v in values.items():
            if not v.strip():
                raise InputError(path, "must not be empty", field=k)
        electrolyte = Electrolyte.from_dict(_get(d, "electrolyte", dict, path, ""), path)
        extra = {k: v for k, v in d.items() if k not in known + ("electrolyte",)}
        return cls(**values, electrolyte=electrolyte, extra=extra)

    @classmethod
    def from_json_file(cls, path: str | Path) -> "ExperimentMeta":
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(path, "file not found") from None
        except UnicodeDecodeError as e:
            raise InputError(path, f"not UTF-8 text ({e.reason})") from None
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError(path, f"invalid JSON: {e.msg}", line=e.lineno) from None
        return cls.from_dict(d, path)


@dataclass
class GroundTruth:
    """What the simulator knows and a measurement does not (absent for real data).

    Shapes: ``noiseless`` (n_spectra, n_wavenumbers): the spectrum before white noise;
    ``component_spectra`` (n_components, n_wavenumbers): unit-concentration spectrum of each
    species; ``concentrations`` (n_spectra, n_components): each species' amount over time.
    """

    noiseless: np.ndarray
    component_names: list[str]
    component_kinds: list[str]  # "bulk" | "sei" | "polarisation" ...
    component_spectra: np.ndarray
    concentrations: np.ndarray


@dataclass
class Experiment:
    """One operando experiment: a time-ordered sequence of IR spectra with its cell data.

    Shapes: ``time_s``, ``voltage_v``, ``current_ma`` (n_spectra,); ``wavenumber_cm1``
    (n_wavenumbers,) strictly ascending; ``absorbance`` (n_spectra, n_wavenumbers).
    """

    meta: ExperimentMeta
    time_s: np.ndarray
    voltage_v: np.ndarray
    wavenumber_cm1: np.ndarray
    absorbance: np.ndarray
    current_ma: np.ndarray | None = None
    truth: GroundTruth | None = None

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def system(self) -> str:
        return self.meta.system

    def __len__(self) -> int:
        return int(self.absorbance.shape[0])

    def __post_init__(self) -> None:
        n, w = self.absorbance.shape
        for attr in ("time_s", "voltage_v") + (("current_ma",) if self.current_ma is not None else ()):
            if len(getattr(self, attr)) != n:
                raise ValueError(f"experiment {self.name!r}: {attr} has {len(getattr(self, attr))} "
                                 f"entries for {n} spectra")
        if len(self.wavenumber_cm1) != w:
            raise ValueError(f"experiment {self.name!r}: {len(self.wavenumber_cm1)} wavenumbers "
                             f"for spectra of width {w}")
        if w > 1 and not np.all(np.diff(self.wavenumber_cm1) > 0):
            raise ValueError(f"experiment {self.name!r}: wavenumber axis must be strictly ascending "
                             "(flip descending data when reading it)")
