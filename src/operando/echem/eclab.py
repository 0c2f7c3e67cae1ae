"""Potentiostat logs: BioLogic EC-Lab ``.mpt`` (text export) and ``.mpr`` (binary), and plain CSV.

``.mpt`` is read by the project itself. Its header::

    EC-Lab ASCII FILE
    Nb header lines : 81              <- the column-name line is line 81
    Galvanostatic Cycling with Potential Limitation     <- the technique
    ...
    Acquisition started on : 01/10/2024 11:02:29.886    <- MM/DD/YYYY, instrument local time
    ...
    mode<TAB>ox/red<TAB>...<TAB>time/s<TAB>...<TAB>Ewe/V<TAB>...<TAB><I>/mA ...

then tab-separated rows. Depending on the Windows locale the decimal mark is ``.`` or ``,``
(both occur in real files); the text is latin-1 (``µ``, ``²`` in units). Columns are mapped to
``Time [s]`` (``time/s``), ``Voltage [V]`` (``Ewe/V``, ``<Ewe>/V``, ``<Ewe/V>``; ``mV`` scaled)
and ``Current [mA]`` (``I/mA``, ``<I>/mA``; ``A``/``µA`` scaled). ``control/V/mA`` is the set
point, not the measured current, and is never used.

Impedance techniques (GEIS/PEIS: a ``freq/Hz`` column) are refused: their rows are frequency
points of a small-signal measurement around a bias, not a voltage-time profile to align
spectra with; export the cycling technique (GCPL, CP, CV, LSV, OCV, MB ...) instead.

``.mpr`` needs the optional extra ``operando[eclab]`` (galvani, GPL-3.0), imported only when
such a file is read. galvani returns the columns the file stores, and some techniques (GCPL)
store no current column: the ``<I>/mA`` of their ``.mpt`` export is the charge passed since the
previous point over the time since it, ``dq/mA.h * 3600 / dt`` (checked against the export of a
real file: equal to 1e-17 mA). The reader forms the current that way from ``dq/mA.h`` or
``dQ/C`` (``metadata["current_column"]`` says so); a log with neither has ``current_ma = None``
and ``metadata["current_missing"]`` set, which the import reports. A CSV with the columns ``Time [s]``, ``Voltage [V]`` (and optionally
``Current [mA]``) is the potentiostat-neutral alternative, separated by ``,``, ``;`` or tab
(found from the header; with ``;`` or tab a decimal comma works too); its start time may be
given as a comment ``# started_at: 2024-05-01T10:00:00+02:00``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path

import numpy as np

from operando.errors import InputError
from operando.files import localise, read_file_bytes

MPT_MAGIC = "EC-Lab ASCII FILE"
MPR_MAGIC = b"BIO-LOGIC MODULAR FILE"
TIME_COLUMNS = {"time/s": 1.0}
VOLTAGE_COLUMNS = {"Ewe/V": 1.0, "<Ewe>/V": 1.0, "<Ewe/V>": 1.0, "Ewe/mV": 1e-3, "<Ewe>/mV": 1e-3}
# Charge passed since the previous point: differentiated into a current when no current column exists.
CHARGE_STEP_COLUMNS = {"dq/mA.h": 3600.0, "dQ/C": 1e3}  # -> mA when divided by the time step in s
CURRENT_COLUMNS = {"I/mA": 1.0, "<I>/mA": 1.0, "I/A": 1e3, "<I>/A": 1e3, "I/µA": 1e-3, "<I>/µA": 1e-3}
IMPEDANCE_COLUMNS = ("freq/Hz", "Re(Z)/Ohm", "-Im(Z)/Ohm")
START_FORMATS = ("%m/%d/%Y %H:%M:%S.%f", "%m/%d/%Y %H:%M:%S", "%m/%d/%y %H:%M:%S.%f", "%m/%d/%y %H:%M:%S",
                 "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%d.%m.%Y %H:%M:%S.%f", "%d.%m.%Y %H:%M:%S")
OPTIONAL_EXTRA_HINT = ("reading .mpr needs the optional extra: pip install 'operando[eclab]' (galvani, "
                       "GPL-3.0); or export the file as .mpt text in EC-Lab and read that")


@dataclass
class EchemLog:
    """An electrochemistry record. Shapes: ``time_s``, ``voltage_v``, ``current_ma`` (n,).

    ``time_s`` counts seconds from ``started_at`` (timezone-aware, or None if the file has no
    start time) and never decreases.
    """

    time_s: np.ndarray
    voltage_v: np.ndarray
    current_ma: np.ndarray | None
    started_at: datetime | None
    source: Path
    technique: str | None = None
    metadata: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(len(self.time_s))

    @property
    def span_s(self) -> tuple[float, float]:
        return float(self.time_s[0]), float(self.time_s[-1])

    def columns(self) -> dict[str, np.ndarray]:
        """The log under the project's column names ``Time [s]``, ``Voltage [V]``, ``Current [mA]``."""
        table = {"Time [s]": self.time_s, "Voltage [V]": self.voltage_v}
        if self.current_ma is not None:
            table["Current [mA]"] = self.current_ma
        return table


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _pick(columns: list[str], table: dict[str, float]) -> tuple[int, str, float] | None:
    for name, scale in table.items():
        if name in columns:
            return columns.index(name), name, scale
    return None


