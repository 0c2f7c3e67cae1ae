"""Forecast a cell's operando IR sequence from one static spectrum, its voltage profile and its recipe.

This is the user-facing side of the ABCC method (arXiv 2602.18551): a trained flow forecaster
(a run folder from ``operando ir train``) turns the spectrum measured before cycling, the voltage
(and current) profile and ``experiment.json`` into the spectra the cell would show at every
step of the profile::

    import operando.ir
    model = operando.ir.load_model("runs/meanflow-small")
    result = model.forecast("static.0", "voltage.csv", "experiment.json", samples=16)
    result.to_csv("forecast/")     # forecast_mean.csv (+ _std, _low, _high), steps.csv, forecast.json
    result.plot("forecast/")       # forecast_heatmap.png, forecast_difference.png, forecast_stages.png

``operando ir forecast`` (:mod:`operando.ir.cli.forecast`) is this API on the command line.

Inputs and how they become the model's context:

* **static spectrum** -- any file :func:`operando.ir.io.read_spectrum` reads (Bruker OPUS,
  JCAMP-DX, CSV/TXT). It must cover 800-2000 cm-1 (:func:`~operando.ir.io.check_ir_window`) and be
  absorbance (transmittance is refused unless ``convert_transmittance``). It is resampled onto
  the common grid and normalised exactly like training data (:mod:`operando.ir.data.preprocess`):
  training normalised every experiment by its *first* spectrum, and the static spectrum is that
  first spectrum, so its baseline offset ``o_0`` and band scale ``s`` are those of the
  forecast sequence. Forecasts ``y`` are mapped back to absorbance with ``a = y * s + o_0``
  (spreads with ``y * s``); like the training targets they carry the static spectrum's
  baseline level.
* **voltage profile** -- an EC-Lab ``.mpt``/``.mpr`` or a CSV with ``Time [s]``,
  ``Voltage [V]`` and optionally ``Current [mA]`` (:func:`operando.echem.read_echem`). Step 0 is
  the start of the profile (where the static spectrum was taken). Every row is a forecast
  step, or the profile is thinned: ``every_s`` gives steps at t0, t0 + every_s, ... up to the
  end, ``steps`` gives that many evenly spaced times from start to end; voltage and current
  are interpolated linearly at those times, as ``operando ir import-operando`` does at spectrum
  times. A profile without current conditions the model on zero current.
* **experiment.json** -- :meth:`ExperimentMeta.from_json_file` (electrodes, protocol,
  electrolyte recipe).

Every malformed input raises one :class:`~operando.errors.InputError` naming the file, before
anything is written; :meth:`Forecast.save` writes the whole folder under a temporary name and
moves it into place, so a failed forecast leaves nothing behind.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from operando.atomic import atomic_path, write_text
from operando.errors import InputError, OperandoError
from operando.ir.smoke import is_smoke_run

# More steps than this without thinning is almost always a raw potentiostat log (EC-Lab
# writes a row every few seconds): one spectrum per row would make a CSV of that many columns.
MAX_STEPS = 5000
INTERVAL_LEVEL = 0.9
# Draws x steps per network call, so that long profiles with many draws fit in memory.
DRAWS_PER_CALL = 4096
MARKER_FILE = "forecast.json"
RUN_FILES = ("forecaster.json", "config.json", "model_config.json", "encoder.safetensors")
_CSV_SUFFIXES = (".csv", ".txt")


# ------------------------------------------------------------------------------ the result

@dataclass(eq=False)  # holds arrays
class Forecast:
    """A forecast operando sequence in absorbance units on the common wavenumber grid.

    Shapes: ``wavenumber_cm1`` (W,) ascending; ``time_s``, ``voltage_v``, ``current_ma`` (k,)
    (current None when the profile had none); ``mean`` (k, W) absorbance; ``std``, ``low``,
    ``high`` (k, W) or None: the spread (ddof=1) and the central ``level`` interval of the
    sampled forecasts, present when more than one draw was asked for; ``static_absorbance`` (W,)
    the static spectrum on the grid. ``info`` records inputs and settings (written as
    forecast.json).
    """

    wavenumber_cm1: np.ndarray
    time_s: np.ndarray
    voltage_v: np.ndarray
    current_ma: np.ndarray | None
    mean: np.ndarray
    static_absorbance: np.ndarray
    std: np.ndarray | None = None
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    level: float | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_steps(self) -> int:
        return int(len(self.time_s))

    def to_csv(self, folder: str | Path) -> list[Path]:
        """Write ``forecast_mean.csv`` (and ``_std``, ``_low``, ``_high``), ``steps.csv`` and
        ``forecast.json`` into ``folder`` (created if needed; each file written atomically).

        Forecast tables are wide: a ``Wavenumber [cm-1]`` column, then one column per step
        headed by its time in seconds (:mod:`operando.ir.models.export`).
        """
        from operando.ir.models.export import write_steps_csv, write_wide_csv

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tables = {"mean": self.mean, "std": self.std, "low": self.low, "high": self.high}
        paths = [write_wide_csv(folder / f"forecast_{name}.csv", self.wavenumber_cm1, values, self.time_s)
                 for name, values in tables.items() if values is not None]
        paths.append(write_steps_csv(folder / "steps.csv", np.arange(self.n_steps), self.time_s, self.voltage_v))
        record = dict(self.info, n_steps=self.n_steps, interval_level=self.level,
                      units="absorbance", tables=[p.name for p in paths])
        paths.append(write_text(folder / MARKER_FILE, json.dumps(record, indent=2) + "\n"))
        return paths

    def plot(self, folder: str | Path) -> list[Path]:
        """Write ``forecast_heatmap.png`` (absorbance), ``forecast_difference.png`` (change from
        the static input spectrum) and ``forecast_stages.png`` (beginning, middle, end; interval shaded) into ``folder``."""
        from operando.plots import plot_heatmap

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        name = self.info.get("experiment", "")
        heatmap = folder / "forecast_heatmap.png"
        difference = folder / "forecast_difference.png"
        stages = folder / "forecast_stages.png"
        plot_heatmap(self.wavenumber_cm1, self.time_s, self.mean, self.voltage_v,
                     title=f"Forecast {name}".strip(), path=heatmap)
        plot_heatmap(self.wavenumber_cm1, self.time_s, self.mean, self.voltage_v, difference=True,
                     reference=self.static_absorbance,
                     title=f"Forecast {name}: change from the static spectrum".replace("  ", " "), path=difference)
        plot_forecast_stages(self, path=stages)
        return [heatmap, difference, stages]

    def save(self, folder: str | Path) -> Path:
        """Write CSVs and plots into ``folder`` all at once (temporary folder moved into place).

        ``folder`` must be new, empty or an earlier forecast folder (one holding forecast.json),
        which is replaced whole.
        """
        folder = Path(folder)
        check_output_folder(folder)
        with atomic_path(folder, directory=True) as tmp:
            self.to_csv(tmp)
            self.plot(tmp)
        return folder


def plot_forecast_stages(result: Forecast, *, path: str | Path | None = None):
    """Forecast mean at the beginning, middle and end of the sequence, with the static spectrum
    it started from and, when sampled, the central interval shaded. Returns the Figure."""
    from operando.plots.common import (ABSORBANCE_LABEL, new_figure, save_figure, set_wavenumber_axis,
                                       time_axis)

    k = result.n_steps
    indices = list(dict.fromkeys([0, (k - 1) // 2, k - 1]))
    t, t_label = time_axis(result.time_s, k)
    unit = t_label[t_label.index("[") + 1:-1]
    fig = new_figure(4.0 * len(indices), 3.8)
    axes = np.atleast_1d(fig.subplots(1, len(indices), sharey=True))
    stages = ("beginning", "middle", "end") if len(indices) == 3 else ("beginning", "end")
    wn = result.wavenumber_cm1
    for ax, i, stage in zip(axes, indices, stages):
        if result.low is not None and result.high is not None:
            ax.fill_between(wn, result.low[i], result.high[i], color="tab:blue", alpha=0.25, lw=0,
                            label=f"{result.level:.0%} interval")
        ax.plot(wn, result.mean[i], color="tab:blue", lw=1.2, label="forecast mean")
        ax.plot(wn, result.static_absorbance, color="black", lw=0.9, ls=":", label="static spectrum (input)")
        set_wavenumber_axis(ax, wn)
        ax.set_title(f"{stage}, {result.voltage_v[i]:.3g} V, t = {t[i]:.3g} {unit}", fontsize=10)
    axes[0].set_ylabel(ABSORBANCE_LABEL)
    axes[0].legend(fontsize=8, loc="best")
    fig.suptitle(f"Forecast {result.info.get('experiment', '')}".strip())
    return save_figure(fig, path)


def check_output_folder(folder: str | Path) -> None:
    """Refuse an output path that is a file, or a folder holding anything but an earlier forecast."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(folder, "exists and is not a folder; give a folder for the forecast")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / MARKER_FILE).is_file():
        raise InputError(folder, f"exists and holds other files; give a new or empty folder (an earlier "
                                 f"forecast folder, one with {MARKER_FILE}, is replaced)")


