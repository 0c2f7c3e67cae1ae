"""Figures of operando IR sequences: heatmap, waterfall, difference spectra, forecast check.

Every function takes arrays (wavenumbers in any order), returns the
:class:`~matplotlib.figure.Figure` and, given ``path``, also writes it atomically (PNG unless
the suffix says otherwise). Spectral axes run from high to low wavenumber.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize, TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory

from operando.plots.common import (
    ABSORBANCE_LABEL,
    DELTA_ABSORBANCE_LABEL,
    VOLTAGE_CMAP,
    VOLTAGE_LABEL,
    evenly_spaced_indices,
    new_figure,
    save_figure,
    set_wavenumber_axis,
    time_axis,
)

# Bands that grow while the SEI forms on the negative electrode (as shaded in Figure 1 of the
# ABCC paper, arXiv:2602.18551): lithium semi-carbonates (C=O stretch, ~1600-1680 cm-1) and
# Li2CO3 (CO3 stretch ~1400-1510 cm-1, out-of-plane bend ~860-880 cm-1).
SEI_REGIONS: tuple[tuple[str, float, float, str], ...] = (
    ("semi-carbonates", 1600.0, 1680.0, "tab:orange"),
    ("Li2CO3", 1400.0, 1510.0, "tab:green"),
    ("Li2CO3", 860.0, 880.0, "tab:green"),
)


def _check_sequence(wavenumber_cm1, absorbance, name="absorbance") -> tuple[np.ndarray, np.ndarray]:
    wn = np.asarray(wavenumber_cm1, dtype=np.float64)
    a = np.atleast_2d(np.asarray(absorbance, dtype=np.float64))
    if a.shape[1] != wn.size:
        raise ValueError(f"{name} has {a.shape[1]} columns for {wn.size} wavenumbers")
    return wn, a


def _is_uniform(x: np.ndarray) -> bool:
    if x.size < 3:
        return True
    step = np.diff(x)
    return bool(np.all(step * step[0] > 0) and np.ptp(step) <= 0.01 * abs(step[0]))


def _image(ax, x: np.ndarray, y: np.ndarray, Z: np.ndarray, **kwargs):
    """Z (len(y), len(x)) as an image; imshow on uniform grids (fast), pcolormesh otherwise."""
    if _is_uniform(x) and _is_uniform(y) and x.size > 1 and y.size > 1:
        order_x = np.argsort(x)
        order_y = np.argsort(y)
        xs, ys = x[order_x], y[order_y]
        dx, dy = (xs[-1] - xs[0]) / (xs.size - 1), (ys[-1] - ys[0]) / (ys.size - 1)
        extent = (xs[0] - dx / 2, xs[-1] + dx / 2, ys[0] - dy / 2, ys[-1] + dy / 2)
        return ax.imshow(Z[np.ix_(order_y, order_x)], origin="lower", extent=extent, aspect="auto",
                         interpolation="nearest", **kwargs)
    return ax.pcolormesh(x, y, Z, shading="nearest", rasterized=True, **kwargs)


def _voltage_colors(voltage_v: np.ndarray | None, time_s: np.ndarray | None, n: int):
    """(values, ScalarMappable, label) colouring traces by voltage, else by time or index."""
    if voltage_v is not None:
        values, label = np.asarray(voltage_v, dtype=np.float64), VOLTAGE_LABEL
    else:
        values, label = time_axis(time_s, n)
    lo, hi = float(np.min(values)), float(np.max(values))
    mappable = ScalarMappable(Normalize(lo, hi if hi > lo else lo + 1.0), colormaps[VOLTAGE_CMAP])
    return values, mappable, label


def plot_heatmap(wavenumber_cm1: np.ndarray, time_s: np.ndarray, absorbance: np.ndarray,
                 voltage_v: np.ndarray | None = None, *, difference: bool = False,
                 reference: np.ndarray | None = None, title: str | None = None,
                 path: str | Path | None = None) -> Figure:
    """Sequence heatmap (wavenumber across, time up) with the voltage curve beside it.

    ``wavenumber_cm1`` (w,), ``time_s`` (n,), ``absorbance`` (n, w), ``voltage_v`` (n,) or
    None. With ``difference`` the ``reference`` spectrum (w,) is subtracted (default: the
    first row; a forecast passes its static input spectrum) and a diverging colour scale
    centred on zero is used.
    """
    wn, a = _check_sequence(wavenumber_cm1, absorbance)
    t, t_label = time_axis(time_s, a.shape[0])
    if difference:
        a = a - (a[0] if reference is None else np.asarray(reference, dtype=np.float64).reshape(1, -1))
    fig = new_figure(9.0, 5.0)
    if voltage_v is not None:
        ax, ax_v = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [4, 1]})
    else:
        ax, ax_v = fig.subplots(1, 1), None
    if difference:
        limit = float(np.abs(a).max()) or 1.0
        image = _image(ax, wn, t, a, cmap="RdBu_r", norm=TwoSlopeNorm(0.0, -limit, limit))
    else:
        image = _image(ax, wn, t, a, cmap="viridis")
    set_wavenumber_axis(ax, wn)
    ax.set_ylabel(t_label)
    ax.set_ylim(float(t.min()), float(t.max()))
    fig.colorbar(image, ax=ax, label=DELTA_ABSORBANCE_LABEL if difference else ABSORBANCE_LABEL,
                 location="left", pad=0.02)
    if ax_v is not None:
        ax_v.plot(np.asarray(voltage_v, dtype=np.float64), t, color="black", lw=1.2)
        ax_v.set_xlabel(VOLTAGE_LABEL)
        ax_v.grid(alpha=0.3)
        ax_v.tick_params(labelleft=False)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def plot_waterfall(wavenumber_cm1: np.ndarray, absorbance: np.ndarray,
                   voltage_v: np.ndarray | None = None, *, time_s: np.ndarray | None = None,
                   labels: Sequence[str] | None = None, n_traces: int = 12,
                   offset: float | None = None, title: str | None = None,
                   path: str | Path | None = None) -> Figure:
    """Stacked spectra (first at the bottom), coloured by voltage, with a colourbar.

    ``absorbance`` (n, w); about ``n_traces`` spectra evenly spread over the sequence are
    drawn, each shifted up by ``offset`` (default: 60 % of the median peak-to-peak of the
    drawn spectra). ``labels`` (n,) optional texts written beside each drawn trace. Without
    voltages, traces are coloured by time (or index).
    """
    wn, a = _check_sequence(wavenumber_cm1, absorbance)
    idx = evenly_spaced_indices(a.shape[0], n_traces)
    values, mappable, c_label = _voltage_colors(voltage_v, time_s, a.shape[0])
    if offset is None:
        offset = 0.6 * float(np.median(np.ptp(a[idx], axis=1))) or 1.0
    fig = new_figure(7.0, 6.0)
    ax = fig.subplots()
    low_end = int(np.argmin(wn))
    for rank, i in enumerate(idx):
        trace = a[i] + rank * offset
        ax.plot(wn, trace, color=mappable.to_rgba(values[i]), lw=1.0)
        if labels is not None:
            ax.annotate(str(labels[i]), (wn[low_end], trace[low_end]), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize=7)
    set_wavenumber_axis(ax, wn)
    ax.set_ylabel(f"{ABSORBANCE_LABEL} (offset {offset:.3g} per trace)")
    fig.colorbar(mappable, ax=ax, label=c_label)
    if title:
        ax.set_title(title)
    return save_figure(fig, path)


def plot_difference(wavenumber_cm1: np.ndarray, absorbance: np.ndarray,
                    voltage_v: np.ndarray | None = None, *, time_s: np.ndarray | None = None,
                    n_traces: int = 8, reference_index: int = 0,
                    regions: Sequence[tuple[str, float, float, str]] = SEI_REGIONS,
                    title: str | None = None, path: str | Path | None = None) -> Figure:
    """Difference spectra ``A(t) - A(reference)``, coloured by voltage, SEI regions shaded.

    ``absorbance`` (n, w). ``regions``: (label, low cm-1, high cm-1, colour) spans shaded and
    labelled (default :data:`SEI_REGIONS`: semi-carbonates and Li2CO3, as in the ABCC
    paper's Figure 1); spans outside the measured window are skipped.
    """
    wn, a = _check_sequence(wavenumber_cm1, absorbance)
    delta = a - a[reference_index]
    idx = [i for i in evenly_spaced_indices(a.shape[0], n_traces + 1) if i != reference_index]
    values, mappable, c_label = _voltage_colors(voltage_v, time_s, a.shape[0])
    fig = new_figure(8.0, 4.5)
    ax = fig.subplots()
    top = blended_transform_factory(ax.transData, ax.transAxes)
    labelled = set()
    for label, low, high, color in regions:
        if high < wn.min() or low > wn.max():
            continue
        ax.axvspan(low, high, color=color, alpha=0.15, lw=0)
        if label in labelled:  # a second span of the same species (same colour): one label is enough
            continue
        # staggered heights: neighbouring spans' labels do not run into each other on a narrow figure
        ax.text((low + high) / 2, 0.98 - 0.07 * len(labelled), label, transform=top, ha="center", va="top",
                fontsize=9, color=color)
        labelled.add(label)
    ax.axhline(0.0, color="grey", lw=0.6)
    for i in idx:
        ax.plot(wn, delta[i], color=mappable.to_rgba(values[i]), lw=1.0)
    set_wavenumber_axis(ax, wn)
    ax.set_ylabel(DELTA_ABSORBANCE_LABEL)
    fig.colorbar(mappable, ax=ax, label=c_label)
    ax.set_title(title or f"Difference spectra (relative to spectrum {reference_index})")
    return save_figure(fig, path)


def plot_forecast_vs_true(wavenumber_cm1: np.ndarray, true: np.ndarray, pred_mean: np.ndarray,
                          pred_low: np.ndarray | None = None, pred_high: np.ndarray | None = None,
                          voltage_v: np.ndarray | None = None, *, time_s: np.ndarray | None = None,
                          indices: Sequence[int] | None = None, title: str | None = None,
                          path: str | Path | None = None) -> Figure:
    """Predicted versus true spectra at the beginning, middle and end of the sequence.

    ``true``, ``pred_mean``, ``pred_low``, ``pred_high`` (n, w); the interval between
    ``pred_low`` and ``pred_high`` (e.g. 5-95 % of the sampled forecasts) is shaded.
    ``indices`` overrides the three spectra shown. Panel titles give voltage and time.
    """
    wn, y_true = _check_sequence(wavenumber_cm1, true, "true")
    _, y_pred = _check_sequence(wn, pred_mean, "pred_mean")
    if y_pred.shape != y_true.shape:
        raise ValueError(f"pred_mean shape {y_pred.shape} differs from true shape {y_true.shape}")
    n = y_true.shape[0]
    idx = list(indices) if indices is not None else [0, (n - 1) // 2, n - 1]
    t, t_label = time_axis(time_s, n)
    fig = new_figure(4.0 * len(idx), 3.8)
    axes = np.atleast_1d(fig.subplots(1, len(idx), sharey=True))
    stages = ("beginning", "middle", "end") if indices is None else [""] * len(idx)
    for ax, i, stage in zip(axes, idx, stages):
        if pred_low is not None and pred_high is not None:
            ax.fill_between(wn, np.asarray(pred_low)[i], np.asarray(pred_high)[i], color="tab:blue",
                            alpha=0.25, lw=0, label="predicted interval")
        ax.plot(wn, y_true[i], color="black", lw=1.2, label="true")
        ax.plot(wn, y_pred[i], color="tab:blue", lw=1.0, ls="--", label="predicted mean")
        set_wavenumber_axis(ax, wn)
        parts = [stage] if stage else []
        if voltage_v is not None:
            parts.append(f"{float(np.asarray(voltage_v)[i]):.3g} V")
        if "[" in t_label:  # "Time [h]" -> "t = 2.5 h"
            parts.append(f"t = {t[i]:.3g} {t_label[t_label.index('[') + 1:-1]}")
        else:
            parts.append(f"spectrum {i}")
        ax.set_title(", ".join(parts), fontsize=10)
    axes[0].set_ylabel(ABSORBANCE_LABEL)
    axes[0].legend(fontsize=8, loc="best")
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)
