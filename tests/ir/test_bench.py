"""OpIRBench protocol: splits, leakage-proof masking, the baselines' contract, the runner."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from toy import load_benchmark

from operando.errors import InputError
from operando.ir.bench.runner import NOISE_FLOOR
from operando.ir.bench.splits import load_split, make_split, save_split
from operando.ir.bench.task import Forecaster, masked, training_rows
from operando.ir.models import GENERATIVE_MODELS, MODEL_REGISTRY, build_model

LTO_SYSTEM = "LTO|1 M LiPF6 in EC|Li"


def test_random_split_sizes_disjoint_and_stable(toy_dataset):
    a = make_split(toy_dataset, "random", seed=0)
    b = make_split(toy_dataset, "random", seed=0)
    c = make_split(toy_dataset, "random", seed=1)
    assert a.n_test == int(0.1 * toy_dataset.n_spectra) == 21
    assert a.n_train + a.n_test == toy_dataset.n_spectra
    for name, test in a.test.items():
        assert 0 not in test  # s_v0 is the input, never a target
        assert not set(test) & set(a.train[name])
        assert np.array_equal(test, b.test[name])
    assert a.test.keys() != c.test.keys() or any(not np.array_equal(a.test[k], c.test[k]) for k in a.test)


def test_system_split_holds_out_whole_conditions(toy_dataset):
    split = make_split(toy_dataset, "system", held_out_systems=(LTO_SYSTEM,))
    assert set(split.test) == {"lto-ec"} and split.n_test == 14
    assert split.n_train == toy_dataset.n_spectra - 14
    conditions = lambda names: {(toy_dataset[n].meta.working_electrode, toy_dataset[n].meta.electrolyte.label)
                                for n in names}
    assert not conditions(split.test) & conditions(split.train)


def test_abcc_fold_models_train_only_where_a_test_system_is_unseen(toy_dataset, tmp_path):
    """The random split tests every system it trains on, so ABCC's unseen-system folds (whose
    factors only a cell of an unseen system uses) are left out there; the system split keeps them."""
    from operando.ir.bench.suite import bench_model, unseen_test_systems
    from operando.ir.models import ABCC_SYSTEM_FOLDS

    assert unseen_test_systems(toy_dataset, make_split(toy_dataset, "random", seed=0)) == []
    held_out = make_split(toy_dataset, "system", held_out_systems=(LTO_SYSTEM,))
    assert unseen_test_systems(toy_dataset, held_out) == [LTO_SYSTEM]
    kept, left_out = (bench_model("abcc", 0, "random", tmp_path, unseen_systems=u) for u in (True, False))
    assert (kept.config.conformal_system_folds, left_out.config.conformal_system_folds) == (ABCC_SYSTEM_FOLDS, 0)
    assert left_out.config.conformal_share == kept.config.conformal_share > 0  # its own intervals stay


def test_unknown_held_out_system_is_a_clear_error(toy_dataset):
    with pytest.raises(InputError, match="held-out systems"):
        make_split(toy_dataset, "system")  # the paper's systems are not in the toy set


def test_split_file_round_trip_and_refuses_other_dataset(toy_dataset, tmp_path):
    split = make_split(toy_dataset, "random", seed=3)
    path = save_split(split, toy_dataset, tmp_path / "random.csv")
    back = load_split(path, toy_dataset)
    assert back.seed == 3 and back.n_test == split.n_test
    for name in split.test:
        assert np.array_equal(back.test[name], split.test[name])
    from operando.ir.data.dataset import OperandoDataset
    other = OperandoDataset(toy_dataset.experiments[:2])
    with pytest.raises(InputError, match="another dataset"):
        load_split(path, other)


def test_masking_hides_every_non_target(toy_dataset):
    e = toy_dataset["cu-0"]
    m = masked(e, [3, 7])
    assert m.truth is None
    assert list(training_rows(m)) == [0, 3, 7]
    assert np.isnan(m.absorbance[5]).all() and np.array_equal(m.absorbance[3], e.absorbance[3])


# The toy cells are not made of the simulated calibration spectra, so ABCC warns (docs/ir/abcc.md).
@pytest.mark.filterwarnings("ignore:the first spectrum has structure outside")
@pytest.mark.parametrize("name", sorted(MODEL_REGISTRY))
def test_every_registered_model_honours_the_contract(toy_dataset, name, tmp_path):
    from operando.ir.bench.suite import bench_model

    model = bench_model(name, seed=0, split="random", out=tmp_path, quick=True)
    if name in GENERATIVE_MODELS:  # tiny network: the contract, not the accuracy, is under test
        model.config.model_overrides = {"hidden_size": 32, "depth": 1, "num_heads": 2, "patch_size": 32}
        model.config.sample_steps = min(model.config.sample_steps, 4)
    assert isinstance(model, Forecaster)
    split = make_split(toy_dataset, "random", seed=0)
    model.fit([masked(toy_dataset[n], s) for n, s in split.train.items()])
    name0, steps = next(iter(split.test.items()))
    pred = model.predict(masked(toy_dataset[name0], [0]), steps)
    assert pred.shape == (len(steps), 601) and np.isfinite(pred).all()


def test_runner_scores_and_tables(toy_dataset, tmp_path):
    from operando.ir.bench.runner import (
        evaluate,
        load_predictions,
        load_summaries,
        noise_floor,
        save_result,
        write_tables,
    )

    split = make_split(toy_dataset, "random", seed=0)
    results = [evaluate(build_model(n), toy_dataset, split) for n in ("static", "nearest")]
    results.append(noise_floor(toy_dataset, split))
    for r in results:
        saved = load_predictions(save_result(r, tmp_path))
        assert sorted(saved) == sorted(r.predictions)  # the forecasts read back as they were scored
        for name, (steps, spectra) in saved.items():
            np.testing.assert_array_equal(steps, r.predictions[name][0])
            np.testing.assert_allclose(spectra, r.predictions[name][1], rtol=1e-6, atol=1e-7)
    csv, md = write_tables(tmp_path, "random")
    text = md.read_text()
    assert "Static" in text and "Nearest trajectory" in text and "Noise floor" in text
    summaries = {s["model"]: s for s in load_summaries(tmp_path, "random")}
    floor = summaries["Noise floor (noiseless vs measured)"]["MAE"]["mean"]
    # the toy noise has std 0.005: mean |N(0, s^2)| = s * sqrt(2/pi)
    assert floor == pytest.approx(0.005 * np.sqrt(2 / np.pi), rel=0.05)
    assert floor < summaries["Nearest trajectory"]["MAE"]["mean"] < summaries["Static"]["MAE"]["mean"]


def test_training_seeds_are_kept_apart_and_summarised(toy_dataset, tmp_path):
    """Seed N > 0 goes to <model>/seed-N; table.md shows each model's lowest seed; seeds.md the
    mean and std (ddof=1) over seeds of each metric's mean."""
    from operando.ir.bench.runner import evaluate, load_summaries, save_result, seed_summaries, write_tables

    split = make_split(toy_dataset, "random", seed=0)
    maes = {}
    for seed in (0, 1, 2):
        r = evaluate(build_model("mlp", seed=seed, steps=30), toy_dataset, split)
        r.seed = seed
        folder = save_result(r, tmp_path)
        assert folder.name == ("mlp-regression" if seed == 0 else f"seed-{seed}")
        maes[seed] = r.summary()["MAE"]["mean"]
    assert len(set(maes.values())) == 3   # the seeds really train different models
    r = evaluate(build_model("static"), toy_dataset, split)
    save_result(r, tmp_path)
    _, md = write_tables(tmp_path, "random")
    table = [s for s in load_summaries(tmp_path, "random")]
    assert [s["seed"] for s in table if s["model"] == "MLP regression"] == [0]
    assert md.read_text().count("MLP regression") == 1
    (row,) = seed_summaries(tmp_path, "random")   # static has one seed: not listed
    assert row["model"] == "MLP regression" and row["seeds"] == [0, 1, 2]
    assert row["MAE"]["mean"] == pytest.approx(np.mean(list(maes.values())))
    assert row["MAE"]["std"] == pytest.approx(np.std(list(maes.values()), ddof=1))
    seeds_md = (tmp_path / "random" / "seeds.md").read_text()
    assert "MLP regression" in seeds_md and "0, 1, 2" in seeds_md


