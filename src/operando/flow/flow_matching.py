"""Conditional flow matching: the multi-step baseline that shares the MeanFlow backbone.

Lipman et al., "Flow Matching for Generative Modeling", ICLR 2023, with the linear
(rectified-flow) path of MeanFlow: z_t = (1 - t) x + t eps, target velocity v = eps - x,
loss ||v_theta(z_t, t | C) - (eps - x)||^2 (mean over elements). The velocity network is the
MeanFlow network called with r = t (``model(z, t, t, **cond)``), so one backbone serves both.
Samples come from integrating dz/dt = v_theta(z, t) from t = 1 (noise) to t = 0 (data) with
Euler or explicit-midpoint steps; optional classifier-free guidance at sampling time
(v = v_null + w (v_cond - v_null), Ho & Salimans 2022) when trained with condition dropout.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from operando.flow.meanflow import (
    Cond,
    FlowNoise,
    ObjectiveLoss,
    as_shape,
    call_model,
    conditional_velocity,
    interpolate,
    logit_normal,
    prior_noise,
)


@dataclass
class FlowMatching:
    """Flow-matching objective and ODE sampler.

    time_mean, time_std: logit-normal training times (0, 1 is the SD3 choice); cond_drop_prob:
    condition dropout, which enables sampling-time guidance.
    """

    time_mean: float = 0.0
    time_std: float = 1.0
    cond_drop_prob: float = 0.0

    def draw(self, batch_size: int, sample_shape: int | tuple[int, ...],
             generator: torch.Generator | None = None,
             dtype: torch.dtype = torch.float32) -> FlowNoise:
        """Random draws (on CPU): eps (B, W) (or (B, ...)), t (B,), r = t, drop_cond (B,) bool."""
        eps = torch.randn(batch_size, *as_shape(sample_shape), generator=generator, dtype=dtype)
        t = logit_normal(batch_size, self.time_mean, self.time_std, generator, dtype)
        drop = torch.rand(batch_size, generator=generator, dtype=dtype) < self.cond_drop_prob
        return FlowNoise(eps, t, t.clone(), drop)

    def loss(self, model: Callable, x: Tensor, noise: FlowNoise, cond: Cond | None = None, *,
             target_model: Callable | None = None, step: int | None = None) -> ObjectiveLoss:
        """Flow-matching loss of x (B, W): mean (v_theta(z_t, t | C) - (eps - x))^2.

        ``target_model`` and ``step`` are accepted for a uniform objective interface and not used.
        """
        eps, t, _, drop = noise.to(x.device, x.dtype)
        z = interpolate(x, eps, t)
        v_pred = call_model(model, z, t, t, cond, drop if self.cond_drop_prob > 0 else None)
        loss = ((v_pred - conditional_velocity(x, eps)) ** 2).mean()
        return ObjectiveLoss(loss, loss.detach())

    def sample(self, model: Callable, shape: tuple[int, ...], cond: Cond | None = None, *,
               steps: int = 50, method: str = "euler", guidance: float = 1.0,
               generator: torch.Generator | None = None, noise: Tensor | None = None) -> Tensor:
        """Generate samples of ``shape`` (B, W); see :func:`sample`."""
        return sample(model, shape, cond, steps=steps, method=method, guidance=guidance,
                      generator=generator, noise=noise)


def guided_model(model: Callable, guidance: float) -> Callable:
    """Velocity v_null + w (v_cond - v_null) from one batched call (w = ``guidance``)."""

    def velocity(z: Tensor, t: Tensor, r: Tensor, **cond: Tensor) -> Tensor:
        drop = torch.cat([torch.zeros(z.shape[0], dtype=torch.bool, device=z.device),
                          torch.ones(z.shape[0], dtype=torch.bool, device=z.device)])
        both = model(torch.cat([z, z]), torch.cat([t, t]), torch.cat([r, r]), drop_cond=drop,
                     **{k: torch.cat([c, c]) for k, c in cond.items()})
        v_cond, v_null = both.chunk(2)
        return v_null + guidance * (v_cond - v_null)

    return velocity


@torch.no_grad()
def sample(model: Callable, shape: tuple[int, ...], cond: Cond | None = None, *, steps: int = 50,
           method: str = "euler", guidance: float = 1.0, generator: torch.Generator | None = None,
           noise: Tensor | None = None) -> Tensor:
    """Integrate dz/dt = v(z, t) from t = 1 to 0 in ``steps`` equal steps; returns ``shape``.

    ``method``: "euler" (z <- z - h v(z, t)) or "midpoint" (z <- z - h v(z - h/2 v(z, t),
    t - h/2); 2 evaluations per step). The velocity is ``model(z, t, t, **cond)``; with
    ``guidance != 1`` it is the classifier-free-guided one (the model must take drop_cond).
    eps ~ N(0, I) is drawn on CPU from ``generator`` (or given as ``noise``).
    """
    if method not in ("euler", "midpoint"):
        raise ValueError(f"method must be 'euler' or 'midpoint', got {method!r}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    z = prior_noise(shape, generator, noise, model)
    field = model if guidance == 1.0 else guided_model(model, guidance)

    def velocity(z_: Tensor, time: float) -> Tensor:
        t = torch.full((z_.shape[0],), time, device=z_.device, dtype=z_.dtype)
        return call_model(field, z_, t, t, cond, None)

    times = torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64).tolist()
    for t_now, t_next in zip(times[:-1], times[1:]):
        h = t_now - t_next
        if method == "euler":
            z = z - h * velocity(z, t_now)
        else:
            z_mid = z - 0.5 * h * velocity(z, t_now)
            z = z - h * velocity(z_mid, t_now - 0.5 * h)
    return z
