"""MeanFlow and flow matching against closed forms (Gaussian data), and the JVP of the backbone.

Gaussian case: x ~ N(0, sigma^2 I), eps ~ N(0, I), z_t = a x + b eps with a = 1 - t, b = t.
z_t ~ N(0, s(t)^2 I) with s(t)^2 = a^2 sigma^2 + b^2, and the marginal velocity is
v(z, t) = E[eps - x | z_t = z] = z (b b' + sigma^2 a a') / (b^2 + sigma^2 a^2) = z s'(t) / s(t).
The flow keeps z / s(t) constant, so z_r = z_t s(r) / s(t) and the average velocity is
u(z, r, t) = (z_t - z_r) / (t - r) = z (1 - s(r) / s(t)) / (t - r) (-> v as r -> t).
One-step sampling x = eps - u(eps, 0, 1) = eps s(0) / s(1) = sigma eps.
"""
from __future__ import annotations

import math

import pytest
import torch

from operando.flow import FlowMatching, FlowNoise, MeanFlow, flow_matching, meanflow
from operando.flow.meanflow import (
    guided_velocity,
    interpolate,
    meanflow_target,
    per_sample,
    sample_time_pair,
    total_derivative,
)
from operando.nn import SiT1D, SiT1DConfig

SIGMA = 0.5


def gaussian_scale(t):
    return torch.sqrt((1 - t) ** 2 * SIGMA ** 2 + t ** 2)


def gaussian_velocity(z, t):
    """Exact marginal velocity v(z, t) (B, W) or (B, ...) of the Gaussian case, t (B,)."""
    t = per_sample(t, z)
    return z * (t - SIGMA ** 2 * (1 - t)) / ((1 - t) ** 2 * SIGMA ** 2 + t ** 2)


def gaussian_average_velocity(z, r, t):
    """Exact average velocity u(z, r, t) (B, W) or (B, ...); equals v where r == t."""
    gap = per_sample(t - r, z)
    safe_gap = torch.where(gap > 1e-9, gap, torch.ones_like(gap))
    ratio = per_sample(gaussian_scale(r) / gaussian_scale(t), z)
    return torch.where(gap > 1e-9, z * (1 - ratio) / safe_gap, gaussian_velocity(z, t))


def analytic_model(z, t, r, **_):
    """The exact field in the model contract model(z, t, r)."""
    return gaussian_average_velocity(z, r, t)


def _times(n, generator):
    t = 0.05 + 0.9 * torch.rand(n, generator=generator, dtype=torch.float64)
    r = t * torch.rand(n, generator=generator, dtype=torch.float64)
    return t, r


def test_meanflow_identity_holds_for_the_exact_gaussian_field():
    g = torch.Generator().manual_seed(0)
    t, r = _times(64, g)
    z = torch.randn(64, 5, generator=g, dtype=torch.float64)
    v = gaussian_velocity(z, t)
    u, dudt = total_derivative(gaussian_average_velocity, z, r, t, v)
    torch.testing.assert_close(u, gaussian_average_velocity(z, r, t))
    residual = u - meanflow_target(v, dudt, t, r)
    assert residual.abs().max() < 1e-10
    assert v.abs().mean() > 0.1                     # the identity is not trivially 0 = 0


def test_swapping_the_r_and_t_tangents_breaks_the_identity():
    g = torch.Generator().manual_seed(1)
    t, r = _times(64, g)
    z = torch.randn(64, 5, generator=g, dtype=torch.float64)
    v = gaussian_velocity(z, t)
    u, wrong = torch.func.jvp(gaussian_average_velocity, (z, r, t),
                              (v, torch.ones_like(r), torch.zeros_like(t)))
    residual = u - meanflow_target(v, wrong, t, r)
    assert residual.abs().mean() > 0.05 * u.abs().mean()