def test_quick_runs_shorten_training_the_ode_and_the_fold_draws(tmp_path):
    from operando.ir.bench.suite import QUICK_ODE_STEPS, QUICK_TRAIN_STEPS, bench_model

    full = bench_model("flow-matching", seed=0, split="random", out=tmp_path)
    quick = bench_model("flow-matching", seed=0, split="random", out=tmp_path, quick=True)
    assert (full.config.sample_steps, quick.config.sample_steps) == (50, QUICK_ODE_STEPS)
    assert quick.training.steps == QUICK_TRAIN_STEPS < full.training.steps
    assert bench_model("meanflow", seed=0, split="random", out=tmp_path, quick=True).config.sample_steps == 1
    from operando.ir.bench.suite import QUICK_FOLD_ROWS

    abcc_full, abcc_quick = (bench_model("abcc", seed=0, split="system", out=tmp_path, quick=q) for q in (False, True))
    assert abcc_quick.config.conformal_fold_rows == QUICK_FOLD_ROWS < abcc_full.config.conformal_fold_rows
    assert abcc_quick.training.steps == QUICK_TRAIN_STEPS < abcc_full.training.steps


def test_train_steps_keep_the_fold_models_and_the_last_phases_share_and_the_registered_training(tmp_path):
    """`operando ir bench --train-steps N`: ABCC's fold models train half of N and its L_moment
    phase starts at the same share of N (the registered shares); the other registered training
    and ABCC settings stay."""
    from operando.ir.bench.suite import bench_model
    from operando.ir.models import ABCC_CPU_STEPS, ABCC_FOLD_STEPS, ABCC_LAST_PHASE

    registered = bench_model("abcc", seed=0, split="system", out=tmp_path)
    longer = bench_model("abcc", seed=0, split="system", out=tmp_path, train_steps=12000)
    assert registered.fold_training_steps() == ABCC_FOLD_STEPS and registered.training.steps == ABCC_CPU_STEPS
    assert registered.config.abcc.moment_from_step == ABCC_LAST_PHASE["moment_from_step"] < ABCC_CPU_STEPS
    assert (longer.training.steps, longer.fold_training_steps()) == (12000, 12000 * ABCC_FOLD_STEPS // ABCC_CPU_STEPS)
    assert longer.config.abcc.moment_from_step == 12000 * ABCC_LAST_PHASE["moment_from_step"] // ABCC_CPU_STEPS
    assert dataclasses.replace(longer.training, steps=ABCC_CPU_STEPS) == registered.training
    assert dataclasses.replace(longer.config.abcc, moment_from_step=ABCC_LAST_PHASE["moment_from_step"]) == registered.config.abcc


def test_registered_abcc_ends_with_the_l_moment_phase_and_draws_antithetic_pairs():
    """The registered recipe (docs/ir/abcc.md section 6): L_moment over all 64 rows of a batch at
    weight 100 in the last third of training, antithetic draws; an override wins over it."""
    from operando.ir.models import ABCC_CPU_STEPS, build_model

    model = build_model("abcc", seed=0)
    abcc = model.config.abcc
    assert (abcc.lambda_moment, abcc.moment_rows, abcc.moment_from_step) == (100.0, 64, 2 * ABCC_CPU_STEPS // 3)
    assert model.config.antithetic and model.objective().moment_from_step == abcc.moment_from_step
    assert build_model("abcc", seed=0, abcc={"lambda_moment": 0.0}).config.abcc.lambda_moment == 0.0


def test_fold_models_start_the_last_phase_at_the_main_models_share_of_their_training():
    """ABCC's unseen-system fold models train a third of the steps here; a last L_moment phase
    from step 6000 of 9000 starts at step 2000 of their 3000, and no phase stays no phase."""
    from operando.ir.models import build_model

    model = build_model("abcc", seed=0, abcc={"lambda_moment": 100.0, "moment_from_step": 6000})
    model.set_training_steps(9000)
    model.config.conformal_fold_steps = 3000
    fold = model.fold_model_config(model.config)
    assert (fold.abcc.moment_from_step, fold.abcc.lambda_moment) == (2000, 100.0)
    assert fold.conformal_system_folds == 0 and fold.conformal_share == 0.0 and fold.training_systems is None
    assert model.config.abcc.moment_from_step == 6000                 # the main model's own schedule is kept
    plain = build_model("abcc", seed=0, abcc={"moment_from_step": 0})
    assert plain.fold_model_config(plain.config).abcc.moment_from_step == 0


def test_point_bias_scores_separate_the_mean_error_from_the_rest():
    """benchmarks/ir/bench_point_bias.py: offsets, and MSE with the per-wavenumber mean error removed."""
    bias = load_benchmark("bench_point_bias")
    offsets = np.array([-0.03, 0.0, 0.0, 0.01])           # skewed: mean -0.005, median 0
    shape = np.array([1.0, -1.0, 1.0, -1.0]) * 0.02         # zero-mean over wavenumbers
    errors = offsets[:, None] + np.array([1, -1, -1, 1])[:, None] * shape[None, :]  # shape averages out over spectra
    scores = bias.bias_scores(errors, np.array(["A", "A", "B", "B"]))
    assert scores["offset_mean"] == pytest.approx(-0.5) and scores["offset_median"] == pytest.approx(0.0)
    assert scores["MSE"] == pytest.approx(1e3 * (np.mean(offsets ** 2) + 0.02 ** 2))
    assert scores["MSE_without_mean_error"] == pytest.approx(1e3 * (np.var(offsets) + 0.02 ** 2))
    assert scores["MSE_by_system"]["A"] == pytest.approx(1e3 * (0.03 ** 2 / 2 + 0.02 ** 2))


def test_point_bias_splits_mse_into_linear_baseline_and_bands():
    """A line (offset + slope) and a band orthogonal to it land in their own MSE parts."""
    bias = load_benchmark("bench_point_bias")
    axis = np.linspace(-1.0, 1.0, 5)                         # mean(axis^2) = 0.5
    band = np.array([1.0, -2.0, 2.0, -2.0, 1.0])             # orthogonal to 1 and to axis; mean(band^2) = 2.8
    offset, slope, height = np.array([0.01, -0.02]), np.array([0.03, 0.0]), np.array([0.0, 0.005])
    errors = offset[:, None] + slope[:, None] * axis + height[:, None] * band
    scores = bias.bias_scores(errors, np.array(["A", "B"]))
    assert scores["MSE_baseline"] == pytest.approx(1e3 * np.mean(offset ** 2 + 0.5 * slope ** 2))
    assert scores["MSE_rest"] == pytest.approx(1e3 * np.mean(2.8 * height ** 2))
    assert scores["MSE_baseline"] + scores["MSE_rest"] == pytest.approx(scores["MSE"])


def test_point_bias_scores_from_the_reduced_errors_file_equal_those_from_the_predictions(toy_dataset, tmp_path):
    """errors.npz (what benchmarks/ir/record/ keeps) gives the scores of the full prediction file."""
    bias = load_benchmark("bench_point_bias")
    rng = np.random.default_rng(0)
    predictions = {e.name: (np.arange(1, len(e.absorbance)), e.absorbance[1:] + rng.normal(0.01, 0.02, e.absorbance[1:].shape))
                   for e in toy_dataset}
    np.savez(tmp_path / "predictions.npz", **{f"{k}/steps": v[0] for k, v in predictions.items()},
             **{f"{k}/spectra": v[1].astype(np.float32) for k, v in predictions.items()})
    errors, systems, drift = bias.errors_of(tmp_path, toy_dataset)
    bias.reduce_folder(tmp_path, toy_dataset)
    reduced = bias.load_reduced(tmp_path)
    assert set(reduced["systems"]) == {e.system for e in toy_dataset} and np.allclose(reduced["drift"], drift)
    direct = bias.bias_scores(errors, systems)
    direct_without_mean = 1e3 * float(((errors - errors.mean(axis=0)) ** 2).mean())
    from_file = bias.scores_of(reduced)
    assert from_file["MSE_without_mean_error"] == pytest.approx(direct_without_mean, rel=1e-10)
    assert from_file["MSE_rest"] == pytest.approx(1e3 * float(((errors - bias.linear_baseline(errors)) ** 2).mean()),
                                                  rel=1e-10)
    for key in ("offset_mean", "offset_median", "MSE", "MSE_baseline"):
        assert from_file[key] == pytest.approx(direct[key], rel=1e-12)
    assert from_file["offset_mean"] == pytest.approx(1.0, abs=0.2)   # the 0.01 offset, x1e-2


def _write_summary(folder, model: str, seed: int, mae: float, mse: float) -> None:
    """A summary.json with every table metric (the others fixed) for one training seed."""
    import json

    from operando.ir.bench.runner import TABLE_COLUMNS

    values = {m: 0.5 for m in TABLE_COLUMNS} | {"MAE": mae, "MSE": mse}
    target = folder / ("" if seed == 0 else f"seed-{seed}")
    target.mkdir(parents=True, exist_ok=True)
    (target / "summary.json").write_text(json.dumps(
        {"model": model, "split": "random", "seed": seed, **{m: {"mean": v, "std": 0.0} for m, v in values.items()}}))


def test_results_page_compares_a_scaled_run_with_the_registered_seeds(tmp_path):
    """regenerate_results.scale_lines labels the scaled model with its run's batch and steps and
    picks the best model per metric across both folders."""
    import json

    regenerate = load_benchmark("regenerate_results")
    results, scale = tmp_path / "results", tmp_path / "scale"
    for seed, (mae, mse) in enumerate([(1.20e-2, 3.4e-4), (1.22e-2, 3.4e-4)]):
        _write_summary(scale / "random" / "abcc-small-1-step", "ABCC (small, 1-step)", seed, mae, mse)
        _write_summary(results / "random" / "mlp-regression", "MLP regression", seed, 1.24e-2, 3.3e-4)
    run = scale / "runs" / "abcc-small-random"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"batch_size": 512, "steps": 3000, "lr": 1e-3}))
    text = "\n".join(regenerate.scale_lines(scale, results))
    label = "ABCC (small, 1-step), batch 512 x 3000 steps, lr 0.001"
    assert f"| {label} | 1.210 ± 0.014 | 0.340 ± 0.000 |" in text
    assert f"Best per metric: MAE: {label}; MSE: MLP regression;" in text
    assert regenerate.scale_lines(tmp_path / "absent", results) == []
    other = scale / "runs" / "abcc-small-random-seed-1"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"batch_size": 256, "steps": 3000, "lr": 1e-3}))
    with pytest.raises(SystemExit, match="differ in"):
        regenerate.scale_lines(scale, results)
    # A changed ABCC setting (in the run's forecaster.json) joins the label; the molecule source does not.
    (other / "config.json").write_text(json.dumps({"batch_size": 512, "steps": 3000, "lr": 1e-3}))
    for folder in (run, other):
        abcc = {"lambda_moment": 300.0, "molecules": "file", "molecule_file": "m.npz", "lambda_mass": 10.0}
        (folder / "forecaster.json").write_text(json.dumps({"model": {"abcc": abcc}}))
    text = "\n".join(regenerate.scale_lines(scale, results))
    # Independent draws differ from the registered antithetic ones (a FlowModelConfig switch): labelled too.
    assert "| ABCC (small, 1-step), batch 512 x 3000 steps, lr 0.001, lambda_moment 300.0, antithetic False |" in text
    for folder in (run, other):  # a registered setting is not a change
        (folder / "forecaster.json").write_text(json.dumps({"model": {"abcc": {**abcc, "moment_rows": 64},
                                                                      "antithetic": True}}))
    text = "\n".join(regenerate.scale_lines(scale, results))
    assert "| ABCC (small, 1-step), batch 512 x 3000 steps, lr 0.001, lambda_moment 300.0 |" in text


