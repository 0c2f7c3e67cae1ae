"""ABCC ablation (the layout of Table 4 of arXiv 2602.18551) on an OpIRBench split.

Rows, each trained and scored with ``--seeds`` seeds (mean ± std over seeds of each metric's
test-set mean); from the second row on, every row removes one more piece (cumulative):

1. ABCC (full)            every switch on (:class:`operando.ir.models.abcc.ABCCConfig` defaults)
2. w/o Chemical Flow      target = the spectrum itself, no trajectory batches
3. w/o two-stream         + one unconstrained output (no calibration spectra)
4. 2D fingerprints        + 2D fingerprints instead of 3D descriptors in the mixture embedding
5. w/o peak constraint    + lambda_peak = 0
6. w/o mean alignment     + lambda_mass = 0 (L_mass aligns the wavenumber mean of the flow)

The last row is a plain MeanFlow forecaster with the 2D mixture embedding. Besides the seven
OpIRBench metrics, each row gets: coverage90 of 16 draws; the mass-conservation residual
|mean_W (s_hat - s_0)| and its error against the truth |mean_W (s_hat - s_0) - mean_W (s - s_0)|;
the peak-position drift [cm-1] (:func:`operando.flow.physics.peak_drift`) of the predicted
change against the true change (noiseless truth when the data has it, else the measured one).

Writes ``<out>/ablation.csv`` (one row per variant and seed, plus mean/std rows),
``<out>/ablation.md`` (the table, then each row against the row above seed by seed), every run's bench files under ``<out>/runs`` and its
training folder under ``<out>/train`` (an existing training folder is resumed, so use a fresh
``--out`` after changing settings).

Full run (system split, 3 seeds, the default 3000 training steps)::

    python benchmarks/ir/ablation.py --data outputs/opirspec7k-sim.h5 \\
        --calibration outputs/calibration.h5 --out outputs/ablation --seeds 0 1 2

Smoke run (minutes): ``--steps 30 --seeds 0 --stride 10`` (every 10th spectrum of each cell).
Two processes on two cores: run ``--seeds 0 1 --threads 1 --out A`` and ``--seeds 2 --threads 1
--out B``, then ``--merge A B --out C`` writes the combined table.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from operando.atomic import atomic_path, write_text
from operando.flow.physics import mass_residual, peak_drift
from operando.ir.bench.metrics import METRIC_SCALES
from operando.ir.bench.runner import evaluate, markdown_table, save_result, slug
from operando.ir.bench.splits import get_split
from operando.ir.data.dataset import OperandoDataset
from operando.ir.data.experiment import Experiment, GroundTruth
from operando.ir.data.preprocess import preprocess_dataset
from operando.ir.models import ABCC_CONFORMAL_SHARE
from operando.ir.models.abcc import ABCCConfig
from operando.ir.models.generative import FlowForecaster, FlowModelConfig, default_training

# (label, what this row changes); rows 2.. are cumulative.
VARIANTS: tuple[tuple[str, dict], ...] = (
    ("ABCC (full)", {}),
    ("w/o Chemical Flow", {"target": "spectrum", "abcc.trajectory": False}),
    ("w/o two-stream", {"abcc.two_stream": False}),
    ("2D fingerprints", {"abcc.molecules": "2d"}),
    ("w/o peak constraint", {"abcc.lambda_peak": 0.0}),
    ("w/o mean alignment", {"abcc.lambda_mass": 0.0}),
)
METRICS = ("MAE", "MSE", "RMSE", "SAM", "cosine", "R2", "DILATE", "coverage90",
           "mass_residual", "mass_error", "peak_drift_cm1", "fit_seconds", "seconds_per_step")
HEADERS = {"MAE": "MAE (x1e-2) ↓", "MSE": "MSE (x1e-3) ↓", "RMSE": "RMSE (x1e-2) ↓", "SAM": "SAM [deg] ↓",
           "cosine": "cosine ↑", "R2": "R2 ↑", "DILATE": "DILATE ↓", "coverage90": "coverage90 (→0.9)",
           "mass_residual": "mean-flow residual (x1e-3)", "mass_error": "mean-flow error (x1e-3) ↓",
           "peak_drift_cm1": "peak drift [cm-1] ↓", "seconds_per_step": "s / step"}
EXTRA_SCALES = {"mass_residual": 1e-3, "mass_error": 1e-3}


def variant_configs(calibration: str) -> list[tuple[str, FlowModelConfig]]:
    """The model config of every row (cumulative from row 2 on)."""
    rows, changes = [], {}
    for i, (label, change) in enumerate(VARIANTS):
        if i > 0:
            changes.update(change)
        model = {"objective": "meanflow", "target": "chemical_flow"}
        abcc = {"calibration": calibration}
        for key, value in changes.items():
            if key.startswith("abcc."):
                abcc[key[5:]] = value
            else:
                model[key] = value
        # Every row holds out the registered ABCC's share of spectra for its intervals (same
        # training spectra); the unseen-system folds are left out (they double the training).
        rows.append((label, FlowModelConfig(**model, abcc=ABCCConfig(**abcc), conformal_share=ABCC_CONFORMAL_SHARE)))
    return rows


def thin(e: Experiment, stride: int) -> Experiment:
    """Every ``stride``-th spectrum of ``e`` (step 0 always kept), ground truth included."""
    keep = np.arange(0, len(e), stride)
    truth = None
    if e.truth is not None:
        t = e.truth
        truth = GroundTruth(t.noiseless[keep], list(t.component_names), list(t.component_kinds),
                            t.component_spectra, t.concentrations[keep])
    return dataclasses.replace(e, time_s=e.time_s[keep], voltage_v=e.voltage_v[keep], absorbance=e.absorbance[keep],
                               current_ma=None if e.current_ma is None else e.current_ma[keep], truth=truth)


def physics_numbers(ds: OperandoDataset, predictions: dict) -> dict[str, float]:
    """Mass residual, mass error and peak drift of a model's test predictions."""
    pred, true, true_peaks = [], [], []
    for name, (steps, spectra) in predictions.items():
        e = ds[name]
        s0 = e.absorbance[0].astype(np.float64)
        pred.append(spectra - s0)
        true.append(e.absorbance[steps].astype(np.float64) - s0)
        clean = e.truth.noiseless if e.truth is not None else e.absorbance
        true_peaks.append(clean[steps].astype(np.float64) - clean[0].astype(np.float64))
    pred, true, true_peaks = np.concatenate(pred), np.concatenate(true), np.concatenate(true_peaks)
    wavenumber = next(iter(ds)).wavenumber_cm1
    return {"mass_residual": mass_residual(pred), "mass_error": mass_residual(pred, true),
            "peak_drift_cm1": peak_drift(pred, true_peaks, wavenumber)}


