"""Time integration of one operando cell: electrode potential, SEI kinetics, polarisation.

State (per cell): host charge ``q`` [mAh], hysteresis ``h``, plated Li [mAh], local salt
deviation ``dc`` [mol/L], solvent totals [mol/L] in the sampled volume, SEI product amounts
[mol/L equivalent in the sampled volume], the passivating thickness ``L``.

Equations (``j`` = applied reduction current [mA] = ``-current_ma``; ``E`` = electrode
potential [V vs Li/Li+]; reaction ``k`` makes product from parent ``p``):

* open-circuit potential ``E = U(q, h)`` (:mod:`operando.ir.simulate.electrodes`);
* reduction rate [mol L-1 s-1]
  ``r_k = k_k A(q) a_p exp(-L / L0) g((E_on,k - E) / b_k)``, with the parent availability
  ``a_p = c_Li * share_p`` for a solvent in the Li+ solvation shell (``share_p = K_p S_p /
  sum K S``) and ``a_VC = S_VC / 0.25 M``; ``g(x) = exp(x) / (1 + exp(x - 6))`` (Tafel-like,
  capped at ``e^6`` by transport) and above the onset the decay length is
  ``ABOVE_ONSET_DECAY_V`` instead of ``b_k``;
* SEI current ``j_k = Q_e n_k r_k``; Li plating/stripping (Butler-Volmer about 0 V)
  ``j_pl = j0 (exp(-E / b) - s exp(E / b))`` with ``s`` = 1 while plated Li remains (no
  plating above 0 V while none is plated);
* charge balance ``dq/dt = (j - sum_k j_k - j_pl) / 3600``, integrated by a linearly implicit
  (Rosenbrock-Euler) step, stable for the stiff Cu double layer;
* mass conservation: ``dS_p/dt = -sum_k nu_k r_k`` (nu = stoichiometry), so every mole of
  product removes ``nu`` moles of its parent from the sampled volume;
* passivation: ``dL/dt = sum_k w_k r_k`` minus cracking (alloying volume change, per host
  charge cycled) and renewal by freshly plated Li;
* concentration polarisation: ``d(dc)/dt = (-beta j - dc) / tau`` (integrated exactly), so the
  local salt drops during lithiation and relaxes back exponentially at rest;
* measured cell voltage ``V = E - j R_s - b_ct asinh(j / (2 j0_ct))``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from operando.ir.simulate.chemistry import (
    REACTION_BY_PRODUCT,
    SEI_COMPONENTS,
    SOLVATING,
    SOLVATION_AFFINITY,
    VC_REFERENCE_MOLAR,
    product_parents,
)
from operando.ir.simulate.electrodes import ElectrodeModel, OcvCurve
from operando.ir.simulate.protocols import ProgramRunner, Step

SOLVENTS = ("EC", "DMC", "EMC", "VC")
RATE_CAP_EFOLDS = 6.0
ABOVE_ONSET_DECAY_V = 0.08
PLATING_TAFEL_V = 0.04
CHARGE_TRANSFER_TAFEL_V = 0.05
HYSTERESIS_CAPACITY_FRACTION = 0.08  # host charge over which h switches branch
PLATING_RENEWAL_PER_MAH = 20.0  # passivation lost per mAh of freshly plated Li
STRIP_RESERVE_MAH = 1e-4
LTO_SURFACE_PRODUCTS = ("semicarbonate", "Li2CO3")
GEL_OXIDATION_RATE_PER_S = 3e-4  # first-order decomposition of the reversible gel above ~1.8 V


@dataclass(frozen=True)
class CellParameters:
    """Per-cell physical parameters (the random, per-experiment part of the simulation)."""

    rate_scale: dict  # product -> multiplier of its rate constant
    passivation_molar: float  # L0 [M-eq]
    series_resistance_kohm: float
    charge_transfer_ma: float  # exchange current of the electrode reaction [mA]
    polarisation_tau_s: float
    polarisation_molar_per_ma: float  # beta: steady-state local salt change per mA
    capacity_scale: float
    sei_charge_scale: float
    plating_exchange_ma: float
    surface_reactivity_m_per_s: float = 0.0  # chemical carbonate formation on lithiated LTO


@dataclass
class CellTrace:
    """Record of every internal time step. Shapes: (n_steps,) unless noted.

    ``solvent_molar`` (n_steps, 4) in the order EC, DMC, EMC, VC; ``products_molar``,
    ``formed_molar``, ``decomposed_molar`` (n_steps, 7) in :data:`SEI_COMPONENTS` order;
    ``formed`` counts every mole ever made (``products = formed - decomposed``).
    """

    time_s: np.ndarray
    voltage_v: np.ndarray
    potential_v: np.ndarray
    current_ma: np.ndarray
    salt_molar: np.ndarray
    solvent_molar: np.ndarray
    products_molar: np.ndarray
    formed_molar: np.ndarray
    decomposed_molar: np.ndarray
    plated_mah: np.ndarray
    passivation_molar: np.ndarray
    parents: dict  # product -> parent solvent

    def at(self, times_s: np.ndarray) -> "CellTrace":
        """Linear interpolation of every record at ``times_s`` (ascending) -> a shorter trace.

        Interpolation is linear in every state variable, so linear relations between them
        (mass balance) hold exactly at the sampled times too.
        """
        t = np.asarray(times_s, dtype=np.float64)

        def interp(a):
            a = np.asarray(a)
            if a.ndim == 1:
                return np.interp(t, self.time_s, a)
            return np.stack([np.interp(t, self.time_s, a[:, i]) for i in range(a.shape[1])], axis=1)

        return CellTrace(t, interp(self.voltage_v), interp(self.potential_v), _sample_hold(t, self.time_s,
                         self.current_ma), interp(self.salt_molar), interp(self.solvent_molar),
                         interp(self.products_molar), interp(self.formed_molar), interp(self.decomposed_molar),
                         interp(self.plated_mah), interp(self.passivation_molar), dict(self.parents))


def _sample_hold(t: np.ndarray, grid: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Applied current at times ``t``: the value of the step that contains each time."""
    idx = np.clip(np.searchsorted(grid, t, side="right") - 1, 0, len(grid) - 1)
    # record i holds the current that ran from grid[i-1] to grid[i]; use the one after t
    nxt = np.clip(idx + 1, 0, len(grid) - 1)
    return np.asarray(values)[nxt]


