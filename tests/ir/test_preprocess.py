"""Preprocessing: common grid, drift normalisation, clipping, inverse, ground-truth consistency."""
from __future__ import annotations

import numpy as np
import pytest

from operando.errors import InputError
from operando.ir.data.dataset import OperandoDataset
from operando.ir.data.experiment import Experiment, ExperimentMeta, GroundTruth
from operando.ir.data.preprocess import (
    COMMON_GRID_CM1,
    PreprocessConfig,
    SpectralTransform,
    preprocess_dataset,
    preprocess_experiment,
    quantile_line,
    resample,
    window_coordinate,
)

META = ExperimentMeta.from_dict({
    "name": "cell", "working_electrode": "Cu", "counter_electrode": "Li", "protocol": "galvanostatic",
    "electrolyte": {"salt": {"name": "LiPF6", "smiles": "[Li+].F[P-](F)(F)(F)(F)F", "molarity": 1.0},
                    "solvents": [{"name": "EC", "smiles": "C1COC(=O)O1", "fraction": 1.0}]}})


def lorentzian(x, centre_cm1, fwhm_cm1):
    return 1.0 / (1.0 + ((x - centre_cm1) / (fwhm_cm1 / 2)) ** 2)


def toy_experiment(name="cell", n=6, baseline=None, gain=1.0, noise=0.0, seed=0, last_solvent=0.6) -> Experiment:
    """Instrument axis 700-2100 cm-1 at ~1 cm-1; a solvent band decays (to ``last_solvent``), an
    SEI band grows."""
    x = np.linspace(700.0, 2100.0, 1401)
    components = np.stack([0.8 * lorentzian(x, 1775, 15), 0.3 * lorentzian(x, 1650, 20)])
    conc = np.column_stack([np.linspace(1.0, last_solvent, n), np.linspace(0.0, 1.0, n)])
    baseline = np.zeros(n) if baseline is None else np.asarray(baseline, dtype=float)
    noiseless = gain * (conc @ components) + baseline[:, None]
    measured = noiseless + noise * np.random.default_rng(seed).standard_normal(noiseless.shape)
    truth = GroundTruth(noiseless=noiseless, component_names=["EC", "LEDC"], component_kinds=["bulk", "sei"],
                        component_spectra=gain * components, concentrations=conc)
    meta = ExperimentMeta.from_dict({**META.to_dict(), "name": name})
    return Experiment(meta, np.arange(n) * 60.0, np.linspace(3.0, 0.1, n), x, measured,
                      current_ma=np.full(n, -0.1), truth=truth)


def test_common_grid():
    assert COMMON_GRID_CM1.shape == (601,)
    assert COMMON_GRID_CM1[0] == 800.0 and COMMON_GRID_CM1[-1] == 2000.0
    np.testing.assert_allclose(np.diff(COMMON_GRID_CM1), 2.0)
    np.testing.assert_array_equal(PreprocessConfig().grid, COMMON_GRID_CM1)


def test_resample_is_exact_for_linear_spectra_in_either_order():
    x = np.linspace(650.0, 2150.0, 377)  # grid points fall between source points
    a = np.stack([3.0 + 0.01 * x, -2.0 * x])
    expected = np.stack([3.0 + 0.01 * COMMON_GRID_CM1, -2.0 * COMMON_GRID_CM1])
    np.testing.assert_allclose(resample(x, a, COMMON_GRID_CM1), expected, rtol=1e-12)
    np.testing.assert_allclose(resample(x[::-1], a[:, ::-1], COMMON_GRID_CM1), expected, rtol=1e-12)
    assert resample(x, a[0], COMMON_GRID_CM1).shape == (601,)


def test_resample_matches_np_interp_on_descending_input():
    rng = np.random.default_rng(1)
    x = np.sort(rng.uniform(790.0, 2010.0, 300))
    x[0], x[-1] = 790.0, 2010.0
    a = rng.standard_normal((3, 300))
    expected = np.stack([np.interp(COMMON_GRID_CM1, x, row) for row in a])
    np.testing.assert_allclose(resample(x[::-1], a[:, ::-1], COMMON_GRID_CM1), expected, atol=1e-12)


def test_resample_keeps_grid_points_that_hit_source_points():
    x = np.linspace(800.0, 2000.0, 1201)  # 1 cm-1: every grid point is a source point
    a = np.random.default_rng(2).standard_normal((2, 1201))
    np.testing.assert_array_equal(resample(x, a, COMMON_GRID_CM1), a[:, ::2])


@pytest.mark.parametrize("lo, hi", [(900.0, 2100.0), (700.0, 1999.0)])
def test_resample_refuses_to_extrapolate(lo, hi):
    x = np.linspace(lo, hi, 50)
    with pytest.raises(InputError, match=f"covers {lo:g}-{hi:g} cm-1, which does not cover the "
                                         "800-2000 cm-1 window"):
        resample(x, np.ones((1, 50)), COMMON_GRID_CM1)


