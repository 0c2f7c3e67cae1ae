"""Sampled-forecast spread, central intervals and coverage."""
from __future__ import annotations

import numpy as np
import pytest
from toy import load_benchmark

from operando.ir.bench.uncertainty import ConformalScale, interval_coverage, summarize_samples


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


def _gaussian_problem(seed, n, w, n_samples, spread):
    """Truth ~ N(mu, sigma^2); draws ~ N(mu, (spread * sigma)^2): under-dispersed when spread < 1."""
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=(n, w))
    sigma = rng.uniform(0.5, 2.0, size=(n, w))
    truth = mu + sigma * rng.standard_normal((n, w))
    draws = mu + spread * sigma * rng.standard_normal((n_samples, n, w))
    return truth, draws


def test_conformal_scale_repairs_under_dispersed_draws():
    cal_truth, cal_draws = _gaussian_problem(1, 60, 200, 16, spread=1 / 3)
    test_truth, test_draws = _gaussian_problem(2, 60, 200, 16, spread=1 / 3)
    raw = summarize_samples(test_draws, 0.9)
    assert interval_coverage(test_truth, raw.low, raw.high).overall < 0.6   # the failure it repairs
    scale = ConformalScale.fit(cal_truth, cal_draws)
    for level in (0.5, 0.8, 0.9, 0.95):
        s = scale.summarize(test_draws, level)
        assert abs(interval_coverage(test_truth, s.low, s.high).overall - level) < 0.02
        assert np.allclose(s.high - s.mean, scale.factor(level) * s.std)
    assert np.all(np.diff(scale.factors) >= 0)   # wider intervals for higher levels
    # Draws that are already calibrated need no widening: q at 90 % ~ 1.645 * (t-ish factor of 16 draws).
    cal_truth, cal_draws = _gaussian_problem(3, 60, 200, 16, spread=1.0)
    assert 1.5 < ConformalScale.fit(cal_truth, cal_draws).factor(0.9) < 2.0


def test_conformal_scale_finite_sample_rule_and_round_trip():
    truth = np.zeros((1, 4))
    draws = np.stack([np.full((1, 4), -1.0), np.full((1, 4), 1.0)])   # mean 0, std sqrt(2)
    truth[0] = [0.0, 1.0, 2.0, 3.0]
    scale = ConformalScale.fit(truth, draws, levels=(0.5, 0.9))
    scores = np.array([0.0, 1.0, 2.0, 3.0]) / np.sqrt(2.0)
    assert scale.factor(0.5) == pytest.approx(scores[2])   # ceil(5 * 0.5) = 3rd smallest
    assert scale.factor(0.9) == float("inf")              # ceil(5 * 0.9) = 5 > 4 values
    assert ConformalScale.from_dict(scale.to_dict()) == scale
    with pytest.raises(ValueError, match="no conformal factor for level 0.7"):
        scale.factor(0.7)
    with pytest.raises(ValueError, match="samples"):
        ConformalScale.fit(truth, draws[:1])


def test_grouped_conformal_scale_covers_its_hardest_group():
    """Two held-out groups, one twice as under-dispersed: the grouped factor is the hard group's,
    so each group's own coverage is at least the level; pooling lets the hard group under-cover."""
    easy_truth, easy_draws = _gaussian_problem(4, 60, 200, 16, spread=1 / 2)
    hard_truth, hard_draws = _gaussian_problem(5, 20, 200, 16, spread=1 / 4)
    truth, draws = np.concatenate([easy_truth, hard_truth]), np.concatenate([easy_draws, hard_draws], axis=1)
    groups = np.array(["easy"] * 60 + ["hard"] * 20)
    grouped = ConformalScale.fit(truth, draws, groups=groups)
    hard = ConformalScale.fit(hard_truth, hard_draws)
    assert grouped.factors == hard.factors and grouped.n_groups == 2 and grouped.n_values == truth.size
    assert grouped.by_group["hard"] == hard.factors and grouped.by_group["easy"] == ConformalScale.fit(
        easy_truth, easy_draws).factors
    pooled = ConformalScale.fit(truth, draws)
    assert pooled.n_groups == 1 and pooled.factor(0.9) < grouped.factor(0.9)
    for scale, at_least in ((grouped, True), (pooled, False)):
        s = scale.summarize(hard_draws, 0.9)
        assert (interval_coverage(hard_truth, s.low, s.high).overall >= 0.9) is at_least
    assert ConformalScale.from_dict(grouped.to_dict()) == grouped
    assert ConformalScale.from_dict({"levels": [0.9], "factors": [2.0], "n_values": 5}).n_groups == 1   # older files
    with pytest.raises(ValueError, match="one label per spectrum"):
        ConformalScale.fit(truth, draws, groups=groups[:10])


def test_results_page_lists_both_interval_factors(tmp_path):
    """benchmarks/ir/regenerate_results.py reads the factors back from a run folder."""
    import json

    regenerate = load_benchmark("regenerate_results")
    truth, draws = _gaussian_problem(6, 30, 50, 8, spread=1 / 2)
    seen = ConformalScale.fit(truth[:10], draws[:, :10])
    unseen = ConformalScale.fit(truth, draws, groups=np.array(["A|x|Li"] * 10 + ["B|y|Li"] * 20))
    run = tmp_path / "runs" / "abcc-system"
    (run / "system-folds" / "fold-0").mkdir(parents=True)
    (run / "system-folds" / "fold-0" / "metrics.csv").write_text("step,loss,mse,lr,seconds\n5,1,1,0.001,12.5\n")
    (run / "forecaster.json").write_text(json.dumps({"model": {"conformal": seen.to_dict(),
                                                               "conformal_unseen": unseen.to_dict()}}))
    (tmp_path / "runs" / "plain").mkdir()
    (tmp_path / "runs" / "plain" / "forecaster.json").write_text(json.dumps({"model": {"conformal": None}}))
    [row] = regenerate.interval_rows(tmp_path)
    low, high = sorted((unseen.by_group[g][unseen.levels.index(0.9)], g.replace("|", "\\|")) for g in unseen.by_group)
    assert row == (f"| abcc-system | {seen.factor(0.9):.2f} (500 values) | {unseen.factor(0.9):.2f} (2 systems) | "
                   f"{low[0]:.2f} {low[1]} | {high[0]:.2f} {high[1]} | 12 |")
    assert high[0] == unseen.factor(0.9)
