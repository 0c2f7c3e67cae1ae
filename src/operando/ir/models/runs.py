"""Training runs: a typed config in, a self-contained run folder out.

A run config (TOML or JSON) names the data, the split whose training part is used, the seed,
the forecaster settings (:class:`~operando.ir.models.generative.FlowModelConfig`) and the
training settings (:class:`~operando.train.trainer.TrainConfig`)::

    name = "meanflow-small"
    data = "outputs/opirspec7k-sim.h5"
    split = "random"          # random | system | none (train on every spectrum)
    seed = 0
    out = "runs"
    [model]
    objective = "meanflow"
    [training]
    steps = 4000

``[model] representation = "waveform"`` (with a ``[model.waveform]`` table) trains the image
route instead (:mod:`operando.ir.models.latent`).

:func:`train_run` writes ``<out>/<name>/`` with ``run.json`` (the full config, every default
filled in), the split's index file, the trainer's files and the fitted forecaster; running it
again on the same folder resumes an interrupted run. :func:`load_run` rebuilds the forecaster.
"""
from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from operando.atomic import write_text
from operando.errors import InputError

SPLIT_NONE = "none"


@dataclass
class RunConfig:
    """Everything a training run needs (saved as run.json beside its weights)."""

    name: str = "meanflow-small"
    data: str = "outputs/opirspec7k-sim.h5"
    split: str = "random"
    seed: int = 0
    out: str = "runs"
    model: dict[str, Any] = field(default_factory=dict)      # FlowModelConfig fields
    training: dict[str, Any] = field(default_factory=dict)   # TrainConfig fields
    # PreprocessConfig fields (default: the paper's 800-2000 cm-1 grid of 601 points); a run
    # trained on another window forecasts and scores on that window (load_model, ir predict/score).
    preprocess: dict[str, Any] = field(default_factory=dict)

    @property
    def run_dir(self) -> Path:
        return Path(self.out) / self.name

    def model_config(self):
        from operando.ir.models.generative import FlowModelConfig

        return FlowModelConfig(**self.model)

    def train_config(self):
        from operando.ir.models.generative import default_training
        from operando.train.trainer import TrainConfig

        base = default_training(self.model_config().objective, self.seed).to_dict()
        return TrainConfig.from_dict({**base, **self.training, "seed": self.seed})

    def preprocess_config(self):
        return preprocess_from_dict(self.preprocess)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["model"] = dataclasses.asdict(self.model_config())
        d["training"] = self.train_config().to_dict()
        d["preprocess"] = dataclasses.asdict(self.preprocess_config())
        return d

    @classmethod
    def load(cls, path: str | Path, overrides: list[str] | None = None) -> "RunConfig":
        """Read a TOML/JSON config; ``overrides`` are ``key=value`` strings (``training.steps=100``)."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise InputError(path, f"cannot read the config ({e.strerror})") from None
        try:
            data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
        except (json.JSONDecodeError, tomllib.TOMLDecodeError) as e:
            raise InputError(path, f"not valid {'JSON' if path.suffix == '.json' else 'TOML'}: {e}") from None
        for item in overrides or []:
            key, sep, value = item.partition("=")
            if not sep:
                raise InputError(None, f"override {item!r} must look like key=value")
            target = data
            *parents, leaf = key.split(".")
            for p in parents:
                target = target.setdefault(p, {})
            target[leaf] = _parse_value(value)
        return cls.from_dict(data, path)

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: str | Path | None = None) -> "RunConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(path, f"unknown keys {unknown}; known: {sorted(known)}")
        config = cls(**data)
        try:  # validate the nested sections now, not hours into a run
            config.model_config()
            config.train_config()
            config.preprocess_config()
        except (TypeError, ValueError) as e:
            raise InputError(path, str(e)) from None
        if config.split not in ("random", "system", SPLIT_NONE):
            raise InputError(path, f"split must be random, system or none, got {config.split!r}", field="split")
        return config


def preprocess_from_dict(values: dict[str, Any]):
    """A :class:`~operando.ir.data.preprocess.PreprocessConfig` from a run's ``preprocess`` table;
    ValueError for unknown keys or a grid that is no window."""
    from operando.ir.data.preprocess import PreprocessConfig

    known = {f.name for f in dataclasses.fields(PreprocessConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"preprocess: unknown keys {unknown}; known: {sorted(known)}")
    config = PreprocessConfig(**values)
    if not (config.grid_min_cm1 < config.grid_max_cm1 and config.n_points >= 2):
        raise ValueError(f"preprocess: the grid {config.grid_min_cm1:g}-{config.grid_max_cm1:g} cm-1 with "
                         f"{config.n_points} points is no window")
    return config


def run_preprocess(run_dir: str | Path):
    """The preprocessing a run was trained with (its run.json ``preprocess`` table; the default
    800-2000 cm-1 grid for runs without one or without run.json)."""
    path = Path(run_dir) / "run.json"
    values = {}
    if path.is_file():
        try:
            values = json.loads(path.read_text(encoding="utf-8")).get("preprocess") or {}
        except (OSError, json.JSONDecodeError, AttributeError) as e:
            raise InputError(path, f"damaged run.json ({type(e).__name__}: {e})") from None
    try:
        return preprocess_from_dict(values)
    except (TypeError, ValueError) as e:
        raise InputError(path, str(e)) from None


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def train_run(config: RunConfig, *, progress: bool = True):
    """Train the forecaster of ``config`` into ``config.run_dir``; return the fitted forecaster."""
    from operando.ir.bench.splits import get_split
    from operando.ir.bench.task import masked
    from operando.ir.data.dataset import OperandoDataset
    from operando.ir.data.preprocess import preprocess_dataset
    from operando.ir.models.latent import forecaster_class

    ds = preprocess_dataset(OperandoDataset.load(config.data), config.preprocess_config())
    run_dir = config.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text(run_dir / "run.json", json.dumps(config.to_dict(), indent=2))
    if config.split == SPLIT_NONE:
        train = [masked(e, range(len(e))) for e in ds]
    else:
        split = get_split(ds, config.split, run_dir, seed=config.seed)
        train = [masked(ds[name], steps) for name, steps in split.train.items() if len(steps)]
    training = config.train_config()
    training.progress = progress
    model_config = config.model_config()
    model = forecaster_class(model_config)(seed=config.seed, model=model_config, training=training, run_dir=run_dir)
    model.fit(train)
    return model


def load_run(run_dir: str | Path):
    """The fitted forecaster saved in ``run_dir`` (CPU): a FlowForecaster, or a
    WaveformFlowForecaster for ``representation = "waveform"``."""
    from operando.ir.models.latent import load_flow_forecaster

    run_dir = Path(run_dir)
    if not (run_dir / "forecaster.json").exists():
        raise InputError(run_dir, "not a finished training run (no forecaster.json); train it with "
                                  "`operando ir train --config ...`")
    return load_flow_forecaster(run_dir)
