"""Physically grounded simulator of operando ATR-FTIR spectra (OpIRSpec-7K-sim).

OpIRSpec-7K-sim is SIMULATED: the paper's measured OpIRSpec-7K is not public. Physics,
equations, parameters and references: docs/ir/simulator.md.

* :func:`simulate_dataset` - the ten-system, 7,118-spectrum operando set (or a subset);
* :func:`simulate_calibration` - a separate static calibration set (electrolytes, SEI refs);
* :func:`simulate_cell` - one experiment plus the simulator's internal trace;
* :data:`BAND_LIBRARY` - name -> list of :class:`Band` (center, FWHM, relative intensity,
  assignment, reference) for every component in :data:`COMPONENT_NAMES`.
"""
from operando.ir.simulate.bands import BAND_LIBRARY, NATIVE_WAVENUMBER_CM1, REFERENCES, Band
from operando.ir.simulate.calibration import simulate_calibration
from operando.ir.simulate.chemistry import (
    COMPONENT_KINDS,
    COMPONENT_NAMES,
    SEI_REACTIONS,
    bulk_composition,
    product_parents,
    solvation,
)
from operando.ir.simulate.generate import (
    SimulatedCell,
    dataset_from_cells,
    simulate_cell,
    simulate_cells,
    simulate_dataset,
)
from operando.ir.simulate.systems import SYSTEM_COUNTS, SYSTEMS, TOTAL_SPECTRA, CellSpec, all_cells

__all__ = [
    "simulate_dataset", "simulate_calibration", "simulate_cell", "simulate_cells", "dataset_from_cells",
    "SimulatedCell", "all_cells", "CellSpec",
    "SYSTEMS", "SYSTEM_COUNTS", "TOTAL_SPECTRA", "BAND_LIBRARY", "Band", "REFERENCES", "NATIVE_WAVENUMBER_CM1",
    "COMPONENT_NAMES", "COMPONENT_KINDS", "SEI_REACTIONS", "bulk_composition", "product_parents", "solvation",
]