def _parse_start(text: str) -> datetime | None:
    """EC-Lab writes MM/DD/YYYY (checked against the .mpr dates of real files); a few other forms."""
    text = text.strip()
    for fmt in START_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def _build(path: Path, columns: list[str], rows: list[tuple[int, list[str]]] | dict, started_at,
           technique, metadata, header_line: int | None) -> EchemLog:
    """Map columns, parse the numbers, check them and build the log."""
    if any(c in columns for c in IMPEDANCE_COLUMNS):
        raise InputError(path, f"is an impedance record ({technique or 'GEIS/PEIS'}: a 'freq/Hz' column): its rows "
                               "are frequency points, not a voltage-time profile to align spectra with; export the "
                               "cycling technique (GCPL, CP, CV, LSV, OCV, MB ...) instead", line=header_line)
    time_col = _pick(columns, TIME_COLUMNS)
    volt_col = _pick(columns, VOLTAGE_COLUMNS)
    if time_col is None or volt_col is None:
        if metadata.get("format") == "csv":  # name the columns the way a CSV log must spell them
            wanted = (("time ('Time [s]')", time_col), ("voltage ('Voltage [V]')", volt_col))
            columns = [CSV_NAMES.get(c, c) for c in columns]
            if len(columns) == 1:  # one column: the header is not split by ',', ';' or tab
                raise InputError(path, f"the header {columns[0]!r} is one column: separate 'Time [s]' and "
                                       "'Voltage [V]' (and 'Current [mA]') by ',', ';' or tab", line=header_line)
        else:
            wanted = (("time ('time/s')", time_col), ("voltage ('Ewe/V' or '<Ewe>/V')", volt_col))
        missing = " and ".join(n for n, c in wanted if c is None)
        shown = ", ".join(repr(c) for c in columns[:12]) + (" ..." if len(columns) > 12 else "")
        raise InputError(path, f"no {missing} column; columns are {shown}", line=header_line)
    curr_col = _pick(columns, CURRENT_COLUMNS)
    if isinstance(rows, dict):  # already numeric (from .mpr)
        time_s = np.asarray(rows[time_col[1]], dtype=np.float64) * time_col[2]
        voltage_v = np.asarray(rows[volt_col[1]], dtype=np.float64) * volt_col[2]
        current = None if curr_col is None else np.asarray(rows[curr_col[1]], dtype=np.float64) * curr_col[2]
        lines = None
    else:
        wanted = [time_col, volt_col] + ([curr_col] if curr_col else [])
        decimal = _decimal_mark(rows, [c[0] for c in wanted])
        values = np.empty((len(rows), len(wanted)))
        csv = metadata.get("format") == "csv"
        for r, (number, fields) in enumerate(rows):
            for k, (index, name, scale) in enumerate(wanted):
                shown = CSV_NAMES.get(name, name) if csv else name  # a CSV's columns under its own names
                if index >= len(fields):
                    split = f" (split at {metadata['delimiter']}, the header's delimiter)" if csv else ""
                    raise InputError(path, f"row has {len(fields)} fields{split}, column {shown!r} is number "
                                           f"{index + 1}", line=number)
                values[r, k] = _number(fields[index], decimal, path, number, shown) * scale
        time_s, voltage_v = values[:, 0], values[:, 1]
        current = values[:, 2] if curr_col else None
        lines = [n for n, _ in rows]
    if len(time_s) < 2:
        raise InputError(path, f"needs at least 2 data rows, found {len(time_s)}")
    finite = np.isfinite(time_s) & np.isfinite(voltage_v)
    if not finite.all():
        i = int(np.flatnonzero(~finite)[0])
        raise InputError(path, "non-finite time or voltage", line=lines[i] if lines else None,
                         field=f"row {i + 1}" if not lines else None)
    back = np.flatnonzero(np.diff(time_s) < 0)
    if len(back):
        i = int(back[0]) + 1
        raise InputError(path, f"time goes backwards ({time_s[i - 1]:g} s -> {time_s[i]:g} s)",
                         line=lines[i] if lines else None, field=time_col[1])
    current_name = curr_col[1] if curr_col else None
    if current is None and isinstance(rows, dict):
        charge = _pick(columns, CHARGE_STEP_COLUMNS)
        if charge is not None:
            current = _current_from_charge_steps(time_s, np.asarray(rows[charge[1]], dtype=np.float64) * charge[2],
                                                 path, charge[1])
            current_name = f"{charge[1]} / time step"
    if current is None:
        metadata["current_missing"] = True
    metadata.update(time_column=time_col[1], voltage_column=volt_col[1], current_column=current_name)
    return EchemLog(time_s, voltage_v, current, started_at, path, technique, metadata)


