"""A SiT/DiT-style transformer over 2D latents (the backbone of ABCC's latent image route).

The network predicts a velocity field ``u(z, t, r | C)`` with the shape of the latent ``z``
(B, C, H, W) - e.g. the 4 x 32 x 32 autoencoder latent of a 256 x 256 waveform image. It is
the 2D twin of :class:`operando.nn.sit1d.SiT1D` with the same call contract and conditioning
(DiT, Peebles & Xie, ICCV 2023; SiT, Ma et al., ECCV 2024; MeanFlow, Geng et al. 2025):

* ``z`` is padded at the bottom/right to a multiple of ``patch_size`` P and cut into
  N = ceil(H/P) * ceil(W/P) patches of P x P pixels (row-major); when ``use_s0`` is set, the
  condition image ``s0`` (the latent of the initial spectrum's waveform, same shape as z) is
  concatenated as extra channels, so each token sees ``[z, s0]`` (2 C P^2 numbers) before the
  linear patch embedding;
* a fixed 2D sin-cos positional embedding (half of the features from the patch row, half from
  the column; any grid) or a learned one (grid of ``input_size``) is added;
* ``depth`` DiT blocks with adaLN-Zero on ``c = emb_t(t) + emb_gap(t - r) + emb_cond(cond_vec)``;
* a zero-initialised final adaLN + linear layer maps every token back to C P^2 numbers, which
  are folded back into (B, C, H, W) and cropped.

Classifier-free guidance as in SiT1D: ``drop_cond`` replaces the condition-vector embedding by
a learned null embedding, the condition image stays. Attention is an explicit softmax (the
blocks are SiT1D's), so ``torch.func.jvp`` works through the whole network.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from operando.nn.sit1d import SiTTrunk, sinusoidal_features

_PRESETS: dict[str, dict] = {
    # Unit tests and CPU smoke runs: 8 x 8 latents -> 16 tokens.
    "tiny": dict(hidden_size=64, depth=2, num_heads=4, patch_size=2, mlp_ratio=4.0),
    # A few-hour CPU / short GPU run.
    "small": dict(hidden_size=256, depth=6, num_heads=4, patch_size=2, mlp_ratio=4.0),
    # SiT-B/2 as used by MeanFlow/ABCC (GPU): 32 x 32 latents -> 256 tokens.
    "base": dict(hidden_size=768, depth=12, num_heads=12, patch_size=2, mlp_ratio=4.0),
}


@dataclass
class SiT2DConfig:
    """Architecture of :class:`SiT2D` (saved as ``model_config.json`` next to the weights).

    ``input_size``: latent height = width the model is built for (the learned positional
    embedding's grid; the sin-cos one accepts any size). ``in_channels``: latent channels C.
    ``cond_dim``: size F of the condition vector (0 = none). ``use_s0``: take the condition
    image as C extra input channels. ``time_scale``: t and t - r are multiplied by it before the
    sinusoidal features. 1, as in SiT1D: with DiT's 1000 the features oscillate fast in t, the
    d/dt term of the MeanFlow target (a JVP through the network) grows with them, and latent
    MeanFlow training diverged on the CPU setting (training MSE from 1.8 to 100-550 within 800
    steps at lr 1e-3, and upwards at 3e-4 too).
    """

    input_size: int = 32
    in_channels: int = 4
    cond_dim: int = 0
    use_s0: bool = True
    patch_size: int = 2
    hidden_size: int = 64
    depth: int = 2
    num_heads: int = 4
    mlp_ratio: float = 4.0
    pos_embed: str = "sincos"
    time_freq_dim: int = 256
    time_scale: float = 1.0

    def __post_init__(self):
        if min(self.input_size, self.in_channels, self.patch_size, self.depth) < 1 or self.cond_dim < 0:
            raise ValueError(f"invalid SiT2D size: {self}")
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not a multiple of "
                             f"num_heads {self.num_heads}")
        if self.hidden_size % 4:
            raise ValueError("hidden_size must be a multiple of 4 (2D sin-cos positions)")
        if self.pos_embed not in ("sincos", "learned"):
            raise ValueError(f"pos_embed must be 'sincos' or 'learned', got {self.pos_embed!r}")
        if self.time_freq_dim % 2:
            raise ValueError("time_freq_dim must be even")

    @classmethod
    def preset(cls, name: str, **overrides) -> "SiT2DConfig":
        """``tiny`` (tests/CPU), ``small`` or ``base`` (SiT-B/2), with field overrides."""
        if name not in _PRESETS:
            raise ValueError(f"unknown SiT2D preset {name!r}; known: {sorted(_PRESETS)}")
        return cls(**{**_PRESETS[name], **overrides})

    @property
    def grid_size(self) -> int:
        """Patches per side at ``input_size``."""
        return math.ceil(self.input_size / self.patch_size)

    @property
    def num_patches(self) -> int:
        return self.grid_size ** 2

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "SiT2DConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown SiT2DConfig fields: {sorted(unknown)}")
        return cls(**data)


def sincos_positions_2d(grid_h: int, grid_w: int, dim: int) -> Tensor:
    """Fixed 2D sin-cos embedding (grid_h * grid_w, dim), row-major: [rows(dim/2), cols(dim/2)]."""
    rows = torch.arange(grid_h, dtype=torch.float64).repeat_interleave(grid_w)
    cols = torch.arange(grid_w, dtype=torch.float64).repeat(grid_h)
    return torch.cat([sinusoidal_features(rows, dim // 2),
                      sinusoidal_features(cols, dim // 2)], dim=-1).float()


class SiT2D(SiTTrunk):
    """Velocity network ``u = model(z, t, r, s0=..., cond_vec=..., drop_cond=...)``.

    Shapes: z (B, C, H, W), t (B,), r (B,), s0 (B, C, H, W) (required iff ``config.use_s0``),
    cond_vec (B, F) (None = null embedding for every sample), drop_cond (B,) bool/float.
    Returns u (B, C, H, W). Flow matching uses r = t.
    """

    def __init__(self, config: SiT2DConfig):
        super().__init__()
        self.config = cfg = config
        p = cfg.patch_size
        in_channels = cfg.in_channels * (2 if cfg.use_s0 else 1)
        self.patch_embed = nn.Linear(in_channels * p * p, cfg.hidden_size)
        if cfg.pos_embed == "learned":
            self.pos_embed = nn.Parameter(torch.zeros(1, cfg.num_patches, cfg.hidden_size))
        else:
            self.register_buffer("pos_embed", sincos_positions_2d(cfg.grid_size, cfg.grid_size,
                                                                  cfg.hidden_size)[None],
                                 persistent=False)
        self.build_trunk(cfg, cfg.in_channels * p * p)

    def forward(self, z: Tensor, t: Tensor, r: Tensor, *, s0: Tensor | None = None,
                cond_vec: Tensor | None = None, drop_cond: Tensor | None = None) -> Tensor:
        """z (B, C, H, W), t (B,), r (B,), s0 (B, C, H, W), cond_vec (B, F) -> u (B, C, H, W)."""
        cfg = self.config
        if z.dim() != 4 or z.shape[1] != cfg.in_channels:
            raise ValueError(f"z must have shape (B, {cfg.in_channels}, H, W), got {tuple(z.shape)}")
        batch, channels, height, width = z.shape
        parts = [z]
        if cfg.use_s0:
            if s0 is None or s0.shape != z.shape:
                raise ValueError(f"s0 must have the shape of z {tuple(z.shape)}, got "
                                 f"{None if s0 is None else tuple(s0.shape)}")
            parts.append(s0)
        elif s0 is not None:
            raise ValueError("this model was built with use_s0=False but got an s0")
        p = cfg.patch_size
        grid_h, grid_w = math.ceil(height / p), math.ceil(width / p)
        x = torch.cat(parts, dim=1)
        x = F.pad(x, (0, grid_w * p - width, 0, grid_h * p - height))
        c_in = x.shape[1]
        x = x.reshape(batch, c_in, grid_h, p, grid_w, p).permute(0, 2, 4, 1, 3, 5)
        x = x.reshape(batch, grid_h * grid_w, c_in * p * p)               # (B, N, C_in P^2)
        tokens = self.patch_embed(x) + self._positions(grid_h, grid_w).to(x.dtype)
        c = self.conditioning(t, r, cond_vec, drop_cond)
        for block in self.blocks:
            tokens = block(tokens, c)
        out = self.final(tokens, c)                                        # (B, N, C P^2)
        out = out.reshape(batch, grid_h, grid_w, channels, p, p).permute(0, 3, 1, 4, 2, 5)
        out = out.reshape(batch, channels, grid_h * p, grid_w * p)
        return out[:, :, :height, :width]

    def _positions(self, grid_h: int, grid_w: int) -> Tensor:
        size = self.config.grid_size
        if isinstance(self.pos_embed, nn.Parameter):
            if grid_h > size or grid_w > size:
                raise ValueError(f"latent needs a {grid_h} x {grid_w} patch grid but the learned "
                                 f"positional embedding holds {size} x {size} "
                                 f"(config.input_size {self.config.input_size})")
            grid = self.pos_embed.reshape(1, size, size, -1)[:, :grid_h, :grid_w]
            return grid.reshape(1, grid_h * grid_w, -1)
        if (grid_h, grid_w) == (size, size):
            return self.pos_embed
        return sincos_positions_2d(grid_h, grid_w, self.config.hidden_size)[None].to(
            self.pos_embed.device)

    @classmethod
    def from_run(cls, run_dir: str | Path, *, ema: bool = True,
                 device: str | torch.device = "cpu") -> "SiT2D":
        """Rebuild a trained model from a run folder (``model_config.json`` + weights)."""
        from operando.train.checkpoint import load_weights

        run_dir = Path(run_dir)
        config = SiT2DConfig.from_dict(json.loads((run_dir / "model_config.json").read_text()))
        model = cls(config)
        load_weights(run_dir, model, ema=ema)
        return model.to(device).eval()

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


__all__ = ["SiT2D", "SiT2DConfig", "sincos_positions_2d"]
