"""Write what ``operando xrm infer`` produces: MRF maps with posterior std (HDF5) and PNG maps."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from operando.atomic import atomic_path


def write_inference(path: str | Path, res, *, soc: np.ndarray, config: dict) -> Path:
    """HDF5: ``fields/<name>`` and ``std/<name>`` (interval, depth, lateral), ``SOC`` (frame, depth,
    lateral), ``Interval time [s]``, ``Salt concentration estimate [mol.m-3]``; attrs: config JSON."""
    import h5py

    path = Path(path)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as h:
            h.attrs["format"] = "operando.xrm.inference/1"
            h.attrs["config"] = json.dumps(config, sort_keys=True, default=str)
            h.create_dataset("Interval time [s]", data=res.times_s)
            h.create_dataset("State of charge", data=soc, compression="gzip")
            h.create_dataset("Salt concentration estimate [mol.m-3]", data=res.salt_estimate, compression="gzip")
            for grp, d in (("fields", res.fields), ("std", res.stds)):
                g = h.create_group(grp)
                for name, arr in d.items():
                    g.create_dataset(name, data=arr, compression="gzip")
    return path


def save_maps_png(path: str | Path, maps: dict, times_s, n_cols: int = 4, title: str = "",
                  cross_section: bool = True) -> Path:
    """One row per map (name -> (frame, depth, lateral)), ``n_cols`` evenly spaced frames."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    names = list(maps)
    n_f = next(iter(maps.values())).shape[0]
    frames = np.unique(np.linspace(0, n_f - 1, n_cols).round().astype(int))
    fig, axes = plt.subplots(len(names), len(frames), figsize=(2.2 * len(frames) + 1, 2.0 * len(names)),
                             squeeze=False)
    for r, name in enumerate(names):
        arr = maps[name]
        vmin, vmax = np.percentile(arr, [1, 99])
        for c, f in enumerate(frames):
            ax = axes[r, c]
            im = ax.imshow(arr[f], aspect="auto", vmin=vmin, vmax=vmax, cmap="viridis")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"t = {times_s[f]:.0f} s", fontsize=8)
            if c == 0:
                ax.set_ylabel(name.replace(" [", "\n["), fontsize=7)
        fig.colorbar(im, ax=axes[r, :].tolist(), shrink=0.8)
    if title:
        note = "  (image rows: depth, separator at top; columns: lateral)" if cross_section else ""
        fig.suptitle(title + note, fontsize=9)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)
    return path


def run_condition(out_dir: str | Path, salt_M: float = 1.0, c_rate: float = 1.0, *, snr: float = 50.0,
                  n_lateral: int = 8, seed: int = 0) -> dict:
    """One simulated condition end to end, for the main job: PyBaMM truth (64 x ``n_lateral``
    pixels, 24 frames), Co K-edge spectra at ``snr``, SOC maps from the shipped network (regularised
    by continuity, time and charge), then the Kirchhoff MRF; writes ``out_dir`` atomically
    (``maps.h5`` as 'operando xrm infer' writes it, ``maps.png``, ``summary.json``) and returns
    the summary: SOC and MRF metrics against the truth and the seconds of each step."""
    import time

    from threadpoolctl import threadpool_limits

    from operando.atomic import write_text
    from operando.xrm import soc as S
    from operando.xrm import truth as tr
    from operando.xrm.metrics import mrf_metrics
    from operando.xrm.mrf import MRFConfig, run_mrf
    from operando.xrm.render import RenderConfig, SpectralModel, render_stack
    from operando.xrm.soc_study import estimate_soc_noise, soc_metrics
    from operando.xrm.weights import load_network

    network = load_network()  # first: a missing or altered weights file stops before any work
    seconds = {}
    with threadpool_limits(1):
        t0 = time.perf_counter()
        truth = tr.simulate(tr.TruthConfig(salt_mol_m3=1000.0 * salt_M, c_rate=c_rate, n_lateral=n_lateral,
                                           seed=seed))
        seconds["truth"] = time.perf_counter() - t0
        fr, em = truth.frames, truth.electrode
        cfg = RenderConfig(snr=snr, seed=seed)
        model = SpectralModel(cfg, em.stoich_discharged, em.stoich_charged)
        t0 = time.perf_counter()
        mu = render_stack(truth.fields[tr.SOC], model, cfg)["mu"]
        soc = S.soc_prnn(mu, model, fr[tr.TIME], fr[tr.CURRENT], em.capacity_C_m3, truth.dx, network=network)
        seconds["soc"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        mcfg = MRFConfig(soc_sigma=max(MRFConfig().soc_sigma, estimate_soc_noise(soc)))
        res = run_mrf(soc, fr[tr.TIME], fr[tr.CURRENT], fr[tr.VOLTAGE], truth.dx, em, mcfg)
        seconds["mrf"] = time.perf_counter() - t0
    summary = {"condition": f"{salt_M:g}M_{c_rate:g}C", "snr": snr, "seconds": seconds,
               "regime": truth.meta["regime"]["regime"], "soc": soc_metrics(soc, truth, model),
               "mrf": mrf_metrics(truth, res), "soc_sigma_told": mcfg.soc_sigma}
    out_dir = Path(out_dir)
    with atomic_path(out_dir, directory=True) as tmp:
        write_inference(tmp / "maps.h5", res, soc=soc, config={"summary": summary})
        maps = {"State of charge": 0.5 * (soc[1:] + soc[:-1])}
        maps.update({k: res.fields[k] for k in (tr.J, tr.IE, tr.PHI_E, tr.KAPPA)})
        save_maps_png(tmp / "maps.png", maps, res.times_s, title=f"{summary['condition']}, SNR {snr:g}")
        write_text(tmp / "summary.json", json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary
