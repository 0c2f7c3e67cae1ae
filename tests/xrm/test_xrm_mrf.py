"""Kirchhoff MRF: known conductivity recovered on a small synthetic grid; Kirchhoff holds on its output."""
from __future__ import annotations

import numpy as np
import pytest

from operando.errors import InputError
from operando.xrm import mrf
from operando.xrm import physics as ph


def _column_problem(n=24, L=80e-6, I=-40.0, seed=0):
    """One column: uniform reaction, known resistivity profile, potential from Ohm's law."""
    dx = L / n
    x = (np.arange(n) + 0.5) / n
    aj = np.full(n, -I / L)  # sum(a j dx) = -I
    i_e = ph.ionic_current_from_reaction(aj[:, None], dx)[:, 0]
    kappa_face = 0.08 * (1.0 + 0.6 * np.sin(2.5 * x[:-1] + 0.3))  # S/m, known
    i_face = 0.5 * (i_e[1:] + i_e[:-1])
    phi = np.concatenate([[0.0], np.cumsum(-i_face / kappa_face * dx)])
    return dx, i_face, phi, kappa_face


def test_mrf_recovers_known_conductivity_on_synthetic_grid():
    dx, i_face, phi, kappa = _column_problem()
    cfg = mrf.MRFConfig(diffusion_potential=False, resistivity_smooth_rel=0.2)
    rng = np.random.default_rng(1)
    obs = phi[None] + 0.7 + rng.normal(0, 5e-6, (4, phi.size))  # unknown offset, tiny noise
    sig = np.full_like(obs, 5e-6)
    r_bulk = 1.0 / 0.08
    p, p_sd, r, r_sd = mrf.infer_potential_conductivity(obs, sig, np.repeat(i_face[None], 4, 0), dx, r_bulk, cfg)
    k_est = 1.0 / r
    strong = np.abs(i_face) > 0.25 * np.abs(i_face).max()  # where the current makes kappa observable
    assert np.max(np.abs(np.log(k_est[:, strong] / kappa[strong]))) < 0.05
    # the potential is recovered up to the constant
    np.testing.assert_allclose(p - p.mean(1, keepdims=True), np.repeat((phi - phi.mean())[None], 4, 0), atol=1e-4)
    # posterior uncertainty grows where the ionic current vanishes (current collector side)
    assert r_sd[:, -1].mean() > 3 * r_sd[:, 0].mean()


def test_mrf_conductivity_depends_on_the_data():
    """A halved conductivity in the data gives a halved estimate (the prior does not decide)."""
    dx, i_face, phi, kappa = _column_problem()
    cfg = mrf.MRFConfig(diffusion_potential=False)
    sig = np.full((1, phi.size), 1e-5)
    _, _, r1, _ = mrf.infer_potential_conductivity(phi[None], sig, i_face[None], dx, 1 / 0.08, cfg)
    _, _, r2, _ = mrf.infer_potential_conductivity(2 * phi[None], sig, i_face[None], dx, 1 / 0.08, cfg)
    front = slice(0, 8)
    np.testing.assert_allclose(r2[0, front] / r1[0, front], 2.0, rtol=0.05)


def _soc_from_reaction(aj, times, Q):
    """SOC maps that a known (frame-constant) reaction field produces."""
    return np.concatenate([[np.zeros_like(aj)], np.cumsum(aj[None] * np.diff(times)[:, None, None] / Q, axis=0)])


def test_reaction_stage_recovers_a_conserving_field_and_kirchhoff_holds():
    n_d, n_l, L, I, Q = 16, 4, 80e-6, -30.0, 2.0e8
    dx = L / n_d
    depth = (np.arange(n_d) + 0.5) / n_d
    shape = np.exp(-depth / 0.4)[:, None] * (1 + 0.1 * np.cos(np.arange(n_l)))[None, :]
    aj = shape / (shape.sum(0).mean() * dx) * (-I)  # mean column total = -I
    times = np.linspace(0, 1800, 7)
    soc = _soc_from_reaction(aj, times, Q)
    cfg = mrf.MRFConfig(soc_sigma=1e-4, reaction_smooth_rel=5.0)
    current = np.full(times.size, I)
    est, sd, covs = mrf.infer_reaction(soc, times, current, dx, Q, cfg)
    assert np.max(np.abs(est - aj[None])) / np.abs(aj).max() < 0.02
    ie, ie_sd = mrf.ionic_current(est, covs, dx)
    interior, boundary = ph.kirchhoff_residual(ie, est, dx, 0.5 * (current[1:] + current[:-1]))
    assert np.max(np.abs(interior)) < 1e-10  # Kirchhoff by construction
    assert np.max(np.abs(boundary.mean(axis=-1))) < 5e-3  # the tight constraint at the separator
    assert np.all(sd > 0) and np.all(ie_sd >= 0)


def test_salt_balance_conserves_salt():
    em = _toy_electrode()
    n_d, dx = 10, 8e-6
    aj = np.full((5, n_d, 2), 3.0e5)
    c = mrf.salt_from_reaction(aj, np.full(5, 60.0), dx, em)
    assert c[-1, -1, 0] > em.salt_initial_mol_m3  # salt accumulates in the cathode on charge
    assert np.all(np.diff(c[-1, :, 0]) > 0)  # increasing towards the current collector


def _toy_electrode():
    xs = np.linspace(0.3, 1.0, 50)
    return mrf.ElectrodeModel(
        stoich_discharged=0.95, stoich_charged=0.5, c_max_mol_m3=5e4, particle_radius_m=3e-6,
        solid_diffusivity_m2_s=5e-15, j0_rate_A_m2=1e-6, ocp_stoich=xs.tolist(), ocp_V=(4.5 - xs).tolist(),
        tdf_c_mol_m3=[0.0, 5000.0], tdf=[1.0, 1.0], porosity_mean=0.3, active_fraction_mean=0.6,
        bruggeman=1.5, transference=0.38, salt_initial_mol_m3=1000.0, separator_thickness_m=25e-6,
        separator_porosity=0.5, separator_bruggeman=1.5)


def test_bad_inputs_raise_one_input_error():
    em = _toy_electrode()
    soc = np.zeros((4, 6, 2))
    t = np.arange(4.0)
    with pytest.raises(InputError, match="maps.h5: field 'current': current has 3 values but the maps have 4"):
        mrf.run_mrf(soc, t, np.ones(3), np.ones(4), 1e-6, em, where="maps.h5")
    bad = soc.copy()
    bad[1, 2, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        mrf.run_mrf(bad, t, np.ones(4), np.ones(4), 1e-6, em, where="maps.h5")
    with pytest.raises(InputError, match="frame times must increase"):
        mrf.run_mrf(soc, t[::-1], np.ones(4), np.ones(4), 1e-6, em, where="maps.h5")
