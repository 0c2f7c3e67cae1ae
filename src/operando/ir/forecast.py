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
  forecast sequence.
* **anchoring** -- the forecast is anchored to what was measured (:func:`anchored_forecast`):
  step 0 *is* the static spectrum on the grid, exactly, and every later step is that spectrum
  plus the predicted change, ``a_m = a_0 + s * (y_m - r)``, with ``y_m`` the model's
  forecast in normalised units and ``r`` what the model adds its change to (s_v0, or its
  in-span part for a span-restricted ABCC). Whatever the model cannot represent (bands the
  simulator lacks, another baseline, another instrument, values beyond the normalisation's
  clipping) is carried through every step unchanged instead of being dropped or redrawn.
  The point forecast (``mean``) is the expected change: the mean of at least
  :data:`POINT_DRAWS` draws (of the noise-end estimates for a model trained with L_point),
  so the draws' noise averages out of it; the noise belongs to ``std``/``low``/``high``.
  The benchmark (``operando ir bench``) still scores the models' own ``predict``, unanchored,
  so the recorded OpIRBench numbers are those of the model alone.
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
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from operando.atomic import atomic_path, refuse_overwrite, write_text
from operando.errors import InputError, OperandoError
from operando.ir.smoke import is_smoke_run

# More steps than this without thinning is almost always a raw potentiostat log (EC-Lab
# writes a row every few seconds): one spectrum per row would make a CSV of that many columns.
MAX_STEPS = 5000
INTERVAL_LEVEL = 0.9
# Draws averaged into the point forecast at least: the draws' own noise falls as 1/sqrt(n) in
# their mean (one MeanFlow draw carries about the training targets' noise; 64 draws leave 1/8).
POINT_DRAWS = 64
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
        refuse_overwrite(folder, True, folder=True, marker=MARKER_FILE, what="forecast")
        with atomic_path(folder, directory=True) as tmp:
            self.to_csv(tmp)
            self.plot(tmp)
        return folder


def plot_forecast_stages(result: Forecast, *, path: str | Path | None = None):
    """Forecast mean at the beginning, middle and end of the sequence, with the static spectrum
    it started from and, when sampled, the central interval shaded. Returns the Figure."""
    from operando.plots.common import ABSORBANCE_LABEL, new_figure, save_figure, set_wavenumber_axis, time_axis

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


# ------------------------------------------------------------------------------ the inputs

