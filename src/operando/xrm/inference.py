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
