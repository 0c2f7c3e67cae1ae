"""ABCC at another scale: batch, steps, learning rate (and backbone preset), several seeds at once.

The registered ABCC (`operando ir bench --model abcc`) is sized for two CPU cores: batch 64, 9000
steps, the last 3000 with L_moment. This script trains and scores the same model (every ABCC piece on, the same
split-conformal intervals) at the scale a GPU allows, one process per training seed, and writes
the usual result and run folders under `--out` (`<out>/<split>/abcc-<preset>-1-step/...`,
`<out>/runs/abcc-<preset>-<split>[-seed-N]/` with their configs), which
`regenerate_results.py --scale` compares with the registered models. The measured run (docs/ir/abcc.md, "At a GPU's scale"):

    python benchmarks/ir/bench_abcc_scale.py --data outputs/opirspec7k-sim.h5 --split random \
        --seeds 0 1 2 --batch-size 512 --steps 3000 --no-system-folds --out outputs/results-scale

A machine without RDKit (the 3D molecule descriptors; the GPU image has none) takes the 3D
vectors as a file made where RDKit is installed. The vectors, hence the model, are the same: the
export checks that the file reproduces every cell's mixture embedding exactly.

    python benchmarks/ir/bench_abcc_scale.py --data outputs/opirspec7k-sim.h5 --export-molecules gpu/mol3d.npz
    python benchmarks/ir/bench_abcc_scale.py ... --molecule-file gpu/mol3d.npz

The run folders then name that file (loading them needs it at the same path).
`--timing-steps N` trains N steps of each preset in `--timing-presets` at the script's batch
size (no scoring) and prints seconds per step, to size `--steps` for a time budget.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np


def export_molecules(data: Path, out: Path) -> None:
    """Write the 3D vector of every salt, solvent and additive SMILES of ``data`` to ``out``."""
    from operando.atomic import atomic_path
    from operando.ir.chem.mixture import MoleculeEncoder, mixture_embedding
    from operando.ir.data.dataset import OperandoDataset

    ds = OperandoDataset.load(data)
    encoder = MoleculeEncoder("3d")
    electrolytes = {json.dumps(e.meta.electrolyte.to_dict(), sort_keys=True): e.meta.electrolyte for e in ds}
    smiles = sorted({c.smiles for el in electrolytes.values()
                     for c in [el.salt, *el.solvents, *el.additives]})
    vectors = np.stack([encoder.encode(s) for s in smiles])
    with tempfile.TemporaryDirectory() as folder:  # checked before anything lands at `out`
        probe = Path(folder) / "vectors.npz"
        np.savez(probe, smiles=np.array(smiles), vectors=vectors)
        from_file = MoleculeEncoder.from_file(probe)
        worst = max(float(np.max(np.abs(mixture_embedding(el, encoder) - mixture_embedding(el, from_file))))
                    for el in electrolytes.values())
        if worst > 0:
            raise SystemExit(f"{out}: a vector file would not reproduce the 3D mixture embeddings (max diff {worst})")
        with atomic_path(out) as tmp:
            shutil.copyfile(probe, tmp)
    print(f"{out}: {len(smiles)} molecules, {vectors.shape[1]}-d; all {len(electrolytes)} mixture "
          "embeddings reproduced exactly")


def abcc_setting(text: str) -> tuple[str, object]:
    """``FIELD=VALUE`` -> (field, value), the value read as JSON where it is JSON (numbers,
    true/false), else as text; checked by ABCCConfig itself (field name and value)."""
    from operando.ir.models.abcc import ABCCConfig

    field, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r}: expected FIELD=VALUE")
    try:
        value = json.loads(value)
    except json.JSONDecodeError:
        pass
    try:
        ABCCConfig.from_value({field: value})
    except (TypeError, ValueError) as e:
        raise argparse.ArgumentTypeError(f"{text!r}: {e}") from None
    return field, value


def build(args, seed: int, run_dir: Path | None):
    """The registered ABCC with the backbone preset and training budget of ``args``."""
    from operando.ir.models import build_model

    abcc = {"molecules": "file", "molecule_file": str(args.molecule_file)} if args.molecule_file else {}
    abcc.update(args.abcc)
    model = build_model("abcc", seed=seed, abcc=abcc, run_dir=run_dir)
    model.training.batch_size, model.training.lr = args.batch_size, args.lr
    model.training.warmup_steps = args.warmup_steps
    model.set_training_steps(args.steps)
    model.config.preset = args.preset
    if args.no_system_folds:
        model.config.conformal_system_folds = 0
    if args.antithetic is not None:
        model.config.antithetic = args.antithetic
    return model


def score_seed(args, seed: int) -> str:
    """Train and score one seed; returns the line to print."""
    import torch

    from operando.ir.bench.runner import evaluate, save_result
    from operando.ir.bench.splits import get_split
    from operando.ir.bench.suite import coverage_samples, run_name
    from operando.ir.data.dataset import OperandoDataset
    from operando.ir.data.preprocess import preprocess_dataset

    torch.set_num_threads(args.threads)
    ds = preprocess_dataset(OperandoDataset.load(args.data))
    split = get_split(ds, args.split, args.out / "splits")
    model = build(args, seed, args.out / "runs" / run_name(f"abcc-{args.preset}", args.split, seed))
    result = evaluate(model, ds, split, coverage_samples=coverage_samples(model))
    result.seed = seed
    save_result(result, args.out)
    s = result.summary()
    return (f"seed {seed}: {result.model}  MAE {s['MAE']['mean'] / 1e-2:.4f}e-2  MSE {s['MSE']['mean'] / 1e-3:.4f}e-3"
            f"  fit {result.fit_seconds:.0f} s  predict {result.predict_seconds:.1f} s")


def timing(args) -> None:
    """Seconds per training step of each preset (the trainer's metrics.csv clock)."""
    import torch

    from operando.ir.bench.splits import make_split
    from operando.ir.bench.task import masked
    from operando.ir.data.dataset import OperandoDataset
    from operando.ir.data.preprocess import preprocess_dataset

    torch.set_num_threads(args.threads)
    ds = preprocess_dataset(OperandoDataset.load(args.data))
    split = make_split(ds, args.split, 0)
    train = [masked(ds[name], steps) for name, steps in split.train.items() if len(steps)]
    for preset in args.timing_presets:
        args.preset, args.steps = preset, args.timing_steps
        with tempfile.TemporaryDirectory() as tmp:
            model = build(args, 0, Path(tmp) / "run")
            model.config.conformal_system_folds = 0
            model.training.log_every = max(1, args.timing_steps // 4)
            start = time.perf_counter()
            model.fit(train)
            total = time.perf_counter() - start
            rows = np.genfromtxt(Path(tmp) / "run" / "metrics.csv", delimiter=",", names=True)
            per_step = (rows["seconds"][-1] - rows["seconds"][0]) / (rows["step"][-1] - rows["step"][0])
        print(f"timing: preset {preset} batch {args.batch_size}: {per_step * 1e3:.1f} ms/step after warm-up, "
              f"fit {total:.1f} s for {args.timing_steps} steps", flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--split", choices=("random", "system"), default="random")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--preset", default="small", help="SiT1D preset (small | base)")
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup-steps", type=int, default=200)
    p.add_argument("--no-system-folds", action="store_true",
                   help="skip the unseen-system interval folds (random split: no test system is unseen)")
    p.add_argument("--antithetic", action=argparse.BooleanOptionalAction, default=None,
                   help="draw the forecast's and the intervals' draws in antithetic pairs (eps, -eps) or "
                        "independently (default: as registered, antithetic)")
    p.add_argument("--molecule-file", type=Path, help="3D vectors from --export-molecules (no RDKit needed)")
    p.add_argument("--export-molecules", type=Path, help="write the dataset's 3D molecule vectors and exit")
    p.add_argument("--threads", type=int, default=2, help="CPU threads per seed process")
    p.add_argument("--timing-steps", type=int, default=0)
    p.add_argument("--timing-presets", nargs="+", default=["small"])
    p.add_argument("--abcc", type=abcc_setting, action="append", default=[], metavar="FIELD=VALUE",
                   help="override an ABCCConfig field (repeatable), e.g. lambda_moment=300")
    p.add_argument("--out", type=Path, default=Path("outputs/results-scale"))
    args = p.parse_args(argv)
    args.abcc = dict(args.abcc)

    if args.export_molecules:
        export_molecules(args.data, args.export_molecules)
        return 0
    if args.timing_steps:
        timing(args)
        return 0
    lines = {}
    # One process per seed; spawned, since CUDA cannot be forked.
    with ProcessPoolExecutor(len(args.seeds), mp_context=mp.get_context("spawn")) as pool:
        futures = {seed: pool.submit(score_seed, args, seed) for seed in args.seeds}
        for seed, future in futures.items():
            try:
                lines[seed] = future.result()
            except Exception as e:  # every seed's failure is reported, not just the first
                lines[seed] = f"seed {seed}: FAILED: {type(e).__name__}: {e}"
    for seed in args.seeds:
        print(lines[seed], flush=True)
    failed = sum("FAILED" in line for line in lines.values())
    if failed < len(lines):
        from operando.ir.bench.runner import write_tables

        _, md = write_tables(args.out, args.split)
        print(md.read_text())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
