"""Electrolyte chemistry: recipe -> molar concentrations, Li+ solvation, SEI reactions.

* :func:`bulk_composition` turns an :class:`~operando.ir.data.experiment.Electrolyte` recipe into
  molar concentrations (ideal mixing of the solvents plus a partial molar volume for the salt).
* :func:`solvation` splits each solvent into free and Li+-coordinated molecules: every Li+
  binds ``SOLVATION_NUMBER`` = 4 carbonyl oxygens, shared among solvents by a competitive
  (Langmuir) equilibrium with affinities favouring EC (preferential solvation by the cyclic
  carbonate, seo2015 / fulfer2016 in :data:`operando.ir.simulate.bands.REFERENCES`).
* :data:`SEI_REACTIONS` lists the reductive decomposition pathways: product, parent solvent,
  stoichiometry (mol parent per mol product), electrons per product, onset potential.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from operando.ir.data.experiment import Electrolyte

SALT_SMILES = "[Li+].F[P-](F)(F)(F)(F)F"
SALT_MOLAR_MASS_G = 151.91
SALT_PARTIAL_MOLAR_VOLUME_L = 0.070  # LiPF6 in carbonates, assumed (about 70 mL/mol)

# name -> (SMILES, molar mass [g/mol], density [g/mL] of the liquid near room temperature)
SOLVENT_DATA: dict[str, tuple[str, float, float]] = {
    "EC": ("C1COC(=O)O1", 88.06, 1.321),
    "DMC": ("COC(=O)OC", 90.08, 1.069),
    "EMC": ("CCOC(=O)OC", 104.10, 1.006),
    "VC": ("C1=COC(=O)O1", 86.05, 1.355),
}
SOLVATING = ("EC", "DMC", "EMC")  # solvents with a Li+-coordinated component
LINEAR_CARBONATES = ("DMC", "EMC")
SOLVATION_NUMBER = 4.0
# Relative Li+ affinity (Langmuir constants); EC is preferred over the linear carbonates.
SOLVATION_AFFINITY: dict[str, float] = {"EC": 3.0, "DMC": 1.0, "EMC": 1.0}
MAX_COORDINATED_FRACTION = 0.95  # at most this share of all solvent molecules can be bound

BULK_COMPONENTS = ("EC", "EC-Li+", "DMC", "DMC-Li+", "EMC", "EMC-Li+", "VC", "PF6-")
SEI_COMPONENTS = ("polyVC", "LEDC", "semicarbonate", "Li2CO3", "LMC", "DMDOHC", "gel")
COMPONENT_NAMES: tuple[str, ...] = BULK_COMPONENTS + SEI_COMPONENTS
COMPONENT_KINDS: tuple[str, ...] = ("bulk",) * len(BULK_COMPONENTS) + ("sei",) * len(SEI_COMPONENTS)


def bulk_composition(electrolyte: Electrolyte) -> dict[str, float]:
    """Molar concentrations [mol/L] of ``EC, DMC, EMC, VC`` and ``LiPF6`` in the recipe.

    Solvent fractions are by weight (or by volume, converted with the densities); an
    additive's ``weight_percent`` is taken relative to the whole solvent mass. One litre of
    solution holds the salt's partial molar volume plus ideally mixed solvents.
    """
    salt = electrolyte.salt.amount
    weights = {}
    for s in electrolyte.solvents:
        _, _, density = SOLVENT_DATA[s.name]
        weights[s.name] = weights.get(s.name, 0.0) + s.amount * (density if electrolyte.fraction_basis == "volume"
                                                                    else 1.0)
    total = sum(weights.values())
    mass_fraction = {k: v / total for k, v in weights.items()}
    for a in electrolyte.additives:
        scale = 1.0 - a.amount / 100.0
        mass_fraction = {k: v * scale for k, v in mass_fraction.items()}
        mass_fraction[a.name] = mass_fraction.get(a.name, 0.0) + a.amount / 100.0
    specific_volume_ml_per_g = sum(f / SOLVENT_DATA[k][2] for k, f in mass_fraction.items())
    solvent_volume_l = max(1.0 - salt * SALT_PARTIAL_MOLAR_VOLUME_L, 0.5)
    solvent_mass_g = 1000.0 * solvent_volume_l / specific_volume_ml_per_g
    out = {k: 0.0 for k in SOLVENT_DATA}
    for k, f in mass_fraction.items():
        out[k] = solvent_mass_g * f / SOLVENT_DATA[k][1]
    out["LiPF6"] = salt
    return out


def solvation(salt_molar: np.ndarray, solvent_molar: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Li+-coordinated concentration of each solvating solvent [mol/L].

    ``salt_molar`` (n,) local Li+ concentration; ``solvent_molar`` maps EC/DMC/EMC to total
    concentrations (n,). The number of bound solvent molecules is ``4 c_Li`` (smoothly capped at
    95 % of all solvent molecules); solvent ``i`` is bound with probability
    ``K_i x / (1 + K_i x)``, with ``x`` solved so that the bound molecules add up (bisection in
    ``log x``, vectorised). Returns ``{name: (n,)}``; each value lies in ``[0, total_i)``.
    """
    c = np.atleast_1d(np.asarray(salt_molar, dtype=np.float64))
    totals = {k: np.broadcast_to(np.asarray(solvent_molar.get(k, 0.0), dtype=np.float64), c.shape)
              for k in SOLVATING}
    available = sum(totals.values())
    wanted = SOLVATION_NUMBER * np.clip(c, 0.0, None)
    ceiling = MAX_COORDINATED_FRACTION * available
    # Smooth minimum (p-norm) of the demand and the ceiling, so that the bound amount stays
    # differentiable in the salt concentration.
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = np.where(wanted > 0, (wanted ** -6 + np.maximum(ceiling, 1e-12) ** -6) ** (-1 / 6), 0.0)
    lo = np.full(c.shape, -12.0)
    hi = np.full(c.shape, 12.0)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        x = np.exp(mid)
        got = sum(totals[k] * SOLVATION_AFFINITY[k] * x / (1 + SOLVATION_AFFINITY[k] * x) for k in SOLVATING)
        too_many = got > bound
        hi = np.where(too_many, mid, hi)
        lo = np.where(too_many, lo, mid)
    x = np.exp(0.5 * (lo + hi))
    out = {k: totals[k] * SOLVATION_AFFINITY[k] * x / (1 + SOLVATION_AFFINITY[k] * x) for k in SOLVATING}
    # Rescale the tiny bisection residual away so the bound total is exact.
    got = sum(out.values())
    factor = np.where(got > 0, bound / np.where(got > 0, got, 1.0), 0.0)
    return {k: v * factor for k, v in out.items()}


