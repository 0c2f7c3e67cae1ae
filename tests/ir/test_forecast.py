"""``operando ir forecast`` and ``operando.ir.load_model(...).forecast(...)``: from users' own files.

A tiny MeanFlow forecaster is trained once (5 steps, a 1-block SiT1D) on one simulated cell;
its forecasts are meaningless but exercise every path. The mapping back to absorbance,
the thinning of the profile and the chunked sampling are checked in closed form with a stub.
"""
from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from io_writers import write_jcamp, write_mpt, write_opus

import operando.ir
from operando.cli.main import main
from operando.echem import EchemLog
from operando.errors import InputError
from operando.files import shared_data
from operando.ir.data.preprocess import quantile_line, window_coordinate
from operando.ir.forecast import POINT_DRAWS, ForecastModel, profile_steps

FIXTURES = Path(__file__).parent / "fixtures" / "opus"
REAL_MPT = shared_data("eclab-yadg")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
GRID = np.linspace(800.0, 2000.0, 601)
CELL = "cu-ec-1"  # 14 spectra over about 2 h: one of the smallest simulated cells
TINY_NET = {"hidden_size": 32, "depth": 1, "num_heads": 2, "time_freq_dim": 32}


# ------------------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def cell():
    from operando.ir.simulate import simulate_dataset

    return simulate_dataset(experiments=[CELL])[CELL]


@pytest.fixture(scope="module")
def files(tmp_path_factory, cell):
    """The user's files: static spectrum (JCAMP, CSV), voltage profile (CSV, .mpt), experiment.json."""
    folder = tmp_path_factory.mktemp("inputs")
    x = np.linspace(2096.0, 704.0, 697)  # evenly spaced, descending, inside the simulated axis
    y = np.interp(x, cell.wavenumber_cm1, cell.absorbance[0].astype(np.float64))
    _, y_exact = write_jcamp(folder / "static.jdx", x, y, "DIFDUP")
    csv = folder / "static.csv"
    csv.write_text("Wavenumber [cm-1],Absorbance\n" + csv_rows(x, y_exact))
    t = np.linspace(0.0, float(cell.time_s[-1]), 401)
    v = np.interp(t, cell.time_s, cell.voltage_v)
    i = np.interp(t, cell.time_s, cell.current_ma)
    voltage = folder / "voltage.csv"
    voltage.write_text("Time [s],Voltage [V],Current [mA]\n" + csv_rows(t, v, i))
    mpt = write_mpt(folder / "cell.mpt", t, v, i)
    meta = folder / "experiment.json"
    meta.write_text(cell.meta.to_json())
    return {"jdx": folder / "static.jdx", "csv": csv, "x": x, "y": y_exact, "voltage": voltage, "mpt": mpt,
            "meta": meta, "profile": (t, v, i)}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, cell):
    from operando.ir.data.dataset import OperandoDataset
    from operando.ir.models.runs import RunConfig, train_run

    folder = tmp_path_factory.mktemp("train")
    OperandoDataset([cell], simulated=True).save(folder / "cell.h5")
    config = RunConfig(name="tiny", data=str(folder / "cell.h5"), split="none", out=str(folder / "runs"),
                       model={"n_samples": 4, "model_overrides": TINY_NET},
                       training={"steps": 5, "batch_size": 16, "warmup_steps": 1, "ckpt_every": 1000})
    train_run(config, progress=False)
    return config.run_dir


def csv_rows(*columns) -> str:
    """CSV lines of the columns, numbers written exactly (repr of floats)."""
    return "".join(",".join(repr(float(value)) for value in row) + "\n" for row in zip(*columns))


def forecast_cli(run_dir, spectrum, voltage, meta, out, *extra) -> int:
    return main(["ir", "forecast", "--run", str(run_dir), "--spectrum", str(spectrum), "--voltage", str(voltage),
                 "--meta", str(meta), "-o", str(out), *map(str, extra)])


def no_trace(out: Path) -> None:
    """Nothing at the output path and no temporary folder beside it."""
    assert not out.exists()
    assert not list(out.parent.glob(f".{out.name}.*"))


def read_wide(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path)
    assert frame.columns[0] == "Wavenumber [cm-1]"
    return frame


