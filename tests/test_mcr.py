"""Curve resolution: NNLS, MCR-ALS constraints, rank estimate, matching, torch projection."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import nnls

from operando.decompose import (
    is_unimodal,
    match_components,
    match_to_reference,
    mcr_als,
    nnls_gram,
    profile_agreement,
    project_onto_spectra,
    simplisma_pure_variables,
    suggest_n_components,
)
from operando.decompose.mcr import _unimodal

WAVENUMBER_CM1 = np.linspace(800.0, 1900.0, 321)


def gaussian(x, centre, width):
    return np.exp(-0.5 * ((x - centre) / width) ** 2)


def lorentzian(x, centre, width):
    return 1.0 / (1.0 + ((x - centre) / width) ** 2)


# Three species with selective bands (each has bands the others lack), as MCR needs for a
# unique answer; centres double as a band library for the naming test.
BANDS = {
    "EC": [(1800, 10, "g", 1.0), (1160, 12, "l", 0.6), (900, 8, "g", 0.3)],
    "LEDC": [(1650, 15, "g", 1.0), (1300, 10, "l", 0.5), (1080, 9, "g", 0.4)],
    "Li2CO3": [(1450, 20, "g", 1.0), (870, 6, "g", 0.7), (1500, 8, "g", 0.2)],
}


def species_spectrum(name, x=WAVENUMBER_CM1):
    shape = {"g": gaussian, "l": lorentzian}
    return sum(a * shape[kind](x, c, w) for c, w, kind, a in BANDS[name])


def kinetics(n):
    """A -> B -> C first-order profiles (n, 3): smooth, non-negative, summing to one."""
    t = np.linspace(0.0, 1.0, n)
    k1, k2 = 4.0, 2.0
    a = np.exp(-k1 * t)
    b = k1 / (k2 - k1) * (np.exp(-k1 * t) - np.exp(-k2 * t))
    return np.stack([a, b, 1.0 - a - b], axis=1)


def mixture(n_components=3, noise=0.0, n=40, seed=0):
    S = np.stack([species_spectrum(s) for s in BANDS])
    C = kinetics(n)
    if n_components == 2:
        t = np.linspace(0.0, 1.0, n)
        C = np.stack([np.exp(-3 * t), 1 - np.exp(-3 * t)], axis=1)
        S = S[[0, 2]]
    D = C @ S + noise * np.random.default_rng(seed).normal(size=(n, S.shape[1]))
    return D, C, S


# --------------------------------------------------------------------------- NNLS


def test_nnls_gram_matches_scipy_on_random_problems():
    rng = np.random.default_rng(1)
    for _ in range(30):
        K = int(rng.integers(1, 7))
        A = rng.normal(size=(int(rng.integers(K, 40)), K))
        B = rng.normal(size=(A.shape[0], int(rng.integers(1, 25)))) * rng.uniform(0.01, 100)
        X = nnls_gram(A.T @ A, A.T @ B)
        assert X.shape == (K, B.shape[1]) and np.all(X >= 0)
        for j in range(B.shape[1]):
            ref = nnls(A, B[:, j])[0]
            ours = np.sum((A @ X[:, j] - B[:, j]) ** 2)
            best = np.sum((A @ ref - B[:, j]) ** 2)
            assert ours <= best * (1 + 1e-9) + 1e-12


def test_unimodal_fit_golden():
    out = _unimodal(np.array([0.0, 2.0, 1.0, 3.0, 1.0, 0.0]))
    np.testing.assert_allclose(out, [0.0, 1.5, 1.5, 3.0, 1.0, 0.0])
    assert is_unimodal(out) and not is_unimodal(np.array([0.0, 2.0, 1.0, 3.0]))


# --------------------------------------------------------------------------- MCR-ALS


@pytest.mark.parametrize("init", ["simplisma", "svd-nnls"])
def test_two_component_recovery(init):
    D, C, S = mixture(2, noise=0.002)
    res = mcr_als(D, 2, init=init, max_iter=400)
    perm, corr = match_to_reference(res.S, S)
    assert sorted(perm.tolist()) == [0, 1]
    assert np.all(corr > 0.99), corr
    assert np.all(profile_agreement(res.C, C, perm) > 0.99)
    # Without closure the spectra carry unit maximum.
    np.testing.assert_allclose(np.abs(res.S).max(axis=1), 1.0)
    assert res.lack_of_fit_percent < 2.0 and res.explained_variance > 0.999
    np.testing.assert_allclose(res.reconstruction, res.C @ res.S)


def test_three_component_recovery_with_exact_closure():
    D, C, S = mixture(3, noise=0.002)
    res = mcr_als(D, 3, closure=1.0, max_iter=400)
    assert np.max(np.abs(res.C.sum(axis=1) - 1.0)) < 1e-8
    assert np.all(res.C >= 0) and np.all(res.S >= 0)
    perm, corr = match_to_reference(res.S, S)
    assert np.all(corr > 0.99), corr
    assert np.all(profile_agreement(res.C, C, perm) > 0.99)
    # With closure the scale is fixed by the totals: amounts come back in true units.
    np.testing.assert_allclose(res.C[:, perm], C, atol=0.05)


def test_noiseless_three_components_converge_and_fit_exactly():
    D, C, S = mixture(3, noise=0.0)
    res = mcr_als(D, 3)
    assert res.converged and res.n_iter < 1000
    assert res.lack_of_fit_percent < 0.05
    _, corr = match_to_reference(res.S, S)
    assert np.all(corr > 0.999)


def test_closure_per_row_totals_and_without_nonnegativity():
    D, C, S = mixture(3, noise=0.001)
    totals = np.linspace(1.0, 2.0, D.shape[0])
    res = mcr_als(D * totals[:, None], 3, closure=totals, max_iter=200)
    assert np.max(np.abs(res.C.sum(axis=1) - totals)) < 1e-8
    res = mcr_als(D, 3, closure=1.0, c_nonneg=False, max_iter=100)
    assert np.max(np.abs(res.C.sum(axis=1) - 1.0)) < 1e-8


def test_fixed_spectra_stay_fixed():
    D, C, S = mixture(3, noise=0.002)
    known = 2.5 * S[0]  # a known spectrum in its own (unnormalised) scale
    res = mcr_als(D, 3, fixed_spectra={0: known}, max_iter=300)
    np.testing.assert_array_equal(res.S[0], known)
    assert res.fixed == (0,)
    # The amount of the fixed species comes back in the known spectrum's scale.
    np.testing.assert_allclose(res.C[:, 0], C[:, 0] / 2.5, atol=0.02)
    _, corr = match_to_reference(res.S[1:], S[1:])
    assert np.all(corr > 0.99), corr
    # Array form: rows are components 0..k-1; closure on top of it.
    res = mcr_als(D, 3, fixed_spectra=S[:2], closure=1.0, max_iter=200)
    np.testing.assert_array_equal(res.S[:2], S[:2])
    assert np.max(np.abs(res.C.sum(axis=1) - 1.0)) < 1e-8
    assert np.corrcoef(res.S[2], S[2])[0, 1] > 0.99


def test_unimodality_when_requested():
    D, C, S = mixture(3, noise=0.02, seed=3)
    free = mcr_als(D, 3, max_iter=150)
    perm, _ = match_to_reference(free.S, S)
    middle = perm[1]  # the intermediate species B rises then falls
    assert not all(is_unimodal(free.C[:, k]) for k in range(3))  # noise breaks it unconstrained
    res = mcr_als(D, 3, unimodal=[0, 1, 2], max_iter=150)
    assert all(is_unimodal(res.C[:, k]) for k in range(3))
    perm, corr = match_to_reference(res.S, S)
    assert perm[1] == middle or corr[1] > 0.98


def test_initial_estimates_and_input_checks():
    D, C, S = mixture(3)
    pure = simplisma_pure_variables(D, 3)
    # Each purest variable lies on a band of a different species.
    owner = {int(np.argmax(S[:, j] / S.max(axis=1))) for j in pure}
    assert owner == {0, 1, 2}
    res = mcr_als(D, 3, init=S * 1.3, max_iter=50)  # starting at the truth stays there
    assert match_to_reference(res.S, S)[1].min() > 0.999
    res = mcr_als(D, 3, init="random", random_state=0, max_iter=5)
    assert res.S.shape == (3, D.shape[1]) and res.n_iter == 5 and not res.converged
    with pytest.raises(ValueError, match="shape"):
        mcr_als(D, 3, init=np.ones((4, D.shape[1])))
    with pytest.raises(ValueError, match="init"):
        mcr_als(D, 3, init="nonsense")
    with pytest.raises(ValueError, match="outside"):
        mcr_als(D, 3, fixed_spectra={3: S[0]})
    with pytest.raises(ValueError, match="NaN"):
        mcr_als(np.where(D > 0.5, np.nan, D), 3)


def test_agrees_with_pymcr():
    pytest.importorskip("pymcr")
    from pymcr.constraints import ConstraintNonneg, ConstraintNorm
    from pymcr.mcr import McrAR
    from pymcr.regressors import NNLS

    D, C, S = mixture(3, noise=0.002)
    start = mcr_als(D, 3, max_iter=1).S  # same initial guess for both
    ours = mcr_als(D, 3, init=start, closure=1.0, max_iter=100, tol=0.0)
    theirs = McrAR(c_regr=NNLS(), st_regr=NNLS(), max_iter=100,
                   c_constraints=[ConstraintNonneg(), ConstraintNorm()],
                   st_constraints=[ConstraintNonneg()], tol_increase=None, tol_n_increase=None,
                   tol_n_above_min=None)
    theirs.fit(D, ST=start.copy())
    D_theirs = theirs.C_opt_ @ theirs.ST_opt_
    assert np.corrcoef(D_theirs.ravel(), ours.reconstruction.ravel())[0, 1] > 0.999
    np.testing.assert_allclose(ours.reconstruction, D_theirs, atol=0.01)
    perm, corr = match_to_reference(ours.S, theirs.ST_opt_)
    assert np.all(corr > 0.99), corr
    assert np.all(profile_agreement(ours.C, theirs.C_opt_, perm) > 0.99)


# --------------------------------------------------------------------------- rank


@pytest.mark.parametrize("k_true", [2, 3])
def test_suggest_n_components(k_true):
    D, _, _ = mixture(k_true, noise=0.01, seed=k_true)
    k, singular_values, explained = suggest_n_components(D, max_k=8)
    assert k == k_true
    assert np.all(np.diff(singular_values) <= 0)
    assert np.all(np.diff(explained) >= 0) and explained[-1] == pytest.approx(1.0)
    k_clean, _, _ = suggest_n_components(mixture(k_true)[0])
    assert k_clean == k_true


# --------------------------------------------------------------------------- matching


def test_match_to_reference_finds_planted_permutation():
    _, C, S = mixture(3)
    planted = np.array([2, 0, 1])
    rng = np.random.default_rng(0)
    S_rec = np.empty_like(S)
    S_rec[planted] = 3.0 * S + 0.01 * rng.normal(size=S.shape)  # recovered order shuffled
    perm, corr = match_to_reference(S_rec, S)
    np.testing.assert_array_equal(perm, planted)
    assert np.all(corr > 0.99)
    C_rec = np.empty_like(C)
    C_rec[:, planted] = C
    np.testing.assert_allclose(profile_agreement(C_rec, C, perm), 1.0)
    # More true than recovered spectra: the unpaired one is flagged.
    perm, corr = match_to_reference(S_rec[:2], S)
    assert (perm == -1).sum() == 1 and np.isnan(corr[perm == -1]).all()


def test_match_components_names_planted_species():
    library = {name: [c for c, *_ in bands] for name, bands in BANDS.items()}
    library["PF6-"] = [840.0, 559.0]  # decoy: one band near Li2CO3's 870, one out of range
    library["DMC"] = [1750.0, 1270.0, 1100.0]
    order = ["Li2CO3", "EC", "LEDC"]
    junk = gaussian(WAVENUMBER_CM1, 1000.0, 10) + 0.8 * gaussian(WAVENUMBER_CM1, 1230.0, 10)
    S = np.stack([species_spectrum(n) for n in order] + [junk])
    shifted = np.interp(WAVENUMBER_CM1 - 6.0, WAVENUMBER_CM1, S[0])  # bands shifted by 6 cm-1
    S = np.vstack([S, shifted])
    matches = match_components(S, WAVENUMBER_CM1, library, tolerance_cm1=15)
    assert [m.species for m in matches] == order + ["unassigned", "Li2CO3"]
    assert [m.component for m in matches] == [0, 1, 2, 3, 4]
    assert matches[1].score == pytest.approx(1.0)
    assert sorted(b for b, _ in matches[1].matched_bands) == [900.0, 1160.0, 1800.0]
    # One-to-one: the shifted copy cannot take Li2CO3 a second time.
    matches = match_components(S, WAVENUMBER_CM1, library, one_to_one=True)
    assert [m.species for m in matches][:3] == order and matches[4].species != "Li2CO3"


# --------------------------------------------------------------------------- projection


def test_project_onto_spectra_recovers_planted_coefficients():
    S = torch.tensor(np.stack([species_spectrum(n) for n in BANDS]))
    C_true = torch.tensor([[1.0, 0.0, 0.5], [0.0, 0.0, 2.0], [0.3, 0.7, 0.0]], dtype=torch.float64)
    C = project_onto_spectra(C_true @ S, S)
    torch.testing.assert_close(C, C_true, atol=1e-10, rtol=0)
    # Against the NumPy active-set solver on spectra that need the constraint.
    D = torch.randn(16, S.shape[1], dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    expected = nnls_gram((S @ S.T).numpy(), (S @ D.T).numpy()).T
    np.testing.assert_allclose(project_onto_spectra(D, S).numpy(), expected, atol=1e-10)
    assert (project_onto_spectra(D, S, nonneg=False) < 0).any()
    # Many components (2^12 passive sets would be too many to try): same exact answer.
    S12 = torch.rand(12, 60, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    D12 = torch.rand(5, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) @ S12
    D12 = D12 - 0.3 * S12[0]
    expected = nnls_gram((S12 @ S12.T).numpy(), (S12 @ D12.T).numpy()).T
    np.testing.assert_allclose(project_onto_spectra(D12, S12).numpy(), expected, atol=1e-8)


def test_project_onto_spectra_gradients():
    gen = torch.Generator().manual_seed(3)
    S = torch.rand(3, 12, dtype=torch.float64, generator=gen)
    D = (torch.rand(4, 3, dtype=torch.float64, generator=gen) - 0.3) @ S
    D = (D + 0.01 * torch.randn(D.shape, dtype=torch.float64, generator=gen)).requires_grad_(True)
    S = S.requires_grad_(True)
    C = project_onto_spectra(D, S)
    assert (C == 0).any() and (C > 0).any()  # both active and passive coefficients
    assert torch.autograd.gradcheck(project_onto_spectra, (D, S))
    C.sum().backward()
    assert D.grad is not None and torch.isfinite(D.grad).all() and D.grad.abs().sum() > 0


def test_match_components_reads_band_records():
    # Records as the simulator writes them (center_cm1, relative_intensity) or as dicts.
    from collections import namedtuple

    Band = namedtuple("Band", "center_cm1 fwhm_cm1 relative_intensity")
    library = {"EC": [Band(c, w, a) for c, w, _, a in BANDS["EC"]] + [Band(1400.0, 10.0, 0.01)],
               "LEDC": [{"center_cm1": c, "relative_intensity": a} for c, _, _, a in BANDS["LEDC"]]}
    matches = match_components(np.stack([species_spectrum("EC"), species_spectrum("LEDC")]),
                               WAVENUMBER_CM1, library)
    assert [m.species for m in matches] == ["EC", "LEDC"]
    assert matches[0].score > 0.99  # the weak, undetected 1400 band costs only its weight
