"""Conditional MeanFlow: one-step generation by learning the average velocity.

Geng, Deng, Bai, Kolter, He, "Mean Flows for One-step Generative Modeling", arXiv:2505.13447
(2025), as used by ABCC (arXiv:2602.18551, Eqs. 2-9) to forecast operando spectra. Notation
(MeanFlow Sec. 3-4), all tensors batch-first: a sample is a vector of W numbers (B, W) or any
array (B, ...) such as an image latent (B, C, H, W); times are (B,):

* linear path        z_t = (1 - t) x + t eps,     eps ~ N(0, I),  t = 0 data, t = 1 noise
* conditional velocity  v = dz_t/dt = eps - x
* average velocity   u(z_t, r, t) = 1/(t - r) * integral_r^t v(z_s, s) ds   (0 <= r <= t <= 1)
* MeanFlow identity  u(z_t, r, t) = v(z_t, t) - (t - r) d/dt u(z_t, r, t)
  with the total derivative d/dt u = v . d_z u + 0 . d_r u + 1 . d_t u, i.e. a Jacobian-vector
  product of u over (z, r, t) with tangent (v, 0, 1)
* loss  || u_theta(z_t, r, t | C) - stopgrad(u_tgt) ||^2,  u_tgt = v - (t - r) d/dt u_theta,
  per sample, with the adaptive weight w = stopgrad(1 / (loss + c)^p)
* sampling  z_r = z_t - (t - r) u(z_t, r, t); one step: x = eps - u(eps, 0, 1)
* noise-end mean  at t = 1 the path is z_1 = eps, independent of x, so the instantaneous
  velocity's least-squares optimum is v(z, 1) = E[eps - x | z_1 = z, C] = z - E[x | C]: the
  estimate x_bar = z - u(z, 1, 1) is the conditional *mean* for every z (a draw x = eps -
  u(eps, 0, 1) is a sample; the mean of draws is the mean only if the whole flow is exact).
  :func:`noise_end_loss` trains it by plain squared error, :func:`noise_end_mean` evaluates it.

Classifier-free guidance is trained into u (MeanFlow Sec. 4.2, and its App. B.1 "improved
CFG", Eq. 21): the velocity in the target and in the JVP tangent is replaced, for samples that
keep their condition, by
    v_tilde = omega v + kappa u_theta(z_t, t, t | C) + (1 - omega - kappa) u_theta(z_t, t, t | null)
(stop-gradient), giving an effective guidance scale omega / (1 - kappa); samples whose
condition is dropped keep v_tilde = v. With omega = 1, kappa = 0 this is plain v. Sampling
then needs no guidance: still one network evaluation.

Model contract (as facebookresearch/flow_matching): ``model(z, t, r, **cond) -> u`` with z
and u (B, W) (or (B, ...)), t (B,), r (B,) and ``cond`` a dict of batch-first tensors
(B, ...). When condition dropout is used, the model also takes ``drop_cond`` (B,) bool:
True = replace the condition by a learned null embedding. This file knows nothing about
spectra or training loops.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, NamedTuple

import torch
from torch import Tensor

Cond = Mapping[str, Tensor]


class FlowNoise(NamedTuple):
    """The random draws of one training batch (drawn on CPU so every device sees the same).

    eps (B, W) (or (B, ...)) prior noise; t (B,), r (B,) times with r <= t; drop_cond (B,) bool.
    """

    eps: Tensor
    t: Tensor
    r: Tensor
    drop_cond: Tensor

    def to(self, device: torch.device | str, dtype: torch.dtype) -> "FlowNoise":
        return FlowNoise(self.eps.to(device, dtype), self.t.to(device, dtype),
                         self.r.to(device, dtype), self.drop_cond.to(device))

    def shard(self, start: int, stop: int) -> "FlowNoise":
        """Rows start:stop of every draw (one rank's share of a global batch)."""
        return FlowNoise(*(field[start:stop] for field in self))


class ObjectiveLoss(NamedTuple):
    """loss: the scalar to minimise; mse: detached mean squared regression error per element."""

    loss: Tensor
    mse: Tensor


def per_sample(values: Tensor, like: Tensor) -> Tensor:
    """(B,) -> (B, 1, ..., 1) broadcasting against ``like`` (B, ...)."""
    return values.reshape(-1, *([1] * (like.dim() - 1)))


def interpolate(x: Tensor, eps: Tensor, t: Tensor) -> Tensor:
    """Linear path z_t = (1 - t) x + t eps (MeanFlow Sec. 3). x, eps (B, W), t (B,) -> (B, W)."""
    t = per_sample(t, x)
    return (1 - t) * x + t * eps


def conditional_velocity(x: Tensor, eps: Tensor) -> Tensor:
    """Conditional velocity v = dz_t/dt = eps - x of the linear path (MeanFlow Sec. 3)."""
    return eps - x


def logit_normal(n: int, mean: float, std: float, generator: torch.Generator | None = None,
                 dtype: torch.dtype = torch.float32) -> Tensor:
    """n times sigmoid(N(mean, std^2)) in (0, 1), on CPU."""
    return torch.sigmoid(mean + std * torch.randn(n, generator=generator, dtype=dtype))


def sample_time_pair(n: int, *, mean: float = -0.4, std: float = 1.0, r_neq_t_ratio: float = 0.25,
                     generator: torch.Generator | None = None,
                     dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    """(t, r), each (n,), for MeanFlow training (MeanFlow Sec. 4.3, "Sampling time steps").

    Two logit-normal draws sorted so that t >= r; then for a share 1 - ``r_neq_t_ratio`` of the
    samples r is set to t (those samples train the instantaneous velocity, as flow matching).
    """
    a = logit_normal(n, mean, std, generator, dtype)
    b = logit_normal(n, mean, std, generator, dtype)
    t, r = torch.maximum(a, b), torch.minimum(a, b)
    keep_gap = torch.rand(n, generator=generator, dtype=dtype) < r_neq_t_ratio
    return t, torch.where(keep_gap, r, t)


def total_derivative(u_fn: Callable[[Tensor, Tensor, Tensor], Tensor], z: Tensor, r: Tensor,
                     t: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
    """(u, du/dt) with du/dt = v . d_z u + 0 . d_r u + 1 . d_t u (MeanFlow Eq. for d/dt u).

    ``u_fn(z, r, t)`` -> (B, W); z, v (B, W); r, t (B,). One forward-mode Jacobian-vector
    product (torch.func.jvp) over (z, r, t) with tangent (v, 0, 1).
    """
    return torch.func.jvp(u_fn, (z, r, t), (v, torch.zeros_like(r), torch.ones_like(t)))


def meanflow_target(v: Tensor, dudt: Tensor, t: Tensor, r: Tensor) -> Tensor:
    """Regression target u_tgt = v - (t - r) du/dt (the MeanFlow identity). (B, W)."""
    return v - per_sample(t - r, v) * dudt


def guided_velocity(v: Tensor, u_cond: Tensor, u_null: Tensor, omega: float,
                    kappa: float) -> Tensor:
    """v_tilde = omega v + kappa u(z,t,t|C) + (1-omega-kappa) u(z,t,t|null) (MeanFlow Eq. 21)."""
    return omega * v + kappa * u_cond + (1 - omega - kappa) * u_null


def adaptive_weighted_loss(sq_error: Tensor, p: float, c: float) -> Tensor:
    """mean_b stopgrad(w_b) * sq_error_b with w = 1 / (sq_error + c)^p (MeanFlow Sec. 4.3).

    sq_error (B,) per-sample squared L2 error; p = 0 gives the plain mean.
    """
    weight = 1.0 / (sq_error.detach() + c) ** p
    return (weight * sq_error).mean()


def as_shape(sample_shape: int | tuple[int, ...]) -> tuple[int, ...]:
    """W -> (W,); a tuple stays as it is."""
    return (sample_shape,) if isinstance(sample_shape, int) else tuple(sample_shape)


def call_model(model: Callable, z: Tensor, t: Tensor, r: Tensor, cond: Cond | None,
               drop_cond: Tensor | None) -> Tensor:
    """``model(z, t, r, **cond)``, adding ``drop_cond=`` only when it is given."""
    kwargs = dict(cond or {})
    if drop_cond is not None:
        kwargs["drop_cond"] = drop_cond
    return model(z, t, r, **kwargs)


def prior_noise(shape: tuple[int, ...], generator: torch.Generator | None, noise: Tensor | None,
                model: Callable) -> Tensor:
    """Prior noise of ``shape`` (B, W) or (B, ...) on the model's device and dtype.

    Drawn on CPU from ``generator``, so a seed gives the same noise on every device.

    ``noise``, when given, is used instead of a fresh draw (it must have ``shape``).
    """
    params = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
    device = params.device if params is not None else torch.device("cpu")
    dtype = params.dtype if params is not None else torch.get_default_dtype()
    if noise is None:
        return torch.randn(tuple(shape), generator=generator, dtype=dtype).to(device)
    if tuple(noise.shape) != tuple(shape):
        raise ValueError(f"noise has shape {tuple(noise.shape)}, expected {tuple(shape)}")
    # A parameter-free model (an analytic field) keeps the noise's dtype.
    return noise.to(device, dtype if params is not None else noise.dtype)


@dataclass
class MeanFlow:
    """The MeanFlow objective and sampler with its hyper-parameters (defaults: MeanFlow paper).

    time_mean, time_std: logit-normal time distribution; r_neq_t_ratio: share of samples with
    r != t; adaptive_p, adaptive_c: loss weighting; cfg_omega, cfg_kappa: training-time
    guidance (MeanFlow Eq. 21); cond_drop_prob: probability of dropping a sample's condition.
    """

    time_mean: float = -0.4
    time_std: float = 1.0
    r_neq_t_ratio: float = 0.25
    adaptive_p: float = 0.75
    adaptive_c: float = 1e-3
    cfg_omega: float = 1.0
    cfg_kappa: float = 0.5
    cond_drop_prob: float = 0.1

    @property
    def uses_guidance(self) -> bool:
        return self.cond_drop_prob > 0 and not (self.cfg_omega == 1.0 and self.cfg_kappa == 0.0)

    def draw(self, batch_size: int, sample_shape: int | tuple[int, ...],
             generator: torch.Generator | None = None,
             dtype: torch.dtype = torch.float32) -> FlowNoise:
        """Random draws for a batch (on CPU): eps (B, W) (W = ``sample_shape``, or (B, ...) for
        a tuple), t, r (B,), drop_cond (B,) bool."""
        eps = torch.randn(batch_size, *as_shape(sample_shape), generator=generator, dtype=dtype)
        t, r = sample_time_pair(batch_size, mean=self.time_mean, std=self.time_std,
                                r_neq_t_ratio=self.r_neq_t_ratio, generator=generator, dtype=dtype)
        drop = torch.rand(batch_size, generator=generator, dtype=dtype) < self.cond_drop_prob
        return FlowNoise(eps, t, r, drop)

    def target(self, model: Callable, x: Tensor, noise: FlowNoise,
               cond: Cond | None = None) -> tuple[Tensor, Tensor]:
        """(z_t, u_tgt), each (B, W): the noisy input and the stop-gradient regression target.

        u_tgt = v_tilde - (t - r) d/dt u_theta(z_t, r, t | C) with the total derivative taken
        along tangent (v_tilde, 0, 1); v_tilde is the guided velocity (MeanFlow Eq. 21) for
        samples that keep their condition and v = eps - x for the others (or for all samples
        when guidance is off). ``model`` is evaluated without gradients.
        """
        eps, t, r, drop = noise.to(x.device, x.dtype)
        drop = drop if self.cond_drop_prob > 0 else None
        z = interpolate(x, eps, t)
        v = conditional_velocity(x, eps)
        with torch.no_grad():
            if self.uses_guidance:
                # u_theta(z_t, t, t | C) and u_theta(z_t, t, t | null) in one batched call.
                doubled = {k: torch.cat([c, c]) for k, c in (cond or {}).items()}
                null_mask = torch.cat([torch.zeros_like(drop), torch.ones_like(drop)])
                both = call_model(model, torch.cat([z, z]), torch.cat([t, t]), torch.cat([t, t]),
                                  doubled, null_mask)
                u_cond, u_null = both.chunk(2)
                v_tilde = guided_velocity(v, u_cond, u_null, self.cfg_omega, self.cfg_kappa)
                v = torch.where(per_sample(drop, v), v, v_tilde)

            def u_of(z_: Tensor, r_: Tensor, t_: Tensor) -> Tensor:
                return call_model(model, z_, t_, r_, cond, drop)

            _, dudt = total_derivative(u_of, z, r, t, v)
            return z, meanflow_target(v, dudt, t, r)

    def loss(self, model: Callable, x: Tensor, noise: FlowNoise, cond: Cond | None = None, *,
             target_model: Callable | None = None, step: int | None = None) -> ObjectiveLoss:
        """MeanFlow loss of a batch x (B, W) under condition ``cond`` (dict of (B, ...) tensors).

        ``model`` is differentiated; ``target_model`` (default: model) computes the target
        without gradients (:meth:`target`). Pass the bare module there when ``model`` is
        wrapped: DistributedDataParallel cannot go through torch.func.jvp. ``step`` (the
        training step) is accepted for the objective interface and not used.
        """
        z, target = self.target(model if target_model is None else target_model, x, noise, cond)
        _, t, r, drop = noise.to(x.device, x.dtype)
        u = call_model(model, z, t, r, cond, drop if self.cond_drop_prob > 0 else None)
        sq_error = ((u - target) ** 2).flatten(1).sum(dim=1)
        loss = adaptive_weighted_loss(sq_error, self.adaptive_p, self.adaptive_c)
        return ObjectiveLoss(loss, sq_error.detach().mean() / x[0].numel())

    def sample(self, model: Callable, shape: tuple[int, ...], cond: Cond | None = None, *,
               steps: int = 1, generator: torch.Generator | None = None,
               noise: Tensor | None = None) -> Tensor:
        """Generate (B, W) samples; see :func:`sample`."""
        return sample(model, shape, cond, steps=steps, generator=generator, noise=noise)


def noise_end_loss(model: Callable, x: Tensor, eps: Tensor, cond: Cond | None = None,
                   drop_cond: Tensor | None = None) -> Tensor:
    """mean_b sum_W (eps - u(eps, 1, 1 | C) - x)^2: the flow-matching loss at t = 1, unweighted.

    x, eps (B, W) (or (B, ...)); ``cond`` batch-first. Its minimiser is u(z, 1, 1) = z - E[x | C]
    (module docstring, "noise-end mean"): a squared-error fit of the conditional mean, which
    MeanFlow's adaptive weight (1 / (loss + c)^p, a robust loss of power 2 (1 - p)) is not.
    """
    ones = torch.ones(len(eps), device=eps.device, dtype=eps.dtype)
    estimate = eps - call_model(model, eps, ones, ones, cond, drop_cond)
    return ((estimate - x) ** 2).flatten(1).sum(dim=1).mean()


@torch.no_grad()
def noise_end_mean(model: Callable, shape: tuple[int, ...], cond: Cond | None = None, *,
                   generator: torch.Generator | None = None, noise: Tensor | None = None) -> Tensor:
    """Conditional-mean estimates x_bar = z - u(z, 1, 1) from prior noise z of ``shape`` (B, W).

    One network evaluation each, noise drawn as in :func:`sample` (the same ``generator`` gives
    the same z, so a draw and its mean estimate can share their noise). For the ideal model every
    z gives E[x | C]; a trained one varies a little with z, so a point forecast averages several.
    """
    z = prior_noise(shape, generator, noise, model)
    ones = torch.ones(z.shape[0], device=z.device, dtype=z.dtype)
    return z - call_model(model, z, ones, ones, cond, None)


@torch.no_grad()
def sample(model: Callable, shape: tuple[int, ...], cond: Cond | None = None, *, steps: int = 1,
           generator: torch.Generator | None = None, noise: Tensor | None = None) -> Tensor:
    """MeanFlow sampling from t = 1 to 0 in ``steps`` equal jumps z_r = z_t - (t - r) u(z_t, r, t).

    ``steps=1`` is the one-step generator x = eps - u(eps, 0, 1). eps ~ N(0, I) of ``shape``
    (B, W) (or (B, ...)) is drawn on CPU from ``generator`` (or given as ``noise``) and moved to
    the model's device. Returns an array of ``shape``.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    z = prior_noise(shape, generator, noise, model)
    times = torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64)
    for t_now, t_next in zip(times[:-1].tolist(), times[1:].tolist()):
        t = torch.full((z.shape[0],), t_now, device=z.device, dtype=z.dtype)
        r = torch.full((z.shape[0],), t_next, device=z.device, dtype=z.dtype)
        z = z - (t_now - t_next) * call_model(model, z, t, r, cond, None)
    return z
