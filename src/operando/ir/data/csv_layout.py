"""The user-facing folder layout: one folder per experiment, ``spectra.csv`` + ``experiment.json``.

``spectra.csv`` (comma-separated, UTF-8, one row per spectrum, in time order)::

    Time [s],Voltage [V],Current [mA],2000.0,1998.0,...,800.0
    0.0,3.05,-0.1,0.0123,0.0131,...,0.2011
    60.0,3.01,-0.1,0.0124,0.0130,...,0.2013

``Time [s]`` and ``Voltage [V]`` are required, ``Current [mA]`` is optional; every other
column header is a wavenumber in cm-1 and its column holds absorbance. Wavenumber columns
may come in ascending or descending order (instruments write both); they are stored
ascending. Times must strictly increase. ``experiment.json`` is described in
:mod:`operando.ir.data.experiment`. A dataset folder may hold an optional ``dataset.json``
(``{"simulated": bool, "description": str}``), which :func:`export_dataset` writes.

Every malformed input raises one :class:`~operando.errors.InputError` that names the file,
the line as an editor shows it (the header is line 1) or the field, and what was expected.
Layout and messages are documented in docs/ir/data.md.
"""
from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path

import numpy as np

from operando.atomic import atomic_path
from operando.errors import InputError
from operando.ir.data.dataset import OperandoDataset
from operando.ir.data.experiment import Experiment, ExperimentMeta

SPECTRA_FILE = "spectra.csv"
META_FILE = "experiment.json"
DATASET_FILE = "dataset.json"
TIME_COLUMN = "Time [s]"
VOLTAGE_COLUMN = "Voltage [V]"
CURRENT_COLUMN = "Current [mA]"
LABELLED_COLUMNS = (TIME_COLUMN, VOLTAGE_COLUMN, CURRENT_COLUMN)
MIN_WAVENUMBERS = 2


# --------------------------------------------------------------------------- reading

