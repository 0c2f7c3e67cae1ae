"""The time-series family of OpIRBench: a GRU over the voltage profile.

The GRU reads the per-step condition vectors of a whole experiment in time order (causal: the
output at step m depends on steps <= m only) and emits the change s_vm - s_v0 at every step;
the loss is taken on the visible (training) steps only.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from operando.ir.bench.task import training_rows
from operando.ir.data.experiment import Experiment
from operando.ir.models.baselines import ConditionEncoder


class _GRUNet(torch.nn.Module):
    def __init__(self, n_in: int, n_out: int, hidden: int):
        super().__init__()
        self.inp = torch.nn.Linear(n_in, hidden)
        self.gru = torch.nn.GRU(hidden, hidden, num_layers=2, batch_first=True)
        self.out = torch.nn.Linear(hidden, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, T, n_in) -> change (B, T, n_out)."""
        h, _ = self.gru(torch.nn.functional.silu(self.inp(x)))
        return self.out(h)


class GRUForecaster:
    """Sequence forecaster: GRU over the voltage-history features of each experiment."""

    name = "GRU sequence"

    def __init__(self, seed: int = 0, epochs: int = 400, hidden: int = 128, lr: float = 3e-3):
        self.seed, self.epochs, self.hidden, self.lr = seed, epochs, hidden, lr

    def fit(self, train: Sequence[Experiment]) -> None:
        torch.manual_seed(self.seed)
        self.encoder = ConditionEncoder().fit(train)
        # All experiments in one zero-padded batch; padding and hidden steps carry no loss.
        length = max(len(e) for e in train)
        width = train[0].absorbance.shape[1]
        x = torch.zeros(len(train), length, self.encoder(train[0]).shape[1])
        y = torch.zeros(len(train), length, width)
        mask = torch.zeros(len(train), length, dtype=torch.bool)
        for k, e in enumerate(train):
            x[k, :len(e)] = torch.from_numpy(self.encoder(e))
            y[k, :len(e)] = torch.from_numpy(np.nan_to_num(e.absorbance - e.absorbance[0]).astype(np.float32))
            mask[k, training_rows(e)] = True
        self.net = _GRUNet(x.shape[2], width, self.hidden)
        opt = torch.optim.AdamW(self.net.parameters(), lr=self.lr, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, self.epochs)
        for _ in range(self.epochs):
            loss = ((self.net(x) - y) ** 2)[mask].mean()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
            opt.step()
            sched.step()

    @torch.no_grad()
    def predict(self, context: Experiment, steps: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(self.encoder(context))
        change = self.net(x[None])[0].double().numpy()
        return context.absorbance[0].astype(np.float64) + change[np.asarray(steps)]
