"""Readers, normalisation, resampling and alignment of operando.xas (steps of issue 36, item 1)."""
from pathlib import Path

import numpy as np
import pytest

from operando.errors import InputError
from operando.xas.align import fit_energy_shift
from operando.xas.normalize import edge_ranges, find_edge, normalize
from operando.xas.read import read_athena, read_spectrum, read_text
from operando.xas.resample import relative_grid, resample

FIX = Path(__file__).with_name("fixtures")


def _step(e, e0=8990.0, width=1.5, a=0.3, b=2e-4, step=2.0):
    """Linear pre-edge + arctan edge of height ``step``: norm -> 1 well above the edge."""
    return a + b * (e - e0) + step * (0.5 + np.arctan((e - e0) / width) / np.pi)


# ---- readers -------------------------------------------------------------------------
def test_text_reader_roundtrip(tmp_path):
    e = np.linspace(8950, 9100, 300)
    p = tmp_path / "s.txt"
    p.write_text("# energy mu\n" + "\n".join(f"{x:.4f}, {y:.6f}" for x, y in zip(e, _step(e))))
    s = read_text(p)
    np.testing.assert_allclose(s.energy, e, atol=1e-4)
    np.testing.assert_allclose(s.mu, _step(e), atol=1e-6)


@pytest.mark.parametrize("body, problem", [
    ("1 2\n2 3\n", "too short"),
    ("\n".join(f"{8900 + i} {'nan' if i == 7 else 1.0}" for i in range(40)), "NaN"),
    ("\n".join(f"{8900 + (i if i != 10 else 3)} 1.0" for i in range(40)), "not strictly increasing"),
    ("\n".join(f"{8900 + i} 1.0" for i in range(30)) + "\n8931 abc\n", "not a number"),
    ("\n".join(f"{8900 + i}" for i in range(30)), "two numeric columns"),
])
def test_text_reader_bad_inputs(tmp_path, body, problem):
    p = tmp_path / "bad.dat"
    p.write_text(body)
    with pytest.raises(InputError) as info:
        read_spectrum(p)
    assert str(p) in str(info.value) and problem in str(info.value)


def test_missing_file_and_binary_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_spectrum(tmp_path / "none.xdi")
    p = tmp_path / "junk.xdi"
    p.write_bytes(b"\x00\x01\x02garbage")
    with pytest.raises(InputError, match="junk.xdi"):
        read_spectrum(p)
    q = tmp_path / "junk.prj"
    q.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(InputError, match="junk.prj"):
        read_spectrum(q)


def test_xdi_reader_matches_independent_parse():
    s = read_spectrum(FIX / "MnO_rt_01.xdi")
    raw = np.loadtxt(FIX / "MnO_rt_01.xdi", comments="#")
    np.testing.assert_allclose(s.energy, raw[:, 0])
    np.testing.assert_allclose(s.mu, np.log(raw[:, 1] / raw[:, 2]), rtol=1e-10)
    assert s.meta.get("element") == "Mn"


def test_athena_reader_and_bad_group():
    s = read_athena(FIX / "MnO_bv.prj")
    assert s.energy.size > 400 and 6300 < s.energy[0] < 6400
    with pytest.raises(InputError, match="no group 'nope'"):
        read_athena(FIX / "MnO_bv.prj", "nope")


# ---- normalisation -------------------------------------------------------------------
def test_normalize_closed_form_step():
    e = np.arange(8800.0, 9400.0, 0.5)
    n = normalize(e, _step(e), e0=8990.0)
    assert n.edge_step == pytest.approx(2.0, rel=0.03)
    far = (e > 9100) & (e < 9300)
    assert np.abs(n.flat[far] - 1).max() < 0.03
    assert np.abs(n.norm[e < 8950]).max() < 0.02
    assert find_edge(e, n.norm) == pytest.approx(8990.0, abs=0.3)


def test_normalize_agrees_with_larch_on_shared_file():
    from larch import Group
    from larch.xafs import pre_edge

    s = read_spectrum(FIX / "MnO_rt_01.xdi")
    n = normalize(s.energy, s.mu)
    g = Group(energy=s.energy, mu=s.mu)
    pre_edge(g, pre1=n.pre1, pre2=n.pre2, norm1=n.norm1, norm2=n.norm2, nnorm=n.nnorm)
    np.testing.assert_allclose(n.norm, g.norm, atol=1e-12)
    # MnO: max-derivative E0 6544.0 eV (shared SOURCE.md, xraylarch 2026.3.1)
    assert n.e0 == pytest.approx(6544.0, abs=0.6)


def test_short_window_ranges_stay_inside_data():
    e = np.linspace(8973.6, 9032.9, 200)  # a 59 eV measured window
    r = edge_ranges(e, 8984.0)
    assert e[0] - 8984.0 <= r["pre1"] < r["pre2"] < 0 < r["norm1"] < r["norm2"] <= e[-1] - 8984.0
    mu = 0.3 + 1e-3 * (e - 8984.0) + 2.0 * (0.5 + 0.5 * np.tanh((e - 8984.0) / 1.0))  # short-tailed edge
    n = normalize(e, mu, e0=8984.0)
    assert n.norm[-1] == pytest.approx(1.0, abs=0.02) and abs(n.norm[0]) < 0.02


def test_edge_out_of_range_and_flat_spectrum():
    e = np.arange(8800.0, 9400.0, 0.5)
    n = normalize(e, _step(e), e0=8990.0)
    with pytest.raises(InputError, match="outside the expected"):
        find_edge(e, n.norm, expected=(7700, 7760), source="co.xdi")
    with pytest.raises(InputError, match="flat.dat"):
        normalize(e, 1.0 - 1e-4 * (e - 8800), e0=8990.0, source="flat.dat")


# ---- resampling and alignment --------------------------------------------------------
def test_resample_linear_exact_and_refuses_gaps():
    e = np.linspace(8900, 9100, 401)
    g = relative_grid()
    assert g[0] == -5 and g[-1] == 45 and np.allclose(np.diff(g), 0.25)
    y = resample(e, 3 * e - 2, g, edge=8990.0)
    np.testing.assert_allclose(y, 3 * (8990.0 + g) - 2)
    with pytest.raises(InputError, match="grid needs"):
        resample(e, e, g, edge=9080.0, source="x.dat")


@pytest.mark.parametrize("true_shift", [-7.3, 2.45, 11.0])
def test_fit_energy_shift_recovers_offset(true_shift):
    comp_e = np.arange(8980.0, 9100.0, 0.25)
    wiggle = lambda e: _step(e, 8990.0) + 0.2 * np.exp(-((e - 8998.0) / 3) ** 2)
    comp = wiggle(comp_e)
    meas_e = np.arange(8950.0, 9090.0, 0.5)
    meas = wiggle(meas_e + true_shift)  # measured(E - delta) == computed(E)
    assert fit_energy_shift(meas_e, meas, comp_e, comp) == pytest.approx(true_shift, abs=0.03)
