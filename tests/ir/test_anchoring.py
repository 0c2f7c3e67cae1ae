"""Forecasts anchored to what was measured (issue 34, item 1).

For any static spectrum, including one the simulator cannot produce (here: an extra narrow band
and a steep tilted baseline), step 0 of the user-path forecast (``load_model(...).forecast``,
``operando ir forecast``, ``operando ir predict``) is the measured spectrum to float precision,
and every later step is that spectrum plus the predicted change, so the extra band is carried
through every step. Checked for a span-restricted two-stream ABCC (``reference = "span"``, which
drops such structure when unanchored) and for a plain MeanFlow, both tiny and barely trained:
what is tested is the anchoring, not the forecasts.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from toy import GRID, toy_experiment

from operando.ir.bench.splits import make_split
from operando.ir.bench.task import masked
from operando.ir.data.preprocess import PreprocessConfig, SpectralTransform, resample
from operando.ir.forecast import ForecastModel, anchored_forecast
from operando.ir.models.abcc import ABCCConfig
from operando.ir.models.generative import FlowForecaster, FlowModelConfig, default_training

TINY = {"hidden_size": 32, "depth": 1, "num_heads": 2, "patch_size": 32, "time_freq_dim": 32}
AXIS = np.linspace(2100.0, 700.0, 1401)          # the "instrument" axis, wider than the grid
BAND_CM1, BAND_HEIGHT = 1234.0, 0.6              # no simulated or toy band is near 1234 cm-1


def extra(x: np.ndarray) -> np.ndarray:
    """What no simulated cell has: a narrow band at 1234 cm-1 on a steep tilted baseline."""
    return BAND_HEIGHT * np.exp(-0.5 * ((x - BAND_CM1) / 5.0) ** 2) + 0.15 + 4e-4 * (x - 800.0)


@pytest.fixture(scope="module")
def cell():
    return toy_experiment("cu-0", seed=0)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A tiny two-stream ABCC (span-restricted) and a tiny MeanFlow, trained 3 steps on toy cells."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from test_abcc import synthetic_calibration

    from operando.ir.data.dataset import OperandoDataset

    exps = [toy_experiment(f"cu-{i}", seed=i) for i in range(3)]
    exps += [toy_experiment(f"sn-{i}", seed=10 + i, electrode="Sn") for i in range(2)]
    data = OperandoDataset(exps, simulated=True)
    split = make_split(data, "random", seed=0)
    train = [masked(data[n], s) for n, s in split.train.items()]
    calibration = synthetic_calibration().save(tmp_path_factory.mktemp("cal") / "calibration.h5")
    built = {}
    for name, abcc in (("abcc", ABCCConfig(calibration=str(calibration), molecules="vocab")), ("meanflow", None)):
        training = default_training("meanflow")
        training.steps, training.batch_size, training.ckpt_every = 3, 16, 100
        model = FlowForecaster(seed=0, model=FlowModelConfig(model_overrides=TINY, abcc=abcc), training=training)
        model.fit(train)
        built[name] = model
    assert built["abcc"].config.abcc.projects_reference
    return built


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, cell):
    folder = tmp_path_factory.mktemp("inputs")
    first = np.interp(AXIS, GRID, cell.absorbance[0].astype(np.float64))
    files = {}
    for name, y in (("plain", first), ("odd", first + extra(AXIS))):
        path = folder / f"{name}.csv"
        path.write_text("Wavenumber [cm-1],Absorbance\n" + "".join(f"{float(a)!r},{float(b)!r}\n" for a, b in zip(AXIS, y)))
        files[name] = path
    voltage = folder / "voltage.csv"
    voltage.write_text("Time [s],Voltage [V],Current [mA]\n" + "".join(
        f"{float(t)!r},{float(v)!r},-0.1\n" for t, v in zip(cell.time_s, cell.voltage_v)))
    meta = folder / "experiment.json"
    meta.write_text(cell.meta.to_json())
    return files, voltage, meta


@pytest.mark.parametrize("kind", ["abcc", "meanflow"])
def test_step_zero_is_the_measured_spectrum_and_the_odd_band_is_carried(models, inputs, kind):
    files, voltage, meta = inputs
    model = ForecastModel(models[kind])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # ABCC says the odd spectrum lies outside its span
        odd = model.forecast(files["odd"], voltage, meta, samples=4, seed=3)
    plain = model.forecast(files["plain"], voltage, meta, samples=4, seed=3)
    on_grid = np.interp(GRID, AXIS[::-1], (np.interp(AXIS, GRID, toy_experiment("cu-0").absorbance[0]
                                                      .astype(np.float64)) + extra(AXIS))[::-1])
    np.testing.assert_allclose(odd.static_absorbance, on_grid, atol=1e-12)
    for result in (odd, plain):
        # step 0 is the measured static spectrum, bit for bit; its interval has zero width
        assert np.array_equal(result.mean[0], result.static_absorbance)
        assert np.array_equal(result.low[0], result.static_absorbance)
        assert np.array_equal(result.high[0], result.static_absorbance)
        assert result.info["anchored"] and result.n_steps == 40
    # every later step is the measured spectrum plus the predicted change: the odd band and the
    # tilt are carried through every step (up to how the model's change reacts to the input)
    carried = odd.mean - plain.mean
    expected = np.interp(GRID, AXIS[::-1], extra(AXIS)[::-1])
    peak = int(np.argmin(np.abs(GRID - BAND_CM1)))
    change = np.abs(plain.mean - plain.static_absorbance).max()
    assert change > 1e-4   # the model does predict a change
    assert np.abs(carried - expected).max() < 0.05 * BAND_HEIGHT
    assert np.all(np.abs(carried[:, peak] - expected[peak]) < 0.1 * BAND_HEIGHT)


def test_unanchored_span_abcc_drops_the_odd_band_the_anchored_one_keeps_it(models, inputs, cell):
    """What the anchoring changes: the model's own forecast (what OpIRBench scores) of a
    span-restricted ABCC has no room for the band; the anchored one has it at every step."""
    model = models["abcc"]
    config = PreprocessConfig()
    on_grid = resample(AXIS, np.interp(AXIS, GRID, cell.absorbance[0].astype(np.float64)) + extra(AXIS), GRID)
    transform = SpectralTransform.fit(on_grid[None], config)
    context = masked(cell, [0])
    context.absorbance[0] = transform.apply(on_grid[None])[0].astype(np.float32)
    steps = np.arange(len(cell))
    peak = int(np.argmin(np.abs(GRID - BAND_CM1)))
    height = lambda a: a[:, peak] - 0.5 * (a[:, peak - 15] + a[:, peak + 15])  # noqa: E731  (band over its baseline)
    with pytest.warns(UserWarning, match="outside the span"):
        own = model.predict(context, steps) * transform.scale + transform.offset_per_spectrum[0]
    assert np.all(height(own) < 0.5 * BAND_HEIGHT)
    with pytest.warns(UserWarning, match="keeps it from the measured spectrum"):
        anchored = anchored_forecast(model, context, on_grid, transform.scale, seed=0)
    assert np.array_equal(anchored.mean[0], on_grid) and np.all(anchored.change[0] == 0)
    assert np.all(np.abs(height(anchored.mean) - BAND_HEIGHT) < 0.1 * BAND_HEIGHT)
    assert anchored.info["change_reference"] == "in-span part of the first spectrum"
    assert anchored.info["outside_span_over_noise"] > 2


def test_point_forecast_averages_the_draws_noise_away(models, cell):
    """The point forecast is the mean change of at least POINT_DRAWS draws: its draw-to-draw
    scatter is 1/sqrt(n) of one draw's (checked against two seeds)."""
    model = models["meanflow"]
    context = masked(cell, [0])
    static = cell.absorbance[0].astype(np.float64)
    one = [anchored_forecast(model, context, static, 1.0, seed=s, point_draws=1).mean for s in (1, 2)]
    many = [anchored_forecast(model, context, static, 1.0, seed=s, point_draws=64).mean for s in (1, 2)]
    spread_one = np.std(one[0][1:] - one[1][1:])
    spread_many = np.std(many[0][1:] - many[1][1:])
    assert spread_many < 0.25 * spread_one   # 1/8 expected for independent draws


