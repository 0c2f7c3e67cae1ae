"""The Spectral Pattern Translator (SPT) in PyTorch, after Zhong et al., arXiv:2603.27684.

Only the paper's abstract is public; it names the stages (FFT of the spectral sequence, dominant
frequency components reshaped into a 2D tensor and fused by a learnable spectral query, feature
nodes in a spatial graph with per-sample neighbours, heads for CN, CN2, OCN, OS). Every size and
layer choice below is ours and written in ``docs/xas/README.md``.

Shapes (B = batch, L = spectrum length, K = ``n_freq``, N = ``n_nodes``, D = ``dim``):

0. input scaling: ``(x - x_mean) / x_scale`` with the training set's mean spectrum and overall
   standard deviation (buffers set by :func:`operando.xas.fit.fit`), so the FFT sees the
   deviations from the average spectrum (the DC and edge-step components no longer dominate).
1. spectrum ``x`` (B, L) -> ``torch.fft.rfft`` (B, L//2+1) complex -> the K components at
   ``freq_index`` (the dominant ones: largest mean magnitude on the training set, chosen by
   :meth:`SPT.select_dominant_frequencies`; the lowest K before that) -> real and imaginary part
   scaled by 1/sqrt(L) -> (B, 2, R, K/R) "2D tensor" with R = ``freq_rows`` -> Conv2d 3x3 ->
   (B, K, D) frequency tokens. The magnitude of a rigid energy shift's FFT is unchanged and the
   shift lives in the phase, so both parts are kept (the chemical shift carries the OS).
2. raw branch: ``x`` cut into patches of ``patch`` points (B, L/patch, patch) -> Linear ->
   (B, P, D) spectral tokens. ``use_fft=False`` keeps only these ("without the FFT branch"),
   ``use_raw=False`` only the frequency tokens ("FFT branch alone").
3. learnable spectral query: N query vectors (N, D) attend over the tokens
   (``nn.MultiheadAttention``) -> (B, N, D) feature nodes, plus a feed-forward block.
4. graph: ``graph_layers`` EdgeConv layers (Wang et al., ACM TOG 38, 146 (2019)):
   ``h_i <- h_i + max_{j in kNN(i)} MLP([h_i, h_j - h_i])``. ``dynamic_graph=True``: kNN by
   feature distance recomputed per sample and layer (``torch.cdist`` + ``topk``);
   ``False``: a fixed ring over node index (i +- 1, i +- 2, ...), the same for every sample.
5. readout: mean and max over nodes (B, 2D) -> MLP -> CN logits (B, 5), OS logits (B, 3),
   regression (B, 3) = standardised CN2, OCN, mean neighbour distance.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor, nn

REG_TARGETS = ("cn2", "ocn", "nn_dist")


@dataclass
class SPTConfig:
    length: int = 201
    n_freq: int = 64
    freq_rows: int = 8
    patch: int = 16
    dim: int = 64
    n_nodes: int = 16
    heads: int = 4
    k: int = 4
    graph_layers: int = 2
    dropout: float = 0.1
    n_cn: int = 5
    n_os: int = 3
    n_reg: int = len(REG_TARGETS)
    use_fft: bool = True
    use_raw: bool = True
    dynamic_graph: bool = True
    kind: str = field(default="spt")

    def __post_init__(self):
        if not (self.use_fft or self.use_raw):
            raise ValueError("SPT needs at least one of use_fft / use_raw")
        if self.n_freq % self.freq_rows:
            raise ValueError("n_freq must be a multiple of freq_rows")
        if self.n_freq > self.length // 2 + 1:
            raise ValueError("n_freq exceeds the number of rfft components")
        if self.k >= self.n_nodes:
            raise ValueError("k must be smaller than n_nodes")

    def to_dict(self) -> dict:
        return asdict(self)


class Heads(nn.Module):
    """Pooled features (B, F) -> ``{"cn": (B, n_cn), "os": (B, n_os), "reg": (B, n_reg)}``."""

    def __init__(self, width: int, n_cn: int, n_os: int, n_reg: int, dropout: float):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Dropout(dropout))
        self.cn = nn.Linear(width, n_cn)
        self.os = nn.Linear(width, n_os)
        self.reg = nn.Linear(width, n_reg)

    def forward(self, h: Tensor) -> dict[str, Tensor]:
        h = self.trunk(h)
        return {"cn": self.cn(h), "os": self.os(h), "reg": self.reg(h)}


class EdgeConv(nn.Module):
    """One EdgeConv layer on node features (B, N, D) with neighbour indices (B, N, k)."""

    def __init__(self, dim: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2 * dim, dim), nn.GELU(), nn.Linear(dim, dim))
        self.norm = nn.LayerNorm(dim)

    def forward(self, h: Tensor, nbr: Tensor) -> Tensor:
        B, N, D = h.shape
        k = nbr.shape[-1]
        hj = torch.gather(h.unsqueeze(1).expand(B, N, N, D), 2, nbr.unsqueeze(-1).expand(B, N, k, D))
        hi = h.unsqueeze(2).expand(B, N, k, D)
        e = self.mlp(torch.cat([hi, hj - hi], dim=-1))  # (B, N, k, D)
        return self.norm(h + e.max(dim=2).values)


def knn_dynamic(h: Tensor, k: int) -> Tensor:
    """(B, N, D) -> (B, N, k) indices of each node's k nearest other nodes in feature space."""
    d = torch.cdist(h, h)
    d = d + torch.eye(h.shape[1], device=h.device, dtype=h.dtype) * 1e9  # no self loops
    return d.topk(k, dim=-1, largest=False).indices


