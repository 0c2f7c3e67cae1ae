"""A tiny conditioned training problem for the trainer's tests (core and technique objectives)."""
from __future__ import annotations

import torch

from operando.nn import SiT1D, SiT1DConfig
from operando.train import TrainConfig

WIDTH, N_SPECTRA, COND_DIM = 64, 8, 3


def tiny_dataset():
    """8 conditioned spectra (W = 64): Lorentzian bands of s0 rescaled and shifted by cond_vec."""
    g = torch.Generator().manual_seed(0)
    grid = torch.linspace(0, 1, WIDTH)
    centers = 0.1 + 0.8 * torch.rand(N_SPECTRA, 2, 1, generator=g)
    heights = 0.2 + 0.8 * torch.rand(N_SPECTRA, 2, 1, generator=g)
    s0 = (heights / (1 + ((grid - centers) / 0.05) ** 2)).sum(dim=1)
    cond_vec = torch.randn(N_SPECTRA, COND_DIM, generator=g)
    x = (s0 * (1 + 0.5 * torch.tanh(cond_vec[:, :1]))
         + 0.3 * torch.sigmoid(cond_vec[:, 1:2]) * torch.exp(-((grid - 0.5) / 0.1) ** 2))
    return {"x": x, "s0": s0, "cond_vec": cond_vec}


def tiny_model(seed=0, dtype=torch.float32):
    torch.manual_seed(seed)
    return SiT1D(SiT1DConfig(width=WIDTH, cond_dim=COND_DIM, patch_size=8, hidden_size=64,
                             depth=2, num_heads=4)).to(dtype)


def quick_config(**overrides):
    base = dict(steps=10, batch_size=16, lr=1e-3, log_every=2, ckpt_every=4, progress=False,
                ema_decay=0.9)
    return TrainConfig(**{**base, **overrides})
