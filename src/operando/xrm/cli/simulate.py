"""``operando xrm simulate``: operando maps with known truth from PyBaMM's DFN model (one condition)."""
from __future__ import annotations

from pathlib import Path

from operando.atomic import FORCE_HELP


def register(sub) -> None:
    p = sub.add_parser(
        "simulate", help="simulate one charge: SOC, current, potential, salt and conductivity maps (HDF5)",
        description="Solve a LiCoO2 | Li half-cell with PyBaMM's Doyle-Fuller-Newman model, one column per "
                    "lateral pixel of a random porosity field, and write the maps (frame x depth x lateral) "
                    "as HDF5, with the config beside it. Design: docs/xrm/design.md.")
    p.add_argument("-o", "--output", required=True, type=Path, help="output file (.h5), written atomically")
    p.add_argument("--salt", type=float, default=None, help="initial LiPF6 concentration [mol/L] (default 1.0)")
    p.add_argument("--c-rate", type=float, default=None, help="charge rate in C (default 1)")
    p.add_argument("--seed", type=int, default=None, help="seed of the porosity field (default 0)")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.add_argument("--config", type=Path, default=None,
                   help="JSON file of TruthConfig fields (command-line options override it)")
    p.set_defaults(func=run)


def run(args) -> int:
    import json

    from operando.atomic import refuse_overwrite, write_text
    from operando.errors import InputError
    from operando.xrm.truth import TruthConfig, simulate, write_truth

    d = {}
    if args.config is not None:
        try:
            d = json.loads(Path(args.config).read_text())
        except FileNotFoundError:
            raise InputError(args.config, "no such file") from None
        except json.JSONDecodeError as e:
            raise InputError(args.config, f"not JSON ({e})") from None
        if not isinstance(d, dict):
            raise InputError(args.config, "must hold a JSON object of TruthConfig fields")
    if args.salt is not None:
        d["salt_mol_m3"] = 1000.0 * args.salt
    if args.c_rate is not None:
        d["c_rate"] = args.c_rate
    if args.seed is not None:
        d["seed"] = args.seed
    refuse_overwrite(args.output, args.force, what="maps file")
    cfg = TruthConfig.from_dict(d, where=str(args.config) if args.config else "command line")
    truth = simulate(cfg)
    write_truth(args.output, truth)
    write_text(args.output.with_suffix(".config.json"), json.dumps(json.loads(cfg.to_json()), indent=2) + "\n")
    r = truth.meta["regime"]
    print(f"{args.output}: {cfg.salt_mol_m3 / 1000:g} M, {cfg.c_rate:g}C, {cfg.n_frames} frames of "
          f"{cfg.n_depth} x {cfg.n_lateral} pixels in {truth.meta['seconds']:.1f} s")
    print(f"regime: {r['regime']} (mid-charge SOC spread {r['soc_spread_mid']:.2f}, end SOC separator "
          f"{r['soc_end_separator']:.2f} / collector {r['soc_end_collector']:.2f})")
    return 0
