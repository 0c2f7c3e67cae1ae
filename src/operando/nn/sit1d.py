"""A SiT/DiT-style transformer over patches of a 1D spectrum (the ABCC generative backbone).

The network predicts a velocity field ``u(z, t, r | C)`` with the same shape as the spectrum
``z`` (B, W). It follows DiT (Peebles & Xie, ICCV 2023) and SiT (Ma et al., ECCV 2024), cut
down to one spatial axis:

* the spectrum (W points) is right-padded to a multiple of ``patch_size`` and cut into
  N = ceil(W / P) patches of P points; when ``use_s0`` is set, the initial spectrum ``s0``
  is a second input channel aligned point by point with ``z``, so each token sees
  ``[z_patch, s0_patch]`` (2P numbers) before the linear patch embedding;
* a 1D positional embedding (fixed sin-cos, any width, or learned, fixed width) is added;
* ``depth`` transformer blocks with adaLN-Zero conditioning: a conditioning vector
  ``c = emb_t(t) + emb_gap(t - r) + emb_cond(cond_vec)`` (each a sinusoidal or linear
  feature map followed by an MLP) regresses per-block shift/scale/gate, the gates start at
  zero so every block starts as the identity;
* a zero-initialised final adaLN + linear layer maps each token back to P points; the output
  is cropped back to W. With ``out_channels`` C > 1 each token is mapped to C x P points and
  the network returns C output maps (B, C, W) from the one shared trunk (the branches of the
  ABCC two-stream head, :mod:`operando.ir.models.abcc`).

Classifier-free guidance: ``drop_cond`` (B,) replaces the *condition-vector* embedding by a
learned null embedding. The initial spectrum ``s0`` is deliberately kept in the "null"
branch: it is the anchor of the forecast (the unconditional branch then means "evolution of
this spectrum under an unknown protocol/recipe"), and removing it would make the null branch
an unconditional spectrum generator that the guidance would extrapolate away from.

Attention is written as an explicit softmax (no ``F.scaled_dot_product_attention``) so that
the whole network is differentiable by forward-mode AD (``torch.func.jvp``) on CPU, which the
MeanFlow objective needs.
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

_PRESETS: dict[str, dict] = {
    # Trains on 2 CPU cores: W=601 -> 38 tokens of 16 points.
    "small": dict(hidden_size=128, depth=4, num_heads=4, patch_size=16, mlp_ratio=4.0),
    # The SiT-B/2 size used by MeanFlow/ABCC (GPU): W=601 -> 301 tokens of 2 points.
    "base": dict(hidden_size=768, depth=12, num_heads=12, patch_size=2, mlp_ratio=4.0),
}


@dataclass
class SiT1DConfig:
    """Architecture of :class:`SiT1D` (saved as ``model_config.json`` next to the weights).

    ``width``: number of points W of a spectrum (used by the learned positional embedding and
    for documentation; the sin-cos embedding accepts any width). ``cond_dim``: size F of the
    condition vector (0 = no condition vector). ``use_s0``: take the initial spectrum as a
    second input channel. ``out_channels``: 1 (default) returns u (B, W); C > 1 returns C
    output maps (B, C, W). ``time_scale``: t and t - r (in [0, 1]) are multiplied by it before
    the sinusoidal features. DiT uses 1000; MeanFlow's target contains the network's own
    d/dt, and a smooth time embedding (1.0) learned the one-step jump far better here: on a
    tiny overfitting problem, one-step error after 1000 steps was 0.017 of the data variance
    with 1.0, 0.21 with 10 and 3.5 with 100.
    """

    width: int = 601
    cond_dim: int = 0
    use_s0: bool = True
    patch_size: int = 16
    hidden_size: int = 128
    depth: int = 4
    num_heads: int = 4
    mlp_ratio: float = 4.0
    pos_embed: str = "sincos"
    time_freq_dim: int = 256
    time_scale: float = 1.0
    out_channels: int = 1

    def __post_init__(self):
        if (self.width < 1 or self.patch_size < 1 or self.depth < 1 or self.cond_dim < 0
                or self.out_channels < 1):
            raise ValueError(f"invalid SiT1D size: {self}")
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not a multiple of "
                             f"num_heads {self.num_heads}")
        if self.pos_embed not in ("sincos", "learned"):
            raise ValueError(f"pos_embed must be 'sincos' or 'learned', got {self.pos_embed!r}")
        if self.time_freq_dim % 2:
            raise ValueError("time_freq_dim must be even")

    @classmethod
    def preset(cls, name: str, **overrides) -> "SiT1DConfig":
        """``small`` (CPU default) or ``base`` (SiT-B/2), with field overrides."""
        if name not in _PRESETS:
            raise ValueError(f"unknown SiT1D preset {name!r}; known: {sorted(_PRESETS)}")
        return cls(**{**_PRESETS[name], **overrides})

    @property
    def num_patches(self) -> int:
        return math.ceil(self.width / self.patch_size)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "SiT1DConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown SiT1DConfig fields: {sorted(unknown)}")
        return cls(**data)


def sinusoidal_features(x: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """Sin/cos features of a scalar per sample: (B,) -> (B, dim), frequencies 1 .. 1/max_period."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period)
                      * torch.arange(half, device=x.device, dtype=x.dtype) / half)
    angles = x[:, None] * freqs[None, :]
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


