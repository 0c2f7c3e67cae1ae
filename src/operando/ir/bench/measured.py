"""Score a trained forecaster on a user's own measured experiments (``operando ir score``).

For every experiment of a measured dataset (HDF5 from ``operando ir import`` or
``import-operando``) the first ``K`` spectra are given and the rest are forecast:

* **model**: the run's forecast from the first spectrum, anchored to what was measured
  (:func:`operando.ir.forecast.anchored_forecast`: the first spectrum plus the predicted
  change); with ``K > 1`` re-anchored to the last given spectrum, ``y_{K-1} + (d_m - d_{K-1})``
  with ``d`` the predicted change, so it starts from the latest measurement as persistence does;
* **few-shot** (``K >= 2``): the model's change corrected on the K given spectra of the cell
  (:mod:`operando.ir.models.fewshot`: re-anchored at the last given spectrum, the predicted
  change scaled by a gain fitted on the K given spectra and weighed by how much of the
  predicted change they cover);
* **linear extrapolation** (``K >= 2``): the per-wavenumber straight line in time through the
  K given spectra;
* **persistence**: the last given spectrum ``y_{K-1}`` repeated (doing nothing).

Units. Each experiment is put on the run's grid and expressed in the units of its first
spectrum: ``y_m = (a_m - L_0) / s_0`` for every spectrum, with ``L_0`` and ``s_0`` the first
spectrum's baseline line and band scale (:mod:`operando.ir.data.preprocess`; one fixed affine
map per experiment, no per-spectrum correction, no clipping), so the errors are those of the
absorbance as measured, in the units OpIRBench reports (MAE / 1e-2, MSE / 1e-3, RMSE / 1e-2).

Two scorings, each with every OpIRBench metric (MAE, MSE, RMSE, SAM, cosine, R2 per spectrum,
DILATE per experiment; :mod:`operando.ir.bench.metrics`):

* ``as measured``: the forecast against the measured spectrum;
* ``drift removed``: each forecast spectrum ``p`` is first replaced by its best fit
  ``alpha p + beta + gamma x`` to the measured one (least squares; ``x`` the wavenumber scaled
  to [-1, 1]): the per-spectrum scale, offset and linear tilt that contact and baseline drift
  of an ATR cell add, removed with the same freedom for every forecast and for persistence.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from operando.errors import InputError
from operando.ir.bench.metrics import METRIC_SCALES, sequence_dilate, spectrum_metrics

SPECTRUM_METRICS = ("MAE", "MSE", "RMSE", "SAM", "cosine", "R2")
METRICS = SPECTRUM_METRICS + ("DILATE",)
SCORINGS = ("as measured", "drift removed")
MODEL, PERSISTENCE = "model", "persistence"
FEW_SHOT, LINEAR = "few-shot", "linear extrapolation"


def fit_drift(true: np.ndarray, pred: np.ndarray, wavenumber_cm1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row of ``pred`` (n, W) fitted by least squares as ``alpha p + beta + gamma x`` to the
    same row of ``true``; ``x`` the wavenumber scaled to [-1, 1]. Returns the fitted rows (n, W)
    and the coefficients (n, 3): scale alpha, offset beta, tilt gamma (the fit of
    :func:`operando.ir.data.preprocess.fit_drift`, which removes a cell's drift before a model sees it)."""
    from operando.ir.data.preprocess import fit_drift as fit

    wn = np.asarray(wavenumber_cm1, dtype=np.float64)
    return fit(true, pred, (2.0 * wn - wn.min() - wn.max()) / max(float(wn.max() - wn.min()), 1e-300))


def remove_drift(true: np.ndarray, pred: np.ndarray, wavenumber_cm1: np.ndarray) -> np.ndarray:
    """Each row of ``pred`` (n, W) replaced by its best scale + offset + tilt fit to the same row
    of ``true`` (:func:`fit_drift`). Returns (n, W)."""
    return fit_drift(true, pred, wavenumber_cm1)[0]


@dataclass
class MeasuredScore:
    """Scores of the model and persistence on measured experiments.

    ``per_spectrum``: experiment, step, time, voltage, forecast, scoring and the six metrics
    (natural units); ``per_experiment``: experiment, forecast, scoring, n, DILATE;
    ``info``: the settings.
    """

    per_spectrum: pd.DataFrame
    per_experiment: pd.DataFrame
    info: dict = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """Mean of each metric (divided by METRIC_SCALES) per scoring and forecast, with the
        model's MAE over persistence's as ``MAE ratio`` (below 1: better than doing nothing)."""
        rows = []
        for scoring in SCORINGS:
            for forecast in self.forecasts:
                spectra = self.per_spectrum[(self.per_spectrum.scoring == scoring)
                                            & (self.per_spectrum.forecast == forecast)]
                experiments = self.per_experiment[(self.per_experiment.scoring == scoring)
                                                  & (self.per_experiment.forecast == forecast)]
                row = {"scoring": scoring, "forecast": forecast}
                for m in SPECTRUM_METRICS:
                    row[m] = float(spectra[m].mean()) / METRIC_SCALES[m]
                row["DILATE"] = float(experiments["DILATE"].mean())
                rows.append(row)
        frame = pd.DataFrame(rows)
        for scoring in SCORINGS:
            rows_of = frame.scoring == scoring
            base = frame.loc[rows_of & (frame.forecast == PERSISTENCE), "MAE"].iloc[0]
            frame.loc[rows_of, "MAE ratio"] = frame.loc[rows_of, "MAE"] / base if base > 0 else np.nan
        return frame

    @property
    def forecasts(self) -> list[str]:
        return list(dict.fromkeys(self.per_spectrum.forecast))


