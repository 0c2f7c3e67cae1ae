"""Multivariate curve resolution by alternating least squares (MCR-ALS).

An operando sequence is, to first order, a bilinear mixture (Beer-Lambert)::

    D (n_spectra, n_wavenumbers)  ~=  C (n_spectra, K) @ S (K, n_wavenumbers)  +  E

with ``S`` the spectrum of each of ``K`` species (electrolyte solvents, SEI products, ...)
and ``C`` their amounts over time. :func:`mcr_als` alternates two constrained least-squares
problems (C given S, then S given C) as in Tauler's MCR-ALS (Jaumot et al., Chemometr. Intell.
Lab. Syst. 76 (2005) 101, citation key ``mcr-als``):

* non-negativity of C and/or S: every row is a non-negative least-squares (NNLS) problem, all
  solved at once by :func:`nnls_gram`, a vectorised active-set solver that shares the Gram
  matrix between right-hand sides and groups the columns that share a passive set (the idea of
  Van Benthem & Keenan, J. Chemometrics 18 (2004) 441);
* closure (each row of C sums to a known total): imposed inside the C step by a heavily
  weighted extra equation (weight ``1e6`` relative to the spectra's mean energy), then made
  exact by rescaling each row to its total (a factor within ~1e-6 of one; scaling keeps the
  signs). Without non-negativity, closure is an exact equality-constrained least squares;
* known spectra held fixed (e.g. the pristine electrolyte measured separately);
* unimodal concentration profiles: each chosen column of C is replaced by its least-squares
  unimodal fit with the mode at the column's maximum (isotonic increasing up to the mode,
  isotonic decreasing after it);
* a baseline with SIGNED coefficients (e.g. a constant and a linear ramp in wavenumber, the
  residual offset/slope drift of ATR spectra): ``D ~= C S + B Z`` with ``Z`` (q, w) given and
  ``B`` (n, q) free. It is eliminated exactly in the C step (every spectrum and component is
  projected onto the orthogonal complement of ``Z``'s rows, where the NNLS problem stays
  separable per spectrum) and subtracted from ``D`` in the S step. The fit cannot tell how
  much baseline a spectrum itself holds; at the end each free spectrum gives up the
  largest baseline combination that fits under it (a small linear program), so spectra
  carry as little baseline as non-negativity allows;
* scale: without closure, every free spectrum is normalised (unit maximum of ``|S|`` by
  default, or unit Euclidean norm), which fixes the scale ambiguity of ``C S``.

When closure and unimodality are both requested closure wins: it is applied last and is
exact, and the row rescaling may shift the unimodal profiles by a factor close to one.

Lack of fit (percent) = 100 * sqrt(sum E^2 / sum D^2); explained variance = 1 - sum E^2 /
sum D^2 (both relative to the raw data, as in the MCR-ALS GUI).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from scipy.optimize import isotonic_regression

from operando.noise import estimate_noise_std

# Relative weight of the closure equation in the augmented C step (see module docstring).
CLOSURE_WEIGHT = 1e6


@dataclass
class MCRResult:
    """Outcome of :func:`mcr_als`.

    ``C`` (n_spectra, K) concentration profiles; ``S`` (K, n_wavenumbers) component spectra;
    ``lack_of_fit_percent`` = 100 sqrt(SSE / sum D^2); ``explained_variance`` = 1 - SSE /
    sum D^2; ``n_iter`` ALS iterations run; ``converged`` whether the change of the residual
    sum of squares per iteration fell below ``tol * sum D^2``; ``fixed`` indices of the spectra held fixed;
    ``baseline`` (q, w) and ``baseline_coefficients`` (n, q) the fitted signed baseline (None
    without one).
    """

    C: np.ndarray
    S: np.ndarray
    lack_of_fit_percent: float
    explained_variance: float
    n_iter: int
    converged: bool
    fixed: tuple[int, ...] = ()
    baseline: np.ndarray | None = None  # (q, w) baseline shapes, as given
    baseline_coefficients: np.ndarray | None = None  # (n, q) signed

    @property
    def reconstruction(self) -> np.ndarray:
        """``C @ S`` plus the fitted baseline, (n_spectra, n_wavenumbers)."""
        out = self.C @ self.S
        if self.baseline is not None:
            out = out + self.baseline_coefficients @ self.baseline
        return out


# --------------------------------------------------------------------------- NNLS


def _solve_on_passive_sets(gram: np.ndarray, rhs: np.ndarray, passive: np.ndarray) -> np.ndarray:
    """Least squares restricted to each column's passive set.

    ``gram`` (K, K), ``rhs`` (K, m), ``passive`` (K, m) bool -> (K, m) with zeros outside the
    passive sets. Columns sharing a passive set are solved together with one factorisation.
    """
    K, m = rhs.shape
    out = np.zeros((K, m))
    codes = (passive.T.astype(np.int64) << np.arange(K, dtype=np.int64)).sum(axis=1)
    for code in np.unique(codes):
        cols = np.flatnonzero(codes == code)
        idx = passive[:, cols[0]]
        if not idx.any():
            continue
        sub = gram[np.ix_(idx, idx)]
        b = rhs[np.ix_(idx, cols)]
        try:
            x = np.linalg.solve(sub, b)
        except np.linalg.LinAlgError:  # collinear or dead components: minimum-norm solution
            x = np.linalg.lstsq(sub, b, rcond=None)[0]
        out[np.ix_(idx, cols)] = x
    return out


def nnls_gram(gram: np.ndarray, rhs: np.ndarray, *, max_iter: int | None = None) -> np.ndarray:
    """Solve ``min ||A x_j - b_j||`` subject to ``x_j >= 0`` for many right-hand sides.

    The problem is given through its normal equations: ``gram = A^T A`` (K, K) and ``rhs =
    A^T B`` (K, m); returns ``X`` (K, m). Lawson-Hanson active set, run on all columns at once
    (warm-started from the clipped unconstrained solution; columns that share a passive set
    share one solve, as in Van Benthem & Keenan's FCNNLS, citation key ``fcnnls``). Normal
    equations square the condition number of ``A``; fine for the few, distinct components of
    curve resolution.
    """
    gram = np.asarray(gram, dtype=np.float64)
    rhs = np.asarray(rhs, dtype=np.float64)
    K, m = rhs.shape
    if m == 0:
        return np.zeros((K, 0))
    max_iter = 30 * K + 10 if max_iter is None else max_iter
    # Tolerance on the gradient: relative to each column's scale.
    tol = 1e-11 * np.abs(rhs).max(axis=0) + 1e-300

    x = np.clip(np.linalg.lstsq(gram, rhs, rcond=None)[0], 0.0, None)
    passive = x > 0
    todo = np.arange(m)  # columns whose passive set just changed and need a new solve
    for _ in range(max_iter):
        if todo.size:
            g_rhs = rhs[:, todo]
            p = passive[:, todo]
            xs = x[:, todo]
            y = _solve_on_passive_sets(gram, g_rhs, p)
            # Inner loop: step back towards feasibility where the new solution went negative.
            for _inner in range(K + 1):
                bad = (p & (y <= 0)).any(axis=0)
                if not bad.any():
                    break
                xb, yb, pb = xs[:, bad], y[:, bad], p[:, bad]
                with np.errstate(divide="ignore", invalid="ignore"):
                    ratio = np.where(pb & (yb <= 0), xb / (xb - yb), np.inf)
                alpha = np.clip(ratio.min(axis=0), 0.0, 1.0)
                xb = xb + alpha * (yb - xb)
                pb = pb & (xb > 1e-14 * np.abs(xb).max(axis=0, initial=0.0) + 1e-300)
                xb[~pb] = 0.0
                p[:, bad] = pb
                xs[:, bad] = xb
                y[:, bad] = _solve_on_passive_sets(gram, g_rhs[:, bad], pb)
            y[~p] = 0.0
            y = np.clip(y, 0.0, None)
            x[:, todo] = y
            passive[:, todo] = p & (y > 0)
        # KKT check: a zero variable whose gradient still points inwards enters the passive set.
        w = rhs - gram @ x
        w_free = np.where(passive, -np.inf, w)
        enter = w_free.max(axis=0) > tol
        if not enter.any():
            break
        todo = np.flatnonzero(enter)
        best = w_free[:, todo].argmax(axis=0)
        passive[best, todo] = True
    return x


def _least_squares(gram: np.ndarray, rhs: np.ndarray, nonneg: bool) -> np.ndarray:
    if nonneg:
        return nnls_gram(gram, rhs)
    return np.linalg.lstsq(gram, rhs, rcond=None)[0]


# --------------------------------------------------------------------------- constraints


def _unimodal(profile: np.ndarray) -> np.ndarray:
    """Least-squares unimodal fit of ``profile`` (n,) with the mode at its maximum."""
    if profile.size < 3:
        return profile.copy()
    mode = int(np.argmax(profile))
    rising = isotonic_regression(profile[: mode + 1], increasing=True).x
    falling = isotonic_regression(profile[mode + 1:], increasing=False).x if mode + 1 < profile.size \
        else np.zeros(0)
    return np.concatenate([rising, falling])


def is_unimodal(profile: np.ndarray, atol: float = 0.0) -> bool:
    """True when ``profile`` (n,) rises (weakly) to one maximum and then falls (weakly)."""
    p = np.asarray(profile, dtype=np.float64)
    mode = int(np.argmax(p))
    return bool(np.all(np.diff(p[: mode + 1]) >= -atol) and np.all(np.diff(p[mode:]) <= atol))


def _c_step(D, S, *, nonneg, closure, unimodal):
    """Concentrations given spectra: ``D`` (n, w), ``S`` (K, w) -> ``C`` (n, K).

    Also returns ``S S^T`` (K, K) and ``S D^T`` (K, n), from which the residual follows cheaply.
    """
    gram = S @ S.T
    rhs = S @ D.T  # (K, n)
    K = S.shape[0]
    if closure is None:
        C = _least_squares(gram, rhs, nonneg).T
    elif nonneg:
        weight = CLOSURE_WEIGHT * max(np.trace(gram) / K, 1e-300)
        C = nnls_gram(gram + weight, rhs + weight * closure[None, :]).T
    else:  # exact equality-constrained least squares through the KKT system
        kkt = np.zeros((K + 1, K + 1))
        kkt[:K, :K] = gram
        kkt[:K, K] = kkt[K, :K] = 1.0
        C = np.linalg.lstsq(kkt, np.vstack([rhs, closure[None, :]]), rcond=None)[0][:K].T
    for k in unimodal:
        C[:, k] = _unimodal(C[:, k])
    if closure is not None:
        total = C.sum(axis=1)
        ok = np.abs(total) > 1e-300
        C[ok] *= (closure[ok] / total[ok])[:, None]
        # A row that came out all zero cannot be rescaled: spread its total evenly.
        C[~ok] = closure[~ok, None] / K
    return C, gram, rhs


def _s_step(D, C, S_prev, free, *, nonneg, normalize, baseline_rhs=None):
    """Spectra given concentrations; rows not in ``free`` keep their (fixed) values.

    ``baseline_rhs`` (k_free, w): ``C_free^T B Z``, the part of ``C_free^T D`` that the
    current baseline explains (subtracted; computed without forming the (n, w) baseline).
    """
    S = S_prev.copy()
    fixed = np.setdiff1d(np.arange(S.shape[0]), free)
    Cf = C[:, free]
    rhs = Cf.T @ D  # (k_free, w); minus what the fixed spectra already explain
    if baseline_rhs is not None:
        rhs -= baseline_rhs
    if fixed.size:
        rhs -= (Cf.T @ C[:, fixed]) @ S_prev[fixed]
    S[free] = _least_squares(Cf.T @ Cf, rhs, nonneg)
    if normalize is not None:
        S[free] = _normalized(S[free], normalize)
    return S


def _row_scale(S: np.ndarray, how: str) -> np.ndarray:
    """(k,) the unit each spectrum is normalised to: its max |value| ("max") or Euclidean norm;
    1 for an all-zero spectrum."""
    scale = np.abs(S).max(axis=1) if how == "max" else np.linalg.norm(S, axis=1)
    return np.where(scale > 0, scale, 1.0)


def _normalized(S: np.ndarray, how: str) -> np.ndarray:
    return S / _row_scale(S, how)[:, None]


# --------------------------------------------------------------------------- initial estimates


def simplisma_pure_variables(D: np.ndarray, n_components: int, *, offset_percent: float = 5.0
                             ) -> np.ndarray:
    """Column indices of the ``n_components`` purest variables of ``D`` (n, w) (SIMPLISMA).

    Windig & Guilment, Anal. Chem. 63 (1991) 1425: purity of variable j is
    ``std_j / (mean_j + alpha)`` with ``alpha = offset_percent/100 * max(mean)`` (keeps
    near-zero, noisy variables from looking pure); each further variable is weighted by the
    determinant of the correlation-around-origin matrix of it and those already chosen, which
    favours variables independent of the earlier ones. Deterministic.
    """
    D = np.asarray(D, dtype=np.float64)
    n = D.shape[0]
    mean = np.abs(D.mean(axis=0))
    std = D.std(axis=0)
    alpha = offset_percent / 100.0 * mean.max()
    purity = std / (mean + alpha + 1e-300)
    scaled = D / np.sqrt(mean**2 + (std + alpha) ** 2 + 1e-300)
    # Correlation around the origin R = scaled^T scaled / n, (w, w); only its diagonal and the
    # columns of chosen variables are ever needed, so the full matrix is never formed.
    diag = np.einsum("ij,ij->j", scaled, scaled) / n
    chosen: list[int] = []
    for _ in range(n_components):
        if chosen:
            Rjp = scaled.T @ scaled[:, chosen] / n  # (w, p)
            Rpp = Rjp[chosen]
            # det([[R_jj, r_jp],[r_pj, R_pp]]) = det(R_pp) (R_jj - r_jp R_pp^-1 r_pj)
            schur = diag - np.einsum("jp,jp->j", Rjp, np.linalg.lstsq(Rpp, Rjp.T, rcond=None)[0].T)
            weight = np.linalg.det(Rpp) * schur
        else:
            weight = diag
        score = weight * purity
        score[chosen] = -np.inf
        chosen.append(int(np.argmax(score)))
    return np.array(chosen)


def _nndsvd_spectra(D: np.ndarray, k: int) -> np.ndarray:
    """Non-negative spectra (k, w) from the leading singular vectors (NNDSVD).

    Boutsidis & Gallopoulos, Pattern Recognition 41 (2008) 1350: each singular pair is replaced
    by the positive or negative part of (u, v) with the larger norm product, which removes the
    sign ambiguity of the SVD and makes the start deterministic.
    """
    U, s, vt = np.linalg.svd(D, full_matrices=False)
    out = np.zeros((k, D.shape[1]))
    for j in range(min(k, s.size)):
        u, v = U[:, j], vt[j]
        up, un, vp, vn = np.clip(u, 0, None), np.clip(-u, 0, None), np.clip(v, 0, None), np.clip(-v, 0, None)
        pos = np.linalg.norm(up) * np.linalg.norm(vp)
        neg = np.linalg.norm(un) * np.linalg.norm(vn)
        out[j] = vp if pos >= neg else vn
    # A component with no estimate (rank-deficient data) starts flat rather than dead.
    dead = ~(np.abs(out).max(axis=1) > 0)
    out[dead] = 1.0
    return _normalized(out, "max")


def _initial_spectra(D, n_components, init, fixed_rows, free, *, s_nonneg, random_state):
    """(K, w) start: fixed rows as given, free rows from ``init``."""
    K, w = n_components, D.shape[1]
    S = np.zeros((K, w))
    fixed = np.setdiff1d(np.arange(K), free)
    S[fixed] = fixed_rows[fixed]
    if isinstance(init, str):
        residual = D
        if fixed.size:  # estimate the free spectra from what the fixed ones leave unexplained
            Sf = S[fixed]
            Cf = nnls_gram(Sf @ Sf.T, Sf @ D.T).T
            residual = D - Cf @ Sf
        if init == "svd-nnls":
            S[free] = _nndsvd_spectra(residual, free.size)
        elif init == "simplisma":
            pure = simplisma_pure_variables(np.clip(residual, 0, None) if s_nonneg else residual, free.size)
            Cfree = np.clip(residual[:, pure], 0, None)
            Cfree = np.where(Cfree.max(axis=0) > 0, Cfree, 1.0)
            S[free] = _least_squares(Cfree.T @ Cfree, Cfree.T @ residual, s_nonneg)
            S[free] = _normalized(S[free], "max")
        elif init == "random":
            rng = np.random.default_rng(random_state)
            S[free] = rng.uniform(0.0, 1.0, size=(free.size, w))
        else:
            raise ValueError(f"init must be 'svd-nnls', 'simplisma', 'random' or an array, got {init!r}")
        return S
    arr = np.asarray(init, dtype=np.float64)
    if arr.shape == (K, w):
        S[free] = arr[free]
    elif arr.shape == (free.size, w):
        S[free] = arr
    else:
        raise ValueError(f"init array must have shape ({K}, {w}) or ({free.size}, {w}) (free components), "
                         f"got {arr.shape}")
    return S


# --------------------------------------------------------------------------- MCR-ALS


def _fixed_spectra_rows(fixed_spectra, K, w) -> tuple[np.ndarray, np.ndarray]:
    """(K, w) array holding the fixed spectra, and the indices of the free components."""
    rows = np.zeros((K, w))
    if fixed_spectra is None:
        return rows, np.arange(K)
    if isinstance(fixed_spectra, Mapping):
        items = {int(k): np.asarray(v, dtype=np.float64) for k, v in fixed_spectra.items()}
    else:
        arr = np.atleast_2d(np.asarray(fixed_spectra, dtype=np.float64))
        items = dict(enumerate(arr))
    for k, v in items.items():
        if not 0 <= k < K:
            raise ValueError(f"fixed spectrum index {k} is outside 0..{K - 1}")
        if v.shape != (w,):
            raise ValueError(f"fixed spectrum {k} has shape {v.shape}, expected ({w},)")
        rows[k] = v
    free = np.setdiff1d(np.arange(K), list(items))
    return rows, free


def mcr_als(D: np.ndarray, n_components: int, *, init: str | np.ndarray = "simplisma",
            c_nonneg: bool = True, s_nonneg: bool = True,
            closure: None | float | np.ndarray = None,
            fixed_spectra: Mapping[int, np.ndarray] | np.ndarray | None = None,
            unimodal: Sequence[int] | None = None, normalize: str = "max",
            baseline: np.ndarray | None = None,
            max_iter: int = 1000, tol: float = 1e-10, random_state: int | None = None) -> MCRResult:
    """Resolve ``D`` (n_spectra, n_wavenumbers) into ``C`` (n, K) and ``S`` (K, w).

    ``init``: ``"simplisma"`` (default: purest variables give the starting profiles, NNLS the
    spectra; deterministic; a start near the selective variables also steers ALS away from
    rotated solutions), ``"svd-nnls"`` (NNDSVD spectra from the SVD, deterministic),
    ``"random"`` (uniform, seeded by ``random_state``) or an array of initial spectra, (K, w)
    or (K - n_fixed, w) for the free components only.
    ``closure``: None, a total for every row of C, or an (n,) array of per-row totals; exact.
    ``fixed_spectra``: ``{component index: (w,) spectrum}`` or a (k_fixed, w) array taken as
    components ``0..k_fixed-1``; those rows of S never change (and are not normalised).
    ``unimodal``: indices of components whose concentration profile must be unimodal.
    ``normalize``: ``"max"`` (unit max |S|) or ``"norm"`` (unit 2-norm) for the free spectra
    when there is no closure; ignored with closure (the totals fix the scale).
    ``baseline``: (q, w) shapes with signed, unconstrained coefficients per spectrum (see
    :func:`polynomial_baseline`); the fit is then ``D ~= C S + B baseline``.
    Stops when one iteration changes the residual sum of squares by less than ``tol`` times
    ``sum D^2`` (so noiseless data, whose residual shrinks geometrically, stops too); returns
    the iterate with the smallest residual seen.
    """
    D = np.asarray(D, dtype=np.float64)
    if D.ndim != 2:
        raise ValueError(f"D must be 2-D (n_spectra, n_wavenumbers), got shape {D.shape}")
    n, w = D.shape
    K = int(n_components)
    if K < 1:
        raise ValueError("n_components must be at least 1")
    if not np.all(np.isfinite(D)):
        raise ValueError("D contains NaN or infinite values")
    if normalize not in ("max", "norm"):
        raise ValueError(f"normalize must be 'max' or 'norm', got {normalize!r}")
    fixed_rows, free = _fixed_spectra_rows(fixed_spectra, K, w)
    if closure is not None:
        closure = np.broadcast_to(np.asarray(closure, dtype=np.float64), (n,)).copy()
    unimodal = [int(k) for k in (unimodal or [])]
    for k in unimodal:
        if not 0 <= k < K:
            raise ValueError(f"unimodal component index {k} is outside 0..{K - 1}")

    Q = _orthonormal_rows(baseline, w)  # (q, w), q = 0 without a baseline

    def project(X):  # remove the baseline's span from every row of X
        return X - (X @ Q.T) @ Q if Q.shape[0] else X

    D_proj = project(D)
    DQ = D @ Q.T  # (n, q)
    D_init = D
    if Q.shape[0] and free.size < K:
        # Start from what the fixed spectra and the baseline leave: fit both jointly.
        Sf = project(fixed_rows[np.setdiff1d(np.arange(K), free)])
        Cf = nnls_gram(Sf @ Sf.T, Sf @ D_proj.T).T
        D_init = D - ((D - Cf @ fixed_rows[np.setdiff1d(np.arange(K), free)]) @ Q.T) @ Q
    S = _initial_spectra(D_init, K, init, fixed_rows, free, s_nonneg=s_nonneg, random_state=random_state)
    norm_mode = None if closure is not None else normalize
    if norm_mode is not None and free.size:
        S[free] = _normalized(S[free], norm_mode)
    total_raw = float(np.sum(D_proj**2))
    total = float(np.sum(D**2)) or 1.0

    best = None
    previous = np.inf
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        C, gram, rhs = _c_step(D_proj, project(S), nonneg=c_nonneg, closure=closure, unimodal=unimodal)
        # ||D - C S||^2 = ||D||^2 - 2 <C, D S^T> + <C^T C, S S^T>: no (n, w) product per iteration
        # (all projected when there is a baseline: the residual after the best baseline).
        sse = max(total_raw - 2.0 * float(np.sum(C * rhs.T)) + float(np.sum((C.T @ C) * gram)), 0.0)
        if best is None or sse < best[0]:
            best = (sse, C.copy(), S.copy())
        if np.isfinite(previous) and abs(previous - sse) <= tol * total:
            converged = True
            break
        previous = sse
        if free.size:
            # Baseline of the current residual, B = (D - C S) Q^T in the orthonormal basis;
            # the S step needs only C_free^T B Q.
            correction = (C[:, free].T @ (DQ - C @ (S @ Q.T))) @ Q if Q.shape[0] else None
            S = _s_step(D, C, S, free, nonneg=s_nonneg, normalize=norm_mode, baseline_rhs=correction)
    _, C, S = best
    if Q.shape[0] and s_nonneg and free.size:
        S, C = S.copy(), C.copy()
        S[free] = _without_baseline_support(S[free], np.atleast_2d(np.asarray(baseline, dtype=np.float64)))
        if norm_mode is not None:
            scale = _row_scale(S[free], norm_mode)
            S[free] /= scale[:, None]
            C[:, free] *= scale[None, :]
    residual = D - C @ S
    base, coefficients = None, None
    if Q.shape[0]:
        base = np.atleast_2d(np.asarray(baseline, dtype=np.float64))
        coefficients = np.linalg.lstsq(base.T, residual.T, rcond=None)[0].T  # (n, q)
        residual = residual - coefficients @ base
    sse = float(np.sum(residual**2))  # exact, for the reported fit
    return MCRResult(C=C, S=S, lack_of_fit_percent=100.0 * float(np.sqrt(sse / total)),
                     explained_variance=1.0 - sse / total, n_iter=n_iter, converged=converged,
                     fixed=tuple(int(k) for k in np.setdiff1d(np.arange(K), free)),
                     baseline=base, baseline_coefficients=coefficients)


def _without_baseline_support(S: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """Each row of ``S`` (k, w) minus the largest baseline ``Z^T a`` (Z (q, w)) under it.

    With a signed baseline, ``C S + B Z = C (S - A Z) + (B + C A) Z``: a spectrum's content
    in the baseline's span is not determined by the fit, only bounded by ``S >= 0``. The
    convention chosen: remove the baseline combination with the largest integral that stays
    below the spectrum (a linear program: maximise ``sum(Z^T a)`` subject to ``Z^T a <= s``,
    bounded because a non-positive combination integrates to at most zero), so every
    spectrum carries as little baseline as non-negativity allows. The fit is unchanged.
    """
    from scipy.optimize import linprog

    out = S.copy()
    for k, s in enumerate(S):
        res = linprog(-Z.sum(axis=1), A_ub=Z.T, b_ub=s, bounds=[(None, None)] * Z.shape[0], method="highs")
        if res.status == 0:
            out[k] = np.clip(s - Z.T @ res.x, 0.0, None)  # clip: round-off of the LP only
    return out


def polynomial_baseline(wavenumber_cm1: np.ndarray, order: int = 1) -> np.ndarray:
    """Baseline shapes (order + 1, w) for :func:`mcr_als`: Legendre polynomials 0..order on
    the window scaled to [-1, 1] (order 1: an offset and a slope, the drift of ATR spectra)."""
    wn = np.asarray(wavenumber_cm1, dtype=np.float64)
    span = float(wn.max() - wn.min()) or 1.0
    x = 2.0 * (wn - wn.min()) / span - 1.0
    return np.stack([np.polynomial.legendre.Legendre.basis(d)(x) for d in range(order + 1)])


def _orthonormal_rows(baseline, w: int) -> np.ndarray:
    """Orthonormal basis (q, w) of the rows of ``baseline`` ((0, w) for None)."""
    if baseline is None:
        return np.zeros((0, w))
    Z = np.atleast_2d(np.asarray(baseline, dtype=np.float64))
    if Z.shape[1] != w:
        raise ValueError(f"baseline has {Z.shape[1]} columns for {w} wavenumbers")
    if not np.all(np.isfinite(Z)):
        raise ValueError("baseline contains NaN or infinite values")
    q, r = np.linalg.qr(Z.T)
    keep = np.abs(np.diag(r)) > 1e-12 * max(np.abs(r).max(), 1e-300)
    return q[:, keep].T


# --------------------------------------------------------------------------- rank estimate


def suggest_n_components(D: np.ndarray, max_k: int = 10, *, margin: float = 1.1
                         ) -> tuple[int, np.ndarray, np.ndarray]:
    """Number of chemical components above the noise: ``(k, singular_values, explained)``.

    A pure white-noise matrix (n x w, std sigma) has its largest singular value near
    ``sigma (sqrt(n) + sqrt(w))`` (the Marchenko-Pastur edge); components whose singular value
    exceeds ``margin`` times that edge carry signal. sigma comes from the data itself
    (:func:`operando.noise.estimate_noise_std`: robust second differences along the
    wavenumber axis, median over spectra). For noiseless data the threshold falls back to the
    numerical rank tolerance. ``k`` is clipped to ``1..max_k``. ``singular_values`` are all
    singular values of ``D`` (descending); ``explained`` their cumulative fraction of sum D^2.
    """
    D = np.asarray(D, dtype=np.float64)
    n, w = D.shape
    s = np.linalg.svd(D, compute_uv=False)
    sigma = float(np.median(estimate_noise_std(D)))
    numerical = s[0] * max(n, w) * np.finfo(np.float64).eps * 10
    threshold = max(margin * sigma * (np.sqrt(n) + np.sqrt(w)), numerical)
    k = int(np.clip(np.sum(s > threshold), 1, max_k))
    explained = np.cumsum(s**2) / max(np.sum(s**2), 1e-300)
    return k, s, explained
