"""A generic, seeded, resumable training loop for the flow objectives.

``train(model, objective, tensors, config, run_dir)`` fits ``model`` to ``tensors["x"]`` (N, W)
(or (N, ...), e.g. image latents), every other entry of ``tensors`` (N, ...) being passed to
the model as a condition of the same name (e.g. ``s0`` (N, W), ``cond_vec`` (N, F)). Each
step draws a global batch of indices and the objective's noise from one CPU generator seeded
by ``config.seed``: the same seed gives the same parameters (for the same initial model), on
any number of processes (see :mod:`operando.train.distributed`).

Written in ``run_dir`` (see :mod:`operando.train.checkpoint` for the layout): config.json,
model_config.json, metrics.csv, checkpoint/ every ``ckpt_every`` steps, and the final
model/ema safetensors. Calling ``train`` again on the same folder resumes from the last
checkpoint (weights, EMA, optimizer moments, generator state and step), giving the same
final parameters as an uninterrupted run.
"""
from __future__ import annotations

import copy
import csv
import dataclasses
import hashlib
import io
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from operando.atomic import write_text
from operando.errors import OperandoError
from operando.flow.flow_matching import FlowMatching
from operando.flow.meanflow import FlowNoise, MeanFlow, ObjectiveLoss
from operando.train import checkpoint, distributed

METRIC_COLUMNS = ("step", "loss", "mse", "lr", "seconds")
# Fields that may change between an interrupted run and its resumption.
_RESUMABLE_CHANGES = {"steps", "log_every", "ckpt_every", "device", "progress"}


