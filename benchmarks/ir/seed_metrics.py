"""Every model's metrics per training seed and their mean over seeds, unrounded (no training;
reads the summary.json files of result folders, instantly).

The results tables round to three decimals of the paper's scalings; where two models differ in
the fourth digit or beyond (cosine and R2 always do), this prints the values the tables and
their "best per metric" lines are read from, seven significant digits, unscaled:

    python benchmarks/ir/seed_metrics.py --split random outputs/results outputs/moment-l100 outputs/moment-l100-r64
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from operando.ir.bench.runner import TABLE_COLUMNS, summaries_by_model

METRICS = TABLE_COLUMNS + ("coverage90",)


def seed_lines(results: Path, split: str, models: list[str] | None = None) -> list[str]:
    """Per model of ``results/split`` (all of them, or those named in ``models``): a heading
    with its seeds, then one line per metric with the mean over seeds and each seed's value."""
    lines = []
    for model, runs in summaries_by_model(results, split).items():
        if models is not None and model not in models:
            continue
        lines.append(f"{results} | {model} | seeds {', '.join(str(r.get('seed', 0)) for r in runs)}")
        for m in METRICS:
            if all(m in r for r in runs):
                values = [r[m]["mean"] for r in runs]
                lines.append(f"  {m:<10} mean {np.mean(values):.7g}  per seed " + " ".join(f"{v:.7g}" for v in values))
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results", type=Path, nargs="+", help="result folders (each with <split>/<model>/summary.json)")
    p.add_argument("--split", choices=("random", "system"), default="random")
    p.add_argument("--models", nargs="+", default=None, help="model names as in the tables (default: all)")
    args = p.parse_args(argv)
    for folder in args.results:
        if not (folder / args.split).is_dir():
            raise SystemExit(f"{folder}: no {args.split}/ folder of results")
        print("\n".join(seed_lines(folder, args.split, args.models)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
