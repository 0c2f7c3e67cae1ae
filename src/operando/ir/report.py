"""The report a scientist opens: one self-contained HTML page (figures embedded as base64 PNGs).

:func:`write_report` gathers, for a dataset, a benchmark results folder and optionally a
trained forecaster's run folder:

* the OpIRBench tables of both splits (``results/<split>/table.md``, rendered as HTML);
* for the experiments shown (default: one per held-out system of the system split): the
  sequence heatmap with the voltage beside it, the waterfall, the difference spectra with
  the semi-carbonate and Li2CO3 regions shaded, predicted versus true spectra at the
  beginning, middle and end with the 90 % interval of the sampled forecasts shaded (with a
  model), and the curve resolution (:mod:`operando.ir.pathways`) of the measured
  sequence and of the forecast, with the agreement scores.

The page needs no server, no script and no network: every image is a ``data:image/png`` URI
and the CSS is inline. It is written atomically.
"""
from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from operando.atomic import write_text
from operando.errors import InputError
from operando.ir.data.dataset import OperandoDataset

SPLIT_NAMES = ("random", "system")
FIGURE_DPI = 90
# Figure sizes (inches at FIGURE_DPI) that fit the page's 1200 px column without being scaled
# down, so their text keeps its size: one figure across (1116 px) or two side by side (549 px each).
FULL_WIDTH = (12.4, 4.6)
HALF_WIDTH = (6.1, 4.8)
INTERVAL_LEVEL = 0.9

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0 auto; max-width: 1200px;
       padding: 1em 2em; color: #222; line-height: 1.4; }
