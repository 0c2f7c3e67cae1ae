"""Plain-text spectra: delimiters, decimal marks, headers, transmittance detection, IR window."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from operando.errors import InputError
from operando.ir.io import check_ir_window, read_spectrum, require_absorbance
from operando.ir.io.spectrum import looks_like_transmittance

FERMENTATION = Path(__file__).parent / "fixtures" / "text" / "fermentation_spectrum0.csv"


def _band_spectrum(n=400):
    x = np.linspace(700.0, 2100.0, n)
    return x, 0.02 + 0.8 * np.exp(-((x - 1750.0) / 10.0) ** 2) + 0.3 * np.exp(-((x - 1000.0) / 30.0) ** 2)


def test_real_fermentation_csv_reads_and_is_outside_the_ir_window():
    s = read_spectrum(FERMENTATION)
    assert len(s) == 1047 and s.range_cm1 == (428.0, 1833.0)
    assert s.kind == "absorbance" and s.metadata["kind_declared"] and np.all(np.isfinite(s.values))
    assert s.values[0] == pytest.approx(1.878788)
    with pytest.raises(InputError, match=r"fermentation_spectrum0\.csv: spectrum covers 428\.0-1833\.0 cm-1 "
                                         r"\(1047 points\); IR forecasting needs the mid-IR range 800-2000 cm-1"):
        check_ir_window(s)


@pytest.mark.parametrize("delimiter, decimal", [(",", "."), (";", "."), ("\t", "."), (" ", "."),
                                                (";", ","), ("\t", ","), ("  ", ",")])
def test_delimiters_and_decimal_marks(tmp_path, delimiter, decimal):
    x, y = _band_spectrum()
    rows = [f"{a:.4f}{delimiter}{b:.8f}" for a, b in zip(x[::-1], y[::-1])]
    if decimal == ",":
        rows = [r.replace(".", ",") for r in rows]
    f = tmp_path / "s.txt"
    f.write_text("\n".join(rows) + "\n")
    s = read_spectrum(f)
    assert np.allclose(s.wavenumber_cm1, x, atol=1e-4) and np.allclose(s.values, y, atol=1e-8)
    assert s.metadata["decimal_mark"] == decimal


def test_header_comment_time_and_percent_transmittance(tmp_path):
    x, y = _band_spectrum()
    t = 100 * 10 ** -y
    f = tmp_path / "t.csv"
    f.write_text("# acquired_at: 2024-05-01T10:15:00\nWavenumber (cm-1);%T\n"
                 + "".join(f"{a:.3f};{b:.5f}\n" for a, b in zip(x, t)))
    s = read_spectrum(f, timezone="Europe/Paris")
    assert s.kind == "transmittance" and s.metadata["transmittance_percent"]
    assert s.acquired_at.astimezone(timezone.utc) == datetime(2024, 5, 1, 8, 15, tzinfo=timezone.utc)
    with pytest.raises(InputError, match=r"holds transmittance, not absorbance .* rerun with --convert-transmittance"):
        require_absorbance(s)
    a = require_absorbance(s, convert_transmittance=True)
    assert np.allclose(a.values, y, atol=1e-4) and a.kind == "absorbance"


def test_headerless_transmittance_is_detected_from_its_shape(tmp_path):
    x, y = _band_spectrum()
    f = tmp_path / "t.txt"
    f.write_text("".join(f"{a} {b}\n" for a, b in zip(x, 10 ** -y)))
    s = read_spectrum(f)
    assert s.kind == "transmittance" and s.metadata["kind_declared"] is False
    with pytest.raises(InputError, match=r"values lie in 0-1 .* bands pointing down"):
        require_absorbance(s)
    assert looks_like_transmittance(y) == (False, "values look like absorbance")


def test_wavelength_header_is_converted(tmp_path):
    f = tmp_path / "nm.csv"
    f.write_text("Wavelength [nm],Absorbance\n5000,0.1\n6000,0.2\n10000,0.3\n")
    s = read_spectrum(f)
    assert np.allclose(s.wavenumber_cm1, [1000.0, 1e7 / 6000, 2000.0]) and np.allclose(s.values, [0.3, 0.2, 0.1])


@pytest.mark.parametrize("text, message", [
    ("1000,0,5\n1001,0,6\n", "has 3 columns; expected 2 .* decimal comma with ',' as delimiter is ambiguous"),
    ("1000;0.5\n1001;abc\n", "line 2: row is not 'wavenumber<delimiter>value' numbers"),
    ("1000;0.5\n1000;0.6\n", "not strictly monotonic"),
    ("1000;0.5\n1001;nan\n", "1 non-finite values"),
    ("# only a comment\n", "no data rows"),
    ("1000;0.5;0.7\n1001;0.6;0.8\n", "has 3 columns"),
])
def test_malformed_text_is_refused(tmp_path, text, message):
    f = tmp_path / "bad.csv"
    f.write_text(text)
    with pytest.raises(InputError, match=message):
        read_spectrum(f)


def test_binary_is_not_text(tmp_path):
    f = tmp_path / "b.csv"
    f.write_bytes(b"1000,0.5\n\x00\x01\x02")
    with pytest.raises(InputError, match="binary content"):
        read_spectrum(f)


@pytest.mark.parametrize("header, rows, message", [
    # the new user's file: a ';' header above comma-separated rows ended in IndexError
    ("Wavenumber;Absorbance", "1000,0.1\n1001,0.2\n1002,0.3\n",
     r"bad\.csv: line 1: the header separates its names with ';' but the rows are separated by ',': "
     r"use one delimiter throughout"),
    ("Wavenumber,Absorbance", "1000;0.1\n1001;0.2\n1002;0.3\n",
     r"line 1: the header separates its names with ',' but the rows are separated by ';'"),
    ("Wavenumber\tAbsorbance", "1000;0,1\n1001;0,2\n1002;0,3\n",
     r"line 1: the header separates its names with tab but the rows are separated by ';'"),
    ("Spectrum of cell 3", "1000,0.1\n1001,0.2\n1002,0.3\n",
     r"line 1: the header has 1 name\(s\) but the rows have 2 columns separated by ','"),
])
def test_header_that_does_not_match_the_rows_is_refused(tmp_path, header, rows, message):
    f = tmp_path / "bad.csv"
    f.write_text(f"{header}\n{rows}")
    with pytest.raises(InputError, match=message):
        read_spectrum(f)


@pytest.mark.parametrize("header, delimiter", [("Wavenumber [cm-1],Absorbance,", ","),
                                               ("Wavenumber (cm-1)  Absorbance", " "),
                                               ("cm-1 A", " ")])
def test_headers_that_match_the_rows_still_read(tmp_path, header, delimiter):
    x, y = _band_spectrum(50)
    f = tmp_path / "ok.csv"
    trail = "," if header.endswith(",") else ""
    f.write_text(header + "\n" + "".join(f"{a:.4f}{delimiter}{b:.6f}{trail}\n" for a, b in zip(x, y)))
    s = read_spectrum(f)
    assert np.allclose(s.wavenumber_cm1, x, atol=1e-4) and s.kind == "absorbance" and s.metadata["kind_declared"]


@pytest.mark.parametrize("header", ["Wavelength [um]", "Wavelength [µm]", "Wavelength [μm]", "Wavelength (UM)",
                                    "wavelength/um", "lambda_um", "Wavelength [micrometers]"])
def test_micrometre_headers_are_converted(tmp_path, header):
    # 'μ' (Greek mu, as typed on most keyboards) was not recognised: 4.8-14.3 um read as 4.8-14.3 cm-1
    f = tmp_path / "um.csv"
    f.write_text(f"{header},Absorbance\n4.8,0.1\n5.0,0.2\n14.3,0.3\n", encoding="utf-8")
    s = read_spectrum(f)
    assert np.allclose(s.wavenumber_cm1, [1e4 / 14.3, 2000.0, 1e4 / 4.8]) and s.metadata["x_unit"] == "um"


@pytest.mark.parametrize("header", ["Wavenumber [cm-1]", "Wavenumber (cm^-1)", "wavenumber/cm-1", "1/cm",
                                    "Wavenumbers [cm⁻¹]", "Raman shift (cm-1)", "x", "Wavenumber"])
def test_wavenumber_headers_are_taken_as_cm1(tmp_path, header):
    f = tmp_path / "wn.csv"
    f.write_text(f"{header};Absorbance\n1000;0.1\n1500;0.2\n2000;0.3\n", encoding="utf-8")
    s = read_spectrum(f)
    assert np.allclose(s.wavenumber_cm1, [1000.0, 1500.0, 2000.0]) and s.metadata["x_unit"] == "cm-1"


@pytest.mark.parametrize("header, message", [
    ("Wavelength", r"line 1: the first column 'wavelength' is a wavelength without a unit: name the unit"),
    ("Energy [eV]", r"line 1: the first column 'energy \[ev\]' is in 'ev', which is neither a wavenumber \(cm-1\) "
                    r"nor a wavelength \(um, nm\)"),
    ("Frequency (THz)", r"line 1: the first column 'frequency \(thz\)' is in 'thz', which is neither"),
    ("Wavelength [um]", r"line 1: wavelengths in um must be > 0"),
])
def test_unknown_or_missing_units_are_refused(tmp_path, header, message):
    f = tmp_path / "u.csv"
    first = -1.0 if "um" in header else 4.8
    f.write_text(f"{header},Absorbance\n{first},0.1\n5.0,0.2\n14.3,0.3\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"u\.csv: " + message):
        read_spectrum(f)
