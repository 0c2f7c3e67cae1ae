"""SEI pathways: signed baseline in MCR-ALS, rank from whitened singular values, electrolyte
references, agreement scores, and the whole comparison on simulated CoO data."""
from __future__ import annotations

import numpy as np
import pytest

from operando.decompose import mcr_als, polynomial_baseline
from operando.ir.data.preprocess import preprocess_experiment
from operando.ir.pathways import (
    PathwayDecomposition,
    compare_pathways,
    component_agreement,
    count_components,
    decompose_pathways,
    library_composition,
    noise_weights,
    pathway_singular_values,
    reference_spectra,
    scores_summary,
    truth_agreement,
)

GRID = np.linspace(800.0, 2000.0, 601)
COO = "coo-superp-gitt-1"


def gaussian(centre, width):
    return np.exp(-0.5 * ((GRID - centre) / width) ** 2)


@pytest.fixture(scope="module")
def coo():
    """One simulated CoO experiment (preprocessed), its raw dataset and the calibration set."""
    from operando.ir.simulate import simulate_calibration, simulate_dataset

    ds = simulate_dataset(0, experiments=[COO])
    return ds, preprocess_experiment(ds[COO])[0], simulate_calibration(0)


# --------------------------------------------------------------------------- MCR with a baseline


def test_signed_baseline_is_fitted_exactly_and_spectra_recovered():
    rng = np.random.default_rng(0)
    n = 60
    S = np.stack([gaussian(1650, 25) + 0.5 * gaussian(1320, 20), gaussian(1100, 30) + 0.4 * gaussian(950, 15)])
    t = np.linspace(0, 1, n)
    # Each component alone at one end, overlapping in between.
    C = np.column_stack([np.clip(1 - 1.5 * t, 0, None), np.clip(1.5 * t - 0.5, 0, None)])
    Z = polynomial_baseline(GRID, 1)
    B = rng.normal(0, 0.3, (n, 2))  # offsets and slopes of both signs, as large as the bands
    D = C @ S + B @ Z
    plain = mcr_als(D, 2, max_iter=300)
    fitted = mcr_als(D, 2, baseline=Z, init="svd-nnls", max_iter=2000, tol=1e-14)
    assert fitted.lack_of_fit_percent < 0.01 and plain.lack_of_fit_percent > 1.0
    np.testing.assert_allclose(fitted.reconstruction, D, atol=1e-4)
    assert fitted.S.min() >= 0 and fitted.baseline.shape == (2, GRID.size) and plain.baseline is None
    # A signed baseline widens MCR's rotational ambiguity a little; the spectra stay close.
    r = np.corrcoef(np.vstack([fitted.S, S]))[:2, 2:]
    assert np.abs(r).max(axis=1).min() > 0.9


def test_spectra_give_up_the_baseline_that_fits_under_them():
    from operando.decompose.mcr import _without_baseline_support

    S = np.stack([gaussian(1650, 25), gaussian(1100, 30) + 0.4 * gaussian(950, 15)])
    Z = polynomial_baseline(GRID, 1)
    lifted = S + np.array([[0.3, -0.2], [0.05, 0.04]]) @ Z  # both stay non-negative
    assert lifted.min() >= 0
    np.testing.assert_allclose(_without_baseline_support(lifted, Z), S, atol=1e-6)


def test_polynomial_baseline_shapes():
    Z = polynomial_baseline(GRID, 2)
    np.testing.assert_allclose(Z[0], 1.0)
    np.testing.assert_allclose(Z[1][[0, -1]], [-1.0, 1.0])
    np.testing.assert_allclose(Z[2][[0, 300, -1]], [1.0, -0.5, 1.0])  # P2(x) = (3x^2 - 1) / 2


# --------------------------------------------------------------------------- rank and weights


def test_whitened_singular_values_of_noise_sit_at_the_edge_and_count_signal():
    rng = np.random.default_rng(1)
    n = 200
    sigma = 0.01 * np.exp(0.5 * rng.standard_normal(n))  # SNR varying like the simulator's
    noise = sigma[:, None] * rng.standard_normal((n, GRID.size))
    sv = pathway_singular_values(noise)
    assert 0.9 < sv[0] < 1.1
    t = np.linspace(0, 1, n)
    signal = np.outer(t, gaussian(1650, 20)) + np.outer(t**3, gaussian(1100, 30))
    background = np.stack([np.ones_like(GRID), gaussian(1775, 10)])
    X = 0.5 * signal + np.outer(rng.normal(size=n), background[1]) + noise
    sv = pathway_singular_values(X, background)
    assert count_components(sv, margin=4.0) == 2
    assert count_components(sv, margin=1e9) == 1  # at least one


