"""A tiny, fast, fully known operando IR dataset for the IR tests, and the benchmark scripts as modules."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

from operando.ir.data.experiment import Experiment, ExperimentMeta, GroundTruth

GRID = np.linspace(800.0, 2000.0, 601)


def _band(center, fwhm):
    return 1.0 / (1.0 + ((GRID - center) / (fwhm / 2)) ** 2)


def toy_meta(name: str, electrode: str = "Cu", ec: float = 0.5, protocol: str = "galvanostatic",
             molarity: float = 1.0) -> ExperimentMeta:
    solvents = [{"name": "EC", "smiles": "C1COC(=O)O1", "fraction": ec}]
    if ec < 1:
        solvents.append({"name": "DMC", "smiles": "COC(=O)OC", "fraction": round(1 - ec, 6)})
    return ExperimentMeta.from_dict({
        "name": name, "working_electrode": electrode, "counter_electrode": "Li", "protocol": protocol,
        "electrolyte": {"salt": {"name": "LiPF6", "smiles": "[Li+].F[P-](F)(F)(F)(F)F", "molarity": molarity},
                        "solvents": solvents, "fraction_basis": "weight"}})


def toy_experiment(name: str, n: int = 40, seed: int = 0, electrode: str = "Cu", ec: float = 0.5,
                   protocol: str = "galvanostatic", noise: float = 0.005) -> Experiment:
    """Solvent band decays and an SEI band grows as the voltage falls below 0.8 V."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) * 60.0
    v = np.linspace(3.0, 0.05, n)
    sei = np.cumsum(np.clip(0.8 - v, 0, None)) / n
    solvent = 1.0 - 0.5 * sei
    spectra = np.stack([_band(1775, 20), _band(1650, 30), _band(840, 25)])
    conc = np.column_stack([solvent * (0.5 + ec), sei, np.full(n, 0.8)])
    clean = conc @ spectra
    noisy = clean + noise * rng.standard_normal(clean.shape)
    truth = GroundTruth(clean, ["EC", "LEDC", "PF6-"], ["bulk", "sei", "bulk"], spectra, conc)
    return Experiment(toy_meta(name, electrode, ec, protocol), t, v, GRID.copy(), noisy.astype(np.float32),
                      current_ma=np.full(n, -0.1), truth=truth)


def load_benchmark(name: str):
    """The module of the script ``benchmarks/ir/<name>.py`` (not a package), to test its functions."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[2] / "benchmarks" / "ir" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
