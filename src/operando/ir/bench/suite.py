"""Run OpIRBench for several models on several splits and write every table (the engine of
``operando ir bench`` and of the pipeline)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from operando.errors import InputError

# Small budgets for smoke runs: the numbers they give mean nothing. QUICK_SETTINGS are the
# registry builders' keyword arguments; flow models also get QUICK_TRAIN_STEPS training steps.
QUICK_TRAIN_STEPS = 20
QUICK_ODE_STEPS = 5   # flow matching's sampler: 50 Euler steps per draw would dominate a smoke run
QUICK_FOLD_ROWS = 4   # ABCC's unseen-system calibration draws on this many spectra per cell (64)
QUICK_SETTINGS = {"mlp": {"steps": 100}, "gru": {"epochs": 3},
                  # the image route trains its autoencoder first
                  "meanflow-waveform": {"waveform": {"vae_training": {"steps": QUICK_TRAIN_STEPS}, "vae_images": 256}}}


def run_name(name: str, split: str, seed: int = 0) -> str:
    """Run folder name of a flow model under ``<results>/runs/``."""
    return f"{name}-{split}" + (f"-seed-{seed}" if seed else "")


def bench_model(name: str, seed: int, split: str, out: Path, train_steps: int | None = None,
                quick: bool = False, unseen_systems: bool = True):
    """A fresh model with training seed ``seed``; flow models keep their run folder under
    ``out/runs/<name>-<split>`` (``...-seed-<N>`` for seed N > 0).

    With ``unseen_systems`` False (no test cell is of a system the training set lacks, as on the
    random split) ABCC's unseen-system fold models are not trained: their interval factors would
    never be used, so the scores are the same, and the run is half as long."""
    from operando.ir.models import GENERATIVE_MODELS, build_model

    settings = QUICK_SETTINGS.get(name, {}) if quick else {}
    if name not in GENERATIVE_MODELS:
        return build_model(name, seed=seed, **settings)
    model = build_model(name, seed=seed, run_dir=Path(out) / "runs" / run_name(name, split, seed), **settings)
    steps = QUICK_TRAIN_STEPS if quick and train_steps is None else train_steps
    if steps is not None:
        model.set_training_steps(steps)
    if quick and model.config.objective == "flow_matching":
        model.config.sample_steps = QUICK_ODE_STEPS
    if not unseen_systems:
        model.config.conformal_system_folds = 0
    if quick:
        model.config.conformal_fold_rows = min(model.config.conformal_fold_rows, QUICK_FOLD_ROWS)
    return model


def unseen_test_systems(ds, split) -> list[str]:
    """The battery systems of ``split``'s test cells that none of its training spectra are of
    (none on the random split, every test system on the system split)."""
    trained = {ds[name].system for name, steps in split.train.items() if len(steps)}
    return sorted({ds[name].system for name, steps in split.test.items() if len(steps)} - trained)


def coverage_samples(model) -> int | None:
    """Draws for the 90 % interval coverage: one-step samplers only (for a 50-step ODE sampler
    the 16 extra draws would cost 16 x 50 network passes per test spectrum)."""
    from operando.ir.bench.runner import DEFAULT_COVERAGE_SAMPLES

    steps = getattr(getattr(model, "config", None), "sample_steps", None)
    return DEFAULT_COVERAGE_SAMPLES if steps is not None and steps <= 4 else None


def run_suite(data: str | Path, models: Sequence[str], splits: Sequence[str], out: str | Path, *,
              seed: int = 0, split_seed: int = 0, train_steps: int | None = None, quick: bool = False,
              log: Callable[[str], None] = print, progress: bool = True) -> dict[str, Path]:
    """Score ``models`` (training seed ``seed``) on ``splits`` of the dataset at ``data`` (made
    with ``split_seed``; OpIRBench's splits are seed 0 whatever the training seed); return each
    split's table.md. With ``progress`` each model shows a bar with its phase while it runs."""
    from operando.ir.bench.runner import evaluate, noise_floor, save_result, write_tables
    from operando.ir.bench.splits import get_split
    from operando.ir.data.dataset import OperandoDataset
    from operando.ir.data.preprocess import preprocess_dataset
    from operando.ir.models import MODEL_REGISTRY

    unknown = [n for n in models if n not in MODEL_REGISTRY]
    if unknown:
        raise InputError(None, f"unknown models {unknown}; registered: {sorted(MODEL_REGISTRY)}")
    out = Path(out)
    ds = preprocess_dataset(OperandoDataset.load(data))
    from operando.ir.smoke import SMOKE_FILE, clear_smoke_run, mark_run_folders, mark_smoke_run

    if quick:  # smoke_run.json in the results folder and in each folder below that this run writes
        out.mkdir(parents=True, exist_ok=True)
        mark_smoke_run(out)
    tables = {}
    for split_name in splits:
        split = get_split(ds, split_name, out / "splits", seed=split_seed)
        log(f"[{split_name}] {split.n_train} train / {split.n_test} test spectra")
        unseen = unseen_test_systems(ds, split)
        floor = noise_floor(ds, split)
        if floor is not None:
            save_result(floor, out)
        for name in models:
            model = bench_model(name, seed, split_name, out, train_steps, quick, unseen_systems=bool(unseen))
            result = evaluate(model, ds, split, coverage_samples=coverage_samples(model), progress=progress)
            result.seed = seed
            folder = save_result(result, out)
            run_dir = getattr(model, "run_dir", None)
            if quick:
                mark_smoke_run(folder)
                if run_dir is not None:
                    mark_run_folders(run_dir)
            else:  # a full run replaces a smoke run's results and run folder: no longer a smoke run
                for written in (folder, run_dir):
                    if written is not None:
                        clear_smoke_run(written)
            s = result.summary()
            log(f"  {result.model:<34s} MAE {s['MAE']['mean'] / 1e-2:7.3f}e-2  "
                f"DILATE {s['DILATE']['mean']:9.4f}  fit {result.fit_seconds:7.1f} s  "
                f"predict {result.predict_seconds:6.2f} s")
        if not quick and not any(out.glob(f"*/*/{SMOKE_FILE}")) and not any(out.glob(f"*/*/*/{SMOKE_FILE}")):
            clear_smoke_run(out)  # no smoke result left in the folder
        _, md = write_tables(out, split_name)
        tables[split_name] = md
        log(f"  table: {md}")
    return tables
