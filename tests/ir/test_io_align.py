"""Aligning spectra with the potentiostat log, and ``operando ir import-operando`` end to end."""
from __future__ import annotations

import importlib.util
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from io_writers import write_jcamp, write_mpt, write_opus
from toy import toy_meta

from operando.cli.main import main
from operando.echem import read_echem
from operando.errors import InputError
from operando.ir.data.dataset import OperandoDataset
from operando.ir.io.align import build_experiment, common_grid, load_spectra

GMT1 = timezone(timedelta(hours=1))
START_LOCAL = "01/15/2024 10:00:00.000"  # potentiostat clock, Europe/Berlin (winter: GMT+1) -> 09:00 UTC
CLOCK_LAG_S = 90.0  # the spectrometer clock runs 90 s behind the potentiostat's


def _band(x, centre, width, height):
    return height * np.exp(-((x - centre) / width) ** 2)


def _series(folder: Path, n=6, jcamp_every=3) -> list[float]:
    """n spectra every 600 s from 10:05 (spectrometer clock, GMT+1); every 3rd as JCAMP on another grid.

    Returns the true seconds since the log start of each spectrum.
    """
    folder.mkdir()
    true_t = []
    for k in range(n):
        shown = datetime(2024, 1, 15, 10, 5, 0, tzinfo=GMT1) + timedelta(seconds=600 * k)
        true_t.append((shown - datetime(2024, 1, 15, 10, 0, tzinfo=GMT1)).total_seconds() + CLOCK_LAG_S)
        if k % jcamp_every == jcamp_every - 1:
            x = np.linspace(2200.0, 700.0, 1201)  # coarser, wider grid: resampled onto the OPUS one
            y = 0.05 + _band(x, 1750, 12, 1.0 - 0.1 * k) + _band(x, 1080, 25, 0.1 * k)
            write_jcamp(folder / f"spec_{k:02d}.jdx", x, y, "DIFDUP",
                        long_date=shown.strftime("%Y/%m/%d %H:%M:%S +0100"))
        else:
            x = np.linspace(4000.0, 600.0, 3527)
            y = 0.05 + _band(x, 1750, 12, 1.0 - 0.1 * k) + _band(x, 1080, 25, 0.1 * k)
            write_opus(folder / f"spec_{k:02d}.0", {"AB": (x, y)}, shown)
    return true_t


def _log(path: Path, duration_s=5000.0) -> Path:
    t = np.linspace(0.0, duration_s, 501)
    return write_mpt(path, t, 3.0 - 0.0005 * t, -0.2 + 0.0 * t, started=START_LOCAL, decimal=",")


def _meta(path: Path) -> Path:
    path.write_text(toy_meta("cell-A").to_json())
    return path


def test_import_operando_end_to_end(tmp_path, capsys):
    true_t = _series(tmp_path / "spectra")
    out = tmp_path / "data.h5"
    args = ["ir", "import-operando", "--spectra", str(tmp_path / "spectra"), "--echem", str(_log(tmp_path / "log.mpt")),
            "--meta", str(_meta(tmp_path / "experiment.json")), "-o", str(out),
            "--timezone", "Europe/Berlin", "--time-offset", str(CLOCK_LAG_S)]
    assert main(args) == 0
    report = capsys.readouterr().out
    assert "6 spectra matched at t = 390.0 .. 3390.0 s" in report and "(resampled)" in report
    e = OperandoDataset.load(out)["cell-A"]
    assert np.allclose(e.time_s, true_t)
    assert np.allclose(e.voltage_v, 3.0 - 0.0005 * np.asarray(true_t)) and np.allclose(e.current_ma, -0.2)
    assert e.wavenumber_cm1[0] >= 700.0 and e.wavenumber_cm1[-1] <= 2200.0 and np.all(np.diff(e.wavenumber_cm1) > 0)
    assert len(e.wavenumber_cm1) == np.count_nonzero((np.linspace(600, 4000, 3527) >= 700)
                                                     & (np.linspace(600, 4000, 3527) <= 2200))
    peak = e.absorbance[:, np.argmin(np.abs(e.wavenumber_cm1 - 1750))]
    assert np.allclose(peak, 1.05 - 0.1 * np.arange(6), atol=0.01)  # order by time, JCAMP ones included
    # the same command again does not silently replace data.h5: refused, then replaced with --force
    before = out.read_bytes()
    assert main(args) == 1
    assert "data.h5: dataset already exists; pass --force to overwrite it" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert main(args + ["--force"]) == 0


