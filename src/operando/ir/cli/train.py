"""``operando ir train``: train a flow forecaster from a config file into a run folder."""
from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("train", help="train a MeanFlow / flow-matching forecaster from a config")
    p.add_argument("--config", required=True, type=Path, help="run config (.toml or .json), see configs/")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config entry, e.g. --set training.steps=200 (repeatable)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from operando.ir.models.runs import RunConfig, train_run

    config = RunConfig.load(args.config, args.set)
    print(f"training {config.name} on {config.data} (split {config.split}, seed {config.seed}) "
          f"into {config.run_dir}")
    train_run(config, progress=not args.no_progress)
    print(f"run folder: {config.run_dir}")
    return 0