def test_one_step_sampling_with_the_exact_field_reproduces_sigma():
    g = torch.Generator().manual_seed(2)
    x = meanflow.sample(analytic_model, (20000, 4), steps=1, generator=g)
    assert abs(x.std().item() / SIGMA - 1) < 0.02
    assert abs(x.mean().item()) < 0.02
    # Exact average velocities compose: 1, 2 or 5 jumps land on the same points.
    eps = torch.randn(100, 4, generator=g, dtype=torch.float64)
    one = meanflow.sample(analytic_model, (100, 4), noise=eps, steps=1)
    torch.testing.assert_close(one, SIGMA * eps)
    for steps in (2, 5):
        jumps = meanflow.sample(analytic_model, (100, 4), noise=eps, steps=steps)
        torch.testing.assert_close(jumps, one)


class ScaledGaussianField(torch.nn.Module):
    """u_theta = theta * exact u: the MeanFlow loss must be stationary at theta = 1."""

    def __init__(self, theta):
        super().__init__()
        self.theta = torch.nn.Parameter(torch.tensor(float(theta), dtype=torch.float64))

    def forward(self, z, t, r):
        return self.theta * gaussian_average_velocity(z, r, t)


def test_meanflow_loss_is_stationary_at_the_exact_average_velocity():
    objective = MeanFlow(adaptive_p=0.0, cond_drop_prob=0.0, r_neq_t_ratio=0.5)
    g = torch.Generator().manual_seed(3)
    n = 100_000
    x = SIGMA * torch.randn(n, 1, generator=g, dtype=torch.float64)
    noise = objective.draw(n, 1, g, torch.float64)
    grads = {}
    for theta in (1.0, 1.3):
        model = ScaledGaussianField(theta)
        objective.loss(model, x, noise).loss.backward()
        grads[theta] = model.theta.grad.item()
    assert abs(grads[1.0]) < 0.05 * abs(grads[1.3])
    assert grads[1.3] > 0                            # descent goes back towards theta = 1


def test_noise_end_mean_of_the_exact_field_is_the_data_mean_for_any_noise():
    """At t = 1 the exact velocity is v(z, 1) = z - E[x] (module docstring of meanflow): the
    noise-end estimate z - u(z, 1, 1) is the data mean (0 here) whatever z, while a one-step draw
    is sigma z and the estimate at any t < 1 is not the mean."""
    g = torch.Generator().manual_seed(4)
    z = 3.0 * torch.randn(256, 4, generator=g, dtype=torch.float64)
    estimate = meanflow.noise_end_mean(analytic_model, (256, 4), noise=z)
    assert estimate.abs().max() < 1e-12
    shifted = meanflow.noise_end_mean(lambda z_, t, r: analytic_model(z_ - 0.7, t, r), (256, 4), noise=z + 0.7)
    torch.testing.assert_close(shifted, torch.full_like(z, 0.7))  # data N(0.7, sigma^2): mean 0.7
    draws = meanflow.sample(analytic_model, (256, 4), noise=z, steps=1)
    torch.testing.assert_close(draws, SIGMA * z)
    half = torch.full((256,), 0.5, dtype=torch.float64)
    assert (z - analytic_model(z, half, half)).abs().mean() > 0.3     # t = 0.5: -0.2 z, not the mean
    a, b = (meanflow.noise_end_mean(analytic_model, (8, 4), generator=torch.Generator().manual_seed(9))
            for _ in range(2))
    torch.testing.assert_close(a, b)                                   # seeded like sample()


class ConstantMean(torch.nn.Module):
    """u(z, t, r) = z - c: every noise-end estimate is the constant c (W,)."""

    def __init__(self, c):
        super().__init__()
        self.c = torch.nn.Parameter(torch.as_tensor(c, dtype=torch.float64).clone())

    def forward(self, z, t, r):
        return z - self.c


