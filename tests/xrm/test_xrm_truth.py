"""Truth generator: PyBaMM DFN half-cell maps obey Butler-Volmer, Kirchhoff and Ohm on their own fields."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pybamm")

from operando.errors import InputError  # noqa: E402
from operando.xrm import physics as ph  # noqa: E402
from operando.xrm import truth as tr  # noqa: E402

TINY = dict(n_depth=12, n_lateral=3, n_frames=5, r_points=6, separator_points=4, c_rate=2.0,
            salt_mol_m3=1000.0, seed=3)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    truth = tr.simulate(tr.TruthConfig(**TINY))
    path = tmp_path_factory.mktemp("xrm") / "tiny.h5"
    tr.write_truth(path, truth)
    return truth, path


def test_butler_volmer_residual_zero_on_truth(tiny):
    t, _ = tiny
    f = t.fields
    r = ph.butler_volmer_residual(f[tr.J], f[tr.J0], f[tr.PHI_S], f[tr.PHI_E], f[tr.OCP])
    assert np.max(np.abs(r)) < 1e-6
    # and it is not zero for a wrong potential (the check can fail)
    r_bad = ph.butler_volmer_residual(f[tr.J], f[tr.J0], f[tr.PHI_S], f[tr.PHI_E] + 0.01, f[tr.OCP])
    assert np.max(np.abs(r_bad)) > 0.1


def test_kirchhoff_residual_zero_on_truth(tiny):
    t, _ = tiny
    f = t.fields
    interior, boundary = ph.kirchhoff_residual(f[tr.IE], f[tr.AJ], t.dx, t.frames[tr.COLUMN_CURRENT])
    # zero to the solver tolerance (the finite-volume balance is PyBaMM's own; output is interpolated in time)
    assert np.max(np.abs(boundary)) < 1e-3
    assert np.max(np.abs(interior)) < 1e-3
    _, boundary_bad = ph.kirchhoff_residual(f[tr.IE], 1.1 * f[tr.AJ], t.dx, t.frames[tr.COLUMN_CURRENT])
    assert np.max(np.abs(boundary_bad)) > 0.05
    np.testing.assert_allclose(t.frames[tr.CURRENT], t.frames[tr.COLUMN_CURRENT].mean(axis=1))


def test_ohm_residual_small_with_diffusion_potential(tiny):
    t, _ = tiny
    f = t.fields
    r = ph.ohm_residual(f[tr.IE], f[tr.PHI_E], f[tr.KAPPA], t.dx, c_e=f[tr.C_E],
                        transference=t.transference, thermodynamic_factor=f[tr.TDF])
    assert np.max(np.abs(r[1:])) < 0.1  # second-order face differences on a 12-pixel column


def test_truth_is_a_charge(tiny):
    t, _ = tiny
    soc = t.fields[tr.SOC]
    assert soc.shape == (5, 12, 3)
    assert abs(soc[0].mean()) < 0.02 and soc[-1].mean() > 0.4
    assert np.all(t.frames[tr.CURRENT] < 0)  # PyBaMM: charge current is negative
    # columns of different porosity take different shares of the current
    assert np.ptp(t.frames[tr.COLUMN_CURRENT][2]) > 0
    # conductivity is the Valoen-Reimers fit times eps**b
    k = ph.valoen_reimers_conductivity(t.fields[tr.C_E]) * t.porosity[None] ** t.bruggeman
    np.testing.assert_allclose(t.fields[tr.KAPPA], k)


def test_conductivity_matches_pybamm_ai2020_function():
    import pybamm

    p = pybamm.ParameterValues("Ai2020")
    c = np.array([300.0, 1000.0, 2000.0, 3000.0])
    ref = p["Electrolyte conductivity [S.m-1]"](pybamm.Array(c), pybamm.Scalar(298.15)).evaluate().ravel()
    np.testing.assert_allclose(ph.valoen_reimers_conductivity(c), ref, rtol=1e-10)
    # the values quoted in Valoen & Reimers' fit at 298.15 K (mS/cm): 0.3 M 6.77, 1 M 11.94, 2 M 7.96
    np.testing.assert_allclose(ph.valoen_reimers_conductivity(c[:3]) * 10, [6.77, 11.94, 7.96], atol=0.01)


def test_round_trip_and_bad_files(tiny, tmp_path):
    t, path = tiny
    back = tr.read_truth(path)
    for name in tr.FIELD_NAMES:
        np.testing.assert_array_equal(back.fields[name], t.fields[name])
    assert back.config == t.config and back.dx == t.dx
    with pytest.raises(InputError, match="no such file"):
        tr.read_truth(tmp_path / "missing.h5")
    junk = tmp_path / "junk.h5"
    junk.write_text("not hdf5")
    with pytest.raises(InputError, match="junk.h5: not an HDF5 file"):
        tr.read_truth(junk)
    import shutil

    import h5py

    bad = tmp_path / "nan.h5"
    shutil.copy(path, bad)
    with h5py.File(bad, "r+") as h:
        h["fields"][tr.SOC][0, 0, 0] = np.nan
    with pytest.raises(InputError, match="State of charge.*NaN"):
        tr.read_truth(bad)
    short = tmp_path / "short_current.h5"
    shutil.copy(path, short)
    with h5py.File(short, "r+") as h:  # a current record that does not cover the frames
        data = h["frames"][tr.CURRENT][:-2]
        del h["frames"][tr.CURRENT]
        h["frames"].create_dataset(tr.CURRENT, data=data)
    with pytest.raises(InputError, match="short_current.h5: field 'Applied current density.*3 frames recorded, maps have 5"):
        tr.read_truth(short)


def test_write_is_atomic(tiny, tmp_path):
    t, _ = tiny
    target = tmp_path / "out.h5"

    class Boom(dict):
        def items(self):
            yield tr.SOC, t.fields[tr.SOC]
            raise RuntimeError("disk full")

    broken = tr.Truth(t.config, Boom(), t.frames, t.porosity, t.dx, t.bruggeman, t.transference,
                      t.capacity_C_m3)
    with pytest.raises(RuntimeError):
        tr.write_truth(target, broken)
    assert list(tmp_path.iterdir()) == []


def test_bad_config_is_input_error():
    with pytest.raises(InputError, match="unknown truth-config keys"):
        tr.TruthConfig.from_dict({"salt": 1.0}, where="cfg.json")
    with pytest.raises(InputError, match="cfg.json: c_rate must be positive"):
        tr.TruthConfig.from_dict({"c_rate": -1}, where="cfg.json")


def test_regime_measurement_on_constructed_maps():
    n_f, n_d, n_l = 10, 20, 2
    depth = (np.arange(n_d) + 0.5) / n_d
    # a sharp front sweeping from the separator to the current collector
    front = np.linspace(0.05, 0.95, n_f)[:, None, None]
    soc = np.clip(0.5 - (depth[None, :, None] - front) * 10, 0, 1) * np.ones((n_f, n_d, n_l))
    aj = np.exp(-((depth[None, :, None] - front) / 0.05) ** 2) * np.ones((n_f, n_d, n_l))
    assert ph.measure_regime(soc, aj)["regime"] == "front moving inward"
    uniform = np.linspace(0, 1, n_f)[:, None, None] * np.ones((n_f, n_d, n_l))
    assert ph.measure_regime(uniform, np.ones_like(uniform))["regime"] == "uniform"


def test_mrf_on_the_truth_generators_own_soc_maps(tiny):
    """End to end on PyBaMM maps: exact SOC in, currents, potential and conductivity out."""
    from operando.xrm.mrf import run_mrf

    t, _ = tiny
    f, fr = t.fields, t.frames
    res = run_mrf(f[tr.SOC], fr[tr.TIME], fr[tr.CURRENT], fr[tr.VOLTAGE], t.dx, t.electrode)

    def mid(a):
        return 0.5 * (a[1:] + a[:-1])

    def rel(a, b):
        return np.linalg.norm(a - b) / np.linalg.norm(b)

    errs = {"j": rel(res.fields[tr.J], mid(f[tr.J])), "ie": rel(res.fields[tr.IE], mid(f[tr.IE]))}
    pe, pt = res.fields[tr.PHI_E], mid(f[tr.PHI_E])
    errs["phi"] = rel(pe - pe.mean(1, keepdims=True), pt - pt.mean(1, keepdims=True))
    errs["logk"] = float(np.median(np.abs(np.log(res.fields[tr.KAPPA] / mid(f[tr.KAPPA])))))
    print(errs)
    assert errs["j"] < 0.1 and errs["ie"] < 0.1 and errs["phi"] < 0.3 and errs["logk"] < 0.4
