"""``operando pipeline``: the main job, end to end, on the embedded default data.

simulate OpIRSpec-7K-sim (and its calibration set) -> dataset statistics (the paper's
Figure 2) -> OpIRBench for every registered model on both splits -> the report. Every file
lands under ``--out``; MeanFlow's random-split run folder (``results/runs/meanflow-random``) is
the default model for ``operando ir forecast``; the last line printed is the path of the report.
"""
from __future__ import annotations

import time
from pathlib import Path


def register(sub) -> None:
    summary = "the main job: simulate, benchmark every model, write the report"
    p = sub.add_parser("pipeline", help=summary, description=summary)
    p.add_argument("--out", type=Path, default=Path("outputs"), help="output folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true",
                   help="tiny training budgets (a smoke run in minutes; the numbers mean nothing)")
    p.add_argument("--force", action="store_true",
                   help="write into an --out folder that is not empty (an earlier run's files are replaced)")
    p.set_defaults(func=run)


def run(args) -> int:
    from operando.atomic import refuse_overwrite
    from operando.ir.bench.suite import run_name, run_suite
    from operando.ir.data.stats import dataset_stats, format_stats, plot_dataset_stats
    from operando.ir.models import PIPELINE_MODELS
    from operando.ir.report import write_report
    from operando.ir.simulate import simulate_calibration, simulate_dataset

    out: Path = args.out
    refuse_overwrite(out, args.force, folder=True, what="pipeline output")
    started = time.perf_counter()
    data_path, calibration_path = out / "opirspec7k-sim.h5", out / "calibration.h5"

    print("== 1/4 simulate OpIRSpec-7K-sim (SIMULATED data: see docs/ir/simulator.md)")
    ds = simulate_dataset(seed=args.seed)
    ds.save(data_path)
    simulate_calibration(seed=args.seed).save(calibration_path)
    print(f"   {ds.n_spectra} spectra in {len(ds)} experiments -> {data_path}; calibration -> {calibration_path}")

    print("== 2/4 dataset statistics (the paper's Figure 2)")
    stats = dataset_stats(ds)
    print(format_stats(stats))
    plot_dataset_stats(ds, out / "stats", stats=stats)

    print("== 3/4 OpIRBench: every registered model, random and system splits")
    run_suite(data_path, PIPELINE_MODELS, ("random", "system"), out / "results",
              seed=args.seed, quick=args.quick)

    print("== 4/4 report")
    report = write_report(out / "report.html", data=data_path, results=out / "results",
                          run=out / "results" / "runs" / run_name("meanflow", "system", args.seed), calibration=calibration_path)
    print(f"done in {time.perf_counter() - started:.0f} s")
    default_model = out / "results" / "runs" / run_name("meanflow", "random", args.seed)
    if args.quick:
        from operando.ir.smoke import SMOKE_NOTE

        print(f"{SMOKE_NOTE}: no model of {out / 'results' / 'runs'} is recommended; run without --quick for a "
              "model to forecast your own cells with")
    else:
        print(f"default model for your own cells: {default_model}  (operando ir forecast --run {default_model} "
              "--spectrum FILE --voltage FILE --meta experiment.json -o forecast/; docs/ir/bring-your-own-data.md)")
    print(f"report: {report}")
    return 0

