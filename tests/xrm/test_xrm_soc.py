"""Spectral rendering and SOC inference: end members, lever rule, noise level, charge conservation."""
from __future__ import annotations

import json

import numpy as np
import pytest

from operando.errors import InputError
from operando.xrm import render as rd
from operando.xrm import soc as S

X0, X1 = 0.95, 0.5


@pytest.fixture(scope="module")
def model():
    return rd.SpectralModel(rd.RenderConfig(), X0, X1)


def test_theta_round_trip_and_window(model):
    soc = np.linspace(0.05, 1.0, 40)
    np.testing.assert_allclose(model.soc_from_theta(model.theta(soc)), soc, atol=1e-12)
    x = X0 - soc * (X0 - X1)
    np.testing.assert_array_equal(model.two_phase(soc), (x <= 0.94) & (x >= 0.75))


def test_end_members_and_lever_rule(model):
    lith, dele = model.end_members()
    np.testing.assert_allclose(model.spectra(np.array(0.0)), lith)
    np.testing.assert_allclose(model.spectra(np.array(1.0)), dele)
    # inside the two-phase window a pixel is a lever-rule mixture of the boundary phases
    soc_a = (X0 - 0.94) / (X0 - X1)
    soc_b = (X0 - 0.75) / (X0 - X1)
    sa, sb = model.spectra(np.array(soc_a)), model.spectra(np.array(soc_b))
    mid = model.spectra(np.array(0.5 * (soc_a + soc_b)))
    np.testing.assert_allclose(mid, 0.5 * (sa + sb), atol=1e-12)
    # and the window changes the spectrum much less than the whole charge does (the ambiguity)
    assert np.linalg.norm(sb - sa) < 0.2 * np.linalg.norm(dele - lith)
    # the delithiated edge sits higher in energy
    e = model.energy
    assert S._edge_energy(S.normalise(dele), e) > S._edge_energy(S.normalise(lith), e) + 0.5


def test_poisson_noise_matches_snr(model):
    soc = np.ones((1, 40, 40))
    cfg = rd.RenderConfig(snr=50, jitter_eV=0.0, thickness_sigma=0.0)
    clean = rd.render_stack(soc, model, rd.RenderConfig(snr=0, jitter_eV=0.0, thickness_sigma=0.0))["mu"]
    noisy = rd.render_stack(soc, model, cfg)["mu"]
    sd = np.std(noisy[..., -10:] - clean[..., -10:])
    assert 0.8 / 50 < sd < 1.25 / 50


def test_edge_position_recovers_solid_solution_soc_without_noise(model):
    soc = np.linspace(0.5, 1.0, 12).reshape(1, 3, 4)
    mu = rd.render_stack(soc, model, rd.RenderConfig(snr=0, jitter_eV=0.0))["mu"]
    np.testing.assert_allclose(S.soc_edge_position(mu, model), soc, atol=0.02)
    lcf = S.soc_linear_combination(mu, model)
    assert np.max(np.abs(lcf - soc)) < 0.1


def test_bad_end_member_file(tmp_path):
    p = tmp_path / "em.json"
    p.write_text(json.dumps({"x": [1, 2, 3], "y": [1, 2]}))
    with pytest.raises(InputError, match="em.json"):
        rd.load_end_member(p)
    with pytest.raises(InputError, match="no such file"):
        rd.load_end_member(tmp_path / "none.json")


def _conserving_map(n_f=6, n_d=10, n_l=3, Q=2e8, dx=1e-5, I=-30.0):
    times = np.linspace(0, 600, n_f)
    passed = -I * times  # C/m2
    depth = np.linspace(1.5, 0.5, n_d)[:, None] * np.ones((1, n_l))
    shape = depth / depth.sum(axis=0).mean()
    soc = passed[:, None, None] / (Q * dx) * shape[None]
    return soc, times, np.full(n_f, I), Q, dx


def test_charge_conservation_penalty_zero_for_conserving_map_and_positive_otherwise():
    soc, t, i, Q, dx = _conserving_map()
    assert S.charge_conservation_penalty(soc, t, i, Q, dx) < 1e-20
    assert S.charge_conservation_error(soc, t, i, Q, dx) < 1e-12
    # redistributing SOC in depth keeps charge; scaling it does not
    assert S.charge_conservation_penalty(soc[:, ::-1], t, i, Q, dx) < 1e-20
    assert S.charge_conservation_penalty(1.1 * soc, t, i, Q, dx) > 1e-3
    assert S.charge_conservation_error(0.9 * soc, t, i, Q, dx) == pytest.approx(0.1)


def test_prnn_runs_small_and_is_seeded(model):
    soc, t, i, Q, dx = _conserving_map(n_f=4, n_d=6, n_l=2)
    mu = rd.render_stack(soc, model, rd.RenderConfig(snr=100))["mu"]
    kw = dict(snr=100, n_train=500, n_calibrate=500, epochs=15)
    a = S.soc_prnn(mu, model, t, i, Q, dx, **kw)
    b = S.soc_prnn(mu, model, t, i, Q, dx, **kw)
    assert a.shape == soc.shape and np.all((a >= 0) & (a <= 1))
    np.testing.assert_array_equal(a, b)