def _capped_exp(x: float) -> tuple[float, float]:
    """``g(x) = e^x / (1 + e^(x - cap))`` and ``d ln g / dx``."""
    if x > RATE_CAP_EFOLDS:
        e = math.exp(RATE_CAP_EFOLDS - x)
        g = math.exp(RATE_CAP_EFOLDS) / (1.0 + e)
        return g, e / (1.0 + e)
    e = math.exp(x - RATE_CAP_EFOLDS)
    return math.exp(x) / (1.0 + e), 1.0 / (1.0 + e)


def simulate_trace(electrode: ElectrodeModel, composition: dict[str, float], program: list[Step],
                   params: CellParameters, dt_s: float, max_steps: int = 200_000) -> CellTrace:
    """Integrate one cell through ``program`` with time step ``dt_s``; record every step.

    ``composition``: initial molar concentrations (:func:`~operando.ir.simulate.chemistry.bulk_composition`).
    The first record is the fresh cell at open circuit (t = 0). Plain-float scalar code: one
    cell has a few thousand steps and seven reactions, too small for numpy to pay off.
    """
    model = replace(electrode, capacity_mah=electrode.capacity_mah * params.capacity_scale)
    ocv = OcvCurve(model)
    parents = product_parents(composition, catalytic=model.catalytic)
    q_e = model.sei_charge_mas_per_molar * params.sei_charge_scale
    n_products = len(SEI_COMPONENTS)
    affinity = [SOLVATION_AFFINITY.get(s, 0.0) for s in SOLVENTS]  # VC: not in the solvation shell
    # Active reactions: (product index, parent index, stoichiometry, electrons, onset, Tafel width,
    # effective rate constant, passivation weight, availability from the solvation shell?)
    reactions = []
    for product, parent in parents.items():
        r = REACTION_BY_PRODUCT[product]
        reactions.append((SEI_COMPONENTS.index(product), SOLVENTS.index(parent), r.stoichiometry, r.electrons,
                          r.onset_for(parent), r.tafel_v,
                          r.rate_constant_m_per_s * params.rate_scale.get(product, 1.0) * model.sei_area,
                          r.passivation, parent in SOLVATING))
    surface_reactions = [(SEI_COMPONENTS.index(p), SOLVENTS.index(parents[p]), REACTION_BY_PRODUCT[p].electrons)
                         for p in LTO_SURFACE_PRODUCTS if p in parents] \
        if params.surface_reactivity_m_per_s > 0 else []
    gel_index = SEI_COMPONENTS.index("gel")

    salt0 = composition["LiPF6"]
    solvent = [composition.get(s, 0.0) for s in SOLVENTS]
    products = [0.0] * n_products
    formed = [0.0] * n_products
    decomposed = [0.0] * n_products
    q = q_start = q_max = ocv.initial_charge()
    h = plated = dc = passivation = t = 0.0
    runner = ProgramRunner(program)
    decay = math.exp(-dt_s / params.polarisation_tau_s)
    host_capacity = max(model.capacity_mah, 1e-9)
    hysteresis_capacity = HYSTERESIS_CAPACITY_FRACTION * host_capacity + model.double_layer_mah_per_v * 0.5
    r_series, j0_ct = params.series_resistance_kohm, params.charge_transfer_ma
    pl_ex = params.plating_exchange_ma

    e, de_dq = ocv.potential(q, h)
    rec_t, rec_v, rec_e, rec_i, rec_c = [0.0], [e], [e], [0.0], [salt0]
    rec_s, rec_p, rec_f, rec_d = [list(solvent)], [list(products)], [list(formed)], [list(decomposed)]
    rec_pl, rec_l = [0.0], [0.0]
    steps = 0
    while not runner.done and steps < max_steps:
        steps += 1
        j = -runner.current()  # reduction current [mA]
        c_li = max(salt0 + dc, 0.02)
        weight_total = sum(a * x for a, x in zip(affinity, solvent)) or 1.0
        blocking = math.exp(-passivation / params.passivation_molar)
        area = 1.0 + model.conversion_area_gain * max(q_max - q_start, 0.0) / host_capacity

        # Faradaic SEI currents at E and their derivatives dj/dE.
        currents, slopes = [], []
        for (_, ip, _, n_e, onset, tafel, k, _, in_shell) in reactions:
            avail = c_li * affinity[ip] * solvent[ip] / weight_total if in_shell \
                else solvent[ip] / VC_REFERENCE_MOLAR
            width = tafel if e < onset else ABOVE_ONSET_DECAY_V
            g, dlng = _capped_exp((onset - e) / width)
            current = q_e * n_e * k * area * avail * blocking * g
            currents.append(current)
            slopes.append(-current * dlng / width)
        # Li plating / stripping about 0 V.
        if plated > 0 or e < 0:
            strip = plated / (plated + STRIP_RESERVE_MAH)
            up = math.exp(min(-e / PLATING_TAFEL_V, 50.0))
            down = strip * math.exp(min(e / PLATING_TAFEL_V, 50.0)) if plated > 0 else 1.0
            j_pl = pl_ex * (up - down)
            dj_pl = -pl_ex * (up + (down if plated > 0 else 0.0)) / PLATING_TAFEL_V
        else:
            j_pl = dj_pl = 0.0
        # Chemical carbonate formation on the lithiated LTO surface (no potential dependence).
        surface = []
        if surface_reactions:
            lithiated = min(max((q - q_start) / host_capacity, 0.0), 1.0)
            for (_, ip, _) in surface_reactions:
                avail = c_li * affinity[ip] * solvent[ip] / weight_total
                surface.append(params.surface_reactivity_m_per_s * lithiated * avail * blocking)
        j_surface = sum(q_e * n_e * rate for (_, _, n_e), rate in zip(surface_reactions, surface))

        # Linearly implicit step of the host charge.
        j_far = sum(currents) + j_pl + j_surface
        dj_far = sum(slopes) + dj_pl
        f = (j - j_far) / 3600.0
        fprime = -dj_far * de_dq / 3600.0
        dq = dt_s * f / (1.0 - dt_s * fprime)
        de = de_dq * dq

        # Products from the linearised currents over the step (consistent with dq).
        made = [0.0] * n_products
        for (ip_, _, _, n_e, _, _, _, _, _), current, slope in zip(reactions, currents, slopes):
            made[ip_] += max(current + slope * de, 0.0) * dt_s / (q_e * n_e)
        for (ip_, _, _), rate in zip(surface_reactions, surface):
            made[ip_] += rate * dt_s
        # Consume parents; never more than is there (pro rata between products of one parent).
        demand = [0.0] * len(SOLVENTS)
        for (ip_, ip, nu, *_) in reactions:
            demand[ip] += nu * made[ip_]
        for (ip_, ip, nu, *_) in reactions:
            if demand[ip] > solvent[ip]:
                made[ip_] *= solvent[ip] / demand[ip]
        for (ip_, ip, nu, _, _, _, _, w, _) in reactions:
            amount = made[ip_]
            if amount > 0:
                solvent[ip] = max(solvent[ip] - nu * amount, 0.0)
                products[ip_] += amount
                formed[ip_] += amount
                passivation += w * amount
        d_plated = max((j_pl + dj_pl * de) * dt_s / 3600.0, -plated)
        plated += d_plated
        if d_plated > 0:
            passivation *= math.exp(-PLATING_RENEWAL_PER_MAH * d_plated)

        # Host charge, SEI cracking by the alloy's volume change, hysteresis branch.
        q += dq
        q_max = max(q_max, q)
        if model.crack_per_capacity > 0 and e < 0.9:
            passivation *= math.exp(-model.crack_per_capacity * abs(dq) / host_capacity)
        j_host = j - j_far - dj_far * de
        if j_host != 0.0:
            target = 1.0 if j_host < 0 else 0.0
            h += (target - h) * (1.0 - math.exp(-abs(j_host) * dt_s / 3600.0 / hysteresis_capacity))

        # Partial oxidative decomposition of the gel film on charge (catalytic electrodes only).
        if model.catalytic and j < 0 and e > model.gel_oxidation_v - 0.3:
            reversible = model.gel_reversible_fraction * formed[gel_index] - decomposed[gel_index]
            if reversible > 0:
                rate = GEL_OXIDATION_RATE_PER_S / (1.0 + math.exp(-(e - model.gel_oxidation_v) / 0.05))
                lost = min(reversible * (1.0 - math.exp(-rate * dt_s)), products[gel_index])
                products[gel_index] -= lost
                decomposed[gel_index] += lost

        dc = -params.polarisation_molar_per_ma * j + (dc + params.polarisation_molar_per_ma * j) * decay
        t += dt_s
        e, de_dq = ocv.potential(q, h)
        v = e - j * r_series - CHARGE_TRANSFER_TAFEL_V * math.asinh(j / (2.0 * j0_ct))
        rec_t.append(t)
        rec_v.append(v)
        rec_e.append(e)
        rec_i.append(-j)
        rec_c.append(salt0 + dc)
        rec_s.append(list(solvent))
        rec_p.append(list(products))
        rec_f.append(list(formed))
        rec_d.append(list(decomposed))
        rec_pl.append(plated)
        rec_l.append(passivation)
        runner.advance(dt_s, v)
    return CellTrace(np.array(rec_t), np.array(rec_v), np.array(rec_e), np.array(rec_i), np.array(rec_c),
                     np.array(rec_s), np.array(rec_p), np.array(rec_f), np.array(rec_d), np.array(rec_pl),
                     np.array(rec_l), parents)
