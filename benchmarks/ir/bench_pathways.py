"""SEI pathways on the held-out CoO system: decomposition of the measured sequence versus the
simulator's truth, and of a model's forecast versus both. Prints every number of
docs/ir/decomposition.md.

Run::

    operando ir simulate -o data.h5
    python benchmarks/ir/bench_pathways.py --data data.h5 [--run RUN_DIR] [--calibration CAL.h5]
        [--experiments coo-superp-gitt-1 ...] [--json scores.json]

Without ``--calibration`` the calibration set is simulated (seed 0, under a second). Each
experiment is resolved alone and all of them together (shared spectra), with the
calibration background (the recommended setting), then the measured sequences again with the
band-library background, with s_0 only, and in raw mode, for comparison. Set
OMP_NUM_THREADS=1 on a busy machine: the matrices are small and threads only contend.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from operando.ir.data.dataset import OperandoDataset
from operando.ir.pathways import compare_pathways, forecast_sequences, scores_summary

COO = [f"coo-superp-gitt-{i}" for i in range(1, 5)]


def _fmt(x) -> str:
    return "  -  " if x is None else f"{x:.3f}"


def _row(label: str, scores: dict | None, key: str = "components") -> str:
    if not scores:
        return f"{label:<34s} (n/a)"
    parts = []
    for c in scores.get(key, []):
        other = c.get("true_component") or f"#{c.get('matched_component')}"
        parts.append(f"{c['name'] or '?'}~{other} {_fmt(c['spectrum_correlation'])}/{_fmt(c['profile_correlation'])}")
    return f"{label:<34s} min r {_fmt(scores.get('min_spectrum_correlation'))}  " + "  ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, type=Path, help="OpIRSpec-7K-sim (operando ir simulate -o ...)")
    parser.add_argument("--run", type=Path, help="run folder of a trained forecaster")
    parser.add_argument("--calibration", type=Path, help="calibration set (default: simulated, seed 0)")
    parser.add_argument("--experiments", nargs="+", default=COO)
    parser.add_argument("--json", type=Path, help="also write every score as JSON here")
    args = parser.parse_args()

    from operando.ir.data.preprocess import preprocess_experiment

    dataset = OperandoDataset.load(args.data)
    if args.calibration:
        calibration = OperandoDataset.load(args.calibration)
    else:
        from operando.ir.simulate import simulate_calibration

        calibration = simulate_calibration(0)
    forecasts = None
    if args.run:
        from operando.ir.models.runs import load_run

        start = time.perf_counter()
        model = load_run(args.run)
        forecasts = forecast_sequences(model, [preprocess_experiment(dataset[n])[0] for n in args.experiments])
        print(f"forecasts of {len(forecasts)} experiments by {args.run}: {time.perf_counter() - start:.1f} s")
    print("cells: spectrum correlation / profile correlation of each matched pair "
          "(name of the recovered component ~ true product or paired component)")

    record = {}
    groups = [[n] for n in args.experiments] + ([list(args.experiments)] if len(args.experiments) > 1 else [])
    for names in groups:
        key = names[0] if len(names) == 1 else "together: " + ", ".join(names)
        print(f"\n== {key}")
        start = time.perf_counter()
        result = compare_pathways(dataset, names, calibration=calibration, references="calibration",
                                  forecasts=forecasts)
        seconds = time.perf_counter() - start
        m, s = result["measured"], result["scores"]
        print(f"K = {m.n_components}; singular values / noise edge {np.round(m.singular_values[:5], 2).tolist()}; "
              f"lack of fit {m.lack_of_fit_percent:.2f} %; {seconds:.1f} s")
        print(_row("measured vs truth (calibration)", s["measured_vs_true"]))
        print(_row("forecast vs truth", s["forecast_vs_true"]))
        print(_row("forecast vs measured-derived", s["forecast_vs_measured"], "pairs"))
        record[key] = {"calibration": scores_summary(result), "seconds": round(seconds, 2)}
        for label, kwargs in (("library", {"references": "library"}), ("s_0 only", {"references": "none"}),
                              ("raw mode", {"mode": "raw"})):
            alt = compare_pathways(dataset, names, calibration=calibration, **kwargs)
            print(_row(f"measured vs truth ({label}, K={alt['n_components']})", alt["scores"]["measured_vs_true"]))
            record[key][label] = scores_summary(alt)
    if args.json:
        args.json.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
