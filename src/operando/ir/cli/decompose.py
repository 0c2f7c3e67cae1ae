"""``operando ir decompose`` (curve resolution of one experiment) and ``operando ir plot`` (its figures).

``operando ir decompose DATA.h5 -e NAME -o DIR [--model RUN] [--calibration CAL.h5] [-k K]
[--mode difference|raw] [--references auto|calibration|library|none] [--unimodal 1,2]
[--closure TOTAL] [--fix-initial]`` resolves the experiment's preprocessed sequence into
component spectra and concentration profiles (:mod:`operando.ir.pathways`; default:
the difference sequence ``s_m - s_0`` over a signed electrolyte background, non-negative
SEI components, K from the noise-whitened singular values, which are printed). It writes
``components.csv``, ``concentrations.csv`` (with time and voltage), ``decomposition.png``
and ``summary.json`` (fit, singular values, library names, agreement with the ground truth
for simulated data). With ``--model RUN`` the model's forecast of the same experiment from its
first spectrum is resolved alike (same K): ``forecast_components.csv``,
``forecast_concentrations.csv``, ``forecast_decomposition.png`` and the agreement scores in
``summary.json``. Several ``-e`` resolve those experiments together (shared spectra).

``operando ir plot DATA.h5 -e NAME --kind heatmap|waterfall|difference -o FIG.png`` draws one
of the sequence figures.
"""
from __future__ import annotations

from pathlib import Path

from operando.atomic import FORCE_HELP

PLOT_KINDS = ("heatmap", "waterfall", "difference")


