"""Regenerate docs/ir/results.md from a results folder written by `operando ir bench` / `operando pipeline`.

    python benchmarks/ir/regenerate_results.py --results outputs/results --out docs/ir/results.md

Every number in the page comes from the files under --results (summary.json of each model,
the split files, the flow models' run folders); nothing is typed by hand. Re-running the
pipeline (`operando pipeline --out outputs`) and then this script reproduces the page.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from operando.atomic import write_text
from operando.ir.bench.runner import (
    NOISE_FLOOR,
    TABLE_COLUMNS,
    format_table,
    load_summaries,
    markdown_cell,
    markdown_table,
    metric_label,
    seed_summaries,
    summaries_by_model,
)
from operando.ir.bench.uncertainty import ConformalScale
from operando.train.checkpoint import count_values


def run_rows(results: Path) -> list[str]:
    """Training time, size and convergence of every flow model's run folder."""
    rows = []
    for run in sorted((results / "runs").glob("*")):
        metrics = run / "metrics.csv"
        if not (run / "forecaster.json").exists():  # unfinished run: no fitted model to report
            continue
        m = pd.read_csv(metrics)
        # Counted from the weights file, so every network kind (SiT1D, two-stream) is covered; a
        # run folder of benchmarks/ir/record/ has the count alone (reproduce_results.keep_in_record).
        weights = run / "model.safetensors"
        params = (count_values(weights) if weights.exists() else
                  json.loads((run / "parameters.json").read_text(encoding="utf-8"))["parameters"])
        # "converged": first logged step whose smoothed loss is within 5 % of the final one.
        smooth = m["mse"].rolling(5, min_periods=1).mean()
        final = smooth.iloc[-1]
        conv = m.loc[(smooth <= 1.05 * final).idxmax()]
        rows.append(f"| {run.name} | {params:,} | {int(m['step'].iloc[-1])} | {m['seconds'].iloc[-1]:.0f} | "
                    f"{int(conv['step'])} | {conv['seconds']:.0f} | {final:.4g} |")
    return rows


def interval_rows(results: Path) -> list[str]:
    """The conformal factors at 90 % of every calibrated flow model's run folder: from held-out
    spectra of its training systems, and from its unseen-system folds (with the systems that set
    the smallest and the largest per-system factor and the folds' training time)."""
    rows = []
    for run in sorted((results / "runs").glob("*")):
        if not (run / "forecaster.json").exists():
            continue
        model = json.loads((run / "forecaster.json").read_text(encoding="utf-8"))["model"]
        seen, unseen = (ConformalScale.from_dict(model.get(key)) for key in ("conformal", "conformal_unseen"))
        if seen is None and unseen is None:
            continue
        cells = [run.name, "" if seen is None else f"{seen.factor(0.9):.2f} ({seen.n_values:,} values)"]
        if unseen is None:
            cells += ["", "", "", ""]
        else:
            i = unseen.levels.index(0.9)
            by_system = sorted((q[i], markdown_cell(name)) for name, q in (unseen.by_group or {}).items())
            fold_seconds = sum(pd.read_csv(m)["seconds"].iloc[-1] for m in sorted(run.glob("system-folds/*/metrics.csv")))
            cells += [f"{unseen.factor(0.9):.2f} ({unseen.n_groups} systems)",
                      f"{by_system[0][0]:.2f} {by_system[0][1]}" if by_system else "",
                      f"{by_system[-1][0]:.2f} {by_system[-1][1]}" if by_system else "", f"{fold_seconds:.0f}"]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def included(path: Path, heading: str, intro: str) -> list[str]:
    """The lines of a section that shows the Markdown file ``path`` (written by a benchmark script)
    under ``heading`` after ``intro``; none when the script has not been run."""
    if not path.exists():
        return []
    return [heading, "", intro, "", path.read_text(encoding="utf-8").rstrip(), ""]


def setting_changes(run: Path) -> tuple[tuple[str, object], ...]:
    """The ABCC settings of a run folder that differ from the registered ABCC's
    (``operando ir bench --model abcc``), as sorted (field, value) pairs, then ("antithetic", value)
    when its draws differ from the registered ones in that; the molecule source is left out (a
    vector file standing in for RDKit gives the same embeddings, bench_abcc_scale.py checks that).
    """
    import dataclasses

    from operando.ir.models import build_model

    path = run / "forecaster.json"
    if not path.exists():
        return ()
    model = json.loads(path.read_text(encoding="utf-8"))["model"]
    registered = build_model("abcc").config
    abcc, default = model.get("abcc") or {}, dataclasses.asdict(registered.abcc)
    changes = sorted((k, v) for k, v in abcc.items()
                     if k not in ("molecules", "molecule_file") and k in default and v != default[k])
    antithetic = bool(model.get("antithetic", False))
    return tuple(changes + ([("antithetic", antithetic)] if antithetic != registered.antithetic else []))


