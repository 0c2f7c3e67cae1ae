"""Perturbations of computed spectra (issue 36, simulated computed-to-measured gap)."""
import numpy as np
import pytest

from operando.xas.perturb import PERTURBATIONS, broaden, coarse, noise, perturbed_sets, shift, tilt

G = -5 + 0.25 * np.arange(201)


def test_shift_moves_a_peak():
    x = np.exp(-((G - 10) / 1.0) ** 2)[None]
    assert G[np.argmax(shift(x, G, 3.0)[0])] == pytest.approx(13.0)
    assert G[np.argmax(shift(x, G, -5.0)[0])] == pytest.approx(5.0)


def test_broaden_closed_form_gaussian_widths_add_in_quadrature():
    s0 = 0.5  # sigma of the input peak, eV
    x = np.exp(-0.5 * ((G - 20) / s0) ** 2)[None]
    fwhm = 2.0
    y = broaden(x, G, fwhm)[0]
    s1 = fwhm / (2 * np.sqrt(2 * np.log(2)))
    sigma_out = np.sqrt(np.sum(y * (G - 20) ** 2) / np.sum(y))
    assert sigma_out == pytest.approx(np.hypot(s0, s1), rel=0.02)
    assert y.sum() == pytest.approx(x.sum(), rel=1e-6)  # area kept


def test_tilt_noise_coarse():
    x = np.zeros((2000, len(G)))
    t = tilt(x, G, 0.1)
    assert t[0, -1] == pytest.approx(0.05) and t[0, 0] == 0
    n = noise(x, 30.0, np.random.default_rng(0))
    assert n.std() == pytest.approx(1 / 30, rel=0.02)
    lin = (2 * G + 1)[None]
    np.testing.assert_allclose(coarse(lin, G, 1.0), lin, atol=1e-9)  # linear data survives exactly
    bump = np.cos(2 * np.pi * G / 1.0)[None]  # 1 eV period is lost on a 1 eV grid
    assert np.abs(coarse(bump, G) - 1).max() < 1e-9


def test_every_perturbation_changes_the_spectra_and_keeps_shape():
    x = 0.5 + np.arctan(G / 1.5)[None].repeat(3, 0) / np.pi
    out = perturbed_sets(x, G, seed=1)
    assert set(out) == set(PERTURBATIONS)
    for name, y in out.items():
        assert y.shape == x.shape and not np.allclose(y, x, atol=1e-4), name


def test_alignment_on_one_reference_undoes_a_rigid_shift_for_every_row():
    from operando.xas.bench import aligned_sets

    rng = np.random.default_rng(0)
    centres = rng.uniform(3, 12, 20)
    clean = np.stack([0.5 + np.arctan((G - c) / 1.5) / np.pi + 0.5 * np.exp(-((G - c - 4) / 2) ** 2) for c in centres])
    sets = {"shift +5 eV": shift(clean, G, 5.0), "broaden": clean.copy()}
    out, shifts = aligned_sets(sets, clean, G)
    assert shifts["shift +5 eV"] == pytest.approx(-5.0, abs=0.05) and shifts["broaden"] == pytest.approx(0.0, abs=0.05)
    inside = G <= 39  # the last 5 eV were filled with the end value by the shift itself
    np.testing.assert_allclose(out["shift +5 eV"][:, inside], clean[:, inside], atol=0.02)
    assert np.abs(sets["shift +5 eV"] - clean)[:, inside].max() > 0.3  # before alignment they differ