h1 { border-bottom: 2px solid #345; padding-bottom: 0.2em; }
h2 { margin-top: 2em; border-bottom: 1px solid #bbb; }
h3 { margin-top: 1.5em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #eef2f6; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 0 1.5em; align-items: start; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; display: block; }
figcaption { font-size: 0.85em; color: #555; }
.meta td { text-align: left; }
.note { color: #666; font-size: 0.9em; }
.good { color: #1a7f37; font-weight: 600; }
.weak { color: #b35900; font-weight: 600; }
.smoke { background: #fff3cd; border: 2px solid #b35900; padding: 0.6em 1em; font-weight: 600; }
"""


@dataclass
class ReportInputs:
    """What a report is made of (paths resolved, dataset loaded)."""

    dataset: OperandoDataset | None
    data_path: Path | None
    results_dir: Path | None
    run_dir: Path | None
    calibration: OperandoDataset | None = None
    experiments: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- HTML pieces


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def figure_to_data_uri(fig, dpi: int = FIGURE_DPI) -> str:
    """A matplotlib Figure as a ``data:image/png;base64,...`` URI."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure_html(fig, caption: str, size: tuple[float, float] | None = None) -> str:
    """A figure with its caption; ``size`` (inches) re-lays the figure out at that size first."""
    if size is not None:
        fig.set_size_inches(*size)
    return (f'<figure><img alt="{_esc(caption)}" src="{figure_to_data_uri(fig)}">'
            f"<figcaption>{_esc(caption)}</figcaption></figure>")


_NUMBER = re.compile(r"^[-+−]?(\d|\.\d)")


def _is_number(cell: str) -> bool:
    """A cell that reads as a number (``0.631 ± 0.125``, ``-0.397``, ``1e-3``): right-aligned."""
    return bool(_NUMBER.match(cell)) or cell in ("-", "nan")


def markdown_table_to_html(text: str) -> str:
    """A pipe table (``| a | b |`` lines, second line the ``---`` rule) as an HTML table.

    Cells are escaped; lines that are not table rows are ignored. Raises ValueError when
    there is no table.
    """
    rows = [line.strip() for line in text.splitlines() if line.strip().startswith("|")]
    # a "\\|" inside a cell is a literal bar (operando.ir.bench.runner.markdown_table writes them)
    bars = re.compile(r"(?<!\\)\|")
    cells = [[c.strip().replace("\\|", "|") for c in bars.split(row)[1:-1]] for row in rows]
    cells = [r for r in cells if not all(set(c) <= set("-: ") and c for c in r)]  # drop the rule line
    if not cells:
        raise ValueError("no table found")
    head, body = cells[0], cells[1:]
    # a column whose every cell is a number is right-aligned (header too); text columns stay left
    numeric = [bool(body) and all(j < len(r) and _is_number(r[j]) for r in body) for j in range(len(head))]
    cls = [' class="num"' if n else "" for n in numeric]
    out = ["<table>", "<tr>" + "".join(f"<th{cls[j]}>{_esc(c)}</th>" for j, c in enumerate(head)) + "</tr>"]
    out += ["<tr>" + "".join(f"<td{cls[j] if j < len(cls) else ''}>{_esc(c)}</td>" for j, c in enumerate(r))
            + "</tr>" for r in body]
    return "\n".join(out + ["</table>"])


def _key_value_table(rows: Sequence[tuple[str, str]]) -> str:
    return '<table class="meta">' + "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in rows) \
        + "</table>"


def _r(x) -> str:
    if x is None:
        return "-"
    cls = "good" if x >= 0.9 else "weak"
    return f'<span class="{cls}">{x:.3f}</span>'


# --------------------------------------------------------------------------- inputs


def classify_paths(paths: Sequence[str | Path]) -> tuple[Path | None, Path | None]:
    """(results_dir, run_dir) from positional paths: a run folder holds ``forecaster.json``;
    a results folder holds ``random/`` or ``system/`` (with ``table.md``)."""
    results, run = None, None
    for p in map(Path, paths):
        if (p / "forecaster.json").is_file():
            run = p
        elif any((p / s).is_dir() for s in SPLIT_NAMES):
            results = p
        else:
            raise InputError(p, "is neither a benchmark results folder (with random/ or system/ inside) "
                                "nor a training run folder (with forecaster.json)")
    return results, run


def held_out_experiments(dataset: OperandoDataset, results_dir: Path | None = None,
                         run_dir: Path | None = None, per_system: int = 1) -> list[str]:
    """Experiments to show: up to ``per_system`` of each held-out system of the system split.

    The held-out systems come from the split file the benchmark saved
    (``results/splits/system.csv``) or the run's (``run/system.csv``), else from
    :data:`operando.ir.bench.splits.SYSTEM_SPLIT_HELD_OUT`; when none of them is in the dataset,
    the first experiment is shown.
    """
    from operando.ir.bench.splits import SYSTEM_SPLIT_HELD_OUT, load_split

    test_names: list[str] = []
    for folder in (results_dir / "splits" if results_dir else None, run_dir):
        if folder is not None and (folder / "system.csv").is_file():
            try:
                test_names = list(load_split(folder / "system.csv", dataset).test)
                break
            except InputError:
                continue  # a split of another dataset: fall back
    if not test_names:
        systems = dataset.systems()
        test_names = [e.name for s in SYSTEM_SPLIT_HELD_OUT if s in systems for e in systems[s]]
    if not test_names:
        return dataset.names[:1]
    chosen, count = [], {}
    for name in sorted(test_names):
        system = dataset[name].system
        if count.get(system, 0) < per_system:
            chosen.append(name)
            count[system] = count.get(system, 0) + 1
    return chosen


def _run_description(run_dir: Path) -> list[tuple[str, str]]:
    """Provenance of a run folder: name, split, seed, objective, training steps -- from run.json
    (``operando ir train``), else from forecaster.json and config.json (a run folder of
    ``operando ir bench``, named ``<model>-<split>[-seed-<N>]``)."""
    rows = [("Run folder", str(run_dir))]

    def read(name: str) -> dict:
        try:
            value = json.loads((run_dir / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}

    run = read("run.json")
    if run:
        name, split, seed = run.get("name"), run.get("split"), run.get("seed")
        model, steps = run.get("model", {}), run.get("training", {}).get("steps")
    else:
        forecaster, training = read("forecaster.json"), read("config.json")
        if not forecaster:
            return rows
        named = re.match(r"^(.*)-(random|system)(?:-seed-\d+)?$", run_dir.name)
        name, split = run_dir.name, named.group(2) if named else "not recorded"
        seed, model, steps = forecaster.get("seed"), forecaster.get("model", {}), training.get("steps")
    rows += [("Run", f"{name} (split {split}, seed {seed})"),
             ("Model", f"{model.get('objective')} / {model.get('preset')} / target {model.get('target')}"),
             ("Training steps", str(steps))]
    return rows


# --------------------------------------------------------------------------- sections


def _tables_section(results_dir: Path | None) -> str:
    parts = ["<h2>Benchmark (OpIRBench)</h2>"]
    if results_dir is None:
        return parts[0] + '<p class="note">No results folder given (operando ir bench --out RESULTS).</p>'
    for split in SPLIT_NAMES:
        md = results_dir / split / "table.md"
        parts.append(f"<h3>{_esc(split)} split</h3>")
        if md.is_file():
            try:
                parts.append(markdown_table_to_html(md.read_text(encoding="utf-8")))
            except ValueError:
                parts.append(f'<p class="note">{_esc(md)} holds no table.</p>')
        else:
            parts.append(f'<p class="note">No table for this split ({_esc(md)} is missing).</p>')
    parts.append('<p class="note">Mean ± standard deviation over the test spectra (DILATE: over the test '
                 "experiments); scalings as in the column headers; ↓ lower is better, ↑ higher is better.</p>")
    return "\n".join(parts)


_TEXT, _NUM = "", ' class="num"'


def _agreement_table(result: dict) -> str:
    measured, forecast = result["measured"], result["forecast"]
    scores = result["scores"]
    by_component = {}
    for key in ("measured_vs_true", "forecast_vs_measured"):
        s = scores.get(key) or {}
        for row in s.get("components", []) + s.get("pairs", []):
            by_component.setdefault(row["component"], {})[key] = row
    head = ["Component", "Library name", "Library mix", "Spectrum r vs truth", "Profile r vs truth"]
    if forecast is not None:
        head += ["Spectrum r forecast vs measured", "Profile r forecast vs measured"]
    rows = []
    for k in range(measured.n_components):
        if k in measured.fixed:
            continue
        entry = by_component.get(k + 1, {})
        truth = entry.get("measured_vs_true", {})
        mix = ", ".join(f"{s} {v:.0%}" for s, v in (measured.composition[k] if measured.composition else {}).items())
        cells = [str(k + 1), measured.names[k] if measured.names else "?", mix or "-"]
        html_cells = [_esc(c) for c in cells]
        name = truth.get("true_component")
        html_cells += [(_r(truth.get("spectrum_correlation")) + (f" ({_esc(name)})" if name else "")),
                       _r(truth.get("profile_correlation"))]
        if forecast is not None:
            pair = entry.get("forecast_vs_measured", {})
            html_cells += [_r(pair.get("spectrum_correlation")), _r(pair.get("profile_correlation"))]
        # component number and correlations right-aligned, names and mix left
        rows.append("<tr>" + "".join(f"<td{_TEXT if j in (1, 2) else _NUM}>{c}</td>"
                                     for j, c in enumerate(html_cells)) + "</tr>")
    table = ("<table><tr>" + "".join(f"<th{_TEXT if j in (1, 2) else _NUM}>{_esc(h)}</th>"
                                     for j, h in enumerate(head)) + "</tr>" + "".join(rows) + "</table>")
    lines = ["r is the correlation of two curves (1: the same shape, 0: unrelated, below 0: opposite); green: "
             "r >= 0.9, the components agree; orange: they do not. An orange r near 0 for the forecast means "
             "the forecast's decomposition did not recover that component -- a weak forecast, not a fault in the "
             "measured data."]
    lines += [f"K = {measured.n_components} (suggested {measured.n_components_suggested}); singular values / noise "
             f"edge {np.round(measured.singular_values[:6], 2).tolist()}; lack of fit "
             f"{measured.lack_of_fit_percent:.2f} %; background: {', '.join(measured.background_names)}."]
    fvt = scores.get("forecast_vs_true")
    if fvt:
        lines.append("Forecast-derived components versus the true products: " + "; ".join(
            f"component {c['component']} ({c['name']}) ~ {c['true_component']}: spectrum r "
            f"{c['spectrum_correlation']}, profile r {c['profile_correlation']}" for c in fvt["components"]) + ".")
    if scores.get("measured_vs_true") is None:
        lines.append("No ground truth (measured data): only the library names are available.")
    return table + "".join(f'<p class="note">{_esc(line)}</p>' for line in lines)


def _experiment_section(e_raw, inputs: ReportInputs, model, n_samples: int, seed: int) -> str:
    """Figures and decomposition of one experiment (``e_raw`` as loaded)."""
    from operando.ir.bench.task import masked
    from operando.ir.bench.uncertainty import summarize_samples
    from operando.ir.data.preprocess import preprocess_experiment
    from operando.ir.pathways import compare_pathways
    from operando.plots import plot_decomposition, plot_difference, plot_forecast_vs_true, plot_heatmap, plot_waterfall

    e, _ = preprocess_experiment(e_raw)
    wn, a, t, v = e.wavenumber_cm1, e.absorbance, e.time_s, e.voltage_v
    parts = [f"<h3>{_esc(e.name)}</h3>",
             _key_value_table([("System", e.system), ("Spectra", str(len(e))),
                               ("Duration", f"{(t[-1] - t[0]) / 3600:.1f} h"),
                               ("Voltage range", f"{v.min():.2f} - {v.max():.2f} V")])]
    # the wide heatmap across the page, then waterfall and difference spectra side by side at one size
    parts.append(_figure_html(plot_heatmap(wn, t, a, v, title=e.name),
                              "Preprocessed sequence (normalised absorbance) with the voltage beside it.", FULL_WIDTH))
    parts.append('<div class="pair">')
    parts.append(_figure_html(plot_waterfall(wn, a, v, time_s=t, title=e.name),
                              "Waterfall: spectra across the sequence, coloured by voltage.", HALF_WIDTH))
    parts.append(_figure_html(plot_difference(wn, a, v, time_s=t, title=f"{e.name}: s(t) - s(0)"),
                              "Difference spectra relative to the first spectrum; semi-carbonate and Li2CO3 "
                              "regions shaded.", HALF_WIDTH))
    parts.append("</div>")
    forecasts = None
    if model is not None:
        steps = np.arange(len(e))
        draws = model.sample(masked(e, [0]), steps, n_samples=n_samples, seed=seed)
        summary = getattr(model, "summarize", summarize_samples)(draws, level=INTERVAL_LEVEL)
        forecasts = {e.name: summary.mean}
        parts.append(_figure_html(
            plot_forecast_vs_true(wn, a, summary.mean, summary.low, summary.high, v, time_s=t,
                                  title=f"{e.name}: forecast from the first spectrum"),
            f"Predicted (mean of {n_samples} draws, {INTERVAL_LEVEL:.0%} interval shaded) versus true spectra at "
            "the beginning, middle and end of the sequence.", FULL_WIDTH))
    result = compare_pathways(OperandoDataset([e], simulated=True), e.name, forecasts=forecasts,
                              calibration=inputs.calibration, preprocess=False)
    measured = result["measured"]
    parts.append("<h4>Curve resolution (SEI pathways)</h4>")
    parts.append(_figure_html(
        plot_decomposition(wn, measured.spectra, measured.profiles[0], t, v, measured.labels(),
                           title=f"{e.name}: components of the measured sequence"),
        "MCR-ALS of the difference sequence over a signed electrolyte background (docs/ir/decomposition.md): "
        "component spectra and their amounts versus time, voltage dashed.", FULL_WIDTH))
    if result["forecast"] is not None:
        f = result["forecast"]
        parts.append(_figure_html(
            plot_decomposition(wn, f.spectra, f.profiles[0], t, v, f.labels(),
                               title=f"{e.name}: components of the forecast"),
            "The same decomposition (same K and background) of the model's forecast.", FULL_WIDTH))
    parts.append(_agreement_table(result))
    return "\n".join(parts)


# --------------------------------------------------------------------------- the page


def write_report(output: str | Path, *, data: str | Path | OperandoDataset | None = None,
                 results: str | Path | None = None, run: str | Path | None = None,
                 calibration: str | Path | OperandoDataset | None = None,
                 experiments: Sequence[str] | None = None, n_samples: int = 16, seed: int = 0,
                 title: str = "operando report") -> Path:
    """Write the HTML report to ``output`` (atomically) and return its path.

    ``data``: the dataset (.h5 path or loaded; default: the ``data`` of the run's run.json);
    ``results``: an ``operando ir bench --out`` folder; ``run``: a training run folder (without
    it the page shows data, tables and the decomposition of the measured sequence only);
    ``calibration``: calibration set for the decomposition's electrolyte background (default:
    the band library); ``experiments``: which to show (default :func:`held_out_experiments`);
    ``n_samples`` forecast draws (>= 2) for the interval.
    """
    if n_samples < 2:
        raise InputError(None, f"n_samples must be at least 2 for an interval, got {n_samples}", field="--samples")
    results_dir = None if results is None else Path(results)
    run_dir = None if run is None else Path(run)
    if results_dir is not None and not results_dir.is_dir():
        raise InputError(results_dir, "results folder not found")
    model = None
    if run_dir is not None:
        from operando.ir.models.runs import load_run

        model = load_run(run_dir)
        if data is None:
            try:
                data = json.loads((run_dir / "run.json").read_text(encoding="utf-8")).get("data")
            except (OSError, ValueError):
                data = None
    dataset, data_path = None, None
    if isinstance(data, OperandoDataset):
        dataset = data
    elif data is not None:
        data_path = Path(data)
        if not data_path.is_file():
            raise InputError(data_path, "dataset file not found")
        dataset = OperandoDataset.load(data_path)
    cal = OperandoDataset.load(calibration) if isinstance(calibration, (str, Path)) else calibration
    if dataset is not None:
        names = list(experiments) if experiments else held_out_experiments(dataset, results_dir, run_dir)
        unknown = [n for n in names if n not in dataset.names]
        if unknown:
            raise InputError(data_path, f"no experiments {unknown}; have {dataset.names[:10]}", field="--experiment")
    else:
        names = []
    inputs = ReportInputs(dataset, data_path, results_dir, run_dir, cal, names)

    from operando import __version__

    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    meta = [("Generated", f"{now} by operando {__version__}")]
    if dataset is not None:
        meta += [("Data", f"{data_path or 'in memory'}: {len(dataset)} experiments, {dataset.n_spectra} spectra"
                          f"{' (SIMULATED)' if dataset.simulated else ''}")]
        if dataset.description:
            meta.append(("Description", dataset.description))
    if results_dir is not None:
        meta.append(("Results", str(results_dir)))
    meta += _run_description(run_dir) if run_dir is not None else [("Model", "none (no run folder given)")]
    body = [f"<h1>{_esc(title)}</h1>"]
    from operando.ir.smoke import SMOKE_NOTE, is_smoke_run

    if is_smoke_run(results_dir) or is_smoke_run(run_dir):
        body.append(f'<p class="smoke">{_esc(SMOKE_NOTE)}.</p>')
        meta.insert(0, ("Smoke run", "yes: made with --quick"))
    body += [_key_value_table(meta), _tables_section(results_dir)]
    if dataset is not None:
        if experiments:
            body.append("<h2>Experiments</h2>")
        else:
            body.append("<h2>Held-out systems</h2><p class=\"note\">One experiment of each battery system that the "
                        "system split holds out of training: the model has seen no cell of these systems.</p>")
        for name in names:
            body.append(_experiment_section(dataset[name], inputs, model, n_samples, seed))
    else:
        body.append('<p class="note">No dataset given: no figures.</p>')
    page = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{_esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    write_text(output, page)
    return output