# ------------------------------------------------------------------------------ the inputs

def read_static_spectrum(spectrum, *, convert_transmittance: bool = False):
    """Read and check the static spectrum: a path (or an already read Spectrum) -> absorbance Spectrum."""
    from operando.ir.io import Spectrum, check_ir_window, read_spectrum, require_absorbance

    s = spectrum if isinstance(spectrum, Spectrum) else read_spectrum(spectrum)
    check_ir_window(s)
    return require_absorbance(s, convert_transmittance=convert_transmittance)


def read_voltage_profile(voltage):
    """Read the voltage profile: a path (or an EchemLog) -> EchemLog with increasing times."""
    from operando.echem import EchemLog, read_echem

    if isinstance(voltage, EchemLog):
        return voltage
    path = Path(voltage)
    try:
        return read_echem(path)
    except InputError as e:
        # The shared reader words a missing column in EC-Lab names; say what a CSV needs.
        if path.suffix.lower() in _CSV_SUFFIXES and e.problem.startswith("no ") and "column" in e.problem:
            raise InputError(path, "a voltage CSV needs the columns 'Time [s]' and 'Voltage [V]' (optionally "
                                   f"'Current [mA]'); its header is {_header_fields(path, e.line)}",
                             line=e.line) from None
        raise


def _header_fields(path: Path, line: int | None) -> str:
    try:
        text = path.read_bytes().decode("utf-8", errors="replace").splitlines()[(line or 1) - 1]
    except (OSError, IndexError):
        return "unreadable"
    return ", ".join(repr(f.strip().strip('"')) for f in text.split(","))


