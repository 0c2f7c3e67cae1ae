"""Score a :class:`~operando.ir.bench.task.Forecaster` on an OpIRBench split and write the tables.

Layout of a results folder (one per split)::

    results/<split>/<model-slug>/per_spectrum.csv     experiment, step, voltage, the six metrics
                                                      (+ coverage90 for sampling models)
    results/<split>/<model-slug>/per_experiment.csv   experiment, n, DILATE shape/temporal/total
    results/<split>/<model-slug>/predictions.npz      steps and predicted spectra per experiment
    results/<split>/<model-slug>/summary.json         means, stds, fit and predict seconds
    results/<split>/<model-slug>/seed-<N>/...         the same for training seed N > 0
    results/<split>/table.csv, table.md               every model of that split, paper layout
                                                      (each model at its lowest seed)
    results/<split>/seeds.csv, seeds.md               models run with several training seeds:
                                                      mean +- std over seeds of each metric's mean

Uncertainty: for a model with ``sample(context, steps, n_samples=, seed=) -> (N, k, W)`` (the
flow generators), :func:`evaluate` also draws ``coverage_samples`` (default 16) forecasts per
test experiment and records ``coverage90``, the share of a spectrum's wavenumbers whose true
value lies inside the central 90 % interval of the draws (:mod:`operando.ir.bench.uncertainty`;
about 0.9 when calibrated), per spectrum and as mean/std in summary.json.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from operando.atomic import atomic_path, write_text
from operando.ir.bench.metrics import HIGHER_IS_BETTER, METRIC_SCALES, sequence_dilate, spectrum_metrics
from operando.ir.bench.splits import Split
from operando.ir.bench.task import Forecaster, masked
from operando.ir.data.dataset import OperandoDataset

SPECTRUM_METRICS = ("MAE", "MSE", "RMSE", "SAM", "cosine", "R2")
DEFAULT_COVERAGE_SAMPLES = 16
COVERAGE_LEVEL = 0.9
TABLE_COLUMNS = SPECTRUM_METRICS + ("DILATE",)
NOISE_FLOOR = "Noise floor (noiseless vs measured)"


@dataclass
class BenchResult:
    """Scores of one model on one split."""

    model: str
    split: str
    per_spectrum: pd.DataFrame
    per_experiment: pd.DataFrame
    predictions: dict[str, tuple[np.ndarray, np.ndarray]] = field(repr=False)  # name -> (steps, (k, w))
    fit_seconds: float = 0.0
    predict_seconds: float = 0.0
    coverage_seconds: float | None = None
    seed: int = 0                     # the model's training seed

    def summary(self) -> dict:
        out = {"model": self.model, "split": self.split, "seed": self.seed, "n_test_spectra": len(self.per_spectrum),
               "n_test_experiments": len(self.per_experiment),
               "fit_seconds": round(self.fit_seconds, 3), "predict_seconds": round(self.predict_seconds, 3)}
        for m in SPECTRUM_METRICS:
            out[m] = {"mean": float(self.per_spectrum[m].mean()), "std": float(self.per_spectrum[m].std(ddof=0))}
        out["DILATE"] = {"mean": float(self.per_experiment["DILATE"].mean()),
                         "std": float(self.per_experiment["DILATE"].std(ddof=0))}
        if "coverage90" in self.per_spectrum:
            out["coverage90"] = {"mean": float(self.per_spectrum["coverage90"].mean()),
                                 "std": float(self.per_spectrum["coverage90"].std(ddof=0))}
            out["coverage_seconds"] = round(self.coverage_seconds or 0.0, 3)
        return out


def score_predictions(model: str, split: Split, ds: OperandoDataset,
                      predictions: dict[str, tuple[np.ndarray, np.ndarray]]) -> BenchResult:
    """Compute every metric of ``predictions`` against the spectra of ``ds`` at the test steps."""
    rows, seqs = [], []
    for name, (steps, pred) in predictions.items():
        e = ds[name]
        true = e.absorbance[steps].astype(np.float64)
        m = spectrum_metrics(true, pred)
        frame = pd.DataFrame({"experiment": name, "step": steps, "Voltage [V]": e.voltage_v[steps], **m})
        rows.append(frame)
        d = sequence_dilate(true, pred)
        seqs.append({"experiment": name, "n": len(steps), "DILATE shape": d["shape"],
                     "DILATE temporal": d["temporal"], "DILATE": d["dilate"]})
    return BenchResult(model, split.name, pd.concat(rows, ignore_index=True), pd.DataFrame(seqs), predictions)


def evaluate(model: Forecaster, ds: OperandoDataset, split: Split,
             coverage_samples: int | None = DEFAULT_COVERAGE_SAMPLES, *, progress: bool = False) -> BenchResult:
    """Fit ``model`` on the training part of ``split`` and score it on the test part.

    ``ds`` must already be preprocessed onto the common grid. For a model with ``sample``,
    ``coverage_samples`` draws (>= 2; None or 0: skip) give each test spectrum's coverage90.
    With ``progress`` a bar on stderr shows the model's phase (fit, predict, score, coverage).
    """
    from operando.ir.bench.progress import PhaseBar

    train = [masked(ds[name], steps) for name, steps in split.train.items() if len(steps)]
    covered = bool(coverage_samples and hasattr(model, "sample"))
    bar = PhaseBar(model.name, 2 + len(split.test) * (2 if covered else 1), enabled=progress)
    bar.phase("fit")
    t0 = time.perf_counter()
    with bar.ticking():
        model.fit(train)
    fit_s = time.perf_counter() - t0
    bar.advance()
    bar.phase("predict")
    predictions = {}
    t0 = time.perf_counter()
    for name, steps in split.test.items():
        e = ds[name]
        pred = np.asarray(model.predict(masked(e, [0]), steps), dtype=np.float64)
        if pred.shape != (len(steps), e.absorbance.shape[1]):
            raise ValueError(f"{model.name} returned {pred.shape} for {len(steps)} steps of {name}")
        predictions[name] = (np.asarray(steps), pred)
        bar.advance()
    predict_s = time.perf_counter() - t0
    bar.phase("score")
    result = score_predictions(model.name, split, ds, predictions)
    result.fit_seconds, result.predict_seconds = fit_s, predict_s
    bar.advance()
    if covered:
        bar.phase("coverage")
        t0 = time.perf_counter()
        # Same experiment order as score_predictions, so the rows line up.
        result.per_spectrum["coverage90"] = np.concatenate(
            [interval_coverage90(model, ds[name], steps, coverage_samples)
             for name, (steps, _) in bar.each(predictions.items())])
        result.coverage_seconds = time.perf_counter() - t0
    bar.close()
    return result


def interval_coverage90(model, e, steps: np.ndarray, n_samples: int) -> np.ndarray:
    """Per test spectrum (k,): share of wavenumbers inside the central 90 % interval of
    ``n_samples`` draws of ``model.sample`` from the masked experiment ``e``."""
    from operando.ir.bench.uncertainty import interval_coverage, model_interval

    draws = np.asarray(model.sample(masked(e, [0]), steps, n_samples=n_samples), dtype=np.float64)
    summary = model_interval(model, draws, level=COVERAGE_LEVEL, system=e.system)
    return interval_coverage(e.absorbance[steps].astype(np.float64), summary.low, summary.high).per_spectrum


def noise_floor(ds: OperandoDataset, split: Split) -> BenchResult | None:
    """The error no model can beat: the simulator's noiseless spectra scored against the noisy
    ones (None for data without ground truth)."""
    if any(ds[name].truth is None for name in split.test):
        return None
    predictions = {name: (np.asarray(steps), ds[name].truth.noiseless[steps].astype(np.float64))
                   for name, steps in split.test.items()}
    return score_predictions(NOISE_FLOOR, split, ds, predictions)


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def save_result(result: BenchResult, out_dir: str | Path) -> Path:
    """Write one model's files under ``out_dir/<split>/<slug>/`` (``.../<slug>/seed-<N>/`` for
    training seed N > 0), each file atomically."""
    folder = Path(out_dir) / result.split / slug(result.model)
    if result.seed:
        folder = folder / f"seed-{result.seed}"
    folder.mkdir(parents=True, exist_ok=True)
    for fname, frame in (("per_spectrum.csv", result.per_spectrum), ("per_experiment.csv", result.per_experiment)):
        with atomic_path(folder / fname) as tmp:
            frame.to_csv(tmp, index=False)
    with atomic_path(folder / "predictions.npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **{f"{k}/steps": v[0] for k, v in result.predictions.items()},
                                **{f"{k}/spectra": v[1].astype(np.float32) for k, v in result.predictions.items()})
    write_text(folder / "summary.json", json.dumps(result.summary(), indent=2))
    return folder


def load_predictions(folder: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The forecasts :func:`save_result` wrote to ``folder/predictions.npz``:
    {experiment: (steps (k,), spectra (k, W) float32)}, experiments in sorted order."""
    with np.load(Path(folder) / "predictions.npz") as saved:
        names = sorted(k[: -len("/steps")] for k in saved.files if k.endswith("/steps"))
        return {name: (saved[f"{name}/steps"], saved[f"{name}/spectra"]) for name in names}


