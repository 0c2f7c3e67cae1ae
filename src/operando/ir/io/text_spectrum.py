"""Plain-text spectra (``*.csv``, ``*.txt``, ``*.dpt``, ``*.tsv``): a wavenumber column and a value column.

Layout: optional comment lines (``#``, ``%`` or ``//``), optional header line(s), then rows
``wavenumber<delimiter>value``. The delimiter (tab, ``;``, ``,`` or whitespace) and the decimal
mark (``.`` or ``,``) are inferred from the rows: a configuration is used only if every row
parses with it into the same number of numbers, and a file that two configurations read
differently is refused as ambiguous. A decimal comma therefore works with tab, ``;`` or
whitespace delimiters.

The header line must split with the rows' delimiter into one name per column (a header
written with ``;`` above comma-separated rows is refused, naming both delimiters). The header
decides the kind when it names it (``Absorbance``, ``Transmittance``/``%T``). The unit of the
first column, when the header names one (``Wavelength [µm]``, ``wavelength/nm``,
``Wavenumber (cm-1)``, ``lambda_um``), is converted to cm-1: micrometres (``µm``, ``μm``,
``um``, ``micron``) by 1e4 / x and nanometres by 1e7 / x. Any other unit (``eV``, ``Hz`` ...)
and a wavelength column without a unit are refused, naming them; a column is taken as cm-1
only when its header names cm-1 or no unit at all. Without a header the kind is guessed
from the values (:func:`operando.ir.io.spectrum.guess_kind`) and flagged as guessed.
Text files carry no acquisition time unless a comment line gives one, e.g.
``# acquired_at: 2024-05-01T10:15:00+02:00`` (ISO 8601; a time without zone is read in
``timezone``).
"""
from __future__ import annotations

import re
from datetime import datetime, tzinfo
from pathlib import Path

import numpy as np

from operando.errors import InputError
from operando.files import localise, read_file_bytes
from operando.ir.io.spectrum import Spectrum, finish_spectrum, guess_kind

MAX_HEADER_LINES = 20
# (delimiter, decimal mark) in order of preference; None = any run of whitespace.
CONFIGURATIONS = (("\t", "."), (";", "."), (",", "."), (None, "."), ("\t", ","), (";", ","), (None, ","))
_TIME_KEYS = ("acquired_at", "acquired", "acquisition_time", "timestamp", "datetime", "date_time")
_COMMENT = ("#", "%", "//")


def _fields(line: str, delimiter: str | None, decimal: str) -> list[float] | None:
    parts = line.split(delimiter) if delimiter else line.split()
    if delimiter and parts and parts[-1].strip() == "":
        parts = parts[:-1]  # a trailing delimiter
    values = []
    for part in parts:
        part = part.strip().strip('"')
        if decimal == ",":
            if "." in part:
                return None
            part = part.replace(",", ".")
        try:
            values.append(float(part))
        except ValueError:
            return None
    return values


def _try(rows: list[tuple[int, str]], delimiter, decimal):
    """Return (n_header_lines, table) if every row after the header parses, else (None, first bad line)."""
    header = 0
    while header < len(rows) and header < MAX_HEADER_LINES and _fields(rows[header][1], delimiter, decimal) is None:
        header += 1
    table, width = [], None
    for number, text in rows[header:]:
        values = _fields(text, delimiter, decimal)
        if values is None or len(values) < 2 or (width is not None and len(values) != width):
            return None, number
        width = len(values)
        table.append(values)
    if len(table) < 2:
        return None, rows[-1][0] if rows else 1
    return header, np.asarray(table, dtype=np.float64)


_DELIMITER_NAMES = {"\t": "tab", ";": "';'", ",": "','", None: "spaces"}


def _split_header(line: str, delimiter: str | None) -> list[str]:
    parts = line.split(delimiter) if delimiter else line.split()
    if delimiter and len(parts) > 1 and parts[-1].strip() == "":
        parts = parts[:-1]  # a trailing delimiter, as in the rows
    return [p.strip().strip('"').lower() for p in parts]