def scale_lines(folder: Path, results: Path) -> list[str]:
    """Models of ``benchmarks/ir/bench_abcc_scale.py`` (folder ``folder``) beside the seed means of
    ``results``, per split, labelled with the batch, steps, learning rate, changed ABCC
    settings and antithetic draws of their run folders."""
    from operando.ir.models import build_model

    registered, lines = build_model("abcc").training, []
    for split in ("random", "system"):
        runs = sorted((folder / "runs").glob(f"*-{split}*/config.json"))
        scaled, compared = seed_summaries(folder, split), seed_summaries(results, split)
        over, decimals = "mean ± std over training seeds", 3
        if runs and not scaled:  # one seed: beside the registered models at that seed, one more decimal
            scaled, compared, seed = one_seed_rows(folder, results, split, {s["model"] for s in compared})
            over, decimals = f"training seed {seed} only (each model at that seed)", 4
        if not scaled or not runs:
            continue
        budgets = {(c["batch_size"], c["steps"], c["lr"], setting_changes(r.parent)) for c, r in
                   ((json.loads(r.read_text(encoding="utf-8")), r) for r in runs)}
        if len(budgets) > 1:  # one label stands for every run of the folder
            raise SystemExit(f"{folder}: its {split}-split runs differ in (batch, steps, lr, ABCC settings and antithetic draws): "
                             f"{sorted(budgets)}")
        (batch, steps, lr, changes), = budgets
        label = f"batch {batch} x {steps} steps, lr {lr:g}" + "".join(f", {k} {v}" for k, v in changes)
        rows = [{**s, "model": f"{s['model']}, {label}"} for s in scaled] + compared
        lines += [f"## {split.capitalize()} split at another training scale or setting: {folder}", "",
                  f"The ABCC runs of folder {folder} (docs/ir/abcc.md gives the command and the machine), beside "
                  f"the registered models of the seeds table above (ABCC: batch {registered.batch_size} x "
                  f"{registered.steps} steps); {over}:", "",
                  markdown_table(format_table(rows, decimals)).rstrip(), "", *ranking(rows), ""]
    return lines


def one_seed_rows(folder: Path, results: Path, split: str, models: set[str]) -> tuple[list[dict], list[dict], int]:
    """The summaries of ``folder``, all of one training seed, and those of ``models`` in
    ``results`` at that seed, means only (:func:`single_seed`); ([], [], 0) when there are none."""
    scaled = [single_seed(s) for s in load_summaries(folder, split, all_seeds=True)]
    seeds = {s["seed"] for s in scaled}
    if len(seeds) > 1:
        raise SystemExit(f"{folder}: its {split}-split models were trained with different seeds {sorted(seeds)}")
    if not seeds:
        return [], [], 0
    seed, = seeds
    compared = [single_seed(s) for s in load_summaries(results, split, all_seeds=True)
                if s["model"] in models and s.get("seed", 0) == seed]
    return scaled, compared, seed


def single_seed(summary: dict) -> dict:
    """A summary.json of one training seed with its metrics' means only (its ``std`` is the
    spread over test spectra, not over seeds)."""
    return {**summary, **{m: {"mean": summary[m]["mean"]} for m in TABLE_COLUMNS if m in summary}}


def ranking(summaries: list[dict]) -> list[str]:
    """Models ordered by mean MAE, and for each metric the best model: read, not typed."""
    from operando.ir.bench.metrics import HIGHER_IS_BETTER, METRIC_SCALES

    models = [s for s in summaries if s["model"] != NOISE_FLOOR]
    floor = next((s for s in summaries if s["model"] == NOISE_FLOOR), None)
    order = sorted(models, key=lambda s: s["MAE"]["mean"])
    scale = METRIC_SCALES["MAE"]
    text = " < ".join(f"{s['model']} {s['MAE']['mean'] / scale:.3f}" for s in order)
    lines = [f"By MAE (x1e-2): {text}" + (f"; noise floor {floor['MAE']['mean'] / scale:.3f}." if floor else ".")]
    best = []
    for m in TABLE_COLUMNS:
        pick = (max if m in HIGHER_IS_BETTER else min)(models, key=lambda s: s[m]["mean"])
        best.append(f"{m}: {pick['model']}")
    lines.append("Best per metric: " + "; ".join(best) + ".")
    return lines