def test_results_page_compares_a_one_seed_run_with_the_registered_models_at_that_seed(tmp_path):
    """A scale folder with one training seed is not skipped: it sits beside the registered models'
    runs of the same seed, means only (a summary's std is over spectra), one more decimal."""
    import json

    regenerate = load_benchmark("regenerate_results")
    results, scale = tmp_path / "results", tmp_path / "scale"
    _write_summary(scale / "random" / "abcc-small-1-step", "ABCC (small, 1-step)", 0, 1.2161e-2, 3.311e-4)
    for seed, mse in enumerate([3.302e-4, 3.304e-4]):
        _write_summary(results / "random" / "mlp-regression", "MLP regression", seed, 1.24e-2, mse)
    _write_summary(results / "random" / "static", "Static", 0, 5.0e-2, 9.0e-4)  # one seed: not in the seeds table
    run = scale / "runs" / "abcc-small-random"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"batch_size": 64, "steps": 9000, "lr": 1e-3}))
    text = "\n".join(regenerate.scale_lines(scale, results))
    assert "training seed 0 only" in text and "Static" not in text
    assert "| ABCC (small, 1-step), batch 64 x 9000 steps, lr 0.001 | 1.2161 | 0.3311 |" in text
    assert "| MLP regression | 1.2400 | 0.3302 |" in text
    assert "Best per metric: MAE: ABCC (small, 1-step), batch 64 x 9000 steps, lr 0.001; MSE: MLP regression;" in text