def _header_names(line: str, delimiter: str | None, width: int, path, number: int) -> list[str]:
    """One name per column from the header ``line``, or InputError naming the mismatch."""
    names = _split_header(line, delimiter)
    if len(names) == width:
        return names
    if delimiter is None:  # names with spaces in a space-separated file: columns split by 2+ spaces or tabs
        names = [n.strip().strip('"').lower() for n in re.split(r"\s{2,}|\t", line.strip())]
        if len(names) == width:
            return names
    for other in ("\t", ";", ","):
        if other != delimiter and len(_split_header(line, other)) == width:
            raise InputError(path, f"the header separates its names with {_DELIMITER_NAMES[other]} but the rows "
                                   f"are separated by {_DELIMITER_NAMES[delimiter]}: use one delimiter throughout "
                                   f"(header {line.strip()!r})", line=number)
    raise InputError(path, f"the header has {len(_split_header(line, delimiter))} name(s) but the rows have "
                           f"{width} columns separated by {_DELIMITER_NAMES[delimiter]} (header {line.strip()!r})",
                     line=number)


def _time_from_comments(comments: list[tuple[int, str]], path, tz, metadata) -> datetime | None:
    for number, text in comments:
        m = re.match(r"([A-Za-z_ ]+?)\s*[:=]\s*(.+)$", text.lstrip("#%/").strip())
        if not m or m.group(1).strip().lower().replace(" ", "_") not in _TIME_KEYS:
            continue
        try:
            moment = datetime.fromisoformat(m.group(2).strip())
        except ValueError:
            raise InputError(path, f"acquisition time {m.group(2).strip()!r} is not ISO 8601 "
                                   "(e.g. 2024-05-01T10:15:00+02:00)", line=number) from None
        return localise(moment, tz, metadata)
    return None


def read_text_spectrum(path: str | Path, *, timezone: str | tzinfo | None = "UTC") -> Spectrum:
    """Read a two-column text spectrum (wavenumber, value); see the module docstring."""
    path = Path(path)
    data = read_file_bytes(path, "a text spectrum")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    comments, rows = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        (comments if stripped.startswith(_COMMENT) else rows).append((number, stripped))
    if not rows:
        raise InputError(path, "no data rows (expected 'wavenumber, absorbance' per line)")

    found, furthest_line = [], rows[0][0]
    for delimiter, decimal in CONFIGURATIONS:
        header, table = _try(rows, delimiter, decimal)
        if header is None:
            furthest_line = max(furthest_line, table)  # report the row where the best try failed
            continue
        found.append((header, delimiter, decimal, table))
    if not found:
        raise InputError(path, "row is not 'wavenumber<delimiter>value' numbers (delimiters tried: tab, ';', "
                               "',', spaces; decimal mark '.' or ',')", line=furthest_line)
    header, delimiter, decimal, table = min(found, key=lambda f: f[0])  # stable: keeps preference order
    rivals = [f for f in found if f[0] == header and f[3].shape == table.shape
              and not np.array_equal(f[3], table, equal_nan=True)]
    if rivals:
        raise InputError(path, f"ambiguous: the rows read both with delimiter {delimiter or 'space'!r} / decimal "
                               f"{decimal!r} and {rivals[0][1] or 'space'!r} / {rivals[0][2]!r}; use ';' or tab "
                               "as delimiter with a decimal comma")

    names = _header_names(rows[header - 1][1], delimiter, table.shape[1], path, rows[header - 1][0]) if header else []
    metadata: dict = {"format": "text", "delimiter": delimiter or "whitespace", "decimal_mark": decimal,
                      "columns": names}
    column = _value_column(table, names, path, rows[header][0], delimiter)
    x, y = table[:, 0], table[:, column]
    x = _to_wavenumber(x, names[0] if names else "", path, rows[max(header - 1, 0)][0], metadata)
    kind = _kind_from_header(names[column] if names else "", y, metadata)
    when = _time_from_comments(comments, path, timezone, metadata)
    return finish_spectrum(path, x, y, kind, when, metadata, line=rows[header][0])


def _value_column(table: np.ndarray, names: list[str], path, line: int, delimiter) -> int:
    if table.shape[1] == 2:
        return 1
    named = [i for i, n in enumerate(names[1:], start=1) if re.search(r"absorb|transm|%t\b", n)]
    if len(named) == 1 and len(names) == table.shape[1]:
        return named[0]
    hint = ("; a decimal comma with ',' as delimiter is ambiguous: use ';' or tab" if delimiter == "," else "")
    raise InputError(path, f"has {table.shape[1]} columns; expected 2 (wavenumber, absorbance) or a header "
                           f"naming exactly one 'Absorbance'/'Transmittance' column{hint}", line=line)


