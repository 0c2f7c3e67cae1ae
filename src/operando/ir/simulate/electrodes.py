"""Working-electrode models: open-circuit potential curves, hysteresis and SEI-relevant traits.

A host electrode stores charge ``q`` [mAh] at potential ``E`` [V vs Li/Li+]. Its stored charge as
a function of potential is a double-layer (capacitive) term plus sigmoidal plateaus::

    Q(E) = C_dl (E_top - E) + Q_host * sum_i w_i / (1 + exp((E - E_i) / s_i))

which is monotone, so the open-circuit potential ``U(q)`` is its inverse (tabulated). Lithiation
and delithiation have their own plateau sets (conversion and alloying electrodes show a large
voltage hysteresis); the potential is ``U = (1 - h) U_lith(q) + h U_delith(q)`` with a hysteresis
state ``h`` that relaxes towards 1 while delithiating and towards 0 while lithiating.

Electrode facts used (values rounded):

* Cu: blocking current collector, only double-layer charge; the potential falls quickly until
  electrolyte reduction, then Li plating near 0 V, carry the current.
* LTO (Li4Ti5O12): two-phase insertion plateau at ~1.55 V (Ohzuku et al., J. Electrochem. Soc.
  142 (1995) 1431), above the EC reduction onset, so little SEI forms.
* Sn: Li-Sn alloying plateaus at ~0.66, 0.55, 0.42 V on lithiation and ~0.58, 0.71, 0.79 V on
  delithiation (Courtney & Dahn, J. Electrochem. Soc. 144 (1997) 2045); the ~250 % volume change
  cracks the SEI, which then grows again.
* CoO: conversion CoO + 2 Li -> Co + Li2O on a ~0.8 V plateau, reconversion ~2 V on charge
  (Poizot et al., Nature 407 (2000) 496); the Co nanoparticles catalyse a polymeric gel-like film
  below ~0.8 V that partly decomposes again on charge (laruelle2002).
* SuperP carbon (10 % in the composites): sloping capacity below ~1 V and a large surface area.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import numpy as np

E_TOP_V = 3.6
E_BOTTOM_V = -0.6
TABLE_POINTS = 1681


@dataclass(frozen=True)
class Plateau:
    """One sigmoidal plateau: potential [V], share of the host capacity, width [V]."""

    potential_v: float
    capacity_fraction: float
    width_v: float


@dataclass(frozen=True)
class ElectrodeModel:
    """Everything the cell model needs to know about one working electrode.

    ``sei_area``: electrochemically active area for SEI reactions, relative to a flat Cu film.
    ``conversion_area_gain``: relative area gained per unit of host lithiation (conversion to
    nanoparticles). ``crack_per_capacity``: fraction (as a rate, per host capacity cycled through
    the alloying plateaus) of the SEI's passivating effect lost to cracking.
    ``sei_charge_mas_per_molar``: charge [mA s] that forms 1 mol/L (M-eq) of product in the
    sampled volume per electron; maps the spectroscopic amounts onto the cell current.
    """

    name: str
    capacity_mah: float
    lithiation: tuple[Plateau, ...]
    delithiation: tuple[Plateau, ...]
    double_layer_mah_per_v: float
    open_circuit_v: float
    sei_area: float
    sei_charge_mas_per_molar: float
    conversion_area_gain: float = 0.0
    crack_per_capacity: float = 0.0
    catalytic: bool = False
    gel_oxidation_v: float = 1.8
    gel_reversible_fraction: float = 0.0
    label: str = ""

    def stored_charge(self, potential_v: np.ndarray, branch: str) -> np.ndarray:
        """Q(E) [mAh] on the ``"lithiation"`` or ``"delithiation"`` branch; (n,) -> (n,)."""
        e = np.asarray(potential_v, dtype=np.float64)
        q = self.double_layer_mah_per_v * (E_TOP_V - e)
        for p in (self.lithiation if branch == "lithiation" else self.delithiation):
            q = q + self.capacity_mah * p.capacity_fraction / (1.0 + np.exp((e - p.potential_v) / p.width_v))
        return q


@dataclass
class OcvCurve:
    """Tabulated inverse ``U(q)`` of both branches, for fast scalar lookups in the time loop."""

    model: ElectrodeModel
    q_lith: list = field(init=False)
    q_delith: list = field(init=False)
    e_table: list = field(init=False)

    def __post_init__(self) -> None:
        e = np.linspace(E_TOP_V, E_BOTTOM_V, TABLE_POINTS)  # q increases along this table
        self.e_table = e.tolist()
        self.q_lith = self.model.stored_charge(e, "lithiation").tolist()
        self.q_delith = self.model.stored_charge(e, "delithiation").tolist()

    def _branch(self, qs: list, q: float) -> tuple[float, float]:
        """Potential and dE/dq [V/mAh] at charge ``q`` on one branch (linear extrapolation with
        the double-layer slope outside the table)."""
        es = self.e_table
        if q <= qs[0]:
            slope = -1.0 / self.model.double_layer_mah_per_v
            return es[0] + (q - qs[0]) * slope, slope
        if q >= qs[-1]:
            slope = -1.0 / self.model.double_layer_mah_per_v
            return es[-1] + (q - qs[-1]) * slope, slope
        i = bisect.bisect_right(qs, q) - 1
        slope = (es[i + 1] - es[i]) / (qs[i + 1] - qs[i])
        return es[i] + (q - qs[i]) * slope, slope

    def potential(self, q: float, h: float) -> tuple[float, float]:
        """``(U, dU/dq)`` at charge ``q`` [mAh] and hysteresis state ``h`` in [0, 1]."""
        e1, s1 = self._branch(self.q_lith, q)
        if h <= 0.0:
            return e1, s1
        e2, s2 = self._branch(self.q_delith, q)
        return (1.0 - h) * e1 + h * e2, (1.0 - h) * s1 + h * s2

    def initial_charge(self) -> float:
        """Charge at the open-circuit potential of the fresh electrode (lithiation branch)."""
        return float(self.model.stored_charge(np.array([self.model.open_circuit_v]), "lithiation")[0])


SUPERP_LITH = (Plateau(0.80, 0.05, 0.15), Plateau(0.15, 0.10, 0.07))
SUPERP_DELITH = (Plateau(0.30, 0.10, 0.10), Plateau(1.00, 0.05, 0.20))

ELECTRODES: dict[str, ElectrodeModel] = {
    "Cu": ElectrodeModel(
        "Cu", 0.0, (), (), double_layer_mah_per_v=0.0015, open_circuit_v=3.0, sei_area=1.0,
        sei_charge_mas_per_molar=330.0, label="Cu foil (blocking)"),
    "LTO": ElectrodeModel(
        "LTO", 0.35, (Plateau(1.55, 0.93, 0.012), Plateau(1.20, 0.07, 0.15)),
        (Plateau(1.58, 0.93, 0.012), Plateau(1.90, 0.07, 0.15)),
        double_layer_mah_per_v=0.002, open_circuit_v=2.7, sei_area=2.0, sei_charge_mas_per_molar=330.0,
        label="Li4Ti5O12 film"),
    "LTO/SuperP": ElectrodeModel(
        "LTO/SuperP", 0.50, (Plateau(1.55, 0.85, 0.012),) + SUPERP_LITH,
        (Plateau(1.58, 0.85, 0.012),) + SUPERP_DELITH,
        double_layer_mah_per_v=0.004, open_circuit_v=2.8, sei_area=4.0, sei_charge_mas_per_molar=330.0,
        label="Li4Ti5O12 / SuperP carbon 90/10 composite"),
    "Sn": ElectrodeModel(
        "Sn", 0.40, (Plateau(0.66, 0.15, 0.015), Plateau(0.55, 0.25, 0.015), Plateau(0.42, 0.45, 0.015),
                     Plateau(0.20, 0.15, 0.06)),
        (Plateau(0.45, 0.15, 0.06), Plateau(0.58, 0.40, 0.015), Plateau(0.71, 0.25, 0.015),
         Plateau(0.79, 0.20, 0.015)),
        double_layer_mah_per_v=0.002, open_circuit_v=2.8, sei_area=0.45, sei_charge_mas_per_molar=330.0,
        crack_per_capacity=0.4, label="Sn film"),
    "CoO/SuperP": ElectrodeModel(
        "CoO/SuperP", 0.80, (Plateau(0.78, 0.72, 0.015), Plateau(0.45, 0.13, 0.12)) + SUPERP_LITH[1:],
        (Plateau(2.05, 0.62, 0.08), Plateau(1.40, 0.23, 0.25)) + SUPERP_DELITH[:1],
        double_layer_mah_per_v=0.004, open_circuit_v=2.9, sei_area=2.5, sei_charge_mas_per_molar=330.0,
        conversion_area_gain=1.0, catalytic=True, gel_oxidation_v=1.8, gel_reversible_fraction=0.6,
        label="CoO / SuperP carbon 90/10 composite"),
}
