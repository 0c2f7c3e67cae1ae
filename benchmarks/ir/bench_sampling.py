"""One-step MeanFlow against multi-step flow matching: prediction time and accuracy (and ABCC's
point forecast against its number of draws, ``--models abcc``).

Loads two trained run folders (by default the ones `operando ir bench` / `operando pipeline`
leave under ``<results>/runs``: ``meanflow-<split>`` and ``flow-matching-<split>``), forecasts
every test spectrum of the OpIRBench split from its experiment's first spectrum with each
sampler setting, and records wall time and the benchmark's seven metrics (of the point
forecast = mean of the draws; the squared ones show what the draws' own scatter adds).
``--antithetic`` draws them in antithetic pairs (eps, -eps) instead of independently.
Both models run in this one process, one after the other, with the same torch thread count,
so the times compare.

Writes ``<out>/sampling.json`` and ``<out>/sampling.md`` (read by regenerate_results.py).

Run (after `operando ir bench --model meanflow --model flow-matching --split system`)::

    python benchmarks/ir/bench_sampling.py --data outputs/opirspec7k-sim.h5 \\
        --results outputs/results --split system --threads 2
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from operando.atomic import write_text
from operando.ir.bench.metrics import METRIC_SCALES
from operando.ir.bench.runner import TABLE_COLUMNS, markdown_table, score_predictions
from operando.ir.bench.splits import get_split
from operando.ir.bench.task import masked
from operando.ir.data.dataset import OperandoDataset
from operando.ir.data.preprocess import preprocess_dataset
from operando.ir.models.generative import FlowForecaster


def forecast_test_set(model: FlowForecaster, ds: OperandoDataset, split, draws: int,
                      seed: int = 0) -> tuple[float, dict[str, float], int]:
    """(seconds, test-set means of every benchmark metric, n_spectra) of the point forecast (mean
    of ``draws``) of every test step; DILATE over the test experiments, as in ``operando ir bench``."""
    predictions = {}
    started = time.perf_counter()
    for name, steps in split.test.items():
        steps = np.asarray(steps)
        predictions[name] = (steps, model.sample(masked(ds[name], [0]), steps, n_samples=draws, seed=seed).mean(axis=0))
    seconds = time.perf_counter() - started
    summary = score_predictions(model.name, split, ds, predictions).summary()
    return seconds, {m: summary[m]["mean"] for m in TABLE_COLUMNS}, summary["n_test_spectra"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="dataset (.h5) the runs were trained on")
    parser.add_argument("--results", type=Path, default=Path("outputs/results"), help="`operando ir bench` --out")
    parser.add_argument("--split", choices=("random", "system"), default="system")
    parser.add_argument("--meanflow", type=Path, default=None, help="run folder (default <results>/runs/meanflow-<split>)")
    parser.add_argument("--flow-matching", type=Path, default=None,
                        help="run folder (default <results>/runs/flow-matching-<split>)")
    parser.add_argument("--abcc", type=Path, default=None, help="run folder (default <results>/runs/abcc-<split>)")
    parser.add_argument("--models", nargs="+", choices=("meanflow", "flow-matching", "abcc"),
                        default=["meanflow", "flow-matching"],
                        help="which runs to time (speed-ups need meanflow and flow-matching)")
    parser.add_argument("--draws", type=int, nargs="+", default=[1, 4], help="draws per forecast")
    parser.add_argument("--antithetic", action="store_true",
                        help="draw in antithetic pairs (eps, -eps), as the model setting `antithetic = true` does")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="default <results>/speed")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = args.out or args.results / "speed"
    runs = {"MeanFlow": args.meanflow or args.results / "runs" / f"meanflow-{args.split}",
            "Flow matching": args.flow_matching or args.results / "runs" / f"flow-matching-{args.split}",
            "ABCC": args.abcc or args.results / "runs" / f"abcc-{args.split}"}
    runs = {label: run for (label, run), name in zip(runs.items(), ("meanflow", "flow-matching", "abcc"))
            if name in args.models}

    ds = preprocess_dataset(OperandoDataset.load(args.data))
    split = get_split(ds, args.split, args.results / "splits", seed=0)
    rows = []
    for label, run in runs.items():
        model = FlowForecaster.load(run)
        model.config.antithetic = model.config.antithetic or args.antithetic
        for draws in args.draws:
            seconds, scores, n = forecast_test_set(model, ds, split, draws)
            rows.append({"model": label, "run": str(run), "sampler steps": model.config.sample_steps,
                         "draws": draws, "antithetic": model.config.antithetic,
                         "network evaluations per spectrum": model.config.sample_steps * draws,
                         "test spectra": n, "predict seconds": round(seconds, 3), **scores})
            print(f"{label:14s} {model.config.sample_steps:3d}-step x {draws} {'antithetic ' * model.config.antithetic}"
                  f"draws: {seconds:8.2f} s, "
                  f"MAE {scores['MAE'] / 1e-2:.4f}e-2, MSE {scores['MSE'] / 1e-3:.4f}e-3, cosine {scores['cosine']:.6f}, "
                  f"R2 {scores['R2']:.6f}, DILATE {scores['DILATE']:.4f} ({n} spectra)", flush=True)
    table = pd.DataFrame(rows)
    speedups = []
    for draws in args.draws if {"MeanFlow", "Flow matching"} <= set(runs) else ():
        at = table[table["draws"] == draws].set_index("model")
        speedups.append({"draws": draws,
                         "speed-up (flow matching time / MeanFlow time)":
                             round(at.loc["Flow matching", "predict seconds"] / at.loc["MeanFlow", "predict seconds"], 1),
                         "MAE MeanFlow (x1e-2)": round(at.loc["MeanFlow", "MAE"] / 1e-2, 3),
                         "MAE flow matching (x1e-2)": round(at.loc["Flow matching", "MAE"] / 1e-2, 3)})
    result = {"split": args.split, "threads": args.threads, "torch": torch.__version__,
              "rows": rows, "speedups": speedups}
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "sampling.json", json.dumps(result, indent=2))
    shown = table.drop(columns=["run"])
    for metric in TABLE_COLUMNS:  # the paper's scalings; enough digits to see a 16 -> 256 draws change
        scale = METRIC_SCALES[metric]
        shown[metric] = (shown[metric] / scale).round(6 if metric in ("cosine", "R2") else 4)
        if scale != 1:
            shown = shown.rename(columns={metric: f"{metric} (x{scale:.0e})".replace("e-0", "e-")})
    md = (f"Prediction of the {args.split}-split test set ({rows[0]['test spectra']} spectra) from each "
          f"experiment's first spectrum, {args.threads} torch threads, one process.\n\n"
          + markdown_table(shown) + ("\n\n" + markdown_table(pd.DataFrame(speedups)) if speedups else "") + "\n")
    write_text(out / "sampling.md", md)
    print(md)


if __name__ == "__main__":
    main()
