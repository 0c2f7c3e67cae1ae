"""EC-Lab logs: every real .mpt of shared/data/eclab-yadg read or refused, .mpr vs .mpt, damaged logs.

The real files are GPL-3.0 test data of yadg and are not copied into the repository: they are
read from ``../shared/data`` beside the checkout and the tests skip when it is absent.
"""
from __future__ import annotations

import importlib.util
from datetime import datetime, timezone

import numpy as np
import pytest
from io_writers import write_mpt

from operando.echem import read_echem
from operando.echem.eclab import read_mpr, read_mpt
from operando.errors import InputError
from operando.files import shared_data

ECLAB = shared_data("eclab-yadg")
needs_shared = pytest.mark.skipif(not ECLAB.is_dir(), reason="shared/data/eclab-yadg not beside the checkout")
needs_galvani = pytest.mark.skipif(importlib.util.find_spec("galvani") is None,
                                   reason="optional extra operando[eclab] (galvani) not installed")
UTC = timezone.utc

# stem: (rows, start (naive, read as UTC), first time_s, last time_s, voltage column, has current)
READABLE = {
    "cp": (121, datetime(2021, 3, 2, 16, 17, 59), 328.3641917048226, 447.3645886986196, "<Ewe>/V", True),
    "cv": (5103, datetime(2018, 1, 10, 17, 1, 24), 43202.04396882385, 149651.3870154098, "Ewe/V", True),
    "gcpl.issue_149": (132, datetime(2024, 1, 10, 11, 2, 29, 886000), 30.15299923827115, 659.9857963771647,
                       "Ewe/V", True),
    "lsv": (1186, datetime(2021, 3, 2, 15, 46, 3), 0.04799999878741801, 197.2071950181271, "Ewe/V", True),
    "mb.issue_95": (33, datetime(2022, 12, 8, 14, 36, 53, 355000), 0.0, 30.00019924211665, "Ewe/V", True),
    "ocv.issue_149": (43, datetime(2024, 1, 10, 11, 2, 29, 886000), 0.9999999747378752, 609.8325976441411,
                      "<Ewe/V>", False),
    "ocv": (602, datetime(2020, 1, 16, 14, 13, 34), 0.0, 35999.99995540908, "Ewe/V", False),
}
IMPEDANCE = ("geis", "peis.issue_149")


@needs_shared
@pytest.mark.parametrize("stem", sorted(READABLE))
def test_real_mpt_files_read(stem):
    rows, start, t0, t1, voltage_column, has_current = READABLE[stem]
    log = read_echem(ECLAB / f"{stem}.mpt")
    assert len(log) == rows
    assert log.started_at == start.replace(tzinfo=UTC)
    assert log.span_s == pytest.approx((t0, t1), abs=1e-9)
    assert log.metadata["voltage_column"] == voltage_column
    assert (log.current_ma is not None) == has_current
    assert np.all(np.isfinite(log.voltage_v)) and np.all(np.diff(log.time_s) >= 0)
    assert -6.0 < log.voltage_v.min() <= log.voltage_v.max() < 6.0
    assert set(log.columns()) >= {"Time [s]", "Voltage [V]"}


@needs_shared
def test_decimal_comma_file_values():
    log = read_mpt(ECLAB / "gcpl.issue_149.mpt")
    assert log.voltage_v[0] == pytest.approx(3.4228721)  # written "3,4228721E+000"
    assert log.technique == "Galvanostatic Cycling with Potential Limitation"


@needs_shared
@pytest.mark.parametrize("stem", IMPEDANCE)
def test_impedance_files_are_refused(stem):
    with pytest.raises(InputError, match=r"is an impedance record .* frequency points, not a voltage-time profile"):
        read_echem(ECLAB / f"{stem}.mpt")