def test_results_page_checks_the_abcc_goals_on_the_summaries(tmp_path):
    """regenerate_results.goal_lines: the model's seed mean against the strongest baseline per
    metric (a tie is not a lead), the noise-floor ratio, each seed's coverage and the seed count,
    each marked met or not from the numbers."""
    import json

    regenerate = load_benchmark("regenerate_results")
    abcc = "ABCC (small, 1-step)"
    for seed, (mae, coverage) in enumerate([(1.20e-2, 0.90), (1.21e-2, 0.84), (1.22e-2, 0.91)]):
        _write_summary(tmp_path / "random" / "abcc", abcc, seed, mae, 3.2e-4)
        path = tmp_path / "random" / "abcc" / ("" if seed == 0 else f"seed-{seed}") / "summary.json"
        path.write_text(json.dumps(json.loads(path.read_text()) | {"coverage90": {"mean": coverage, "std": 0.1}}))
    _write_summary(tmp_path / "random" / "mlp", "MLP regression", 0, 1.24e-2, 3.1e-4)
    _write_summary(tmp_path / "random" / "floor", NOISE_FLOOR, 0, 1.0e-2, 2.0e-4)
    text = "\n".join(regenerate.goal_lines(tmp_path, abcc))
    assert "| random | MAE (x1e-2) | 1.21 ± 0.01 | MLP regression (1 seed) | 1.24 | +0.03 | +3.0 | yes |" in text
    assert "| random | MSE (x1e-3) | 0.32 ± 0 | MLP regression (1 seed) | 0.31 | -0.01 |  | **no** |" in text
    assert "| random | cosine | 0.5 ± 0 | MLP regression (1 seed) | 0.5 | +0 |  | **no** |" in text
    assert "ahead of every baseline on 1 of 7 metrics (not met)" in text
    assert "MAE over the noise floor's: 1.210 (met: at most 1.5)" in text
    assert "per seed: 0.900, 0.840, 0.910 (not met: each between 0.85 and 0.95)" in text
    assert "training seeds of ABCC (small, 1-step): 0, 1, 2 (met: at least 3)" in text
    assert "system split" not in text  # no summaries there: nothing claimed
    assert regenerate.goal_lines(tmp_path, "no such model") == []


