"""Forecasters: the OpIRBench baselines and the flow generators, behind one registry.

``MODEL_REGISTRY[name](seed)`` builds a fresh :class:`~operando.bench.task.Forecaster`.
"""
from __future__ import annotations

from typing import Callable

from operando.models.baselines import (NearestTrajectoryForecaster, RandomForecaster, RegressionForecaster,
                                       StaticForecaster)
from operando.models.generative import FlowForecaster, FlowModelConfig
from operando.models.sequence import GRUForecaster


def _meanflow(seed: int = 0, **kwargs) -> FlowForecaster:
    return FlowForecaster(seed=seed, model=FlowModelConfig(objective="meanflow"), **kwargs)


def _flow_matching(seed: int = 0, **kwargs) -> FlowForecaster:
    return FlowForecaster(seed=seed, model=FlowModelConfig(objective="flow_matching"), **kwargs)


def _abcc(seed: int = 0, abcc: dict | None = None, **kwargs) -> FlowForecaster:
    """MeanFlow with every ABCC piece on (operando.models.abcc); ``abcc`` overrides switches."""
    from operando.models.abcc import ABCCConfig

    return FlowForecaster(seed=seed, model=FlowModelConfig(objective="meanflow", abcc=ABCCConfig(**(abcc or {}))),
                          **kwargs)


MODEL_REGISTRY: dict[str, Callable[..., object]] = {
    "random": RandomForecaster,
    "static": StaticForecaster,
    "nearest": NearestTrajectoryForecaster,
    "mlp": RegressionForecaster,
    "gru": GRUForecaster,
    "flow-matching": _flow_matching,
    "meanflow": _meanflow,
    "abcc": _abcc,
}


# Models trained by the flow trainer: they can keep their run folder (weights, metrics.csv).
GENERATIVE_MODELS = ("flow-matching", "meanflow", "abcc")


def build_model(name: str, seed: int = 0, **kwargs):
    from operando.errors import InputError

    if name not in MODEL_REGISTRY:
        raise InputError(None, f"unknown model {name!r}; registered: {sorted(MODEL_REGISTRY)}")
    return MODEL_REGISTRY[name](seed=seed, **kwargs)
