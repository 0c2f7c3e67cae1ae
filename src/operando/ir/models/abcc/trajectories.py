"""Chemical Flow, trajectory view: batches of trajectory segments (piece 1 of :mod:`operando.ir.models.abcc`)."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from torch import Tensor


class TrajectoryBatches:
    """Batch sampler for the trainer: batches of trajectory segments (module docstring, 1.).

    ``trajectories``: per cell, the row indices of its training pairs in step order, the first
    being its origin pair (m = 0). Called as ``sampler(batch_size, generator)`` ->
    (batch_size,) int64 rows; only ``generator`` is used, so batches are reproducible.
    """

    def __init__(self, trajectories: Sequence[np.ndarray], segment_length: int):
        self.trajectories = [torch.as_tensor(np.asarray(t, dtype=np.int64)) for t in trajectories if len(t)]
        if not self.trajectories:
            raise ValueError("no trajectories to sample from")
        self.segment_length = int(segment_length)
        self.weights = torch.tensor([float(len(t)) for t in self.trajectories], dtype=torch.float64)

    def __call__(self, batch_size: int, generator: torch.Generator) -> Tensor:
        n_segments = math.ceil(batch_size / self.segment_length)
        cells = torch.multinomial(self.weights, n_segments, replacement=True, generator=generator)
        rows = []
        for cell in cells.tolist():
            trajectory = self.trajectories[cell]
            later = trajectory[1:]
            take = self.segment_length - 1
            if len(later) >= take:
                picked = torch.randperm(len(later), generator=generator)[:take]
            elif len(later):  # a short trajectory: every pair, then repeats
                picked = torch.randint(len(later), (take,), generator=generator)
            else:
                picked = torch.zeros(0, dtype=torch.int64)
            segment = [trajectory[:1]]
            if len(picked):
                segment.append(later[picked.sort().values])
            segment = torch.cat(segment)
            if len(segment) < self.segment_length:  # a cell with only its origin
                segment = segment.repeat(self.segment_length)[: self.segment_length]
            rows.append(segment)
        return torch.cat(rows)[:batch_size]


def trajectory_groups(lengths: Sequence[int]) -> list[np.ndarray]:
    """Row ranges of consecutive blocks of ``lengths`` rows: [0..n0), [n0..n0+n1), ..."""
    ends = np.cumsum(lengths)
    return [np.arange(end - n, end) for n, end in zip(lengths, ends)]
