"""How the SOC prior widths (operando.xrm.soc.SOCPrior) were chosen: a grid on a tuning truth that
is not a bench condition (1 M, 1.5C, porosity seed 1; solved into runs/xrm-tune if absent), SNR 50.
Prints the two-phase RMSE of the regularised network maps over that of the per-pixel fit.

    python benchmarks/xrm/tune_soc_prior.py        # ~10-20 min on 2 shared cores
"""
from __future__ import annotations

import itertools
from pathlib import Path

from operando.xrm import soc as S
from operando.xrm import truth as tr
from operando.xrm.bench import truth_for
from operando.xrm.render import RenderConfig, SpectralModel, render_stack
from operando.xrm.soc_study import soc_metrics


def main():
    truth, _ = truth_for(Path("runs/xrm-tune"), tr.TruthConfig.from_dict({"salt_mol_m3": 1000.0, "c_rate": 1.5,
                                                                           "seed": 1}))
    fr, em = truth.frames, truth.electrode
    cfg = RenderConfig(snr=50.0, seed=0)
    model = SpectralModel(cfg, em.stoich_discharged, em.stoich_charged)
    mu = render_stack(truth.fields[tr.SOC], model, cfg)["mu"]
    fit = soc_metrics(S.soc_linear_combination(mu, model), truth, model)["rmse_two_phase"]
    soc_hat, sigma = S.train_soc_network(model, snr=50.0).predict(mu)
    print("depth_step_sd lateral_step_sd time_curvature_sd  ratio  reaction-front error [px]  (time: per duration^2; /529 per frame)")
    for d, l, t in itertools.product((0.01, 0.02, 0.04), (0.02, 0.05), (2.6, 5.3, 10.6)):
        s = S.regularise_soc_maps(soc_hat, sigma, fr[tr.TIME], fr[tr.CURRENT], em.capacity_C_m3, truth.dx,
                                  S.SOCPrior(d, l, t))
        m = soc_metrics(s, truth, model)
        print(f"{d:13g} {l:15g} {t:17g}  {m['rmse_two_phase'] / fit:.3f}  {m['front_error_reaction_px']:.1f}", flush=True)


if __name__ == "__main__":
    main()
