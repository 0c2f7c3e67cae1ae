"""Tests of soft-DTW / DILATE (operando.ir.bench.dilate): reference values, naive loops, tslearn,
gradients against finite differences, batch-mean scaling."""
from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
import torch

from operando.ir.bench.dilate import (
    DILATELoss,
    SoftDTWLoss,
    _skew,
    _soft_alignment,
    _soft_alignment_hvp,
    _soft_dtw_forward,
    _unskew,
    dilate_loss,
    dilate_terms,
    soft_dtw,
    soft_dtw_alignment,
    soft_dtw_loss,
    squared_euclidean_cost,
    time_distortion_penalty,
)
from operando.ir.bench.metrics import sequence_dilate

# --- independent naive O(T^2) python-loop references -----------------------------------------

def naive_soft_dtw(cost, gamma):
    """Cuturi & Blondel Algorithm 1, cell by cell. Returns the padded R ((n+2, m+2))."""
    n, m = cost.shape
    r = np.full((n + 2, m + 2), np.inf)
    r[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            prev = [r[i - 1, j - 1], r[i - 1, j], r[i, j - 1]]
            lowest = min(prev)
            r[i, j] = cost[i - 1, j - 1] + lowest - gamma * math.log(
                sum(math.exp(-(v - lowest) / gamma) for v in prev))
    return r


def naive_alignment(cost, gamma):
    """Cuturi & Blondel Algorithm 2 (backward recursion for E), cell by cell."""
    n, m = cost.shape
    r = naive_soft_dtw(cost, gamma)
    c = np.zeros((n + 2, m + 2))
    c[1:n + 1, 1:m + 1] = cost
    r[n + 1, :] = -np.inf
    r[:, m + 1] = -np.inf
    r[n + 1, m + 1] = r[n, m]
    e = np.zeros((n + 2, m + 2))
    e[n + 1, m + 1] = 1.0
    for j in range(m, 0, -1):
        for i in range(n, 0, -1):
            a = math.exp((r[i + 1, j] - r[i, j] - c[i + 1, j]) / gamma)
            b = math.exp((r[i, j + 1] - r[i, j] - c[i, j + 1]) / gamma)
            d = math.exp((r[i + 1, j + 1] - r[i, j] - c[i + 1, j + 1]) / gamma)
            e[i, j] = e[i + 1, j] * a + e[i, j + 1] * b + e[i + 1, j + 1] * d
    return r[n, m], e[1:n + 1, 1:m + 1]


def naive_dtw(cost):
    n, m = cost.shape
    r = np.full((n + 1, m + 1), np.inf)
    r[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            r[i, j] = cost[i - 1, j - 1] + min(r[i - 1, j - 1], r[i - 1, j], r[i, j - 1])
    return r[n, m]


def sine_pair():
    t = np.linspace(0.0, 2.0 * np.pi, 20)
    return np.sin(t), np.sin(t + 0.5)


# --- reference values -------------------------------------------------------------------------

def test_reference_values_sine():
    y, y_hat = sine_pair()
    out = dilate_terms(y, y_hat, alpha=0.5, gamma=0.01)
    assert out["shape"] == pytest.approx(0.612972, rel=1e-5)
    assert out["temporal"] == pytest.approx(0.155972, rel=1e-5)
    assert out["dilate"] == pytest.approx(0.384472, rel=1e-5)
    # the (T, 1) spelling and the summary API give the same numbers
    assert sequence_dilate(y[:, None], y_hat[:, None]) == pytest.approx(out, rel=1e-12)


def test_reference_values_torch_loss():
    y, y_hat = sine_pair()
    true = torch.tensor(y, dtype=torch.float64).reshape(1, -1, 1)
    pred = torch.tensor(y_hat, dtype=torch.float64).reshape(1, -1, 1)
    assert dilate_loss(pred, true, 0.5, 0.01).item() == pytest.approx(0.384472, rel=1e-5)
    assert DILATELoss(0.0, 0.01)(pred, true).item() == pytest.approx(0.155972, rel=1e-5)
    assert SoftDTWLoss(0.01)(pred, true).item() == pytest.approx(0.612972, rel=1e-5)


def test_omega_normalised_by_t_squared():
    omega = time_distortion_penalty(4)
    assert omega[0, 3] == pytest.approx(9 / 16)
    assert np.allclose(np.diag(omega), 0.0) and np.allclose(omega, omega.T)


# --- agreement with naive loops and tslearn --------------------------------------------------

@pytest.mark.parametrize("n,m,gamma", [(1, 1, 0.1), (1, 5, 0.5), (6, 6, 0.01), (7, 4, 1.0),
                                       (9, 11, 0.1)])
def test_vectorised_matches_naive_loops(n, m, gamma):
    rng = np.random.default_rng(n * 100 + m)
    cost = rng.uniform(0.0, 2.0, size=(n, m))
    value, e = soft_dtw_alignment(cost, gamma)
    ref_value, ref_e = naive_alignment(cost, gamma)
    assert value == pytest.approx(ref_value, rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(e, ref_e, rtol=1e-9, atol=1e-12)


def test_batched_equals_one_by_one():
    rng = np.random.default_rng(3)
    costs = rng.uniform(0.0, 3.0, size=(4, 5, 8))
    values, e = soft_dtw_alignment(costs, 0.1)
    for b in range(4):
        v1, e1 = soft_dtw_alignment(costs[b], 0.1)
        assert values[b] == pytest.approx(v1, rel=1e-13)
        np.testing.assert_allclose(e[b], e1, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("gamma", [0.01, 0.1, 1.0, 10.0])
def test_matches_tslearn(gamma):
    tslearn_metrics = pytest.importorskip("tslearn.metrics")
    rng = np.random.default_rng(int(gamma * 100))
    for n, m, dim in [(10, 10, 3), (12, 7, 5), (8, 15, 1)]:
        x = rng.normal(size=(n, dim))
        y = rng.normal(size=(m, dim))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = float(tslearn_metrics.soft_dtw(x, y, gamma=gamma))   # squared-Euclidean cost
        assert soft_dtw(squared_euclidean_cost(x, y), gamma) == pytest.approx(ref, rel=1e-9)


def test_tslearn_reference_on_sine():
    tslearn_metrics = pytest.importorskip("tslearn.metrics")
    y, y_hat = sine_pair()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = float(tslearn_metrics.soft_dtw(y[:, None], y_hat[:, None], gamma=0.01))
    assert dilate_terms(y, y_hat)["shape"] == pytest.approx(ref, rel=1e-10)


def test_squared_euclidean_cost_exact():
    x = np.array([[0.0, 0.0], [1.0, 2.0]])
    y = np.array([[3.0, 4.0], [1.0, 2.0], [0.0, 1.0]])
    expected = np.array([[25.0, 5.0, 1.0], [8.0, 0.0, 2.0]])
    np.testing.assert_allclose(squared_euclidean_cost(x, y), expected, atol=1e-12)


# --- properties -------------------------------------------------------------------------------

def test_alignment_is_a_soft_path():
    rng = np.random.default_rng(5)
    _, e = soft_dtw_alignment(rng.uniform(size=(9, 9)), 0.05)
    assert e[0, 0] == pytest.approx(1.0) and e[-1, -1] == pytest.approx(1.0)
    assert np.all(e >= -1e-15) and np.all(e <= 1.0 + 1e-12)


def test_alignment_is_gradient_of_value():
    rng = np.random.default_rng(6)
    cost = rng.uniform(size=(5, 6))
    gamma = 0.3
    _, e = soft_dtw_alignment(cost, gamma)
    h = 1e-6
    for i, j in itertools.product(range(5), range(6)):
        step = np.zeros_like(cost)
        step[i, j] = h
        fd = (soft_dtw(cost + step, gamma) - soft_dtw(cost - step, gamma)) / (2 * h)
        assert e[i, j] == pytest.approx(fd, abs=1e-7)


def test_small_gamma_approaches_dtw_and_is_stable_for_large_costs():
    rng = np.random.default_rng(7)
    cost = rng.uniform(0.0, 5e4, size=(30, 30))   # squared distances >> gamma
    hard = naive_dtw(cost)
    soft, e = soft_dtw_alignment(cost, 0.01)
    n_paths_bound = 3.0 ** (2 * 30)
    assert np.isfinite(soft) and np.all(np.isfinite(e))
    assert hard - 0.01 * math.log(n_paths_bound) <= soft <= hard + 1e-9


def test_identical_sequences_have_zero_temporal_term_and_prefer_diagonal():
    rng = np.random.default_rng(8)
    seq = rng.normal(size=(12, 30))
    out = dilate_terms(seq, seq)
    assert out["temporal"] == pytest.approx(0.0, abs=1e-10)
    _, e = soft_dtw_alignment(squared_euclidean_cost(seq, seq), 0.01)
    np.testing.assert_allclose(e, np.eye(12), atol=1e-8)


def test_time_shift_raises_temporal_term():
    t = np.linspace(0.0, 4.0 * np.pi, 60)
    base = np.stack([np.sin(t), np.cos(0.5 * t)], axis=1)
    small = dilate_terms(base, np.roll(base, 1, axis=0))["temporal"]
    large = dilate_terms(base, np.roll(base, 6, axis=0))["temporal"]
    assert large > small > 0


def test_single_step_sequence():
    out = dilate_terms(np.array([[1.0, 2.0]]), np.array([[2.0, 4.0]]))
    assert out == pytest.approx({"shape": 5.0, "temporal": 0.0, "dilate": 2.5})


def test_input_validation():
    with pytest.raises(ValueError):
        dilate_terms(np.zeros((5, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError):
        dilate_terms(np.zeros((5, 3)), np.zeros((5, 3)), alpha=1.5)
    with pytest.raises(ValueError):
        soft_dtw(np.zeros((3, 3)), gamma=0.0)
    with pytest.raises(ValueError):
        soft_dtw(np.full((3, 3), np.nan))


# --- second order: the temporal term's gradient ----------------------------------------------

def test_hessian_vector_product_matches_finite_differences():
    rng = np.random.default_rng(9)
    n, m, gamma = 6, 5, 0.2
    cost = rng.uniform(size=(n, m))
    direction = rng.normal(size=(n, m))
    cost_sk = _skew(cost[None], 0.0)
    r_sk = _soft_dtw_forward(cost_sk, n, m, gamma)
    e_sk = _soft_alignment(cost_sk, r_sk, n, m, gamma)
    hvp = _unskew(_soft_alignment_hvp(cost_sk, r_sk, e_sk, _skew(direction[None], 0.0),
                                      n, m, gamma), n, m)[0]
    h = 1e-6
    fd = (naive_alignment(cost + h * direction, gamma)[1]
          - naive_alignment(cost - h * direction, gamma)[1]) / (2 * h)
    np.testing.assert_allclose(hvp, fd, atol=1e-7)


# --- torch loss gradients ---------------------------------------------------------------------

@pytest.mark.parametrize("alpha,gamma", [(0.5, 0.1), (0.0, 1.0), (1.0, 0.05), (0.5, 0.01)])
def test_dilate_loss_gradcheck(alpha, gamma):
    gen = torch.Generator().manual_seed(int(gamma * 1000) + int(alpha * 10))
    true = torch.randn(2, 5, 3, generator=gen, dtype=torch.float64)
    pred = (true + 0.5 * torch.randn(2, 5, 3, generator=gen, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(lambda p: dilate_loss(p, true, alpha, gamma), (pred,),
                                    eps=1e-6, atol=1e-5, rtol=1e-4)


def test_soft_dtw_loss_gradcheck_both_inputs():
    gen = torch.Generator().manual_seed(1)
    true = torch.randn(3, 4, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    pred = torch.randn(3, 4, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p, t: soft_dtw_loss(p, t, 0.1), (pred, true),
                                    eps=1e-6, atol=1e-5, rtol=1e-4)


def test_loss_matches_numpy_metric():
    rng = np.random.default_rng(10)
    true = rng.normal(size=(3, 7, 4))
    pred = true + 0.3 * rng.normal(size=(3, 7, 4))
    expected = np.mean([dilate_terms(true[b], pred[b], 0.3, 0.05)["dilate"] for b in range(3)])
    got = dilate_loss(torch.tensor(pred), torch.tensor(true), 0.3, 0.05).item()
    assert got == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("loss_fn", [DILATELoss(0.5, 0.05), SoftDTWLoss(0.05)])
def test_batch_mean_gradient_does_not_scale_with_batch(loss_fn):
    """Duplicating the batch leaves the loss and the parameters' gradient unchanged."""
    gen = torch.Generator().manual_seed(2)
    offset = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    true = torch.randn(2, 6, 3, generator=gen, dtype=torch.float64)
    noise = 0.3 * torch.randn(2, 6, 3, generator=gen, dtype=torch.float64)

    def loss_and_grad(n_copies):
        weight = torch.ones(3, dtype=torch.float64, requires_grad=True)
        pred = (true + noise) * weight + offset
        loss = loss_fn(pred.repeat(n_copies, 1, 1), true.repeat(n_copies, 1, 1))
        loss.backward()
        return loss.item(), weight.grad.clone()

    loss1, grad1 = loss_and_grad(1)
    loss2, grad2 = loss_and_grad(2)
    assert loss2 == pytest.approx(loss1, rel=1e-12)
    assert torch.allclose(grad1, grad2, rtol=1e-10, atol=1e-12)
    assert grad1.abs().sum() > 0


def test_float32_loss_backward_runs():
    true = torch.randn(2, 10, 16)
    pred = (true + 0.1 * torch.randn(2, 10, 16)).requires_grad_()
    loss = dilate_loss(pred, true)
    loss.backward()
    assert loss.dtype == torch.float32 and pred.grad.dtype == torch.float32
    assert torch.isfinite(pred.grad).all()