def test_spectra_outside_the_log_are_named(tmp_path, capsys):
    _series(tmp_path / "spectra")
    args = ["ir", "import-operando", "--spectra", str(tmp_path / "spectra"),
            "--echem", str(_log(tmp_path / "log.mpt", duration_s=2000.0)),
            "--meta", str(_meta(tmp_path / "experiment.json")), "-o", str(tmp_path / "data.h5"),
            "--timezone", "Europe/Berlin", "--time-offset", "90"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert ("3 of 6 spectra fall outside the electrochemistry log (0.0 .. 2000.0 s, "
            "i.e. 2024-01-15T10:00:00+01:00") in err
    assert "spec_03.0 (t = 2190.0 s)" in err and "spec_05.jdx" in err
    assert not (tmp_path / "data.h5").exists()  # nothing half-written


def test_wrong_timezone_shifts_everything_out(tmp_path):
    _series(tmp_path / "spectra")
    log = read_echem(_log(tmp_path / "log.mpt"), timezone="UTC")  # wrong: the potentiostat was on Berlin time
    spectra = load_spectra(tmp_path / "spectra")
    with pytest.raises(InputError, match=r"6 of 6 spectra fall outside .* check --time-offset and --timezone"):
        build_experiment(spectra, log, toy_meta("x"))


def test_common_grid_identical_axes_are_kept(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    x = np.linspace(2100.0, 700.0, 800)
    for k in range(3):
        write_opus(folder / f"a{k}.0", {"AB": (x, 0.1 + _band(x, 1500, 20, 1.0))},
                   datetime(2024, 1, 1, 0, k, tzinfo=timezone.utc))
    grid, resampled = common_grid(load_spectra(folder))
    assert not resampled and np.allclose(grid, x[::-1])


def test_untimed_nir_and_transmittance_spectra_are_refused(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "plain.csv").write_text("Wavenumber,Absorbance\n800,0.1\n2000,0.2\n")
    with pytest.raises(InputError, match=r"1 spectra have no acquisition time \(plain\.csv\)"):
        load_spectra(folder)
    log = read_echem(_log(tmp_path / "log.mpt"), timezone="Europe/Berlin")
    when = datetime(2024, 1, 15, 10, 10, tzinfo=GMT1)
    nir = write_opus(tmp_path / "nir.0", {"AB": (np.linspace(12000.0, 4000.0, 500), np.full(500, 0.3))}, when)
    from operando.ir.io import read_spectrum
    with pytest.raises(InputError, match=r"nir\.0: spectrum covers 4000\.0-12000\.0 cm-1 \(near-infrared") as err:
        build_experiment([read_spectrum(nir)], log, toy_meta("x"))
    # an import is not a forecast: the message says what the range is needed for here
    assert "an operando IR dataset needs the mid-IR range 800-2000 cm-1" in str(err.value)
    assert "forecasting" not in str(err.value)
    x = np.linspace(2100.0, 700.0, 400)
    t = write_opus(tmp_path / "t.0", {"TR": (x, 10 ** -(0.05 + _band(x, 1750, 12, 0.8)))}, when)
    with pytest.raises(InputError, match=r"t\.0: holds transmittance, not absorbance"):
        build_experiment([read_spectrum(t)], log, toy_meta("x"))
    e, report = build_experiment([read_spectrum(t)], log, toy_meta("x"), convert_transmittance=True)
    assert report.converted_from_transmittance == ["t.0"]
    assert np.allclose(e.absorbance[0], 0.05 + _band(e.wavenumber_cm1, 1750, 12, 0.8), atol=1e-5)


@pytest.mark.skipif(importlib.util.find_spec("pybaselines") is None, reason="pybaselines not installed")
def test_asls_baseline_removes_a_slope(tmp_path):
    x = np.linspace(2100.0, 700.0, 1400)
    when = datetime(2024, 1, 15, 10, 10, tzinfo=GMT1)
    f = write_opus(tmp_path / "b.0", {"AB": (x, 0.2 + 2e-4 * (x - 700) + _band(x, 1500, 10, 0.5))}, when)
    from operando.ir.io import read_spectrum
    log = read_echem(_log(tmp_path / "log.mpt"), timezone="Europe/Berlin")
    e, _ = build_experiment([read_spectrum(f)], log, toy_meta("x"), baseline="asls")
    far = np.abs(e.wavenumber_cm1 - 1500) > 100
    assert np.max(np.abs(e.absorbance[0, far])) < 0.02
    assert e.absorbance[0, np.argmin(np.abs(e.wavenumber_cm1 - 1500))] == pytest.approx(0.5, abs=0.05)


def test_meta_errors_surface_through_the_cli(tmp_path, capsys):
    _series(tmp_path / "spectra", n=2)
    bad = tmp_path / "experiment.json"
    bad.write_text(json.dumps({"name": "x"}))
    code = main(["ir", "import-operando", "--spectra", str(tmp_path / "spectra"), "--echem",
                 str(_log(tmp_path / "log.mpt")), "--meta", str(bad), "-o", str(tmp_path / "o.h5")])
    assert code == 1 and "missing required field" in capsys.readouterr().err


def test_import_says_when_the_log_has_no_current(tmp_path, capsys):
    # A log without current used to import silently; only `forecast` later mentioned zero current.
    _series(tmp_path / "spectra", n=3)
    t = np.linspace(0.0, 5000.0, 501)
    log = write_mpt(tmp_path / "ocv.mpt", t, 3.0 - 0.0005 * t, None, started=START_LOCAL, decimal=",")
    args = ["ir", "import-operando", "--spectra", str(tmp_path / "spectra"), "--echem", str(log),
            "--meta", str(_meta(tmp_path / "experiment.json")), "-o", str(tmp_path / "data.h5"),
            "--timezone", "Europe/Berlin", "--time-offset", str(CLOCK_LAG_S)]
    assert main(args) == 0
    assert ("warning: ocv.mpt has no current column (nor a charge column to form one from): the experiment is "
            "stored without current, and a model will see it as zero current") in capsys.readouterr().out
    assert OperandoDataset.load(tmp_path / "data.h5")["cell-A"].current_ma is None