def test_noise_weights_are_inverse_noise_with_a_floor():
    rng = np.random.default_rng(2)
    sigma = np.array([0.0, 0.01, 0.02, 0.04])
    X = sigma[:, None] * rng.standard_normal((4, 4000))
    w = noise_weights(X)
    assert np.median(w) == pytest.approx(1.0)
    np.testing.assert_allclose(w[2] / w[3], 2.0, rtol=0.05)
    np.testing.assert_allclose(w[1] / w[2], 2.0, rtol=0.05)
    assert w[0] == pytest.approx(w[1] / (0.3 * 2 / 1), rel=0.1) or w[0] < 10 * w[1]  # floored, finite


# --------------------------------------------------------------------------- references, names


def test_reference_spectra_pick_calibration_electrolytes_near_the_cell(coo):
    _, e, cal = coo
    names, spectra = reference_spectra(e, "calibration", cal)
    # EC:DMC 1 M cell: every EC and/or DMC electrolyte within 0.3 M of 1 M; no VC, EMC, films.
    assert sorted(names) == sorted(["cal-ec-dmc-1-1-0.75M", "cal-ec-dmc-1-1-1.00M", "cal-ec-dmc-1-1-1.25M",
                                    "cal-ec-dmc-3-7-1.00M", "cal-ec-dmc-7-3-1.00M", "cal-dmc-1.00M",
                                    "cal-ec-1.20M"])
    assert spectra.shape == (7, 601) and np.all(np.isfinite(spectra))
    lib_names, lib = reference_spectra(e, "library")
    assert lib_names == ["DMC", "DMC-Li+", "EC", "EC-Li+", "PF6-"] and lib.shape == (5, 601)
    assert reference_spectra(e, "auto", cal)[0] == names
    assert reference_spectra(e, "none")[1].shape == (0, 601)
    with pytest.raises(ValueError, match="calibration dataset"):
        reference_spectra(e, "calibration")


def test_library_composition_of_pure_and_mixed_species():
    from operando.ir.simulate.bands import component_spectra

    L = component_spectra(["LEDC", "gel"], GRID)
    comp = library_composition(np.vstack([L[0], L[0] + L[1]]), GRID)
    assert comp[0] == {"LEDC": 1.0}
    shares = L.sum(axis=1) / L.sum()
    assert comp[1]["LEDC"] == pytest.approx(shares[0], abs=2e-3)
    assert comp[1]["gel"] == pytest.approx(shares[1], abs=2e-3)


# --------------------------------------------------------------------------- agreement (golden)


def _decomposition(spectra, profiles, names=None):
    n = profiles[0].shape[0]
    return PathwayDecomposition(
        experiments=[f"x{i}" for i in range(len(profiles))], mode="difference", wavenumber_cm1=GRID,
        spectra=np.asarray(spectra), profiles=list(profiles), time_s=[np.arange(n)] * len(profiles),
        voltage_v=[np.zeros(n)] * len(profiles), background_names=[], singular_values=np.ones(3),
        n_components_suggested=len(spectra), lack_of_fit_percent=0.0, explained_variance=1.0, n_iter=1,
        converged=True, names=names or [f"c{k}" for k in range(len(spectra))])


def test_truth_agreement_pairs_planted_components(coo):
    _, e, _ = coo
    t = e.truth
    idx = [t.component_names.index(n) for n in ("gel", "LEDC")]
    d = _decomposition(3.0 * t.component_spectra[idx], [2.0 * t.concentrations[:, idx]])
    scores = truth_agreement(d, [e])
    assert [c["true_component"] for c in scores["components"]] == ["gel", "LEDC"]
    for c in scores["components"]:
        assert c["spectrum_correlation"] == pytest.approx(1.0, abs=1e-4)
        assert c["profile_correlation"] == pytest.approx(1.0, abs=1e-4)
        assert c["mixture_correlation"] == pytest.approx(1.0, abs=1e-4)
        assert c["mixture"] == {c["true_component"]: 1.0}
    assert scores["min_spectrum_correlation"] == pytest.approx(1.0, abs=1e-4)
    # polyVC never forms in an EC:DMC cell: not among the true products.
    assert "polyVC" not in scores["true_components"] and "LEDC" in scores["true_components"]


