"""Sampled-forecast spread, central intervals and coverage."""
from __future__ import annotations

import numpy as np
import pytest

from operando.bench.uncertainty import interval_coverage, summarize_samples


def test_gaussian_samples_cover_ninety_percent():
    rng = np.random.default_rng(7)
    n, w, n_samples = 40, 250, 400
    mu = rng.normal(size=(n, w))
    sigma = rng.uniform(0.5, 2.0, size=(n, w))
    samples = mu + sigma * rng.standard_normal((n_samples, n, w))
    truth = mu + sigma * rng.standard_normal((n, w))  # a draw from the same distribution
    summary = summarize_samples(samples, level=0.9)
    cov = interval_coverage(truth, summary.low, summary.high)
    assert abs(cov.overall - 0.9) < 0.02
    assert cov.per_spectrum.shape == (n,)
    assert np.isclose(cov.per_spectrum.mean(), cov.overall)
    # Mean, spread and interval of the samples match the generating Gaussian.
    assert np.abs(summary.mean - mu).mean() < 0.1
    assert abs(np.median(summary.std / sigma) - 1.0) < 0.03
    z90 = 1.6448536269514722  # standard normal 95 % quantile
    assert abs(np.median(summary.width / (2 * z90 * sigma)) - 1.0) < 0.05
    # A too-narrow interval under-covers.
    narrow = summarize_samples(samples, level=0.5)
    assert abs(interval_coverage(truth, narrow.low, narrow.high).overall - 0.5) < 0.03


def test_coverage_closed_form():
    truth = np.array([[0.0, 1.0, 2.0, 3.0], [0.5, 0.5, 0.5, 5.0]])
    low = np.zeros((2, 4))
    high = np.ones((2, 4))
    cov = interval_coverage(truth, low, high)
    assert cov.per_spectrum.tolist() == [0.5, 0.75]  # bounds are inclusive
    assert cov.overall == pytest.approx(5 / 8)


def test_quantile_interval_on_known_samples():
    samples = np.arange(11, dtype=float).reshape(11, 1, 1) * np.ones((11, 2, 3))  # 0..10 everywhere
    s = summarize_samples(samples, level=0.8)
    assert np.allclose(s.low, 1.0) and np.allclose(s.high, 9.0)
    assert np.allclose(s.mean, 5.0) and np.allclose(s.std, np.std(np.arange(11.0), ddof=1))


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"\(N, n, W\)"):
        summarize_samples(np.zeros((5, 4)))
    with pytest.raises(ValueError, match="level"):
        summarize_samples(np.zeros((5, 2, 3)), level=1.5)
    with pytest.raises(ValueError, match="at least 2"):
        summarize_samples(np.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match="same|must all"):
        interval_coverage(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="low"):
        interval_coverage(np.zeros((1, 2)), np.ones((1, 2)), np.zeros((1, 2)))
