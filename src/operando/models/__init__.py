"""Forecasters: the OpIRBench baselines and the flow generators, behind one registry.

``MODEL_REGISTRY[name](seed)`` builds a fresh :class:`~operando.bench.task.Forecaster`.
"""
from __future__ import annotations

from typing import Callable

from operando.models.baselines import (NearestTrajectoryForecaster, RandomForecaster, RegressionForecaster,
                                       StaticForecaster)
from operando.models.sequence import GRUForecaster

MODEL_REGISTRY: dict[str, Callable[..., object]] = {
    "random": RandomForecaster,
    "static": StaticForecaster,
    "nearest": NearestTrajectoryForecaster,
    "mlp": RegressionForecaster,
    "gru": GRUForecaster,
}


def build_model(name: str, seed: int = 0, **kwargs):
    from operando.errors import InputError

    if name not in MODEL_REGISTRY:
        raise InputError(None, f"unknown model {name!r}; registered: {sorted(MODEL_REGISTRY)}")
    return MODEL_REGISTRY[name](seed=seed, **kwargs)
