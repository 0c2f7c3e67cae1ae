"""``operando ir report``: one self-contained HTML page of tables, figures and SEI pathways.

``operando ir report [RESULTS_DIR_OR_RUN ...] [--data DATA.h5] [--results RESULTS_DIR]
[--run RUN_DIR] [--calibration CAL.h5] [-e NAME ...] -o report.html`` prints the path of the
report it wrote (see :func:`operando.ir.report.write_report`).
"""
from __future__ import annotations

from pathlib import Path

from operando.atomic import FORCE_HELP


def register(sub) -> None:
    p = sub.add_parser("report", help="write one self-contained HTML report (tables, figures, SEI pathways)",
                       description="Write an HTML page (figures embedded, opens without a server) with the "
                                   "benchmark tables of both splits, figures of the held-out systems, forecasts "
                                   "versus truth (with a model) and the curve resolution of the sequences.")
    p.add_argument("paths", nargs="*", type=Path, metavar="RESULTS_DIR_OR_RUN",
                   help="benchmark results folder and/or training run folder (recognised by their contents)")
    p.add_argument("--data", type=Path, metavar="DATA.h5", help="dataset (default: the data of the run)")
    p.add_argument("--results", type=Path, metavar="DIR", help="results folder of `operando ir bench --out`")
    p.add_argument("--run", type=Path, metavar="DIR", help="training run folder (forecasts; optional)")
    p.add_argument("--calibration", type=Path, metavar="CAL.h5",
                   help="calibration set for the decomposition's electrolyte background (default: band library)")
    p.add_argument("-e", "--experiment", action="append", metavar="NAME",
                   help="experiment to show (repeatable; default: one per held-out system)")
    p.add_argument("--samples", type=int, default=16, help="forecast draws for the interval (default 16)")
    p.add_argument("--seed", type=int, default=0, help="seed of the forecast draws")
    p.add_argument("--title", default="operando report")
    p.add_argument("-o", "--output", type=Path, default=Path("report.html"), help="output file (default report.html)")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.set_defaults(func=run)


def run(args) -> int:
    from operando.atomic import refuse_overwrite
    from operando.errors import InputError
    from operando.ir.report import classify_paths, write_report

    refuse_overwrite(args.output, args.force, what="report")
    results, run_dir = classify_paths(args.paths)
    for flag, given, found in (("--results", args.results, results), ("--run", args.run, run_dir)):
        if given is not None and found is not None and Path(given) != found:
            raise InputError(None, f"two different folders for {flag}: {given} and {found}", field=flag)
    results = args.results or results
    run_dir = args.run or run_dir
    if args.data is None and run_dir is None and results is None:
        raise InputError(None, "nothing to report: give --data, a results folder or a run folder")
    path = write_report(args.output, data=args.data, results=results, run=run_dir, calibration=args.calibration,
                        experiments=args.experiment, n_samples=args.samples, seed=args.seed, title=args.title)
    print(path)
    return 0
