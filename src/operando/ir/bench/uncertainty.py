"""Uncertainty of sampled forecasts: per-wavenumber spread, central intervals and their coverage.

A generative forecaster (MeanFlow, flow matching) gives N sampled sequences for one input,
``samples`` of shape (N, n, W): N samples of n spectra of W wavenumbers. From them:

* :func:`summarize_samples` -- mean and standard deviation (ddof=1) over the samples, and the
  central interval at ``level`` (default 0.9) from the empirical quantiles
  ``(1 - level) / 2`` and ``(1 + level) / 2`` (numpy's default linear interpolation);
* :func:`interval_coverage` -- the fraction of true values inside ``[low, high]`` (inclusive),
  overall and per spectrum. A calibrated forecaster covers about ``level`` of the truth.
* :class:`ConformalScale` -- split-conformal calibration (Vovk et al. 2005; Lei et al. 2018,
  "Distribution-free predictive inference for regression", JASA 113:1094) of those intervals.
  One-step draws are under-dispersed (their raw 90 % interval covered 30-68 % of OpIRBench test
  values), so on spectra held out from training the score ``|y - mean| / std`` of every value is
  computed, and the calibrated interval at ``level`` is ``mean +- q * std`` with ``q`` the
  ``ceil((n + 1) level) / n`` empirical quantile of the n scores. Coverage is then at least
  ``level`` for test values exchangeable with the calibration values (marginally, over spectra
  and wavenumbers); for unseen chemistry it is not guaranteed. Fitted on spectra of systems a
  model never trained on, grouped by system, the largest per-system factor is kept (see
  :meth:`ConformalScale.fit`): a system-level statement for systems exchangeable with them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CONFORMAL_LEVELS = tuple(round(0.5 + 0.01 * i, 2) for i in range(50))   # 0.50, 0.51, ..., 0.99


@dataclass
class SampleSummary:
    """Per-wavenumber statistics of N sampled forecasts; every array (n, W)."""

    mean: np.ndarray
    std: np.ndarray
    low: np.ndarray
    high: np.ndarray
    level: float

    @property
    def width(self) -> np.ndarray:
        """Interval width ``high - low``, (n, W)."""
        return self.high - self.low


@dataclass
class Coverage:
    """Fraction of true values inside the interval: ``overall`` and ``per_spectrum`` (n,)."""

    overall: float
    per_spectrum: np.ndarray


def summarize_samples(samples: np.ndarray, level: float = 0.9) -> SampleSummary:
    """Mean, std and the central ``level`` interval of ``samples`` (N, n, W) over axis 0."""
    s = np.asarray(samples, float)
    if s.ndim != 3:
        raise ValueError(f"samples must be (N, n, W), got shape {s.shape}")
    if s.shape[0] < 2:
        raise ValueError("need at least 2 samples for a spread and an interval")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    low, high = np.quantile(s, [(1.0 - level) / 2.0, (1.0 + level) / 2.0], axis=0)
    return SampleSummary(mean=s.mean(axis=0), std=s.std(axis=0, ddof=1), low=low, high=high, level=level)


def model_interval(model, draws: np.ndarray, level: float = 0.9, system: str | None = None) -> SampleSummary:
    """The interval ``model`` gives its ``draws`` (N, k, W) of a cell of battery system ``system``
    (its ``summarize``: conformally calibrated when it was), or :func:`summarize_samples` for a
    model without one."""
    summarize = getattr(model, "summarize", None)
    return summarize_samples(draws, level) if summarize is None else summarize(draws, level=level, system=system)


def interval_coverage(true: np.ndarray, low: np.ndarray, high: np.ndarray) -> Coverage:
    """Fraction of ``true`` (n, W) with ``low <= true <= high``; overall and per spectrum."""
    t, lo, hi = (np.asarray(a, float) for a in (true, low, high))
    if not (t.shape == lo.shape == hi.shape) or t.ndim != 2:
        raise ValueError(f"true, low and high must all be (n, W); got {t.shape}, {lo.shape}, {hi.shape}")
    if np.any(lo > hi):
        raise ValueError("low must not exceed high")
    inside = (t >= lo) & (t <= hi)
    return Coverage(overall=float(inside.mean()), per_spectrum=inside.mean(axis=1))


@dataclass
class ConformalScale:
    """Interval factors ``q`` per level, fitted by split conformal prediction (module docstring).

    ``levels`` and ``factors`` are aligned tuples; ``n_values`` counts the calibration scores.
    """

    levels: tuple[float, ...]
    factors: tuple[float, ...]
    n_values: int
    n_groups: int = 1
    by_group: dict[str, tuple[float, ...]] | None = None   # each group's own factors (grouped fit)

    @classmethod
    def fit(cls, true: np.ndarray, samples: np.ndarray, levels: tuple[float, ...] = CONFORMAL_LEVELS,
            groups: np.ndarray | None = None) -> "ConformalScale":
        """Factors from held-out ``true`` (n, W) and their ``samples`` (N, n, W), N >= 2.

        With ``groups`` (n,), a label per spectrum (the battery system a model never trained
        on), each group gets its own factors and the largest is kept at every level: when groups
        are exchangeable, a new group's own coverage is at least ``level`` with probability
        n_groups / (n_groups + 1) (the rank of its factor among n_groups + 1).
        """
        t, s = np.asarray(true, float), np.asarray(samples, float)
        if s.ndim != 3 or s.shape[1:] != t.shape or s.shape[0] < 2:
            raise ValueError(f"need true (n, W) and samples (N >= 2, n, W); got {t.shape} and {s.shape}")
        for level in levels:
            if not 0.0 < level < 1.0:
                raise ValueError(f"levels must be in (0, 1), got {level!r}")
        scores = _scores(t, s.mean(axis=0), s.std(axis=0, ddof=1))
        labels = np.zeros(len(t), dtype=int) if groups is None else np.asarray(groups)
        if labels.shape != (len(t),):
            raise ValueError(f"groups must hold one label per spectrum ({len(t)}), got shape {labels.shape}")
        names = np.unique(labels)
        per_group = [_conformal_quantiles(np.sort(scores[labels == g].ravel()), levels) for g in names]
        factors = np.max(per_group, axis=0)
        by_group = None if groups is None else {str(g): tuple(q) for g, q in zip(names, per_group)}
        return cls(tuple(float(x) for x in levels), tuple(float(q) for q in factors), int(scores.size), len(names),
                   by_group)

    def factor(self, level: float) -> float:
        for lv, q in zip(self.levels, self.factors):
            if math.isclose(lv, level):
                return q
        raise ValueError(f"no conformal factor for level {level}; calibrated levels: {list(self.levels)}")

    def summarize(self, samples: np.ndarray, level: float = 0.9) -> SampleSummary:
        """:func:`summarize_samples` with the calibrated interval ``mean +- q * std``."""
        raw = summarize_samples(samples, level)
        half = self.factor(level) * np.maximum(raw.std, _STD_FLOOR)
        return SampleSummary(mean=raw.mean, std=raw.std, low=raw.mean - half, high=raw.mean + half, level=level)

    def to_dict(self) -> dict:
        return {"levels": list(self.levels), "factors": list(self.factors), "n_values": self.n_values,
                "n_groups": self.n_groups,
                "by_group": None if self.by_group is None else {g: list(q) for g, q in self.by_group.items()}}

    @classmethod
    def from_dict(cls, d: dict | None) -> "ConformalScale | None":
        if d is None:
            return None
        by_group = d.get("by_group")
        return cls(tuple(d["levels"]), tuple(d["factors"]), int(d["n_values"]), int(d.get("n_groups", 1)),
                   None if by_group is None else {g: tuple(q) for g, q in by_group.items()})


_STD_FLOOR = 1e-12   # keeps a zero-spread draw set from dividing by zero


def _conformal_quantiles(sorted_scores: np.ndarray, levels: tuple[float, ...]) -> list[float]:
    """The ``ceil((n + 1) level)``-th smallest of n sorted scores per level (inf past the end)."""
    n = sorted_scores.size
    ks = [math.ceil((n + 1) * level) for level in levels]   # the finite-sample correction of split conformal
    return [float(sorted_scores[k - 1]) if k <= n else math.inf for k in ks]


def _scores(true: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return np.abs(true - mean) / np.maximum(std, _STD_FLOOR)
