"""``operando xrm infer``: current, potential and conductivity maps from SOC maps (Kirchhoff MRF)."""
from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "infer", help="infer interfacial current, ionic current, electrolyte potential and conductivity maps",
        description="Read SOC maps over time with the applied current and cell voltage (an 'operando xrm "
                    "simulate' file), infer the most probable current, potential and effective-conductivity "
                    "maps under Kirchhoff, Ohm and symmetric Butler-Volmer (a Gaussian Markov random field), "
                    "and write them with their posterior std as HDF5 plus PNG maps.")
    p.add_argument("maps", type=Path, help="HDF5 from 'operando xrm simulate'")
    p.add_argument("-o", "--output", required=True, type=Path, help="output file (.h5); PNG written beside it")
    p.add_argument("--soc-noise", type=float, default=None,
                   help="add Gaussian noise of this std to the SOC maps first (seeded), to probe robustness")
    p.add_argument("--seed", type=int, default=0, help="seed of --soc-noise (default 0)")
    p.set_defaults(func=run)


def run(args) -> int:
    import dataclasses
    import json
    import time

    import numpy as np

    from operando.atomic import write_text
    from operando.errors import InputError
    from operando.xrm import truth as tr
    from operando.xrm.inference import save_maps_png, write_inference
    from operando.xrm.mrf import MRFConfig, run_mrf

    truth = tr.read_truth(args.maps)
    if truth.electrode is None:
        raise InputError(args.maps, "has no electrode model (attribute 'electrode'); write it with 'operando xrm simulate'")
    soc = truth.fields[tr.SOC]
    cfg = MRFConfig()
    if args.soc_noise:
        if args.soc_noise < 0:
            raise InputError(None, f"--soc-noise must be >= 0, got {args.soc_noise}")
        soc = soc + np.random.default_rng(args.seed).normal(0.0, args.soc_noise, soc.shape)
        cfg = dataclasses.replace(cfg, soc_sigma=max(cfg.soc_sigma, args.soc_noise))
    fr = truth.frames
    start = time.perf_counter()
    res = run_mrf(soc, fr[tr.TIME], fr[tr.CURRENT], fr[tr.VOLTAGE], truth.dx, truth.electrode, cfg,
                  where=str(args.maps))
    seconds = time.perf_counter() - start
    config = {"input": str(args.maps), "mrf": dataclasses.asdict(cfg), "soc_noise": args.soc_noise,
              "seed": args.seed, "seconds": seconds}
    write_inference(args.output, res, soc=soc, config=config)
    write_text(args.output.with_suffix(".config.json"), json.dumps(config, indent=2, sort_keys=True) + "\n")
    maps = {tr.SOC: 0.5 * (soc[1:] + soc[:-1])}
    maps.update({k: res.fields[k] for k in (tr.J, tr.IE, tr.PHI_E, tr.KAPPA)})
    png = save_maps_png(args.output.with_suffix(".png"), maps, res.times_s, title=str(args.maps.name))
    print(f"{args.output}: MRF maps of {soc.shape[0] - 1} intervals in {seconds:.1f} s; maps {png}")
    return 0