def test_seed_metrics_prints_each_seed_and_the_mean_unrounded(tmp_path):
    """benchmarks/ir/seed_metrics.py: the values the rounded tables come from, per seed and mean."""
    metrics = load_benchmark("seed_metrics")
    for seed, mse in enumerate([3.3106e-4, 3.3224e-4]):
        _write_summary(tmp_path / "random" / "abcc-small-1-step", "ABCC (small, 1-step)", seed, 1.2e-2, mse)
    _write_summary(tmp_path / "random" / "mlp-regression", "MLP regression", 0, 1.24e-2, 3.302e-4)
    lines = metrics.seed_lines(tmp_path, "random", models=["ABCC (small, 1-step)"])
    assert lines[0] == f"{tmp_path} | ABCC (small, 1-step) | seeds 0, 1"
    assert "  MSE        mean 0.00033165  per seed 0.00033106 0.00033224" in lines
    assert not any("MLP" in line for line in lines) and not any("coverage90" in line for line in lines)
    with pytest.raises(SystemExit, match="no system/ folder"):
        metrics.main([str(tmp_path), "--split", "system"])


def test_scale_script_exports_3d_vectors_that_reproduce_every_mixture(tmp_path, toy_dataset):
    """bench_abcc_scale.py --export-molecules: a vector file standing in for RDKit, exactly."""
    pytest.importorskip("rdkit")
    import argparse

    from operando.ir.chem.mixture import MoleculeEncoder, mixture_embedding

    scale = load_benchmark("bench_abcc_scale")
    data, vectors = toy_dataset.save(tmp_path / "toy.h5"), tmp_path / "mol3d.npz"
    scale.export_molecules(data, vectors)
    from_file, from_rdkit = MoleculeEncoder.from_file(vectors), MoleculeEncoder("3d")
    for e in toy_dataset:
        assert np.array_equal(mixture_embedding(e.meta.electrolyte, from_file),
                              mixture_embedding(e.meta.electrolyte, from_rdkit))
    args = argparse.Namespace(molecule_file=vectors, steps=300, batch_size=512, lr=1e-3, warmup_steps=20,
                              preset="small", no_system_folds=True, abcc=dict([scale.abcc_setting("lambda_moment=5")]),
                              antithetic=True)
    model = scale.build(args, seed=1, run_dir=None)
    assert model.config.antithetic and model.config.conformal_system_folds == 0
    assert (model.config.abcc.molecules, model.config.abcc.molecule_file) == ("file", str(vectors))
    assert model.config.abcc.lambda_moment == 5 and model.objective().lambda_moment == 5
    with pytest.raises(argparse.ArgumentTypeError, match="lambda_moment"):
        scale.abcc_setting("lambda_momentum=5")
    with pytest.raises(argparse.ArgumentTypeError, match="must be >= 0"):
        scale.abcc_setting("lambda_moment=-1")
    assert (model.training.steps, model.training.batch_size, model.training.seed) == (300, 512, 1)
    assert model.config.conformal_system_folds == 0 and model.config.conformal_fold_steps == 150