def solvation_shell_share(solvent_molar: dict[str, float]) -> dict[str, float]:
    """Fraction of Li+ solvation-shell sites held by each solvent, ``K_i S_i / sum_j K_j S_j``.

    The SEI reduction rates of the solvents scale with ``4 c_Li x share``: reduction happens
    mostly to molecules in the Li+ solvation shell, so EC-rich shells give EC-derived SEI.
    """
    weights = {k: SOLVATION_AFFINITY[k] * max(solvent_molar.get(k, 0.0), 0.0) for k in SOLVATING}
    total = sum(weights.values())
    return {k: (w / total if total > 0 else 0.0) for k, w in weights.items()}


@dataclass(frozen=True)
class Reaction:
    """One reductive SEI-forming pathway.

    ``parent``: "EC", "VC", "linear" (the recipe's main linear carbonate, DMC or EMC) or
    "carbonate" (EC if present, else the linear carbonate). ``stoichiometry``: mol parent per
    mol product. ``electrons``: electrons per product (charge drawn from the electrode).
    ``onset_v``: potential vs Li/Li+ at which the rate equals its rate constant (the Tafel rate
    rises e-fold every ``tafel_v`` below it and falls likewise above); a mapping gives a
    per-parent onset. ``passivation``: how strongly one M-eq of the product blocks further
    electron transfer. ``catalytic_only``: forms only on electrodes that catalyse it (the
    polymeric gel on the Co nanoparticles of converted CoO, laruelle2002).
    """

    product: str
    parent: str
    stoichiometry: float
    electrons: float
    onset_v: float | dict
    tafel_v: float
    rate_constant_m_per_s: float
    passivation: float = 1.0
    catalytic_only: bool = False

    def onset_for(self, parent: str) -> float:
        return self.onset_v[parent] if isinstance(self.onset_v, dict) else self.onset_v