def read_static_spectrum(spectrum, *, convert_transmittance: bool = False,
                         window_cm1: tuple[float, float] | None = None):
    """Read and check the static spectrum: a path (or an already read Spectrum) -> absorbance
    Spectrum covering ``window_cm1`` (default: the 800-2000 cm-1 window)."""
    from operando.ir.io import Spectrum, check_ir_window, read_spectrum, require_absorbance

    s = spectrum if isinstance(spectrum, Spectrum) else read_spectrum(spectrum)
    if window_cm1 is None:
        check_ir_window(s)
    else:
        check_ir_window(s, window_cm1=window_cm1)
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
    from operando.echem.eclab import csv_delimiter

    try:
        text = path.read_bytes().decode("utf-8", errors="replace").splitlines()[(line or 1) - 1]
    except (OSError, IndexError):
        return "unreadable"
    return ", ".join(repr(f.strip().strip('"')) for f in text.split(csv_delimiter(text)))


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
                 level: float = INTERVAL_LEVEL, point_draws: int = POINT_DRAWS, measured=None) -> Forecast:
        """Forecast the sequence at the steps of ``voltage`` from the static ``spectrum``.

        ``spectrum``, ``voltage``, ``meta``: paths (or a read Spectrum / EchemLog /
        ExperimentMeta). ``samples``: number of draws; with >= 2 the result carries std and the
        central ``level`` interval. The point forecast is the static spectrum plus the mean
        change of ``max(samples, point_draws)`` draws (:func:`anchored_forecast`; step 0 is the
        static spectrum itself). ``seed`` (default: the model's) makes the draws reproducible.
        ``measured``: spectra (paths or Spectrum) measured at steps 1, 2, ... of the profile
        after the static one (few-shot, :mod:`operando.ir.models.fewshot`): those steps are
        the measured spectra, and the rest are the zero-shot change from the last measured
        spectrum on, scaled by a gain fitted on them (:mod:`operando.ir.models.fewshot`); the
        interval keeps the zero-shot spread around it.
        ``every_s`` / ``steps`` thin the profile. Raises InputError for malformed inputs.
        """
        from operando.ir.data.experiment import Experiment, ExperimentMeta
        from operando.ir.data.preprocess import SpectralTransform, resample

        if samples is not None and (isinstance(samples, bool) or int(samples) != samples or samples < 2):
            raise InputError(None, f"must be an integer >= 2 (draws for a spread and an interval), got {samples!r}",
                             field="samples")
        if seed is not None and (isinstance(seed, bool) or int(seed) != seed or seed < 0):
            raise InputError(None, f"must be an integer >= 0, got {seed!r}", field="seed")
        if not 0.0 < level < 1.0:
            raise InputError(None, f"must lie in (0, 1), got {level!r}", field="level")
        if isinstance(point_draws, bool) or int(point_draws) != point_draws or point_draws < 1:
            raise InputError(None, f"must be an integer >= 1, got {point_draws!r}", field="point_draws")
        _check_thinning(every_s, steps)
        cell = meta if isinstance(meta, ExperimentMeta) else ExperimentMeta.from_json_file(meta)
        window = (self.preprocess.grid_min_cm1, self.preprocess.grid_max_cm1)
        static = read_static_spectrum(spectrum, convert_transmittance=convert_transmittance, window_cm1=window)
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

        prefix = self._measured_prefix(measured, on_grid, window, convert_transmittance, k)
        seed = int(self.forecaster.seed if seed is None else seed)
        scale, offset, tilt = transform.scale, float(transform.offset_per_spectrum[0]), float(transform.tilt_per_spectrum[0])
        anchored = anchored_forecast(self.forecaster, context, on_grid, scale, samples=samples, seed=seed,
                                     level=level, system=cell.system, point_draws=point_draws)
        few_shot = {}
        if prefix is not None:
            from operando.ir.models.fewshot import prefix_correction

            correction = prefix_correction(prefix, anchored.change)
            corrected = correction.apply(prefix, anchored.change)
            shift = corrected - anchored.mean
            shift[:len(prefix)] = prefix - anchored.mean[:len(prefix)]
            anchored.mean = corrected
            for name in ("low", "high"):
                bound = getattr(anchored, name)
                if bound is not None:
                    bound = bound + shift
                    bound[:len(prefix)] = prefix
                    setattr(anchored, name, bound)
            if anchored.std is not None:
                anchored.std[:len(prefix)] = 0.0
            few_shot = {"measured_steps": len(prefix),
                        "measured": [str(getattr(m, "source", m)) for m in measured],
                        "few_shot_gain": correction.gain, "few_shot_fitted_gain": correction.fitted_gain,
                        "few_shot_coverage": correction.coverage}
        info = {"format": "operando-forecast", "model": self.name,
                "run": None if self.run_dir is None else str(self.run_dir),
                "spectrum": str(static.source), "voltage": str(log.source),
                "meta": None if isinstance(meta, ExperimentMeta) else str(meta),
                "experiment": cell.name, "system": cell.system,
                "samples": None if samples is None else int(samples), "seed": seed,
                "interval": None if samples is None else self._interval_name(cell.system),
                "every_s": every_s, "steps_requested": steps,
                "converted_from_transmittance": static.metadata.get("converted_from"),
                "static_offset_absorbance": offset, "static_tilt_absorbance": tilt, "static_scale_absorbance": scale,
                "profile_has_current": current_ma is not None, "smoke_run": is_smoke_run(self.run_dir),
                **anchored.info, **few_shot}
        return Forecast(wavenumber_cm1=grid.copy(), time_s=time_s, voltage_v=voltage_v, current_ma=current_ma,
                        mean=anchored.mean, static_absorbance=on_grid, std=anchored.std, low=anchored.low,
                        high=anchored.high, level=None if samples is None else level, info=info)

    def _measured_prefix(self, measured, static_on_grid, window, convert_transmittance, n_steps):
        """The static spectrum and the ``measured`` ones on the grid, (k, W) absorbance; None
        without measured spectra. Each is read and checked like the static spectrum."""
        from operando.ir.data.preprocess import resample

        if measured is None:
            return None
        if isinstance(measured, (str, Path)) or not len(measured):
            raise InputError(None, "give a list of one or more spectra measured after the static one",
                             field="measured")
        if 1 + len(measured) >= n_steps:
            raise InputError(None, f"{len(measured)} measured spectra cover steps 1..{len(measured)}, but the profile "
                                   f"has {n_steps} steps: nothing would be left to forecast", field="measured")
        rows = [static_on_grid]
        for item in measured:
            spectrum = read_static_spectrum(item, convert_transmittance=convert_transmittance, window_cm1=window)
            rows.append(resample(spectrum.wavenumber_cm1, spectrum.values, self.preprocess.grid,
                                 source=str(spectrum.source)))
        return np.stack(rows)

    def _interval_name(self, system: str) -> str:
        """How the interval of a forecast for ``system`` is calibrated (the forecaster's
        ``interval_scale``; raw draw quantiles for a forecaster without one)."""
        interval_scale = getattr(self.forecaster, "interval_scale", None)
        return "draw quantiles" if interval_scale is None else interval_scale(system)[1]

