"""The ten battery systems of OpIRSpec-7K-sim and their split into cells (experiments).

Spectrum counts per system are those of the paper's OpIRSpec-7K (arXiv:2602.18551), 7,118 in
all. Large systems are split into 2-7 cells of 210-340 spectra; each cell has its own protocol
variant (currents, cut-off voltages, plating time, pulse lengths) and its own random physical
parameters (:func:`cell_parameters`). The three 14-spectrum systems are one short Cu discharge
each, sampled at 14 voltages.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from operando.ir.simulate.cell import CellParameters
from operando.ir.simulate.chemistry import SALT_SMILES, SEI_COMPONENTS, SOLVENT_DATA
from operando.ir.simulate.protocols import ConstantCurrent, PulseTrain, Rest, Step

HOUR_S = 3600.0


def electrolyte_dict(molarity: float, solvents: dict[str, float],
                    additives: dict[str, float] | None = None) -> dict:
    """experiment.json ``electrolyte`` object (weight basis)."""
    return {"salt": {"name": "LiPF6", "smiles": SALT_SMILES, "molarity": molarity},
            "solvents": [{"name": k, "smiles": SOLVENT_DATA[k][0], "fraction": v} for k, v in solvents.items()],
            "fraction_basis": "weight",
            "additives": [{"name": k, "smiles": SOLVENT_DATA[k][0], "weight_percent": v}
                          for k, v in (additives or {}).items()]}


@dataclass(frozen=True)
class SystemSpec:
    """One battery system: label, electrode model key, protocol, electrolyte, cells.

    ``cell_sizes``: spectra per cell (their sum is the system's count). ``sampling``:
    "uniform" (spectra evenly spaced in time) or "voltage_levels" (one spectrum as the voltage
    first reaches each of :data:`VOLTAGE_LEVELS_V`).
    """

    label: str
    slug: str
    electrode: str
    working_electrode: str
    protocol: str
    electrolyte: dict
    cell_sizes: tuple[int, ...]
    nominal_current_ma: float
    time_step_s: float
    sampling: str = "uniform"

    @property
    def n_spectra(self) -> int:
        return sum(self.cell_sizes)


EC_DMC = {"EC": 0.5, "DMC": 0.5}
SYSTEMS: tuple[SystemSpec, ...] = (
    SystemSpec("Cu|1 M LiPF6 in DMC|Li", "cu-dmc", "Cu", "Cu", "galvanostatic",
               electrolyte_dict(1.0, {"DMC": 1.0}), (240, 231, 222), 0.06, 6.0),
    SystemSpec("LTO|1 M LiPF6 in EC:DMC (1:1 w/w)|Li", "lto-ecdmc", "LTO", "LTO", "galvanostatic",
               electrolyte_dict(1.0, EC_DMC), (230, 221, 210), 0.05, 20.0),
    SystemSpec("Cu|1 M LiPF6 in EC:DMC (1:1 w/w)|Li", "cu-ecdmc", "Cu", "Cu", "galvanostatic",
               electrolyte_dict(1.0, EC_DMC), (260, 250, 239), 0.06, 6.0),
    SystemSpec("Sn|1 M LiPF6 in EC:DMC (1:1 w/w)|Li", "sn-ecdmc", "Sn", "Sn", "galvanostatic",
               electrolyte_dict(1.0, EC_DMC), (270, 257, 240), 0.05, 20.0),
    SystemSpec("intermittent LTO/SuperP (90/10)|1 M LiPF6 in EC:DMC (1:1 w/w)|Li", "lto-superp-gitt",
               "LTO/SuperP", "LTO/SuperP (90/10)", "intermittent", electrolyte_dict(1.0, EC_DMC),
               (340, 336, 330, 326, 322, 318, 314), 0.10, 30.0),
    SystemSpec("Cu|1 M LiPF6 in EC:DMC (1:1 w/w) + 2% VC|Li", "cu-ecdmc-vc", "Cu", "Cu", "galvanostatic",
               electrolyte_dict(1.0, EC_DMC, {"VC": 2.0}), (312, 300), 0.06, 6.0),
    SystemSpec("Cu|1 M LiPF6 in EMC|Li", "cu-emc", "Cu", "Cu", "galvanostatic",
               electrolyte_dict(1.0, {"EMC": 1.0}), (14,), 0.06, 6.0, sampling="voltage_levels"),
    SystemSpec("Cu|1 M LiPF6 in 0.3 EC + 0.7 EMC|Li", "cu-ec3emc7", "Cu", "Cu", "galvanostatic",
               electrolyte_dict(1.0, {"EC": 0.3, "EMC": 0.7}), (14,), 0.06, 6.0, sampling="voltage_levels"),
    SystemSpec("intermittent CoO/SuperP (90/10)|1 M LiPF6 in EC:DMC (1:1 w/w)|Li", "coo-superp-gitt",
               "CoO/SuperP", "CoO/SuperP (90/10)", "intermittent", electrolyte_dict(1.0, EC_DMC),
               (336, 330, 324, 318), 0.10, 30.0),
    SystemSpec("Cu|1.2 M LiPF6 in EC|Li", "cu-ec", "Cu", "Cu", "galvanostatic",
               electrolyte_dict(1.2, {"EC": 1.0}), (14,), 0.06, 6.0, sampling="voltage_levels"),
)
SYSTEM_COUNTS: dict[str, int] = {s.label: s.n_spectra for s in SYSTEMS}
TOTAL_SPECTRA = sum(SYSTEM_COUNTS.values())  # 7,118
VOLTAGE_LEVELS_V = (2.5, 2.0, 1.6, 1.4, 1.2, 1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.3, 0.05)  # + open circuit


@dataclass(frozen=True)
class CellSpec:
    """One experiment to simulate: its system, index within the system and spectrum count."""

    system: SystemSpec
    index: int  # 0-based within the system
    n_spectra: int

    @property
    def name(self) -> str:
        return f"{self.system.slug}-{self.index + 1}"


def all_cells(systems: list[str] | None = None, experiments: list[str] | None = None) -> list[CellSpec]:
    """Cells of the dataset, optionally only those of the given system labels / experiment names."""
    cells = [CellSpec(s, i, n) for s in SYSTEMS for i, n in enumerate(s.cell_sizes)]
    if systems is not None:
        unknown = set(systems) - {s.label for s in SYSTEMS}
        if unknown:
            raise KeyError(f"unknown systems {sorted(unknown)}")
        cells = [c for c in cells if c.system.label in systems]
    if experiments is not None:
        unknown = set(experiments) - {c.name for c in all_cells()}
        if unknown:
            raise KeyError(f"unknown experiments {sorted(unknown)}")
        cells = [c for c in cells if c.name in experiments]
    return cells


def cell_rng(seed: int, name: str) -> np.random.Generator:
    """The cell's own random stream: depends on the seed and the cell name only, so a cell is
    the same whether it is simulated alone or with the whole dataset."""
    return np.random.default_rng([int(seed), zlib.crc32(name.encode("utf-8"))])


CONTACT_DRIFT_SD = 0.025  # sd of the contact gain's relative change over an experiment


@dataclass(frozen=True)
class CellVariation:
    """Random per-cell settings: physics (:class:`CellParameters`), current scale, ATR gain,
    baseline drift coefficients."""

    physics: CellParameters
    current_scale: float
    atr_gain: float
    baseline: tuple[float, ...]  # offset0, offset_drift, slope0, slope_drift, wobble, period_frac, phase
    contact_drift: float = 0.0  # relative change of the ATR contact gain over the experiment


def cell_variation(cell: CellSpec, rng: np.random.Generator) -> CellVariation:
    """Draw the cell's random settings (always the same number of draws, in the same order)."""
    rate_scale = {p: float(np.exp(0.25 * rng.standard_normal())) for p in SEI_COMPONENTS}
    passivation = 0.20 * float(np.exp(0.15 * rng.standard_normal()))
    resistance = float(rng.uniform(0.2, 0.6))
    charge_transfer = float(rng.uniform(0.05, 0.15))
    tau = float(rng.uniform(150.0, 420.0))
    depletion_at_nominal = float(rng.uniform(0.08, 0.18))
    capacity_scale = float(rng.uniform(0.9, 1.1))
    sei_charge_scale = float(rng.uniform(0.85, 1.15))
    plating = float(rng.uniform(0.01, 0.03))
    surface = float(rng.uniform(0.7, 1.3)) * (1e-6 if cell.system.electrode.startswith("LTO") else 0.0)
    current_scale = float(rng.uniform(0.85, 1.15))
    gain = float(rng.uniform(0.85, 1.15))
    # Drift of a real cell (docs/ir/simulator.md, "Baseline, drift and noise"): offsets and tilts of
    # a few 0.01 A and a contact gain changing by a few per cent over the run.
    base = (float(rng.normal(0.0, 0.01)), float(rng.normal(0.0, 0.03)), float(rng.normal(0.0, 0.008)),
            float(rng.normal(0.0, 0.01)), float(abs(rng.normal(0.0, 0.002))), float(rng.uniform(0.3, 1.0)),
            float(rng.uniform(0.0, 2 * np.pi)))
    contact_drift = float(rng.normal(0.0, CONTACT_DRIFT_SD))
    physics = CellParameters(
        rate_scale=rate_scale, passivation_molar=passivation, series_resistance_kohm=resistance,
        charge_transfer_ma=charge_transfer, polarisation_tau_s=tau,
        polarisation_molar_per_ma=depletion_at_nominal / cell.system.nominal_current_ma,
        capacity_scale=capacity_scale, sei_charge_scale=sei_charge_scale, plating_exchange_ma=plating,
        surface_reactivity_m_per_s=surface)
    return CellVariation(physics, current_scale, gain, base, contact_drift)


def cell_program(cell: CellSpec, current_scale: float) -> list[Step]:
    """The cycling program of a cell (protocol variant chosen by the cell index)."""
    s, i = cell.system, cell.index
    current = s.nominal_current_ma * current_scale
    if s.sampling == "voltage_levels":
        return [Rest(120.0), ConstantCurrent(-current, 0.005, 12 * HOUR_S)]
    if s.electrode == "Cu":
        plating_h = (1.0, 1.5, 0.5)[i % 3]
        return [Rest(600.0), ConstantCurrent(-current, 0.005, 12 * HOUR_S),
                ConstantCurrent(-current, None, plating_h * HOUR_S),
                Rest(900.0), ConstantCurrent(current, 1.5, 8 * HOUR_S), Rest(1800.0)]
    if s.electrode == "LTO":
        rest_h = (0.0, 1.0, 0.5)[i % 3]
        steps: list[Step] = [Rest(600.0), ConstantCurrent(-current, 1.0, 14 * HOUR_S)]
        if rest_h:
            steps.append(Rest(rest_h * HOUR_S))
        return steps + [ConstantCurrent(current, 2.5, 14 * HOUR_S), ConstantCurrent(-current, 1.0, 14 * HOUR_S)]
    if s.electrode == "Sn":
        return [Rest(600.0), ConstantCurrent(-current, 0.01, 16 * HOUR_S), Rest(1800.0),
                ConstantCurrent(current, (1.2, 1.5, 1.0)[i % 3], 16 * HOUR_S), Rest(1800.0),
                ConstantCurrent(-current, 0.01, 16 * HOUR_S)]
    if s.electrode == "LTO/SuperP":
        cutoff = (1.2, 1.0, 0.7, 0.4, 0.1, 0.05, 0.01)[i % 7]
        pulse_min, rest_min = ((20, 40), (15, 45), (30, 30), (20, 40), (20, 60), (15, 30), (30, 45))[i % 7]
        return [Rest(1200.0),
                PulseTrain(-current, pulse_min * 60.0, rest_min * 60.0, cutoff, 60 * HOUR_S),
                PulseTrain(current, pulse_min * 60.0, rest_min * 60.0, 2.5, 60 * HOUR_S)]
    if s.electrode == "CoO/SuperP":
        pulse_min, rest_min = ((20, 40), (15, 45), (30, 30), (20, 60))[i % 4]
        upper = (3.0, 3.0, 2.5, 3.0)[i % 4]
        return [Rest(1200.0),
                PulseTrain(-current, pulse_min * 60.0, rest_min * 60.0, 0.01, 80 * HOUR_S),
                PulseTrain(current, pulse_min * 60.0, rest_min * 60.0, upper, 80 * HOUR_S)]
    raise ValueError(f"no program for electrode {s.electrode!r}")
