"""Where the squared error of each model's point forecast comes from: its signed baseline offset
and the systems that carry it (no training; reads saved predictions, seconds).

For every model folder under ``<results>/<split>`` with a ``predictions.npz`` (seed 0 there,
seed N in ``seed-N/``), per test spectrum: the error e = forecast - measured (W,) and its
offset o = mean over wavenumbers of e. Reported, mean over the seeds found:

* offset mean and median over the test spectra (x1e-2 absorbance): a model whose forecasts sit
  at the conditional mean of the truth has offset mean ~ 0; one that sits nearer the conditional
  median of a skewed quantity has its median near 0 and its mean off 0;
* MSE (x1e-3, as in the tables) and MSE with the model's own mean error removed per wavenumber
  (what the same forecasts would score with their average bias subtracted: the most any
  constant correction can gain);
* MSE split into the error's linear baseline (least-squares offset + slope over the
  wavenumber axis, per spectrum) and the rest (bands, and the measured spectra's noise, whose
  floor is in the rest): a model that is behind on the baseline part misjudges the level and
  tilt of the spectra, one behind on the rest misjudges their bands;
* MSE by battery system, and each system's share of the gap to ``--reference`` (sum over its
  spectra of the per-spectrum MSE difference, over the total).

And, for the truth: mean and median of the change of the offset from the first spectrum
(mean over wavenumbers of s_m - s_0): a mean above the median is a right-skewed baseline drift.

Writes ``<results>/<split>/point-bias.json`` and ``point-bias.md`` (read by regenerate_results.py).

The scores need only a few numbers per test spectrum (offset, MSE, MSE of the linear baseline,
system, the truth's offset change) and the mean error per wavenumber, so each prediction file is
first reduced to ``errors.npz`` beside it (kilobytes, where ``predictions.npz`` holds megabytes):
that is what benchmarks/ir/record/ keeps of a run, so the table can be made from runs of several
sittings (docs/ir/benchmark.md). ``--reduce`` only writes those files.

Run (after `operando ir bench`)::

    python benchmarks/ir/bench_point_bias.py --data outputs/opirspec7k-sim.h5 --results outputs/results --split random
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from operando.atomic import atomic_path, write_text
from operando.ir.bench.runner import load_predictions, markdown_table
from operando.ir.data.dataset import OperandoDataset
from operando.ir.data.preprocess import preprocess_dataset

ERRORS_FILE = "errors.npz"


def seed_folders(model_dir: Path) -> list[Path]:
    """The folders of one model holding test errors: seed 0 (the model folder) and seed-N/."""
    folders = [model_dir] + sorted(model_dir.glob("seed-*"))
    return [f for f in folders if (f / ERRORS_FILE).exists() or (f / "predictions.npz").exists()]


def errors_of(folder: Path, ds: OperandoDataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(errors (n, W), systems (n,), truth offset change (n,)) of one saved prediction file."""
    errors, systems, drift = [], [], []
    for name, (steps, forecast) in load_predictions(folder).items():
        e = ds[name]
        true = e.absorbance[steps].astype(np.float64)
        errors.append(forecast - true)
        systems += [e.system] * len(steps)
        drift.append((true - e.absorbance[:1]).mean(axis=1))
    return np.concatenate(errors), np.array(systems), np.concatenate(drift)


def linear_baseline(errors: np.ndarray) -> np.ndarray:
    """Per-spectrum least-squares offset + slope of ``errors`` (n, W) over the grid, (n, W).
    The common grid is uniform in wavenumber, so a line in the index is a line in cm-1."""
    axis = np.linspace(-1.0, 1.0, errors.shape[1])
    basis = np.stack([np.ones_like(axis), axis], axis=1)  # (W, 2)
    return errors @ np.linalg.pinv(basis).T @ basis.T


def reduce_errors(errors: np.ndarray, systems: np.ndarray, drift: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """What the scores need of test errors (n, W): per spectrum the offset, MSE and MSE of the
    linear baseline (n,), the systems (n,) and the truth's offset change (n,; NaN if not given),
    and the mean error per wavenumber (W,)."""
    return {"offset": errors.mean(axis=1), "mse": (errors ** 2).mean(axis=1),
            "mse_baseline": (linear_baseline(errors) ** 2).mean(axis=1), "mean_error": errors.mean(axis=0),
            "systems": np.asarray(systems, dtype=str),
            "drift": np.full(len(errors), np.nan) if drift is None else np.asarray(drift, dtype=np.float64)}


def reduce_folder(folder: Path, ds: OperandoDataset) -> Path:
    """Write ``folder/errors.npz`` from ``folder/predictions.npz``; returns its path."""
    path = folder / ERRORS_FILE
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **reduce_errors(*errors_of(folder, ds)))
    return path


def load_reduced(folder: Path) -> dict[str, np.ndarray]:
    with np.load(folder / ERRORS_FILE) as saved:
        return {k: saved[k] for k in saved.files}


def scores_of(reduced: dict[str, np.ndarray]) -> dict:
    """Offset and squared-error summary of one model's reduced test errors (:func:`reduce_errors`)."""
    offset, mse, systems = reduced["offset"], reduced["mse"], reduced["systems"]
    mse_all = float(mse.mean())
    # mean over spectra and wavenumbers of (e - mean error)^2 = MSE - mean over wavenumbers of mean error^2;
    # the line is orthogonal to the rest, so the two MSE parts add up to MSE.
    return {"offset_mean": 100 * float(offset.mean()), "offset_median": 100 * float(np.median(offset)),
            "MSE": 1e3 * mse_all,
            "MSE_without_mean_error": 1e3 * (mse_all - float((reduced["mean_error"] ** 2).mean())),
            "MSE_baseline": 1e3 * float(reduced["mse_baseline"].mean()),
            "MSE_rest": 1e3 * float((mse - reduced["mse_baseline"]).mean()),
            "per_spectrum_MSE": mse,
            "MSE_by_system": {s: 1e3 * float(mse[systems == s].mean()) for s in np.unique(systems)}}