# ------------------------------------------------------------------------------ anchoring

@dataclass(eq=False)  # holds arrays
class AnchoredForecast:
    """A forecast in absorbance anchored to the measured spectrum (:func:`anchored_forecast`).

    ``mean`` (k, W); ``std``, ``low``, ``high`` (k, W) or None (no ``samples``); ``change``
    (k, W) the predicted change from the measured spectrum (absorbance, zero at step 0);
    ``info`` what :meth:`Forecast.to_csv` records about it.
    """

    mean: np.ndarray
    change: np.ndarray
    std: np.ndarray | None
    low: np.ndarray | None
    high: np.ndarray | None
    info: dict[str, Any]


def change_reference(forecaster, s0: np.ndarray) -> tuple[np.ndarray, float | None]:
    """What ``forecaster``'s forecasts (normalised units) are a change from, (W,) for the
    measured normalised first spectrum ``s0`` (W,), and, for a span-restricted ABCC, the RMS of
    ``s0`` outside the span of its stream spectra over its noise (None otherwise).

    A chemical-flow forecaster adds its change to :meth:`FlowForecaster.reference` (the
    in-span part of s0 with ``abcc.reference = "span"``, s0 itself otherwise); any other
    forecaster's change is taken from s0.
    """
    s0 = np.asarray(s0, dtype=np.float64)
    config = getattr(forecaster, "config", None)
    reference = getattr(forecaster, "reference", None)
    if reference is None or getattr(config, "target", "chemical_flow") != "chemical_flow":
        return s0, None
    streams = getattr(forecaster, "streams", None)
    abcc = getattr(config, "abcc", None)
    ratio = None
    if streams is not None and abcc is not None and abcc.projects_reference:
        ratio = float(streams.outside_over_noise(s0))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_DROPS_OUTSIDE_SPAN)
        return np.asarray(reference(s0[None]), dtype=np.float64)[0], ratio


# FlowForecaster.reference's warning: true of the unanchored forecast, not of an anchored one.
_DROPS_OUTSIDE_SPAN = "the first spectrum has structure outside the span"


