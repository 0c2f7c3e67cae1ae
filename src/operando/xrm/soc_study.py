"""The SOC part of the bench: render spectra from a truth, infer SOC four ways, measure, and run
the Kirchhoff MRF on the inferred SOC (the full pipeline: spectra -> SOC -> currents), at every
SNR and with fewer frames (the breakdown point)."""
from __future__ import annotations

import time

import numpy as np

from operando.xrm import soc as S
from operando.xrm import truth as tr
from operando.xrm.metrics import (front_error_profile_px, front_error_px, front_error_reaction_px,
                                  level_front_sensitivity_px, mrf_metrics)
from operando.xrm.mrf import MRFConfig, run_mrf
from operando.xrm.physics import reaction_front_depth
from operando.xrm.render import RenderConfig, SpectralModel, render_stack

SNRS = (10, 20, 50, 100)
FRAME_STRIDES = (2, 4)  # at SNR 50: the same charge seen at every 2nd / 4th frame
MRF_METHODS = ("linear-combination fit", "PRNN")


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
            "front_error_profile_px": front_error_profile_px(est, soc, level),
            "front_error_reaction_px": front_error_reaction_px(est, soc)}


def estimate_soc_noise(soc) -> float:
    """Truth-free per-pixel noise of SOC maps (frame, depth, lateral): robust std of lateral second
    differences (MAD / 0.6745 / sqrt(6)); what the MRF is told about its input."""
    d2 = np.diff(np.asarray(soc, float), 2, axis=-1)
    return float(np.median(np.abs(d2)) / 0.6745 / np.sqrt(6.0)) if d2.size else 0.0


def _case(truth, snr, seed, networks, prnn_kw, mrf_methods, all_methods=True):
    """Metrics of every method (and of the MRF on some) for one rendered stack of ``truth``."""
    soc = truth.fields[tr.SOC]
    fr = truth.frames
    em = truth.electrode
    cfg = RenderConfig(snr=float(snr), seed=seed)
    model = SpectralModel(cfg, em.stoich_discharged, em.stoich_charged)
    mu = render_stack(soc, model, cfg)["mu"]
    if snr not in networks:  # depends only on the spectral model and the SNR: shared by conditions
        t0 = time.perf_counter()
        networks[snr] = (S.train_soc_network(model, snr=float(snr), seed=seed, **prnn_kw),
                         time.perf_counter() - t0)
    network, train_seconds = networks[snr]
    methods = {"linear-combination fit": lambda: S.soc_linear_combination(mu, model),
               "PRNN": lambda: S.soc_prnn(mu, model, fr[tr.TIME], fr[tr.CURRENT], em.capacity_C_m3, truth.dx,
                                          network=network)}
    if all_methods:
        methods["edge position"] = lambda: S.soc_edge_position(mu, model)
        methods["NMF"] = lambda: S.soc_nmf(mu, model, seed=seed)
    out, mrf = {}, {}
    for name, fn in methods.items():
        t0 = time.perf_counter()
        est = fn()
        m = soc_metrics(est, truth, model)
        m["seconds"] = time.perf_counter() - t0
        if name == "PRNN":
            m["train_seconds"] = train_seconds
        out[name] = m
        if name in mrf_methods:
            sigma = max(MRFConfig().soc_sigma, estimate_soc_noise(est))
            t0 = time.perf_counter()
            res = run_mrf(est, fr[tr.TIME], fr[tr.CURRENT], fr[tr.VOLTAGE], truth.dx, em, MRFConfig(soc_sigma=sigma))
            mrf[name] = {**mrf_metrics(truth, res), "soc_sigma": sigma, "seconds": time.perf_counter() - t0}
    return out, mrf


def soc_study(truth: tr.Truth, row: dict, seed: int = 0, quick: bool = False, snrs=SNRS,
              frame_strides=FRAME_STRIDES, networks: dict | None = None, log=print) -> None:
    """Add to ``row``: ``soc[snr][method]`` metrics; ``mrf_from_soc[snr][method]`` (the MRF on
    inferred SOC); ``soc_frames[stride]`` (SNR 50, fewer frames: SOC metrics and the MRF on the
    network's maps); the reaction-front references. ``networks`` caches one network per SNR."""
    from operando.xrm.bench import subsample_frames
    from threadpoolctl import threadpool_limits

    networks = {} if networks is None else networks
    prnn_kw = dict(n_train=1000, n_calibrate=500, epochs=30) if quick else {}
    soc = truth.fields[tr.SOC]
    uniform = np.full(soc.shape[0] - 1, soc.shape[1] / 2.0)
    row["front_reference"] = {
        "uniform_reaction_px": float(np.max(np.abs(reaction_front_depth(soc) - uniform))),
        "level_sensitivity_px_per_0.01": level_front_sensitivity_px(soc, 0.5 * float(soc[-1].mean()))}
    row["soc"], row["mrf_from_soc"], row["soc_frames"] = {}, {}, {}
    with threadpool_limits(1):
        for snr in snrs:
            row["soc"][str(snr)], row["mrf_from_soc"][str(snr)] = _case(
                truth, snr, seed, networks, prnn_kw, MRF_METHODS if snr == 50 else ("PRNN",))
            log(f"  SNR {snr}: " + ", ".join(f"{k} {v['rmse']:.3f}/{v['rmse_two_phase']:.3f}"
                                               for k, v in row["soc"][str(snr)].items()))
        for stride in frame_strides:
            sub = subsample_frames(truth, stride)
            if sub.config.n_frames < 3:
                continue
            soc_m, mrf_m = _case(sub, 50, seed, networks, prnn_kw, ("PRNN",), all_methods=False)
            row["soc_frames"][str(stride)] = {"n_frames": sub.config.n_frames, "soc": soc_m, "mrf": mrf_m}
