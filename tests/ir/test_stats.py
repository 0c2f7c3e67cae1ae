"""Dataset statistics (the paper's Figure 2 panels) on a small synthetic dataset built here."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from operando.cli.main import main
from operando.ir.data.dataset import OperandoDataset
from operando.ir.data.experiment import Experiment, ExperimentMeta
from operando.ir.data.preprocess import preprocess_experiment
from operando.ir.data.stats import dataset_stats, plot_dataset_stats, rms_spectral_change
from operando.noise import estimate_noise_std, estimate_snr

NOISE_STD = 0.004


def meta(name: str, electrode: str) -> ExperimentMeta:
    return ExperimentMeta.from_dict({
        "name": name, "working_electrode": electrode, "counter_electrode": "Li", "protocol": "galvanostatic",
        "electrolyte": {"salt": {"name": "LiPF6", "smiles": "[Li+].F[P-](F)(F)(F)(F)F", "molarity": 1.0},
                        "solvents": [{"name": "EC", "smiles": "C1COC(=O)O1", "fraction": 1.0}]}})


def experiment(name: str, n: int, seed: int, electrode: str = "Cu") -> Experiment:
    """Wide bands on a 1 cm-1 axis (750-2050 cm-1); an SEI band grows below 1 V."""
    x = np.linspace(750.0, 2050.0, 1301)
    gauss = lambda c, w: np.exp(-0.5 * ((x - c) / w) ** 2)  # noqa: E731
    voltage = np.linspace(3.0, 0.05, n)
    sei = np.clip(1.0 - voltage, 0.0, None)
    clean = gauss(1775, 12)[None, :] + 0.4 * sei[:, None] * gauss(1650, 15)[None, :]
    noisy = clean + NOISE_STD * np.random.default_rng(seed).standard_normal(clean.shape)
    return Experiment(meta(name, electrode), np.arange(n) * 30.0, voltage, x, noisy.astype(np.float32))


@pytest.fixture(scope="module")
def dataset() -> OperandoDataset:
    return OperandoDataset([experiment("a", 30, 0), experiment("b", 20, 1), experiment("c", 25, 2, "Sn")],
                           simulated=True)


def test_noise_and_snr_estimates_in_closed_form():
    rng = np.random.default_rng(5)
    x = np.linspace(0, 1, 4000)
    smooth = np.exp(-0.5 * ((x - 0.5) / 0.05) ** 2)
    a = smooth + 0.01 * rng.standard_normal((3, 4000))
    np.testing.assert_allclose(estimate_noise_std(a), 0.01, rtol=0.08)
    assert np.all(np.abs(estimate_snr(a) - 1.0 / 0.01) < 12)  # peak-to-peak ~1 (+ noise tails)


def test_rms_spectral_change_closed_form():
    y = np.zeros((4, 10))
    y[1:, :5] = np.array([1.0, 2.0, 3.0])[:, None]  # half the points change by m
    np.testing.assert_allclose(rms_spectral_change(y), np.sqrt(0.5) * np.arange(4.0))


def test_dataset_stats_numbers(dataset):
    s = dataset_stats(dataset)
    assert s["n_experiments"] == 3 and s["n_spectra"] == 75 and s["n_systems"] == 2 and s["simulated"]
    assert s["voltage_min_v"] == pytest.approx(0.05) and s["voltage_max_v"] == pytest.approx(3.0)
    per = s["per_spectrum"]
    assert len(per["experiment"]) == len(per["snr"]) == len(per["rms_change"]) == 75
    assert per["experiment"][:30] == ["a"] * 30 and per["system"][-1] == dataset["c"].system
    # SNR: peak-to-peak ~1 (more where the SEI band adds) over the known noise std
    assert 1.0 / NOISE_STD * 0.85 < s["snr_median"] < 1.5 / NOISE_STD
    assert s["snr_mean"] == pytest.approx(float(np.mean(per["snr"])))
    # RMS change equals the definition on the preprocessed spectra, zero for each reference
    normalised, _ = preprocess_experiment(dataset["b"])
    y = normalised.absorbance.astype(np.float64)
    np.testing.assert_allclose(per["rms_change"][30:50], np.sqrt(np.mean((y - y[0]) ** 2, axis=1)))
    assert per["rms_change"][0] == per["rms_change"][30] == per["rms_change"][50] == 0.0
    # chemistry happens below 1 V: the binned mean there is far above the noise-only level at 3 V
    binned = s["rms_change_binned"]
    assert binned["count"].sum() == 72  # the three reference spectra are left out
    low, high = binned["mean_rms_change"][0], binned["mean_rms_change"][-1]
    assert binned["voltage_left_v"][0] == pytest.approx(0.05) and low > 5 * high
    assert s["snr_histogram"]["counts"].sum() == 75 and s["voltage_histogram"]["counts"].sum() == 75


def test_plot_dataset_stats_writes_figure_and_panel_numbers(dataset, tmp_path):
    paths = plot_dataset_stats(dataset, tmp_path / "stats")
    names = sorted(p.name for p in paths)
    assert names == ["dataset_stats.png", "per_spectrum.csv", "rms_change_vs_voltage.csv",
                     "snr_histogram.csv", "summary.json", "voltage_histogram.csv"]
    assert all(p.parent == tmp_path / "stats" for p in paths)
    assert (tmp_path / "stats" / "dataset_stats.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(tmp_path / "stats" / "per_spectrum.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 75 and rows[0]["experiment"] == "a" and float(rows[0]["rms_change"]) == 0.0
    with open(tmp_path / "stats" / "snr_histogram.csv", newline="") as f:
        assert sum(int(r["count"]) for r in csv.DictReader(f)) == 75
    summary = json.loads((tmp_path / "stats" / "summary.json").read_text())
    stats = dataset_stats(dataset)
    assert summary["n_spectra"] == 75 and summary["snr_median"] == stats["snr_median"]
    assert not [p for p in (tmp_path / "stats").iterdir() if p.name.startswith(".")]


def test_cli_data_stats(dataset, tmp_path, capsys):
    dataset.save(tmp_path / "d.h5")
    assert main(["ir", "data", "stats", str(tmp_path / "d.h5"), "-o", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "spectra: 75" in out and "experiments: 3 (2 systems, simulated)" in out
    assert "SNR: median" in out and "voltage: 0.050 to 3.000 V" in out and "RMS spectral change" in out
    assert (tmp_path / "out" / "dataset_stats.png").is_file()


def test_cli_data_stats_missing_file(tmp_path, capsys):
    assert main(["ir", "data", "stats", str(tmp_path / "nope.h5"), "-o", str(tmp_path / "out")]) == 1
    assert "nope.h5: no such file" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
