"""Smoke runs (``operando pipeline --quick``, ``operando ir bench --quick``) marked as such.

A smoke run trains with tiny budgets to check that everything runs; its scores mean nothing
and its models must not be used. Every folder it writes -- the results folder, each model's
result folder and each run folder (system-fold models included) -- gets ``smoke_run.json``;
the report shows a banner, every forecast made from such a run folder records
``"smoke_run": true`` in forecast.json, and the command line warns.
"""
from __future__ import annotations

import json
from pathlib import Path

from operando.atomic import write_text

SMOKE_FILE = "smoke_run.json"
SMOKE_NOTE = ("SMOKE RUN (--quick): tiny training budgets to check that everything runs; its scores mean "
              "nothing and its models are not for use")


def mark_smoke_run(folder: str | Path) -> Path:
    """Write ``smoke_run.json`` into ``folder`` (which must exist)."""
    return write_text(Path(folder) / SMOKE_FILE, json.dumps({"smoke_run": True, "note": SMOKE_NOTE}, indent=2) + "\n")


def mark_run_folders(run_dir: str | Path) -> None:
    """Mark a model's run folder and its system-fold run folders, those that exist."""
    run_dir = Path(run_dir)
    for folder in [run_dir, *sorted((run_dir / "system-folds").glob("fold-*"))]:
        if folder.is_dir():
            mark_smoke_run(folder)


def clear_smoke_run(folder: str | Path) -> None:
    """Remove the mark from ``folder`` (a full run rewrote it) and from its system-fold folders."""
    folder = Path(folder)
    for marker in [folder / SMOKE_FILE, *(folder / "system-folds").glob(f"fold-*/{SMOKE_FILE}")]:
        marker.unlink(missing_ok=True)


def is_smoke_run(folder: str | Path | None) -> bool:
    """True if ``folder`` was written by a smoke run."""
    return folder is not None and (Path(folder) / SMOKE_FILE).is_file()