def sincos_positions(num_positions: int, dim: int) -> Tensor:
    """Fixed 1D sin-cos positional embedding (num_positions, dim) of the transformer tokens."""
    return sinusoidal_features(torch.arange(num_positions, dtype=torch.float64), dim).float()


def _mlp(d_in: int, d_hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, d_hidden), nn.SiLU(), nn.Linear(d_hidden, d_out))


def _modulate(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    """adaLN: x (B, N, D) normalised, then scaled/shifted per sample by (B, D) vectors."""
    return x * (1 + scale[:, None, :]) + shift[:, None, :]


class TimeEmbedding(nn.Module):
    """Scalar time (B,) in [0, 1] -> (B, D): sinusoidal features then a 2-layer MLP."""

    def __init__(self, hidden_size: int, freq_dim: int, scale: float):
        super().__init__()
        self.freq_dim, self.scale = freq_dim, scale
        self.mlp = _mlp(freq_dim, hidden_size, hidden_size)

    def forward(self, time: Tensor) -> Tensor:
        return self.mlp(sinusoidal_features(time * self.scale, self.freq_dim))


class SelfAttention(nn.Module):
    """Multi-head softmax self-attention written out explicitly (forward-mode AD friendly)."""

    def __init__(self, hidden_size: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size)
        self.proj = nn.Linear(hidden_size, hidden_size)

    def forward(self, x: Tensor) -> Tensor:
        """x (B, N, D) -> (B, N, D)."""
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, d // self.num_heads).permute(
            2, 0, 3, 1, 4)                                     # each (B, H, N, D/H)
        weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
        return self.proj((weights @ v).transpose(1, 2).reshape(b, n, d))


class DiTBlock(nn.Module):
    """Pre-norm transformer block with adaLN-Zero (shift/scale/gate from the conditioning)."""

    def __init__(self, hidden_size: int, num_heads: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.attn = SelfAttention(hidden_size, num_heads)
        self.norm2 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        hidden_mlp = int(hidden_size * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(hidden_size, hidden_mlp), nn.GELU(approximate="tanh"),
                                 nn.Linear(hidden_mlp, hidden_size))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 6 * hidden_size))

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        """x (B, N, D) tokens, c (B, D) conditioning -> (B, N, D)."""
        shift1, scale1, gate1, shift2, scale2, gate2 = self.ada(c).chunk(6, dim=-1)
        x = x + gate1[:, None, :] * self.attn(_modulate(self.norm1(x), shift1, scale1))
        return x + gate2[:, None, :] * self.mlp(_modulate(self.norm2(x), shift2, scale2))


