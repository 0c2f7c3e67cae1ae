"""``operando ir predict``: forecast an experiment's sequence from its first spectrum."""
from __future__ import annotations

from pathlib import Path

from operando.atomic import FORCE_HELP


def register(sub) -> None:
    p = sub.add_parser("predict", help="forecast every step of an experiment from its first spectrum")
    p.add_argument("--run", required=True, type=Path, help="run folder from `operando ir train`")
    p.add_argument("--data", required=True, type=Path, help="dataset (.h5)")
    p.add_argument("--experiment", required=True, help="experiment name in the dataset")
    p.add_argument("--samples", type=int, default=None,
                   help="noise draws: writes the per-wavenumber std and 90%% interval too (the mean, anchored "
                        "to the first spectrum, averages at least 64 draws)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--streams", action="store_true",
                   help="two-stream ABCC models: also write the electrolyte, SEI and residual contributions "
                        "(forecast_elec/sei/residual.csv: mean change from the first spectrum, absorbance)")
    p.add_argument("-o", "--out", required=True, type=Path, help="output folder")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np

    from operando.atomic import refuse_overwrite
    from operando.errors import InputError
    from operando.ir.bench.task import masked
    from operando.ir.data.dataset import OperandoDataset
    from operando.ir.data.preprocess import preprocess_experiment, resample
    from operando.ir.forecast import anchored_forecast
    from operando.ir.models.export import write_steps_csv, write_wide_csv
    from operando.ir.models.runs import load_run, run_preprocess

    if args.samples is not None and args.samples < 2:
        raise InputError(None, f"must be at least 2 (draws for a spread and an interval), got {args.samples}",
                         field="--samples")
    refuse_overwrite(args.out, args.force, folder=True, what="forecast")
    model = load_run(args.run)
    ds = OperandoDataset.load(args.data)
    if args.experiment not in ds.names:
        raise InputError(args.data, f"no experiment {args.experiment!r}; it has {ds.names}")
    if args.streams and getattr(model, "streams", None) is None:
        raise InputError(args.run, "--streams needs a two-stream ABCC model (model.abcc.two_stream = true)")
    raw = ds[args.experiment]
    e, transform = preprocess_experiment(raw, run_preprocess(args.run))
    steps = np.arange(len(e))
    context = masked(e, [0])
    wn = e.wavenumber_cm1
    out = args.out
    # Anchored to the measured first spectrum (operando.ir.forecast.anchored_forecast): step 0 is
    # that spectrum in absorbance, later steps add the predicted change times the experiment's scale.
    static = resample(raw.wavenumber_cm1, raw.absorbance[0], wn, source=f"experiment {args.experiment!r}")
    scale = transform.scale
    result = anchored_forecast(model, context, static, scale, samples=args.samples, seed=args.seed,
                               system=e.system)
    write_steps_csv(out / "steps.csv", steps, e.time_s, e.voltage_v)
    tables = {"mean": result.mean, "std": result.std, "low": result.low, "high": result.high}
    for name, values in tables.items():
        if values is not None:
            write_wide_csv(out / f"forecast_{name}.csv", wn, values, e.time_s)
    if args.streams:
        parts = model.sample_streams(context, steps, n_samples=args.samples or None, seed=args.seed)
        for name in ("elec", "sei", "residual"):
            write_wide_csv(out / f"forecast_{name}.csv", wn, parts[name].mean(axis=0) * scale, e.time_s)
    print(f"wrote {len(steps)} forecast spectra of {args.experiment} to {out}")
    return 0
