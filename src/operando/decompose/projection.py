"""Differentiable projection of spectra onto known component spectra (torch).

The forecasting model splits a spectrum into streams (solvent, SEI, ...) whose component
spectra are known. :func:`project_onto_spectra` returns the non-negative least-squares
coefficients ``C = argmin_{C >= 0} ||D - C S||^2`` per spectrum, differentiable with respect
to ``D`` (and ``S``).

How: the NNLS optimum with passive set P (its non-zero coefficients) is the plain least-squares
solution restricted to P. The passive set is found without gradients by the exact active-set
solver :func:`operando.decompose.mcr.nnls_gram` (on the CPU, in float64; it only needs the
small (K, K) Gram matrix and the (B, K) products ``D S^T``), then the coefficients are
recomputed by one masked, batched linear solve in torch that autograd differentiates. This is
the implicit-function gradient of NNLS: exact wherever the passive set is locally constant,
i.e. almost everywhere.
"""
from __future__ import annotations

import torch

from operando.decompose.mcr import nnls_gram


def _masked_solve(gram: torch.Tensor, rhs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Least squares on each mask: ``gram`` (K, K), ``rhs`` (B, K), ``mask`` (B, K) bool.

    Entries outside the mask are zero. Masked-out rows/columns become the identity so every
    system stays square.
    """
    m = mask.to(gram.dtype)
    # A ridge of 1e-12 of the mean diagonal keeps exactly collinear spectra solvable and is far
    # below any difference that matters.
    ridge = 1e-12 * gram.diagonal().mean().detach().clamp_min(torch.finfo(gram.dtype).tiny)
    system = gram * m.unsqueeze(-1) * m.unsqueeze(-2) + torch.diag_embed(1.0 - m + ridge * m)
    return torch.linalg.solve(system, (rhs * m).unsqueeze(-1)).squeeze(-1) * m


@torch.no_grad()
def _passive_set(gram: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """NNLS passive sets (B, K) bool, exact (float64 active set on the CPU)."""
    x = nnls_gram(gram.double().cpu().numpy(), rhs.double().cpu().numpy().T)  # (K, B)
    return torch.from_numpy(x.T > 0).to(rhs.device)


def project_onto_spectra(D: torch.Tensor, S: torch.Tensor, nonneg: bool = True) -> torch.Tensor:
    """Coefficients ``C`` (B, K) with ``D ~= C @ S``; differentiable w.r.t. ``D`` and ``S``.

    ``D`` (B, w) spectra, ``S`` (K, w) linearly independent component spectra (cast to
    ``D``'s dtype). With ``nonneg`` the coefficients solve the non-negative least-squares
    problem; without it, ordinary least squares.
    """
    if D.dim() != 2 or S.dim() != 2 or D.shape[1] != S.shape[1]:
        raise ValueError(f"expected D (B, w) and S (K, w) with the same w, got {tuple(D.shape)} "
                         f"and {tuple(S.shape)}")
    S = S.to(D.dtype)
    gram = S @ S.T  # (K, K)
    rhs = D @ S.T  # (B, K)
    if not nonneg:
        return torch.linalg.solve(gram, rhs.T).T
    # The clamp only guards against round-off in float32; passive coefficients are positive.
    return _masked_solve(gram, rhs, _passive_set(gram, rhs)).clamp_min(0.0)
