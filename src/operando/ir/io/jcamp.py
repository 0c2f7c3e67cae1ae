"""JCAMP-DX 4.24 / 5.x infrared spectra (``*.jdx``, ``*.dx``, ``*.jcm``).

Supported: ``##XYDATA=(X++(Y..Y))`` in every ASDF form -- AFFN (plain numbers), PAC (numbers
separated by their signs), SQZ (first digit as a letter ``@A-Ia-i``), DIF (differences
``%J-Rj-r``) and DUP (repeat counts ``S-Zs``), as DIFDUP mixes -- with ``##XFACTOR``,
``##YFACTOR``, ``##FIRSTX``, ``##LASTX``, ``##DELTAX``, ``##NPOINTS``; and the point tables
``##XYPOINTS=(XY..XY)`` / ``##PEAK TABLE=(XY..XY)``. ``##XUNITS`` may be ``1/CM``
(micrometres and nanometres are converted to cm-1); ``##YUNITS`` ``ABSORBANCE`` or
``TRANSMITTANCE`` (other/absent units: the kind is guessed from the values and flagged).
The acquisition time comes from ``##LONGDATE`` (JCAMP-DX 5: ``YYYY/MM/DD HH:MM:SS[.s] [+hhmm]``)
or ``##DATE``/``##TIME``.

Integrity checks, each an :class:`~operando.errors.InputError` naming file and line:

* DIF Y-check: when a line ends in DIF form, the next line repeats its last ordinate first;
  the two must agree (and the repeat is dropped);
* each line's abscissa must match the point count so far (no lost or doubled points);
* the number of ordinates must equal ``##NPOINTS`` and the last abscissa ``##LASTX``.

Format reference: R. S. McDonald, P. A. Wilks, "JCAMP-DX: A Standard Form for Exchange of
Infrared Spectra in Computer Readable Form", Applied Spectroscopy 42 (1988) 151-162.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path

import numpy as np

from operando.errors import InputError
from operando.files import localise, parse_utc_offset, read_file_bytes
from operando.ir.io.spectrum import Spectrum, finish_spectrum, guess_kind

SQZ = {"@": 0, **{c: i + 1 for i, c in enumerate("ABCDEFGHI")}, **{c: -(i + 1) for i, c in enumerate("abcdefghi")}}
DIF = {"%": 0, **{c: i + 1 for i, c in enumerate("JKLMNOPQR")}, **{c: -(i + 1) for i, c in enumerate("jklmnopqr")}}
DUP = {**{c: i + 1 for i, c in enumerate("STUVWXYZ")}, "s": 9}
_AFFN = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[Ee][+-]\d+)?")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[Ee][+-]?\d+)?|\?")
DATA_LABELS = ("XYDATA", "XYPOINTS", "PEAKTABLE")
# A DUP count may not inflate a line beyond this many points (guards against corrupt files).
MAX_POINTS = 5_000_000


def normalise_label(label: str) -> str:
    """JCAMP label comparison ignores case, spaces, dashes, slashes and underscores."""
    return re.sub(r"[\s\-/_]", "", label).upper()


@dataclass
class JcampBlock:
    """One ``##TITLE ... ##END`` block: its labels (normalised) and data lines."""

    labels: dict[str, str] = field(default_factory=dict)
    label_lines: dict[str, int] = field(default_factory=dict)
    data_label: str | None = None
    data_form: str = ""
    data_lines: list[tuple[int, str]] = field(default_factory=list)
    end_line: int | None = None


def parse_blocks(text: str, path) -> list[JcampBlock]:
    """Split JCAMP-DX text into blocks holding spectral data (LINK/compound files give several)."""
    blocks: list[JcampBlock] = []
    current: JcampBlock | None = None
    in_data = False
    last_label: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("$$", 1)[0].rstrip()
        stripped = line.lstrip()
        if stripped.startswith("##"):
            label, sep, value = stripped[2:].partition("=")
            if not sep:
                raise InputError(path, f"label without '=': {stripped[:40]!r}", line=number)
            key = normalise_label(label)
            value = value.strip()
            in_data = False
            if key == "TITLE":
                if current is not None and current.data_label is not None and current.end_line is None:
                    current.end_line = number  # a new block started without ##END
                current = JcampBlock()
                blocks.append(current)
            if current is None:
                raise InputError(path, "JCAMP-DX must start with ##TITLE=", line=number)
            if key == "END":
                current.end_line = number
                last_label = None
                continue
            if key in DATA_LABELS:
                if current.data_label is not None:
                    raise InputError(path, f"second data table ##{label.strip()} in one block", line=number)
                current.data_label, current.data_form = key, value.replace(" ", "").upper()
                current.label_lines[key] = number
                in_data = True
            elif key == "NTUPLES":
                raise InputError(path, "##NTUPLES data (NMR/multi-dimensional) is not supported; "
                                       "export the IR spectrum as ##XYDATA", line=number)
            else:
                current.labels[key] = value
                current.label_lines[key] = number
            last_label = key
        elif current is not None and in_data:
            if stripped:
                current.data_lines.append((number, stripped))
        elif current is not None and last_label is not None and stripped:
            current.labels[last_label] += " " + stripped  # a label value continued on the next line
    return [b for b in blocks if b.data_label is not None]