def load_summaries(out_dir: str | Path, split: str, all_seeds: bool = False) -> list[dict]:
    """The ``summary.json`` files under ``out_dir/split``, noise floor last: each model at its
    lowest training seed, or with ``all_seeds`` every seed (sorted by model, then seed)."""
    folder = Path(out_dir) / split
    found = [json.loads(p.read_text()) for p in sorted(folder.glob("*/summary.json")) + sorted(folder.glob("*/seed-*/summary.json"))]
    found.sort(key=lambda s: (s["model"] == NOISE_FLOOR, s["model"], s.get("seed", 0)))
    if all_seeds:
        return found
    return [s for i, s in enumerate(found) if i == 0 or s["model"] != found[i - 1]["model"]]


def summaries_by_model(out_dir: str | Path, split: str) -> dict[str, list[dict]]:
    """Every ``summary.json`` under ``out_dir/split`` grouped by model name, each model's seeds in
    ascending order (the noise floor last)."""
    by_model: dict[str, list[dict]] = {}
    for s in load_summaries(out_dir, split, all_seeds=True):
        by_model.setdefault(s["model"], []).append(s)
    return by_model


def seed_summaries(out_dir: str | Path, split: str) -> list[dict]:
    """Models scored with two or more training seeds: per metric, the mean and the std (ddof=1)
    over seeds of the per-seed means (``seeds``: the seeds found)."""
    rows = []
    for model, runs in summaries_by_model(out_dir, split).items():
        if len(runs) < 2:
            continue
        row = {"model": model, "split": split, "seeds": [r.get("seed", 0) for r in runs]}
        for m in TABLE_COLUMNS + ("coverage90",):
            values = [r[m]["mean"] for r in runs if m in r]
            if len(values) == len(runs):
                row[m] = {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1))}
        rows.append(row)
    return rows