def test_noise_end_loss_is_fitted_by_the_mean_and_the_adaptive_weight_by_less():
    """Right-skewed data (exponential: mean 1, median ln 2): the unweighted noise-end loss is
    stationary at the sample mean exactly; MeanFlow's adaptive weight (p = 0.75) on the same
    errors is not, and its minimum lies below the median: why a squared-error point estimate
    needs the plain loss."""
    g = torch.Generator().manual_seed(5)
    n = 20_000
    x = -torch.log(torch.rand(n, 1, generator=g, dtype=torch.float64))   # Exp(1)
    eps = torch.randn(n, 1, generator=g, dtype=torch.float64)
    at_mean = ConstantMean(x.mean(0))
    loss = meanflow.noise_end_loss(at_mean, x, eps)
    loss.backward()
    assert abs(at_mean.c.grad.item()) < 1e-12
    torch.testing.assert_close(loss, ((x - x.mean()) ** 2).mean())      # the variance: eps cancels
    assert meanflow.noise_end_loss(ConstantMean([0.7]), x, eps) > loss
    grid = torch.linspace(0.0, 1.5, 301, dtype=torch.float64)
    robust = [meanflow.adaptive_weighted_loss(((c - x) ** 2).sum(1), 0.75, 1e-3).item() for c in grid]
    best = grid[int(torch.tensor(robust).argmin())].item()
    assert best < x.median().item() < x.mean().item() - 0.2


def test_time_pairs_are_ordered_with_the_requested_share_of_gaps():
    g = torch.Generator().manual_seed(4)
    t, r = sample_time_pair(20000, r_neq_t_ratio=0.25, generator=g)
    assert (t >= r).all() and (t < 1).all() and (r > 0).all()
    assert abs((t != r).float().mean().item() - 0.25) < 0.015
    # logit-normal(-0.4, 1): the median of one draw is sigmoid(-0.4) = 0.401.
    assert abs(torch.logit(t[t == r]).mean().item() - 0.0) < 0.6


def test_guided_velocity_formula_and_its_no_guidance_limit():
    v, uc, un = torch.randn(3, 4, 6).unbind(0)
    torch.testing.assert_close(guided_velocity(v, uc, un, 1.0, 0.0), v)
    torch.testing.assert_close(guided_velocity(v, uc, un, 1.0, 0.5), v + 0.5 * uc - 0.5 * un)


class ConstantConditionalField(torch.nn.Module):
    """u = +1 for kept conditions, -3 for dropped ones (so du/dt = 0)."""

    def forward(self, z, t, r, *, drop_cond):
        return torch.where(drop_cond[:, None], -3.0, 1.0) * torch.ones_like(z)


def test_meanflow_target_uses_guided_velocity_only_for_kept_conditions():
    objective = MeanFlow(cfg_omega=0.8, cfg_kappa=0.5, cond_drop_prob=0.5)
    g = torch.Generator().manual_seed(5)
    x = torch.randn(16, 3, generator=g)
    noise = objective.draw(16, 3, g)
    assert noise.drop_cond.any() and (~noise.drop_cond).any()
    z, target = objective.target(ConstantConditionalField(), x, noise)
    v = noise.eps - x
    guided = 0.8 * v + 0.5 * 1.0 + (1 - 0.8 - 0.5) * -3.0
    expected = torch.where(noise.drop_cond[:, None], v, guided)
    torch.testing.assert_close(target, expected)
    torch.testing.assert_close(z, interpolate(x, noise.eps, noise.t))


def test_flow_matching_samplers_integrate_the_exact_gaussian_velocity():
    g = torch.Generator().manual_seed(6)
    eps = torch.randn(50, 3, generator=g, dtype=torch.float64)

    def velocity(z, t, r):
        return gaussian_velocity(z, t)

    midpoint = flow_matching.sample(velocity, (50, 3), noise=eps, steps=50, method="midpoint")
    euler = flow_matching.sample(velocity, (50, 3), noise=eps, steps=400, method="euler")
    assert (midpoint - SIGMA * eps).abs().max() < 1e-4
    assert (euler - SIGMA * eps).abs().max() < 5e-3
    coarse = flow_matching.sample(velocity, (50, 3), noise=eps, steps=5, method="euler")
    assert (coarse - SIGMA * eps).abs().max() > (euler - SIGMA * eps).abs().max()


def test_flow_matching_loss_is_zero_for_the_conditional_velocity_of_a_point_mass():
    # Data = one fixed point x0: the exact velocity given z_t is (z_t - x0) / t.
    x0 = torch.tensor([[0.3, -1.0, 2.0]], dtype=torch.float64)
    objective = FlowMatching()
    g = torch.Generator().manual_seed(7)
    noise = objective.draw(32, 3, g, torch.float64)
    out = objective.loss(lambda z, t, r: (z - x0) / t[:, None], x0.expand(32, 3), noise)
    assert out.loss.item() < 1e-20


