"""Dataset statistics: the paper's Figure 2 panels (SNR and voltage histograms, RMS spectral
change versus voltage); the noise and SNR estimates are :mod:`operando.noise`'s.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from operando.atomic import atomic_path, write_text
from operando.errors import InputError
from operando.ir.data.dataset import OperandoDataset
from operando.ir.data.preprocess import PreprocessConfig, preprocess_experiment
from operando.noise import estimate_snr

# --------------------------------------------------------------------------- Figure 2 of the paper
#
# `operando ir data stats` reproduces the dataset panels of arXiv:2602.18551 (Figure 2) for any
# dataset: (a) SNR histogram, (b) voltage histogram, (c) RMS spectral change versus voltage.

SNR_BINS = 40
VOLTAGE_BINS = 40
RMS_VOLTAGE_BINS = 20
MIN_WINDOW_POINTS = 5


def _window_absorbance(e, config: PreprocessConfig) -> np.ndarray:
    """Measured spectra of ``e`` restricted to the preprocessing window, as measured (no
    interpolation, which would smooth the noise): (n_spectra, n_points_in_window)."""
    inside = (e.wavenumber_cm1 >= config.grid_min_cm1) & (e.wavenumber_cm1 <= config.grid_max_cm1)
    absorbance = np.asarray(e.absorbance)
    return absorbance[:, inside] if inside.sum() >= MIN_WINDOW_POINTS else absorbance


def rms_spectral_change(normalised: np.ndarray) -> np.ndarray:
    """RMS over wavenumbers of ``s_m - s_0`` for each spectrum ``m`` of one experiment.

    ``normalised``: (n_spectra, n_grid) preprocessed spectra -> (n_spectra,); entry 0 is 0.
    """
    y = np.asarray(normalised, dtype=np.float64)
    return np.sqrt(np.mean((y - y[:1]) ** 2, axis=1))


def _binned_mean(x: np.ndarray, y: np.ndarray, n_bins: int) -> dict[str, np.ndarray]:
    """Mean of ``y`` in ``n_bins`` equal bins of ``x``; empty bins are left out."""
    edges = np.histogram_bin_edges(x, bins=n_bins)
    index = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, n_bins - 1)
    count = np.bincount(index, minlength=n_bins)
    total = np.bincount(index, weights=y, minlength=n_bins)
    keep = count > 0
    return {"voltage_left_v": edges[:-1][keep], "voltage_right_v": edges[1:][keep],
            "mean_rms_change": total[keep] / count[keep], "count": count[keep]}


def dataset_stats(ds: OperandoDataset, config: PreprocessConfig | None = None, *,
                  rms_voltage_bins: int = RMS_VOLTAGE_BINS) -> dict:
    """Numbers behind the dataset figure.

    Returns a dict with scalars (``n_experiments``, ``n_spectra``, ``n_systems``,
    ``simulated``, ``snr_median``, ``snr_mean``, ``voltage_min_v``, ``voltage_max_v``,
    ``rms_change_median``, ``rms_change_mean``, ``rms_change_max``), per-spectrum arrays
    under ``per_spectrum`` (``experiment``, ``system``, ``time_s``, ``voltage_v``, ``snr``,
    ``rms_change``; each (n_spectra,)), and the panels' data ``snr_histogram`` and
    ``voltage_histogram`` (``edges`` (bins+1,), ``counts`` (bins,)) and ``rms_change_binned``.

    SNR is :func:`estimate_snr` of each measured spectrum inside the preprocessing window.
    The RMS change of spectrum ``m`` is ``sqrt(mean_w (y_m - y_0)^2)`` on the preprocessed
    grid (normalised units); its summary and binned means leave out the reference spectra
    (``m = 0``, zero by definition).
    """
    config = config or PreprocessConfig()
    if len(ds) == 0:
        raise InputError(None, "the dataset holds no experiments")
    names, systems, times, voltages, snrs, rms, is_reference = [], [], [], [], [], [], []
    for e in ds:
        normalised, _ = preprocess_experiment(e, config)
        n = len(e)
        names += [e.name] * n
        systems += [e.system] * n
        times.append(np.asarray(e.time_s, dtype=np.float64))
        voltages.append(np.asarray(e.voltage_v, dtype=np.float64))
        snrs.append(estimate_snr(_window_absorbance(e, config)))
        rms.append(rms_spectral_change(normalised.absorbance))
        is_reference.append(np.arange(n) == 0)
    voltage = np.concatenate(voltages)
    snr = np.concatenate(snrs)
    rms_change = np.concatenate(rms)
    changed_mask = ~np.concatenate(is_reference)
    changed = rms_change[changed_mask]
    binned = changed_mask if changed.size else np.ones_like(changed_mask)  # one-spectrum experiments only
    snr_counts, snr_edges = np.histogram(snr, bins=SNR_BINS)
    v_counts, v_edges = np.histogram(voltage, bins=VOLTAGE_BINS)
    return {
        "n_experiments": len(ds),
        "n_spectra": int(len(voltage)),
        "n_systems": len(ds.systems()),
        "simulated": bool(ds.simulated),
        "snr_median": float(np.median(snr)),
        "snr_mean": float(np.mean(snr)),
        "voltage_min_v": float(voltage.min()),
        "voltage_max_v": float(voltage.max()),
        "rms_change_median": float(np.median(changed)) if changed.size else 0.0,
        "rms_change_mean": float(np.mean(changed)) if changed.size else 0.0,
        "rms_change_max": float(np.max(changed)) if changed.size else 0.0,
        "per_spectrum": {"experiment": names, "system": systems, "time_s": np.concatenate(times),
                         "voltage_v": voltage, "snr": snr, "rms_change": rms_change},
        "snr_histogram": {"edges": snr_edges, "counts": snr_counts},
        "voltage_histogram": {"edges": v_edges, "counts": v_counts},
        "rms_change_binned": _binned_mean(voltage[binned], rms_change[binned], rms_voltage_bins),
    }


SUMMARY_KEYS = ("n_experiments", "n_spectra", "n_systems", "simulated", "snr_median", "snr_mean",
                "voltage_min_v", "voltage_max_v", "rms_change_median", "rms_change_mean", "rms_change_max")


def format_stats(stats: dict) -> str:
    """Human-readable summary of :func:`dataset_stats` output."""
    kind = "simulated" if stats["simulated"] else "measured"
    return "\n".join([
        f"experiments: {stats['n_experiments']} ({stats['n_systems']} systems, {kind})",
        f"spectra: {stats['n_spectra']}",
        f"SNR: median {stats['snr_median']:.1f}, mean {stats['snr_mean']:.1f}",
        f"voltage: {stats['voltage_min_v']:.3f} to {stats['voltage_max_v']:.3f} V",
        f"RMS spectral change vs first spectrum (normalised units): median {stats['rms_change_median']:.4f}, "
        f"mean {stats['rms_change_mean']:.4f}, max {stats['rms_change_max']:.4f}",
    ])


def _csv_text(header: list[str], columns: list) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in zip(*columns):
        writer.writerow([f"{float(v):.10g}" if isinstance(v, (float, np.floating)) else v for v in row])
    return buffer.getvalue()


def plot_dataset_stats(ds: OperandoDataset, out_dir: str | Path, config: PreprocessConfig | None = None,
                       *, stats: dict | None = None) -> list[Path]:
    """Write the three-panel figure and each panel's numbers into ``out_dir``; return the paths.

    Files: ``dataset_stats.png`` (panels a-c), ``snr_histogram.csv``,
    ``voltage_histogram.csv``, ``rms_change_vs_voltage.csv`` (binned means of panel c),
    ``per_spectrum.csv`` (every point of panel c with its SNR), ``summary.json``. ``stats``:
    the result of :func:`dataset_stats` for ``ds`` if already computed.
    """
    # matplotlib is imported here: it is slow to import and only this function needs it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    stats = stats if stats is not None else dataset_stats(ds, config)
    out_dir = Path(out_dir)
    per = stats["per_spectrum"]
    sh, vh, rb = stats["snr_histogram"], stats["voltage_histogram"], stats["rms_change_binned"]

    # Agg canvas on a bare Figure: no pyplot global state, no display needed.
    fig = Figure(figsize=(15, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    ax_a, ax_b, ax_c = fig.subplots(1, 3)
    ax_a.stairs(sh["counts"], sh["edges"], fill=True, color="tab:blue", alpha=0.7)
    ax_a.axvline(stats["snr_median"], color="k", ls="--", label=f"median {stats['snr_median']:.1f}")
    ax_a.axvline(stats["snr_mean"], color="tab:red", ls=":", label=f"mean {stats['snr_mean']:.1f}")
    ax_a.set(xlabel="SNR (peak-to-peak / noise std)", ylabel="spectra", title="(a) signal-to-noise ratio")
    ax_a.legend(frameon=False)
    ax_b.stairs(vh["counts"], vh["edges"], fill=True, color="tab:green", alpha=0.7)
    ax_b.set(xlabel="Voltage [V]", ylabel="spectra", title="(b) voltage distribution")
    alpha = float(np.clip(300.0 / max(stats["n_spectra"], 1), 0.05, 0.8))  # dense data: fainter dots
    ax_c.scatter(per["voltage_v"], per["rms_change"], s=6, alpha=alpha, color="tab:purple", lw=0,
                 label="spectra")
    centres = 0.5 * (rb["voltage_left_v"] + rb["voltage_right_v"])
    ax_c.plot(centres, rb["mean_rms_change"], "o-", color="k", ms=3, label="binned mean")
    ax_c.set(xlabel="Voltage [V]", ylabel="RMS(s_m - s_0) [normalised]",
             title="(c) spectral change vs voltage")
    ax_c.legend(frameon=False)
    kind = "simulated" if stats["simulated"] else "measured"
    fig.suptitle(f"{stats['n_spectra']} spectra, {stats['n_experiments']} experiments ({kind})")

    paths = []
    png = out_dir / "dataset_stats.png"
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    paths.append(png)
    files = {
        "snr_histogram.csv": _csv_text(["snr_left", "snr_right", "count"],
                                       [sh["edges"][:-1], sh["edges"][1:], sh["counts"].tolist()]),
        "voltage_histogram.csv": _csv_text(["voltage_left_v", "voltage_right_v", "count"],
                                           [vh["edges"][:-1], vh["edges"][1:], vh["counts"].tolist()]),
        "rms_change_vs_voltage.csv": _csv_text(
            ["voltage_left_v", "voltage_right_v", "mean_rms_change", "count"],
            [rb["voltage_left_v"], rb["voltage_right_v"], rb["mean_rms_change"], rb["count"].tolist()]),
        "per_spectrum.csv": _csv_text(["experiment", "system", "time_s", "voltage_v", "snr", "rms_change"],
                                      [per["experiment"], per["system"], per["time_s"], per["voltage_v"],
                                       per["snr"], per["rms_change"]]),
        "summary.json": json.dumps({k: stats[k] for k in SUMMARY_KEYS}, indent=2) + "\n",
    }
    for name, text in files.items():
        paths.append(write_text(out_dir / name, text))
    return paths