def anchored_forecast(forecaster, context, static_absorbance: np.ndarray, scale: float, *,
                      samples: int | None = None, seed: int = 0, level: float = INTERVAL_LEVEL,
                      system: str | None = None, point_draws: int = POINT_DRAWS) -> AnchoredForecast:
    """Forecast every step of ``context`` anchored to the measured first spectrum.

    ``context``: an :class:`~operando.ir.data.experiment.Experiment` in the forecaster's
    normalised units with the measured first spectrum in row 0 (step 0 is when it was taken);
    ``static_absorbance`` (W,): that spectrum in absorbance on the grid (unclipped, as
    measured); ``scale``: absorbance per normalised unit. ``samples`` >= 2 adds the spread and
    the central ``level`` interval (the forecaster's calibrated one when it has it).

    Step 0 equals ``static_absorbance`` exactly (its interval has zero width: it was measured);
    step m is ``static_absorbance + scale * (point_m - r)`` with ``r`` from
    :func:`change_reference` and ``point_m`` the mean of ``n = max(samples, point_draws)``
    draws (noise-end estimates with L_point); interval bounds move with the same shift.
    """
    from operando.ir.bench.uncertainty import model_interval
    from operando.ir.models.generative import OUTSIDE_SPAN_WARNING

    static = np.asarray(static_absorbance, dtype=np.float64)
    k = len(context)
    n = max(int(samples or 0), int(point_draws))
    reference, outside = change_reference(forecaster, context.absorbance[0])
    noise_end = bool(getattr(forecaster, "point_from_noise_end", False))
    point, parts = [], {"std": [], "low": [], "high": []}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_DROPS_OUTSIDE_SPAN)
        if samples is not None or not noise_end:
            for draws in _draw_chunks(forecaster, context, n, seed, "sample"):
                if samples is not None:
                    summary = model_interval(forecaster, draws, level=level, system=system)
                    for name in parts:
                        parts[name].append(getattr(summary, name))
                if not noise_end:
                    point.append(draws.mean(axis=0))
        if noise_end:
            point = [d.mean(axis=0) for d in _draw_chunks(forecaster, context, n, seed, "noise_end_means")]
    change = (np.concatenate(point) - reference) * scale
    change[0] = 0.0  # the measured spectrum itself: no change at the step it was taken
    mean = static + change
    std = low = high = None
    if samples is not None:
        std = np.concatenate(parts["std"]) * scale
        low = static + (np.concatenate(parts["low"]) - reference) * scale
        high = static + (np.concatenate(parts["high"]) - reference) * scale
        std[0], low[0], high[0] = 0.0, static, static
    if outside is not None and outside > OUTSIDE_SPAN_WARNING:
        warnings.warn(f"the first spectrum has structure outside the span of the calibration spectra (RMS "
                      f"{outside:.3g} times its noise std); the forecast keeps it from the measured spectrum at "
                      "every step, and the model predicts the change from the in-span part only. Use a "
                      "calibration set that covers this electrolyte if that structure changes", stacklevel=2)
    from operando.noise import estimate_noise_std

    # what noise is left in the point forecast's change, next to the measured spectrum's own
    change_noise = float(np.median(estimate_noise_std(change[1:]))) if k > 1 else 0.0
    info = {"anchored": True, "draws_averaged": n,
            "change_noise_std": change_noise, "static_noise_std": float(estimate_noise_std(static)),
            "point": "noise-end mean estimates" if noise_end else "mean of draws",
            "change_reference": "in-span part of the first spectrum" if outside is not None else "first spectrum",
            "outside_span_over_noise": outside}
    return AnchoredForecast(mean=mean, change=change, std=std, low=low, high=high, info=info)


def _draw_chunks(forecaster, context, n: int, seed: int, method: str):
    """Yield the draws (n, chunk, W) of ``forecaster.<method>`` on consecutive
    chunks of steps, normalised units.

    The first chunk uses ``seed`` itself (so a short profile draws exactly what one
    ``forecaster.sample`` call would); later chunks use seeds derived from (seed, chunk).
    """
    k = len(context)
    chunk = max(1, DRAWS_PER_CALL // n)
    draw = getattr(forecaster, method)
    for index, start in enumerate(range(0, k, chunk)):
        chunk_seed = seed if index == 0 else int(np.random.SeedSequence([seed, index]).generate_state(1)[0])
        yield draw(context, np.arange(start, min(start + chunk, k)), n_samples=n, seed=chunk_seed)


def load_model(run_dir: str | Path | None = None) -> ForecastModel:
    """The trained forecaster of a run folder (from ``operando ir train``), ready to forecast;
    without one, the shipped default (:mod:`operando.ir.models.shipped`, hashes checked first).

    Raises InputError when the folder is missing, unfinished or damaged, or a shipped file is
    missing or fails its hash (naming the file and the command that rebuilds it).
    """
    if run_dir is None:
        from operando.ir.models.shipped import shipped_run

        run_dir = shipped_run()
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
    from operando.ir.models.runs import load_run, run_preprocess

    preprocess = run_preprocess(run_dir)
    try:
        forecaster = load_run(run_dir)
    except OperandoError:
        raise
    except Exception as e:  # json, safetensors and torch raise anything on damaged files
        raise InputError(run_dir, f"damaged run folder: cannot load the model ({type(e).__name__}: {e})") from None
    return ForecastModel(forecaster, run_dir, preprocess)