def metric_label(metric: str) -> str:
    """A table metric's column label with the paper's scaling or its unit: "MAE (x1e-2)", "SAM [deg]"."""
    if metric == "SAM":
        return "SAM [deg]"
    scale = METRIC_SCALES[metric]
    return metric if scale == 1 else f"{metric} (x{scale:.0e})".replace("e-0", "e-")


def format_table(summaries: list[dict], decimals: int = 3) -> pd.DataFrame:
    """Paper layout (Tables 2/3): one row per model, "mean ± std" with the paper's scalings
    (the mean alone where a metric has no ``std``)."""
    header = {m: metric_label(m) + (" ↑" if m in HIGHER_IS_BETTER else " ↓") for m in TABLE_COLUMNS}
    rows = []
    for s in summaries:
        row = {"Model": s["model"]}
        for m in TABLE_COLUMNS:
            scale = METRIC_SCALES[m]
            row[header[m]] = f"{s[m]['mean'] / scale:.{decimals}f}" + (
                f" ± {s[m]['std'] / scale:.{decimals}f}" if "std" in s[m] else "")
        rows.append(row)
    return pd.DataFrame(rows)


def write_tables(out_dir: str | Path, split: str) -> tuple[Path, Path]:
    """(Re)write ``table.csv`` and ``table.md`` of a split from the saved summaries, and
    ``seeds.csv``/``seeds.md`` when some model has several training seeds."""
    folder = Path(out_dir) / split
    seeds = seed_summaries(out_dir, split)
    if seeds:
        frame = format_table(seeds)
        frame.insert(1, "Seeds", [", ".join(map(str, s["seeds"])) for s in seeds])
        frame["coverage90 (→ 0.9)"] = [f"{s['coverage90']['mean']:.3f} ± {s['coverage90']['std']:.3f}"
                                     if "coverage90" in s else "" for s in seeds]
        with atomic_path(folder / "seeds.csv") as tmp:
            frame.to_csv(tmp, index=False)
        write_text(folder / "seeds.md", markdown_table(frame))
    table = format_table(load_summaries(out_dir, split))
    with atomic_path(folder / "table.csv") as tmp:
        table.to_csv(tmp, index=False)
    md = folder / "table.md"
    write_text(md, markdown_table(table))
    return folder / "table.csv", md


def markdown_cell(value) -> str:
    """``value`` as the text of a Markdown table cell: a "|" (battery system labels hold them) escaped."""
    return str(value).replace("|", "\\|")


def markdown_table(frame: pd.DataFrame) -> str:
    """``frame`` as a Markdown table (cells through :func:`markdown_cell`)."""
    cols = [markdown_cell(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join(["---"] * len(cols)) + "|"]
    lines += ["| " + " | ".join(markdown_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"
