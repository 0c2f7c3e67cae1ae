"""Figure of a curve resolution: component spectra beside their concentration profiles."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from operando.plots.common import (
    ABSORBANCE_LABEL,
    VOLTAGE_LABEL,
    new_figure,
    save_figure,
    set_wavenumber_axis,
    time_axis,
)


def plot_decomposition(wavenumber_cm1: np.ndarray, S: np.ndarray, C: np.ndarray,
                       time_s: np.ndarray | None = None, voltage_v: np.ndarray | None = None,
                       names: Sequence[str] | None = None, *, title: str | None = None,
                       path: str | Path | None = None) -> Figure:
    """Component spectra (left) and their concentration profiles versus time (right).

    ``S`` (K, w) component spectra, ``C`` (n, K) profiles, ``time_s`` and ``voltage_v`` (n,)
    (the voltage is drawn on a twin axis of the profile panel), ``names`` (K,) legend texts.
    The same colour marks a component in both panels.
    """
    wn = np.asarray(wavenumber_cm1, dtype=np.float64)
    S = np.atleast_2d(np.asarray(S, dtype=np.float64))
    C = np.asarray(C, dtype=np.float64).reshape(-1, S.shape[0])
    if S.shape[1] != wn.size:
        raise ValueError(f"S has {S.shape[1]} columns for {wn.size} wavenumbers")
    names = list(names) if names is not None else [f"component {k + 1}" for k in range(S.shape[0])]
    if len(names) != S.shape[0]:
        raise ValueError(f"{len(names)} names for {S.shape[0]} components")
    t, t_label = time_axis(time_s, C.shape[0])
    fig = new_figure(11.0, 4.2)
    ax_s, ax_c = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    colors = [f"C{k % 10}" for k in range(S.shape[0])]
    for k in range(S.shape[0]):
        ax_s.plot(wn, S[k], color=colors[k], lw=1.2, label=names[k])
        ax_c.plot(t, C[:, k], color=colors[k], lw=1.5, label=names[k])
    set_wavenumber_axis(ax_s, wn)
    ax_s.set_ylabel(f"{ABSORBANCE_LABEL} per unit amount")
    ax_s.set_title("Component spectra")
    ax_s.legend(fontsize=8)
    ax_c.set_xlabel(t_label)
    ax_c.set_ylabel("Amount [a.u.]")
    ax_c.set_title("Concentration profiles")
    if voltage_v is not None:
        ax_v = ax_c.twinx()
        ax_v.plot(t, np.asarray(voltage_v, dtype=np.float64), color="grey", lw=1.0, ls="--")
        ax_v.set_ylabel(VOLTAGE_LABEL, color="grey")
        ax_v.tick_params(axis="y", colors="grey")
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)