def _float_label(block: JcampBlock, key: str, path, default: float | None = None) -> float:
    if key not in block.labels or not block.labels[key].strip():
        if default is None:
            raise InputError(path, f"missing ##{key}=", line=block.label_lines.get(block.data_label))
        return default
    text = block.labels[key].strip().split()[0]
    try:
        value = float(text)
    except ValueError:
        raise InputError(path, f"##{key}= {text!r} is not a number", line=block.label_lines[key]) from None
    if not np.isfinite(value):
        raise InputError(path, f"##{key}= is not finite", line=block.label_lines[key])
    return value


def tokenize_asdf(line: str, path, number: int) -> list[tuple[str, float]]:
    """Split one data line into ``("abs" | "dif" | "dup", value)`` tokens.

    Absolute values come as AFFN/PAC numbers or SQZ letters, differences as DIF letters,
    repeat counts as DUP letters; an exponent ``E+nn`` is read only after a mantissa and
    with its sign, so that ``E``/``e`` stay SQZ digits otherwise.
    """
    tokens: list[tuple[str, float]] = []
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c in " \t,;":
            i += 1
        elif c in "+-.0123456789":
            m = _AFFN.match(line, i)
            if not m:
                raise InputError(path, f"unreadable number at column {i + 1}", line=number)
            tokens.append(("abs", float(m.group())))
            i = m.end()
        elif c == "?":
            tokens.append(("abs", float("nan")))
            i += 1
        elif c in SQZ or c in DIF or c in DUP:
            j = i + 1
            while j < n and (line[j].isdigit() or line[j] == "."):
                j += 1
            table, kind = (SQZ, "abs") if c in SQZ else (DIF, "dif") if c in DIF else (DUP, "dup")
            digit = table[c]
            try:
                magnitude = float(f"{abs(digit)}{line[i + 1:j]}")
            except ValueError:
                raise InputError(path, f"unreadable compressed value at column {i + 1}", line=number) from None
            tokens.append((kind, -magnitude if digit < 0 else magnitude))
            i = j
        else:
            raise InputError(path, f"unexpected character {c!r} at column {i + 1} of the data", line=number)
    return tokens


