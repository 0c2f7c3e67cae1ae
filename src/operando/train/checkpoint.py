"""Safe, device-independent checkpoints: safetensors for tensors, JSON for everything else.

Layout of a run folder written by :func:`operando.train.train`::

    run_dir/config.json          training configuration (TrainConfig)
    run_dir/model_config.json    architecture (when the model has ``config.to_dict()``)
    run_dir/data.json            shape and hash of every training tensor (a resume must match)
    run_dir/metrics.csv          step, loss, mse, lr, seconds
    run_dir/model.safetensors    final raw weights       (written when training finishes)
    run_dir/ema.safetensors      final EMA weights       (use these for sampling)
    run_dir/checkpoint/          latest resumable state, replaced atomically as one folder:
        model.safetensors, ema.safetensors,
        state.safetensors        optimizer moments + random-generator state (flattened)
        state.json               step, elapsed seconds, optimizer param groups

Nothing is pickled, so loading never runs code, and every tensor is loaded onto the CPU
whatever device trained it.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from operando.atomic import atomic_path, write_text
from operando.errors import OperandoError

CHECKPOINT_DIR = "checkpoint"


def _cpu_contiguous(tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    # safetensors refuses shared or non-contiguous storage; clone to plain CPU tensors.
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}


def save_tensors(path: str | Path, tensors: dict[str, Tensor],
                 metadata: dict[str, str] | None = None) -> Path:
    """Atomically write a dict of tensors as a safetensors file."""
    with atomic_path(path) as tmp:
        save_file(_cpu_contiguous(tensors), str(tmp), metadata=metadata)
    return Path(path)


def load_tensors(path: str | Path) -> dict[str, Tensor]:
    """Read a safetensors file onto the CPU."""
    return load_file(str(path), device="cpu")


def count_values(path: str | Path) -> int:
    """How many numbers a safetensors file holds (a network's size), from its header alone."""
    with safe_open(str(path), framework="pt") as f:
        return sum(int(torch.Size(f.get_slice(k).get_shape()).numel()) for k in f.keys())


def flatten_optimizer_state(state_dict: dict) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Split ``optimizer.state_dict()`` into tensors ``state.<param>.<key>`` and a JSON part."""
    tensors: dict[str, Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, per_param in state_dict["state"].items():
        for key, value in per_param.items():
            if isinstance(value, Tensor):
                tensors[f"state.{index}.{key}"] = value
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": scalars}


def unflatten_optimizer_state(tensors: dict[str, Tensor], meta: dict[str, Any]) -> dict:
    """Inverse of :func:`flatten_optimizer_state` (tensors on CPU; the optimizer moves them)."""
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("state."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value
    for index, values in meta.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(values)
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(run_dir: str | Path, *, model: nn.Module, ema: nn.Module,
                    optimizer: torch.optim.Optimizer, generator: torch.Generator, step: int,
                    extra: dict[str, Any] | None = None) -> Path:
    """Write ``run_dir/checkpoint/`` (weights, EMA, optimizer, RNG, step) as one atomic folder."""
    target = Path(run_dir) / CHECKPOINT_DIR
    opt_tensors, opt_meta = flatten_optimizer_state(optimizer.state_dict())
    state_tensors = {**opt_tensors, "rng.generator": generator.get_state(),
                     "rng.torch_cpu": torch.get_rng_state()}
    with atomic_path(target, directory=True) as tmp:
        save_file(_cpu_contiguous(model.state_dict()), str(tmp / "model.safetensors"))
        save_file(_cpu_contiguous(ema.state_dict()), str(tmp / "ema.safetensors"))
        save_file(_cpu_contiguous(state_tensors), str(tmp / "state.safetensors"))
        (tmp / "state.json").write_text(json.dumps(
            {"step": step, "optimizer": opt_meta, **(extra or {})}, indent=2), encoding="utf-8")
    return target


def has_checkpoint(run_dir: str | Path) -> bool:
    return (Path(run_dir) / CHECKPOINT_DIR / "state.json").is_file()


def load_checkpoint(run_dir: str | Path, *, model: nn.Module, ema: nn.Module,
                    optimizer: torch.optim.Optimizer, generator: torch.Generator) -> dict[str, Any]:
    """Restore what :func:`save_checkpoint` wrote; returns the JSON state (``step``, ...)."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    model.load_state_dict(load_tensors(folder / "model.safetensors"))
    ema.load_state_dict(load_tensors(folder / "ema.safetensors"))
    tensors = load_tensors(folder / "state.safetensors")
    optimizer.load_state_dict(unflatten_optimizer_state(tensors, state["optimizer"]))
    generator.set_state(tensors["rng.generator"])
    torch.set_rng_state(tensors["rng.torch_cpu"])
    return state


def save_weights(run_dir: str | Path, *, model: nn.Module, ema: nn.Module) -> None:
    """Write the final ``model.safetensors`` and ``ema.safetensors`` of a run (atomically)."""
    save_tensors(Path(run_dir) / "model.safetensors", model.state_dict())
    save_tensors(Path(run_dir) / "ema.safetensors", ema.state_dict())


def load_weights(run_dir: str | Path, model: nn.Module, *, ema: bool = True) -> nn.Module:
    """Load a run's (EMA or raw) weights into ``model`` on its current device; returns it.

    Uses the final weights when present, else those of the latest checkpoint (interrupted run).
    """
    run_dir = Path(run_dir)
    name = "ema.safetensors" if ema else "model.safetensors"
    for path in (run_dir / name, run_dir / CHECKPOINT_DIR / name):
        if path.is_file():
            model.load_state_dict(load_tensors(path))
            return model
    raise OperandoError(f"{run_dir}: no {name} (neither final weights nor a checkpoint)")


def write_json(path: str | Path, data: dict) -> Path:
    """Atomically write ``data`` as indented JSON."""
    return write_text(path, json.dumps(data, indent=2) + "\n")
