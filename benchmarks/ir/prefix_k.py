"""The prefix-k protocol (issue 34, item 4) on the system split of OpIRSpec-7K-sim.

Each test experiment of the system split (systems never seen in training) is given its first k
spectra; the rest are forecast by the zero-shot model (re-anchored at spectrum k-1), the
few-shot correction of it (:mod:`operando.ir.models.fewshot`), the per-wavenumber linear
extrapolation of the prefix and persistence (spectrum k-1), and scored with
:func:`operando.ir.bench.measured.score_measured` (every OpIRBench metric; MAE and DILATE are
tabulated), as measured and after per-spectrum drift removal. Experiments with no more than k
spectra drop out at that k (the table gives how many remain).

    python benchmarks/ir/prefix_k.py --out outputs/prefix-k            # simulate, train, score
    python benchmarks/ir/prefix_k.py --out outputs/prefix-k --run RUN  # score an existing run

Without ``--run`` a MeanFlow is trained on the training part of the system split with the
settings below (``--steps``, ``--hidden``, ``--depth``; seed ``--seed``), config saved beside
it as run.json. Writes ``OUT/prefix_k.csv`` and ``OUT/prefix_k.md``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

KS = (1, 5, 10, 20)


def train(out: Path, steps: int, hidden: int, depth: int, seed: int) -> Path:
    from operando.ir.data.dataset import OperandoDataset
    from operando.ir.models.runs import RunConfig, train_run
    from operando.ir.simulate import simulate_dataset

    data = out / "opirspec7k-sim.h5"
    if not data.is_file():
        OperandoDataset(list(simulate_dataset(seed=0)), simulated=True).save(data)
    config = RunConfig(name=f"meanflow-system-h{hidden}-d{depth}-{steps}", data=str(data), split="system",
                       seed=seed, out=str(out / "runs"),
                       model={"n_samples": 4, "model_overrides": {"hidden_size": hidden, "depth": depth,
                                                                  "num_heads": 2}},
                       training={"steps": steps, "batch_size": 32, "warmup_steps": min(100, steps // 4),
                                 "ckpt_every": max(steps, 1)})
    if not (config.run_dir / "forecaster.json").is_file():
        train_run(config, progress=False)
    return config.run_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--run", type=Path, default=None, help="an existing run folder (system split)")
    parser.add_argument("--ks", default=",".join(map(str, KS)))
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--hidden", type=int, default=96)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from operando.ir.bench.measured import score_measured
    from operando.ir.bench.runner import markdown_table
    from operando.ir.bench.splits import make_split
    from operando.ir.data.dataset import OperandoDataset
    from operando.ir.forecast import load_model
    from operando.ir.simulate import simulate_dataset

    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    run = args.run or train(args.out, args.steps, args.hidden, args.depth, args.seed)
    train_s = time.perf_counter() - t0
    if args.run is not None:  # the run's own training time (its metrics.csv), not this script's
        train_s = float(pd.read_csv(run / "metrics.csv")["seconds"].iloc[-1])
    model = load_model(run)
    data = args.out / "opirspec7k-sim.h5"
    ds = OperandoDataset.load(data) if data.is_file() else OperandoDataset(list(simulate_dataset(seed=0)),
                                                                         simulated=True)
    split = make_split(ds, "system", seed=0)
    tests = [ds[name] for name in split.test]
    rows = []
    for k in (int(x) for x in args.ks.split(",")):
        cells = [e for e in tests if len(e) > k]
        t1 = time.perf_counter()
        score = score_measured(model.forecaster, cells, first=k, preprocess=model.preprocess,
                               seed=model.forecaster.seed, source=str(data))
        table = score.table()
        table.insert(0, "k", k)
        table.insert(1, "experiments", len(cells))
        table["seconds"] = round(time.perf_counter() - t1, 1)
        rows.append(table)
        print(f"k = {k}: {len(cells)} experiments, {time.perf_counter() - t1:.1f} s", flush=True)
    result = pd.concat(rows, ignore_index=True)[["k", "experiments", "scoring", "forecast", "MAE", "DILATE",
                                                 "MAE ratio", "seconds"]]
    result.to_csv(args.out / "prefix_k.csv", index=False)
    shown = result.copy()
    for column in ("MAE", "DILATE", "MAE ratio"):
        shown[column] = shown[column].map(lambda v: f"{v:.4g}")
    head = (f"prefix-k on the system split ({len(tests)} test experiments of {sorted({e.system for e in tests})}); "
            f"model {model.name} from {run} (trained in {train_s:.0f} s); MAE / 1e-2 in first-spectrum units\n\n")
    text = head + markdown_table(shown)
    (args.out / "prefix_k.md").write_text(text, encoding="utf-8")
    (args.out / "prefix_k.json").write_text(json.dumps({"run": str(run), "ks": args.ks, "train_seconds": train_s},
                                                       indent=2) + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