def _parse_wavenumber_header(text: str, path: Path, column: int, line: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(
            path, f"column {column} header {text!r} is neither a wavenumber in cm-1 (a number such as "
            f"1234.5) nor one of {list(LABELLED_COLUMNS)}", line=line) from None
    if not math.isfinite(value) or value <= 0:
        raise InputError(path, f"column {column} header {text!r}: expected a positive finite wavenumber "
                         "in cm-1", line=line)
    return value


def _read_header(header: list[str], path: Path, line: int):
    """Return (index of each labelled column present, wavenumber column indices, wavenumbers)."""
    names = [h.strip() for h in header]
    if len(names) == 1 and ";" in names[0]:
        raise InputError(path, "the header has a single column containing ';': expected comma-separated "
                         "values (save the file as CSV with ',' as the separator)", line=line)
    labelled: dict[str, int] = {}
    wave_columns: list[int] = []
    wavenumbers: list[float] = []
    first_column_of: dict[float, int] = {}
    for i, name in enumerate(names):
        if name in LABELLED_COLUMNS:
            if name in labelled:
                raise InputError(path, f"column {name!r} appears twice (columns {labelled[name] + 1} and "
                                 f"{i + 1})", line=line)
            labelled[name] = i
            continue
        if name == "":
            raise InputError(path, f"column {i + 1} has an empty header: expected a wavenumber in cm-1 "
                             f"or one of {list(LABELLED_COLUMNS)}", line=line)
        value = _parse_wavenumber_header(name, path, i + 1, line)
        if value in first_column_of:
            raise InputError(path, f"wavenumber {value:g} cm-1 appears twice (columns "
                             f"{first_column_of[value] + 1} and {i + 1}): expected each wavenumber once",
                             line=line)
        first_column_of[value] = i
        wave_columns.append(i)
        wavenumbers.append(value)
    for required in (TIME_COLUMN, VOLTAGE_COLUMN):
        if required not in labelled:
            raise InputError(path, f"missing column {required!r}: the header must contain "
                             f"{TIME_COLUMN!r}, {VOLTAGE_COLUMN!r}, optionally {CURRENT_COLUMN!r}, and one "
                             "column per wavenumber (cm-1)", line=line)
    if len(wave_columns) < MIN_WAVENUMBERS:
        raise InputError(path, f"found {len(wave_columns)} wavenumber columns, expected at least "
                         f"{MIN_WAVENUMBERS} (headers that are wavenumbers in cm-1, holding absorbance)",
                         line=line)
    return labelled, np.asarray(wave_columns), np.asarray(wavenumbers, dtype=np.float64), names


def _parse_row_slowly(row: list[str], names: list[str], path: Path, line: int) -> np.ndarray:
    """Parse ``row`` cell by cell, raising an InputError at the first cell that is not a finite number."""
    values = []
    for cell, name in zip(row, names):
        text = cell.strip()
        if text == "":
            raise InputError(path, "empty cell: expected a number", line=line, field=name)
        try:
            value = float(text)
        except ValueError:
            raise InputError(path, f"{text!r} is not a number", line=line, field=name) from None
        if not math.isfinite(value):
            raise InputError(path, f"{text!r}: expected a finite number (NaN and infinity are not "
                             "allowed)", line=line, field=name)
        values.append(value)
    return np.asarray(values, dtype=np.float64)


def _parse_table(text: str, path: Path):
    """Parse the CSV text: ((labelled columns, wavenumber column indices, wavenumbers),
    table (n_rows, n_columns) float64, line number of each row as an editor shows it)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return _parse_rows(reader, path)
    except csv.Error as e:
        raise InputError(path, f"not valid CSV ({e})", line=reader.line_num) from None


def _parse_rows(reader, path: Path):
    """Body of :func:`_parse_table` (``reader`` is a csv.reader, so ``line_num`` counts lines)."""
    header: list[str] = []
    for header in reader:
        if any(cell.strip() for cell in header):
            break  # the first non-blank line is the header
    header_line = reader.line_num
    labelled, wave_columns, wavenumbers, names = _read_header(header, path, header_line)
    n_columns = len(names)
    rows: list[np.ndarray] = []
    lines: list[int] = []
    for row in reader:
        if not any(cell.strip() for cell in row) and len(row) <= 1:
            continue  # blank line (e.g. a trailing one)
        line = reader.line_num
        if len(row) != n_columns:
            raise InputError(path, f"row has {len(row)} cells, expected {n_columns} (one per header column)",
                             line=line)
        try:
            values = np.array(row, dtype=np.float64)  # fast path; the slow one explains failures
        except ValueError:
            values = _parse_row_slowly(row, names, path, line)
        if not np.all(np.isfinite(values)):
            _parse_row_slowly(row, names, path, line)
        rows.append(values)
        lines.append(line)
    if not rows:
        raise InputError(path, "the file has a header but no data rows: expected one row per spectrum")
    return (labelled, wave_columns, wavenumbers), np.stack(rows), lines


def _read_spectra_csv(path: Path):
    """Parse ``spectra.csv``; return (time_s, voltage_v, current_ma | None, wavenumber_cm1, absorbance).

    Wavenumbers come back ascending with the absorbance columns reordered to match.
    """
    if not path.is_file():
        raise InputError(path, f"file not found: expected {SPECTRA_FILE} with columns {TIME_COLUMN!r}, "
                         f"{VOLTAGE_COLUMN!r} and one column per wavenumber")
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: tolerate the BOM spreadsheet programs add
    except UnicodeDecodeError as e:
        raise InputError(path, f"not UTF-8 text ({e.reason} at byte {e.start})") from None
    if not text.strip():
        raise InputError(path, "file is empty: expected a header line "
                         f"'{TIME_COLUMN},{VOLTAGE_COLUMN},<wavenumbers...>' and one row per spectrum")
    (labelled, wave_columns, wavenumbers), table, lines = _parse_table(text, path)
    time_s = table[:, labelled[TIME_COLUMN]]
    steps = np.diff(time_s)
    if np.any(steps <= 0):
        k = int(np.argmax(steps <= 0)) + 1
        raise InputError(path, f"time {time_s[k]:g} s is not after the previous row's {time_s[k - 1]:g} s "
                         f"(line {lines[k - 1]}): times must strictly increase", line=lines[k],
                         field=TIME_COLUMN)
    voltage_v = table[:, labelled[VOLTAGE_COLUMN]]
    current_ma = table[:, labelled[CURRENT_COLUMN]] if CURRENT_COLUMN in labelled else None
    order = np.argsort(wavenumbers, kind="stable")
    return time_s, voltage_v, current_ma, wavenumbers[order], table[:, wave_columns[order]]


def read_experiment_folder(folder: str | Path) -> Experiment:
    """Read one experiment folder (``spectra.csv`` + ``experiment.json``); raise InputError if malformed."""
    folder = Path(folder)
    meta_path = folder / META_FILE
    if not meta_path.is_file():
        raise InputError(meta_path, f"file not found: every experiment folder needs {META_FILE} (cell and "
                         f"electrolyte metadata, see docs/ir/data.md) next to {SPECTRA_FILE}")
    meta = ExperimentMeta.from_json_file(meta_path)
    time_s, voltage_v, current_ma, wavenumber_cm1, absorbance = _read_spectra_csv(folder / SPECTRA_FILE)
    return Experiment(meta=meta, time_s=time_s, voltage_v=voltage_v, wavenumber_cm1=wavenumber_cm1,
                      absorbance=absorbance, current_ma=current_ma)


def _is_hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _read_dataset_info(root: Path) -> tuple[bool, str]:
    path = root / DATASET_FILE
    if not path.is_file():
        return False, ""
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise InputError(path, f"not UTF-8 text ({e.reason})") from None
    except json.JSONDecodeError as e:
        raise InputError(path, f"invalid JSON: {e.msg}", line=e.lineno) from None
    if not isinstance(d, dict):
        raise InputError(path, f"expected a JSON object, got {type(d).__name__}", field="<root>")
    simulated, description = d.get("simulated", False), d.get("description", "")
    if not isinstance(simulated, bool):
        raise InputError(path, f"expected true or false, got {simulated!r}", field="simulated")
    if not isinstance(description, str):
        raise InputError(path, f"expected a string, got {description!r}", field="description")
    return simulated, description


def import_folder(root: str | Path) -> OperandoDataset:
    """Read every experiment folder under ``root`` (folders holding ``spectra.csv``, searched
    recursively, hidden folders skipped) into a dataset, ordered by folder path.

    ``root`` itself may be a single experiment folder. Experiment names come from
    ``experiment.json``; two folders with the same name are an error naming both.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "not a folder: expected a folder holding one sub-folder per experiment "
                         f"({SPECTRA_FILE} + {META_FILE})")
    folders = sorted({p.parent for p in root.rglob(SPECTRA_FILE) if not _is_hidden(p, root)},
                     key=lambda p: p.relative_to(root).parts)
    orphans = sorted(p for p in root.rglob(META_FILE)
                     if not _is_hidden(p, root) and p.parent not in folders)
    if orphans:
        raise InputError(orphans[0].parent / SPECTRA_FILE, f"file not found: {orphans[0]} has no "
                         f"{SPECTRA_FILE} beside it")
    if not folders:
        raise InputError(root, f"no experiment found: expected sub-folders each holding {SPECTRA_FILE} "
                         f"and {META_FILE} (see docs/ir/data.md)")
    experiments: list[Experiment] = []
    folder_of: dict[str, Path] = {}
    for folder in folders:
        e = read_experiment_folder(folder)
        if e.name in folder_of:
            raise InputError(folder / META_FILE, f"experiment name {e.name!r} is already used by "
                             f"{folder_of[e.name] / META_FILE}: names must be unique", field="name")
        folder_of[e.name] = folder
        experiments.append(e)
    simulated, description = _read_dataset_info(root)
    return OperandoDataset(experiments, simulated=simulated, description=description)