class FinalLayer(nn.Module):
    """adaLN then a linear map of each token to its P output points (C x P for C channels)."""

    def __init__(self, hidden_size: int, patch_size: int, out_channels: int = 1):
        super().__init__()
        self.norm = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 2 * hidden_size))
        self.linear = nn.Linear(hidden_size, out_channels * patch_size)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        """x (B, N, D), c (B, D) -> (B, N, C * P), channel-major within a token."""
        shift, scale = self.ada(c).chunk(2, dim=-1)
        return self.linear(_modulate(self.norm(x), shift, scale))


class SiTTrunk(nn.Module):
    """What the 1D and 2D SiT share: embeddings of t, t - r and the condition vector, the DiT
    blocks, the final layer, DiT initialisation and the adaLN conditioning. A subclass builds
    its patch and position embeddings, then calls :meth:`build_trunk`."""

    def build_trunk(self, cfg, out_per_token: int) -> None:
        self.t_embed = TimeEmbedding(cfg.hidden_size, cfg.time_freq_dim, cfg.time_scale)
        self.gap_embed = TimeEmbedding(cfg.hidden_size, cfg.time_freq_dim, cfg.time_scale)
        if cfg.cond_dim > 0:
            self.cond_embed = _mlp(cfg.cond_dim, cfg.hidden_size, cfg.hidden_size)
            self.null_cond = nn.Parameter(torch.zeros(cfg.hidden_size))
        self.blocks = nn.ModuleList(DiTBlock(cfg.hidden_size, cfg.num_heads, cfg.mlp_ratio)
                                    for _ in range(cfg.depth))
        self.final = FinalLayer(cfg.hidden_size, out_per_token)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """DiT initialisation: Xavier linears, N(0, 0.02) embeddings, zero adaLN and output."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        for embed in (self.t_embed, self.gap_embed):
            nn.init.normal_(embed.mlp[0].weight, std=0.02)
            nn.init.normal_(embed.mlp[2].weight, std=0.02)
        if isinstance(self.pos_embed, nn.Parameter):
            nn.init.normal_(self.pos_embed, std=0.02)
        if self.config.cond_dim > 0:
            nn.init.normal_(self.null_cond, std=0.02)
        for block in self.blocks:
            nn.init.zeros_(block.ada[-1].weight)
            nn.init.zeros_(block.ada[-1].bias)
        nn.init.zeros_(self.final.ada[-1].weight)
        nn.init.zeros_(self.final.ada[-1].bias)
        nn.init.zeros_(self.final.linear.weight)
        nn.init.zeros_(self.final.linear.bias)

    def conditioning(self, t: Tensor, r: Tensor, cond_vec: Tensor | None,
                     drop_cond: Tensor | None) -> Tensor:
        """adaLN conditioning c (B, D) from t (B,), r (B,), cond_vec (B, F), drop_cond (B,)."""
        c = self.t_embed(t) + self.gap_embed(t - r)
        if self.config.cond_dim > 0:
            null = self.null_cond.to(c.dtype).expand_as(c)
            if cond_vec is None:
                c = c + null
            else:
                if cond_vec.shape != (t.shape[0], self.config.cond_dim):
                    raise ValueError(f"cond_vec must have shape (B, {self.config.cond_dim}), "
                                     f"got {tuple(cond_vec.shape)}")
                embedded = self.cond_embed(cond_vec)
                if drop_cond is not None:
                    # torch.where keeps both branches in the graph, so every parameter always
                    # receives a gradient (DistributedDataParallel needs that).
                    embedded = torch.where(drop_cond.to(torch.bool)[:, None], null, embedded)
                c = c + embedded
        elif cond_vec is not None:
            raise ValueError("this model was built with cond_dim=0 but got a cond_vec")
        return c


class SiT1D(SiTTrunk):
    """Velocity network ``u = model(z, t, r, s0=..., cond_vec=..., drop_cond=...)``.

    Shapes: z (B, W), t (B,), r (B,), s0 (B, W) (required iff ``config.use_s0``), cond_vec
    (B, F) with F = ``config.cond_dim`` (None = use the null embedding for every sample),
    drop_cond (B,) bool/float (True/1 = replace cond_vec's embedding by the null embedding).
    Returns u (B, W), or (B, C, W) when ``config.out_channels`` C > 1. Any W works with the sin-cos positional embedding; the learned one needs
    W <= config.width.

    MeanFlow's average velocity takes (t, r); a flow-matching velocity is the same network with
    r = t (the gap embedding then sees t - r = 0).
    """

    def __init__(self, config: SiT1DConfig):
        super().__init__()
        self.config = config
        cfg = config
        in_channels = 2 if cfg.use_s0 else 1
        self.patch_embed = nn.Linear(in_channels * cfg.patch_size, cfg.hidden_size)
        if cfg.pos_embed == "learned":
            self.pos_embed = nn.Parameter(torch.zeros(1, cfg.num_patches, cfg.hidden_size))
        else:
            positions = sincos_positions(cfg.num_patches, cfg.hidden_size)[None]
            self.register_buffer("pos_embed", positions, persistent=False)
        self.build_trunk(cfg, cfg.out_channels * cfg.patch_size)

    def forward(self, z: Tensor, t: Tensor, r: Tensor, *, s0: Tensor | None = None,
                cond_vec: Tensor | None = None, drop_cond: Tensor | None = None) -> Tensor:
        """z (B, W), t (B,), r (B,), s0 (B, W), cond_vec (B, F), drop_cond (B,) -> u (B, W)
        (or (B, C, W) for ``out_channels`` C > 1)."""
        cfg = self.config
        if z.dim() != 2:
            raise ValueError(f"z must have shape (B, W), got {tuple(z.shape)}")
        batch, width = z.shape
        num_patches = math.ceil(width / cfg.patch_size)
        pad = num_patches * cfg.patch_size - width
        channels = [z]
        if cfg.use_s0:
            if s0 is None or s0.shape != z.shape:
                raise ValueError(f"s0 must have the shape of z {tuple(z.shape)}, got "
                                 f"{None if s0 is None else tuple(s0.shape)}")
            channels.append(s0)
        elif s0 is not None:
            raise ValueError("this model was built with use_s0=False but got an s0")
        x = torch.stack(channels, dim=-1)                               # (B, W, C)
        x = F.pad(x, (0, 0, 0, pad))                                     # (B, N*P, C)
        x = x.reshape(batch, num_patches, cfg.patch_size * len(channels))
        tokens = self.patch_embed(x) + self._positions(num_patches).to(x.dtype)
        c = self.conditioning(t, r, cond_vec, drop_cond)
        for block in self.blocks:
            tokens = block(tokens, c)
        out = self.final(tokens, c)                                      # (B, N, C*P)
        if cfg.out_channels == 1:
            return out.reshape(batch, num_patches * cfg.patch_size)[:, :width]
        out = out.reshape(batch, num_patches, cfg.out_channels, cfg.patch_size).transpose(1, 2)
        return out.reshape(batch, cfg.out_channels, num_patches * cfg.patch_size)[:, :, :width]

    def _positions(self, num_patches: int) -> Tensor:
        if num_patches <= self.pos_embed.shape[1]:
            return self.pos_embed[:, :num_patches]
        if isinstance(self.pos_embed, nn.Parameter):
            raise ValueError(f"spectrum has {num_patches} patches but the learned positional "
                             f"embedding holds {self.pos_embed.shape[1]} (config.width "
                             f"{self.config.width})")
        positions = sincos_positions(num_patches, self.config.hidden_size)[None]
        return positions.to(self.pos_embed.device)

    @classmethod
    def from_run(cls, run_dir: str | Path, *, ema: bool = True,
                 device: str | torch.device = "cpu") -> "SiT1D":
        """Rebuild a trained model from a run folder (``model_config.json`` + weights).

        ``ema=True`` loads the EMA weights (``ema.safetensors``), else the raw ones.
        """
        from operando.train.checkpoint import load_weights

        run_dir = Path(run_dir)
        config = SiT1DConfig.from_dict(json.loads((run_dir / "model_config.json").read_text()))
        model = cls(config)
        load_weights(run_dir, model, ema=ema)
        return model.to(device).eval()

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