def decode_xydata(block: JcampBlock, path) -> tuple[np.ndarray, np.ndarray, int, list[str]]:
    """Decode ``(X++(Y..Y))`` into x (n,) and y (n,) with every check.

    Returns ``(x, y, last_line, warnings)``.
    """
    if block.data_form.rstrip(")") not in ("(X++(Y..Y", "(X++(R..R", "(X++(I..I"):
        raise InputError(path, f"unsupported ##XYDATA form {block.data_form!r} (expected (X++(Y..Y)))",
                         line=block.label_lines["XYDATA"])
    npoints = int(_float_label(block, "NPOINTS", path))
    first_x = _float_label(block, "FIRSTX", path)
    last_x = _float_label(block, "LASTX", path)
    x_factor = _float_label(block, "XFACTOR", path, 1.0)
    y_factor = _float_label(block, "YFACTOR", path, 1.0)
    if not 2 <= npoints <= MAX_POINTS:
        raise InputError(path, f"##NPOINTS={npoints} is out of range (2-{MAX_POINTS})",
                         line=block.label_lines["NPOINTS"])
    delta_x = (last_x - first_x) / (npoints - 1)
    if delta_x == 0:
        raise InputError(path, "##FIRSTX equals ##LASTX", line=block.label_lines["LASTX"])
    # ##DELTAX is nominal (informational) in the standard and wrong in some real files: not used.
    ys: list[float] = []
    warnings: list[str] = []
    ended_in_dif = False
    last_number = block.label_lines["XYDATA"]
    for number, text in block.data_lines:
        last_number = number
        tokens = tokenize_asdf(text, path, number)
        if not tokens:
            continue
        kind, x_value = tokens[0]
        if kind != "abs":
            raise InputError(path, "a data line must start with its abscissa (X value)", line=number)
        line_ys: list[float] = []
        value_kind, last_diff, after_dup = None, 0.0, False  # value_kind: "abs" | "dif" of the last value
        for kind, value in tokens[1:]:
            if kind == "abs":
                line_ys.append(value)
                value_kind = "abs"
            elif kind == "dif":
                if not line_ys:
                    raise InputError(path, "a DIF value needs a preceding absolute value on its line",
                                     line=number)
                line_ys.append(line_ys[-1] + value)
                value_kind, last_diff = "dif", value
            else:  # DUP: repeat the previous token (a value or a difference) count-1 more times
                count = int(value)
                if value_kind is None or after_dup or count < 1:
                    raise InputError(path, "a DUP count must follow a value", line=number)
                if len(ys) + len(line_ys) + count > npoints + 2:
                    raise InputError(path, f"DUP count {count} runs past ##NPOINTS={npoints}", line=number)
                if value_kind == "dif":
                    line_ys.extend(line_ys[-1] + last_diff * np.arange(1, count))
                else:
                    line_ys.extend([line_ys[-1]] * (count - 1))
            after_dup = kind == "dup"
        if not line_ys:
            continue
        first_index = len(ys)
        if ended_in_dif and ys:
            # Y-check: the first ordinate repeats the previous line's last one.
            check = line_ys.pop(0)
            if not line_ys and len(ys) == npoints and not abs(check - ys[-1]) <= 1e-6 * max(1.0, abs(check)):
                # A trailing check-only line after the last point (Spectrafile writes "X@"): no data
                # depends on it, so a mismatch is reported in the metadata, not fatal.
                warnings.append(f"line {number}: trailing Y-check {check:g} != last ordinate {ys[-1]:g} (ignored)")
                continue
            if not abs(check - ys[-1]) <= 1e-6 * max(1.0, abs(check)):
                raise InputError(path, f"DIF Y-check failed: line starts with {check:g} but the previous "
                                       f"line ended with {ys[-1]:g}", line=number)
            first_index -= 1
        expected_x = first_x + first_index * delta_x
        # 1.5 points of slack: some writers (NIST) label lines with the previous point's X.
        if abs(x_value * x_factor - expected_x) > 1.5 * abs(delta_x) + 1e-9 * abs(expected_x):
            raise InputError(path, f"abscissa {x_value * x_factor:.6g} does not match point {first_index + 1} "
                                   f"(expected {expected_x:.6g}): points lost or repeated, or "
                                   "##FIRSTX/##LASTX/##NPOINTS wrong", line=number)
        ys.extend(line_ys)
        ended_in_dif = value_kind == "dif"
        if len(ys) > npoints:
            raise InputError(path, f"more ordinates than ##NPOINTS={npoints}", line=number)
    if len(ys) != npoints:
        raise InputError(path, f"##XYDATA holds {len(ys)} ordinates but ##NPOINTS={npoints}",
                         line=block.end_line or last_number)
    x = np.linspace(first_x, last_x, npoints)
    return x, np.asarray(ys, dtype=np.float64) * y_factor, last_number, warnings


def decode_xypoints(block: JcampBlock, path) -> tuple[np.ndarray, np.ndarray]:
    """Decode ``(XY..XY)`` pairs (``##XYPOINTS`` or ``##PEAK TABLE``) into x (n,), y (n,), x-sorted."""
    label_line = block.label_lines[block.data_label]
    if block.data_form not in ("(XY..XY)", "(XYW..XYW)", "(XYM..XYM)"):
        raise InputError(path, f"unsupported ##{block.data_label} form {block.data_form!r} (expected (XY..XY))",
                         line=label_line)
    width = 2 if block.data_form == "(XY..XY)" else 3
    numbers: list[float] = []
    for number, text in block.data_lines:
        for token in _NUMBER.findall(text):
            numbers.append(float("nan") if token == "?" else float(token))
        if re.sub(r"[\s,;]", "", _NUMBER.sub("", text)):
            raise InputError(path, "unexpected text in the point table", line=number)
    if len(numbers) % width:
        raise InputError(path, f"the point table holds {len(numbers)} numbers, not whole (X,Y) pairs",
                         line=block.end_line or label_line)
    table = np.asarray(numbers, dtype=np.float64).reshape(-1, width)
    x = table[:, 0] * _float_label(block, "XFACTOR", path, 1.0)
    y = table[:, 1] * _float_label(block, "YFACTOR", path, 1.0)
    if "NPOINTS" in block.labels and int(_float_label(block, "NPOINTS", path)) != len(x):
        raise InputError(path, f"the point table holds {len(x)} points but ##NPOINTS="
                               f"{block.labels['NPOINTS'].strip()}", line=block.end_line or label_line)
    order = np.argsort(x, kind="stable")
    return x[order], y[order]


