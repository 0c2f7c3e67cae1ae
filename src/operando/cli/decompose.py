"""``operando decompose`` (MCR-ALS of one experiment) and ``operando plot`` (its figures).

``operando decompose DATA.h5 -e NAME -o DIR [-k K] [--closure TOTAL] [--fix-initial]
[--unimodal 2,3]`` resolves the experiment's sequence into component spectra and
concentration profiles and writes ``components.csv``, ``concentrations.csv``,
``decomposition.png`` and ``summary.json`` (lack of fit, singular values, library names of
the components, and agreement with the ground truth for simulated data).

``operando plot DATA.h5 -e NAME --kind heatmap|waterfall|difference -o FIG.png`` draws one
of the sequence figures.
"""
from __future__ import annotations

from pathlib import Path

PLOT_KINDS = ("heatmap", "waterfall", "difference")


def register(sub) -> None:
    p = sub.add_parser("decompose", help="curve resolution (MCR-ALS) of one experiment",
                       description="Split an operando sequence into component spectra and their "
                                   "concentration profiles (MCR-ALS with non-negativity).")
    p.add_argument("dataset", metavar="DATA.h5", help="HDF5 dataset")
    p.add_argument("-e", "--experiment", help="experiment name (default: the only one)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="folder for the results")
    p.add_argument("-k", "--n-components", default="auto",
                   help="number of components, or 'auto' (singular values above the noise; default)")
    p.add_argument("--init", choices=("simplisma", "svd-nnls"), default="simplisma",
                   help="initial estimate (default simplisma)")
    p.add_argument("--closure", type=float, default=None, metavar="TOTAL",
                   help="make every row of the concentrations sum to TOTAL")
    p.add_argument("--fix-initial", action="store_true",
                   help="hold the first measured spectrum (pristine cell) fixed as component 1")
    p.add_argument("--unimodal", default="", metavar="LIST",
                   help="comma-separated 1-based components with unimodal profiles, e.g. 2,3")
    p.add_argument("--max-iter", type=int, default=1000, help="ALS iterations at most (default 1000)")
    p.set_defaults(func=run_decompose)

    q = sub.add_parser("plot", help="draw a heatmap, waterfall or difference figure of one experiment",
                       description="Draw one figure of an operando sequence (wavenumber axis high to low).")
    q.add_argument("dataset", metavar="DATA.h5", help="HDF5 dataset")
    q.add_argument("-e", "--experiment", help="experiment name (default: the only one)")
    q.add_argument("--kind", choices=PLOT_KINDS, default="heatmap", help="figure (default heatmap)")
    q.add_argument("-o", "--output", required=True, metavar="FIG.png", help="output image (PNG, PDF or SVG)")
    q.set_defaults(func=run_plot)


def _experiment(args):
    from operando.data.dataset import OperandoDataset
    from operando.errors import InputError

    dataset = OperandoDataset.load(args.dataset)
    if args.experiment is None:
        if len(dataset) != 1:
            raise InputError(args.dataset, f"holds {len(dataset)} experiments; choose one with "
                                           f"--experiment (e.g. {dataset.names[:3]})")
        return dataset.experiments[0]
    if args.experiment not in dataset.names:
        raise InputError(args.dataset, f"no experiment named {args.experiment!r}; have "
                                       f"{dataset.names[:10]}", field="--experiment")
    return dataset[args.experiment]


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


def _csv(header: list[str], columns) -> str:
    import numpy as np

    rows = np.column_stack(columns)
    lines = [",".join(header)] + [",".join(f"{v:.9g}" for v in row) for row in rows]
    return "\n".join(lines) + "\n"


def run_decompose(args) -> int:
    import json

    import numpy as np

    from operando.atomic import write_text
    from operando.decompose import (match_components, match_to_reference, mcr_als, profile_agreement,
                                    suggest_n_components)
    from operando.errors import InputError
    from operando.plots import plot_decomposition

    e = _experiment(args)
    D = np.asarray(e.absorbance, dtype=np.float64)
    k_suggested, singular_values, explained = suggest_n_components(D)
    k, unimodal = _parse_components(args, min(D.shape))
    k = k_suggested if k is None else k
    bad = [i + 1 for i in unimodal if i >= k]
    if bad:
        raise InputError(None, f"components {bad} do not exist (K = {k})", field="--unimodal")
    fixed = {0: D[0]} if args.fix_initial else None
    if fixed and k < 2:
        raise InputError(None, "--fix-initial needs at least 2 components", field="--n-components")
    result = mcr_als(D, k, init=args.init, closure=args.closure, fixed_spectra=fixed,
                     unimodal=unimodal, max_iter=args.max_iter)

    names = [f"component {i + 1}" for i in range(k)]
    summary = {"experiment": e.name, "n_components": k, "n_components_suggested": k_suggested,
               "singular_values": singular_values[:10].tolist(),
               "explained_variance_cumulative": explained[:10].tolist(),
               "lack_of_fit_percent": result.lack_of_fit_percent,
               "explained_variance": result.explained_variance, "n_iter": result.n_iter,
               "converged": result.converged, "fixed_components": [i + 1 for i in result.fixed]}
    try:  # the simulator's band library names the components, where it is available
        from operando.simulate.bands import BAND_LIBRARY
    except ImportError:
        BAND_LIBRARY = None
    if BAND_LIBRARY:
        matches = match_components(result.S, e.wavenumber_cm1, BAND_LIBRARY, one_to_one=True)
        summary["library_matches"] = [{"component": m.component + 1, "species": m.species,
                                       "score": m.score} for m in matches]
        names = [f"{i + 1}: {m.species}" for i, m in enumerate(matches)]
    if e.truth is not None:
        perm, corr = match_to_reference(result.S, e.truth.component_spectra)
        profiles = profile_agreement(result.C, e.truth.concentrations, perm)
        summary["truth_agreement"] = [
            {"true_component": name, "recovered_component": int(p) + 1 if p >= 0 else None,
             "spectrum_correlation": None if np.isnan(c) else float(c),
             "profile_correlation": None if np.isnan(r) else float(r)}
            for name, p, c, r in zip(e.truth.component_names, perm, corr, profiles)]

    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    header = [f"Component {i + 1}" for i in range(k)]
    write_text(out / "components.csv", _csv(["Wavenumber [cm-1]"] + header,
                                            [e.wavenumber_cm1] + list(result.S)))
    write_text(out / "concentrations.csv", _csv(["Time [s]", "Voltage [V]"] + header,
                                                [e.time_s, e.voltage_v] + list(result.C.T)))
    plot_decomposition(e.wavenumber_cm1, result.S, result.C, e.time_s, e.voltage_v, names,
                       title=e.name, path=out / "decomposition.png")
    write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")

    print(f"{e.name}: K = {k} (suggested {k_suggested}), lack of fit {result.lack_of_fit_percent:.3g} %, "
          f"{result.n_iter} iterations{'' if result.converged else ' (not converged)'}")
    for name in names:
        print(f"  {name}")
    print(f"wrote {out}/components.csv, concentrations.csv, decomposition.png, summary.json")
    return 0


def run_plot(args) -> int:
    from operando.plots import plot_difference, plot_heatmap, plot_waterfall

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
