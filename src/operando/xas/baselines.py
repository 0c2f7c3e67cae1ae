"""Baselines for the XAS benchmark, each predicting the same targets as :class:`~operando.xas.spt.SPT`.

- :class:`CNN1D`: three Conv1d blocks (kernel 7, stride-2 pooling) on the spectrum, in the spirit of
  Carbone et al., Phys. Rev. Materials 3, 033604 (2019) (their layer sizes are not reused).
- :class:`MLP`: two hidden layers on the spectrum.
- :class:`RandomForestBaseline`: scikit-learn forests on the normalised spectrum, the approach of
  Zheng, Chen, Chen, Ong, Patterns 1, 100013 (2020): one classifier each for CN and OS classes,
  one multi-output regressor for CN2 / OCN / distance.
- :class:`MajorityBaseline`: the most frequent training class, the training mean for regression.

The two networks share :class:`~operando.xas.spt.Heads`, the output dict and the training loop
(:mod:`operando.xas.fit`). Forests and majority expose ``fit(set)`` / ``predict(x) -> dict of
numpy arrays`` with ``cn``/``os`` class indices and ``reg`` in physical units.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor, nn

from operando.xas.spt import REG_TARGETS, Heads


@dataclass
class NetConfig:
    kind: str = "cnn"  # "cnn" or "mlp"
    length: int = 201
    width: int = 64
    dropout: float = 0.1
    n_cn: int = 5
    n_os: int = 3
    n_reg: int = len(REG_TARGETS)

    def to_dict(self) -> dict:
        return asdict(self)


class _Standardised(nn.Module):
    def _buffers_init(self, n_reg):
        self.register_buffer("reg_mean", torch.zeros(n_reg))
        self.register_buffer("reg_std", torch.ones(n_reg))

    def _scaling(self, length):
        self.register_buffer("x_mean", torch.zeros(length))
        self.register_buffer("x_scale", torch.ones(()))


class CNN1D(_Standardised):
    """(B, L) -> heads; Conv1d(1->16->32->64, k=7) with max-pool 2, global average + max pool."""

    def __init__(self, config: NetConfig | None = None):
        super().__init__()
        c = self.config = config or NetConfig(kind="cnn")
        self._buffers_init(c.n_reg)
        self._scaling(c.length)
        chans = [1, 16, 32, c.width]
        layers = []
        for a, b in zip(chans[:-1], chans[1:]):
            layers += [nn.Conv1d(a, b, 7, padding=3), nn.BatchNorm1d(b), nn.GELU(), nn.MaxPool1d(2)]
        self.body = nn.Sequential(*layers)
        self.heads = Heads(2 * c.width, c.n_cn, c.n_os, c.n_reg, c.dropout)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        h = self.body(((x - self.x_mean) / self.x_scale).unsqueeze(1))  # (B, width, L/8)
        return self.heads(torch.cat([h.mean(-1), h.amax(-1)], dim=-1))


class MLP(_Standardised):
    """(B, L) -> Linear(L, 256) -> Linear(256, 2*width) -> heads."""

    def __init__(self, config: NetConfig | None = None):
        super().__init__()
        c = self.config = config or NetConfig(kind="mlp")
        self._buffers_init(c.n_reg)
        self._scaling(c.length)
        self.body = nn.Sequential(nn.Linear(c.length, 256), nn.GELU(), nn.Dropout(c.dropout),
                                  nn.Linear(256, 2 * c.width), nn.GELU())
        self.heads = Heads(2 * c.width, c.n_cn, c.n_os, c.n_reg, c.dropout)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        return self.heads(self.body((x - self.x_mean) / self.x_scale))


def regression_targets(s) -> np.ndarray:
    """(N, 3) CN2, OCN, mean neighbour distance (NaN where missing) of an XasSet."""
    return np.stack([s.cn2, s.ocn, s.nn_dist], axis=1).astype(float)


class RandomForestBaseline:
    """Forests on the raw normalised spectrum (Zheng et al. 2020); ``n_estimators`` default 150."""

    def __init__(self, n_estimators: int = 150, seed: int = 0, n_jobs: int = 1):
        self.kw = dict(n_estimators=n_estimators, random_state=seed, n_jobs=n_jobs)

    def fit(self, s) -> "RandomForestBaseline":
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        self.cn = RandomForestClassifier(**self.kw).fit(s.x, s.cn_cls)
        m = s.os_cls >= 0
        self.os = RandomForestClassifier(**self.kw).fit(s.x[m], s.os_cls[m])
        y = regression_targets(s)
        ok = np.isfinite(y).all(1)
        self.reg = RandomForestRegressor(**{**self.kw, "n_estimators": max(10, self.kw["n_estimators"] // 3)}).fit(s.x[ok], y[ok])
        return self

    def predict(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return {"cn": self.cn.predict(x), "os": self.os.predict(x), "reg": self.reg.predict(x)}


class MajorityBaseline:
    """Most frequent class / training mean, whatever the spectrum."""

    def fit(self, s) -> "MajorityBaseline":
        self.cn = int(np.bincount(s.cn_cls).argmax())
        self.os = int(np.bincount(s.os_cls[s.os_cls >= 0]).argmax())
        self.reg = np.nanmean(regression_targets(s), axis=0)
        return self

    def predict(self, x: np.ndarray) -> dict[str, np.ndarray]:
        n = len(x)
        return {"cn": np.full(n, self.cn), "os": np.full(n, self.os), "reg": np.tile(self.reg, (n, 1))}