@needs_shared
def test_decimal_comma_copy_of_a_decimal_point_file(tmp_path):
    original = (ECLAB / "cp.mpt").read_bytes().decode("latin-1").splitlines(keepends=True)
    header = int(original[1].split(":")[1])
    copy = original[:header] + [line.replace(".", ",") for line in original[header:]]
    f = tmp_path / "cp_comma.mpt"
    f.write_bytes("".join(copy).encode("latin-1"))
    a, b = read_mpt(ECLAB / "cp.mpt"), read_mpt(f)
    assert np.array_equal(a.time_s, b.time_s) and np.array_equal(a.voltage_v, b.voltage_v)
    assert np.array_equal(a.current_ma, b.current_ma)


@needs_shared
@needs_galvani
@pytest.mark.parametrize("stem", sorted(READABLE))
def test_mpr_agrees_with_mpt(stem):
    text, binary = read_mpt(ECLAB / f"{stem}.mpt"), read_mpr(ECLAB / f"{stem}.mpr")
    assert len(text) == len(binary) and text.started_at == binary.started_at
    assert np.allclose(binary.time_s, text.time_s, rtol=0, atol=1e-6)
    assert np.allclose(binary.voltage_v, text.voltage_v, rtol=0, atol=1e-6)  # .mpt prints 8 digits
    # the current too: gcpl.issue_149.mpr stores none (galvani gives 'dq/mA.h'), its .mpt has '<I>/mA'
    assert (binary.current_ma is None) == (text.current_ma is None) == (not READABLE[stem][5])
    if text.current_ma is not None:
        assert np.allclose(binary.current_ma, text.current_ma, rtol=1e-6, atol=1e-9)
    assert binary.metadata.get("current_missing", False) == (not READABLE[stem][5])


def test_mpr_without_galvani_names_the_extra(tmp_path, monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_galvani(name, *args, **kwargs):
        if name.startswith("galvani"):
            raise ImportError("no galvani")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_galvani)
    f = tmp_path / "x.mpr"
    f.write_bytes(b"BIO-LOGIC MODULAR FILE\x1a" + b"\0" * 100)
    with pytest.raises(InputError, match=r"reading \.mpr needs the optional extra: pip install 'operando\[eclab\]'"):
        read_echem(f)


def test_synthetic_mpt_round_trip_and_timezone(tmp_path):
    t = np.linspace(0, 3600, 50)
    v = 3.0 - t / 3600
    f = write_mpt(tmp_path / "log.mpt", t, v, np.full(50, -0.5), decimal=",")
    log = read_echem(f, timezone="America/New_York")
    assert np.allclose(log.time_s, t) and np.allclose(log.voltage_v, v) and np.allclose(log.current_ma, -0.5)
    assert log.started_at.astimezone(UTC) == datetime(2019, 3, 27, 18, 45, 12, 345000, tzinfo=UTC)  # EDT, UTC-4


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.replace("Ewe/V", "Ece/V"), r"no voltage \('Ewe/V' or '<Ewe>/V'\) column; columns are"),
    (lambda s: s.replace("time/s", "t/min"), r"no time \('time/s'\) column"),
    (lambda s: s.replace("Nb header lines : 10", "Nb header lines : 999"), r"'Nb header lines : 999' but the file has"),
    (lambda s: s.replace("03/27/2019", "27th March"), r"start time '27th March .*' is not 'MM/DD/YYYY"),
    (lambda s: s.replace("\t1.000000000000000E+002", "\t1,000000000000000E+002"),
     r"uses the decimal mark ',' but the file uses '\.'"),
    (lambda s: s.replace("\t1.000000000000000E+002", "\t1'000000000000000E+002"), r"expected a number"),
    (lambda s: s.replace("1.000000000000000E+002", "5.000000000000000E+003"), r"time goes backwards"),
    (lambda s: s.replace("EC-Lab ASCII FILE", "Some other file"), r"not an EC-Lab \.mpt text export"),
])
def test_damaged_mpt_is_refused(tmp_path, edit, message):
    t = np.arange(0.0, 1000.0, 100.0)
    f = write_mpt(tmp_path / "log.mpt", t, np.full(10, 3.5))
    f.write_text(edit(f.read_text(encoding="latin-1")), encoding="latin-1")
    with pytest.raises(InputError, match=message):
        read_mpt(f)


