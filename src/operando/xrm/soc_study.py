"""The SOC part of the bench: render spectra from a truth, infer SOC four ways, measure, and run
the Kirchhoff MRF on the inferred SOC (the full pipeline: spectra -> SOC -> currents)."""
from __future__ import annotations

import time

import numpy as np

from operando.xrm import soc as S
from operando.xrm import truth as tr
from operando.xrm.metrics import front_error_profile_px, front_error_px, mrf_metrics
from operando.xrm.mrf import MRFConfig, run_mrf
from operando.xrm.render import RenderConfig, SpectralModel, render_stack

SNRS = (20, 50, 100)


def soc_metrics(est, truth: tr.Truth, model: SpectralModel) -> dict:
    soc = truth.fields[tr.SOC]
    fr = truth.frames
    win = model.two_phase(soc)
    err = est - soc
    level = 0.5 * float(soc[-1].mean())
    return {"rmse": float(np.sqrt(np.mean(err ** 2))),
            "rmse_two_phase": float(np.sqrt(np.mean(err[win] ** 2))) if win.any() else float("nan"),
            "charge_error": S.charge_conservation_error(est, fr[tr.TIME], fr[tr.CURRENT],
                                                        truth.electrode.capacity_C_m3, truth.dx),
            "front_error_px": front_error_px(est, soc, level),
            "front_error_profile_px": front_error_profile_px(est, soc, level)}


def soc_study(truth: tr.Truth, row: dict, seed: int = 0, quick: bool = False, snrs=SNRS, log=print) -> None:
    """Add ``row["soc"][snr][method]`` metrics and ``row["mrf_from_soc"][method]`` (SNR 50)."""
    from threadpoolctl import threadpool_limits

    soc = truth.fields[tr.SOC]
    fr = truth.frames
    em = truth.electrode
    row["soc"] = {}
    row["mrf_from_soc"] = {}
    prnn_kw = dict(n_train=1000, epochs=30) if quick else {}
    with threadpool_limits(1):
        for snr in snrs:
            cfg = RenderConfig(snr=float(snr), seed=seed)
            model = SpectralModel(cfg, em.stoich_discharged, em.stoich_charged)
            mu = render_stack(soc, model, cfg)["mu"]
            methods = {
                "linear-combination fit": lambda: S.soc_linear_combination(mu, model),
                "edge position": lambda: S.soc_edge_position(mu, model),
                "NMF": lambda: S.soc_nmf(mu, model, seed=seed),
                "PRNN": lambda: S.soc_prnn(mu, model, fr[tr.TIME], fr[tr.CURRENT], em.capacity_C_m3, truth.dx,
                                           snr=float(snr), seed=seed, **prnn_kw),
            }
            row["soc"][str(snr)] = {}
            for name, fn in methods.items():
                t0 = time.perf_counter()
                est = fn()
                m = soc_metrics(est, truth, model)
                m["seconds"] = time.perf_counter() - t0
                row["soc"][str(snr)][name] = m
                if snr == 50 and name in ("linear-combination fit", "PRNN"):
                    res = run_mrf(est, fr[tr.TIME], fr[tr.CURRENT], fr[tr.VOLTAGE], truth.dx, em,
                                  MRFConfig(soc_sigma=max(0.02, m["rmse"])))
                    row["mrf_from_soc"][name] = mrf_metrics(truth, res)
            log(f"  SNR {snr}: " + ", ".join(f"{k} {v['rmse']:.3f}/{v['rmse_two_phase']:.3f}"
                                               for k, v in row["soc"][str(snr)].items()))