def test_component_agreement_follows_a_permutation():
    S = np.stack([gaussian(1650, 20), gaussian(1100, 30), gaussian(1450, 40)])
    rng = np.random.default_rng(3)
    C = rng.uniform(size=(30, 3))
    a = _decomposition(S, [C])
    b = _decomposition(S[[2, 0, 1]], [C[:, [2, 0, 1]]])
    pairs = component_agreement(a, b)["pairs"]
    assert [(p["component"], p["matched_component"]) for p in pairs] == [(1, 2), (2, 3), (3, 1)]
    assert all(p["spectrum_correlation"] == pytest.approx(1.0) and p["profile_correlation"] == pytest.approx(1.0)
               for p in pairs)


# --------------------------------------------------------------------------- the whole comparison


class TruthForecaster:
    """Returns the noiseless sequence: a perfect forecast. Checks it only sees s_0."""

    def __init__(self, experiment):
        self.experiment = experiment

    def predict(self, context, steps):
        assert context.truth is None and np.isnan(context.absorbance[1:]).all()
        np.testing.assert_array_equal(context.absorbance[0], self.experiment.absorbance[0])
        return self.experiment.truth.noiseless[steps].astype(np.float64)


def test_compare_pathways_recovers_the_sei_pathways_of_coo(coo):
    ds, e, cal = coo
    # At the measured cell's noise the salt polarisation of the pulses is resolvable too (a third
    # singular value above the margin); the SEI pathways are the two largest.
    result = compare_pathways(ds, COO, TruthForecaster(e), calibration=cal, n_components=2)
    measured, forecast = result["measured"], result["forecast"]
    assert measured.n_components == forecast.n_components == 2
    assert measured.singular_values[1] > 4.0 and measured.n_components_suggested >= 2
    assert sorted(measured.names) == ["LEDC", "gel"]
    truth = result["scores"]["measured_vs_true"]
    assert sorted(c["true_component"] for c in truth["components"]) == ["LEDC", "gel"]
    # the gel's broad bands share the window with the salt polarisation left in the two components
    # (0.81 against 0.89 when a third component takes it); LEDC's are recovered closely
    assert truth["min_spectrum_correlation"] >= 0.78
    assert max(c["spectrum_correlation"] for c in truth["components"]) >= 0.95
    assert all(c["profile_correlation"] >= 0.85 for c in truth["components"])
    # A perfect (noiseless) forecast yields the same pathways.
    agreement = result["scores"]["forecast_vs_measured"]
    assert agreement["min_spectrum_correlation"] >= 0.9
    assert result["scores"]["forecast_vs_true"]["min_spectrum_correlation"] >= 0.78
    summary = scores_summary(result)
    assert summary["measured"]["background"][:3] == ["offset", "slope", f"s_0 of {COO}"]
    assert len(summary["references"]) == 7
    import json

    json.dumps(summary)  # JSON-ready


def test_a_flat_forecast_does_not_match(coo):
    ds, e, cal = coo
    flat = {COO: np.repeat(e.absorbance[:1].astype(np.float64), len(e), axis=0)
            + 0.01 * np.random.default_rng(4).standard_normal(e.absorbance.shape)}
    result = compare_pathways(ds, COO, forecasts=flat, calibration=cal, n_components=2)
    assert result["scores"]["forecast_vs_measured"]["min_spectrum_correlation"] < 0.5


def test_raw_mode_and_input_checks(coo):
    _, e, _ = coo
    raw = decompose_pathways([e], mode="raw", fix_initial=True, n_components=2, max_iter=100)
    assert raw.fixed == (0,) and raw.n_components == 3 and raw.names[0].startswith("s_0")
    np.testing.assert_allclose(raw.spectra[0], e.absorbance[0])
    assert truth_agreement(raw, [e])["components"][0]["component"] == 2  # fixed s_0 is not scored
    with pytest.raises(ValueError, match="mode"):
        decompose_pathways([e], mode="ratio")
    with pytest.raises(ValueError, match="unimodal"):
        decompose_pathways([e], n_components=1, unimodal=[3])
    with pytest.raises(ValueError, match="shape"):
        decompose_pathways([e], [e.absorbance[:5]])
    with pytest.raises(ValueError, match="row_weights"):
        decompose_pathways([e], row_weights=np.ones(3))