def test_csv_log_missing_column_is_named_the_csv_way(tmp_path):
    good = tmp_path / "profile.csv"
    good.write_text("Time [s],Voltage [V],Current [mA]\n0,3.0,-0.1\n10,2.9,-0.1\n")
    log = read_echem(good)
    np.testing.assert_array_equal(log.voltage_v, [3.0, 2.9])
    bad = tmp_path / "bad.csv"
    bad.write_text("Time [s],Potential [V]\n0,3.0\n10,2.9\n")
    with pytest.raises(InputError, match=r"no voltage \('Voltage \[V\]'\) column; columns are 'Time \[s\]', "
                                         r"'Potential \[V\]'") as err:
        read_echem(bad)
    assert "bad.csv" in str(err.value) and "Ewe" not in str(err.value)


@pytest.mark.parametrize("text, delimiter", [
    ("Time [s];Voltage [V];Current [mA]\n0;3,0;-0,1\n10;2,9;-0,1\n", "';'"),  # refused before: ';' not split
    ("Time [s];Voltage [V];Current [mA]\n0;3.0;-0.1\n10;2.9;-0.1\n", "';'"),
    ("Time [s]\tVoltage [V]\tCurrent [mA]\n0\t3.0\t-0.1\n10\t2.9\t-0.1\n", "tab"),
    ("# started_at: 2024-05-01T10:00:00+02:00\nTime [s],Voltage [V],Current [mA]\n0,3.0,-0.1\n10,2.9,-0.1\n", "','"),
])
def test_csv_log_delimiters_as_for_spectra(tmp_path, text, delimiter):
    f = tmp_path / "profile.csv"
    f.write_text(text)
    log = read_echem(f)
    np.testing.assert_array_equal(log.time_s, [0.0, 10.0])
    np.testing.assert_array_equal(log.voltage_v, [3.0, 2.9])
    np.testing.assert_array_equal(log.current_ma, [-0.1, -0.1])
    assert log.metadata["delimiter"] == delimiter


@pytest.mark.parametrize("text, message", [
    ("Time [s];Voltage [V]\n0,3.0\n10,2.9\n",
     r"line 2: the header separates its columns with ';' but this row with ',': use one delimiter throughout"),
    ("Time [s] Voltage [V]\n0 3.0\n10 2.9\n",
     r"line 1: the header 'Time \[s\] Voltage \[V\]' is one column: separate 'Time \[s\]' and 'Voltage \[V\]' "
     r"\(and 'Current \[mA\]'\) by ',', ';' or tab"),
    ("Time [s];Voltage [V]\n0;3.0\n10\n",
     r"line 3: row has 1 fields \(split at ';', the header's delimiter\), column 'Voltage \[V\]' is number 2"),
    ("Time [s];Voltage [V]\n0;3.0\n10;abc\n", r"line 3: field 'Voltage \[V\]': expected a number"),
])
def test_csv_log_delimiter_problems_are_named(tmp_path, text, message):
    f = tmp_path / "bad.csv"
    f.write_text(text)
    with pytest.raises(InputError, match=r"bad\.csv: " + message) as err:
        read_echem(f)
    assert "Ewe" not in str(err.value)


def test_csv_log_without_start_time_gets_the_started_at_hint(tmp_path):
    from operando.echem.clock import times_on_log_clock

    f = tmp_path / "profile.csv"
    f.write_text("Time [s],Voltage [V]\n0,3.0\n10,2.9\n")
    when = [datetime(2024, 5, 1, 8, 0, 5, tzinfo=timezone.utc)]
    with pytest.raises(InputError, match=r"profile\.csv: the CSV log has no start time, so measurements cannot be "
                                         r"placed on its clock: add a comment line such as "
                                         r"'# started_at: 2024-05-01T10:00:00\+02:00' above the header") as err:
        times_on_log_clock(when, read_echem(f))
    assert "Acquisition started on" not in str(err.value)
    f.write_text("# started_at: 2024-05-01T10:00:00+02:00\nTime [s],Voltage [V]\n0,3.0\n10,2.9\n")
    assert times_on_log_clock(when, read_echem(f)).tolist() == [5.0]
