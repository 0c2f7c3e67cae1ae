"""Generic training machinery: seeded, resumable, data-parallel training of flow models."""
from operando.train.checkpoint import load_weights
from operando.train.trainer import TrainConfig, build_objective, train

__all__ = ["TrainConfig", "build_objective", "load_weights", "train"]
