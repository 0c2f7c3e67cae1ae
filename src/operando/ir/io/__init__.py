"""Reading IR spectra from instrument files (Bruker OPUS, JCAMP-DX, CSV/TXT), and aligning a
spectrum series with the cell's voltage log (:mod:`operando.ir.io.align`).

``read_spectrum(path)`` picks the reader from the file's content (OPUS magic number, JCAMP
``##`` labels) and, failing that, its extension. Every reader returns a checked
:class:`Spectrum` or raises one :class:`~operando.errors.InputError` naming the file and the
problem. The electrochemistry log is read by :mod:`operando.echem` (shared by every technique).
"""
from __future__ import annotations

import re
from datetime import tzinfo
from pathlib import Path

from operando.errors import InputError
from operando.ir.io.jcamp import read_jcamp, read_jcamp_blocks
from operando.ir.io.opus import is_opus, read_opus
from operando.ir.io.spectrum import (
    IR_WINDOW_CM1,
    Spectrum,
    check_ir_window,
    looks_like_transmittance,
    require_absorbance,
)
from operando.ir.io.text_spectrum import read_text_spectrum

JCAMP_SUFFIXES = (".jdx", ".dx", ".jcm", ".jcamp")
TEXT_SUFFIXES = (".csv", ".txt", ".tsv", ".dpt", ".prn", ".dat")
_OPUS_SUFFIX = re.compile(r"^\.\d+$")  # OPUS numbers its files: name.0, name.1, name.001


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(256)
    except OSError as e:
        raise InputError(path, f"cannot read file ({e.strerror or e})") from None


def _looks_like_jcamp(head: bytes) -> bool:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"##")


def is_spectrum_file(path: str | Path) -> bool:
    """True for files :func:`read_spectrum` would try (by extension or content), not hidden ones."""
    path = Path(path)
    if path.name.startswith(".") or not path.is_file():
        return False
    suffix = path.suffix.lower()
    if suffix in JCAMP_SUFFIXES + TEXT_SUFFIXES or _OPUS_SUFFIX.match(suffix):
        return True
    head = _head(path)
    return is_opus(head) or _looks_like_jcamp(head)


def read_spectrum(path: str | Path, *, timezone: str | tzinfo | None = "UTC") -> Spectrum:
    """Read one IR spectrum from an OPUS, JCAMP-DX or text file; naive times are read in ``timezone``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found" if not path.exists() else "not a regular file")
    head = _head(path)
    suffix = path.suffix.lower()
    if is_opus(head) or _OPUS_SUFFIX.match(suffix):
        return read_opus(path, timezone=timezone)
    if _looks_like_jcamp(head) or suffix in JCAMP_SUFFIXES:
        return read_jcamp(path, timezone=timezone)
    if suffix in TEXT_SUFFIXES or b"\x00" not in head:
        return read_text_spectrum(path, timezone=timezone)
    raise InputError(path, "unknown spectrum format: expected Bruker OPUS, JCAMP-DX (.jdx/.dx) or a "
                           "two-column CSV/TXT (wavenumber, absorbance)")


__all__ = ["Spectrum", "read_spectrum", "read_opus", "read_jcamp",
           "read_jcamp_blocks", "read_text_spectrum", "check_ir_window",
           "require_absorbance", "looks_like_transmittance", "is_spectrum_file", "IR_WINDOW_CM1"]