# Onsets: VC (~1.4 V) before EC (~0.8 V) before the linear carbonates (~0.6-0.5 V) (zhang2001,
# aurbach1996, leau2025). Stoichiometries: 2 EC + 2 e- + 2 Li+ -> LEDC + C2H4 (zhuang2005);
# EC + 2 e- + 2 Li+ -> Li2CO3 + C2H4; DMC + e- + Li+ -> LMC + CH3* (zhuang2006); n VC -> poly(VC);
# DMDOHC: two methyl-carbonate ends per molecule from the linear carbonate (gachot2008; the real
# route passes through an EC-derived alkoxide, simplified here to a linear-carbonate parent).
SEI_REACTIONS: tuple[Reaction, ...] = (
    Reaction("polyVC", "VC", 1.0, 1.0, 1.40, 0.06, 4.0e-5, passivation=2.5),
    Reaction("LEDC", "EC", 2.0, 2.0, 0.80, 0.05, 1.0e-5, passivation=1.0),
    Reaction("semicarbonate", "EC", 1.0, 1.0, 0.75, 0.05, 0.5e-5, passivation=0.8),
    Reaction("Li2CO3", "carbonate", 1.0, 2.0, {"EC": 0.65, "DMC": 0.55, "EMC": 0.50}, 0.05, 0.35e-5,
             passivation=1.5),
    Reaction("LMC", "linear", 1.0, 1.0, {"DMC": 0.60, "EMC": 0.50}, 0.05, 1.0e-5, passivation=0.8),
    Reaction("DMDOHC", "linear", 2.0, 0.5, {"DMC": 0.58, "EMC": 0.48}, 0.05, 0.4e-5, passivation=0.2),
    Reaction("gel", "EC", 1.0, 1.0, 0.80, 0.06, 0.8e-5, passivation=0.3, catalytic_only=True),
)
REACTION_BY_PRODUCT = {r.product: r for r in SEI_REACTIONS}
VC_REFERENCE_MOLAR = 0.25  # VC is not in the solvation shell: availability = S_VC / 0.25 M


def main_linear_carbonate(composition: dict[str, float]) -> str | None:
    """The recipe's most abundant linear carbonate (DMC or EMC), or None."""
    present = [(composition.get(k, 0.0), k) for k in LINEAR_CARBONATES if composition.get(k, 0.0) > 0]
    return max(present)[1] if present else None


def product_parents(composition: dict[str, float], *, catalytic: bool = False) -> dict[str, str]:
    """Parent solvent of every SEI product that can form in this recipe.

    ``composition``: output of :func:`bulk_composition`. Products whose parent is absent (e.g.
    polyVC without VC, LMC without a linear carbonate) are left out, as is the gel unless
    ``catalytic``.
    """
    linear = main_linear_carbonate(composition)
    has_ec = composition.get("EC", 0.0) > 0
    out = {}
    for r in SEI_REACTIONS:
        if r.catalytic_only and not catalytic:
            continue
        if r.parent == "linear":
            parent = linear
        elif r.parent == "carbonate":
            parent = "EC" if has_ec else linear
        else:
            parent = r.parent
        if parent is not None and composition.get(parent, 0.0) > 0:
            out[r.product] = parent
    return out