def summarize(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean and std (ddof 1, as `operando ir bench`'s seeds.md; NaN for one seed) over seeds of every
    metric, per variant, in row order."""
    out = []
    for label, _ in VARIANTS:
        part = rows[rows["variant"] == label]
        if part.empty:
            continue
        for stat in ("mean", "std"):
            values = getattr(part[list(METRICS)], stat)(**({"ddof": 1} if stat == "std" else {}))
            out.append({"variant": label, "seed": stat, **values.to_dict()})
    return pd.DataFrame(out)


def markdown(rows: pd.DataFrame, seeds: list[int], split: str, steps: int) -> str:
    """The table of the per-seed ``rows`` (ablation.csv without its mean/std rows)."""
    summary = summarize(rows)
    # Rows written before conformal calibration existed have no "calibrated" column.
    calibrated = "calibrated" in rows and bool(rows["calibrated"].astype(bool).all())
    interval = "split-conformal" if calibrated else "raw (draw quantiles; runs made before conformal calibration)"
    lines = [f"ABCC ablation, {split} split, {len(seeds)} seed(s) {seeds}, {steps} training steps "
             f"(mean ± std over seeds). Coverage: of the {interval} 90 % interval. Mean-flow residual: mean over test spectra of |mean_W (ŝ - s_0)|; "
             "mean-flow error: of |mean_W (ŝ - s_0) - mean_W (s - s_0)|; peak drift: mean |position error| "
             "of the bands of the true change.", ""]
    table = []
    for label in dict.fromkeys(summary["variant"]):
        mean = summary[(summary["variant"] == label) & (summary["seed"] == "mean")].iloc[0]
        std = summary[(summary["variant"] == label) & (summary["seed"] == "std")].iloc[0]
        row = {"Variant": label}
        for m, header in HEADERS.items():
            scale = METRIC_SCALES.get(m, EXTRA_SCALES.get(m, 1.0))
            row[header] = f"{mean[m] / scale:.3f}" + ("" if np.isnan(std[m]) else f" ± {std[m] / scale:.3f}")
        table.append(row)
    return "\n".join(lines) + "\n" + markdown_table(pd.DataFrame(table)) + seed_by_seed(rows, seeds)


def seed_by_seed(rows: pd.DataFrame, seeds: list[int]) -> str:
    """Per seed, each row's MAE and peak drift, and in how many of the seeds both rows share each
    row is worse than the row above it (the piece it removes helped there) and than the full
    model: a mean over seeds can hide a piece that helps in one seed and hurts in the others."""
    values = {label: rows[rows["variant"] == label].set_index("seed") for label in dict.fromkeys(rows["variant"])}
    labels = [label for label, _ in VARIANTS if label in values]

    def per_seed(label: str, m: str, scale: float) -> str:
        part = values[label]
        return " / ".join(f"{part.loc[s, m] / scale:.3f}" if s in part.index else "-" for s in seeds)

    def worse_in(label: str, than: str, m: str) -> str:
        common = sorted(set(values[label].index) & set(values[than].index))
        worse = sum(values[label].loc[s, m] > values[than].loc[s, m] for s in common)
        return f"{worse} of {len(common)}"

    table = []
    for i, label in enumerate(labels):
        above = labels[i - 1] if i else None
        table.append({"Variant": label, "MAE (x1e-2) per seed": per_seed(label, "MAE", METRIC_SCALES["MAE"]),
                      "peak drift [cm-1] per seed": per_seed(label, "peak_drift_cm1", 1.0),
                      "MAE above the row above in": worse_in(label, above, "MAE") if above else "",
                      "peak drift above the row above in": worse_in(label, above, "peak_drift_cm1") if above else "",
                      "MAE above the full model in": worse_in(label, labels[0], "MAE") if i else ""})
    return (f"\nSeed by seed (seeds {' / '.join(map(str, seeds))}; \"above ... in k of n\": the seeds, of those "
            "both rows have, in which this row's value is higher, so the piece it removes lowered it there):\n\n"
            + markdown_table(pd.DataFrame(table)))


def merge(folders: list[Path], out: Path, split: str) -> None:
    """Combine the per-seed rows of several ablation.csv files into ``out``."""
    parts = [pd.read_csv(Path(f) / "ablation.csv") for f in folders]
    rows = pd.concat([p[~p["seed"].isin(["mean", "std"])] for p in parts], ignore_index=True)
    rows["seed"] = rows["seed"].astype(int)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "ablation.csv") as tmp:
        pd.concat([rows, summarize(rows)], ignore_index=True).to_csv(tmp, index=False)
    seeds = sorted(set(rows["seed"]))
    steps = int(round(float((rows["fit_seconds"] / rows["seconds_per_step"]).median())))
    write_text(out / "ablation.md", markdown(rows, seeds, split, steps))
    print((out / "ablation.md").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="operando dataset (.h5); required unless --merge")
    parser.add_argument("--calibration", default=None,
                        help="calibration set (.h5); default: calibration.h5 beside --data if present, "
                             "else the simulator's calibration set built in memory")
    parser.add_argument("--out", type=Path, default=Path("outputs/ablation"))
    parser.add_argument("--split", choices=("system", "random"), default="system")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the models' default)")
    parser.add_argument("--stride", type=int, default=1, help="keep every n-th spectrum of each cell (smoke runs)")
    parser.add_argument("--variants", type=int, nargs="+", default=None,
                        help="row numbers to run (1-6; default all); rows stay cumulative")
    parser.add_argument("--coverage-samples", type=int, default=16)
    parser.add_argument("--merge", type=Path, nargs="+", default=None,
                        help="combine the per-seed rows of these ablation folders into --out; no training")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's choice); 1 when other jobs share the cores")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.merge:
        merge(args.merge, args.out, args.split)
        return
    if args.data is None:
        parser.error("--data is required (unless --merge)")

    calibration = args.calibration
    if calibration is None:
        beside = args.data.parent / "calibration.h5"
        calibration = str(beside) if beside.is_file() else "simulated"
    print(f"calibration: {calibration}")
    ds = OperandoDataset.load(args.data)
    if args.stride > 1:
        ds = OperandoDataset([thin(e, args.stride) for e in ds], simulated=ds.simulated, description=ds.description)
    ds = preprocess_dataset(ds)
    split = get_split(ds, args.split, args.out / "splits" / f"stride{args.stride}", seed=0)
    print(f"[{args.split}] {split.n_train} train / {split.n_test} test spectra")
    chosen = set(args.variants or range(1, len(VARIANTS) + 1))
    csv_path = args.out / "ablation.csv"
    records = []
    steps = None
    for number, (label, config) in enumerate(variant_configs(calibration), start=1):
        if number not in chosen:
            continue
        for seed in args.seeds:
            training = default_training(config.objective, seed)
            if args.steps is not None:
                training.steps = args.steps
            steps = training.steps
            run_dir = args.out / "train" / f"{slug(label)}-seed{seed}"
            model = FlowForecaster(seed=seed, model=copy.deepcopy(config), training=training, run_dir=run_dir)
            started = time.perf_counter()
            result = evaluate(model, ds, split, coverage_samples=args.coverage_samples)
            result.model = f"{label} seed {seed}"
            save_result(result, args.out / "runs")
            summary = result.summary()
            record = {"variant": label, "seed": seed}
            for m in ("MAE", "MSE", "RMSE", "SAM", "cosine", "R2", "DILATE"):
                record[m] = summary[m]["mean"]
            record["coverage90"] = summary.get("coverage90", {}).get("mean", float("nan"))
            record.update(physics_numbers(ds, result.predictions))
            record["calibrated"] = model.config.conformal is not None
            record["fit_seconds"] = result.fit_seconds
            record["seconds_per_step"] = result.fit_seconds / training.steps
            records.append(record)
            print(f"  {label:22s} seed {seed}: MAE {record['MAE'] / 1e-2:.3f}e-2  coverage90 {record['coverage90']:.3f}  "
                  f"mass err {record['mass_error']:.2e}  peak drift {record['peak_drift_cm1']:.2f} cm-1  "
                  f"fit {result.fit_seconds:.0f} s  total {time.perf_counter() - started:.0f} s", flush=True)
            rows = pd.DataFrame(records)
            with atomic_path(csv_path) as tmp:  # rewritten after every run: partial results survive
                pd.concat([rows, summarize(rows)], ignore_index=True).to_csv(tmp, index=False)
    rows = pd.DataFrame(records)
    md = args.out / "ablation.md"
    write_text(md, markdown(rows, args.seeds, args.split, steps))
    print(md.read_text())
    print(f"wrote {csv_path} and {md}")


if __name__ == "__main__":
    main()