def test_input_error_survives_a_worker_process():
    """Seed workers (bench_abcc_scale.py) send their errors back pickled: file, line and field kept."""
    import pickle

    error = InputError("mol3d.npz", "no vector for SMILES 'C'", line=3, field="smiles")
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is InputError and str(back) == str(error) == "mol3d.npz: line 3: field 'smiles': no vector for SMILES 'C'"
    assert (back.path, back.problem, back.line, back.field) == ("mol3d.npz", "no vector for SMILES 'C'", 3, "smiles")


def test_training_benchmark_times_abccs_last_phase_apart():
    """benchmarks/ir/bench_training.py: the registered ABCC's L_moment phase starts two thirds in;
    MeanFlow, and ABCC with L_moment off, have none (their whole budget at one rate)."""
    speed = load_benchmark("bench_training")
    abcc = build_model("abcc", seed=0)
    assert speed.last_phase_start(abcc) == abcc.config.abcc.moment_from_step == 2 * abcc.training.steps // 3
    meanflow = build_model("meanflow", seed=0)
    assert speed.last_phase_start(meanflow) == meanflow.training.steps
    off = build_model("abcc", seed=0, abcc={"lambda_moment": 0.0})
    assert speed.last_phase_start(off) == off.training.steps


def test_training_budget_counts_fold_models_only_where_the_bench_trains_them():
    """bench_training's budget: ABCC 9000 steps (3000 in the last phase) on the random split; on
    the system split plus 2 x 4500 fold steps, a third of them in the phase too; MeanFlow at one rate."""
    speed = load_benchmark("bench_training")
    abcc = build_model("abcc", seed=0)
    random_split = speed.training_budget(abcc, unseen_systems=False, per_step=1.0, phase_step=2.0)
    system_split = speed.training_budget(abcc, unseen_systems=True, per_step=1.0, phase_step=2.0)
    assert random_split == {"budget_steps": 9000, "fold_steps": 0, "phase_steps": 3000,
                            "budget_minutes": round((6000 + 2 * 3000) / 60, 1)}
    assert system_split == {"budget_steps": 18000, "fold_steps": 9000, "phase_steps": 6000,
                            "budget_minutes": round((12000 + 2 * 6000) / 60, 1)}
    meanflow = speed.training_budget(build_model("meanflow", seed=0), True, per_step=0.5, phase_step=9.0)
    assert meanflow == {"budget_steps": 6000, "fold_steps": 0, "phase_steps": 0, "budget_minutes": 50.0}