def ring_neighbours(n: int, k: int) -> Tensor:
    """(N, k) fixed ring neighbours: i+1, i-1, i+2, i-2, ... (mod N)."""
    offs = []
    step = 1
    while len(offs) < k:
        offs += [step, -step]
        step += 1
    offs = torch.tensor(offs[:k])
    return (torch.arange(n)[:, None] + offs[None, :]) % n


class SPT(nn.Module):
    """Spectral Pattern Translator; ``forward(x (B, L)) -> dict`` of head outputs (see module)."""

    def __init__(self, config: SPTConfig | None = None):
        super().__init__()
        c = self.config = config or SPTConfig()
        D = c.dim
        self.register_buffer("freq_index", torch.arange(c.n_freq))
        self.register_buffer("reg_mean", torch.zeros(c.n_reg))
        self.register_buffer("reg_std", torch.ones(c.n_reg))
        self.register_buffer("x_mean", torch.zeros(c.length))
        self.register_buffer("x_scale", torch.ones(()))
        if c.use_fft:
            self.freq_conv = nn.Sequential(nn.Conv2d(2, D, 3, padding=1), nn.GELU(), nn.Conv2d(D, D, 3, padding=1))
            self.freq_pos = nn.Parameter(torch.randn(c.n_freq, D) * 0.02)
        if c.use_raw:
            self.n_patch = -(-c.length // c.patch)
            self.patch_embed = nn.Linear(c.patch, D)
            self.patch_pos = nn.Parameter(torch.randn(self.n_patch, D) * 0.02)
        self.query = nn.Parameter(torch.randn(c.n_nodes, D) * 0.02)
        self.token_norm = nn.LayerNorm(D)
        self.attn = nn.MultiheadAttention(D, c.heads, dropout=c.dropout, batch_first=True)
        self.ffn = nn.Sequential(nn.LayerNorm(D), nn.Linear(D, 2 * D), nn.GELU(), nn.Linear(2 * D, D))
        self.graph = nn.ModuleList(EdgeConv(D) for _ in range(c.graph_layers))
        self.register_buffer("ring", ring_neighbours(c.n_nodes, c.k), persistent=False)
        self.heads = Heads(2 * D, c.n_cn, c.n_os, c.n_reg, c.dropout)

    # -- stages --------------------------------------------------------------------------
    def frequency_tokens(self, x: Tensor) -> Tensor:
        """(B, L) -> (B, K, D)."""
        c = self.config
        f = torch.fft.rfft(x, dim=-1)[:, self.freq_index] / x.shape[-1] ** 0.5  # (B, K) complex
        grid = torch.stack([f.real, f.imag], dim=1).reshape(x.shape[0], 2, c.freq_rows, c.n_freq // c.freq_rows)
        t = self.freq_conv(grid)  # (B, D, R, K/R)
        return t.flatten(2).transpose(1, 2) + self.freq_pos

    def patch_tokens(self, x: Tensor) -> Tensor:
        """(B, L) -> (B, P, D)."""
        c = self.config
        pad = self.n_patch * c.patch - x.shape[-1]
        if pad:
            x = torch.nn.functional.pad(x, (0, pad), mode="replicate")
        return self.patch_embed(x.reshape(x.shape[0], self.n_patch, c.patch)) + self.patch_pos

    def nodes(self, x: Tensor) -> Tensor:
        """(B, L) -> (B, N, D) feature nodes after the spectral-query cross-attention."""
        parts = []
        if self.config.use_fft:
            parts.append(self.frequency_tokens(x))
        if self.config.use_raw:
            parts.append(self.patch_tokens(x))
        tokens = self.token_norm(torch.cat(parts, dim=1))
        q = self.query.unsqueeze(0).expand(x.shape[0], -1, -1)
        h, _ = self.attn(q, tokens, tokens, need_weights=False)
        h = h + q
        return h + self.ffn(h)

    def neighbours(self, h: Tensor) -> Tensor:
        """(B, N, D) -> (B, N, k) neighbour indices (dynamic kNN or the fixed ring)."""
        if self.config.dynamic_graph:
            return knn_dynamic(h, self.config.k)
        return self.ring.unsqueeze(0).expand(h.shape[0], -1, -1)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        if x.dim() != 2 or x.shape[-1] != self.config.length:
            raise ValueError(f"SPT expects (batch, {self.config.length}) spectra, got {tuple(x.shape)}")
        h = self.nodes((x - self.x_mean) / self.x_scale)
        for layer in self.graph:
            h = layer(h, self.neighbours(h))
        pooled = torch.cat([h.mean(dim=1), h.max(dim=1).values], dim=-1)
        return self.heads(pooled)

    @torch.no_grad()
    def select_dominant_frequencies(self, x: Tensor) -> Tensor:
        """Keep the ``n_freq`` rfft components of largest mean magnitude over ``x`` (B, L), after the
        input scaling; sorted by frequency."""
        mag = torch.fft.rfft((x - self.x_mean) / self.x_scale, dim=-1).abs().mean(dim=0)
        idx = mag.topk(self.config.n_freq).indices.sort().values
        self.freq_index.copy_(idx)
        return idx