def profile_steps(log, *, every_s: float | None = None, steps: int | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Forecast times (k,) and the voltage (k,) and current (k,) or None at them.

    Without thinning every row of ``log`` is a step (times must then strictly increase and be
    at most :data:`MAX_STEPS`); ``every_s`` / ``steps`` thin it (see the module docstring).
    """
    t = np.asarray(log.time_s, dtype=np.float64)
    v = np.asarray(log.voltage_v, dtype=np.float64)
    i = None if log.current_ma is None else np.asarray(log.current_ma, dtype=np.float64)
    if every_s is None and steps is None:
        repeated = np.flatnonzero(np.diff(t) <= 0)
        if len(repeated):
            r = int(repeated[0])
            raise InputError(log.source, f"time does not increase between data rows {r + 1} and {r + 2} "
                                         f"(t = {t[r]:g} s twice); thin the profile with --every SECONDS or "
                                         "--steps N (every_s= / steps= in Python)")
        if len(t) > MAX_STEPS:
            raise InputError(log.source, f"has {len(t)} rows: one forecast spectrum per row is too many (limit "
                                         f"{MAX_STEPS}); thin it with --every SECONDS or --steps N "
                                         "(every_s= / steps= in Python)")
        return t, v, i
    t0, t1 = float(t[0]), float(t[-1])
    if t1 <= t0:
        raise InputError(log.source, f"the profile spans no time ({t0:g} .. {t1:g} s), nothing to thin")
    if every_s is not None:
        count = int(np.floor((t1 - t0) / every_s + 1e-9)) + 1
        times = t0 + every_s * np.arange(count)
        what = f"--every {every_s:g}"
    else:
        times = np.linspace(t0, t1, steps)
        what = f"--steps {steps}"
    if len(times) < 2:
        raise InputError(log.source, f"{what} leaves {len(times)} step in the profile's {t1 - t0:g} s; use a "
                                     "shorter interval")
    if len(times) > MAX_STEPS:
        raise InputError(log.source, f"{what} gives {len(times)} steps (limit {MAX_STEPS}); use fewer")
    return (times, np.interp(times, t, v), None if i is None else np.interp(times, t, i))


def _check_thinning(every_s, steps) -> None:
    if every_s is not None and steps is not None:
        raise InputError(None, "give either every_s (--every) or steps (--steps), not both", field="every_s")
    if every_s is not None and not (np.isfinite(every_s) and every_s > 0):
        raise InputError(None, f"must be a positive number of seconds, got {every_s!r}", field="every_s")
    if steps is not None and (isinstance(steps, bool) or int(steps) != steps or steps < 2):
        raise InputError(None, f"must be an integer >= 2, got {steps!r}", field="steps")


# ------------------------------------------------------------------------------ the model

class ForecastModel:
    """A trained forecaster (from a run folder) that forecasts from users' own files.

    A thin facade: the model itself is the run's
    :class:`~operando.ir.models.generative.FlowForecaster` (``.forecaster``), anything with its
    ``sample(context, steps, n_samples, seed) -> (N, k, W)``, ``seed`` and ``config.n_samples``.
    """

    def __init__(self, forecaster, run_dir: str | Path | None = None, preprocess=None):
        from operando.ir.data.preprocess import PreprocessConfig

        self.forecaster = forecaster
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.preprocess = preprocess or PreprocessConfig()
        net = getattr(forecaster, "net", None)
        width = getattr(getattr(net, "config", None), "width", None)
        if width is not None and width != self.preprocess.n_points:
            raise OperandoError(f"{self.run_dir}: the model works on {width} wavenumbers but the preprocessing "
                                f"grid has {self.preprocess.n_points}")

    @property
    def name(self) -> str:
        return getattr(self.forecaster, "name", type(self.forecaster).__name__)

    def forecast(self, spectrum, voltage, meta, *, samples: int | None = None, seed: int | None = None,
                 every_s: float | None = None, steps: int | None = None, convert_transmittance: bool = False,
                 level: float = INTERVAL_LEVEL) -> Forecast:
        """Forecast the sequence at the steps of ``voltage`` from the static ``spectrum``.

        ``spectrum``, ``voltage``, ``meta``: paths (or a read Spectrum / EchemLog /
        ExperimentMeta). ``samples``: number of draws; with >= 2 the result carries std and the
        central ``level`` interval; without it the mean of the model's default number of draws
        is the forecast. ``seed`` (default: the model's) makes the draws reproducible.
        ``every_s`` / ``steps`` thin the profile. Raises InputError for malformed inputs.
        """
        from operando.ir.bench.uncertainty import model_interval
        from operando.ir.data.experiment import Experiment, ExperimentMeta
        from operando.ir.data.preprocess import SpectralTransform, resample

        if samples is not None and (isinstance(samples, bool) or int(samples) != samples or samples < 2):
            raise InputError(None, f"must be an integer >= 2 (draws for a spread and an interval), got {samples!r}",
                             field="samples")
        if seed is not None and (isinstance(seed, bool) or int(seed) != seed or seed < 0):
            raise InputError(None, f"must be an integer >= 0, got {seed!r}", field="seed")
        if not 0.0 < level < 1.0:
            raise InputError(None, f"must lie in (0, 1), got {level!r}", field="level")
        _check_thinning(every_s, steps)
        cell = meta if isinstance(meta, ExperimentMeta) else ExperimentMeta.from_json_file(meta)
        static = read_static_spectrum(spectrum, convert_transmittance=convert_transmittance)
        log = read_voltage_profile(voltage)
        time_s, voltage_v, current_ma = profile_steps(log, every_s=every_s, steps=steps)

        grid = self.preprocess.grid
        on_grid = resample(static.wavenumber_cm1, static.values, grid, source=str(static.source))
        transform = SpectralTransform.fit(on_grid[None], self.preprocess, name=str(static.source))
        s0 = transform.apply(on_grid[None]).astype(np.float32)[0]
        k = len(time_s)
        absorbance = np.full((k, len(grid)), np.nan, dtype=np.float32)
        absorbance[0] = s0
        context = Experiment(meta=cell, time_s=time_s, voltage_v=voltage_v, wavenumber_cm1=grid.copy(),
                             absorbance=absorbance, current_ma=current_ma)

        n = int(samples) if samples is not None else int(self.forecaster.config.n_samples)
        seed = int(self.forecaster.seed if seed is None else seed)
        scale, offset = transform.scale, float(transform.offset_per_spectrum[0])
        parts: dict[str, list[np.ndarray]] = {"mean": [], "std": [], "low": [], "high": []}
        for draws in self._draws(context, n, seed):
            if samples is None:
                parts["mean"].append(draws.mean(axis=0))
                continue
            summary = model_interval(self.forecaster, draws, level=level, system=cell.system)
            for name in parts:
                parts[name].append(getattr(summary, name))
        joined = {name: np.concatenate(arrays) if arrays else None for name, arrays in parts.items()}
        to_absorbance = (lambda y: None if y is None else y * scale + offset)
        info = {"format": "operando-forecast", "model": self.name,
                "run": None if self.run_dir is None else str(self.run_dir),
                "spectrum": str(static.source), "voltage": str(log.source),
                "meta": None if isinstance(meta, ExperimentMeta) else str(meta),
                "experiment": cell.name, "system": cell.system,
                "samples": None if samples is None else n, "draws_averaged": n, "seed": seed,
                "interval": None if samples is None else self._interval_name(cell.system),
                "every_s": every_s, "steps_requested": steps,
                "converted_from_transmittance": static.metadata.get("converted_from"),
                "static_offset_absorbance": offset, "static_scale_absorbance": scale,
                "profile_has_current": current_ma is not None, "smoke_run": is_smoke_run(self.run_dir)}
        return Forecast(wavenumber_cm1=grid.copy(), time_s=time_s, voltage_v=voltage_v, current_ma=current_ma,
                        mean=to_absorbance(joined["mean"]), static_absorbance=on_grid,
                        std=None if joined["std"] is None else joined["std"] * scale,
                        low=to_absorbance(joined["low"]), high=to_absorbance(joined["high"]),
                        level=None if samples is None else level, info=info)

    def _interval_name(self, system: str) -> str:
        """How the interval of a forecast for ``system`` is calibrated (the forecaster's
        ``interval_scale``; raw draw quantiles for a forecaster without one)."""
        interval_scale = getattr(self.forecaster, "interval_scale", None)
        return "draw quantiles" if interval_scale is None else interval_scale(system)[1]

    def _draws(self, context, n: int, seed: int):
        """Yield the draws (n, chunk, W) of consecutive chunks of steps, normalised units.

        The first chunk uses ``seed`` itself (so a short profile draws exactly what one
        ``forecaster.sample`` call would); later chunks use seeds derived from (seed, chunk).
        """
        k = len(context)
        chunk = max(1, DRAWS_PER_CALL // n)
        for index, start in enumerate(range(0, k, chunk)):
            chunk_seed = seed if index == 0 else int(np.random.SeedSequence([seed, index]).generate_state(1)[0])
            yield self.forecaster.sample(context, np.arange(start, min(start + chunk, k)), n_samples=n,
                                         seed=chunk_seed)


def load_model(run_dir: str | Path) -> ForecastModel:
    """The trained forecaster of a run folder (from ``operando ir train``), ready to forecast.

    Raises InputError when the folder is missing, unfinished or damaged.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(run_dir, "no such run folder; train a model with `operando ir train --config ...`")
    missing = [name for name in RUN_FILES if not (run_dir / name).is_file()]
    if not any((run_dir / p).is_file() for p in ("ema.safetensors", "checkpoint/ema.safetensors")):
        missing.append("ema.safetensors")
    if missing:
        hint = ("training did not finish; rerun `operando ir train` with the same config to resume"
                if "forecaster.json" in missing else "copy the whole run folder")
        raise InputError(run_dir, f"incomplete run folder: missing {', '.join(missing)} ({hint})")
    from operando.ir.models.runs import load_run

    try:
        forecaster = load_run(run_dir)
    except OperandoError:
        raise
    except Exception as e:  # json, safetensors and torch raise anything on damaged files
        raise InputError(run_dir, f"damaged run folder: cannot load the model ({type(e).__name__}: {e})") from None
    return ForecastModel(forecaster, run_dir)
