"""Flow forecasters behind the benchmark interface, run configs and the train/predict CLI."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from operando.cli.main import main
from operando.errors import InputError
from operando.ir.bench.splits import make_split
from operando.ir.bench.task import masked
from operando.ir.models.generative import FlowForecaster, FlowModelConfig, default_training
from operando.ir.models.runs import RunConfig, load_run

TINY = {"hidden_size": 32, "depth": 1, "num_heads": 2, "patch_size": 32, "time_freq_dim": 32}


def tiny_forecaster(objective="meanflow", steps=15, run_dir=None, target="chemical_flow"):
    training = default_training(objective)
    training.steps, training.batch_size, training.ckpt_every = steps, 16, 5
    return FlowForecaster(seed=0, model=FlowModelConfig(objective=objective, model_overrides=TINY, target=target,
                                                        sample_steps=None if objective == "meanflow" else 4),
                          training=training, run_dir=run_dir)


@pytest.fixture
def train_and_context(toy_dataset):
    split = make_split(toy_dataset, "random", seed=0)
    train = [masked(toy_dataset[n], s) for n, s in split.train.items()]
    return train, masked(toy_dataset["cu-0"], [0])


@pytest.mark.parametrize("objective", ["meanflow", "flow_matching"])
def test_fit_predict_save_load_round_trip(train_and_context, tmp_path, objective):
    train, context = train_and_context
    model = tiny_forecaster(objective, run_dir=tmp_path / "run")
    model.fit(train)
    steps = np.arange(len(context))
    pred = model.predict(context, steps)
    assert pred.shape == (len(context), 601) and np.isfinite(pred).all()
    assert np.array_equal(pred, model.predict(context, steps))  # deterministic for a seed
    again = load_run(tmp_path / "run")
    assert np.array_equal(pred, again.predict(context, steps))
    draws = model.sample(context, steps[:5], n_samples=4, seed=1)
    assert draws.shape == (4, 5, 601) and draws.std(axis=0).mean() > 0


class _AffineField(torch.nn.Module):
    """u(z, r, t | C) = 0.3 z + 0.01 s0: the one-step draw eps - u is affine in the noise eps."""

    def forward(self, x, t, r, s0=None, cond_vec=None, drop_cond=None):
        return 0.3 * x + 0.01 * s0


def test_antithetic_draws_pair_the_noise_and_their_mean_cancels_an_affine_map(train_and_context):
    train, context = train_and_context
    model = tiny_forecaster(steps=2)
    model.fit(train)
    k = 3
    independent = model.prior_draws(4, (k, 601), seed=1)   # the samplers' own draw from the seed
    assert torch.equal(independent, torch.randn((4 * k, 601), generator=torch.Generator().manual_seed(1)))
    model.config.antithetic = True
    paired = model.prior_draws(5, (k, 601), seed=1)
    assert paired.shape == (5 * k, 601)
    assert torch.equal(paired[2 * k:4 * k], -paired[:2 * k])       # draw j + 2 negates draw j
    assert not torch.allclose(paired[4 * k:].abs(), paired[:k].abs())  # the odd draw is its own
    # An affine noise-to-sample map: the pairs' mean is the draw from zero noise, exactly.
    model.net = _AffineField()
    steps = np.arange(k)
    at_zero = model.forecast_spectra(context, steps, 1, None, lambda noise, cond: model.generate(0 * noise, cond))[0]
    np.testing.assert_allclose(model.predict(context, steps), at_zero, rtol=0, atol=1e-7)  # float32 rounding
    assert model.sample(context, steps).std(axis=0).mean() > 0.1 * model.config.clip_scale  # still draws
    model.config.antithetic = False
    assert np.abs(model.predict(context, steps) - at_zero).max() > 1e-3 * model.config.clip_scale


def test_chemical_flow_target_is_clipped_and_inverted(train_and_context):
    train, context = train_and_context
    model = tiny_forecaster()
    model.encoder = __import__("operando.ir.models.baselines", fromlist=["x"]).ConditionEncoder().fit(train)
    tensors = model.training_tensors(train)
    a = model.config.clip_scale
    assert a > 0 and float(tensors["x"].abs().max()) <= 1.0 + 1e-6
    x, s0 = tensors["x"].double().numpy(), tensors["s0"].double().numpy()
    s = model.decode_target(x, s0)
    assert np.allclose(model.encode_target(s, s0), x, atol=1e-6)


def test_run_config_validation(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nlearning_rate = 3\n')
    with pytest.raises(InputError, match="unknown keys"):
        RunConfig.load(bad)
    bad.write_text('name = "x"\n[model]\nobjective = "diffusion"\n')
    with pytest.raises(InputError, match="objective"):
        RunConfig.load(bad)
    bad.write_text('name = "x\n')
    with pytest.raises(InputError, match="not valid TOML"):
        RunConfig.load(bad)
    good = tmp_path / "good.toml"
    good.write_text('name = "x"\nsplit = "system"\n[training]\nsteps = 7\n')
    config = RunConfig.load(good, ["training.batch_size=8", "seed=3"])
    assert config.train_config().steps == 7 and config.train_config().batch_size == 8
    assert config.train_config().seed == 3 and config.to_dict()["model"]["objective"] == "meanflow"


def test_train_and_predict_cli(toy_dataset, tmp_path, capsys):
    data = toy_dataset.save(tmp_path / "data.h5")
    config = tmp_path / "run.toml"
    config.write_text(f'name = "tiny"\ndata = "{data}"\nsplit = "none"\nout = "{tmp_path / "runs"}"\n'
                      f'[model]\nmodel_overrides = {json.dumps(TINY).replace(":", " =")}\n'
                      '[training]\nsteps = 6\nbatch_size = 8\n')
    assert main(["ir", "train", "--config", str(config), "--no-progress"]) == 0
    run = tmp_path / "runs" / "tiny"
    assert json.loads((run / "run.json").read_text())["training"]["steps"] == 6
    assert main(["ir", "predict", "--run", str(run), "--data", str(data), "--experiment", "sn-1",
                 "--samples", "3", "-o", str(tmp_path / "pred")]) == 0
    mean = pd.read_csv(tmp_path / "pred" / "forecast_mean.csv")
    assert mean.columns[0] == "Wavenumber [cm-1]" and mean.shape == (601, 41)
    low, high = (pd.read_csv(tmp_path / "pred" / f"forecast_{k}.csv").iloc[:, 1:].to_numpy() for k in ("low", "high"))
    assert (low <= high + 1e-12).all()
    assert main(["ir", "predict", "--run", str(tmp_path / "nothing"), "--data", str(data), "--experiment", "sn-1",
                 "-o", str(tmp_path / "p2")]) == 1
    assert "not a finished training run" in capsys.readouterr().err


def test_hold_out_spectra_is_disjoint_seeded_and_keeps_the_reference(train_and_context):
    from operando.ir.bench.task import hold_out_spectra, training_rows

    train, _ = train_and_context
    kept, held = hold_out_spectra(train, 0.2, seed=3)
    n_visible = sum(len(training_rows(e)) - 1 for e in train)
    assert sum(len(steps) for _, steps in held) == round(0.2 * n_visible)
    by_name = {e.name: e for e in kept}
    for e, steps in held:
        assert 0 not in steps and np.isfinite(e.absorbance[steps]).all()   # the truth stays readable
        assert np.isnan(by_name[e.name].absorbance[steps]).all()           # and is out of training
        assert np.isfinite(by_name[e.name].absorbance[0]).all()
    again = hold_out_spectra(train, 0.2, seed=3)[1]
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(held, again))
    with pytest.raises(ValueError, match="share"):
        hold_out_spectra(train, 1.0, seed=0)


def test_conformal_share_calibrates_and_persists(train_and_context, tmp_path):
    train, context = train_and_context
    model = tiny_forecaster(run_dir=tmp_path / "run")
    model.config.conformal_share, model.config.conformal_samples = 0.2, 4
    model.fit(train)
    factors = dict(zip(model.config.conformal["levels"], model.config.conformal["factors"]))
    assert np.isfinite(factors[0.9]) and factors[0.9] > factors[0.5] > 0
    draws = model.sample(context, np.arange(1, 6), n_samples=8)
    summary = model.summarize(draws, 0.9)
    assert np.allclose(summary.high - summary.mean, factors[0.9] * summary.std)
    again = load_run(tmp_path / "run")
    assert again.config.conformal == model.config.conformal
    assert np.allclose(again.summarize(draws, 0.9).low, summary.low)


def test_system_folds_deal_every_system_once_and_are_seeded(train_and_context):
    from operando.ir.bench.task import spaced_rows, system_folds

    train, _ = train_and_context
    systems = sorted({e.system for e in train})
    folds = system_folds(train, 2, seed=0)
    assert len(folds) == 2 and sorted(s for f in folds for s in f) == systems
    assert system_folds(train, 2, seed=0) == folds
    assert len(system_folds(train, 10, seed=0)) == len(systems)   # at most one fold per system
    with pytest.raises(ValueError, match="at least 2 training systems"):
        system_folds([e for e in train if e.system == systems[0]], 2, seed=0)
    rows = spaced_rows(train[0], 4)
    assert len(rows) == 4 and 0 not in rows and np.all(np.diff(rows) > 0)
    assert rows[-1] == np.flatnonzero(~np.isnan(train[0].absorbance).any(axis=1))[-1]


def test_unseen_system_intervals_come_from_models_that_never_saw_the_system(train_and_context, tmp_path):
    train, context = train_and_context
    model = tiny_forecaster(run_dir=tmp_path / "run")
    config = model.config
    config.conformal_share, config.conformal_samples = 0.2, 4
    config.conformal_system_folds, config.conformal_fold_steps, config.conformal_fold_rows = 2, 5, 4
    model.fit(train)
    assert config.training_systems == sorted({e.system for e in train})
    seen, unseen = (dict(zip(c["levels"], c["factors"])) for c in (config.conformal, config.conformal_unseen))
    assert np.isfinite(unseen[0.9]) and unseen[0.9] != seen[0.9]
    # each fold model trained 5 steps on the other systems only
    for k in range(2):
        fold = load_run(tmp_path / "run" / "system-folds" / f"fold-{k}")
        assert fold.training.steps == 5 and fold.config.conformal_system_folds == 0
        assert set(fold.config.training_systems) < set(config.training_systems)
    draws = model.sample(context, np.arange(1, 6), n_samples=8)
    inside = model.summarize(draws, 0.9, system=context.system)
    outside = model.summarize(draws, 0.9, system="Pt|unknown|Li")
    assert np.allclose(inside.high - inside.mean, seen[0.9] * inside.std)
    assert np.allclose(outside.high - outside.mean, unseen[0.9] * outside.std)
    assert model.interval_scale("Pt|unknown|Li")[1] == "cross-conformal, unseen system"
    assert model.interval_scale(context.system)[1] == "split-conformal"
    again = load_run(tmp_path / "run")
    assert again.config.conformal_unseen == config.conformal_unseen
    # refitting a finished run folder reloads every fold and gives the same factors
    refit = tiny_forecaster(run_dir=tmp_path / "run")
    refit.config.conformal_share, refit.config.conformal_samples = 0.2, 4
    refit.config.conformal_system_folds, refit.config.conformal_fold_steps, refit.config.conformal_fold_rows = 2, 5, 4
    refit.fit(train)
    assert refit.config.conformal_unseen == config.conformal_unseen
    with pytest.raises(ValueError, match="conformal_system_folds"):
        FlowModelConfig(conformal_system_folds=1)