def _current_from_charge_steps(time_s: np.ndarray, charge_step: np.ndarray, path, name: str) -> np.ndarray:
    """Current (mA) from the charge passed since the previous point (mA s) and the time steps (s).

    The first point has no previous one: it takes the next step's duration (EC-Lab writes 0 for
    it, and its charge step is 0 in the files seen). A charge passed in no time is refused.
    """
    if not np.all(np.isfinite(charge_step)):
        i = int(np.flatnonzero(~np.isfinite(charge_step))[0])
        raise InputError(path, "non-finite charge step", field=f"{name}, row {i + 1}")
    dt = np.diff(time_s, prepend=time_s[0] - (time_s[1] - time_s[0]))
    stalled = (dt <= 0) & (charge_step != 0)
    if stalled.any():
        i = int(np.flatnonzero(stalled)[0])
        raise InputError(path, f"charge passed in zero time at t = {time_s[i]:g} s: cannot form a current from it",
                         field=f"{name}, row {i + 1}")
    current = np.zeros_like(charge_step)
    moving = dt > 0
    current[moving] = charge_step[moving] / dt[moving]
    return current


def _decimal_mark(rows, indices: list[int]) -> str:
    """The decimal mark of the first numbers that show one (EC-Lab follows the Windows locale)."""
    for number, fields in rows[:50]:
        for i in indices:
            if i < len(fields):
                if "," in fields[i]:
                    return ","
                if "." in fields[i]:
                    return "."
    return "."


def _number(text: str, decimal: str, path, line: int, name: str) -> float:
    text = text.strip()
    other = "." if decimal == "," else ","
    if other in text:
        raise InputError(path, f"{text!r} uses the decimal mark {other!r} but the file uses {decimal!r}",
                         line=line, field=name)
    try:
        return float(text.replace(",", ".") if decimal == "," else text)
    except ValueError:
        raise InputError(path, f"expected a number (decimal mark {decimal!r}), got {text!r}",
                         line=line, field=name) from None


def read_mpt(path: str | Path, *, timezone: str | tzinfo | None = "UTC") -> EchemLog:
    """Read an EC-Lab ``.mpt`` text export; the naive start time is read in ``timezone``."""
    path = Path(path)
    data = read_file_bytes(path, "an EC-Lab .mpt text export")
    lines = _decode(data).splitlines()
    metadata: dict = {"format": "eclab-mpt"}
    technique, started_at = None, None
    if lines and lines[0].strip() == MPT_MAGIC:
        count = None
        for number, line in enumerate(lines[:5], start=1):
            m = re.match(r"\s*Nb header lines\s*:\s*(\d+)\s*$", line)
            if m:
                count = int(m.group(1))
                break
        if count is None:
            raise InputError(path, "no 'Nb header lines : N' line after 'EC-Lab ASCII FILE'", line=2)
        if not 3 <= count <= len(lines):
            raise InputError(path, f"'Nb header lines : {count}' but the file has {len(lines)} lines (truncated?)",
                             line=2)
        header_line = count
        technique = next((ln.strip() for ln in lines[2:min(count - 1, 6)] if ln.strip()), None)
        for number, line in enumerate(lines[:count - 1], start=1):
            m = re.match(r"\s*Acquisition started on\s*:\s*(.+)$", line)
            if m:
                naive = _parse_start(m.group(1))
                if naive is None:
                    raise InputError(path, f"start time {m.group(1).strip()!r} is not 'MM/DD/YYYY HH:MM:SS.sss'",
                                     line=number)
                started_at = localise(naive, timezone, metadata)
                break
    elif lines and "time/s" in lines[0].split("\t"):
        header_line = 1  # an export without the header block: no start time
    else:
        raise InputError(path, f"not an EC-Lab .mpt text export (first line should be {MPT_MAGIC!r})", line=1)
    columns = [c.strip() for c in lines[header_line - 1].split("\t")]
    while columns and not columns[-1]:
        columns.pop()
    rows = [(n, ln.split("\t")) for n, ln in enumerate(lines[header_line:], start=header_line + 1) if ln.strip()]
    if not rows:
        raise InputError(path, "no data rows after the column names", line=header_line)
    return _build(path, columns, rows, started_at, technique, metadata, header_line)