def register(sub) -> None:
    p = sub.add_parser("decompose", help="curve resolution (MCR-ALS) of an experiment and of its forecast",
                       description="Split an operando sequence (and, with --model, the model's forecast of it) "
                                   "into component spectra and concentration profiles (MCR-ALS). Default: the "
                                   "difference sequence s_m - s_0 over a signed electrolyte background, "
                                   "non-negative components. See docs/ir/decomposition.md.")
    p.add_argument("dataset", metavar="DATA.h5", help="HDF5 dataset")
    p.add_argument("-e", "--experiment", action="append", metavar="NAME",
                   help="experiment name (default: the only one); repeat to resolve several experiments of "
                        "one system together (shared component spectra)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="folder for the results")
    p.add_argument("--model", type=Path, metavar="RUN",
                   help="run folder of a trained forecaster: also resolve its forecast from the first spectrum")
    p.add_argument("--mode", choices=("difference", "raw"), default=None,
                   help="difference: s_m - s_0 over a signed background (default); raw: the spectra themselves")
    p.add_argument("--calibration", type=Path, metavar="CAL.h5",
                   help="calibration set (e.g. `operando ir simulate --calibration`) whose electrolyte spectra "
                        "form the background")
    p.add_argument("--references", choices=("auto", "calibration", "library", "none"), default="auto",
                   help="electrolyte reference spectra in the background (default auto: the calibration set "
                        "when given, else the band library's bulk species)")
    p.add_argument("-k", "--n-components", default="auto",
                   help="number of components to resolve, not counting a fixed s_0, or 'auto' (noise-whitened "
                        "singular values above --margin; default)")
    p.add_argument("--margin", type=float, default=None,
                   help="singular values above this many noise edges count as components (default 4)")
    p.add_argument("--init", choices=("simplisma", "svd-nnls"), default="simplisma",
                   help="initial estimate (default simplisma)")
    p.add_argument("--closure", type=float, default=None, metavar="TOTAL",
                   help="make every row of the concentrations sum to TOTAL")
    p.add_argument("--fix-initial", action="store_true",
                   help="hold the first measured spectrum (pristine cell) fixed as component 1 (implies --mode raw)")
    p.add_argument("--unimodal", default="", metavar="LIST",
                   help="comma-separated 1-based components with unimodal profiles, e.g. 1,2")
    p.add_argument("--weights", choices=("noise", "none"), default="noise",
                   help="weight each spectrum by its inverse noise level (default) or not")
    p.add_argument("--max-iter", type=int, default=500, help="ALS iterations at most (default 500)")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.set_defaults(func=run_decompose)

    q = sub.add_parser("plot", help="draw a heatmap, waterfall or difference figure of one experiment",
                       description="Draw one figure of an operando sequence (wavenumber axis high to low).")
    q.add_argument("dataset", metavar="DATA.h5", help="HDF5 dataset")
    q.add_argument("-e", "--experiment", help="experiment name (default: the only one)")
    q.add_argument("--kind", choices=PLOT_KINDS, default="heatmap", help="figure (default heatmap)")
    q.add_argument("-o", "--output", required=True, metavar="FIG.png", help="output image (PNG, PDF or SVG)")
    q.add_argument("--force", action="store_true", help=FORCE_HELP)
    q.set_defaults(func=run_plot)


def _load_dataset(path):
    from operando.ir.data.dataset import OperandoDataset

    return OperandoDataset.load(path)


def _experiment_names(dataset, path, requested: list[str] | None) -> list[str]:
    """The experiments asked for (default: the only one); InputError for unknown names."""
    from operando.errors import InputError

    if not requested:
        if len(dataset) != 1:
            raise InputError(path, f"holds {len(dataset)} experiments; choose one with "
                                   f"--experiment (e.g. {dataset.names[:3]})")
        return [dataset.names[0]]
    for name in requested:
        if name not in dataset.names:
            raise InputError(path, f"no experiment named {name!r}; have {dataset.names[:10]}",
                             field="--experiment")
    return list(dict.fromkeys(requested))


def _experiment(args):
    dataset = _load_dataset(args.dataset)
    return dataset[_experiment_names(dataset, args.dataset, [args.experiment] if args.experiment else None)[0]]


def _parse_components(args, n_max: int) -> tuple[int | None, list[int]]:
    from operando.errors import InputError

    k = None
    if args.n_components != "auto":
        try:
            k = int(args.n_components)
        except ValueError:
            raise InputError(None, f"expected a positive integer or 'auto', got {args.n_components!r}",
                             field="--n-components") from None
        if not 1 <= k <= n_max:
            raise InputError(None, f"expected 1..{n_max}, got {k}", field="--n-components")
    unimodal = []
    for item in filter(None, (s.strip() for s in args.unimodal.split(","))):
        if not item.isdigit() or int(item) < 1:
            raise InputError(None, f"expected 1-based component numbers, got {item!r}", field="--unimodal")
        unimodal.append(int(item) - 1)
    return k, unimodal


def _csv(header: list[str], columns, labels: list[str] | None = None) -> str:
    """CSV text: numeric ``columns``, optionally preceded by a text column ``labels``."""
    import numpy as np

    rows = np.column_stack(columns)
    lines = [",".join(header)]
    for i, row in enumerate(rows):
        cells = [f"{v:.9g}" for v in row]
        lines.append(",".join(([labels[i]] if labels is not None else []) + cells))
    return "\n".join(lines) + "\n"


def _write_decomposition(out: Path, prefix: str, d, title: str) -> list[str]:
    """components.csv, concentrations.csv and the figure(s) of one decomposition; file names."""
    import numpy as np

    from operando.atomic import write_text
    from operando.plots import plot_decomposition

    header = [f"Component {k + 1}" for k in range(d.n_components)]
    write_text(out / f"{prefix}components.csv",
               _csv(["Wavenumber [cm-1]"] + header, [d.wavenumber_cm1] + list(d.spectra)))
    several = len(d.experiments) > 1
    columns = [np.concatenate(d.time_s), np.concatenate(d.voltage_v)] + list(np.vstack(d.profiles).T)
    labels = [name for name, t in zip(d.experiments, d.time_s) for _ in t] if several else None
    write_text(out / f"{prefix}concentrations.csv",
               _csv((["Experiment"] if several else []) + ["Time [s]", "Voltage [V]"] + header, columns, labels))
    files = [f"{prefix}components.csv", f"{prefix}concentrations.csv"]
    for i, name in enumerate(d.experiments):
        fname = f"{prefix}decomposition{f'_{name}' if several else ''}.png"
        plot_decomposition(d.wavenumber_cm1, d.spectra, d.profiles[i], d.time_s[i], d.voltage_v[i], d.labels(),
                           title=f"{title}: {name}", path=out / fname)
        files.append(fname)
    return files


def _print_agreement(label: str, scores: dict | None) -> None:
    if not scores:
        return
    rows = scores.get("components") or scores.get("pairs") or []
    print(f"{label}:")
    for r in rows:
        other = r.get("true_component") or f"component {r.get('matched_component')} ({r.get('matched_name')})"
        print(f"  component {r['component']} ({r['name']}) ~ {other}: spectrum r = {r['spectrum_correlation']}, "
              f"profile r = {r['profile_correlation']}")


def run_decompose(args) -> int:
    import json

    import numpy as np

    from operando.atomic import refuse_overwrite, write_text
    from operando.errors import InputError
    from operando.ir.pathways import DEFAULT_MARGIN, compare_pathways, scores_summary

    if args.fix_initial and args.mode == "difference":
        raise InputError(None, "--fix-initial holds s_0 as a component of the raw spectra; it does not go with "
                               "--mode difference (there s_0 is always part of the background)", field="--fix-initial")
    mode = "raw" if args.fix_initial else (args.mode or "difference")
    refuse_overwrite(args.output, args.force, folder=True, what="decomposition")
    if args.references == "calibration" and args.calibration is None:
        raise InputError(None, "--references calibration needs --calibration CAL.h5", field="--references")
    dataset = _load_dataset(args.dataset)
    names = _experiment_names(dataset, args.dataset, args.experiment)
    n_spectra = sum(len(dataset[n]) for n in names)
    k, unimodal = _parse_components(args, n_spectra)
    calibration = _load_dataset(args.calibration) if args.calibration is not None else None
    forecaster = None
    if args.model is not None:
        from operando.ir.models.runs import load_run

        forecaster = load_run(args.model)
    options = {"init": args.init, "closure": args.closure, "fix_initial": args.fix_initial,
               "unimodal": unimodal, "max_iter": args.max_iter,
               "margin": DEFAULT_MARGIN if args.margin is None else args.margin}
    if args.weights == "none":
        options["row_weights"] = "none"
    try:
        result = compare_pathways(dataset, names, forecaster, calibration=calibration, references=args.references,
                                  n_components=k, mode=mode, **options)
    except ValueError as e:
        field = "--unimodal" if "unimodal" in str(e) else None
        raise InputError(None, str(e), field=field) from None
    measured, forecast = result["measured"], result["forecast"]

    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    title = "measured" if not dataset.simulated else "simulated"
    files = _write_decomposition(out, "", measured, title)
    if forecast is not None:
        files += _write_decomposition(out, "forecast_", forecast, "forecast")
    summary = {"experiment": names[0] if len(names) == 1 else names, "n_components": measured.n_components,
               "n_components_suggested": measured.n_components_suggested,
               "lack_of_fit_percent": measured.lack_of_fit_percent,
               "fixed_components": [i + 1 for i in measured.fixed],
               "library_matches": [{"component": m.component + 1, "species": m.species, "score": m.score}
                                   for m in measured.matches],
               "truth_agreement": result["scores"]["measured_vs_true"],
               "model": None if args.model is None else str(args.model)}
    summary.update(scores_summary(result))
    write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    files.append("summary.json")

    sv = np.round(measured.singular_values[:10], 2).tolist()
    print(f"{', '.join(names)} ({mode} mode; background: {', '.join(measured.background_names) or 'none'})")
    print(f"singular values / noise edge: {sv}")
    print(f"K = {measured.n_components} (suggested {measured.n_components_suggested} at margin "
          f"{options['margin']:g}), lack of fit {measured.lack_of_fit_percent:.3g} %, {measured.n_iter} iterations"
          f"{'' if measured.converged else ' (not converged)'}")
    for label, comp in zip(measured.labels(), measured.composition):
        mix = ", ".join(f"{s} {v:.0%}" for s, v in comp.items())
        print(f"  {label}" + (f"  (library mix: {mix})" if mix else ""))
    _print_agreement("measured vs true components", result["scores"]["measured_vs_true"])
    _print_agreement("forecast vs true components", result["scores"]["forecast_vs_true"])
    _print_agreement("forecast vs measured components", result["scores"]["forecast_vs_measured"])
    print(f"wrote {out}/: {', '.join(files)}")
    return 0


def run_plot(args) -> int:
    from operando.atomic import refuse_overwrite
    from operando.plots import plot_difference, plot_heatmap, plot_waterfall

    refuse_overwrite(args.output, args.force, what="figure")
    e = _experiment(args)
    title = e.name
    if args.kind == "heatmap":
        plot_heatmap(e.wavenumber_cm1, e.time_s, e.absorbance, e.voltage_v, title=title, path=args.output)
    elif args.kind == "waterfall":
        plot_waterfall(e.wavenumber_cm1, e.absorbance, e.voltage_v, time_s=e.time_s, title=title,
                       path=args.output)
    else:
        plot_difference(e.wavenumber_cm1, e.absorbance, e.voltage_v, time_s=e.time_s, title=title,
                        path=args.output)
    print(f"wrote {args.output}")
    return 0