class Still:
    """A forecaster that predicts no change (its draws are the first spectrum)."""

    seed = 0

    class config:
        n_samples = 2

    def sample(self, context, steps, n_samples=None, seed=None):
        s0 = context.absorbance[0].astype(np.float64)
        return np.broadcast_to(s0, (n_samples, len(steps), s0.size)).copy()


def test_measured_prefix_is_kept_and_the_forecast_starts_from_the_last(inputs, cell, tmp_path, capsys):
    """Few-shot (issue 34, item 4): given the spectra of steps 1..4, those steps are the measured
    spectra exactly, and the rest start from the last of them (a model that predicts no change
    forecasts that spectrum from there on)."""
    from operando.cli.main import main

    files, voltage, meta = inputs
    static = np.interp(AXIS, GRID, cell.absorbance[0].astype(np.float64)) + extra(AXIS)
    direction = 1e-4 * np.cos((AXIS - 700.0) / 200.0)
    measured = []
    for j in range(1, 5):
        path = tmp_path / f"m{j}.csv"
        y = static + np.sqrt(cell.time_s[j]) * direction
        path.write_text("Wavenumber [cm-1],Absorbance\n" + "".join(f"{float(a)!r},{float(b)!r}\n"
                                                                  for a, b in zip(AXIS, y)))
        measured.append(path)
    result = ForecastModel(Still()).forecast(files["odd"], voltage, meta, samples=2, measured=measured)
    on_grid = [np.interp(GRID, AXIS[::-1], (static + np.sqrt(cell.time_s[j]) * direction)[::-1]) for j in range(5)]
    np.testing.assert_allclose(result.mean[5:], np.broadcast_to(on_grid[4], result.mean[5:].shape), atol=1e-10)
    for j in range(5):   # the measured steps: exactly the files, zero-width interval
        np.testing.assert_allclose(result.mean[j], on_grid[j], atol=1e-12)
        assert np.array_equal(result.low[j], result.mean[j]) and np.all(result.std[j] == 0)
    assert np.array_equal(result.mean[0], result.static_absorbance)
    assert result.info["measured_steps"] == 5 and result.info["few_shot_gain"] == 1.0
    # too many measured spectra for the profile: one clear error
    from operando.errors import InputError

    with pytest.raises(InputError, match="nothing would be left to forecast"):
        ForecastModel(Still()).forecast(files["odd"], voltage, meta, steps=4, measured=measured)


def test_forecast_json_reports_the_noise_left_in_the_point_change(models, cell):
    context = masked(cell, [0])
    static = cell.absorbance[0].astype(np.float64)
    few = anchored_forecast(models["meanflow"], context, static, 1.0, seed=1, point_draws=1)
    many = anchored_forecast(models["meanflow"], context, static, 1.0, seed=1, point_draws=64)
    assert 0 < many.info["change_noise_std"] < 0.5 * few.info["change_noise_std"]
    assert many.info["static_noise_std"] == pytest.approx(float(np.std(np.diff(static, 2)) / np.sqrt(6)), rel=0.5)
