"""Name resolved components: match them to a band library or to known reference spectra.

* :func:`match_components` compares the peaks of each recovered spectrum with the band
  centres of each species in a library (``{species: [band centre in cm-1, ...]}``, e.g. the
  simulator's ``BAND_LIBRARY``) and names the best species, or ``"unassigned"``.
* :func:`match_to_reference` pairs recovered and true spectra one-to-one so that the summed
  Pearson correlation is largest (Hungarian algorithm), and :func:`profile_agreement` reports
  how well the paired concentration profiles agree.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.signal import find_peaks

UNASSIGNED = "unassigned"


@dataclass
class Match:
    """Best library species for one recovered component.

    ``score`` in [0, 1]: harmonic mean of the share of the component's peak prominence that
    the species' bands explain and the (intensity-weighted) share of the species' in-range
    bands found among the component's peaks.
    ``matched_bands``: (library band centre, peak position) pairs in cm-1.
    """

    component: int
    species: str
    score: float
    matched_bands: list[tuple[float, float]] = field(default_factory=list)


def _band_table(bands) -> tuple[np.ndarray, np.ndarray]:
    """Band centres (cm-1) and weights from a species' library entry.

    Entries may be numbers, records with a ``center_cm1`` field (e.g. the simulator's
    ``Band`` named tuples, or dicts), or sequences whose first item is the centre. A
    ``relative_intensity`` field, where present, weights the band (weak bands that fall
    below the peak threshold then cost little); otherwise every band weighs 1.
    """
    centres, weights = [], []
    for b in bands:
        weight = 1.0
        if isinstance(b, Mapping):
            centre = b.get("center_cm1", b.get("centre_cm1", b.get("center")))
            weight = b.get("relative_intensity", 1.0)
        elif hasattr(b, "center_cm1"):
            centre = b.center_cm1
            weight = getattr(b, "relative_intensity", 1.0)
        elif isinstance(b, (tuple, list, np.ndarray)):
            centre = b[0]
        else:
            centre = b
        centres.append(float(centre))
        weights.append(float(weight))
    return np.asarray(centres, dtype=np.float64), np.asarray(weights, dtype=np.float64)


def find_component_peaks(spectrum: np.ndarray, wavenumber_cm1: np.ndarray, *,
                         min_prominence: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Positive peaks of one spectrum: (positions in cm-1, prominences relative to the max).

    ``spectrum`` and ``wavenumber_cm1`` (w,), in any wavenumber order; peaks whose prominence
    is below ``min_prominence`` times the spectrum's maximum are ignored.
    """
    s = np.asarray(spectrum, dtype=np.float64)
    top = s.max()
    if not top > 0:
        return np.zeros(0), np.zeros(0)
    # Pad with the minimum so that bands touching the window's edge still count as peaks.
    padded = np.concatenate([[s.min()], s, [s.min()]])
    idx, props = find_peaks(padded, prominence=min_prominence * top)
    idx = idx - 1
    return np.asarray(wavenumber_cm1, dtype=np.float64)[idx], props["prominences"] / top


def _score(peaks_cm1, prominence, centres, weights, tolerance_cm1):
    """(score, matched pairs) of one component against one species' bands."""
    if peaks_cm1.size == 0 or centres.size == 0 or weights.sum() <= 0:
        return 0.0, []
    distance = np.abs(peaks_cm1[:, None] - centres[None, :])  # (peaks, bands)
    close = distance <= tolerance_cm1
    explained = prominence[close.any(axis=1)].sum() / prominence.sum()
    found = weights[close.any(axis=0)].sum() / weights.sum()
    if explained + found == 0:
        return 0.0, []
    pairs = [(float(centres[j]), float(peaks_cm1[np.argmin(np.where(close[:, j], distance[:, j], np.inf))]))
             for j in np.flatnonzero(close.any(axis=0))]
    return float(2 * explained * found / (explained + found)), pairs