def _tiny_model():
    torch.manual_seed(0)
    model = SiT1D(SiT1DConfig(width=20, cond_dim=3, patch_size=4, hidden_size=16, depth=2,
                              num_heads=2)).double()
    # adaLN-Zero starts as the identity (u = 0); perturb it so the JVP is not trivially 0.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


def test_jvp_through_the_backbone_matches_double_backward_and_finite_differences():
    model = _tiny_model()
    g = torch.Generator().manual_seed(8)
    z = torch.randn(3, 20, generator=g, dtype=torch.float64)
    v = torch.randn(3, 20, generator=g, dtype=torch.float64)
    t = torch.tensor([0.9, 0.5, 0.3], dtype=torch.float64)
    r = torch.tensor([0.1, 0.5, 0.2], dtype=torch.float64)
    cond = dict(s0=torch.randn(3, 20, generator=g, dtype=torch.float64),
                cond_vec=torch.randn(3, 3, generator=g, dtype=torch.float64))

    def u_fn(z_, r_, t_):
        return model(z_, t_, r_, **cond)

    tangents = (v, torch.zeros_like(r), torch.ones_like(t))
    _, dudt = total_derivative(u_fn, z, r, t, v)
    _, reference = torch.autograd.functional.jvp(u_fn, (z, r, t), tangents)
    h = 1e-6
    finite = (u_fn(z + h * v, r, t + h) - u_fn(z - h * v, r, t - h)) / (2 * h)
    assert dudt.abs().max() > 1e-2
    torch.testing.assert_close(dudt, reference, rtol=1e-9, atol=1e-11)
    torch.testing.assert_close(dudt, finite, rtol=1e-6, atol=1e-8)


def test_flow_noise_shards_are_rows_of_the_global_draw():
    noise = MeanFlow().draw(8, 5, torch.Generator().manual_seed(9))
    halves = [noise.shard(0, 4), noise.shard(4, 8)]
    for field, a, b in zip(noise, *halves):
        torch.testing.assert_close(torch.cat([a, b]), field)
    assert isinstance(halves[0], FlowNoise)


def test_sampling_is_seeded_and_checks_noise_shape():
    model = _tiny_model()
    cond = dict(s0=torch.zeros(2, 20, dtype=torch.float64),
                cond_vec=torch.ones(2, 3, dtype=torch.float64))
    first = meanflow.sample(model, (2, 20), cond, generator=torch.Generator().manual_seed(1))
    again = meanflow.sample(model, (2, 20), cond, generator=torch.Generator().manual_seed(1))
    other = meanflow.sample(model, (2, 20), cond, generator=torch.Generator().manual_seed(2))
    assert torch.equal(first, again) and not torch.equal(first, other)
    with pytest.raises(ValueError, match="noise has shape"):
        meanflow.sample(model, (2, 20), cond, noise=torch.zeros(3, 20))
    assert math.isfinite(flow_matching.sample(model, (2, 20), cond, steps=3, guidance=2.0,
                                              generator=torch.Generator()).sum().item())


def test_samples_may_be_arrays_of_any_shape():
    objective = MeanFlow(cond_drop_prob=0.0)
    g = torch.Generator().manual_seed(10)
    x = torch.randn(6, 2, 3, generator=g, dtype=torch.float64)
    noise = objective.draw(6, (2, 3), g, torch.float64)
    flat = FlowNoise(noise.eps.flatten(1), noise.t, noise.r, noise.drop_cond)
    out = objective.loss(analytic_model, x, noise)
    out_flat = objective.loss(analytic_model, x.flatten(1), flat)
    torch.testing.assert_close(out.loss, out_flat.loss)
    torch.testing.assert_close(out.mse, out_flat.mse)
    eps = torch.randn(5, 2, 3, generator=g, dtype=torch.float64)
    torch.testing.assert_close(meanflow.sample(analytic_model, (5, 2, 3), noise=eps), SIGMA * eps)
