"""SEI formation pathways: curve resolution of an operando sequence and of its forecast.

SEI products add a few percent of absorbance on top of a large electrolyte background that
itself changes (solvent consumed by the SEI, salt polarisation, baseline drift). A plain
non-negative MCR of the raw spectra spends its components on that background. Following what
spectroscopists do, the default ``"difference"`` mode resolves the DIFFERENCE sequence
``X_m = s_m - s_0`` (every spectrum minus the first, pristine one) as::

    X (n, w)  ~=  C (n, K) @ S (K, w)  +  B (n, q) @ Z (q, w)

* ``C >= 0``, ``S >= 0``: the K SEI "pathway" components (what forms), non-negative;
* ``Z``: a signed background with free coefficients ``B``: a constant and a linear ramp
  (baseline drift), ``s_0`` itself (contact / gain changes) and reference spectra of the
  electrolyte (:func:`reference_spectra`: measured calibration spectra of electrolytes
  made of the cell's solvents at salt concentrations near the cell's, or the band library's
  bulk species). Signed, because solvent consumption and polarisation remove as well as add
  electrolyte absorbance. ``mcr_als(..., baseline=Z)`` eliminates it exactly.

The ``"raw"`` mode is plain MCR-ALS of the spectra (optionally with ``s_0`` held fixed as a
non-negative component), for comparison.

The number of components K comes from the singular values of the background-free,
noise-whitened sequence (:func:`pathway_singular_values`): each spectrum is divided by its
white-noise level (second differences, :func:`operando.noise.estimate_noise_std`) so
that pure noise has its largest singular value near ``sqrt(n) + sqrt(w)`` (Marchenko-Pastur
edge, citation key ``marchenko-pastur``); K counts singular values above ``margin`` times that
edge. Components barely above the edge cannot be resolved into meaningful spectra, hence
``margin`` > 1 (docs/ir/decomposition.md).

Several experiments of one system can be resolved together (column-wise augmented MCR,
Tauler's multiset analysis, citation key ``mcr-multiset``): they share the component spectra and
each has its own profiles, which reduces the rotational ambiguity of MCR when the
experiments' profiles differ.

:func:`compare_pathways` runs it all for the measured (or simulated) sequence and a model's
forecast of the same experiments and scores the agreement (:func:`truth_agreement`,
:func:`component_agreement`). Every sequence here is on the preprocessed grid
(:func:`operando.ir.data.preprocess.preprocess_experiment`).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment, nnls

from operando.decompose.matching import Match, match_components
from operando.decompose.mcr import mcr_als, polynomial_baseline
from operando.ir.data.dataset import OperandoDataset
from operando.ir.data.experiment import Experiment
from operando.noise import estimate_noise_std

MODES = ("difference", "raw")
REFERENCE_SOURCES = ("auto", "calibration", "library", "none")
DEFAULT_MARGIN = 4.0  # singular values above 4x the noise edge count as resolvable components
MAX_COMPONENTS = 8
SALT_WINDOW_MOLAR = 0.3  # calibration electrolytes within this of the cell's salt concentration
MIN_COMPOSITION_SHARE = 0.05


# --------------------------------------------------------------------------- references


def _recipe_names(e: Experiment) -> set[str]:
    el = e.meta.electrolyte
    return {s.name for s in el.solvents} | {a.name for a in el.additives}


def reference_spectra(experiment: Experiment, source: str = "auto",
                      calibration: OperandoDataset | None = None, *,
                      salt_window_molar: float = SALT_WINDOW_MOLAR) -> tuple[list[str], np.ndarray]:
    """Electrolyte reference spectra for the background of ``experiment``: (names, (r, w)).

    ``experiment`` is preprocessed (common grid). ``source``:

    * ``"calibration"``: the mean preprocessed spectrum of every electrolyte sample of
      ``calibration`` (e.g. ``operando ir simulate --calibration``) whose solvents and additives
      are all in the cell's recipe, with the same salt, at a salt concentration within
      ``salt_window_molar`` of the cell's (near the cell's, so salt-dependent band shifts
      stay small); samples marked as something other than an electrolyte (``"sample"`` key,
      e.g. dried SEI reference films) are skipped;
    * ``"library"``: the simulator's band library rendered on the grid for the recipe's bulk
      species (solvents free and Li+-coordinated, additives, PF6- for LiPF6) - exact for
      OpIRSpec-7K-sim, an approximation for measured data;
    * ``"none"``: no references (the background is then the baseline and ``s_0``);
    * ``"auto"``: calibration when given, else library.
    """
    from operando.ir.data.preprocess import preprocess_experiment

    if source not in REFERENCE_SOURCES:
        raise ValueError(f"reference source must be one of {REFERENCE_SOURCES}, got {source!r}")
    if source == "auto":
        source = "calibration" if calibration is not None else "library"
    wn = np.asarray(experiment.wavenumber_cm1, dtype=np.float64)
    if source == "none":
        return [], np.zeros((0, wn.size))
    recipe = _recipe_names(experiment)
    salt = experiment.meta.electrolyte.salt
    if source == "calibration":
        if calibration is None:
            raise ValueError("reference source 'calibration' needs a calibration dataset")
        names, spectra = [], []
        for c in calibration:
            kind = c.meta.extra.get("sample", "electrolyte")
            cs = c.meta.electrolyte.salt
            if kind != "electrolyte" or not _recipe_names(c) <= recipe or cs.name != salt.name \
                    or abs(cs.amount - salt.amount) > salt_window_molar + 1e-9:
                continue
            p, _ = preprocess_experiment(c)
            if p.absorbance.shape[1] != wn.size or not np.allclose(p.wavenumber_cm1, wn):
                raise ValueError("calibration spectra and the experiment are on different grids")
            names.append(c.name)
            spectra.append(np.nanmean(p.absorbance.astype(np.float64), axis=0))
        return names, np.array(spectra).reshape(len(spectra), wn.size)
    from operando.ir.simulate.bands import BAND_LIBRARY, component_spectra

    species = []
    for name in sorted(recipe):
        species += [s for s in (name, f"{name}-Li+") if s in BAND_LIBRARY]
    if salt.name == "LiPF6":
        species.append("PF6-")
    return species, component_spectra(species, wn) if species else np.zeros((0, wn.size))


# --------------------------------------------------------------------------- rank


def pathway_singular_values(X: np.ndarray, background: np.ndarray | None = None,
                            noise_std: np.ndarray | None = None) -> np.ndarray:
    """Singular values of the background-free, noise-whitened sequence, in units of the
    noise edge: (min(n, w),) descending.

    ``X`` (n, w) spectra (or differences); ``background`` (q, w) removed by orthogonal
    projection; ``noise_std`` (n,) per-spectrum noise (default: estimated from ``X``). Rows
    with no noise estimate (e.g. the all-zero first difference) are left out. For white
    noise alone the largest value is about 1.
    """
    X = np.asarray(X, dtype=np.float64)
    sigma = estimate_noise_std(X) if noise_std is None else np.asarray(noise_std, dtype=np.float64)
    keep = sigma > 1e-12 * max(float(np.abs(X).max()), 1e-300)
    if not keep.any():
        return np.zeros(0)
    R = X[keep]
    if background is not None and np.size(background):
        q, _ = np.linalg.qr(np.atleast_2d(background).T)
        R = R - (R @ q) @ q.T
    W = R / sigma[keep, None]
    edge = np.sqrt(W.shape[0]) + np.sqrt(W.shape[1])
    # Singular values from the eigenvalues of the smaller Gram matrix: several times faster
    # than an SVD, and the squared condition number is harmless at the precision needed here.
    gram = W @ W.T if W.shape[0] <= W.shape[1] else W.T @ W
    eigenvalues = np.clip(np.linalg.eigvalsh(gram)[::-1], 0.0, None)
    return np.sqrt(eigenvalues) / edge


def noise_weights(X: np.ndarray, floor_fraction: float = 0.3) -> np.ndarray:
    """Per-spectrum weights (n,) = 1 / noise std of each row of ``X`` (n, w).

    The noise std is floored at ``floor_fraction`` times the median of the positive
    estimates (the all-zero first difference, or a noiseless row, would otherwise get an
    unbounded weight). Weights are scaled to a median of 1.
    """
    sigma = estimate_noise_std(np.asarray(X, dtype=np.float64))
    positive = sigma[sigma > 0]
    floor = floor_fraction * float(np.median(positive)) if positive.size else 1.0
    w = 1.0 / np.maximum(sigma, floor if floor > 0 else 1.0)
    return w / float(np.median(w))


def count_components(singular_values: np.ndarray, margin: float = DEFAULT_MARGIN,
                     max_k: int = MAX_COMPONENTS) -> int:
    """K = number of noise-edge-scaled singular values above ``margin``, clipped to 1..max_k."""
    return int(np.clip(np.sum(np.asarray(singular_values) > margin), 1, max_k))


# --------------------------------------------------------------------------- decomposition


@dataclass
class PathwayDecomposition:
    """Component spectra shared by one or more experiments and their profiles.

    ``spectra`` (K, w) on ``wavenumber_cm1`` (w,); per experiment (in ``experiments`` order)
    ``profiles[i]`` (n_i, K), ``time_s[i]`` and ``voltage_v[i]`` (n_i,). ``names`` (K,)
    library names (``"unassigned"`` when no species fits), ``composition`` (K,) dicts
    species -> share of the component's integrated absorbance (non-negative fit on the
    library's SEI spectra, shares >= 5 %). ``singular_values``: see
    :func:`pathway_singular_values`. ``fixed``: indices of components held fixed (raw mode).
    """

    experiments: list[str]
    mode: str
    wavenumber_cm1: np.ndarray
    spectra: np.ndarray
    profiles: list[np.ndarray]
    time_s: list[np.ndarray]
    voltage_v: list[np.ndarray]
    background_names: list[str]
    singular_values: np.ndarray
    n_components_suggested: int
    lack_of_fit_percent: float
    explained_variance: float
    n_iter: int
    converged: bool
    names: list[str] = field(default_factory=list)
    matches: list[Match] = field(default_factory=list)
    composition: list[dict[str, float]] = field(default_factory=list)
    fixed: tuple[int, ...] = ()

    @property
    def n_components(self) -> int:
        return int(self.spectra.shape[0])

    def labels(self) -> list[str]:
        """``"1: LEDC"``-style legend texts."""
        return [f"{k + 1}: {name}" for k, name in enumerate(self.names or ["?"] * self.n_components)]

    def summary(self) -> dict:
        """JSON-ready description (no arrays but the leading singular values)."""
        return {"experiments": list(self.experiments), "mode": self.mode, "n_components": self.n_components,
                "n_components_suggested": self.n_components_suggested,
                "singular_values_over_noise_edge": [round(float(s), 4) for s in self.singular_values[:10]],
                "background": list(self.background_names),
                "lack_of_fit_percent": float(self.lack_of_fit_percent),
                "explained_variance": float(self.explained_variance), "n_iter": int(self.n_iter),
                "converged": bool(self.converged), "fixed_components": [int(k) + 1 for k in self.fixed],
                "components": [{"component": k + 1, "name": self.names[k] if self.names else None,
                                "library_score": float(self.matches[k].score) if self.matches else None,
                                "composition": self.composition[k] if self.composition else {}}
                               for k in range(self.n_components)]}


def _library(mode: str):
    """Band library used to name components: SEI species for difference mode, all for raw."""
    from operando.ir.simulate.bands import BAND_LIBRARY
    from operando.ir.simulate.chemistry import SEI_COMPONENTS

    if mode == "difference":
        return {k: v for k, v in BAND_LIBRARY.items() if k in SEI_COMPONENTS}
    return dict(BAND_LIBRARY)


def library_composition(spectra: np.ndarray, wavenumber_cm1: np.ndarray,
                        species: Sequence[str] | None = None,
                        min_share: float = MIN_COMPOSITION_SHARE) -> list[dict[str, float]]:
    """Which library species make up each component: list (K,) of {species: share}.

    Each spectrum (K, w) is fitted as a non-negative mix of the band library's unit spectra
    of ``species`` (default: the SEI products) on the same grid; a species' share is its part
    of the fitted integrated absorbance. Shares below ``min_share`` are dropped; the rest are
    rounded to 3 decimals (so a component that is one species reads ``{name: 1.0}``).
    """
    from operando.ir.simulate.bands import component_spectra
    from operando.ir.simulate.chemistry import SEI_COMPONENTS

    names = list(species or SEI_COMPONENTS)
    wn = np.asarray(wavenumber_cm1, dtype=np.float64)
    L = component_spectra(names, wn)  # (s, w)
    area = L.sum(axis=1)
    out = []
    for s in np.atleast_2d(spectra):
        coef, _ = nnls(L.T, np.asarray(s, dtype=np.float64))
        contrib = coef * area
        total = contrib.sum()
        shares = contrib / total if total > 0 else contrib
        out.append({names[j]: round(float(shares[j]), 3) for j in np.argsort(-shares) if shares[j] >= min_share})
    return out


def _single_threaded_blas(func):
    """Run ``func`` with BLAS limited to one thread (threadpoolctl, when installed).

    The matrices here have a few hundred rows and columns: BLAS threads gain nothing and, on a
    busy machine, contend badly (an eigendecomposition of a 335 x 335 matrix took 1.7 s with
    two OpenBLAS threads on two loaded cores, 0.02 s with one).
    """
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # optional: without it BLAS keeps its own setting
            return func(*args, **kwargs)
        with threadpool_limits(limits=1, user_api="blas"):
            return func(*args, **kwargs)

    return wrapper


@_single_threaded_blas
def decompose_pathways(experiments: Sequence[Experiment], sequences: Sequence[np.ndarray] | None = None, *,
                       n_components: int | None = None, mode: str = "difference",
                       references: np.ndarray | None = None, reference_names: Sequence[str] = (),
                       baseline_order: int | None = 1, fix_initial: bool = False,
                       unimodal: bool | Sequence[int] = False,
                       closure: float | None = None, margin: float = DEFAULT_MARGIN, init: str = "simplisma",
                       row_weights: str | np.ndarray = "noise", max_iter: int = 500, tol: float = 1e-9,
                       name_components: bool = True) -> PathwayDecomposition:
    """Resolve one or more preprocessed experiments (shared spectra) into K components.

    ``sequences``: spectra to resolve instead of the experiments' own (e.g. forecasts), one
    (n_i, w) array per experiment; the first MEASURED spectrum ``s_0`` of each experiment is
    still the reference of the differences and part of the background. ``references`` (r, w)
    electrolyte spectra for the background (difference mode; see :func:`reference_spectra`).
    ``n_components``: K free components, or None for :func:`count_components` of the
    singular values (which count a fixed ``s_0`` too: K = suggested - fixed, at least 1).
    ``fix_initial`` (raw mode): hold each experiment's ``s_0`` fixed as a non-negative
    component (then the first components are these fixed ones). ``unimodal``: True for every
    free profile unimodal, or the (0-based, fixed ones counted) components that must be.
    ``closure``: rows of C sum to this (raw mode mainly).
    ``row_weights``: ``"noise"`` (default) weights every spectrum by the inverse of its noise
    level (:func:`noise_weights`: the maximum-likelihood fit when the SNR varies from
    spectrum to spectrum), ``"none"``, or an array with one weight per spectrum of all
    experiments in order (e.g. the measured sequence's, to resolve a forecast alike).
    The reported lack of fit is that of the weighted problem.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    experiments = list(experiments)
    if not experiments:
        raise ValueError("no experiments to decompose")
    wn = np.asarray(experiments[0].wavenumber_cm1, dtype=np.float64)
    for e in experiments[1:]:
        if e.wavenumber_cm1.shape != wn.shape or not np.allclose(e.wavenumber_cm1, wn):
            raise ValueError("experiments resolved together must share one wavenumber grid (preprocess them)")
    if sequences is None:
        sequences = [e.absorbance for e in experiments]
    seqs = [np.asarray(s, dtype=np.float64) for s in sequences]
    for e, s in zip(experiments, seqs, strict=True):
        if s.shape != e.absorbance.shape:
            raise ValueError(f"{e.name}: sequence shape {s.shape} differs from the experiment's "
                             f"{e.absorbance.shape}")
    firsts = np.stack([np.asarray(e.absorbance[0], dtype=np.float64) for e in experiments])
    lengths = [len(s) for s in seqs]

    parts, names = [], []
    if baseline_order is not None:
        parts.append(polynomial_baseline(wn, baseline_order))
        names += ["offset", "slope", "curvature"][: baseline_order + 1] + \
            [f"order {d}" for d in range(3, baseline_order + 1)]
    if mode == "difference":
        X = np.vstack([s - f for s, f in zip(seqs, firsts)])
        parts.append(firsts)
        names += [f"s_0 of {e.name}" for e in experiments]
        if references is not None and np.size(references):
            parts.append(np.atleast_2d(np.asarray(references, dtype=np.float64)))
            names += list(reference_names) or [f"reference {i + 1}" for i in range(len(references))]
    else:
        X = np.vstack(seqs)
    background = np.vstack(parts) if parts else None

    # Singular values for K: differences drop each experiment's all-zero first row.
    sv = pathway_singular_values(X, background)
    k_suggested = count_components(sv, margin)
    n_fixed = len(experiments) if mode == "raw" and fix_initial else 0
    # The singular values also count the direction of a fixed s_0: free K is what is left.
    K = max(k_suggested - n_fixed, 1) if n_components is None else int(n_components)
    if K < 1:
        raise ValueError("n_components must be at least 1")
    if isinstance(row_weights, str):
        if row_weights not in ("noise", "none"):
            raise ValueError(f"row_weights must be 'noise', 'none' or an array, got {row_weights!r}")
        weights = noise_weights(X) if row_weights == "noise" else np.ones(len(X))
    else:
        weights = np.asarray(row_weights, dtype=np.float64)
        if weights.shape != (len(X),) or not np.all(weights > 0):
            raise ValueError(f"row_weights must be {len(X)} positive numbers")
    fixed = {i: firsts[i] for i in range(n_fixed)}
    free = list(range(n_fixed, n_fixed + K))
    # Weighting rows keeps C, S >= 0 and the baseline signed; C is unweighted afterwards.
    if isinstance(unimodal, bool):
        unimodal = free if unimodal else []
    bad = [k for k in unimodal if not 0 <= k < n_fixed + K]
    if bad:
        raise ValueError(f"unimodal components {bad} do not exist (0..{n_fixed + K - 1})")
    result = mcr_als(X * weights[:, None], n_fixed + K, init=init, closure=closure, fixed_spectra=fixed or None,
                     unimodal=list(unimodal), baseline=background, max_iter=max_iter, tol=tol)
    S, C = result.S, result.C / weights[:, None]
    split = np.cumsum(lengths)[:-1]
    profiles = np.split(C, split)
    decomposition = PathwayDecomposition(
        experiments=[e.name for e in experiments], mode=mode, wavenumber_cm1=wn, spectra=S, profiles=profiles,
        time_s=[np.asarray(e.time_s, dtype=np.float64) for e in experiments],
        voltage_v=[np.asarray(e.voltage_v, dtype=np.float64) for e in experiments],
        background_names=names, singular_values=sv, n_components_suggested=k_suggested,
        lack_of_fit_percent=result.lack_of_fit_percent, explained_variance=result.explained_variance,
        n_iter=result.n_iter, converged=result.converged, fixed=tuple(range(n_fixed)))
    if name_components:
        name_decomposition(decomposition)
    return decomposition


def name_decomposition(d: PathwayDecomposition, library: Mapping | None = None) -> None:
    """Fill ``names``, ``matches`` and ``composition`` of ``d`` from the band library
    (band positions, one species per component; fixed ``s_0`` components are named so)."""
    library = _library(d.mode) if library is None else library
    d.matches = match_components(d.spectra, d.wavenumber_cm1, library, one_to_one=len(library) >= d.n_components)
    d.names = [m.species for m in d.matches]
    for k in d.fixed:
        d.names[k] = f"s_0 ({d.experiments[k]})"
    d.composition = library_composition(d.spectra, d.wavenumber_cm1)
    for k in d.fixed:
        d.composition[k] = {}


# --------------------------------------------------------------------------- agreement


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float64) - np.mean(a)
    b = np.asarray(b, dtype=np.float64) - np.mean(b)
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b / denom) if denom > 0 else 0.0