def goal_lines(results: Path, model: str, min_seeds: int = 3) -> list[str]:
    """The ABCC issue's goals checked on ``results`` (read, not typed): on each split, ``model``'s
    mean over its training seeds against the strongest baseline per metric (each baseline at the
    mean of the seeds it has), with the margin in units of ``model``'s std over seeds; its
    random-split MAE over the noise floor's (goal <= 1.5); each seed's coverage of the 90 %
    interval (goal 0.85 to 0.95); and whether it has ``min_seeds`` seeds. Seven significant
    digits: cosine and R2 differ beyond the tables' three decimals."""
    from operando.ir.bench.metrics import HIGHER_IS_BETTER, METRIC_SCALES

    rows, verdicts = [], []
    for split in ("random", "system"):
        by_model = summaries_by_model(results, split)
        ours, floor = by_model.pop(model, []), by_model.pop(NOISE_FLOOR, [])
        if not ours or not by_model:
            continue
        seeds = [r.get("seed", 0) for r in ours]
        verdicts.append(f"{split} split, training seeds of {model}: {', '.join(map(str, seeds))} "
                        f"({'met' if len(seeds) >= min_seeds else 'not met'}: at least {min_seeds})")
        ahead = 0
        for m in TABLE_COLUMNS:
            sign, scale = (1 if m in HIGHER_IS_BETTER else -1), METRIC_SCALES[m]
            values = [r[m]["mean"] / scale for r in ours]
            mean, std = float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")
            rival, runs = max(by_model.items(), key=lambda kv: sign * np.mean([r[m]["mean"] for r in kv[1]]))
            theirs = float(np.mean([r[m]["mean"] / scale for r in runs]))
            margin = sign * (mean - theirs)
            ahead += margin > 0
            rows.append(f"| {split} | {metric_label(m)} | "
                        f"{mean:.7g} ± {std:.2g} | {rival} ({len(runs)} seed{'s' * (len(runs) > 1)}) | {theirs:.7g} | "
                        f"{margin:+.3g} | {f'{margin / std:+.1f}' if std > 0 else ''} | {'yes' if margin > 0 else '**no**'} |")
        verdicts.append(f"{split} split, {model} ahead of every baseline on {ahead} of {len(TABLE_COLUMNS)} "
                        f"metrics ({'met' if ahead == len(TABLE_COLUMNS) else 'not met'})")
        if split == "random" and floor:
            ratio = np.mean([r["MAE"]["mean"] for r in ours]) / np.mean([r["MAE"]["mean"] for r in floor])
            verdicts.append(f"random split, MAE over the noise floor's: {ratio:.3f} ({'met' if ratio <= 1.5 else 'not met'}: at most 1.5)")
        coverage = [r["coverage90"]["mean"] for r in ours if "coverage90" in r]
        if coverage:
            inside = all(0.85 <= c <= 0.95 for c in coverage)
            verdicts.append(f"{split} split, coverage of the 90 % interval per seed: {', '.join(f'{c:.3f}' for c in coverage)} "
                            f"({'met' if inside else 'not met'}: each between 0.85 and 0.95)")
    if not rows:
        return []
    return ["| split | metric | " + model + " (mean ± std over seeds) | strongest baseline | its mean | "
            "ahead by | ahead by / std | ahead |", "|---|---|---|---|---|---|---|---|", *rows, "",
            *(f"- {v}" for v in verdicts)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=Path("outputs/results"))
    ap.add_argument("--ablation", type=Path, default=Path("outputs/ablation"),
                    help="folder of benchmarks/ir/ablation.py (its ablation.md is included when present)")
    ap.add_argument("--routes", type=Path, nargs="*", default=[Path("outputs/routes-random"), Path("outputs/routes-system")],
                    help="folders of benchmarks/ir/bench_routes.py (their routes.md are included when present)")
    ap.add_argument("--scale", type=Path, nargs="*", default=[Path("outputs/results-scale")],
                    help="folders of benchmarks/ir/bench_abcc_scale.py (compared with --results when present)")
    ap.add_argument("--out", type=Path, default=Path("docs/ir/results.md"))
    args = ap.parse_args()

    lines = ["# Results (IR)", "", "Part of **IR** ([all IR pages](README.md)).", "",
             f"Generated by `python benchmarks/ir/regenerate_results.py {' '.join(sys.argv[1:])}`".rstrip()
             + " from the files of `operando pipeline` / `operando ir bench` and the benchmark scripts named "
             "below; do not edit by hand.",
             "", f"Generated {dt.date.today().isoformat()} on {platform.machine()} with "
             f"{torch.get_num_threads()} CPU threads, torch {torch.__version__}. Data: OpIRSpec-7K-sim "
             "(**simulated**, see [simulator.md](simulator.md)); metrics and splits: [benchmark.md](benchmark.md).",
             ""]
    from operando.ir.models import build_model

    goals = goal_lines(args.results, build_model("abcc").name)
    if goals:
        lines += ["## Goals of the ABCC forecaster", "",
                  "Its mean over training seeds against the strongest baseline per metric (each baseline at the "
                  "mean of the seeds it was scored with, every model of the tables below; the margin also in "
                  "units of ABCC's std over seeds: below 1, the lead is smaller than the spread of seeds), "
                  "and the goals of the issue that asked for it:", "", *goals, ""]
    for split, title in (("random", "Random split (Table 2 layout)"), ("system", "System split (Table 3 layout)")):
        summaries = load_summaries(args.results, split)
        if not summaries:
            continue
        lines += [f"## {title}", "", markdown_table(format_table(summaries)).rstrip(), "", *ranking(summaries), ""]
        timing = ["| model | seed | test spectra | fit [s] | predict [s] | coverage of the 90 % interval |",
                  "|---|---|---|---|---|---|"]
        timing += [f"| {s['model']} | {s.get('seed', 0)} | {s['n_test_spectra']} | {s['fit_seconds']:.1f} | "
                   f"{s['predict_seconds']:.2f} |{' ' + format(s['coverage90']['mean'], '.3f') if 'coverage90' in s else ''} |"
                   for s in summaries if s["model"] != NOISE_FLOOR]
        lines += ["Training seed, fit and prediction time (whole test set; wall-clock seconds of the run that "
                  "wrote the files, which may have shared the machine) and, for the sampling models, the share "
                  "of test values inside the model's 90 % interval (16 draws; for ABCC conformal: split-conformal "
                  "on the random split, whose test cells it trained on, and cross-conformal over training systems "
                  "on the system split; raw draw quantiles otherwise):", "", *timing, ""]
        lines += included(args.results / split / "seeds.md", f"### {split.capitalize()} split across training seeds",
                          "Mean ± std (ddof 1) over training seeds of each metric's test-set mean "
                          "(`operando ir bench --seed N`; same split):")
        lines += included(args.results / split / "point-bias.md",
                          f"### {split.capitalize()} split: where the squared error comes from",
                          "From `python benchmarks/ir/bench_point_bias.py` (saved test predictions; offset = mean over "
                          "wavenumbers of forecast − measured, per spectrum; mean over the seeds found):")
    for folder in args.scale:
        lines += scale_lines(folder, args.results)
    runs = run_rows(args.results)
    if runs:
        lines += ["## Flow models: training", "",
                  "Converged = first logged step whose 5-point smoothed training MSE is within 5 % of its final value.", "",
                  "| run | parameters | steps | train time [s] | converged at step | converged after [s] | final MSE |",
                  "|---|---|---|---|---|---|---|", *runs, ""]
    intervals = interval_rows(args.results)
    if intervals:
        lines += ["## Flow models: interval factors", "",
                  "The factor q of the 90 % interval mean ± q · std of the draws (docs/ir/abcc.md section 5): "
                  "split-conformal from held-out spectra of the training systems (used for cells of those "
                  "systems), and cross-conformal from models trained without some of the training systems "
                  "(the largest per-system factor; used for any other system), with the held-out systems "
                  "that gave the smallest and the largest factor:", "",
                  "| run | held-out spectra | unseen systems | smallest (system) | largest (system) | fold training [s] |",
                  "|---|---|---|---|---|---|", *intervals, ""]
    lines += included(args.results / "speed" / "training.md", "## Training throughput on CPU",
                      "From `python benchmarks/ir/bench_training.py` (the model's real training problem, on an otherwise "
                      "idle machine; budget time = training steps x median seconds per step, the last phase's at its own):")
    lines += included(args.results / "speed" / "sampling.md", "## One-step MeanFlow against multi-step flow matching",
                      "From `python benchmarks/ir/bench_sampling.py` (same process, same threads for both models):")
    for folder in sorted(args.results.glob("speed-draws-*")):
        lines += included(folder / "sampling.md", f"## Point forecast against its number of draws: {folder.name}",
                          f"From `python benchmarks/ir/bench_sampling.py --draws ... --out {folder}` (MSE falls with "
                          "the draws: their own scatter is part of a squared error):")
    for folder in args.routes:
        lines += included(folder / "routes.md", f"## Image route (waveform images, latent MeanFlow): {folder.name}",
                          f"From `python benchmarks/ir/bench_routes.py` (folder {folder}), 3000 MeanFlow steps; the 1D "
                          "route at that budget is compared in [image-route.md](image-route.md) (the tables above "
                          "hold MeanFlow's 6000-step default):")
    lines += included(args.ablation / "ablation.md", "## ABCC ablation (Table 4 layout)",
                      f"From `python benchmarks/ir/ablation.py` (folder {args.ablation}):")
    # Paths inside this checkout are shown relative to it: the page is read on other machines.
    write_text(args.out, "\n".join(lines).replace(f"{Path(__file__).resolve().parents[2]}/", ""))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
