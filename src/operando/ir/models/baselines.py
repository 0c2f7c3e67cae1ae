"""Honest baselines of OpIRBench, one faithful representative per family of the paper's table.

The paper's baselines (NNMol-IR, MACE4IR, CogVideoX, Pyramid-Flow, STDN) need pretrained
weights and GPUs that cannot be fetched here; each family is represented instead by:

* :class:`RandomForecaster`: a training spectrum drawn at random (the paper's lower bound).
* :class:`StaticForecaster`: s_v0 repeated at every step (the static-generator family: the paper
  scores NNMol-IR and MACE4IR this way).
* :class:`NearestTrajectoryForecaster`: the training experiment closest in composition; its
  change from its own start, at the best-matching point of its voltage history, is added to s_v0.
* :class:`RegressionForecaster`: an MLP from the conditions (voltage-history features, cell
  embedding, s_v0 in a PCA basis) to the change s_vm - s_v0.

The sequence forecaster (GRU) lives in :mod:`operando.ir.models.sequence`, the flow generators in
:mod:`operando.ir.models.generative`.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from operando.ir.bench.task import training_rows
from operando.ir.data.experiment import Experiment
from operando.ir.models.features import Standardizer, condition_vector, step_features


class RandomForecaster:
    """A spectrum drawn uniformly from the training targets, independently per query."""

    name = "Random"

    def __init__(self, seed: int = 0):
        self.seed = seed

    def fit(self, train: Sequence[Experiment]) -> None:
        self.pool = np.concatenate([e.absorbance[training_rows(e)] for e in train])
        self.rng = np.random.default_rng(self.seed)

    def predict(self, context: Experiment, steps: np.ndarray) -> np.ndarray:
        return self.pool[self.rng.integers(len(self.pool), size=len(steps))].astype(np.float64)


class StaticForecaster:
    """s_v0 at every step: what a static-spectrum generator gives (no dynamics at all)."""

    name = "Static"

    def __init__(self, seed: int = 0):
        self.seed = seed

    def fit(self, train: Sequence[Experiment]) -> None:
        pass

    def predict(self, context: Experiment, steps: np.ndarray) -> np.ndarray:
        return np.repeat(context.absorbance[:1].astype(np.float64), len(steps), axis=0)


# Step features used to find "the same moment" in another cell's history: voltage, lowest
# voltage so far (where on the first discharge), resting flag, and time since the last switch.
_MATCH_COLUMNS = [0, 5, 6, 7]


class NearestTrajectoryForecaster:
    """Transfer the change of the nearest training cell onto s_v0.

    Nearest = smallest Euclidean distance between :func:`condition_vector` embeddings (salt,
    solvent fractions, additives, electrode, protocol); ties are averaged. At each query step
    the neighbour's training spectra are matched on standardized voltage-history features, and
    their mean change from the neighbour's own start (over the 3 closest steps) is added to s_v0.
    """

    name = "Nearest trajectory"

    def __init__(self, seed: int = 0, k_steps: int = 3):
        self.seed = seed
        self.k_steps = k_steps

    def fit(self, train: Sequence[Experiment]) -> None:
        self.cells = []
        for e in train:
            rows = training_rows(e)
            feats = step_features(e)[:, _MATCH_COLUMNS]
            self.cells.append((e.name, condition_vector(e.meta), feats[rows],
                               (e.absorbance[rows] - e.absorbance[0]).astype(np.float64)))
        self.scaler = Standardizer().fit(np.concatenate([c[2] for c in self.cells]))

    def predict(self, context: Experiment, steps: np.ndarray) -> np.ndarray:
        cond = condition_vector(context.meta)
        dist = np.array([np.linalg.norm(c[1] - cond) for c in self.cells])
        same = [c for c in self.cells if c[0] == context.name]
        neighbours = same or [c for c, d in zip(self.cells, dist) if d <= dist.min() + 1e-9]
        query = self.scaler(step_features(context)[np.asarray(steps)][:, _MATCH_COLUMNS])
        change = np.zeros((len(steps), context.absorbance.shape[1]))
        for _, _, feats, delta in neighbours:
            d = ((query[:, None, :] - self.scaler(feats)[None, :, :]) ** 2).sum(-1)
            k = min(self.k_steps, d.shape[1])
            nearest = np.argpartition(d, k - 1, axis=1)[:, :k]
            change += delta[nearest].mean(axis=1)
        return context.absorbance[0].astype(np.float64) + change / len(neighbours)


class SpectrumBasis:
    """PCA basis of spectra (fit on training references), to feed s_v0 to small networks."""

    def __init__(self, n_components: int = 16):
        self.n_components = n_components

    def fit(self, spectra: np.ndarray) -> "SpectrumBasis":
        spectra = np.asarray(spectra, dtype=np.float64)
        self.mean = spectra.mean(axis=0)
        _, _, vt = np.linalg.svd(spectra - self.mean, full_matrices=False)
        self.components = vt[: self.n_components]
        return self

    def __call__(self, spectra: np.ndarray) -> np.ndarray:
        z = (np.atleast_2d(spectra).astype(np.float64) - self.mean) @ self.components.T
        return np.pad(z, ((0, 0), (0, self.n_components - z.shape[1])))


class ConditionEncoder:
    """Builds the per-step input vector [step features, cell embedding, s_v0 PCA] and
    standardizes it with training statistics: (n_steps, n_inputs)."""

    def fit(self, train: Sequence[Experiment]) -> "ConditionEncoder":
        self.basis = SpectrumBasis().fit(np.stack([e.absorbance[0] for e in train]))
        self.scaler = Standardizer().fit(np.concatenate([self.raw(e) for e in train]))
        return self

    def raw(self, e: Experiment) -> np.ndarray:
        n = len(e)
        per_cell = np.concatenate([condition_vector(e.meta), self.basis(e.absorbance[0])[0]])
        return np.hstack([step_features(e), np.repeat(per_cell[None], n, axis=0)])

    def __call__(self, e: Experiment) -> np.ndarray:
        return self.scaler(self.raw(e)).astype(np.float32)

    def state(self) -> dict[str, np.ndarray]:
        """Arrays that define the fitted encoder (saved beside a model's weights)."""
        return {"basis_n_components": np.array(self.basis.n_components),
                "basis_mean": self.basis.mean, "basis_components": self.basis.components,
                "scaler_mean": self.scaler.mean, "scaler_std": self.scaler.std}

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> "ConditionEncoder":
        enc = cls()
        enc.basis = SpectrumBasis(int(state["basis_n_components"]))
        enc.basis.mean, enc.basis.components = state["basis_mean"], state["basis_components"]
        enc.scaler = Standardizer()
        enc.scaler.mean, enc.scaler.std = state["scaler_mean"], state["scaler_std"]
        return enc


def mlp(n_in: int, n_out: int, hidden: int = 256, depth: int = 3) -> torch.nn.Sequential:
    layers, width = [], n_in
    for _ in range(depth):
        layers += [torch.nn.Linear(width, hidden), torch.nn.SiLU()]
        width = hidden
    return torch.nn.Sequential(*layers, torch.nn.Linear(width, n_out))


class RegressionForecaster:
    """MLP regression of the change s_vm - s_v0 from the conditions (the "regression" family)."""

    name = "MLP regression"

    def __init__(self, seed: int = 0, steps: int = 3000, batch_size: int = 256, lr: float = 2e-3):
        self.seed, self.steps, self.batch_size, self.lr = seed, steps, batch_size, lr

    def fit(self, train: Sequence[Experiment]) -> None:
        torch.manual_seed(self.seed)
        self.encoder = ConditionEncoder().fit(train)
        xs, ys = [], []
        for e in train:
            rows = training_rows(e)
            xs.append(self.encoder(e)[rows])
            ys.append((e.absorbance[rows] - e.absorbance[0]).astype(np.float32))
        x, y = torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys))
        self.net = mlp(x.shape[1], y.shape[1])
        opt = torch.optim.AdamW(self.net.parameters(), lr=self.lr, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, self.steps)
        g = torch.Generator().manual_seed(self.seed)
        for _ in range(self.steps):
            idx = torch.randint(len(x), (self.batch_size,), generator=g)
            loss = torch.nn.functional.mse_loss(self.net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()

    @torch.no_grad()
    def predict(self, context: Experiment, steps: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(self.encoder(context)[np.asarray(steps)])
        return context.absorbance[0].astype(np.float64) + self.net(x).double().numpy()
