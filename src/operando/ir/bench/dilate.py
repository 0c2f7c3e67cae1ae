"""Soft-DTW and the DILATE sequence metric / training loss.

DILATE (V. Le Guen, N. Thome, NeurIPS 2019) compares a predicted sequence of spectra with the
true one by a shape term and a temporal term:

* cost matrix ``C[i, j] = ||y_true[i] - y_pred[j]||^2`` (squared Euclidean, (T, T));
* shape term = soft-DTW (M. Cuturi, M. Blondel, ICML 2017) of ``C`` with smoothing ``gamma``,
  the plain soft-min value over all monotone alignment paths (not divided by anything);
* temporal term = soft time-distortion index ``TDI = <E, Omega>`` where
  ``E = d softDTW / d C`` is the soft alignment matrix (entries in [0, 1]; the expected path)
  and ``Omega[i, j] = (i - j)^2 / T^2``;
* ``DILATE = alpha * shape + (1 - alpha) * temporal``.

This normalisation reproduces the reference values of OpIRBench's check (y = sin(t),
y_hat = sin(t + 0.5), t = linspace(0, 2 pi, 20), gamma 0.01): shape 0.612972, temporal 0.155972,
DILATE(0.5) 0.384472, and the shape term equals ``tslearn.metrics.soft_dtw``.

Speed: the forward recursion ``R[i, j] = C[i, j] + softmin(R[i-1, j-1], R[i-1, j], R[i, j-1])``
and the backward recursion for ``E`` only couple cells on neighbouring anti-diagonals, so all
cells of one anti-diagonal are updated at once. The arrays are stored "skewed"
(``S[d, i] = P[i, d - i]``, d = i + j) so that each anti-diagonal and its neighbours are
contiguous slices: about 2T numpy steps per sequence instead of T^2 Python steps.
Soft-min is a log-sum-exp shifted by the minimum, in float64, so costs far larger than gamma
(two 601-point spectra) neither overflow nor lose the minimum.

The torch loss (:func:`dilate_loss`, :class:`DILATELoss`, :class:`SoftDTWLoss`) wraps the same
numpy recursions in a custom autograd function: the gradient of soft-DTW w.r.t. the cost is
``E``; the gradient of the temporal term ``<E, Omega>`` is the Hessian-vector product
``H Omega`` of soft-DTW, obtained by forward-mode differentiation of the forward recursion
followed by the differentiated backward recursion (the approach of Mensch and Blondel,
ICML 2018, used in the DILATE authors' code; derived and written here independently).
"""
from __future__ import annotations

import numpy as np
import torch

DEFAULT_ALPHA = 0.5
DEFAULT_GAMMA = 0.01


# ---------------------------------------------------------------------------------------------
# numpy core
# ---------------------------------------------------------------------------------------------

def squared_euclidean_cost(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pairwise squared Euclidean distances ``||x_i - y_j||^2``.

    ``x``: (..., n, D), ``y``: (..., m, D) -> (..., n, m), float64, >= 0.
    Both sequences are shifted by the same vector (the mean of ``x``) first: distances do not
    change, and the ``|x|^2 + |y|^2 - 2 x.y`` expansion loses far less to cancellation.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    shift = x.mean(axis=-2, keepdims=True)
    x = x - shift
    y = y - shift
    x2 = np.einsum("...nd,...nd->...n", x, x)
    y2 = np.einsum("...md,...md->...m", y, y)
    cost = x2[..., :, None] + y2[..., None, :] - 2.0 * (x @ np.swapaxes(y, -1, -2))
    return np.maximum(cost, 0.0)


def time_distortion_penalty(n_steps: int) -> np.ndarray:
    """``Omega[i, j] = (i - j)^2 / T^2`` of the temporal term, (T, T) float64."""
    idx = np.arange(n_steps, dtype=np.float64)
    return (idx[:, None] - idx[None, :]) ** 2 / float(n_steps) ** 2


def _skew(matrix: np.ndarray, fill: float) -> np.ndarray:
    """(B, n, m) interior cells -> skewed padded array (B, n + m + 3, n + 2).

    Padded cell (i, j), i in 0..n+1, j in 0..m+1 (interior cells are 1..n, 1..m), lives at
    ``S[:, i + j, i]``. Slots that are no padded cell keep ``fill`` and are never read.
    """
    b, n, m = matrix.shape
    skewed = np.full((b, n + m + 3, n + 2), fill, dtype=np.float64)
    ii, jj = np.indices((n, m))
    skewed[:, ii + jj + 2, ii + 1] = matrix
    return skewed


def _unskew(skewed: np.ndarray, n: int, m: int) -> np.ndarray:
    """Inverse of :func:`_skew` for the interior cells: -> (B, n, m)."""
    ii, jj = np.indices((n, m))
    return skewed[:, ii + jj + 2, ii + 1]


def _diagonal_range(d: int, n: int, m: int) -> tuple[int, int]:
    """Rows ``i`` (1-based, inclusive lo..hi) of the interior cells with ``i + j == d``."""
    return max(1, d - m), min(n, d - 1)


def _soft_dtw_forward(cost_sk: np.ndarray, n: int, m: int, gamma: float) -> np.ndarray:
    """Soft-DTW accumulated cost ``R`` (skewed, (B, n+m+3, n+2)); ``R[n, m]`` is the value.

    Boundary: ``R[0, 0] = 0``, rest of row 0 / column 0 = +inf.
    """
    r_sk = np.full_like(cost_sk, np.inf)
    r_sk[:, 0, 0] = 0.0
    for d in range(2, n + m + 1):
        lo, hi = _diagonal_range(d, n, m)
        r_diag = r_sk[:, d - 2, lo - 1:hi]      # (i-1, j-1)
        r_up = r_sk[:, d - 1, lo - 1:hi]        # (i-1, j)
        r_left = r_sk[:, d - 1, lo:hi + 1]      # (i, j-1)
        r_min = np.minimum(np.minimum(r_diag, r_up), r_left)   # finite for every interior cell
        total = (np.exp((r_min - r_diag) / gamma) + np.exp((r_min - r_up) / gamma)
                 + np.exp((r_min - r_left) / gamma))
        r_sk[:, d, lo:hi + 1] = cost_sk[:, d, lo:hi + 1] + r_min - gamma * np.log(total)
    return r_sk


def _successor_weights(cost_sk, r_sk, d, lo, hi, gamma):
    """Soft-min weight each successor of the cells on anti-diagonal ``d`` gives to that cell.

    Successor s = (i+1, j+1), (i+1, j), (i, j+1); weight = exp((R_s - C_s - R_ij) / gamma)
    (= the softmax weight of R_ij inside softmin_s). The exponent is <= 0 up to rounding;
    padding successors have R = -inf, so weight 0. Returns three (B, hi-lo+1) arrays.
    """
    r_here = r_sk[:, d, lo:hi + 1]
    out = []
    for diag, start in ((d + 2, lo + 1), (d + 1, lo + 1), (d + 1, lo)):
        r_s = r_sk[:, diag, start:start + hi - lo + 1]
        c_s = cost_sk[:, diag, start:start + hi - lo + 1]
        out.append(np.exp(np.minimum((r_s - c_s - r_here) / gamma, 0.0)))
    return out


_SUCCESSORS = ((2, 1), (1, 1), (1, 0))   # (diagonal offset, row offset) of the three successors


def _soft_alignment(cost_sk: np.ndarray, r_sk: np.ndarray, n: int, m: int,
                    gamma: float) -> np.ndarray:
    """``E = d R[n, m] / d C`` (skewed). Sets row n+1 and column m+1 of ``r_sk`` to -inf."""
    _mark_end_padding(r_sk, n, m)
    e_sk = np.zeros_like(cost_sk)
    e_sk[:, n + m, n] = 1.0
    for d in range(n + m - 1, 1, -1):
        lo, hi = _diagonal_range(d, n, m)
        weights = _successor_weights(cost_sk, r_sk, d, lo, hi, gamma)
        acc = 0.0
        for w, (dd, di) in zip(weights, _SUCCESSORS):
            acc = acc + w * e_sk[:, d + dd, lo + di:hi + di + 1]
        e_sk[:, d, lo:hi + 1] = acc
    return e_sk


def _mark_end_padding(r_sk: np.ndarray, n: int, m: int) -> None:
    """Row n+1 and column m+1 of the padded R are successors only: -inf gives them weight 0."""
    j = np.arange(m + 2)
    r_sk[:, n + 1 + j, n + 1] = -np.inf
    i = np.arange(n + 2)
    r_sk[:, i + m + 1, i] = -np.inf


def _soft_alignment_hvp(cost_sk, r_sk, e_sk, direction_sk, n, m, gamma) -> np.ndarray:
    """Hessian-vector product ``H Z = d/de E(C + e Z)`` at e = 0 (skewed, (B, n+m+3, n+2)).

    Forward tangent: ``Rdot_ij = Z_ij + sum_k q_ij^k Rdot_k`` over the 3 predecessors k
    (softmin's derivative is the softmax-weighted average). Weight tangent:
    ``qdot_s^k = -(q_s^k / gamma) (Rdot_k - (Rdot_s - Z_s))``. Backward tangent:
    ``Edot_ij = sum_s (Edot_s q_s^ij + E_s qdot_s^ij)`` with ``Edot[n, m] = 0``.
    ``r_sk`` must have passed through :func:`_soft_alignment` (end padding = -inf).
    """
    rdot = np.zeros_like(cost_sk)
    for d in range(2, n + m + 1):
        lo, hi = _diagonal_range(d, n, m)
        softmin_here = r_sk[:, d, lo:hi + 1] - cost_sk[:, d, lo:hi + 1]
        acc = direction_sk[:, d, lo:hi + 1].copy()
        # predecessors (i-1, j-1), (i-1, j), (i, j-1); +inf padding -> weight exp(-inf) = 0
        for dd, start in ((2, lo - 1), (1, lo - 1), (1, lo)):
            r_k = r_sk[:, d - dd, start:start + hi - lo + 1]
            q = np.exp(np.minimum((softmin_here - r_k) / gamma, 0.0))
            acc += q * rdot[:, d - dd, start:start + hi - lo + 1]
        rdot[:, d, lo:hi + 1] = acc

    edot = np.zeros_like(cost_sk)
    for d in range(n + m - 1, 1, -1):
        lo, hi = _diagonal_range(d, n, m)
        weights = _successor_weights(cost_sk, r_sk, d, lo, hi, gamma)
        rdot_here = rdot[:, d, lo:hi + 1]
        acc = 0.0
        for w, (dd, di) in zip(weights, _SUCCESSORS):
            sl = (slice(None), d + dd, slice(lo + di, hi + di + 1))
            wdot = -(w / gamma) * (rdot_here - (rdot[sl] - direction_sk[sl]))
            acc = acc + w * edot[sl] + wdot * e_sk[sl]
        edot[:, d, lo:hi + 1] = acc
    return edot


def _check_cost(cost: np.ndarray, gamma: float) -> np.ndarray:
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim == 2:
        cost = cost[None]
    if cost.ndim != 3 or cost.shape[1] < 1 or cost.shape[2] < 1:
        raise ValueError(f"cost matrix must be (n, m) or (B, n, m) with n, m >= 1, "
                         f"got {cost.shape}")
    if not np.all(np.isfinite(cost)):
        raise ValueError("cost matrix has non-finite entries")
    if not gamma > 0:
        raise ValueError(f"gamma must be > 0, got {gamma}")
    return cost


def soft_dtw(cost: np.ndarray, gamma: float = DEFAULT_GAMMA) -> np.ndarray | float:
    """Soft-DTW value of a cost matrix.

    ``cost``: (n, m) -> float, or (B, n, m) -> (B,). ``gamma`` > 0 is the soft-min smoothing.
    """
    c = _check_cost(cost, gamma)
    _, n, m = c.shape
    values = _soft_dtw_forward(_skew(c, 0.0), n, m, gamma)[:, n + m, n]
    return float(values[0]) if np.ndim(cost) == 2 else values


def soft_dtw_alignment(cost: np.ndarray, gamma: float = DEFAULT_GAMMA):
    """Soft-DTW value and soft alignment matrix ``E = d value / d cost``.

    ``cost``: (n, m) -> (float, (n, m)), or (B, n, m) -> ((B,), (B, n, m)). Rows of ``E`` are
    the expected visits of each cell by the Gibbs distribution over alignment paths.
    """
    c = _check_cost(cost, gamma)
    _, n, m = c.shape
    cost_sk = _skew(c, 0.0)
    r_sk = _soft_dtw_forward(cost_sk, n, m, gamma)
    values = r_sk[:, n + m, n].copy()
    e = _unskew(_soft_alignment(cost_sk, r_sk, n, m, gamma), n, m)
    if np.ndim(cost) == 2:
        return float(values[0]), e[0]
    return values, e


def dilate_terms(y_true: np.ndarray, y_pred: np.ndarray, alpha: float = DEFAULT_ALPHA,
                 gamma: float = DEFAULT_GAMMA) -> dict[str, float]:
    """DILATE of one time-ordered predicted sequence of spectra against the true one.

    ``y_true``, ``y_pred``: (T, D) (a (T,) array is read as T one-dimensional steps).
    Returns ``{"shape": soft-DTW, "temporal": <E, Omega>, "dilate": alpha*shape +
    (1-alpha)*temporal}`` as floats (normalisation in the module docstring).
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.ndim == 1:
        y_true = y_true[:, None]
    if y_pred.ndim == 1:
        y_pred = y_pred[:, None]
    if y_true.ndim != 2 or y_true.shape != y_pred.shape or y_true.shape[0] < 1:
        raise ValueError(f"y_true and y_pred must both be (T, D) with the same shape, got "
                         f"{y_true.shape} and {y_pred.shape}")
    if not (0.0 <= alpha <= 1.0):
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if not (np.all(np.isfinite(y_true)) and np.all(np.isfinite(y_pred))):
        raise ValueError("y_true / y_pred contain non-finite values")
    shape, e = soft_dtw_alignment(squared_euclidean_cost(y_true, y_pred), gamma)
    temporal = float(np.sum(e * time_distortion_penalty(y_true.shape[0])))
    return {"shape": shape, "temporal": temporal,
            "dilate": alpha * shape + (1.0 - alpha) * temporal}


# ---------------------------------------------------------------------------------------------
# torch loss
# ---------------------------------------------------------------------------------------------

class SoftDTWFunction(torch.autograd.Function):
    """Batched soft-DTW with its soft alignment as a differentiable pair.

    ``forward(cost (B, n, m), gamma) -> (value (B,), E (B, n, m))``. Backward:
    ``dL/dC = g_value * E + H(g_E)`` where ``H`` is the soft-DTW Hessian (the second term is
    skipped when ``E`` did not reach the loss). Computed in float64 numpy on the CPU; results
    come back in the input's dtype and device. No double backward.
    """

    @staticmethod
    def forward(ctx, cost: torch.Tensor, gamma: float):
        c = cost.detach().to("cpu", torch.float64).numpy()
        _check_cost(c, gamma)
        _, n, m = c.shape
        cost_sk = _skew(c, 0.0)
        r_sk = _soft_dtw_forward(cost_sk, n, m, gamma)
        values = r_sk[:, n + m, n].copy()
        e_sk = _soft_alignment(cost_sk, r_sk, n, m, gamma)
        as_out = dict(dtype=cost.dtype, device=cost.device)
        ctx.saved = (cost_sk, r_sk, e_sk, n, m, gamma, as_out)
        ctx.set_materialize_grads(False)
        return (torch.from_numpy(values).to(**as_out),
                torch.from_numpy(_unskew(e_sk, n, m)).to(**as_out))

    @staticmethod
    def backward(ctx, grad_value, grad_alignment):
        cost_sk, r_sk, e_sk, n, m, gamma, as_out = ctx.saved
        if grad_value is None and grad_alignment is None:
            return None, None
        b = cost_sk.shape[0]
        grad = np.zeros((b, n, m))
        if grad_value is not None:
            g = grad_value.detach().to("cpu", torch.float64).numpy()
            grad += g[:, None, None] * _unskew(e_sk, n, m)
        if grad_alignment is not None:
            z = grad_alignment.detach().to("cpu", torch.float64).numpy()
            grad += _unskew(_soft_alignment_hvp(cost_sk, r_sk, e_sk, _skew(z, 0.0), n, m, gamma),
                            n, m)
        return torch.from_numpy(grad).to(**as_out), None


def squared_euclidean_cost_torch(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Differentiable ``||x_i - y_j||^2``: x (B, n, D), y (B, m, D) -> (B, n, m), >= 0.

    Shifted by the (detached) mean of ``y`` first, which changes no distance but reduces
    cancellation in the ``|x|^2 + |y|^2 - 2 x.y`` expansion.
    """
    shift = y.detach().mean(dim=1, keepdim=True)
    x = x - shift
    y = y - shift
    cost = ((x * x).sum(-1)[:, :, None] + (y * y).sum(-1)[:, None, :]
            - 2.0 * torch.bmm(x, y.transpose(1, 2)))
    return cost.clamp_min(0.0)


def _check_pair(pred: torch.Tensor, true: torch.Tensor) -> None:
    if pred.ndim != 3 or pred.shape != true.shape:
        raise ValueError(f"pred and true must both be (B, T, D) with the same shape, got "
                         f"{tuple(pred.shape)} and {tuple(true.shape)}")


def soft_dtw_loss(pred: torch.Tensor, true: torch.Tensor,
                  gamma: float = DEFAULT_GAMMA) -> torch.Tensor:
    """Batch-mean soft-DTW between ``pred`` and ``true`` (B, T, D) -> scalar."""
    _check_pair(pred, true)
    values, _ = SoftDTWFunction.apply(squared_euclidean_cost_torch(true, pred), gamma)
    return values.mean()


def dilate_loss(pred: torch.Tensor, true: torch.Tensor, alpha: float = DEFAULT_ALPHA,
                gamma: float = DEFAULT_GAMMA) -> torch.Tensor:
    """Batch-mean DILATE loss, pred / true (B, T, D) -> scalar.

    Same terms as :func:`dilate_terms`, averaged over the batch (so gradients do not grow
    with the batch size).
    """
    _check_pair(pred, true)
    if not (0.0 <= alpha <= 1.0):
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    cost = squared_euclidean_cost_torch(true, pred)
    values, alignment = SoftDTWFunction.apply(cost, gamma)
    omega = torch.from_numpy(time_distortion_penalty(pred.shape[1])).to(cost.dtype).to(cost.device)
    if alpha == 1.0:   # skip the Hessian-vector product when the temporal term has weight 0
        return values.mean()
    temporal = (alignment * omega).sum(dim=(1, 2))
    return (alpha * values + (1.0 - alpha) * temporal).mean()


class SoftDTWLoss(torch.nn.Module):
    """``SoftDTWLoss(gamma)(pred, true)``: batch-mean soft-DTW, (B, T, D) pairs -> scalar."""

    def __init__(self, gamma: float = DEFAULT_GAMMA):
        super().__init__()
        self.gamma = gamma

    def forward(self, pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
        return soft_dtw_loss(pred, true, self.gamma)


class DILATELoss(torch.nn.Module):
    """``DILATELoss(alpha, gamma)(pred, true)``: batch-mean DILATE, (B, T, D) pairs -> scalar."""

    def __init__(self, alpha: float = DEFAULT_ALPHA, gamma: float = DEFAULT_GAMMA):
        super().__init__()
        self.alpha = alpha
        self.gamma = gamma

    def forward(self, pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
        return dilate_loss(pred, true, self.alpha, self.gamma)
