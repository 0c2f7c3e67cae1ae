"""``operando ir score``: check a trained model on your own measured experiments.

Forecasts every experiment of a measured dataset (``--data``, HDF5 from ``operando ir import``
or ``import-operando``) from its first spectrum (or its first ``--first K``), with the model of
``--run``, and scores the forecast of the remaining spectra next to persistence (the last given
spectrum repeated) with every OpIRBench metric, twice: on the spectra as measured, and after
removing each forecast spectrum's best scale + offset + linear tilt against the measured one (the
same freedom for the model and for persistence: the drift of an ATR cell). Prints the table and
writes, all at once, into ``-o DIR``: score.md, score.csv (the table), per_spectrum.csv,
per_experiment.csv and score.json (settings). See docs/ir/bring-your-own-data.md.
"""
from __future__ import annotations

from pathlib import Path

from operando.atomic import FORCE_HELP


def register(sub) -> None:
    p = sub.add_parser("score", help="score a model on your own measured experiments against persistence",
                       description=__doc__.split("\n\n", 1)[1])
    p.add_argument("--data", required=True, type=Path, metavar="FILE", help="measured dataset (.h5)")
    p.add_argument("--run", required=True, type=Path, metavar="RUN", help="run folder from `operando ir train`")
    p.add_argument("--first", type=int, default=1, metavar="K",
                   help="spectra given per experiment (default 1: forecast from the first spectrum)")
    p.add_argument("--experiment", action="append", default=None, metavar="NAME",
                   help="score only this experiment (repeatable; default: all)")
    p.add_argument("--seed", type=int, default=None, help="seed of the draws (default: the model's)")
    p.add_argument("-o", "--out", type=Path, default=None, metavar="DIR",
                   help="output folder (new, empty, or an earlier score folder, replaced with --force)")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.set_defaults(func=run)


MARKER_FILE = "score.json"


def run(args) -> int:
    import json

    from operando.atomic import atomic_path, refuse_overwrite, write_text
    from operando.errors import InputError
    from operando.ir.bench.measured import score_measured
    from operando.ir.bench.runner import markdown_table
    from operando.ir.data.dataset import OperandoDataset
    from operando.ir.forecast import load_model

    if args.first < 1:
        raise InputError(None, f"must be an integer >= 1, got {args.first}", field="--first")
    out = args.out
    if out is not None:
        refuse_overwrite(out, args.force, folder=True, marker=MARKER_FILE, what="score")  # before the work
    model = load_model(args.run)
    ds = OperandoDataset.load(args.data)
    names = args.experiment or ds.names
    missing = [n for n in names if n not in ds.names]
    if missing:
        raise InputError(args.data, f"no experiment {missing[0]!r}; it has {ds.names}")
    seed = int(model.forecaster.seed if args.seed is None else args.seed)
    score = score_measured(model.forecaster, [ds[n] for n in names], first=args.first,
                           preprocess=model.preprocess, seed=seed, source=str(args.data))
    table = score.table()
    shown = table.copy()
    for column in shown.columns[2:]:
        shown[column] = shown[column].map(lambda v: f"{v:.4g}")
    n_spectra = int(len(score.per_spectrum) / (len(score.forecasts) * 2))
    head = (f"{model.name} from {args.run} on {args.data}: {len(names)} experiment(s), {n_spectra} forecast "
            f"spectra (first {args.first} given), seed {seed}, point forecast = mean change of "
            f"{score.info['draws_averaged']} draws\nMAE / 1e-2, MSE / 1e-3, RMSE / 1e-2, SAM in degrees; "
            "units: the first spectrum's (absorbance - baseline) / band scale")
    text = head + "\n\n" + markdown_table(shown) + "\n"
    print(text, end="")
    if out is not None:
        info = dict(score.info, format="operando-score", model=model.name, run=str(args.run), data=str(args.data),
                    experiments=list(names), table=json.loads(table.to_json(orient="records")))
        with atomic_path(out, directory=True) as tmp:
            write_text(tmp / "score.md", text)
            table.to_csv(tmp / "score.csv", index=False)
            score.per_spectrum.to_csv(tmp / "per_spectrum.csv", index=False)
            score.per_experiment.to_csv(tmp / "per_experiment.csv", index=False)
            write_text(tmp / MARKER_FILE, json.dumps(info, indent=2, default=_plain) + "\n")
        print(f"wrote {out}/: score.md, score.csv, per_spectrum.csv, per_experiment.csv, {MARKER_FILE}")
    return 0


def _plain(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
