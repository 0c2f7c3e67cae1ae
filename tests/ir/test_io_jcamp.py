"""JCAMP-DX reader: every compressed form against AFFN, the integrity checks, times, point tables."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from io_writers import encode_line, write_jcamp

from operando.errors import InputError
from operando.ir.io import read_spectrum
from operando.ir.io.jcamp import read_jcamp, read_jcamp_blocks, tokenize_asdf

FORMS = ("AFFN", "PAC", "SQZ", "DIF", "DIFDUP")


def _spectrum(n=901):
    x = np.linspace(2400.0, 600.0, n)
    y = 0.05 + 0.9 * np.exp(-((x - 1750.0) / 12.0) ** 2) + 0.4 * np.exp(-((x - 1200.0) / 40.0) ** 2)
    y[n // 9:n // 9 + n // 20] = y[n // 9]  # a flat run: exercises DUP of zero differences
    y[n // 3:n // 3 + 30] = y[n // 3] + 1e-4 * np.arange(30)  # a linear run: DUP of a constant difference
    return x, y


def test_encodings_of_the_standard_example():
    # JCAMP-DX 4.24 examples: 1000 -> SQZ "A000", -5 -> "e"; DIF 1 -> "J", -12 -> "j2"; DUP 3 -> "U"
    assert encode_line([1000, 1001, 989], "DIF") == "A000Jj2"
    assert encode_line([5, 5, 5, 5], "DIFDUP") == "E%U"
    assert tokenize_asdf("100A000Jj2", "f", 1) == [("abs", 100.0), ("abs", 1000.0), ("dif", 1.0), ("dif", -12.0)]
    assert tokenize_asdf("1.5E+003 -2e-1", "f", 1) == [("abs", 1500.0), ("abs", -0.2)]


@pytest.mark.parametrize("form", FORMS)
def test_compressed_forms_round_trip_against_affn(tmp_path, form):
    x, y = _spectrum()
    ref_path, exact = write_jcamp(tmp_path / "affn.jdx", x, y, "AFFN")
    path, _ = write_jcamp(tmp_path / f"{form}.jdx", x, y, form, per_line=13)
    ref, s = read_jcamp(ref_path), read_jcamp(path)
    assert len(s) == len(x) == len(ref)
    assert np.array_equal(s.wavenumber_cm1, ref.wavenumber_cm1)
    assert np.allclose(s.values, ref.values, rtol=0, atol=1e-12)
    assert np.allclose(s.values, exact[::-1], rtol=0, atol=1e-12)  # ascending after the flip
    assert s.kind == "absorbance" and s.metadata["kind_declared"]


def test_difdup_is_actually_compressed(tmp_path):
    x, y = _spectrum()
    text = write_jcamp(tmp_path / "d.jdx", x, y, "DIFDUP", per_line=60)[0].read_text()
    assert any(c in text.split("##XYDATA")[1] for c in "TUVWXYZs")


def test_dif_y_check_failure_names_the_line(tmp_path):
    x, y = _spectrum(200)
    path, _ = write_jcamp(tmp_path / "dif.jdx", x, y, "DIF", per_line=10)
    lines = path.read_text().splitlines()
    data_start = next(i for i, ln in enumerate(lines) if ln.startswith("##XYDATA")) + 1
    bad = data_start + 3  # 4th data line: change its Y-check value (the SQZ value after X)
    x_text = lines[bad][: len(lines[bad]) - len(lines[bad].lstrip("0123456789.-"))]
    tail = lines[bad][len(x_text):]
    lines[bad] = x_text + ("A" if tail[0] != "A" else "B") + tail[1:]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=rf"dif\.jdx: line {bad + 1}: DIF Y-check failed"):
        read_jcamp(path)


def test_npoints_mismatch_is_refused(tmp_path):
    x, y = _spectrum(200)
    path, _ = write_jcamp(tmp_path / "n.jdx", x, y, "SQZ", per_line=10)
    text = path.read_text().replace("##NPOINTS= 200", "##NPOINTS= 190")
    path.write_text(text)
    with pytest.raises(InputError, match=r"n\.jdx: line \d+: (abscissa|more ordinates|##XYDATA holds)"):
        read_jcamp(path)
    # dropping the last data line: count check at the ##END line
    lines = [ln for ln in path.read_text().replace("##NPOINTS= 190", "##NPOINTS= 200").splitlines()]
    del lines[-2]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=rf"line {len(lines)}: ##XYDATA holds 190 ordinates but ##NPOINTS=200"):
        read_jcamp(path)


def test_lastx_mismatch_is_refused(tmp_path):
    x, y = _spectrum(200)
    path, _ = write_jcamp(tmp_path / "l.jdx", x, y, "PAC", per_line=10)
    path.write_text(path.read_text().replace(f"##LASTX= {float(x[-1])!r}", "##LASTX= 1000.0"))
    with pytest.raises(InputError, match=r"l\.jdx: line \d+: abscissa .* does not match point"):
        read_jcamp(path)


def test_longdate_with_zone_and_transmittance_units(tmp_path):
    x, y = _spectrum(300)
    path, _ = write_jcamp(tmp_path / "t.jdx", x, 0.9 - 0.5 * y, "AFFN", y_units="TRANSMITTANCE",
                          long_date="2024/05/01 10:15:30.25 +0200")
    s = read_spectrum(path)
    assert s.kind == "transmittance"
    assert s.acquired_at == datetime(2024, 5, 1, 10, 15, 30, 250000, timezone(timedelta(hours=2)))


def test_xypoints_table_and_undeclared_kind(tmp_path):
    f = tmp_path / "p.jdx"
    f.write_text("##TITLE=pts\n##JCAMP-DX=5.01\n##XUNITS=1/CM\n##YUNITS=ARBITRARY UNITS\n##NPOINTS=4\n"
                 "##XYPOINTS=(XY..XY)\n1000.0, 0.10; 1500.0, 0.30\n1200.0,0.2 1800.0,0.05\n##END=\n")
    s = read_jcamp(f)
    assert np.array_equal(s.wavenumber_cm1, [1000.0, 1200.0, 1500.0, 1800.0])
    assert np.array_equal(s.values, [0.1, 0.2, 0.3, 0.05])
    assert s.metadata["kind_declared"] is False


def test_linked_file_with_two_spectra(tmp_path):
    x, y = _spectrum(50)
    a, _ = write_jcamp(tmp_path / "a.jdx", x, y, "SQZ")
    b, _ = write_jcamp(tmp_path / "b.jdx", x, 2 * y, "DIFDUP")
    both = tmp_path / "both.jdx"
    both.write_text("##TITLE= link\n##DATA TYPE= LINK\n##BLOCKS= 2\n" + a.read_text() + b.read_text() + "##END=\n")
    spectra = read_jcamp_blocks(both)
    assert len(spectra) == 2 and np.allclose(spectra[1].values, 2 * spectra[0].values, atol=2e-5)
    with pytest.raises(InputError, match="holds 2 spectra"):
        read_jcamp(both)


@pytest.mark.parametrize("text, message", [
    ("##TITLE=x\n##XUNITS=HZ\n##NPOINTS=2\n##FIRSTX=1\n##LASTX=2\n##XYDATA=(X++(Y..Y))\n1 1 2\n##END=\n",
     "##XUNITS=HZ is not a wavenumber"),
    ("##TITLE=x\n##NPOINTS=2\n##FIRSTX=1\n##LASTX=2\n##XYDATA=(X++(Y..Y))\n1 1 2\n##END=\n",
     None),
    ("##TITLE=x\n##NPOINTS=3\n##LASTX=2\n##XYDATA=(X++(Y..Y))\n1 1 2 3\n##END=\n", "missing ##FIRSTX="),
    ("##TITLE=x\n##NPOINTS=3\n##FIRSTX=1\n##LASTX=3\n##XYDATA=(X++(Y..Y))\n1 1 2 <3\n##END=\n",
     "unexpected character '<'"),
    ("##TITLE=x\n##NPOINTS=3\n##FIRSTX=1\n##LASTX=3\n##XYDATA=(X++(Y..Y))\n1 1 s9\n##END=\n", "DUP count 99 runs past"),
    ("##TITLE=x\n##NTUPLES=NMR\n##END=\n", "NTUPLES"),
    ("no labels at all\n", "no ##XYDATA"),
])
def test_malformed_files_are_refused(tmp_path, text, message):
    f = tmp_path / "bad.jdx"
    f.write_text(text)
    if message is None:  # a valid 2-point file: it reads
        assert len(read_jcamp(f)) == 2
        return
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)").replace("+", r"\+")):
        read_jcamp(f)