# --------------------------------------------------------------------------- writing

def _shortest_text(values: np.ndarray) -> np.ndarray:
    """Shortest decimal text of each value that reads back as the identical number *in the
    array's own dtype* (numpy's Dragon4 "unique" repr): float64 stays exact, float32 values
    come out short (``0.612``, not ``0.611999989``) yet return bit for bit after the float32 cast."""
    values = np.asarray(values)
    if values.dtype not in (np.float32, np.float64):
        values = values.astype(np.float64)
    return values.astype(str)


def spectra_csv_text(experiment: Experiment) -> str:
    """The ``spectra.csv`` text of one experiment (wavenumbers ascending, as stored).

    Every number is written with the shortest text that reproduces it exactly in its own
    precision: time, voltage, current and wavenumbers as float64, absorbance as stored
    (float32 after an HDF5 round trip), so import -> export -> import is exact.
    """
    e = experiment
    header = [TIME_COLUMN, VOLTAGE_COLUMN] + ([CURRENT_COLUMN] if e.current_ma is not None else [])
    header += _shortest_text(np.asarray(e.wavenumber_cm1, dtype=np.float64)).tolist()
    labelled = [e.time_s, e.voltage_v] + ([e.current_ma] if e.current_ma is not None else [])
    table = np.column_stack([_shortest_text(np.asarray(c, dtype=np.float64)) for c in labelled]
                            + [_shortest_text(e.absorbance)])
    lines = [",".join(header)] + [",".join(row) for row in table.tolist()]
    return "\n".join(lines) + "\n"


