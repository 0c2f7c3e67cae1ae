"""Minimal writers of instrument formats, used by the reader tests to make fixtures they control.

* :func:`write_opus` -- a Bruker OPUS file with the blocks a reader needs (directory, data
  blocks with their data-status parameter blocks), in the layout documented in
  :mod:`operando.ir.io.opus`.
* :func:`write_jcamp` -- a JCAMP-DX 4.24 ``(X++(Y..Y))`` file in AFFN, PAC, SQZ, DIF or DIFDUP form,
  with the DIF Y-check.
* :func:`write_mpt` -- an EC-Lab ``.mpt`` text export (header block + tab-separated rows).
"""
from __future__ import annotations

import struct
from datetime import datetime
from pathlib import Path

import numpy as np

# Type codes (see operando.ir.io.opus): data block, its data-status parameter block is code | 0x10.
OPUS_CODES = {"AB": 0x100F, "ScSm": 0x0407, "ScRf": 0x040B, "TR": 0x140F, "IgSm": 0x0807}
DIRECTORY_CODE = 0x3400


def opus_params(params: dict) -> bytes:
    """Encode a parameter block: KEY\\0, int16 type, int16 size in words, value; then END."""
    out = b""
    for key, value in params.items():
        name = key.encode("ascii")[:3].ljust(3, b"_") + b"\0"
        if isinstance(value, int):
            out += name + struct.pack("<hh", 0, 2) + struct.pack("<i", value)
        elif isinstance(value, float):
            out += name + struct.pack("<hh", 1, 4) + struct.pack("<d", value)
        else:
            raw = value.encode("latin-1") + b"\0"
            raw += b"\0" * (len(raw) % 2)
            out += name + struct.pack("<hh", 2, len(raw) // 2) + raw
    return out + b"END\0" + struct.pack("<hh", 0, 0)


def opus_time(when: datetime) -> tuple[str, str]:
    """DAT / TIM strings as OPUS writes them: ``dd/mm/yyyy`` and ``HH:MM:SS.fff (GMT+h)``."""
    offset_h = int(when.utcoffset().total_seconds() // 3600) if when.utcoffset() is not None else None
    zone = "" if offset_h is None else f" (GMT{offset_h:+d})"
    return when.strftime("%d/%m/%Y"), when.strftime("%H:%M:%S.") + f"{when.microsecond // 1000:03d}" + zone


def write_opus(path: Path, channels: dict[str, tuple[np.ndarray, np.ndarray]], when: datetime | None = None,
               extra_values: int = 0) -> Path:
    """Write an OPUS file holding ``channels``: name ("AB", "ScSm", "ScRf", "TR") -> (x (n,), y (n,)).

    x is written as FXV/LXV/NPT (so it must be evenly spaced, any direction); each data block
    carries ``extra_values`` trailing values beyond NPT, as real files do.
    """
    blocks: list[tuple[int, bytes]] = []
    for name, (x, y) in channels.items():
        params = {"DPF": 1, "NPT": len(y), "FXV": float(x[0]), "LXV": float(x[-1]), "CSF": 1.0,
                  "MXY": float(np.max(y)), "MNY": float(np.min(y)), "DXU": "WN"}
        if when is not None:
            params["DAT"], params["TIM"] = opus_time(when)
        values = np.concatenate([np.asarray(y, dtype="<f4"), np.zeros(extra_values, dtype="<f4")])
        blocks.append((OPUS_CODES[name], values.tobytes()))
        blocks.append((OPUS_CODES[name] | 0x10, opus_params(params)))
    n = len(blocks) + 1
    directory_offset = 24
    offset = directory_offset + 12 * n
    entries, body = [(DIRECTORY_CODE, 12 * n, directory_offset)], b""
    for code, payload in blocks:
        payload += b"\0" * (-len(payload) % 4)
        entries.append((code, len(payload), offset + len(body)))
        body += payload
    header = b"\x0a\x0a\xfe\xfe" + struct.pack("<diii", 920622.0, directory_offset, n, n)
    directory = b"".join(struct.pack("<iii", code, size // 4, start) for code, size, start in entries)
    path.write_bytes(header + directory + body)
    return path


# ------------------------------------------------------------------------------ JCAMP-DX

_SQZ_POS, _SQZ_NEG = "@ABCDEFGHI", "@abcdefghi"
_DIF_POS, _DIF_NEG = "%JKLMNOPQR", "%jklmnopqr"
_DUP = "_STUVWXYZs"


def _compress(value: int, positive: str, negative: str) -> str:
    digits = str(abs(value))
    table = negative if value < 0 else positive
    return table[int(digits[0])] + digits[1:]


def _dup(count: int) -> str:
    digits = str(count)
    return _DUP[int(digits[0])] + digits[1:]


def encode_line(values: list[int], form: str, check: bool = False) -> str:
    """Encode the ordinates of one line (the first may be a Y-check value)."""
    if form == "AFFN":
        return "".join(f" {v}" for v in values)
    if form == "PAC":
        return "".join(f"{'+' if v >= 0 else '-'}{abs(v)}" for v in values)
    if form == "SQZ":
        return "".join(_compress(v, _SQZ_POS, _SQZ_NEG) for v in values)
    tokens = [_compress(values[0], _SQZ_POS, _SQZ_NEG)]
    tokens += [_compress(b - a, _DIF_POS, _DIF_NEG) for a, b in zip(values, values[1:])]
    if form == "DIF":
        return "".join(tokens)
    # DIFDUP: runs of an identical token collapse to token + DUP count.
    out, i = [], 0
    while i < len(tokens):
        j = i
        while j + 1 < len(tokens) and tokens[j + 1] == tokens[i] and i > 0:
            j += 1
        out.append(tokens[i] + (_dup(j - i + 1) if j > i else ""))
        i = j + 1
    return "".join(out)


def write_jcamp(path: Path, x: np.ndarray, y: np.ndarray, form: str = "AFFN", *, y_factor: float = 1e-5,
                per_line: int = 10, y_units: str = "ABSORBANCE", long_date: str | None = None,
                extra_labels: dict | None = None) -> tuple[Path, np.ndarray]:
    """Write x (n,) evenly spaced, y (n,) as ``(X++(Y..Y))`` in ``form``; return the path and the
    y values the file represents exactly (y rounded to ``y_factor``)."""
    ints = np.round(np.asarray(y) / y_factor).astype(np.int64)
    n = len(ints)
    delta = (x[-1] - x[0]) / (n - 1)
    labels = {"TITLE": "test spectrum", "JCAMP-DX": "4.24", "DATA TYPE": "INFRARED SPECTRUM",
              "XUNITS": "1/CM", "YUNITS": y_units, "XFACTOR": "1.0", "YFACTOR": repr(y_factor),
              "FIRSTX": repr(float(x[0])), "LASTX": repr(float(x[-1])), "DELTAX": repr(float(delta)),
              "NPOINTS": str(n), "FIRSTY": repr(float(ints[0] * y_factor))}
    if long_date:
        labels["LONGDATE"] = long_date
    labels.update(extra_labels or {})
    lines = [f"##{k}= {v}" for k, v in labels.items()] + ["##XYDATA= (X++(Y..Y))"]
    dif = form in ("DIF", "DIFDUP")
    start = 0
    while start < n:
        stop = min(start + per_line, n)
        if dif and start > 0:  # Y-check: repeat the previous line's last ordinate first
            index, values = start - 1, [int(v) for v in ints[start - 1:stop]]
        else:
            index, values = start, [int(v) for v in ints[start:stop]]
        lines.append(f"{x[0] + index * delta:.6f}" + encode_line(values, form))
        start = stop
    lines.append("##END=")
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path, ints * y_factor


# ------------------------------------------------------------------------------ EC-Lab

def _ec(value: float, digits: int) -> str:
    """EC-Lab number style: ``3.4228721E+000`` (three-digit exponent)."""
    mantissa, exponent = f"{value:.{digits}E}".split("E")
    return f"{mantissa}E{int(exponent):+04d}"


def write_mpt(path: Path, time_s, voltage_v, current_ma=None, started: str = "03/27/2019 14:45:12.345",
              decimal: str = ".") -> Path:
    """An EC-Lab .mpt export with the usual header block and columns."""
    columns = ["mode", "ox/red", "time/s", "control/V/mA", "Ewe/V"] + (["I/mA"] if current_ma is not None else [])
    header = ["EC-Lab ASCII FILE", "Nb header lines : XX", "", "Galvanostatic Cycling with Potential Limitation",
              "", "Run on channel : 1 (SN 1)", f"Acquisition started on : {started}",
              "Electrode surface area : 0,001 cm\u00b2", ""]
    count = len(header) + 1
    header[1] = f"Nb header lines : {count}                          "
    rows = []
    for i, (t, v) in enumerate(zip(time_s, voltage_v)):
        fields = ["1", "0", _ec(t, 15), "1.0000000E-001", _ec(v, 7)]
        if current_ma is not None:
            fields.append(_ec(current_ma[i], 7))
        line = "\t".join(fields) + "\t"
        rows.append(line.replace(".", ",") if decimal == "," else line)
    text = "\n".join(header + ["\t".join(columns) + "\t"] + rows) + "\n"
    path.write_bytes(text.encode("latin-1"))
    return path