def _to_wavenumber(x: np.ndarray, block: JcampBlock, path) -> np.ndarray:
    unit = block.labels.get("XUNITS", "1/CM").strip().upper().replace(" ", "").replace("WAVELENGTH", "")
    unit = unit.strip("()")
    if unit in ("1/CM", "CM-1", "CM^-1", "WAVENUMBER", "WAVENUMBERS"):
        return x
    factor = {"MICROMETERS": 1e4, "MICRONS": 1e4, "UM": 1e4, "NANOMETERS": 1e7, "NM": 1e7}.get(unit)
    if factor is None or np.any(x <= 0):
        raise InputError(path, f"##XUNITS={unit} is not a wavenumber (expected 1/CM)",
                         line=block.label_lines.get("XUNITS"))
    return factor / x


def _kind(y: np.ndarray, block: JcampBlock, metadata: dict) -> str:
    unit = block.labels.get("YUNITS", "").strip().upper()
    metadata["y_units"] = unit
    if "ABSORB" in unit or unit in ("A", "AU", "LOG(1/R)", "LOG(1/T)"):
        metadata["kind_declared"] = True
        return "absorbance"
    if "TRANSM" in unit or unit in ("T", "%T", "PERCENT TRANSMITTANCE"):
        metadata["kind_declared"] = True
        metadata["transmittance_percent"] = "%" in unit or "PERCENT" in unit or bool(np.max(y) > 1.5)
        return "transmittance"
    return guess_kind(y, metadata)


def _acquired_at(block: JcampBlock, tz, metadata: dict) -> datetime | None:
    long_date = block.labels.get("LONGDATE", "").strip()
    if long_date:
        moment = _parse_long_date(long_date)
        if moment is None:
            metadata["acquired_at_unparsed"] = long_date
            return None
        return localise(moment, tz, metadata)
    date, clock = block.labels.get("DATE", "").strip(), block.labels.get("TIME", "").strip()
    if not date:
        return None
    for fmt in ("%y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%y/%m/%d %H:%M", "%y/%m/%d"):
        try:
            moment = datetime.strptime(f"{date} {clock}".strip(), fmt)
            return localise(moment, tz, metadata)
        except ValueError:
            continue
    metadata["acquired_at_unparsed"] = f"{date} {clock}".strip()
    return None


def _parse_long_date(text: str) -> datetime | None:
    """``2024/05/01 10:11:12.5 +0200``, ``2024/05/01 10:11:12 UTC``, ISO 8601 -> datetime."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    parts = text.replace("T", " ").split()
    zone = None
    if len(parts) >= 3:
        zone = parse_utc_offset(parts[2])
        if zone is None:
            return None
    stamp = " ".join(parts[:2])
    for fmt in ("%Y/%m/%d %H:%M:%S.%f", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d"):
        try:
            moment = datetime.strptime(stamp, fmt)
            return moment.replace(tzinfo=zone) if zone else moment
        except ValueError:
            continue
    return None


def _decode_text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def read_jcamp_blocks(path: str | Path, *, timezone: str | tzinfo | None = "UTC") -> list[Spectrum]:
    """Every spectrum of a JCAMP-DX file (a LINK/compound file can hold several), in file order."""
    path = Path(path)
    text = _decode_text(read_file_bytes(path, "a JCAMP-DX text file"))
    blocks = parse_blocks(text, path)
    if not blocks:
        raise InputError(path, "no ##XYDATA, ##XYPOINTS or ##PEAK TABLE spectrum found")
    spectra = []
    for block in blocks:
        metadata = {"format": "jcamp-dx", "title": block.labels.get("TITLE", ""),
                    "jcamp_version": block.labels.get("JCAMPDX", ""), "data_label": block.data_label}
        if block.data_label == "XYDATA" and not block.data_form.startswith("(XY.."):
            x, y, line, warnings = decode_xydata(block, path)
            if warnings:
                metadata["warnings"] = warnings
        else:
            x, y = decode_xypoints(block, path)
            line = block.label_lines[block.data_label]
        x = _to_wavenumber(x, block, path)
        kind = _kind(y, block, metadata)
        when = _acquired_at(block, timezone, metadata)
        spectra.append(finish_spectrum(path, x, y, kind, when, metadata, line=line))
    return spectra


def read_jcamp(path: str | Path, *, timezone: str | tzinfo | None = "UTC") -> Spectrum:
    """The single spectrum of a JCAMP-DX file; a file holding several is refused (say which)."""
    spectra = read_jcamp_blocks(path, timezone=timezone)
    if len(spectra) > 1:
        raise InputError(path, f"holds {len(spectra)} spectra (a LINK/compound file); split it into one "
                               "file per spectrum or use operando.ir.io.jcamp.read_jcamp_blocks")
    return spectra[0]