def match_components(S_recovered: np.ndarray, wavenumber_cm1: np.ndarray,
                     library: Mapping[str, Sequence[float]], tolerance_cm1: float = 15.0, *,
                     min_prominence: float = 0.05, min_score: float = 0.5,
                     one_to_one: bool = False) -> list[Match]:
    """Name each recovered component after the library species whose bands it shows.

    ``S_recovered`` (K, w), ``wavenumber_cm1`` (w,); ``library`` maps a species name to its
    bands: centres in cm-1, or records with ``center_cm1`` (and optionally
    ``relative_intensity``), such as ``operando.ir.simulate.bands.BAND_LIBRARY``.
    Only bands inside the measured window count. A peak matches a band within
    ``tolerance_cm1``. A component whose best score is below ``min_score`` is ``"unassigned"``.
    With ``one_to_one`` no species names two components (Hungarian assignment on the scores).
    Returns one :class:`Match` per component, in component order.
    """
    S = np.atleast_2d(np.asarray(S_recovered, dtype=np.float64))
    wn = np.asarray(wavenumber_cm1, dtype=np.float64)
    lo, hi = wn.min() - tolerance_cm1, wn.max() + tolerance_cm1
    names = list(library)
    tables = {}
    for name in names:
        c, wt = _band_table(library[name])
        inside = (c >= lo) & (c <= hi)
        tables[name] = (c[inside], wt[inside])
    peaks = [find_component_peaks(s, wn, min_prominence=min_prominence) for s in S]
    scores = np.zeros((S.shape[0], len(names)))
    pairs: dict[tuple[int, int], list] = {}
    for k, (pos, prom) in enumerate(peaks):
        for j, name in enumerate(names):
            scores[k, j], pairs[k, j] = _score(pos, prom, *tables[name], tolerance_cm1)
    if one_to_one and names:
        rows, cols = linear_sum_assignment(-scores)
        choice = dict(zip(rows.tolist(), cols.tolist()))
    else:
        choice = {k: int(np.argmax(scores[k])) for k in range(S.shape[0])} if names else {}
    out = []
    for k in range(S.shape[0]):
        j = choice.get(k)
        if j is None or scores[k, j] < min_score:
            best = float(scores[k, j]) if j is not None else 0.0
            out.append(Match(k, UNASSIGNED, best, []))
        else:
            out.append(Match(k, names[j], float(scores[k, j]), pairs[k, j]))
    return out


def _pearson_matrix(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Pearson correlation of every row of ``A`` (p, m) with every row of ``B`` (q, m) -> (p, q).

    A constant row correlates 0 with everything (instead of NaN).
    """
    A = A - A.mean(axis=1, keepdims=True)
    B = B - B.mean(axis=1, keepdims=True)
    na = np.linalg.norm(A, axis=1)
    nb = np.linalg.norm(B, axis=1)
    denom = np.outer(na, nb)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (A @ B.T) / denom
    return np.where(denom > 0, r, 0.0)


def match_to_reference(S_recovered: np.ndarray, S_true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Optimal one-to-one pairing of recovered and true spectra.

    ``S_recovered`` (K_rec, w), ``S_true`` (K_true, w). Returns ``permutation`` (K_true,) int
    and ``correlations`` (K_true,): ``S_recovered[permutation[j]]`` is the recovered spectrum
    paired with ``S_true[j]``, with Pearson correlation ``correlations[j]``; the pairing
    maximises the summed correlation. When there are fewer recovered than true spectra, the
    unpaired true spectra get permutation -1 and correlation NaN.
    """
    R = _pearson_matrix(np.atleast_2d(np.asarray(S_recovered, dtype=np.float64)),
                        np.atleast_2d(np.asarray(S_true, dtype=np.float64)))
    rec, true = linear_sum_assignment(-R)
    permutation = np.full(R.shape[1], -1, dtype=np.int64)
    correlations = np.full(R.shape[1], np.nan)
    permutation[true] = rec
    correlations[true] = R[rec, true]
    return permutation, correlations


def profile_agreement(C_recovered: np.ndarray, C_true: np.ndarray, permutation: np.ndarray) -> np.ndarray:
    """Pearson correlation (K_true,) of each true profile ``C_true[:, j]`` with the recovered
    ``C_recovered[:, permutation[j]]``; NaN where ``permutation[j]`` is -1.

    ``C_recovered`` (n, K_rec), ``C_true`` (n, K_true).
    """
    Cr = np.asarray(C_recovered, dtype=np.float64)
    Ct = np.asarray(C_true, dtype=np.float64)
    perm = np.asarray(permutation)
    out = np.full(Ct.shape[1], np.nan)
    for j, k in enumerate(perm):
        if k >= 0:
            out[j] = _pearson_matrix(Cr[:, k][None], Ct[:, j][None])[0, 0]
    return out