def test_front_error_metrics_on_a_shifted_front():
    from operando.xrm.metrics import front_error_profile_px, front_error_px

    depth = np.arange(20)[None, :, None] + 0.5
    fronts = np.array([4.0, 8.0, 12.0])[:, None, None]
    soc = np.clip(1.0 - (depth - fronts) / 2.0, 0, 1) * np.ones((3, 20, 3))
    shifted = np.clip(1.0 - (depth - fronts - 2.0) / 2.0, 0, 1) * np.ones((3, 20, 3))
    assert front_error_px(soc, soc) == 0.0 and front_error_profile_px(soc, soc) == 0.0
    assert front_error_px(shifted, soc) == pytest.approx(2.0)
    assert front_error_profile_px(shifted, soc) == pytest.approx(2.0)


def test_the_shipped_end_member_is_the_one_its_source_names():
    """The shipped LiCoO2 spectrum has the hash in reference/SOURCE.md and in render.py, and the
    white line its source describes (1.97 at 7730.3 eV, 100 energies 7713.2-7768.4 eV)."""
    import hashlib

    data = rd.DEFAULT_LICOO2.read_bytes()
    assert hashlib.sha256(data).hexdigest() == rd.DEFAULT_LICOO2_SHA256
    assert rd.DEFAULT_LICOO2_SHA256 in (rd.DEFAULT_LICOO2.parent / "SOURCE.md").read_text()
    d = json.loads(data)
    energy, mu = np.array(d["x"]), np.array(d["y"])
    assert len(energy) == 100 and energy[0] == pytest.approx(7713.2, abs=0.05) and energy[-1] == pytest.approx(7768.4, abs=0.05)
    assert mu.max() == pytest.approx(1.97, abs=0.01) and energy[mu.argmax()] == pytest.approx(7730.3, abs=0.1)


def test_regularised_maps_conserve_charge_and_average_out_pixel_noise():
    """The physics regularisation of the network's maps: the stored charge follows the current
    exactly, and on a smooth truth the per-pixel noise (and a per-frame offset, the energy jitter's
    signature) mostly goes."""
    n_f, n_d, n_l = 8, 12, 6
    soc, t, i, Q, dx = _conserving_map(n_f, n_d, n_l, I=-10.0)
    rng = np.random.default_rng(0)
    noisy = soc + rng.normal(0, 0.05, soc.shape) + rng.normal(0, 0.03, (n_f, 1, 1))
    out = S.regularise_soc_maps(noisy, np.full(soc.shape, 0.05), t, i, Q, dx)
    assert S.charge_conservation_penalty(np.clip(soc, 0, 1), t, i, Q, dx) < 1e-20  # truth inside [0, 1]
    assert S.charge_conservation_penalty(out, t, i, Q, dx) < 1e-12
    assert S.charge_conservation_penalty(noisy, t, i, Q, dx) > 1e-3
    rmse = lambda a: float(np.sqrt(np.mean((a - soc) ** 2)))  # noqa: E731
    assert rmse(out) < 0.25 * rmse(noisy)
    # a pixel said to be 100x more certain pulls its own estimate towards its observation
    sigma = np.full(soc.shape, 0.05)
    sigma[4, 6, 3] = 5e-4
    noisy[4, 6, 3] = soc[4, 6, 3] + 0.2
    pulled = S.regularise_soc_maps(noisy, sigma, t, i, Q, dx)
    assert pulled[4, 6, 3] - out[4, 6, 3] > 0.1


def test_network_error_model_is_calibrated(model):
    """The network's stated per-pixel error matches its actual error on fresh rendered spectra."""
    net = S.train_soc_network(model, snr=50, n_train=3000, n_calibrate=2000, epochs=300, seed=0)
    rng = np.random.default_rng(5)
    mu, soc = S._rendered_spectra(model, 3000, rng, snr=50, jitter_eV=0.2, thickness_sigma=0.25, background=1.0)
    pred, sigma = net.predict(mu[:, None, None, :])
    z = (pred[:, 0, 0] - soc) / sigma[:, 0, 0]
    assert 0.7 < float(np.sqrt(np.mean(z ** 2))) < 1.4


def test_reaction_front_is_the_centroid_of_the_soc_gained():
    from operando.xrm.metrics import front_error_reaction_px
    from operando.xrm.physics import reaction_front_depth

    soc = np.zeros((3, 10, 2))
    soc[1, 2] = 0.4  # interval 0: all gain at depth pixel 2
    soc[2, 2], soc[2, 6] = 0.4, 0.4  # interval 1: all gain at pixel 6
    np.testing.assert_allclose(reaction_front_depth(soc), [2.5, 6.5])
    shifted = np.roll(soc, 1, axis=1)
    assert front_error_reaction_px(shifted, soc) == pytest.approx(1.0)


def test_soc_noise_estimate_is_truth_free_and_right():
    from operando.xrm.soc_study import estimate_soc_noise

    smooth = np.linspace(0, 1, 40)[None, None, :] * np.ones((5, 8, 1))
    noise = np.random.default_rng(1).normal(0, 0.03, smooth.shape)
    assert estimate_soc_noise(smooth) < 1e-9
    assert estimate_soc_noise(smooth + noise) == pytest.approx(0.03, rel=0.15)
