"""Read one XAS spectrum (energy in eV, absorption mu) from XDI, Athena project or text files.

:func:`read_spectrum` picks the reader from the file name (``.xdi``/``.xd`` -> XDI through
``larch.io.read_xdi``; ``.prj`` -> Athena project through ``larch.io.read_athena``; anything
else -> plain text with two numeric columns, energy then mu, ``#`` comments allowed).
Every reader returns a :class:`Spectrum` that :func:`check_spectrum` has validated: at least
``min_points`` points (default 20), finite values, energy strictly increasing. Any problem is one
:class:`operando.errors.InputError` naming the file and what is wrong.

How mu is formed from XDI columns (first that applies): a column named ``mu``, ``mutrans``,
``mufluor`` or ``norm``; else transmission ``ln(i0 / itrans)``; else fluorescence ``ifluor / i0``.
"""
from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from operando.errors import InputError

MIN_POINTS = 20


@dataclass
class Spectrum:
    """One absorption spectrum: ``energy`` (n,) eV increasing, ``mu`` (n,), where it came from."""

    energy: np.ndarray
    mu: np.ndarray
    source: str
    name: str = ""
    meta: dict = field(default_factory=dict)


def check_spectrum(energy, mu, source: str | Path, *, min_points: int = MIN_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Validate and return ``(energy, mu)`` as float64 arrays, or raise one InputError."""
    try:
        e = np.asarray(energy, dtype=float).ravel()
        m = np.asarray(mu, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise InputError(source, f"energy/mu are not numeric ({exc})") from None
    if e.size != m.size:
        raise InputError(source, f"energy has {e.size} points but mu has {m.size}")
    if e.size < min_points:
        raise InputError(source, f"too short: {e.size} points, need at least {min_points}")
    bad = ~(np.isfinite(e) & np.isfinite(m))
    if bad.any():
        raise InputError(source, f"{int(bad.sum())} NaN or infinite values (first at point {int(np.argmax(bad)) + 1})")
    d = np.diff(e)
    if (d <= 0).any():
        i = int(np.argmax(d <= 0))
        raise InputError(source, f"energy is not strictly increasing (point {i + 2}: {e[i + 1]:g} after {e[i]:g} eV)")
    return e, m


def read_text(path: str | Path, *, min_points: int = MIN_POINTS) -> Spectrum:
    """Two-column text (energy eV, mu); whitespace or comma separated; ``#`` starts a comment."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="strict").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read as text ({exc.__class__.__name__})") from None
    rows = []
    for n, line in enumerate(lines, 1):
        s = line.split("#", 1)[0].strip()
        if not s:
            continue
        parts = s.replace(",", " ").split()
        if len(parts) < 2:
            raise InputError(path, f"expected two numeric columns (energy, mu), found {len(parts)}", line=n)
        try:
            rows.append((float(parts[0]), float(parts[1])))
        except ValueError:
            if not rows:  # one header line without '#' is tolerated
                continue
            raise InputError(path, f"not a number: {s[:40]!r}", line=n) from None
    if not rows:
        raise InputError(path, "no numeric rows (expected two columns: energy in eV, mu)")
    arr = np.array(rows)
    e, m = check_spectrum(arr[:, 0], arr[:, 1], path, min_points=min_points)
    return Spectrum(e, m, str(path), path.stem)


@contextlib.contextmanager
def _quiet():
    # (larch's Athena reader fails when stdout is redirected, so only warnings are silenced)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _mu_from_columns(cols: dict[str, np.ndarray], path: Path) -> np.ndarray:
    for name in ("mu", "mutrans", "mufluor", "norm"):
        if name in cols:
            return cols[name]
    if "i0" in cols and "itrans" in cols:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(cols["i0"] / cols["itrans"])
    if "i0" in cols and "ifluor" in cols:
        with np.errstate(divide="ignore", invalid="ignore"):
            return cols["ifluor"] / cols["i0"]
    raise InputError(path, f"no mu column and no i0/itrans or i0/ifluor pair (columns: {sorted(cols)})")


def read_xdi(path: str | Path, *, min_points: int = MIN_POINTS) -> Spectrum:
    """XDI file through ``larch.io.read_xdi``; mu formed as described in the module docstring."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    from larch.io import read_xdi as _read_xdi

    try:
        with _quiet():
            g = _read_xdi(str(path))
    except Exception as exc:  # larch raises bare ValueError/OSError/XDI errors
        raise InputError(path, f"not a readable XDI file ({exc.__class__.__name__}: {exc})") from None
    labels = [str(s).lower() for s in getattr(g, "array_labels", [])]
    cols = {lab: np.asarray(getattr(g, lab)) for lab in labels if hasattr(g, lab)}
    if "energy" not in cols:
        raise InputError(path, f"no 'energy' column (columns: {labels})")
    mu = _mu_from_columns(cols, path)
    e, m = check_spectrum(cols["energy"], mu, path, min_points=min_points)
    meta = {}
    for key in ("element", "edge"):
        v = getattr(g, key, None)
        if v is not None:
            meta[key] = str(v)
    return Spectrum(e, m, str(path), path.stem, meta)


def read_athena(path: str | Path, group: str | None = None, *, min_points: int = MIN_POINTS) -> Spectrum:
    """One group (default: the first) of an Athena project through ``larch.io.read_athena``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    from larch.io import read_athena as _read_athena

    try:
        with _quiet():
            project = _read_athena(str(path))
    except Exception as exc:
        raise InputError(path, f"not a readable Athena project ({exc.__class__.__name__}: {exc})") from None
    names = athena_groups(project)
    if not names:
        raise InputError(path, "Athena project holds no groups with energy and mu")
    if group is None:
        group = names[0]
    if group not in names:
        raise InputError(path, f"no group {group!r} (groups: {names})")
    g = getattr(project, group)
    e, m = check_spectrum(g.energy, g.mu, f"{path}[{group}]", min_points=min_points)
    return Spectrum(e, m, str(path), group)


def athena_groups(project) -> list[str]:
    """Names of the groups of a larch Athena project that carry ``energy`` and ``mu``."""
    names = list(getattr(project, "_athena_groups", {}) or [])
    if not names:
        names = [n for n in dir(project) if not n.startswith("_")]
    return [n for n in names if hasattr(getattr(project, n, None), "energy")
            and hasattr(getattr(project, n, None), "mu")]


def read_spectrum(path: str | Path, *, group: str | None = None, min_points: int = MIN_POINTS) -> Spectrum:
    """Read any supported file; the reader is chosen by suffix (see module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    suffix = path.suffix.lower()
    if suffix in (".xdi", ".xd"):
        return read_xdi(path, min_points=min_points)
    if suffix == ".prj":
        return read_athena(path, group, min_points=min_points)
    return read_text(path, min_points=min_points)