def _correlation_matrix(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    return np.array([[_pearson(a, b) for b in B] for a in A])


def _nan_to_none(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 4)


def true_components(experiments: Sequence[Experiment], kinds: Sequence[str] | None = ("sei",),
                    min_fraction: float = 1e-3) -> tuple[list[str], np.ndarray, list[np.ndarray]]:
    """The true components of ``kinds`` (None: all) present in ``experiments``
    (preprocessed, with ground truth): (names, spectra (p, w) of the first experiment,
    [concentrations (n_i, p)] per experiment).

    A component is present when its largest amount reaches ``min_fraction`` of the largest
    amount of any component of those kinds.
    """
    truths = [e.truth for e in experiments]
    if any(t is None for t in truths):
        raise ValueError("ground truth is needed (simulated data)")
    t0 = truths[0]
    sei = [i for i, kind in enumerate(t0.component_kinds) if kinds is None or kind in kinds]
    peak = np.array([max(float(np.max(t.concentrations[:, i])) for t in truths) for i in sei])
    top = float(peak.max()) if peak.size else 0.0
    present = [i for i, p in zip(sei, peak) if top > 0 and p >= min_fraction * top]
    return ([t0.component_names[i] for i in present], np.asarray(t0.component_spectra, dtype=np.float64)[present],
            [np.asarray(t.concentrations, dtype=np.float64)[:, present] for t in truths])


def truth_agreement(d: PathwayDecomposition, experiments: Sequence[Experiment],
                    kinds: Sequence[str] | None = None) -> dict:
    """Recovered components versus the simulator's true components: the SEI products
    (``kinds`` default for difference mode) or every component (raw mode default).

    Each free recovered component is paired one-to-one with a true component (Hungarian
    assignment maximising the summed Pearson correlation of the spectra, on the grid);
    reported per recovered component: ``true_component``, ``spectrum_correlation``,
    ``profile_correlation`` (Pearson of recovered and true amounts over time, mean over the
    experiments), ``mixture_correlation`` (correlation of the component with its best
    non-negative mix of ALL the true spectra: near 1 when the component is a blend of
    products whose amounts grow together, which MCR cannot split) and ``mixture`` (the
    shares of that blend, by integrated absorbance). Also the min and mean spectrum
    correlation over the components.
    """
    if kinds is None:
        kinds = ("sei",) if d.mode == "difference" else None
    names, S_true, C_true = true_components(experiments, kinds)
    free = [k for k in range(d.n_components) if k not in d.fixed]
    S_rec = d.spectra[free]
    if not names or not free:
        return {"true_components": names, "components": [], "min_spectrum_correlation": None}
    R = _correlation_matrix(S_rec, S_true)  # (K, p)
    rows, cols = linear_sum_assignment(-R)
    pairs = dict(zip(rows.tolist(), cols.tolist()))
    comps = []
    for i, k in enumerate(free):
        j = pairs.get(i)
        coef, _ = nnls(S_true.T, S_rec[i])
        mixture = _pearson(S_true.T @ coef, S_rec[i]) if coef.any() else 0.0
        contribution = coef * S_true.sum(axis=1)
        shares = contribution / contribution.sum() if contribution.sum() > 0 else contribution
        entry = {"component": k + 1, "name": d.names[k] if d.names else None,
                 "true_component": names[j] if j is not None else None,
                 "spectrum_correlation": _nan_to_none(R[i, j]) if j is not None else None,
                 "profile_correlation": None, "mixture_correlation": _nan_to_none(mixture),
                 "mixture": {names[m]: round(float(shares[m]), 3) for m in np.argsort(-shares)
                             if shares[m] >= MIN_COMPOSITION_SHARE}}
        if j is not None:
            per_exp = [_pearson(P[:, k], Ct[:, j]) for P, Ct in zip(d.profiles, C_true)]
            entry["profile_correlation"] = _nan_to_none(float(np.mean(per_exp)))
        comps.append(entry)
    spectral = [c["spectrum_correlation"] for c in comps if c["spectrum_correlation"] is not None]
    return {"true_components": names, "components": comps,
            "min_spectrum_correlation": min(spectral) if spectral else None,
            "mean_spectrum_correlation": round(float(np.mean(spectral)), 4) if spectral else None}


def component_agreement(a: PathwayDecomposition, b: PathwayDecomposition) -> dict:
    """Components of ``b`` (e.g. from a forecast) versus those of ``a`` (e.g. from the
    measured sequence): one-to-one pairing on spectral Pearson correlation; per pair the
    spectrum and profile correlation (mean over the shared experiments)."""
    fa = [k for k in range(a.n_components) if k not in a.fixed]
    fb = [k for k in range(b.n_components) if k not in b.fixed]
    if not fa or not fb:
        return {"pairs": [], "min_spectrum_correlation": None}
    R = _correlation_matrix(a.spectra[fa], b.spectra[fb])
    rows, cols = linear_sum_assignment(-R)
    shared = [n for n in a.experiments if n in b.experiments]
    pairs = []
    for i, j in sorted(zip(rows.tolist(), cols.tolist())):
        ka, kb = fa[i], fb[j]
        prof = [_pearson(a.profiles[a.experiments.index(n)][:, ka], b.profiles[b.experiments.index(n)][:, kb])
                for n in shared]
        pairs.append({"component": ka + 1, "name": a.names[ka] if a.names else None,
                      "matched_component": kb + 1, "matched_name": b.names[kb] if b.names else None,
                      "spectrum_correlation": _nan_to_none(R[i, j]),
                      "profile_correlation": _nan_to_none(float(np.mean(prof))) if prof else None})
    spectral = [p["spectrum_correlation"] for p in pairs if p["spectrum_correlation"] is not None]
    return {"pairs": pairs, "min_spectrum_correlation": min(spectral) if spectral else None,
            "mean_spectrum_correlation": round(float(np.mean(spectral)), 4) if spectral else None}


# --------------------------------------------------------------------------- one call


def forecast_sequences(forecaster, experiments: Sequence[Experiment]) -> dict[str, np.ndarray]:
    """Point forecasts (n_i, w) of every spectrum of each preprocessed experiment from its
    first spectrum only (the OpIRBench task: :func:`operando.ir.bench.task.masked`)."""
    from operando.ir.bench.task import masked

    out = {}
    for e in experiments:
        steps = np.arange(len(e))
        out[e.name] = np.asarray(forecaster.predict(masked(e, [0]), steps), dtype=np.float64)
    return out


def compare_pathways(dataset: OperandoDataset, experiment: str | Sequence[str], forecaster=None, *,
                     forecasts: Mapping[str, np.ndarray] | None = None,
                     calibration: OperandoDataset | None = None, references: str = "auto",
                     n_components: int | None = None, mode: str = "difference", preprocess: bool = True,
                     **options) -> dict:
    """Decompose the measured sequence of ``experiment`` (a name, or several names of one
    system resolved together) and, given ``forecaster`` (anything with ``predict(context,
    steps)``, e.g. :func:`operando.ir.models.runs.load_run`) or precomputed ``forecasts``
    ({name: (n, w)} on the preprocessed grid), the forecast of the same experiments from
    their first spectrum, with the same settings and the same K.

    ``dataset`` holds raw experiments (preprocessed here unless ``preprocess`` is False);
    ``calibration`` / ``references``: see :func:`reference_spectra`; ``options`` go to
    :func:`decompose_pathways`. Returns a dict with ``experiments``, ``n_components``,
    ``references`` (names), ``measured`` and ``forecast`` (:class:`PathwayDecomposition`, the
    latter None without a model), ``forecasts`` ({name: (n, w)} or None), ``experiment_data``
    (the preprocessed experiments) and ``scores``: ``measured_vs_true`` and
    ``forecast_vs_true`` (:func:`truth_agreement`, simulated data only) and
    ``forecast_vs_measured`` (:func:`component_agreement`), each None where it does not apply.
    """
    from operando.ir.data.preprocess import preprocess_experiment

    names = [experiment] if isinstance(experiment, str) else list(experiment)
    missing = [n for n in names if n not in dataset.names]
    if missing:
        raise KeyError(f"no experiments {missing} in the dataset")
    exps = [preprocess_experiment(dataset[n])[0] if preprocess else dataset[n] for n in names]
    ref_names, refs = ([], None)
    if mode == "difference":
        ref_names, refs = reference_spectra(exps[0], references, calibration)
    if "row_weights" not in options:  # the forecast is resolved with the measured spectra's weights
        X = np.vstack([e.absorbance - e.absorbance[0] if mode == "difference" else e.absorbance for e in exps])
        options["row_weights"] = noise_weights(X)
    measured = decompose_pathways(exps, n_components=n_components, mode=mode, references=refs,
                                  reference_names=ref_names, **options)
    if forecasts is None and forecaster is not None:
        forecasts = forecast_sequences(forecaster, exps)
    forecast = None
    if forecasts is not None:
        forecast = decompose_pathways(exps, [forecasts[n] for n in names], n_components=measured.n_components,
                                      mode=mode, references=refs, reference_names=ref_names, **options)
    has_truth = all(e.truth is not None for e in exps)
    scores = {"measured_vs_true": truth_agreement(measured, exps) if has_truth else None,
              "forecast_vs_true": truth_agreement(forecast, exps) if has_truth and forecast else None,
              "forecast_vs_measured": component_agreement(measured, forecast) if forecast else None}
    return {"experiments": names, "n_components": measured.n_components, "references": ref_names,
            "measured": measured, "forecast": forecast,
            "forecasts": None if forecasts is None else {n: np.asarray(forecasts[n]) for n in names},
            "experiment_data": exps, "scores": scores}


def scores_summary(result: Mapping) -> dict:
    """The JSON-ready part of a :func:`compare_pathways` result."""
    out = {"experiments": list(result["experiments"]), "n_components": int(result["n_components"]),
           "references": list(result["references"]), "measured": result["measured"].summary(),
           "forecast": result["forecast"].summary() if result["forecast"] is not None else None}
    out.update(result["scores"])
    return out