@dataclass
class TrainConfig:
    """Training configuration, saved as ``run_dir/config.json``.

    Optimiser: AdamW(lr, betas, weight_decay), linear warm-up over ``warmup_steps`` then
    ``lr_schedule``: "constant" (MeanFlow's reference recipe: Adam, lr 1e-4, betas (0.9, 0.95),
    no weight decay) or "cosine" (decay to ``min_lr_ratio * lr`` at ``steps``; a resumed run
    whose ``steps`` changed follows the new curve). ``ema_decay``:
    EMA of the weights kept for sampling, with the usual warm-up min(decay, (1+s)/(10+s)).
    ``grad_clip``: max global gradient norm (None = off). ``device``: "auto", "cpu", "cuda".
    ``objective``: "meanflow" or "flow_matching"; the remaining fields are the objective's
    hyper-parameters (see :class:`operando.flow.MeanFlow`; flow matching uses time_mean,
    time_std and cond_drop_prob).
    """

    seed: int = 0
    steps: int = 10_000
    batch_size: int = 64
    lr: float = 1e-4
    adam_betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = 0.0
    warmup_steps: int = 0
    lr_schedule: str = "constant"
    min_lr_ratio: float = 0.0
    ema_decay: float = 0.999
    grad_clip: float | None = None
    log_every: int = 50
    ckpt_every: int = 1000
    device: str = "auto"
    progress: bool = True
    objective: str = "meanflow"
    # The objective's hyper-parameters; defaults are MeanFlow's own (one source of truth).
    time_mean: float = MeanFlow.time_mean
    time_std: float = MeanFlow.time_std
    r_neq_t_ratio: float = MeanFlow.r_neq_t_ratio
    adaptive_p: float = MeanFlow.adaptive_p
    adaptive_c: float = MeanFlow.adaptive_c
    cfg_omega: float = MeanFlow.cfg_omega
    cfg_kappa: float = MeanFlow.cfg_kappa
    cond_drop_prob: float = MeanFlow.cond_drop_prob

    def __post_init__(self):
        self.adam_betas = tuple(self.adam_betas)
        if self.objective not in ("meanflow", "flow_matching"):
            raise ValueError("objective must be 'meanflow' or 'flow_matching', "
                             f"got {self.objective!r}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {self.lr_schedule!r}")
        if self.steps < 1 or self.batch_size < 1 or self.log_every < 1 or self.ckpt_every < 1:
            raise ValueError("steps, batch_size, log_every and ckpt_every must be >= 1")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {self.device!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown TrainConfig fields: {sorted(unknown)}")
        return cls(**data)

    @classmethod
    def load(cls, path: str | Path) -> "TrainConfig":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


class Objective(Protocol):
    """What ``train`` needs from an objective (MeanFlow and FlowMatching provide it).

    ``loss`` gets the 1-based training ``step`` (None outside training), for objectives whose
    terms follow a schedule; a resumed run passes the same steps, so it follows the same one.
    """

    def draw(self, batch_size: int, sample_shape: int | tuple[int, ...],
             generator: torch.Generator | None = None,
             dtype: torch.dtype = torch.float32) -> FlowNoise: ...

    def loss(self, model: Callable, x: Tensor, noise: FlowNoise,
             cond: Mapping[str, Tensor] | None = None, *,
             target_model: Callable | None = None, step: int | None = None) -> ObjectiveLoss: ...


def build_objective(config: TrainConfig) -> MeanFlow | FlowMatching:
    """The objective named by ``config.objective`` with the config's hyper-parameters."""
    if config.objective == "meanflow":
        return MeanFlow(time_mean=config.time_mean, time_std=config.time_std,
                        r_neq_t_ratio=config.r_neq_t_ratio, adaptive_p=config.adaptive_p,
                        adaptive_c=config.adaptive_c, cfg_omega=config.cfg_omega,
                        cfg_kappa=config.cfg_kappa, cond_drop_prob=config.cond_drop_prob)
    return FlowMatching(time_mean=config.time_mean, time_std=config.time_std,
                        cond_drop_prob=config.cond_drop_prob)


def learning_rate(config: TrainConfig, step: int) -> float:
    """lr of (1-based) ``step``: linear warm-up, then constant or cosine decay to
    ``min_lr_ratio * lr`` at ``config.steps``."""
    if config.warmup_steps > 0 and step <= config.warmup_steps:
        return config.lr * step / config.warmup_steps
    if config.lr_schedule == "constant":
        return config.lr
    span = max(config.steps - config.warmup_steps, 1)
    progress = min(max(step - config.warmup_steps, 0) / span, 1.0)
    floor = config.min_lr_ratio * config.lr
    return floor + (config.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def resolve_device(name: str, info: distributed.DistInfo) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and info.enabled:
        return torch.device("cuda", info.local_rank)
    return torch.device(name)


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * model, parameter by parameter (buffers copied)."""
    for e, p in zip(ema.parameters(), model.parameters()):
        e.lerp_(p.detach(), 1.0 - decay)
    for e, b in zip(ema.buffers(), model.buffers()):
        e.copy_(b)


def _check_tensors(tensors: Mapping[str, Tensor]) -> int:
    if "x" not in tensors:
        raise OperandoError("train(): tensors must contain 'x' (N, W), the spectra to generate")
    x = tensors["x"]
    if x.dim() < 2:
        raise OperandoError("train(): tensors['x'] must be (N, W) or (N, ...), "
                            f"got {tuple(x.shape)}")
    for name, value in tensors.items():
        if value.shape[0] != x.shape[0]:
            raise OperandoError(f"train(): tensors['{name}'] has {value.shape[0]} rows, "
                                f"tensors['x'] has {x.shape[0]}")
    return x.shape[0]


def data_fingerprint(tensors: Mapping[str, Tensor]) -> dict[str, dict]:
    """Shape, norm and 8 fixed random projections of every training tensor (``data.json``).

    Compared with a tolerance (:func:`_same_data`), not as a hash: the same data built with
    another number of BLAS threads differs in the last bits (the ABCC stream targets are a
    least-squares solve), and must still resume. Rows enter with their own weights, so a
    reordering is other data.
    """
    out = {}
    for k, v in sorted(tensors.items()):
        a = v.detach().cpu().double().reshape(v.shape[0], -1)                 # (N, D)
        g = torch.Generator().manual_seed(0)
        rows = torch.randn(a.shape[0], generator=g, dtype=torch.float64)      # (N,)
        cols = torch.randn(a.shape[1], 8, generator=g, dtype=torch.float64)   # (D, 8)
        out[k] = {"shape": list(v.shape), "norm": float(a.norm()), "projections": (rows @ a @ cols).tolist()}
    return out


def _same_data(old, new: dict | None, tensor: Tensor | None) -> bool:
    """Whether a saved fingerprint entry ``old`` and the current ``new`` (of ``tensor``) match."""
    if old is None or new is None:
        return False
    if isinstance(old, str):  # data.json before fingerprints had a tolerance: "shape:sha256 prefix"
        v = tensor.detach().cpu().contiguous().numpy()
        return old == f"{list(v.shape)}:{hashlib.sha256(v.tobytes()).hexdigest()[:16]}"
    if old["shape"] != new["shape"]:
        return False
    # A projection sums N*D values with unit-normal weights: rounding moves it by ~1e-7 * norm.
    tol = 1e-5 * max(old["norm"], 1e-12)
    return abs(old["norm"] - new["norm"]) <= tol and all(
        abs(a - b) <= tol for a, b in zip(old["projections"], new["projections"]))


def _check_resume(run_dir: Path, config: TrainConfig, fingerprint: dict, tensors: Mapping[str, Tensor]) -> None:
    saved = TrainConfig.load(run_dir / "config.json").to_dict()
    differ = sorted(k for k, v in config.to_dict().items()
                    if k not in _RESUMABLE_CHANGES and saved.get(k) != v)
    if differ:
        raise OperandoError(f"{run_dir}: cannot resume, the configuration differs from the "
                            f"checkpointed run in {differ}; use a new run folder")
    # Same settings but other data (another split, held-out spectra, conditions) would silently
    # continue, or for a finished run simply return, a model of the old data.
    data_json = run_dir / "data.json"
    if data_json.is_file():
        old = json.loads(data_json.read_text(encoding="utf-8"))
        changed = sorted(k for k in set(old) | set(fingerprint)
                         if not _same_data(old.get(k), fingerprint.get(k), tensors.get(k)))
        if changed:
            raise OperandoError(f"{run_dir}: cannot resume, the training data differs from the checkpointed "
                                f"run's (tensors {changed}); use a new run folder")


def _read_metrics(path: Path, up_to_step: int) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if int(row["step"]) <= up_to_step]


def _write_metrics(path: Path, rows: list[dict[str, Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=METRIC_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buffer.getvalue())


def train(model: nn.Module, objective: Objective | None, tensors: Mapping[str, Tensor],
          config: TrainConfig, run_dir: str | Path, *, resume: bool = True,
          callback: Callable[[int, float], None] | None = None,
          sampler: Callable[[int, torch.Generator], Tensor] | None = None) -> Path:
    """Train ``model`` in place and return ``run_dir``.

    model: ``model(z, t, r, **cond)`` network (its dtype is used for the data); objective:
    None builds it from ``config`` (:func:`build_objective`); tensors: ``x`` (N, W) plus
    conditions (N, ...) by name; resume: continue from ``run_dir/checkpoint`` when present;
    callback(step, loss): called after every optimiser step (raising in it interrupts the run,
    as a crash would). sampler(batch_size, generator) -> (batch_size,) int64 row indices of a
    global batch, drawn from ``generator`` only (so every rank draws the same batch and a
    resumed run continues the same sequence); None draws rows uniformly. Under torchrun every
    rank calls ``train`` identically; rank 0 writes.
    """
    n_rows = _check_tensors(tensors)
    objective = build_objective(config) if objective is None else objective
    run_dir = Path(run_dir)
    device_type = "cuda" if str(config.device).startswith("cuda") or (
        config.device == "auto" and torch.cuda.is_available()) else "cpu"
    info = distributed.setup(device_type)
    try:
        return _train(model, objective, tensors, n_rows, config, run_dir, resume, callback, info, sampler)
    finally:
        distributed.teardown(info)


def _train(model: nn.Module, objective: Objective, tensors: Mapping[str, Tensor], n_rows: int,
           config: TrainConfig, run_dir: Path, resume: bool,
           callback: Callable[[int, float], None] | None, info: distributed.DistInfo,
           sampler: Callable[[int, torch.Generator], Tensor] | None = None) -> Path:
    device = resolve_device(config.device, info)
    if device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device)
    shard_start, shard_stop = info.shard(config.batch_size)
    model.to(device)
    dtype = next(model.parameters()).dtype
    data = {k: (v.to(device, dtype) if v.is_floating_point() else v.to(device))
            for k, v in tensors.items()}
    sample_shape = tuple(data["x"].shape[1:])
    ema = copy.deepcopy(model).requires_grad_(False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, betas=config.adam_betas,
                                  weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(config.seed)

    start_step, elapsed_before = 0, 0.0
    resuming = resume and checkpoint.has_checkpoint(run_dir)
    fingerprint = data_fingerprint(tensors)
    if resuming:
        _check_resume(run_dir, config, fingerprint, tensors)
        state = checkpoint.load_checkpoint(run_dir, model=model, ema=ema, optimizer=optimizer,
                                           generator=generator)
        start_step, elapsed_before = state["step"], state.get("seconds", 0.0)
    rows = _read_metrics(run_dir / "metrics.csv", start_step) if resuming else []
    if info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        checkpoint.write_json(run_dir / "config.json", config.to_dict())
        checkpoint.write_json(run_dir / "data.json", fingerprint)
        model_config = getattr(model, "config", None)
        if hasattr(model_config, "to_dict"):
            checkpoint.write_json(run_dir / "model_config.json", model_config.to_dict())

    net: nn.Module = model
    if info.enabled:
        # find_unused_parameters: e.g. a null-condition embedding gets no gradient when
        # condition dropout is off; DDP must not wait for it.
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=True)
    model.train()
    started = time.perf_counter()
    bar = tqdm(total=config.steps, initial=start_step, desc=f"train {config.objective}",
               disable=not (config.progress and info.is_main), dynamic_ncols=True)
    for step in range(start_step + 1, config.steps + 1):
        lr = learning_rate(config, step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        # The global batch is drawn identically on every rank; each keeps its own rows.
        index = (torch.randint(n_rows, (config.batch_size,), generator=generator) if sampler is None
                 else sampler(config.batch_size, generator))
        noise = objective.draw(config.batch_size, sample_shape, generator, dtype)
        index = index[shard_start:shard_stop].to(device)
        noise = noise.shard(shard_start, shard_stop)
        cond = {k: v[index] for k, v in data.items() if k != "x"}
        out = objective.loss(net, data["x"][index], noise, cond, target_model=model, step=step)
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        if config.grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        update_ema(ema, model, min(config.ema_decay, (1 + step) / (10 + step)))
        bar.update(1)

        if step % config.log_every == 0 or step == config.steps:
            loss = distributed.mean_over_ranks(out.loss.detach(), info).item()
            mse = distributed.mean_over_ranks(out.mse.detach(), info).item()
            seconds = elapsed_before + time.perf_counter() - started
            rows.append({"step": step, "loss": f"{loss:.6g}", "mse": f"{mse:.6g}",
                         "lr": f"{lr:.6g}", "seconds": f"{seconds:.2f}"})
            bar.set_postfix(loss=f"{loss:.4g}", mse=f"{mse:.3g}")
            if info.is_main:
                _write_metrics(run_dir / "metrics.csv", rows)
        if step % config.ckpt_every == 0 or step == config.steps:
            if info.is_main:
                checkpoint.save_checkpoint(
                    run_dir, model=model, ema=ema, optimizer=optimizer, generator=generator,
                    step=step, extra={"seconds": elapsed_before + time.perf_counter() - started})
            distributed.barrier(info)
        if callback is not None:
            callback(step, out.loss.item())
    bar.close()
    if info.is_main:
        checkpoint.save_weights(run_dir, model=model, ema=ema)
    distributed.barrier(info)
    return run_dir