def test_resample_rejects_non_monotonic_axis():
    x = np.array([700.0, 900.0, 850.0, 2100.0])
    with pytest.raises(InputError, match="not strictly monotonic"):
        resample(x, np.ones((1, 4)), COMMON_GRID_CM1)


def test_transform_parameters_in_closed_form():
    e = toy_experiment(baseline=[0.1, 0.15, 0.2, 0.05, 0.0, -0.1], last_solvent=0.9)
    out, tf = preprocess_experiment(e)
    # bands are ~0 in far more than 2 % of the window, so the first spectrum's line is its baseline
    assert tf.offset_per_spectrum[0] == pytest.approx(0.1, abs=2e-3) and abs(tf.tilt_per_spectrum[0]) < 2e-3
    first = resample(e.wavenumber_cm1, e.truth.noiseless[:1], COMMON_GRID_CM1)[0]
    line = tf.offset_per_spectrum[0] + tf.tilt_per_spectrum[0] * window_coordinate(601)
    assert tf.scale == tf.scale_per_spectrum[0] == pytest.approx(np.quantile(first - line, 0.995))
    assert 0.6 < tf.scale <= 0.8  # near the reference spectrum's strongest band (0.8): it maps to ~1
    np.testing.assert_array_equal(out.wavenumber_cm1, COMMON_GRID_CM1)
    assert out.absorbance.shape == (6, 601) and out.absorbance.dtype == np.float32
    peak = float(np.max((first - line) / tf.scale))
    assert out.absorbance[0].max() == pytest.approx(peak, rel=1e-6) and 1.0 < peak < 1.2
    # later spectra: the least-squares scale + offset + tilt against the first, composed with its map
    grid = resample(e.wavenumber_cm1, e.absorbance, COMMON_GRID_CM1)
    for m in range(1, 6):
        design = np.column_stack([grid[0], np.ones(601), window_coordinate(601)])
        (k, c, d), *_ = np.linalg.lstsq(design, grid[m], rcond=None)
        assert 0.8 < k < 1.25  # inside the range that counts as drift
        assert tf.scale_per_spectrum[m] == pytest.approx(k * tf.scale, rel=1e-9)
        assert tf.offset_per_spectrum[m] == pytest.approx(c + k * tf.offset_per_spectrum[0], abs=1e-9)
        assert tf.tilt_per_spectrum[m] == pytest.approx(d + k * tf.tilt_per_spectrum[0], abs=1e-9)
    np.testing.assert_array_equal(out.time_s, e.time_s)
    np.testing.assert_array_equal(out.voltage_v, e.voltage_v)


def test_quantile_line_is_the_check_loss_minimum():
    rng = np.random.default_rng(5)
    spectra = rng.normal(0, 1, (3, 201)) + np.array([[0.0], [1.0], [-2.0]]) * window_coordinate(201)
    offset, tilt = quantile_line(spectra, 0.1)
    x = window_coordinate(201)

    def loss(row, o, t):
        r = row - o - t * x
        return np.sum(np.where(r >= 0, 0.1 * r, -0.9 * r))

    for row, o, t in zip(spectra, offset, tilt):
        best = loss(row, o, t)
        for do, dt in ((1e-3, 0), (-1e-3, 0), (0, 1e-3), (0, -1e-3), (1e-3, 1e-3), (-1e-3, 1e-3)):
            assert best <= loss(row, o + do, t + dt) + 1e-12
        assert np.mean(row < o + t * x) == pytest.approx(0.1, abs=0.02)


def test_normalisation_removes_per_spectrum_drift_and_keeps_the_chemistry():
    plain, _ = preprocess_experiment(toy_experiment(last_solvent=0.9))
    drifted = toy_experiment(baseline=[0.3, -0.2, 0.5, 0.1, 0.0, 0.7], gain=2.5, last_solvent=0.9)
    x = window_coordinate(len(drifted.wavenumber_cm1))
    contact = np.array([1.0, 1.03, 0.97, 1.05, 0.99, 1.02])  # a few per cent from spectrum to spectrum
    tilt = np.array([0.0, 0.01, -0.02, 0.005, 0.03, -0.01])
    drifted.absorbance[:] = drifted.absorbance * contact[:, None] + tilt[:, None] * x[None]
    out, _ = preprocess_experiment(drifted)
    np.testing.assert_allclose(out.absorbance, plain.absorbance, atol=1e-5)
    # the SEI band at 1650 cm-1 still grows against the solvent's, which the first spectrum holds
    i = np.argmin(np.abs(COMMON_GRID_CM1 - 1650))
    assert plain.absorbance[-1, i] > plain.absorbance[0, i] + 0.2


