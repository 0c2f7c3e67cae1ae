"""Weights that ship inside the package: a folder of files and its ``manifest.json``.

The manifest holds the SHA-256 of every file the folder's model needs and the command that
rebuilds the folder::

    {"files": {"model.safetensors": "<sha256>", ...}, "rebuild": "operando ... train ...", ...}

:func:`check_manifest` runs before anything is read: a missing manifest, a missing file or a
file whose hash differs is one :class:`~operando.errors.InputError` naming the file and the
rebuild command. There is no fallback (no random weights, no download). Used by every
technique's shipped models (IR forecasters, the XAS SPT, the XRM SOC network).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from operando.atomic import write_text
from operando.errors import InputError

MANIFEST = "manifest.json"


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: str | Path, files: list[str], rebuild: str, **extra) -> Path:
    """Hash ``files`` (names inside ``folder``) and write ``folder/manifest.json`` atomically,
    with the ``rebuild`` command and any ``extra`` JSON-able fields."""
    folder = Path(folder)
    manifest = {"files": {name: sha256_of(folder / name) for name in sorted(files)}, "rebuild": rebuild, **extra}
    return write_text(folder / MANIFEST, json.dumps(manifest, indent=2) + "\n")


def read_manifest(folder: str | Path, rebuild: str | None = None) -> dict:
    """The manifest of ``folder`` (not checked against the files); ``rebuild``: the command named
    when the manifest itself is missing or damaged."""
    path = Path(folder) / MANIFEST
    how = f"rebuild the folder with `{rebuild}`" if rebuild else "reinstall the package or rebuild the folder"
    if not path.is_file():
        raise InputError(path, f"missing: this folder of weights has no manifest, so its files cannot be checked; {how}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files, rebuild = manifest["files"], str(manifest["rebuild"])
        if not isinstance(files, dict) or not files:
            raise ValueError("no files listed")
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise InputError(path, f"damaged manifest ({type(e).__name__}: {e}); {how}") from None
    return manifest


def check_manifest(folder: str | Path, rebuild: str | None = None) -> dict:
    """Check every file listed in ``folder``'s manifest against its SHA-256; return the manifest.

    Raises InputError naming the first missing or changed file and the command that rebuilds it
    (the manifest's; ``rebuild`` when the manifest itself is missing or damaged).
    """
    folder = Path(folder)
    manifest = read_manifest(folder, rebuild)
    rebuild = manifest["rebuild"]
    for name, expected in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            raise InputError(path, f"missing shipped file; rebuild it with `{rebuild}`")
        got = sha256_of(path)
        if got != expected:
            raise InputError(path, f"SHA-256 {got[:12]}... differs from the manifest's {str(expected)[:12]}... "
                                   f"(changed or damaged); rebuild it with `{rebuild}`")
    return manifest