def test_compare_forecasts_finds_a_run_forecasting_what_it_saved_and_flags_a_changed_forecast(toy_dataset, tmp_path):
    """benchmarks/ir/compare_forecasts.py: a run folder scored elsewhere, reloaded here."""
    from operando.ir.bench.runner import evaluate, save_result
    from operando.ir.bench.suite import bench_model
    from operando.ir.data.preprocess import preprocess_dataset

    compare = load_benchmark("compare_forecasts")
    data = toy_dataset.save(tmp_path / "toy.h5")
    ds = preprocess_dataset(toy_dataset)
    model = bench_model("meanflow", seed=0, split="random", out=tmp_path, quick=True)
    model.config.model_overrides = {"hidden_size": 32, "depth": 1, "num_heads": 2, "patch_size": 32}
    folder = save_result(evaluate(model, ds, make_split(ds, "random", seed=0), coverage_samples=None), tmp_path)
    run = tmp_path / "runs" / "meanflow-random"
    assert compare.largest_difference(run, folder, data, cells=2) < 1e-5

    with np.load(folder / "predictions.npz") as saved:
        arrays = dict(saved)
    first = sorted(k for k in arrays if k.endswith("/spectra"))[0]
    arrays[first] = arrays[first] + np.float32(0.01)
    np.savez(folder / "predictions.npz", **arrays)
    assert compare.largest_difference(run, folder, data, cells=2) == pytest.approx(0.01, abs=1e-4)