# ------------------------------------------------------------------------------ end to end

def test_cli_forecast_from_jcamp_and_mpt(run_dir, files, tmp_path, capsys):
    out = tmp_path / "forecast"
    assert forecast_cli(run_dir, files["jdx"], files["mpt"], files["meta"], out,
                        "--steps", 12, "--samples", 4, "--seed", 1) == 0
    t_end = files["profile"][0][-1]
    assert f"12 steps, t = 0 .. {t_end:g} s" in capsys.readouterr().out
    mean = read_wide(out / "forecast_mean.csv")
    assert mean.shape == (601, 13)
    assert np.allclose(mean["Wavenumber [cm-1]"], GRID)
    assert np.allclose(mean.columns[1:].astype(float), np.linspace(0.0, t_end, 12), rtol=1e-5)
    assert np.isfinite(mean.to_numpy()).all()
    std, low, high = (read_wide(out / f"forecast_{n}.csv").to_numpy()[:, 1:] for n in ("std", "low", "high"))
    assert (std >= 0).all() and (low <= high + 1e-9).all() and std.max() > 0
    steps = pd.read_csv(out / "steps.csv")
    t, v, _ = files["profile"]
    assert list(steps.columns) == ["Step", "Time [s]", "Voltage [V]"]
    assert np.allclose(steps["Time [s]"], np.linspace(0.0, t_end, 12))
    assert np.allclose(steps["Voltage [V]"], np.interp(steps["Time [s]"], t, v), atol=1e-6)
    record = json.loads((out / "forecast.json").read_text())
    assert record["samples"] == 4 and record["seed"] == 1 and record["n_steps"] == 12
    assert record["interval_level"] == 0.9 and record["experiment"] == CELL and record["units"] == "absorbance"
    for png in ("forecast_heatmap.png", "forecast_difference.png", "forecast_stages.png"):
        assert (out / png).read_bytes()[:8] == PNG_MAGIC
    # run again into the same folder: refused without --force, and the earlier forecast replaced whole with it
    capsys.readouterr()
    assert forecast_cli(run_dir, files["jdx"], files["mpt"], files["meta"], out, "--every", 1000) == 1
    assert "forecast: exists and holds an earlier forecast; pass --force to overwrite it" in capsys.readouterr().err
    assert forecast_cli(run_dir, files["jdx"], files["mpt"], files["meta"], out, "--every", 1000, "--force") == 0
    n_every = int(t_end // 1000) + 1
    assert read_wide(out / "forecast_mean.csv").shape == (601, 1 + n_every)
    assert not (out / "forecast_std.csv").exists()


def test_python_api_three_lines(run_dir, files, tmp_path):
    model = operando.ir.load_model(run_dir)
    result = model.forecast(files["csv"], files["voltage"], files["meta"], samples=4, seed=2, every_s=500)
    result.to_csv(tmp_path / "f")
    result.plot(tmp_path / "f")
    k = int(files["profile"][0][-1] // 500) + 1  # 0, 500, ... up to the end of the profile
    assert np.allclose(result.time_s, 500.0 * np.arange(k)) and result.mean.shape == (k, 601)
    assert np.allclose(result.wavenumber_cm1, GRID)
    for arr in (result.std, result.low, result.high):
        assert arr.shape == (k, 601)
    saved = read_wide(tmp_path / "f" / "forecast_mean.csv").to_numpy()[:, 1:].T
    assert np.allclose(saved, result.mean, rtol=1e-5, atol=1e-6)
    assert {p.name for p in (tmp_path / "f").iterdir()} >= {"forecast_heatmap.png", "forecast_stages.png", "steps.csv"}
    # deterministic for a seed, different for another
    again = model.forecast(files["csv"], files["voltage"], files["meta"], samples=4, seed=2, every_s=500)
    assert np.array_equal(again.mean, result.mean) and np.array_equal(again.high, result.high)
    other = model.forecast(files["csv"], files["voltage"], files["meta"], samples=4, seed=3, every_s=500)
    assert not np.allclose(other.mean, result.mean)
    # JCAMP and CSV of the same spectrum give the same forecast
    from_jdx = model.forecast(files["jdx"], files["voltage"], files["meta"], samples=4, seed=2, every_s=500)
    assert np.allclose(from_jdx.mean, result.mean, atol=1e-9)
    # without samples: the mean change of POINT_DRAWS draws, no spread
    point = model.forecast(files["csv"], files["voltage"], files["meta"], steps=3)
    assert point.std is None and point.low is None and point.mean.shape == (3, 601)
    assert point.info["draws_averaged"] == POINT_DRAWS and point.info["seed"] == 0 and point.info["anchored"]


def test_mid_ir_opus_fixture_serves_as_static_spectrum(run_dir, files, tmp_path):
    """A real soil MIR spectrum (499.7-3997.4 cm-1) is no electrolyte, but a valid input."""
    result = operando.ir.load_model(run_dir).forecast(FIXTURES / "BF_lo_01_soil_cal.1", files["voltage"],
                                                   files["meta"], steps=5)
    assert result.mean.shape == (5, 601) and np.isfinite(result.mean).all()
    assert result.info["spectrum"].endswith("BF_lo_01_soil_cal.1")


@pytest.mark.parametrize("name, span", [("MMP_2107_Test1.001", "3948"), ("issue82_Opus_test.0", "3600")])
def test_nir_opus_fixtures_are_refused(run_dir, files, tmp_path, capsys, name, span):
    out = tmp_path / "out"
    assert forecast_cli(run_dir, FIXTURES / name, files["voltage"], files["meta"], out) == 1
    err = capsys.readouterr().err
    assert name in err and f"spectrum covers {span}" in err
    assert "near-infrared (NIR) only" in err and "needs the mid-IR range 800-2000 cm-1" in err
    no_trace(out)


@pytest.mark.skipif(not (REAL_MPT / "cv.mpt").is_file(), reason="real EC-Lab files (../shared/data) absent")
def test_real_eclab_logs(run_dir, files, tmp_path, capsys):
    """yadg's test files (GPL, read in place): a 30 h CV thinned hourly; an OCV without current."""
    out = tmp_path / "cv"
    assert forecast_cli(run_dir, files["jdx"], REAL_MPT / "cv.mpt", files["meta"], out, "--every", 3600) == 0
    steps = pd.read_csv(out / "steps.csv")
    assert len(steps) == 30 and steps["Time [s]"].iloc[0] == pytest.approx(43202.04396882385)
    assert np.allclose(np.diff(steps["Time [s]"]), 3600.0)
    assert forecast_cli(run_dir, files["jdx"], REAL_MPT / "ocv.mpt", files["meta"], tmp_path / "ocv",
                        "--steps", 6) == 0
    assert "has no current column; the model was conditioned on zero current" in capsys.readouterr().out
    # 5103 rows, no thinning: refused with the way out
    assert forecast_cli(run_dir, files["jdx"], REAL_MPT / "cv.mpt", files["meta"], tmp_path / "raw") == 1
    err = capsys.readouterr().err
    assert "cv.mpt: has 5103 rows" in err and "--every SECONDS or --steps N" in err
    no_trace(tmp_path / "raw")


# ------------------------------------------------------------------------------ bad input

def _transmittance_jdx(folder: Path, files) -> Path:
    x = files["x"]
    return write_jcamp(folder / "static_T.jdx", x, 10.0 ** -files["y"], "AFFN", y_factor=1e-6,
                       y_units="TRANSMITTANCE")[0]


def _bad_inputs(tmp: Path, files, run_dir):
    """(name, spectrum, voltage, meta, run, expected fragments) of each malformed input."""
    narrow = tmp / "narrow.csv"
    narrow.write_text("Wavenumber [cm-1],Absorbance\n" + "".join(f"{w},{0.1 + 0.5 * (w == 1400)}\n"
                                                                   for w in range(900, 1901, 2)))
    empty = tmp / "empty.csv"
    empty.write_text("")
    columns = tmp / "columns.csv"
    columns.write_text("t,E\n0,3.0\n10,2.9\n")
    backwards = tmp / "backwards.csv"
    backwards.write_text("Time [s],Voltage [V]\n0,3.0\n20,2.9\n10,2.8\n30,2.7\n")
    meta = json.loads(files["meta"].read_text())
    meta["electrolyte"]["solvents"][0]["fraction"] = 0.9
    bad_meta = tmp / "bad_experiment.json"
    bad_meta.write_text(json.dumps(meta))
    incomplete = tmp / "incomplete_run"
    shutil.copytree(run_dir, incomplete)
    (incomplete / "encoder.safetensors").unlink()
    ok = (files["jdx"], files["voltage"], files["meta"], run_dir)
    return {
        "out of range": ((narrow,) + ok[1:], ["narrow.csv", "spectrum covers 900.0-1900.0 cm-1", "800-2000 cm-1"]),
        "transmittance": ((_transmittance_jdx(tmp, files),) + ok[1:],
                          ["static_T.jdx", "holds transmittance, not absorbance", "--convert-transmittance"]),
        "empty voltage": ((ok[0], empty) + ok[2:], ["empty.csv", "empty file"]),
        "voltage columns": ((ok[0], columns) + ok[2:],
                            ["columns.csv", "needs the columns 'Time [s]' and 'Voltage [V]'", "header is 't', 'E'"]),
        "time backwards": ((ok[0], backwards) + ok[2:],
                           ["backwards.csv", "line 4", "time goes backwards (20 s -> 10 s)"]),
        "composition": (ok[:2] + (bad_meta, run_dir), ["bad_experiment.json", "electrolyte.solvents",
                                                       "solvent fractions must sum to 1, they sum to 0.9"]),
        "run missing": (ok[:3] + (tmp / "no_such_run",), ["no_such_run", "no such run folder", "operando ir train"]),
        "run incomplete": (ok[:3] + (incomplete,), ["incomplete_run", "missing encoder.safetensors"]),
    }


def test_each_bad_input_is_one_clear_error_and_writes_nothing(run_dir, files, tmp_path, capsys):
    cases = _bad_inputs(tmp_path, files, run_dir)
    for name, ((spectrum, voltage, meta, run), fragments) in cases.items():
        out = tmp_path / f"out_{name.replace(' ', '_')}"
        assert forecast_cli(run, spectrum, voltage, meta, out) == 1, name
        err = capsys.readouterr().err
        assert err.startswith("operando ir forecast: error: ") and err.count("\n") == 1, (name, err)
        for fragment in fragments:
            assert fragment in err, (name, fragment, err)
        no_trace(out)


def test_transmittance_is_converted_on_request(run_dir, files, tmp_path):
    model = operando.ir.load_model(run_dir)
    t_file = _transmittance_jdx(tmp_path, files)
    with pytest.raises(InputError, match="--convert-transmittance"):
        model.forecast(t_file, files["voltage"], files["meta"], steps=3)
    converted = model.forecast(t_file, files["voltage"], files["meta"], steps=3, seed=4, convert_transmittance=True)
    direct = model.forecast(files["csv"], files["voltage"], files["meta"], steps=3, seed=4)
    assert converted.info["converted_from_transmittance"] == "transmittance"
    assert np.allclose(converted.static_absorbance, direct.static_absorbance, atol=1e-5)
    assert np.allclose(converted.mean, direct.mean, atol=1e-3)


def test_output_folder_with_other_files_is_left_alone(run_dir, files, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    assert forecast_cli(run_dir, files["jdx"], files["voltage"], files["meta"], out) == 1
    assert "exists and holds other files" in capsys.readouterr().err
    # --force replaces only an earlier forecast folder, never a folder of other files
    assert forecast_cli(run_dir, files["jdx"], files["voltage"], files["meta"], out, "--force") == 1
    assert "--force replaces only an earlier forecast folder" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["thesis.tex"]
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    assert forecast_cli(run_dir, files["jdx"], files["voltage"], files["meta"], a_file) == 1
    assert a_file.read_text() == "x"


def test_argument_errors(run_dir, files):
    model = operando.ir.load_model(run_dir)
    args = (files["csv"], files["voltage"], files["meta"])
    for kwargs, match in [({"samples": 1}, "samples.*integer >= 2"), ({"seed": -1}, "seed.*>= 0"),
                          ({"every_s": 0.0}, "every_s.*positive"), ({"steps": 1}, "steps.*>= 2"),
                          ({"every_s": 10.0, "steps": 5}, "not both"),
                          ({"every_s": 1e6}, r"--every 1e\+06 leaves 1 step")]:
        with pytest.raises(InputError, match=match):
            model.forecast(*args, **kwargs)


# ------------------------------------------------------------------------------ closed form

class EchoForecaster:
    """Stub: draw j of every step is s0 + c * (j - (n - 1) / 2); records its calls."""

    seed = 7

    class config:
        n_samples = 3

    def __init__(self, c: float = 0.01):
        self.c, self.calls = c, []

    def sample(self, context, steps, n_samples=None, seed=None):
        self.calls.append((context, np.asarray(steps), n_samples, seed))
        s0 = context.absorbance[0].astype(np.float64)
        j = np.arange(n_samples)[:, None, None] - (n_samples - 1) / 2
        return np.broadcast_to(s0, (n_samples, len(steps), s0.size)) + self.c * j


def test_absorbance_mapping_and_chunked_sampling_in_closed_form(files, tmp_path, monkeypatch):
    monkeypatch.setattr("operando.ir.forecast.DRAWS_PER_CALL", 16)
    stub = EchoForecaster()
    x = np.linspace(2100.0, 700.0, 1401)
    band = lambda c, w: np.exp(-0.5 * ((x - c) / w) ** 2)  # noqa: E731
    y = 0.3 + 2e-5 * (x - 700) + 0.8 * band(1770, 10) + 0.2 * band(1200, 30)
    static = tmp_path / "s.csv"
    static.write_text("Wavenumber [cm-1],Absorbance\n" + csv_rows(x, y))
    result = ForecastModel(stub).forecast(static, files["voltage"], files["meta"], samples=8, seed=11, steps=9,
                                          point_draws=8)
    on_grid = np.interp(GRID, x[::-1], y[::-1])
    assert np.allclose(result.static_absorbance, on_grid, atol=1e-12)
    # the forecast of "no change" is the static spectrum itself, in absorbance, at every step
    assert np.allclose(result.mean, on_grid, atol=1e-6)
    scale = result.info["static_scale_absorbance"]
    offset = result.info["static_offset_absorbance"]
    (line_offset,), (line_tilt,) = quantile_line(on_grid[None], 0.02)  # the baseline under the bands
    line = line_offset + line_tilt * window_coordinate(len(GRID))
    assert offset == pytest.approx(line_offset) and result.info["static_tilt_absorbance"] == pytest.approx(line_tilt)
    assert scale == pytest.approx(np.quantile(on_grid - line, 0.995))
    assert np.allclose(result.std[1:], 0.01 * np.std(np.arange(8), ddof=1) * scale, rtol=1e-5)
    assert np.allclose(result.high[1:] - result.mean[1:], 0.01 * (np.quantile(np.arange(8), 0.95) - 3.5) * scale,
                       rtol=1e-5)
    # step 0 was measured: no spread, a zero-width interval at the static spectrum
    assert np.all(result.std[0] == 0) and np.array_equal(result.low[0], on_grid) and np.array_equal(result.high[0], on_grid)
    # 8 draws x 2 steps per call: 5 calls over the 9 steps, the first with the seed itself
    assert [list(c[1]) for c in stub.calls] == [[0, 1], [2, 3], [4, 5], [6, 7], [8]]
    seeds = [c[3] for c in stub.calls]
    assert seeds[0] == 11 and len(set(seeds)) == 5
    context = stub.calls[0][0]
    assert np.isnan(context.absorbance[1:]).all() and context.absorbance.dtype == np.float32
    assert np.allclose(context.absorbance[0], np.clip((on_grid - line) / scale, -0.5, 1.5), atol=1e-6)
    t, v, i = files["profile"]
    assert np.allclose(context.time_s, np.linspace(0, t[-1], 9))
    assert np.allclose(context.voltage_v, np.interp(context.time_s, t, v))
    assert np.allclose(context.current_ma, np.interp(context.time_s, t, i))


def test_profile_thinning_in_closed_form():
    t = np.arange(0.0, 1000.5, 0.5)
    log = EchemLog(t, 3.0 - 1e-3 * t, np.full_like(t, -0.1), None, Path("log.csv"))
    times, volts, amps = profile_steps(log, every_s=100.0)
    assert np.allclose(times, 100.0 * np.arange(11)) and np.allclose(volts, 3.0 - 0.1 * np.arange(11))
    assert np.allclose(amps, -0.1)
    times, volts, _ = profile_steps(log, steps=5)
    assert np.allclose(times, [0, 250, 500, 750, 1000]) and np.allclose(volts, [3.0, 2.75, 2.5, 2.25, 2.0])
    times, _, _ = profile_steps(log, every_s=300.0)  # up to the end, not past it
    assert np.allclose(times, [0, 300, 600, 900])
    times, volts, amps = profile_steps(log)  # unthinned: every row
    assert np.array_equal(times, t) and np.array_equal(volts, log.voltage_v) and len(amps) == 2001
    many = EchemLog(np.arange(6000.0), np.full(6000, 3.0), None, None, Path("long.mpt"))
    with pytest.raises(InputError, match=r"long\.mpt: has 6000 rows.*--every SECONDS or --steps N"):
        profile_steps(many)
    twice = EchemLog(np.array([0.0, 1.0, 1.0, 2.0]), np.full(4, 3.0), None, None, Path("dup.csv"))
    with pytest.raises(InputError, match=r"dup\.csv: time does not increase between data rows 2 and 3"):
        profile_steps(twice)
    assert len(profile_steps(twice, steps=3)[0]) == 3


# ------------------------------------------------------------------------------ issue 8: done when

GMT1 = timezone(timedelta(hours=1))


def test_import_operando_series_then_forecast_from_its_first_spectrum(run_dir, cell, tmp_path, capsys):
    """OPUS series + EC-Lab log -> import-operando -> forecast from the first spectrum; and the
    forecast from the file equals `operando ir predict` on the imported dataset (same seed)."""
    start = datetime(2024, 1, 15, 10, 0, tzinfo=GMT1)
    spectra = tmp_path / "spectra"
    spectra.mkdir()
    x = np.linspace(2096.0, 704.0, 697)
    for k, (t, row) in enumerate(zip(cell.time_s, cell.absorbance)):
        y = np.interp(x, cell.wavenumber_cm1, row.astype(np.float64))
        write_opus(spectra / f"cell_{k:03d}.0", {"AB": (x, y)}, start + timedelta(seconds=float(t)))
    log_t = np.linspace(0.0, float(cell.time_s[-1]) + 60.0, 600)
    log = write_mpt(tmp_path / "cell.mpt", log_t, np.interp(log_t, cell.time_s, cell.voltage_v),
                    np.interp(log_t, cell.time_s, cell.current_ma), started="01/15/2024 10:00:00.000")
    meta = tmp_path / "experiment.json"
    meta.write_text(cell.meta.to_json())
    data = tmp_path / "data.h5"
    assert main(["ir", "import-operando", "--spectra", str(spectra), "--echem", str(log), "--meta", str(meta),
                 "-o", str(data), "--timezone", "Europe/Berlin"]) == 0
    assert "14 spectra matched" in capsys.readouterr().out

    out = tmp_path / "forecast"
    assert forecast_cli(run_dir, spectra / "cell_000.0", log, meta, out, "--steps", 10, "--samples", 4) == 0
    assert read_wide(out / "forecast_mean.csv").shape == (601, 11)

    # Same context both ways: the imported experiment's steps as a voltage CSV.
    from operando.ir.data.dataset import OperandoDataset

    e = OperandoDataset.load(data)[CELL]
    steps_csv = tmp_path / "steps.csv"
    steps_csv.write_text("Time [s],Voltage [V],Current [mA]\n" + csv_rows(e.time_s, e.voltage_v, e.current_ma))
    result = operando.ir.load_model(run_dir).forecast(spectra / "cell_000.0", steps_csv, meta, samples=4, seed=5)
    assert main(["ir", "predict", "--run", str(run_dir), "--data", str(data), "--experiment", CELL,
                 "--samples", "4", "--seed", "5", "-o", str(tmp_path / "pred")]) == 0
    predicted = read_wide(tmp_path / "pred" / "forecast_mean.csv").to_numpy()[:, 1:].T
    assert predicted.shape == result.mean.shape == (14, 601)
    assert np.allclose(predicted, result.mean, rtol=1e-5, atol=1e-6)


def test_forecast_uses_the_models_calibrated_interval(files, tmp_path):
    """A model with conformal factors gives mean +- q * std intervals, and says so in info."""
    from operando.ir.bench.uncertainty import ConformalScale

    class CalibratedEcho(EchoForecaster):
        class config:
            n_samples = 3
            conformal = ConformalScale((0.9,), (2.5,), 1000).to_dict()

        def interval_scale(self, system=None):
            return ConformalScale.from_dict(self.config.conformal), "split-conformal"

        def summarize(self, draws, level=0.9, system=None):
            return self.interval_scale(system)[0].summarize(draws, level)

    x = np.linspace(2100.0, 700.0, 1401)
    static = tmp_path / "s.csv"
    static.write_text("Wavenumber [cm-1],Absorbance\n" + csv_rows(x, 0.3 + 0.5 * np.exp(-0.5 * ((x - 1770) / 10) ** 2)))
    result = ForecastModel(CalibratedEcho()).forecast(static, files["voltage"], files["meta"], samples=8, steps=4)
    assert result.info["interval"] == "split-conformal"
    assert np.allclose(result.high[1:] - result.mean[1:], 2.5 * result.std[1:], rtol=1e-6)
    plain = ForecastModel(EchoForecaster()).forecast(static, files["voltage"], files["meta"], samples=8, steps=4)
    assert plain.info["interval"] == "draw quantiles"


def test_a_voltage_csv_with_other_column_names_shows_its_header_split_by_its_own_delimiter(tmp_path):
    from operando.ir.forecast import read_voltage_profile

    for delimiter in (",", ";", "\t"):
        log = tmp_path / "voltage.csv"
        log.write_text(delimiter.join(["t", "E"]) + "\n0" + delimiter + "1\n1" + delimiter + "2\n")
        with pytest.raises(InputError, match="its header is 't', 'E'"):
            read_voltage_profile(log)


def test_a_shipped_run_is_checked_then_loaded_and_the_default_says_how_to_rebuild(run_dir, files, tmp_path, monkeypatch,
                                                                                   capsys):
    """ship_run copies what forecasting reads and hashes it; loading a shipped model checks the
    hashes first (a changed weight file is refused, never replaced by random weights); with no
    shipped default, `operando ir forecast` without --run names the folder and the rebuild command."""
    from operando.ir.models import shipped

    root = tmp_path / "shipped"
    folder = shipped.ship_run(run_dir, "tiny", "operando ir train --config tiny.toml", root=root)
    assert shipped.shipped_names(root) == ["tiny"]
    assert {p.name for p in folder.iterdir()} == {*shipped.SHIPPED_FILES, "manifest.json"}
    assert not list(root.glob(".tiny.*"))
    model = operando.ir.load_model(shipped.shipped_run("tiny", root))
    ours = model.forecast(files["csv"], files["voltage"], files["meta"], steps=3)
    theirs = operando.ir.load_model(run_dir).forecast(files["csv"], files["voltage"], files["meta"], steps=3)
    np.testing.assert_array_equal(ours.mean, theirs.mean)
    weights = folder / "ema.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(InputError, match=r"ema\.safetensors: SHA-256 .* rebuild it with `operando ir train --config tiny\.toml`"):
        shipped.shipped_run("tiny", root)
    # the package's own default, pointed at an empty folder: one error, nothing written
    monkeypatch.setattr(shipped, "SHIPPED_DIR", tmp_path / "empty")
    (tmp_path / "empty").mkdir()
    out = tmp_path / "f"
    code = main(["ir", "forecast", "--spectrum", str(files["csv"]), "--voltage", str(files["voltage"]),
                 "--meta", str(files["meta"]), "-o", str(out)])
    assert code != 0
    assert "no shipped model 'abcc-default'" in capsys.readouterr().err
    no_trace(out)