def read_mpr(path: str | Path, *, timezone: str | tzinfo | None = "UTC") -> EchemLog:
    """Read an EC-Lab ``.mpr`` binary file through the optional galvani package."""
    path = Path(path)
    try:
        from galvani import BioLogic  # GPL-3.0: optional extra, imported only here
    except ImportError:
        raise InputError(path, OPTIONAL_EXTRA_HINT) from None
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        mpr = BioLogic.MPRfile(str(path))
        columns = list(mpr.data.dtype.names or ())
        table = {name: mpr.data[name] for name in columns}
    except Exception as e:  # galvani raises anything from ValueError to struct.error on bad input
        raise InputError(path, f"galvani could not read this .mpr ({type(e).__name__}: {e})") from None
    metadata: dict = {"format": "eclab-mpr"}
    moment = getattr(mpr, "timestamp", None)
    started_at = localise(moment, timezone, metadata) if isinstance(moment, datetime) else None
    return _build(path, columns, table, started_at, None, metadata, None)


# The project's CSV log columns and the EC-Lab names the column mapping knows.
ECLAB_NAMES = {"Time [s]": "time/s", "Voltage [V]": "Ewe/V", "Current [mA]": "I/mA"}
CSV_NAMES = {v: k for k, v in ECLAB_NAMES.items()}


def read_echem_csv(path: str | Path, *, timezone: str | tzinfo | None = "UTC") -> EchemLog:
    """Read a CSV log with columns ``Time [s]``, ``Voltage [V]`` [, ``Current [mA]``]."""
    path = Path(path)
    text = _decode(read_file_bytes(path))
    metadata: dict = {"format": "csv"}
    started_at, header, rows, delimiter = None, None, [], ","
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            m = re.match(r"#\s*started_at\s*[:=]\s*(.+)$", stripped)
            if m:
                try:
                    started_at = localise(datetime.fromisoformat(m.group(1).strip()), timezone, metadata)
                except ValueError:
                    raise InputError(path, f"started_at {m.group(1).strip()!r} is not ISO 8601", line=number) from None
            continue
        if header is None:
            delimiter = csv_delimiter(stripped)
            header = (number, [f.strip().strip('"') for f in stripped.split(delimiter)])
        else:
            rows.append((number, [f.strip().strip('"') for f in stripped.split(delimiter)]))
    if header is None:
        raise InputError(path, "empty file")
    columns = [ECLAB_NAMES.get(c, c) for c in header[1]]
    if not rows:
        raise InputError(path, "no data rows after the header", line=header[0])
    metadata["delimiter"] = _DELIMITER_NAMES[delimiter]
    width = len(header[1])
    for number, fields in rows:
        if len(fields) != width:
            line = text.splitlines()[number - 1]
            other = next((d for d in CSV_DELIMITERS if d != delimiter and len(line.split(d)) == width), None)
            if other is not None:
                raise InputError(path, f"the header separates its columns with {_DELIMITER_NAMES[delimiter]} but "
                                       f"this row with {_DELIMITER_NAMES[other]}: use one delimiter throughout",
                                 line=number)
            break  # a row of another width: _build names the column it lacks
    return _build(path, columns, rows, started_at, None, metadata, header[0])


CSV_DELIMITERS = (",", ";", "\t")
_DELIMITER_NAMES = {",": "','", ";": "';'", "\t": "tab"}


def csv_delimiter(header: str) -> str:
    """The delimiter of a CSV log, from its header line: the one of ',', ';', tab that splits it
    into the most columns (',' when none does); the rows must then use it too."""
    counts = {d: len(header.split(d)) for d in CSV_DELIMITERS}
    best = max(CSV_DELIMITERS, key=lambda d: counts[d])  # ties keep the order of CSV_DELIMITERS
    return best if counts[best] > 1 else ","


def read_echem(path: str | Path, *, timezone: str | tzinfo | None = "UTC") -> EchemLog:
    """Read a potentiostat log: ``.mpt``, ``.mpr`` or CSV, by extension or content."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError as e:
        raise InputError(path, f"cannot read file ({e.strerror or e})") from None
    suffix = path.suffix.lower()
    if suffix == ".mpr" or head.startswith(MPR_MAGIC):
        return read_mpr(path, timezone=timezone)
    if suffix == ".mpt" or head.startswith(MPT_MAGIC.encode()):
        return read_mpt(path, timezone=timezone)
    if suffix in (".csv", ".txt"):
        return read_echem_csv(path, timezone=timezone)
    raise InputError(path, "unknown electrochemistry format: expected an EC-Lab .mpt/.mpr or a CSV with "
                           "'Time [s]' and 'Voltage [V]' columns")
