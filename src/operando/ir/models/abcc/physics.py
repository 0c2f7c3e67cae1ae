"""Physics constraints L_mass (Eq. 12), L_peak (Eq. 13) and the draws' L_moment / L_point on the
model's one-step data estimate (piece 4 of :mod:`operando.ir.models.abcc`)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Mapping

import torch
from torch import Tensor

from operando.flow.meanflow import (
    FlowNoise,
    MeanFlow,
    ObjectiveLoss,
    call_model,
    interpolate,
    noise_end_loss,
    per_sample,
)
from operando.flow.physics import PeakConfig, mass_loss, peak_loss


@dataclass
class PhysicsObjective:
    """A flow objective (MeanFlow or flow matching) plus L_mass and L_peak on the data estimate.

    The data estimate of a training sample is the model's own one-step answer from z_t::

        MeanFlow:       x_hat = z_t - t u_theta(z_t, r = 0, t)   (the average velocity over
                        [0, t] carries z_t to the data end of its path: exact for the ideal u)
        flow matching:  x_hat = z_t - t v_theta(z_t, t)         (the usual x-prediction)

    and ``loss = flow loss + lambda_mass L_mass(f(x_hat), f(x)) + lambda_peak L_peak(f(x_hat),
    f(x)) + lambda_moment L_moment + lambda_point L_point`` with f the chemical flow of a target: x itself for ``target = "chemical_flow"``,
    (x - s0) / ``flow_scale`` for ``target = "spectrum"``. Only samples that keep their
    condition (not dropped for guidance) and have t <= ``t_max`` enter the physics terms, at
    most ``max_rows`` of them (the first ones: batch rows are in random order anyway). The
    penalties compare statistics of x_hat (mean level, band positions) with those of the x
    that produced z_t: for t near 1 the ideal one-step answer is a draw of the conditional
    distribution, not x itself, so these terms are unbiased only for statistics that the
    condition fixes, which is what mass balance and band positions are meant to be.

    **L_moment** (the draws' mean against squared error; not in the paper). A point forecast is
    the mean of one-step draws x_k = eps_k - u(eps_k, 0, 1), and a generator fitted to the
    distribution need not put that mean where squared error wants it (docs/ir/abcc.md, "Where the
    gap comes from"). With two independent draws of the same condition::

        L_moment = mean_W (x_1 - x) (x_2 - x)

    whose expectation over the draws is ``mean_W (E x_k - x)^2`` exactly (the squared error of
    the draws' mean; the draws' spread cancels: it is the energy score with exponent 2, up to
    a factor). So it pulls the mean of the draws towards the conditional mean of x and leaves
    their spread to the flow loss. The second draw's noise is the prior noise of the next
    batch row (``(i + 1) mod B``), independent of row i's, so no extra random numbers are
    drawn. A single value can be negative; only its expectation is a squared error. Only
    samples that keep their condition enter, at most ``moment_rows`` of them (any t: the draws
    start from the prior noise, not from z_t).
    ``moment_from_step``: L_moment enters only at training steps after it (the trainer passes
    ``step``; a call without one, outside training, includes it), so one run can train a last
    phase with it: measured better that way than from the first step (docs/ir/abcc.md section 6,
    "L_moment on the random split").

    **L_point** (the noise-end mean against squared error; not in the paper). At t = 1 the path
    point z_1 = eps carries no information about x, so the instantaneous velocity there has the
    least-squares optimum u(z, 1, 1) = z - E[x | C] (:func:`~operando.flow.meanflow.noise_end_loss`)::

        L_point = mean_rows sum_W (eps - u(eps, 1, 1) - x)^2

    trains that estimate of the conditional mean by plain squared error. The flow loss itself
    never reaches t = 1 exactly and weights its errors adaptively (a robust loss, whose optimum
    sits nearer the median); the one-step draws use u(eps, 0, 1), a different input, so this
    term adds a point estimator beside the generator instead of bending the draws' mean as
    L_moment does. Only samples that keep their condition enter, at most ``point_rows`` of them,
    with the batch's own prior noise.

    The extra forward passes run on the bare module (``target_model``): a
    DistributedDataParallel wrapper then still sees one forward per step, and both passes'
    gradients reach the same parameters before its all-reduce.
    """

    base: object
    lambda_mass: float = 0.0
    lambda_peak: float = 0.0
    flow_scale: float | None = None
    t_max: float = 1.0
    max_rows: int = 16
    peak: PeakConfig = dataclasses.field(default_factory=PeakConfig)
    lambda_moment: float = 0.0
    moment_rows: int = 32
    moment_from_step: int = 0
    lambda_point: float = 0.0
    point_rows: int = 32

    def draw(self, batch_size: int, sample_shape, generator: torch.Generator | None = None,
             dtype: torch.dtype = torch.float32) -> FlowNoise:
        return self.base.draw(batch_size, sample_shape, generator, dtype)

    def to_flow(self, x: Tensor, s0: Tensor | None) -> Tensor:
        if self.flow_scale is None:
            return x
        return (x - s0) / self.flow_scale

    def data_estimate(self, model: Callable, x: Tensor, noise: FlowNoise, cond: Mapping[str, Tensor],
                      rows: Tensor) -> Tensor:
        """x_hat (n, W) of the training samples ``rows`` (see the class docstring)."""
        eps, t, _, _ = noise.to(x.device, x.dtype)
        z = interpolate(x[rows], eps[rows], t[rows])
        t = t[rows]
        r = torch.zeros_like(t) if isinstance(self.base, MeanFlow) else t  # MeanFlow: u(z_t, 0, t)
        u = call_model(model, z, t, r, {k: v[rows] for k, v in cond.items()}, self.no_drop(len(t), x.device))
        return z - per_sample(t, z) * u

    def no_drop(self, n: int, device) -> Tensor | None:
        """The ``drop_cond`` of the extra passes: every condition kept, (n,) bool; None (no
        argument) for a base objective that never drops conditions."""
        return torch.zeros(n, dtype=torch.bool, device=device) if self.base.cond_drop_prob > 0 else None

    def moment_loss(self, model: Callable, x: Tensor, noise: FlowNoise, cond: Mapping[str, Tensor],
                    rows: Tensor) -> Tensor:
        """L_moment of the training samples ``rows`` (class docstring): a scalar tensor."""
        eps = noise.eps.to(x.device, x.dtype)
        partner = (rows + 1) % len(eps)
        z = torch.cat([eps[rows], eps[partner]])
        t = torch.ones(len(z), device=x.device, dtype=x.dtype)
        doubled = {k: torch.cat([v[rows], v[rows]]) for k, v in cond.items()}
        draws = z - call_model(model, z, t, torch.zeros_like(t), doubled, self.no_drop(len(z), x.device))
        first, second = draws[: len(rows)] - x[rows], draws[len(rows):] - x[rows]
        return (first * second).mean()

    def loss(self, model: Callable, x: Tensor, noise: FlowNoise, cond: Mapping[str, Tensor] | None = None, *,
             target_model: Callable | None = None, step: int | None = None) -> ObjectiveLoss:
        out = self.base.loss(model, x, noise, cond, target_model=target_model, step=step)
        cond = dict(cond or {})
        bare = target_model if target_model is not None else model
        _, t, _, drop = noise.to(x.device, x.dtype)
        kept = ~drop.to(torch.bool) if self.base.cond_drop_prob > 0 else torch.ones_like(t, dtype=torch.bool)
        total = out.loss
        moment_on = step is None or step > self.moment_from_step
        if self.lambda_moment > 0 and moment_on and len(x) > 1:
            rows = torch.nonzero(kept).flatten()[: self.moment_rows]
            if len(rows):
                total = total + self.lambda_moment * self.moment_loss(bare, x, noise, cond, rows)
        if self.lambda_point > 0:
            rows = torch.nonzero(kept).flatten()[: self.point_rows]
            if len(rows):
                eps = noise.eps.to(x.device, x.dtype)[rows]
                point = noise_end_loss(bare, x[rows], eps, {k: v[rows] for k, v in cond.items()},
                                       self.no_drop(len(rows), x.device))
                total = total + self.lambda_point * point
        if not (self.lambda_mass > 0 or self.lambda_peak > 0):
            return ObjectiveLoss(total, out.mse)
        rows = torch.nonzero(kept & (t <= self.t_max)).flatten()[: self.max_rows]
        if len(rows) == 0:
            return ObjectiveLoss(total, out.mse)
        x_hat = self.data_estimate(bare, x, noise, cond, rows)
        s0 = cond.get("s0")
        f_hat = self.to_flow(x_hat, None if s0 is None else s0[rows])
        f_true = self.to_flow(x[rows], None if s0 is None else s0[rows])
        if self.lambda_mass > 0:
            total = total + self.lambda_mass * mass_loss(f_hat, f_true)
        if self.lambda_peak > 0:
            total = total + self.lambda_peak * peak_loss(f_hat, f_true, self.peak)
        return ObjectiveLoss(total, out.mse)
