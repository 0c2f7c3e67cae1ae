"""The IR forecasters that ship with the package (issue 35): one folder each, with its manifest.

* ``abcc-default``: the default forecaster of ``operando ir forecast`` and
  :func:`operando.ir.forecast.load_model` when no run folder is given (the registered ABCC
  recipe trained on all of OpIRSpec-7K-sim, split ``none``).

A shipped folder holds what forecasting needs of a run folder (configs, the EMA weights as
safetensors, the encoder) and ``manifest.json`` (:mod:`operando.shipped`: SHA-256 of each file
and the command that rebuilds it), checked before loading. :func:`ship_run` makes one from a
trained run.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from operando.atomic import atomic_path
from operando.errors import InputError
from operando.shipped import MANIFEST, check_manifest, write_manifest

SHIPPED_DIR = Path(__file__).resolve().parent
DEFAULT_MODEL = "abcc-default"
# How to get a model that should ship but is not there (a shipped folder's manifest names the
# exact command that rebuilt it).
REBUILD = {DEFAULT_MODEL: "operando ir train --config configs/ir/abcc-small.toml"}
# What forecasting reads of a run folder (operando.ir.forecast.RUN_FILES, the EMA weights, the
# run's preprocessing and data description).
SHIPPED_FILES = ("forecaster.json", "config.json", "model_config.json", "encoder.safetensors", "ema.safetensors",
                 "run.json", "data.json")


def shipped_names(root: Path | None = None) -> list[str]:
    """The shipped models present in the installed package (or in ``root``)."""
    return sorted(p.name for p in Path(root or SHIPPED_DIR).iterdir() if (p / MANIFEST).is_file())


def shipped_run(name: str = DEFAULT_MODEL, root: Path | None = None) -> Path:
    """The folder of shipped model ``name`` (in ``root``), its files checked against the manifest.

    Raises InputError naming the missing or changed file and the command that rebuilds it.
    """
    folder = Path(root or SHIPPED_DIR) / name
    if not (folder / MANIFEST).is_file():
        rebuild = REBUILD.get(name)
        known = shipped_names(root)
        how = f", e.g. from `{rebuild}`" if rebuild else f" (shipped models: {known or 'none'})"
        raise InputError(folder, f"no shipped model {name!r} in this installation (the shipped forecasters are "
                                 f"not in this version yet); give a run folder with --run{how}")
    check_manifest(folder)
    return folder


def ship_run(run_dir: str | Path, name: str, rebuild: str, root: Path | None = None, **extra) -> Path:
    """Copy the forecasting files of ``run_dir`` into ``root/name`` (replacing it, all at once)
    with a manifest naming ``rebuild``; ``extra`` goes into the manifest (e.g. scores)."""
    run_dir, root = Path(run_dir), Path(root or SHIPPED_DIR)
    files = [f for f in SHIPPED_FILES if (run_dir / f).is_file()]
    if "ema.safetensors" not in files and (run_dir / "checkpoint" / "ema.safetensors").is_file():
        files.append("checkpoint/ema.safetensors")
    missing = {"forecaster.json", "config.json", "model_config.json", "encoder.safetensors"} - set(files)
    if missing:
        raise InputError(run_dir, f"not a finished run folder: missing {', '.join(sorted(missing))}")
    with atomic_path(root / name, directory=True) as tmp:
        for f in files:
            target = tmp / Path(f).name
            shutil.copyfile(run_dir / f, target)
        write_manifest(tmp, [Path(f).name for f in files], rebuild, **extra)
    return root / name
