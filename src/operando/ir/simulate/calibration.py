"""Static calibration set, separate from the operando data.

Static ATR spectra of (i) electrolytes of varied composition (LiPF6 0-2 M; EC, DMC, EMC, VC
fractions varied) and (ii) each SEI product alone (dried reference films of three
thicknesses). Used to learn fixed electrolyte and SEI component spectra; never part of the
operando benchmark. Every sample is a small "experiment" with protocol ``static``, a constant
open-circuit voltage of 3.0 V, zero current and full ground truth. Spectra are averaged
longer than operando ones, so their SNR is higher (log-normal, median 4,000 true SNR).
"""
from __future__ import annotations

import numpy as np

from operando.ir.data.dataset import OperandoDataset
from operando.ir.data.experiment import Experiment, ExperimentMeta, GroundTruth
from operando.ir.simulate.bands import NATIVE_WAVENUMBER_CM1
from operando.ir.simulate.cell import SOLVENTS, CellTrace
from operando.ir.simulate.chemistry import COMPONENT_KINDS, COMPONENT_NAMES, SEI_COMPONENTS, bulk_composition
from operando.ir.simulate.generate import SIMULATOR_VERSION, concentration_matrix
from operando.ir.simulate.spectra import add_noise, render
from operando.ir.simulate.systems import cell_rng, electrolyte_dict

OPEN_CIRCUIT_V = 3.0
SPECTRA_PER_SAMPLE = 3
CALIBRATION_SNR_MEDIAN = 4000.0
CALIBRATION_SNR_LOG_SD = 0.3
REFERENCE_FILM_MOLAR = (1.0, 2.0, 3.0)  # M-eq of product in the sampled volume, per spectrum

# (slug, solvent weight fractions, additives [wt %], salt molarities)
ELECTROLYTE_SERIES: tuple[tuple[str, dict, dict, tuple[float, ...]], ...] = (
    ("ec-dmc-1-1", {"EC": 0.5, "DMC": 0.5}, {}, (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)),
    ("ec-dmc-3-7", {"EC": 0.3, "DMC": 0.7}, {}, (0.0, 1.0, 2.0)),
    ("ec-dmc-7-3", {"EC": 0.7, "DMC": 0.3}, {}, (0.0, 1.0, 2.0)),
    ("dmc", {"DMC": 1.0}, {}, (0.0, 0.5, 1.0, 1.5, 2.0)),
    ("emc", {"EMC": 1.0}, {}, (0.0, 0.5, 1.0, 1.5, 2.0)),
    ("ec", {"EC": 1.0}, {}, (0.0, 0.6, 1.2, 1.8)),
    ("ec-emc-3-7", {"EC": 0.3, "EMC": 0.7}, {}, (0.0, 0.5, 1.0, 1.5)),
    ("ec-dmc-1-1-vc2", {"EC": 0.5, "DMC": 0.5}, {"VC": 2.0}, (0.0, 1.0)),
    ("ec-dmc-1-1-vc5", {"EC": 0.5, "DMC": 0.5}, {"VC": 5.0}, (1.0,)),
    ("dmc-vc10", {"DMC": 1.0}, {"VC": 10.0}, (0.0, 1.0)),
)


def _static_trace(composition: dict[str, float], products: np.ndarray, n: int) -> CellTrace:
    """A constant state, shaped like a sampled cell trace, for :func:`concentration_matrix`."""
    zeros = np.zeros(n)
    solvent = np.tile([composition.get(s, 0.0) for s in SOLVENTS], (n, 1))
    return CellTrace(np.arange(n) * 60.0, zeros + OPEN_CIRCUIT_V, zeros + OPEN_CIRCUIT_V, zeros,
                     zeros + composition.get("LiPF6", 0.0), solvent, products, products, np.zeros_like(products),
                     zeros, zeros, {})


def _experiment(name: str, system: str, electrolyte: dict, extra: dict, trace: CellTrace, conc: np.ndarray,
                rng: np.random.Generator) -> Experiment:
    meta = ExperimentMeta.from_dict({
        "name": name, "working_electrode": extra.pop("working_electrode", "none (ATR crystal)"),
        "counter_electrode": "none", "protocol": "static", "electrolyte": electrolyte, "system": system,
        "simulated": True, "simulator": SIMULATOR_VERSION, **extra})
    n = conc.shape[0]
    gain = float(rng.uniform(0.95, 1.05))
    offset = rng.normal(0.0, 0.003, n)
    slope = rng.normal(0.0, 0.002, n)
    wn = np.array(NATIVE_WAVENUMBER_CM1)
    noiseless, spectra = render(conc, trace.salt_molar, gain, offset, slope, wn)
    noisy, _ = add_noise(noiseless, wn, rng, CALIBRATION_SNR_MEDIAN, CALIBRATION_SNR_LOG_SD)
    truth = GroundTruth(noiseless.astype(np.float32), list(COMPONENT_NAMES), list(COMPONENT_KINDS),
                        spectra.astype(np.float32), conc)
    return Experiment(meta, trace.time_s, trace.voltage_v, wn, noisy, current_ma=trace.current_ma, truth=truth)


def simulate_calibration(seed: int = 0) -> OperandoDataset:
    """The static calibration set (``simulated=True``): 37 electrolyte samples and 7 SEI
    product references, 3 spectra each."""
    experiments = []
    for slug, solvents, additives, salts in ELECTROLYTE_SERIES:
        for salt in salts:
            name = f"cal-{slug}-{salt:.2f}M"
            electrolyte = electrolyte_dict(salt, solvents, additives)
            meta_probe = ExperimentMeta.from_dict({"name": name, "working_electrode": "none",
                                                   "counter_electrode": "none", "protocol": "static",
                                                   "electrolyte": electrolyte})
            composition = bulk_composition(meta_probe.electrolyte)
            trace = _static_trace(composition, np.zeros((SPECTRA_PER_SAMPLE, len(SEI_COMPONENTS))),
                                  SPECTRA_PER_SAMPLE)
            conc = concentration_matrix(trace)
            experiments.append(_experiment(name, f"calibration|{meta_probe.electrolyte.label}", electrolyte,
                                           {"sample": "electrolyte"}, trace, conc, cell_rng(seed, name)))
    for i, product in enumerate(SEI_COMPONENTS):
        name = f"ref-{product}"
        products = np.zeros((len(REFERENCE_FILM_MOLAR), len(SEI_COMPONENTS)))
        products[:, i] = REFERENCE_FILM_MOLAR
        # A dried film: no electrolyte in the sampled volume. The metadata must name an
        # electrolyte; it is the (evaporated) DMC rinse.
        trace = _static_trace({}, products, len(REFERENCE_FILM_MOLAR))
        conc = concentration_matrix(trace)
        experiments.append(_experiment(
            name, f"reference|{product}", electrolyte_dict(0.0, {"DMC": 1.0}),
            {"sample": f"dried {product} reference film (rinsed with DMC, evaporated: no electrolyte "
                       "in the spectrum)", "working_electrode": f"{product} film on ATR crystal"},
            trace, conc, cell_rng(seed, name)))
    return OperandoDataset(experiments, simulated=True, description=(
        "OpIRSpec-7K-sim calibration set: SIMULATED static ATR-FTIR spectra of electrolytes (LiPF6 0-2 M, "
        "EC/DMC/EMC/VC varied) and of each SEI product alone; separate from the operando data. "
        f"seed={int(seed)}."))