# Units of the first column, after _normalise_unit: what converts them to cm-1.
_WAVENUMBER_UNITS = ("cm-1", "1/cm", "/cm", "cm^-1", "wn", "kayser")
_WAVELENGTH_FACTORS = {"um": 1e4, "micron": 1e4, "microns": 1e4, "micrometer": 1e4, "micrometers": 1e4,
                       "micrometre": 1e4, "micrometres": 1e4, "mum": 1e4,
                       "nm": 1e7, "nanometer": 1e7, "nanometers": 1e7, "nanometre": 1e7, "nanometres": 1e7}
_WAVELENGTH_WORDS = re.compile(r"wavelength|lambda|λ")


def _normalise_unit(text: str) -> str:
    """``' µm '``, ``'μm'``, ``'Âµm'`` -> ``'um'``; ``'cm⁻¹'``, ``'cm^-1'``, ``'cm -1'`` -> ``'cm-1'``."""
    text = text.strip().lower().replace("âµ", "u").replace("µ", "u").replace("μ", "u")
    text = text.replace("⁻¹", "-1").replace("−", "-").replace(" ", "")
    return "cm-1" if text in ("cm^-1", "cm^{-1}", "cm-1", "1/cm", "/cm", "kayser", "wn") else text


def axis_unit(name: str) -> tuple[str | None, bool]:
    """The unit the header ``name`` of the x column gives, and whether it was written explicitly.

    ``(unit, True)`` for a unit in brackets, after ``/`` or as the last word (``unit`` then is
    ``"cm-1"``, ``"um"``, ``"nm"`` or the unknown unit as written); ``(None, False)`` when the
    name gives none.
    """
    name = name.strip()
    found = re.search(r"[\[(]\s*([^\])]*?)\s*[\])]", name)
    if found and found.group(1).strip():
        return _normalise_unit(found.group(1)), True
    whole = _normalise_unit(name)
    if whole in _WAVELENGTH_FACTORS or whole in _WAVENUMBER_UNITS or whole == "cm-1":
        return whole, True
    if "/" in name:  # 'wavelength/nm', 'time/s' style
        head, _, unit = name.rpartition("/")
        if head.strip() and unit.strip() and not head.strip().endswith("1"):
            return _normalise_unit(unit), True
    words = [w for w in re.split(r"[\s_]+", name) if w]
    if len(words) > 1:  # 'wavelength nm', 'lambda_um', 'wavenumber in cm-1': only a known unit counts here
        last = _normalise_unit(words[-1])
        if last in _WAVELENGTH_FACTORS or last == "cm-1":
            return last, True
    return None, False


def _to_wavenumber(x: np.ndarray, name: str, path, line: int, metadata: dict) -> np.ndarray:
    unit, _ = axis_unit(name)
    if unit is None or unit == "cm-1":
        if unit is None and _WAVELENGTH_WORDS.search(name):
            raise InputError(path, f"the first column {name!r} is a wavelength without a unit: name the unit in "
                                   "the header, e.g. 'Wavelength [um]' or 'Wavelength [nm]'", line=line)
        metadata["x_unit"] = "cm-1"
        return x
    factor = _WAVELENGTH_FACTORS.get(unit)
    if factor is None:
        raise InputError(path, f"the first column {name!r} is in {unit!r}, which is neither a wavenumber (cm-1) "
                               "nor a wavelength (um, nm): convert it to cm-1", line=line)
    if np.any(x <= 0):
        raise InputError(path, f"wavelengths in {unit} must be > 0 to convert to wavenumbers", line=line)
    metadata["x_unit"] = "um" if factor == 1e4 else "nm"
    return factor / x


def _kind_from_header(name: str, y: np.ndarray, metadata: dict) -> str:
    if "absorb" in name or name in ("a", "abs", "au"):
        metadata["kind_declared"] = True
        return "absorbance"
    if "transm" in name or "%t" in name or name == "t":
        metadata["kind_declared"] = True
        metadata["transmittance_percent"] = "%" in name or bool(np.max(y) > 1.5)
        return "transmittance"
    return guess_kind(y, metadata)
