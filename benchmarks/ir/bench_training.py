"""Training throughput of registered flow models on CPU: seconds per step at 1 and 2 threads.

Builds the model's real training problem (the OpIRBench split's training spectra, its condition
encoder and network, its batch size), trains ``--steps`` steps at each thread count in a
scratch folder, and records the median seconds per step over blocks of ``--block`` steps (the
first block, with allocator and thread-pool warm-up, is left out) and what that makes of the
model's full training budget on each ``--split`` (with ABCC's unseen-system fold models, which
train on fewer spectra with the same batch, on a split that tests unseen systems, as the bench
does; ABCC's last phase, whose L_moment adds network passes, is timed on its own). A step costs
the same on either split (same batch, same network), so it is timed on the first. Run it on an
otherwise idle machine: other processes on the cores lengthen every step.

Writes ``<out>/training.json`` and ``<out>/training.md`` (read by regenerate_results.py)::

    python benchmarks/ir/bench_training.py --data outputs/opirspec7k-sim.h5 --model meanflow abcc \\
        --split random system --out outputs/results/speed
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from operando.atomic import write_text
from operando.ir.bench.splits import get_split
from operando.ir.bench.suite import unseen_test_systems
from operando.ir.bench.task import masked
from operando.ir.data.dataset import OperandoDataset
from operando.ir.data.preprocess import preprocess_dataset
from operando.ir.models import build_model
from operando.train.trainer import train


def seconds_per_step(model, train_set, threads: int, steps: int, block: int) -> float:
    """Median seconds per step of ``model``'s training over blocks after the first."""
    torch.set_num_threads(threads)
    tensors, objective, sampler = model.prepare(train_set)
    config = model.training
    config.steps, config.ckpt_every, config.log_every, config.progress = steps, steps + 1, steps, False
    stamps = []
    with tempfile.TemporaryDirectory(prefix="operando-speed-") as tmp:
        train(model.net, objective, tensors, config, tmp, sampler=sampler,
              callback=lambda step, loss: stamps.append(time.perf_counter()) if step % block == 0 else None)
    blocks = np.diff(stamps) / block
    return float(np.median(blocks))


def last_phase_start(model) -> int:
    """The step from which ``model`` trains with ABCC's L_moment (its step count: no such phase)."""
    abcc = getattr(model.config, "abcc", None)
    if abcc is None or abcc.lambda_moment <= 0:
        return model.training.steps
    return min(abcc.moment_from_step, model.training.steps)


def training_budget(model, unseen_systems: bool, per_step: float, phase_step: float) -> dict:
    """Steps and seconds of ``model``'s whole training in the bench: its own steps, plus its
    unseen-system fold models' where the split tests ``unseen_systems``; the steps of ABCC's last
    phase (the fold models keep the main model's shares, FlowForecaster.fold_model_config) at
    ``phase_step`` seconds, the others at ``per_step``."""
    steps, phase_from = model.training.steps, last_phase_start(model)
    fold_steps = model.config.conformal_system_folds * model.fold_training_steps() if unseen_systems else 0
    phase_steps = (steps - phase_from) * (steps + fold_steps) // steps
    seconds = (steps + fold_steps - phase_steps) * per_step + phase_steps * phase_step
    return {"budget_steps": steps + fold_steps, "fold_steps": fold_steps, "phase_steps": phase_steps,
            "budget_minutes": round(seconds / 60, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--model", nargs="+", default=["meanflow"])
    ap.add_argument("--split", nargs="+", default=["random", "system"])
    ap.add_argument("--results", type=Path, default=Path("outputs/results"), help="where the split files are")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--steps", type=int, default=250)
    ap.add_argument("--block", type=int, default=25)
    ap.add_argument("--out", type=Path, default=Path("outputs/results/speed"))
    args = ap.parse_args()

    ds = preprocess_dataset(OperandoDataset.load(args.data))
    splits = [get_split(ds, name, args.results / "splits", seed=0) for name in args.split]
    train_set = [masked(ds[n], s) for n, s in splits[0].train.items() if len(s)]
    rows = []
    for name in args.model:
        for threads in args.threads:
            model = build_model(name, seed=0)
            per_step = phase_step = seconds_per_step(build_model(name, seed=0), train_set, threads, args.steps, args.block)
            if last_phase_start(model) < model.training.steps:  # L_moment adds network passes: time it too
                phase_model = build_model(name, seed=0, abcc={"moment_from_step": 0})
                phase_step = seconds_per_step(phase_model, train_set, threads, args.steps, args.block)
            for split in splits:
                rows.append({"model": model.name, "split": split.name, "threads": threads,
                             "batch_size": model.training.batch_size, "seconds_per_step": round(per_step, 4),
                             "seconds_per_phase_step": round(phase_step, 4),
                             **training_budget(model, bool(unseen_test_systems(ds, split)), per_step, phase_step)})
                print(rows[-1], flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    write_text(args.out / "training.json", json.dumps(rows, indent=2))
    lines = ["| model | split | threads | batch | s / step | s / step of the last phase | training budget [steps] "
             "| of which unseen-system folds | of which in the last phase | budget time [min] |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['split']} | {r['threads']} | {r['batch_size']} | {r['seconds_per_step']:.3f} | "
              f"{r['seconds_per_phase_step']:.3f} | {r['budget_steps']} | {r['fold_steps']} | {r['phase_steps']} | "
              f"{r['budget_minutes']:.1f} |" for r in rows]
    write_text(args.out / "training.md", "\n".join(lines) + "\n")
    print(f"wrote {args.out / 'training.md'}")


if __name__ == "__main__":
    main()