def first_spectrum_units(e, preprocess, source: str):
    """``e`` on the grid of ``preprocess`` in the units of its first spectrum, (n, W) float64
    unclipped, with the transform (first spectrum's offset and scale)."""
    from operando.ir.data.preprocess import SpectralTransform, resample

    grid = preprocess.grid
    try:
        absorbance = resample(e.wavenumber_cm1, e.absorbance, grid, source=f"experiment {e.name!r}")
    except InputError as err:
        raise InputError(source, err.problem) from None
    if not np.all(np.isfinite(absorbance)):
        bad = int(np.flatnonzero(~np.isfinite(absorbance).all(axis=1))[0])
        raise InputError(source, f"experiment {e.name!r}: spectrum {bad} has missing or non-finite values")
    try:
        transform = SpectralTransform.fit(absorbance[:1], preprocess, name=f"experiment {e.name!r}")
    except InputError as err:
        raise InputError(source, err.problem) from None
    return (absorbance - transform.baseline(len(grid))[0]) / transform.scale, transform


def score_measured(forecaster, experiments, *, first: int = 1, preprocess=None, seed: int = 0,
                   point_draws: int | None = None, source: str = "the dataset") -> MeasuredScore:
    """Forecast every experiment from its first ``first`` spectra and score it (module docstring).

    ``forecaster``: a fitted flow forecaster (``sample``) of the run; ``experiments``: measured
    :class:`~operando.ir.data.experiment.Experiment` s (raw, any axis covering the grid);
    ``preprocess``: the run's :class:`~operando.ir.data.preprocess.PreprocessConfig`. Raises
    InputError naming ``source`` for an
    experiment with fewer than ``first + 1`` spectra or a grid it does not cover.
    """
    from operando.ir.bench.task import masked
    from operando.ir.data.preprocess import PreprocessConfig
    from operando.ir.forecast import POINT_DRAWS, anchored_forecast
    from operando.ir.models.fewshot import linear_extrapolation, prefix_correction

    if isinstance(first, bool) or int(first) != first or first < 1:
        raise InputError(None, f"must be an integer >= 1, got {first!r}", field="--first")
    preprocess = preprocess or PreprocessConfig()
    spectra_rows, experiment_rows = [], []
    for e in experiments:
        if len(e) < first + 1:
            raise InputError(source, f"experiment {e.name!r} has {len(e)} spectra; --first {first} leaves none "
                                     "to forecast (it needs at least first + 1)")
        y, transform = first_spectrum_units(e, preprocess, source)
        grid = preprocess.grid
        normalised = np.clip(y, preprocess.clip_min, preprocess.clip_max).astype(np.float32)
        units = _on_grid(e, grid, normalised)
        anchored = anchored_forecast(forecaster, masked(units, [0]), y[0], 1.0, seed=seed,
                                     system=e.system, point_draws=point_draws or POINT_DRAWS)
        steps = np.arange(first, len(e))
        last = first - 1
        forecasts = {MODEL: y[last] + anchored.change[steps] - anchored.change[last]}
        if first >= 2:
            correction = prefix_correction(y[:first], anchored.change)
            forecasts[FEW_SHOT] = correction.apply(y[:first], anchored.change)[steps]
            forecasts[LINEAR] = linear_extrapolation(y[:first], e.time_s)[steps]
        forecasts[PERSISTENCE] = np.repeat(y[last:first], len(steps), axis=0)
        true = y[steps]
        for name, pred in forecasts.items():
            for scoring in SCORINGS:
                p = pred if scoring == "as measured" else remove_drift(true, pred, grid)
                metrics = spectrum_metrics(true, p)
                spectra_rows.append(pd.DataFrame({
                    "experiment": e.name, "step": steps, "Time [s]": e.time_s[steps],
                    "Voltage [V]": e.voltage_v[steps], "forecast": name, "scoring": scoring, **metrics}))
                d = sequence_dilate(true, p)
                experiment_rows.append({"experiment": e.name, "forecast": name, "scoring": scoring, "n": len(steps),
                                        "DILATE shape": d["shape"], "DILATE temporal": d["temporal"],
                                        "DILATE": d["dilate"]})
    if not spectra_rows:
        raise InputError(source, "no experiments to score")
    info = {"first": int(first), "seed": int(seed), "draws_averaged": int(point_draws or POINT_DRAWS),
            "grid_cm1": [preprocess.grid_min_cm1, preprocess.grid_max_cm1, preprocess.n_points],
            "units": "(absorbance - first spectrum's baseline line) / first spectrum's band scale",
            "metric_scales": {m: METRIC_SCALES[m] for m in METRICS}}
    return MeasuredScore(pd.concat(spectra_rows, ignore_index=True), pd.DataFrame(experiment_rows), info)


def _on_grid(e, grid: np.ndarray, absorbance: np.ndarray):
    """``e`` with ``absorbance`` (n, len(grid)) on ``grid`` and no ground truth."""
    import dataclasses

    return dataclasses.replace(e, wavenumber_cm1=np.asarray(grid, dtype=np.float64).copy(),
                               absorbance=np.asarray(absorbance), truth=None)
