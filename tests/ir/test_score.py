"""``operando ir score``: a model on the user's own measured experiments, next to persistence,
as measured and after per-spectrum drift removal (issue 34, item 5)."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from toy import GRID, toy_experiment

from operando.cli.main import main
from operando.errors import InputError
from operando.ir.bench.measured import SCORINGS, remove_drift, score_measured
from operando.ir.data.dataset import OperandoDataset

TINY_NET = {"hidden_size": 32, "depth": 1, "num_heads": 2, "time_freq_dim": 32}
X = np.linspace(-1.0, 1.0, GRID.size)


class Echo:
    """Every draw is the first spectrum plus ``slope`` times the step index (a known change)."""

    seed = 0

    def __init__(self, slope=0.0):
        self.slope = slope

    def sample(self, context, steps, n_samples=None, seed=None):
        s0 = context.absorbance[0].astype(np.float64)
        one = s0 + self.slope * np.asarray(steps, dtype=np.float64)[:, None]
        return np.broadcast_to(one, (n_samples, len(steps), s0.size)).copy()


def drifting(e, seed=0):
    """``e`` whose spectrum m is its first spectrum under a drift only: scale, offset, tilt."""
    rng = np.random.default_rng(seed)
    n = len(e)
    a = 1.0 + rng.uniform(0.0, 0.05, n)
    b = rng.normal(0.0, 0.02, n)
    c = rng.normal(0.0, 0.01, n)
    a[0], b[0], c[0] = 1.0, 0.0, 0.0
    first = e.absorbance[0].astype(np.float64)
    spectra = a[:, None] * first + b[:, None] + c[:, None] * X
    return dataclasses.replace(e, absorbance=spectra.astype(np.float64), truth=None)


def test_remove_drift_undoes_scale_offset_and_tilt_exactly():
    rng = np.random.default_rng(0)
    true = rng.random((5, GRID.size))
    pred = (true - 0.3 + 0.02 * X) / 1.07
    np.testing.assert_allclose(remove_drift(true, pred, GRID), true, atol=1e-10)
    # a shape the three terms cannot make stays wrong
    other = true + np.sin(10 * X)
    assert np.abs(remove_drift(true, other, GRID) - true).mean() > 0.1


def test_drift_alone_is_an_error_as_measured_and_none_after_drift_removal():
    e = drifting(toy_experiment("cu-0", n=12, seed=0))
    score = score_measured(Echo(), [e], first=1)
    table = score.table().set_index(["scoring", "forecast"])
    # Echo predicts no change: the model's forecast is persistence, metric for metric
    for scoring in SCORINGS:
        assert np.allclose(table.loc[(scoring, "model")].to_numpy(dtype=float),
                           table.loc[(scoring, "persistence")].to_numpy(dtype=float), equal_nan=True)
    assert table.loc[("as measured", "persistence"), "MAE"] > 0.1      # MAE / 1e-2: over 1e-3
    assert table.loc[("drift removed", "persistence"), "MAE"] < 1e-8
    assert table.loc[("drift removed", "persistence"), "R2"] == pytest.approx(1.0)
    per = score.per_spectrum
    assert set(per.step) == set(range(1, 12)) and len(per) == 11 * 2 * 2
    assert set(score.per_experiment.columns) >= {"DILATE", "DILATE shape", "DILATE temporal"}


def test_first_k_starts_from_the_last_given_spectrum():
    """With --first K the model's forecast is re-anchored to spectrum K-1: a model whose change
    is exactly the true change then scores zero, and persistence is spectrum K-1."""
    e = toy_experiment("cu-0", n=12, seed=0)
    e = dataclasses.replace(e, absorbance=(e.absorbance[:1].astype(np.float64)
                                           + 0.01 * np.arange(12)[:, None] * np.ones(GRID.size)), truth=None)
    score = score_measured(Echo(slope=1.0), [e], first=4)   # scale applies: slope in first-spectrum units
    per = score.per_spectrum
    assert set(per.step) == set(range(4, 12))
    from operando.ir.bench.measured import first_spectrum_units
    from operando.ir.data.preprocess import PreprocessConfig

    y, transform = first_spectrum_units(e, PreprocessConfig(), "test")
    # the true change per step in first-spectrum units is 0.01 / scale; Echo's is 1.0: the model is
    # wrong by (1 - 0.01 / s) per step since spectrum 3, persistence by 0.01 / s per step since 3
    step_change = 0.01 / transform.scale
    measured = per[per.scoring == "as measured"].set_index(["forecast", "step"])["MAE"]
    for m in range(4, 12):
        assert measured[("persistence", m)] == pytest.approx((m - 3) * step_change, rel=1e-6)
        assert measured[("model", m)] == pytest.approx((m - 3) * abs(1.0 - step_change), rel=1e-6)


def test_too_short_experiment_is_one_clear_error():
    e = toy_experiment("cu-0", n=3, seed=0)
    with pytest.raises(InputError, match=r"data\.h5: experiment 'cu-0' has 3 spectra; --first 3 leaves none"):
        score_measured(Echo(), [e], first=3, source="data.h5")


# ------------------------------------------------------------------ the command line

@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    folder = tmp_path_factory.mktemp("score")
    cells = [drifting(toy_experiment(f"cu-{i}", n=10, seed=i), seed=i) for i in range(2)]
    path = OperandoDataset(cells, simulated=False).save(folder / "measured.h5")
    train = OperandoDataset([toy_experiment(f"cu-{i}", n=10, seed=10 + i) for i in range(2)], simulated=True)
    train_path = train.save(folder / "train.h5")
    from operando.ir.models.runs import RunConfig, train_run

    config = RunConfig(name="tiny", data=str(train_path), split="none", out=str(folder / "runs"),
                       model={"n_samples": 4, "model_overrides": TINY_NET},
                       training={"steps": 3, "batch_size": 16, "warmup_steps": 1, "ckpt_every": 1000})
    train_run(config, progress=False)
    return path, config.run_dir, folder


def test_cli_prints_and_writes_every_metric_next_to_persistence(measured, capsys):
    data, run, folder = measured
    out = folder / "scores"
    assert main(["ir", "score", "--data", str(data), "--run", str(run), "--first", "2", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "persistence" in printed and "drift removed" in printed and "first 2 given" in printed
    table = pd.read_csv(out / "score.csv")
    assert list(table.columns) == ["scoring", "forecast", "MAE", "MSE", "RMSE", "SAM", "cosine", "R2", "DILATE",
                                   "MAE ratio"]
    assert len(table) == 8 and np.isfinite(table[["MAE", "R2", "DILATE"]].to_numpy()).all()
    assert list(table.forecast[:4]) == ["model", "few-shot", "linear extrapolation", "persistence"]
    per = pd.read_csv(out / "per_spectrum.csv")
    assert len(per) == 2 * 8 * 4 * 2 and set(per.step) == set(range(2, 10))
    info = json.loads((out / "score.json").read_text())
    assert info["first"] == 2 and info["format"] == "operando-score" and len(info["table"]) == 8
    # the same command again is refused without --force, and replaces the folder with it;
    # a folder of other files is refused
    assert main(["ir", "score", "--data", str(data), "--run", str(run), "-o", str(out)]) == 1
    assert "pass --force to overwrite" in capsys.readouterr().err
    assert main(["ir", "score", "--data", str(data), "--run", str(run), "-o", str(out), "--force"]) == 0
    assert json.loads((out / "score.json").read_text())["first"] == 1
    other = folder / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    assert main(["ir", "score", "--data", str(data), "--run", str(run), "-o", str(other)]) == 1
    assert "holds other files" in capsys.readouterr().err and (other / "keep.txt").read_text() == "mine"


def test_cli_errors_name_the_file(measured, capsys):
    data, run, _ = measured
    assert main(["ir", "score", "--data", str(data), "--run", str(run), "--first", "10"]) == 1
    err = capsys.readouterr().err
    assert "measured.h5: experiment 'cu-0' has 10 spectra; --first 10 leaves none" in err and err.count("\n") == 1
    assert main(["ir", "score", "--data", str(data), "--run", str(run), "--experiment", "nope"]) == 1
    assert "measured.h5: no experiment 'nope'" in capsys.readouterr().err


# ------------------------------------------------------------------ few-shot (issue 34, item 4)

def test_prefix_correction_believes_the_gain_as_far_as_the_prefix_covers_the_change():
    """A cell whose change is 1.7 times the model's: once the prefix covers the whole predicted
    change the gain is 1.7 and the forecast exact; early on (the prefix covers a fifth of it) the
    gain moves a fifth of the way; k = 1 is the zero-shot forecast."""
    from operando.ir.models.fewshot import prefix_correction

    rng = np.random.default_rng(1)
    n, width = 20, GRID.size
    shape = rng.standard_normal(width)
    course = np.minimum(np.arange(n) / 4.0, 1.0)            # the predicted change saturates at step 4
    d = np.outer(course, shape)
    truth = 0.5 + 1.7 * d
    fit = prefix_correction(truth[:5], d)
    assert fit.coverage == pytest.approx(1.0) and fit.gain == pytest.approx(1.7, rel=1e-9)
    np.testing.assert_allclose(fit.apply(truth[:5], d), truth, atol=1e-9)
    slow = np.outer(np.arange(n) / (n - 1), shape)           # a steady change: step 4 covers 4/19 of it
    early = prefix_correction((0.5 + 1.7 * slow)[:5], slow)
    assert early.fitted_gain == pytest.approx(1.7) and early.coverage == pytest.approx(4 / 19)
    assert early.gain == pytest.approx(1 + 4 / 19 * 0.7)
    one = prefix_correction(truth[:1], d)
    assert one.gain == 1.0
    np.testing.assert_allclose(one.apply(truth[:1], d), truth[0] + d)


def test_linear_extrapolation_is_exact_on_lines():
    from operando.ir.models.fewshot import linear_extrapolation

    t = 60.0 * np.arange(12)
    lines = 0.3 + np.outer(t, np.linspace(-1e-4, 1e-4, GRID.size))
    np.testing.assert_allclose(linear_extrapolation(lines[:4], t), lines, atol=1e-12)
    with pytest.raises(ValueError, match="at least 2"):
        linear_extrapolation(lines[:1], t)


def test_first_k_scores_few_shot_and_linear_extrapolation_too(measured):
    """With K >= 2 the table has four forecasts; with K = 1 two (few-shot is the zero-shot one)."""
    data, _, _ = measured
    cells = list(OperandoDataset.load(data))
    score = score_measured(Echo(slope=0.0), cells, first=3)
    assert score.forecasts == ["model", "few-shot", "linear extrapolation", "persistence"]
    assert len(score.table()) == 8
    assert score_measured(Echo(), cells, first=1).forecasts == ["model", "persistence"]


def test_an_experiment_off_the_grid_or_with_gaps_is_one_clear_error():
    e = toy_experiment("cu-0", n=6, seed=0)
    keep = (GRID >= 900) & (GRID <= 1500)
    narrow = dataclasses.replace(e, wavenumber_cm1=GRID[keep], absorbance=e.absorbance[:, keep], truth=None)
    with pytest.raises(InputError, match=r"data\.h5: experiment 'cu-0' covers 900-1500 cm-1, which does not cover"):
        score_measured(Echo(), [narrow], source="data.h5")
    holes = e.absorbance.astype(np.float64).copy()
    holes[3, 10] = np.nan
    with pytest.raises(InputError, match=r"data\.h5: experiment 'cu-0': spectrum 3 has missing or non-finite"):
        score_measured(Echo(), [dataclasses.replace(e, absorbance=holes, truth=None)], source="data.h5")
