"""Tests of the per-spectrum OpIRBench metrics (operando.ir.bench.metrics)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from operando.ir.bench.metrics import (
    HIGHER_IS_BETTER,
    METRIC_NAMES,
    METRIC_SCALES,
    cosine_similarity,
    mae,
    mse,
    r2_score,
    rmse,
    scaled_mean_std,
    spectral_angle_deg,
    spectrum_metrics,
)


def random_spectra(n=5, w=40, seed=0):
    rng = np.random.default_rng(seed)
    y_true = rng.normal(size=(n, w)) + 1.0
    y_pred = y_true + 0.2 * rng.normal(size=(n, w))
    return y_true, y_pred


def test_identical_spectra_are_perfect():
    y, _ = random_spectra()
    out = spectrum_metrics(y, y.copy())
    assert set(out) == {"MAE", "MSE", "RMSE", "SAM", "cosine", "R2"}
    for name in ("MAE", "MSE", "RMSE", "SAM"):
        assert np.array_equal(out[name], np.zeros(5)), name
    np.testing.assert_allclose(out["cosine"], 1.0, rtol=0, atol=1e-15)
    assert np.array_equal(out["R2"], np.ones(5))
    assert all(v.shape == (5,) and v.dtype == np.float64 for v in out.values())


def test_hand_computed_values():
    y_true = np.array([[1.0, 2.0, 3.0, 4.0]])
    y_pred = np.array([[1.0, 3.0, 3.0, 2.0]])   # errors 0, -1, 0, 2
    assert mae(y_true, y_pred) == pytest.approx([0.75])
    assert mse(y_true, y_pred) == pytest.approx([1.25])
    assert rmse(y_true, y_pred) == pytest.approx([math.sqrt(1.25)])
    # SS_res = 5, mean 2.5, SS_tot = 2.25 + 0.25 + 0.25 + 2.25 = 5 -> R2 = 0
    assert r2_score(y_true, y_pred) == pytest.approx([0.0], abs=1e-15)
    dot, n1, n2 = 1 + 6 + 9 + 8, math.sqrt(30.0), math.sqrt(23.0)
    assert cosine_similarity(y_true, y_pred) == pytest.approx([dot / (n1 * n2)])
    assert spectral_angle_deg(y_true, y_pred) == pytest.approx(
        [math.degrees(math.acos(dot / (n1 * n2)))], rel=1e-12)


def test_known_angles():
    y_true = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [3.0, 3.0]])
    y_pred = np.array([[0.0, 2.0], [-1.0, 0.0], [1.0, 1.0], [1.0, 1.0]])
    np.testing.assert_allclose(spectral_angle_deg(y_true, y_pred), [90.0, 180.0, 45.0, 0.0],
                               atol=1e-12)
    np.testing.assert_allclose(cosine_similarity(y_true, y_pred),
                               [0.0, -1.0, math.sqrt(0.5), 1.0], atol=1e-15)


def test_r2_mean_prediction_is_zero_and_can_be_negative():
    y_true = np.array([[1.0, 2.0, 6.0], [1.0, 2.0, 6.0]])
    y_pred = np.array([[3.0, 3.0, 3.0], [6.0, 2.0, 1.0]])
    # second row: SS_res = 25 + 0 + 25 = 50, SS_tot = 4 + 1 + 9 = 14
    np.testing.assert_allclose(r2_score(y_true, y_pred), [0.0, 1.0 - 50.0 / 14.0], atol=1e-15)


def test_sam_and_cosine_invariant_to_positive_scaling():
    y_true, y_pred = random_spectra(seed=1)
    for scale in (1e-3, 0.5, 7.0, 1e4):
        np.testing.assert_allclose(spectral_angle_deg(y_true, scale * y_pred),
                                   spectral_angle_deg(y_true, y_pred), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(cosine_similarity(y_true, scale * y_pred),
                                   cosine_similarity(y_true, y_pred), rtol=1e-12)
    # but not MSE
    assert not np.allclose(mse(y_true, 2.0 * y_pred), mse(y_true, y_pred))


def test_sam_accurate_for_tiny_angles():
    y_true = np.array([[1.0, 0.0, 0.0]])
    y_pred = np.array([[1.0, 1e-9, 0.0]])
    assert spectral_angle_deg(y_true, y_pred) == pytest.approx([math.degrees(1e-9)], rel=1e-6)


def test_zero_norm_conventions():
    y_true = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 2.0]])
    y_pred = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    np.testing.assert_array_equal(spectral_angle_deg(y_true, y_pred), [0.0, 90.0, 90.0])
    np.testing.assert_array_equal(cosine_similarity(y_true, y_pred), [1.0, 0.0, 0.0])


def test_r2_constant_true_spectrum():
    y_true = np.array([[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]])
    y_pred = np.array([[2.0, 2.0, 2.0], [2.0, 2.5, 2.0]])
    np.testing.assert_array_equal(r2_score(y_true, y_pred), [1.0, 0.0])


def test_metrics_are_per_spectrum():
    y_true, y_pred = random_spectra(n=4, seed=2)
    whole = spectrum_metrics(y_true, y_pred)
    for k in range(4):
        single = spectrum_metrics(y_true[k:k + 1], y_pred[k:k + 1])
        for name in whole:
            assert whole[name][k] == pytest.approx(single[name][0], rel=1e-13), name


def test_input_validation():
    with pytest.raises(ValueError):
        spectrum_metrics(np.zeros((3, 4)), np.zeros((3, 5)))
    with pytest.raises(ValueError):
        spectrum_metrics(np.zeros(4), np.zeros(4))
    with pytest.raises(ValueError):
        spectrum_metrics(np.zeros((2, 4)), np.full((2, 4), np.nan))


def test_scales_and_directions():
    assert METRIC_SCALES == {"MAE": 1e-2, "MSE": 1e-3, "RMSE": 1e-2, "SAM": 1, "cosine": 1,
                             "R2": 1, "DILATE": 1}
    assert set(METRIC_NAMES) == set(METRIC_SCALES)
    assert HIGHER_IS_BETTER == {"cosine", "R2"}
    mean, std = scaled_mean_std("MSE", np.array([1e-3, 3e-3]))
    assert (mean, std) == pytest.approx((2.0, 1.0))
    assert scaled_mean_std("R2", np.array([0.5])) == (0.5, 0.0)
