"""Why per-pixel SOC needs its neighbours and the current: the error structure of the per-pixel
linear-combination fit on one bench truth at SNR 50 (frame-common part, neighbour correlations)
and how smooth the truth is. Run from the checkout after `operando xrm bench` has cached truths:

    python benchmarks/xrm/soc_error_structure.py [runs/xrm-bench/truth_1M_1C.h5]
"""
from __future__ import annotations

import sys

import numpy as np

from operando.xrm import soc as S
from operando.xrm import truth as tr
from operando.xrm.render import RenderConfig, SpectralModel, render_stack


def main(path="runs/xrm-bench/truth_1M_1C.h5"):
    truth = tr.read_truth(path)
    soc, em = truth.fields[tr.SOC], truth.electrode
    cfg = RenderConfig(snr=50.0, seed=0)
    model = SpectralModel(cfg, em.stoich_discharged, em.stoich_charged)
    err = S.soc_linear_combination(render_stack(soc, model, cfg)["mu"], model) - soc
    frame = err.mean(axis=(1, 2))
    rest = err - frame[:, None, None]
    corr = {name: np.corrcoef(np.take(rest, range(1, n), ax).ravel(), np.take(rest, range(n - 1), ax).ravel())[0, 1]
            for name, ax, n in (("time", 0, soc.shape[0]), ("depth", 1, soc.shape[1]), ("lateral", 2, soc.shape[2]))}
    print(f"{path}: linear-combination fit at SNR 50")
    print(f"  SOC RMSE {np.sqrt(np.mean(err ** 2)):.4f}: frame-common part {np.sqrt(np.mean(frame ** 2)):.4f}, "
          f"rest {np.sqrt(np.mean(rest ** 2)):.4f}")
    print("  correlation of the rest between neighbours: " + ", ".join(f"{k} {v:.3f}" for k, v in corr.items()))
    print("  truth RMS change between neighbouring pixels: " + ", ".join(
        f"{k} {np.sqrt(np.mean(np.diff(soc, axis=ax) ** 2)):.4f}" for k, ax in (("depth", 1), ("lateral", 2))))


if __name__ == "__main__":
    main(*sys.argv[1:])