def bias_scores(errors: np.ndarray, systems: np.ndarray) -> dict:
    """Offset and squared-error summary of one model's test errors (n, W)."""
    return scores_of(reduce_errors(errors, systems))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None,
                        help="dataset (.h5) the results were scored on; needed to reduce a predictions.npz")
    parser.add_argument("--results", type=Path, default=Path("outputs/results"), help="`operando ir bench` --out")
    parser.add_argument("--split", choices=("random", "system"), default="random")
    parser.add_argument("--reference", default="mlp-regression", help="model folder the gaps are taken against")
    parser.add_argument("--models", nargs="*", default=None,
                        help="model folders to report (default: every one with predictions); the reference is added")
    parser.add_argument("--reduce", action="store_true",
                        help="only write errors.npz beside every predictions.npz of the split (needs --data)")
    args = parser.parse_args()

    split_dir = args.results / args.split
    ds = None if args.data is None else preprocess_dataset(OperandoDataset.load(args.data))
    models = {d.name: seed_folders(d) for d in sorted(split_dir.iterdir()) if d.is_dir() and seed_folders(d)
              and (args.models is None or d.name in args.models or d.name == args.reference)}
    for folder in (f for folders in models.values() for f in folders):
        predictions, reduced = folder / "predictions.npz", folder / ERRORS_FILE
        if predictions.exists() and (not reduced.exists() or reduced.stat().st_mtime < predictions.stat().st_mtime):
            if ds is None:
                raise SystemExit(f"{predictions}: not reduced to {ERRORS_FILE} yet; give --data")
            reduce_folder(folder, ds)
    if args.reduce:
        return
    if args.models and set(args.models) - set(models):
        raise SystemExit(f"{split_dir}: no predictions for {sorted(set(args.models) - set(models))}")
    if args.reference not in models:
        raise SystemExit(f"{split_dir}: no predictions of the reference model {args.reference!r}")
    scores, drift, first = {}, None, None
    for model, folders in models.items():
        per_seed = []
        for folder in folders:
            reduced = load_reduced(folder)
            systems, drift = reduced["systems"], reduced["drift"]
            first = first or (folder, len(systems))
            if len(systems) != first[1]:  # the gaps pair spectra one by one
                raise SystemExit(f"{folder}: {len(systems)} test spectra, {first[0]}: {first[1]}; not one test set")
            per_seed.append(scores_of(reduced))
        scores[model] = per_seed
    ref = scores[args.reference]
    rows, by_system, report = [], {}, {"split": args.split, "reference": args.reference, "models": {}}
    for model, per_seed in scores.items():
        seeds = len(per_seed)
        mean = {k: float(np.mean([s[k] for s in per_seed])) for k in
                ("offset_mean", "offset_median", "MSE", "MSE_without_mean_error", "MSE_baseline", "MSE_rest")}
        systems_list = sorted(per_seed[0]["MSE_by_system"])
        mse_by_system = {s: float(np.mean([p["MSE_by_system"][s] for p in per_seed])) for s in systems_list}
        shares = {}
        # seed k against the reference's seed k; shares of a positive summed per-spectrum MSE gap only
        gap = np.mean([p["per_spectrum_MSE"] - r["per_spectrum_MSE"] for p, r in zip(per_seed, ref)], axis=0)
        if model != args.reference and gap.sum() > 0:
            shares = {s: float(gap[systems == s].sum() / gap.sum()) for s in systems_list}
        report["models"][model] = {**mean, "seeds": seeds, "MSE_by_system": mse_by_system,
                                   "share_of_gap_by_system": shares}
        rows.append({"model": model, "seeds": seeds, "offset mean [x1e-2]": f"{mean['offset_mean']:.3f}",
                     "offset median [x1e-2]": f"{mean['offset_median']:.3f}", "MSE [x1e-3]": f"{mean['MSE']:.4f}",
                     "MSE, mean error removed [x1e-3]": f"{mean['MSE_without_mean_error']:.4f}",
                     "MSE of the error's linear baseline [x1e-3]": f"{mean['MSE_baseline']:.4f}",
                     "MSE of the rest [x1e-3]": f"{mean['MSE_rest']:.4f}"})
        by_system[model] = shares
    report["truth_offset_change"] = {"mean": 100 * float(drift.mean()), "median": 100 * float(np.median(drift))}

    lines = [markdown_table(pd.DataFrame(rows)).rstrip(), "",
             f"Truth: change of the offset from the first spectrum, mean {report['truth_offset_change']['mean']:.3f}, "
             f"median {report['truth_offset_change']['median']:.3f} (x1e-2).", ""]
    compared = {m: shares for m, shares in by_system.items() if shares}
    gap_rows = [{"system": s, **{m: f"{shares[s]:+.2f}" for m, shares in compared.items()}}
                for s in sorted(next(iter(compared.values()), {}))]
    if gap_rows:
        lines += [f"Share of each model's MSE gap to {args.reference} by battery system, for the models behind it "
                  "(seed k against the reference's seed k; a negative share: the model is better there):", "", markdown_table(pd.DataFrame(gap_rows)).rstrip(), ""]
    write_text(split_dir / "point-bias.json", json.dumps(report, indent=2))
    write_text(split_dir / "point-bias.md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