def test_a_later_spectrum_unlike_the_first_gets_a_bounded_scale():
    """A spectrum that is no drifted copy of the first (its least-squares scale against it is
    negative) keeps the scale bound and the offset and tilt refitted with it."""
    e = toy_experiment()
    e.absorbance[3] = 0.2 - e.absorbance[3]
    out, tf = preprocess_experiment(e)
    assert tf.scale_per_spectrum[3] == pytest.approx(PreprocessConfig().drift_scale_min * tf.scale)
    grid = resample(e.wavenumber_cm1, e.absorbance, COMMON_GRID_CM1)
    x = window_coordinate(601)
    (c, d), *_ = np.linalg.lstsq(np.column_stack([np.ones(601), x]), grid[3] - 0.8 * grid[0], rcond=None)
    assert tf.offset_per_spectrum[3] == pytest.approx(c + 0.8 * tf.offset_per_spectrum[0])
    assert tf.tilt_per_spectrum[3] == pytest.approx(d + 0.8 * tf.tilt_per_spectrum[0])
    assert np.isfinite(out.absorbance).all()


def test_inverse_undoes_apply_where_not_clipped():
    rng = np.random.default_rng(3)
    x = rng.normal(0.4, 0.5, (4, 601))
    offset, tilt, scale = rng.normal(0, 0.1, 4), rng.normal(0, 0.01, 4), rng.uniform(0.6, 0.8, 4)
    tf = SpectralTransform(offset_per_spectrum=offset, tilt_per_spectrum=tilt, scale_per_spectrum=scale)
    y = tf.apply(x)
    z = (x - offset[:, None] - tilt[:, None] * window_coordinate(601)) / scale[:, None]
    unclipped = (z > -0.5) & (z < 1.5)
    assert 0.5 < unclipped.mean() < 1  # both cases occur
    np.testing.assert_allclose(y[unclipped], z[unclipped], rtol=0, atol=1e-14)
    np.testing.assert_allclose(tf.inverse(y)[unclipped], x[unclipped], rtol=0, atol=1e-12)
    assert np.all(y[z >= 1.5] == 1.5) and np.all(y[z <= -0.5] == -0.5)


def test_clipping_bounds_a_spike():
    e = toy_experiment()
    e.absorbance[2, 700] = 50.0  # a detector glitch at ~1400 cm-1 (source index 700)
    out, tf = preprocess_experiment(e)
    assert out.absorbance.max() == np.float32(1.5)
    assert out.absorbance[2].argmax() == np.argmin(np.abs(COMMON_GRID_CM1 - 1400))


def test_preprocessing_is_deterministic():
    e = toy_experiment(noise=0.01, baseline=[0.1] * 6)
    a, ta = preprocess_experiment(e)
    b, tb = preprocess_experiment(e)
    assert a.absorbance.tobytes() == b.absorbance.tobytes()
    assert ta.offset_per_spectrum.tobytes() == tb.offset_per_spectrum.tobytes() and ta.scale == tb.scale


def test_truth_is_transformed_like_the_measurement():
    e = toy_experiment(baseline=[0.2, 0.1, 0.0, 0.1, 0.2, 0.3], gain=1.7, noise=0.002)
    out, tf = preprocess_experiment(e)
    t = out.truth
    assert t.noiseless.shape == (6, 601) and t.component_spectra.shape == (2, 601)
    np.testing.assert_array_equal(t.concentrations, e.truth.concentrations)
    # noiseless = conc @ components + baseline, so after the same per-spectrum affine map:
    s = tf.scale_per_spectrum[:, None]
    baseline_term = (np.array([0.2, 0.1, 0.0, 0.1, 0.2, 0.3])[:, None] - tf.baseline(601)) / s
    np.testing.assert_allclose(t.noiseless, (tf.scale / s) * (t.concentrations @ t.component_spectra)
                               + baseline_term, atol=1e-5)
    # measured and noiseless differ by the noise only (noise / scale in normalised units)
    residual = (out.absorbance - t.noiseless).std(axis=1)
    np.testing.assert_allclose(residual, 0.002 / tf.scale_per_spectrum, rtol=0.15)
    # inverse brings the noiseless truth back to absorbance on the grid
    raw = resample(e.wavenumber_cm1, e.truth.noiseless, COMMON_GRID_CM1)
    np.testing.assert_allclose(tf.inverse(t.noiseless), raw, atol=1e-6)


def test_flat_first_spectrum_is_an_input_error():
    e = toy_experiment()
    e.absorbance[0] = 0.3
    with pytest.raises(InputError, match="experiment 'cell': the first spectrum is flat"):
        preprocess_experiment(e)


def test_uncovered_experiment_names_it():
    e = toy_experiment()
    narrow = Experiment(e.meta, e.time_s, e.voltage_v, e.wavenumber_cm1[200:], e.absorbance[:, 200:])
    with pytest.raises(InputError, match="experiment 'cell' covers 900-2100 cm-1, which does not cover"):
        preprocess_experiment(narrow)


def test_preprocess_dataset_keeps_order_and_flags():
    ds = OperandoDataset([toy_experiment("b"), toy_experiment("a", n=3)], simulated=True, description="toy")
    out = preprocess_dataset(ds, PreprocessConfig(n_points=301))
    assert out.names == ["b", "a"] and out.simulated
    assert all(len(e.wavenumber_cm1) == 301 for e in out)
    assert "preprocessed" in out.description and out.description.startswith("toy")
