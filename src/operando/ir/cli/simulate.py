"""``operando ir simulate``: write the simulated OpIRSpec-7K-sim dataset (or its calibration set)."""
from __future__ import annotations

from pathlib import Path

from operando.atomic import FORCE_HELP


def register(sub) -> None:
    p = sub.add_parser(
        "simulate", help="write the SIMULATED OpIRSpec-7K-sim dataset (HDF5)",
        description="Simulate OpIRSpec-7K-sim (10 systems, 7,118 operando ATR-FTIR spectra; physics in "
                    "docs/ir/simulator.md) or, with --calibration, the separate static calibration set, and "
                    "write it as an operando-ir HDF5 file.")
    p.add_argument("-o", "--output", required=True, type=Path, help="output file (.h5), written atomically")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0); same seed, same file")
    p.add_argument("--calibration", action="store_true",
                   help="write the static calibration set (electrolytes, SEI references) instead")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.set_defaults(func=run)


def run(args) -> int:
    import time

    from operando.atomic import refuse_overwrite
    from operando.errors import InputError
    from operando.ir.simulate import simulate_calibration, simulate_dataset

    if args.seed < 0:
        raise InputError(None, f"--seed must be >= 0, got {args.seed}")
    refuse_overwrite(args.output, args.force, what="dataset")
    start = time.perf_counter()
    dataset = simulate_calibration(args.seed) if args.calibration else simulate_dataset(args.seed)
    simulated_s = time.perf_counter() - start
    dataset.save(args.output)
    total_s = time.perf_counter() - start
    kind = "calibration set" if args.calibration else "OpIRSpec-7K-sim (SIMULATED)"
    print(f"{kind}, seed {args.seed}")
    width = max(len(s) for s in dataset.systems())
    for system, experiments in dataset.systems().items():
        print(f"  {system:<{width}}  {sum(len(e) for e in experiments):5d} spectra  {len(experiments):2d} experiments")
    print(f"total: {dataset.n_spectra} spectra in {len(dataset)} experiments")
    print(f"time: {simulated_s:.1f} s to simulate, {total_s:.1f} s with writing {args.output}")
    return 0
