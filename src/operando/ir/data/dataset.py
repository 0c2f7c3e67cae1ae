"""A collection of operando experiments and its HDF5 file (schema in docs/ir/hdf5.md).

Layout of ``data.h5``::

    /                          attrs: format="operando-ir", format_version=1, simulated, description
    /experiments/<name>/       attrs: meta (experiment.json as a JSON string)
        time_s (n,) float64, voltage_v (n,) float64, current_ma (n,) float64 [optional]
        wavenumber_cm1 (w,) float64 ascending, absorbance (n, w) float32
        truth/                 [simulated data only]
            noiseless (n, w) float32, component_spectra (k, w) float32,
            concentrations (n, k) float64; attrs: component_names, component_kinds (JSON lists)

Experiments keep the order in which they were added (the ``order`` attribute), so a
dataset written and read back is identical.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import h5py
import numpy as np

from operando.atomic import atomic_path
from operando.errors import InputError
from operando.files import open_hdf5
from operando.ir.data.experiment import Experiment, ExperimentMeta, GroundTruth

FORMAT_NAME = "operando-ir"
FORMAT_VERSION = 1


@dataclass
class OperandoDataset:
    """An ordered set of :class:`Experiment` objects, addressable by name."""

    experiments: list[Experiment] = field(default_factory=list)
    simulated: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        names = [e.name for e in self.experiments]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"experiment names must be unique, repeated: {duplicated}")

    def __len__(self) -> int:
        return len(self.experiments)

    def __iter__(self) -> Iterator[Experiment]:
        return iter(self.experiments)

    def __getitem__(self, name: str) -> Experiment:
        for e in self.experiments:
            if e.name == name:
                return e
        raise KeyError(f"no experiment named {name!r}; have {[e.name for e in self.experiments][:10]}...")

    @property
    def names(self) -> list[str]:
        return [e.name for e in self.experiments]

    @property
    def n_spectra(self) -> int:
        return sum(len(e) for e in self.experiments)

    def systems(self) -> dict[str, list[Experiment]]:
        """Experiments grouped by battery system, in order of first appearance."""
        out: dict[str, list[Experiment]] = {}
        for e in self.experiments:
            out.setdefault(e.system, []).append(e)
        return out

    def save(self, path: str | Path) -> Path:
        """Write the dataset to ``path`` (HDF5), atomically."""
        path = Path(path)
        with atomic_path(path) as tmp:
            with h5py.File(tmp, "w") as f:
                f.attrs["format"] = FORMAT_NAME
                f.attrs["format_version"] = FORMAT_VERSION
                f.attrs["simulated"] = bool(self.simulated)
                f.attrs["description"] = self.description
                root = f.create_group("experiments")
                for order, e in enumerate(self.experiments):
                    _write_experiment(root.create_group(e.name), e, order)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "OperandoDataset":
        """Read a dataset written by :meth:`save`; raise InputError on anything else."""
        path = Path(path)
        with open_hdf5(path) as f:
            if f.attrs.get("format") != FORMAT_NAME:
                raise InputError(path, f"not an operando-ir dataset (attribute format={f.attrs.get('format')!r})")
            version = int(f.attrs.get("format_version", -1))
            if version != FORMAT_VERSION:
                raise InputError(path, f"format_version {version} is not supported (expected {FORMAT_VERSION})")
            groups = sorted(f["experiments"].values(), key=lambda g: int(g.attrs["order"]))
            experiments = [_read_experiment(g, path) for g in groups]
            return cls(experiments, simulated=bool(f.attrs.get("simulated", False)),
                       description=str(f.attrs.get("description", "")))


def _write_experiment(g: h5py.Group, e: Experiment, order: int) -> None:
    g.attrs["order"] = order
    g.attrs["meta"] = e.meta.to_json()
    g.create_dataset("time_s", data=np.asarray(e.time_s, dtype=np.float64))
    g.create_dataset("voltage_v", data=np.asarray(e.voltage_v, dtype=np.float64))
    if e.current_ma is not None:
        g.create_dataset("current_ma", data=np.asarray(e.current_ma, dtype=np.float64))
    g.create_dataset("wavenumber_cm1", data=np.asarray(e.wavenumber_cm1, dtype=np.float64))
    g.create_dataset("absorbance", data=np.asarray(e.absorbance, dtype=np.float32))
    if e.truth is not None:
        t = g.create_group("truth")
        t.create_dataset("noiseless", data=np.asarray(e.truth.noiseless, dtype=np.float32))
        t.create_dataset("component_spectra", data=np.asarray(e.truth.component_spectra, dtype=np.float32))
        t.create_dataset("concentrations", data=np.asarray(e.truth.concentrations, dtype=np.float64))
        t.attrs["component_names"] = json.dumps(list(e.truth.component_names))
        t.attrs["component_kinds"] = json.dumps(list(e.truth.component_kinds))


def _read_experiment(g: h5py.Group, path: Path) -> Experiment:
    meta = ExperimentMeta.from_dict(json.loads(g.attrs["meta"]), f"{path}:{g.name}")
    truth = None
    if "truth" in g:
        t = g["truth"]
        truth = GroundTruth(noiseless=t["noiseless"][()], component_names=json.loads(t.attrs["component_names"]),
                            component_kinds=json.loads(t.attrs["component_kinds"]),
                            component_spectra=t["component_spectra"][()], concentrations=t["concentrations"][()])
    return Experiment(meta=meta, time_s=g["time_s"][()], voltage_v=g["voltage_v"][()],
                      wavenumber_cm1=g["wavenumber_cm1"][()], absorbance=g["absorbance"][()],
                      current_ma=g["current_ma"][()] if "current_ma" in g else None, truth=truth)