def write_experiment_folder(experiment: Experiment, folder: str | Path) -> Path:
    """Write ``spectra.csv`` and ``experiment.json`` of one experiment into ``folder``.

    Ground truth of simulated data is not part of the layout and is not written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / SPECTRA_FILE) as tmp:
        tmp.write_text(spectra_csv_text(experiment), encoding="utf-8")
    with atomic_path(folder / META_FILE) as tmp:
        tmp.write_text(experiment.meta.to_json() + "\n", encoding="utf-8")
    return folder


def _folder_names(names: list[str]) -> list[str]:
    """File-system-safe, unique folder names for experiment names."""
    out: list[str] = []
    used: set[str] = set()
    for name in names:
        base = re.sub(r"[^A-Za-z0-9._+-]+", "_", name).strip("._") or "experiment"
        candidate, k = base, 2
        while candidate.lower() in used:  # lower(): case-insensitive file systems
            candidate, k = f"{base}_{k}", k + 1
        used.add(candidate.lower())
        out.append(candidate)
    return out


def _looks_like_export(folder: Path) -> bool:
    return (folder / DATASET_FILE).is_file()


def export_dataset(dataset: OperandoDataset, root: str | Path) -> Path:
    """Write ``dataset`` as a folder tree (one sub-folder per experiment plus ``dataset.json``).

    The tree is written under a temporary name and moved into place only when complete. An
    existing ``root`` is replaced whole if it is an earlier export (has ``dataset.json``) or
    empty; any other existing folder is refused so that no unrelated files are deleted.
    """
    root = Path(root)
    if root.exists():
        if not root.is_dir():
            raise InputError(root, "exists and is not a folder: expected a new or empty output folder")
        if any(root.iterdir()) and not _looks_like_export(root):
            raise InputError(root, f"folder is not empty and holds no {DATASET_FILE} from an earlier "
                             "export: refusing to replace it; choose a new output folder")
    with atomic_path(root, directory=True) as tmp:
        info = {"simulated": bool(dataset.simulated), "description": dataset.description,
                "experiments": len(dataset), "spectra": dataset.n_spectra}
        (tmp / DATASET_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        for e, name in zip(dataset, _folder_names(dataset.names)):
            write_experiment_folder(e, tmp / name)
    return root
