"""Bruker OPUS binary spectra (``*.0``, ``*.1``, ``*.001`` ...), read by the project's own parser.

File layout (little-endian), as far as a reader needs it:

* Header, 24 bytes: magic ``0A 0A FE FE``, program version (float64), byte offset of the
  directory (int32), directory capacity (int32), number of directory entries (int32).
* Directory: one 12-byte entry per block: type code (int32), length in 4-byte words (int32),
  byte offset (int32). The type code is a bit field: bits 0-1 complex part (3 = amplitude),
  bits 2-3 channel (1 sample, 2 reference, 3 ratio), bits 4-9 parameter class (0 = data,
  1 = data status parameters, 2-11 instrument/acquisition/FT/optics... parameters), bits 10-16
  data type (1 single channel, 2 interferogram, 4 absorbance, 5 transmittance, 12 reflectance,
  13 directory ...), bits 17-18 derivative, bits 19-21 extended (5 = history/report ...).
  Bit 30 is set by recent OPUS versions on the blocks written at measurement time.
  Every block the directory lists must lie inside the file: a file that ends before the end
  of any block is refused as truncated, even when the block read would be intact.
* Data blocks: float32 values (``DPF`` = 1; int32 when ``DPF`` = 2).
* Parameter blocks: repeated ``KEY\\0`` (3 characters + NUL), int16 type (0 int32,
  1 float64, 2-4 text), int16 length in 2-byte words, value; terminated by ``END``.
  The data status block paired with each data block (same type code with parameter class 1)
  holds ``NPT`` (points), ``FXV``/``LXV`` (first/last x), ``DXU`` (x unit, ``WN`` = cm-1),
  ``CSF`` (y scale), ``MXY``/``MNY``, ``DAT`` (``dd/mm/yyyy``) and ``TIM``
  (``HH:MM:SS.sss (GMT+1)``).

The absorbance block ``AB`` is read; when a file has several (OPUS keeps the raw ratio and
adds e.g. an atmosphere-compensated copy), the last one written is used. A file without
``AB`` falls back to its single channels: ``A = -log10(ScSm / ScRf)`` with the reference put
on the sample's axis; a transmittance block is returned as transmittance. Anything else is an
:class:`~operando.errors.InputError` naming the file and the problem.

Written from the format as observed in real files and documented by the MIT-licensed
``brukeropus`` package (J. Duran); no code is taken from it.
"""
from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path

import numpy as np

from operando.errors import InputError
from operando.files import localise, parse_utc_offset, read_file_bytes
from operando.ir.io.spectrum import Spectrum, finish_spectrum

OPUS_MAGIC = b"\x0a\x0a\xfe\xfe"
HEADER_BYTES = 24
ENTRY_BYTES = 12

CHANNEL_SAMPLE, CHANNEL_REFERENCE, CHANNEL_RATIO = 1, 2, 3
PARAM_DATA, PARAM_DATA_STATUS = 0, 1
DATA_SINGLE_CHANNEL, DATA_INTERFEROGRAM, DATA_PHASE = 1, 2, 3
DATA_ABSORBANCE, DATA_TRANSMITTANCE, DATA_REFLECTANCE = 4, 5, 12

_DATA_NAMES = {1: "Sc", 2: "Ig", 3: "Ph", 4: "AB", 5: "TR", 6: "KM", 7: "Trace", 12: "Refl", 13: "Dir",
               15: "LogRefl", 16: "ATR", 17: "PAS"}
_CHANNEL_NAMES = {1: "Sm", 2: "Rf"}
_KEY = re.compile(rb"^[A-Z0-9][A-Z0-9_]{2}$")


def is_opus(head: bytes) -> bool:
    """True if ``head`` (the first bytes of a file) starts with the OPUS magic number."""
    return head[:4] == OPUS_MAGIC


@dataclass(frozen=True)
class OpusBlock:
    """One directory entry: where a block lies and what its type code says."""

    index: int
    type_code: int
    offset: int
    size: int  # bytes

    @property
    def channel(self) -> int:
        return (self.type_code >> 2) & 0x3

    @property
    def param_class(self) -> int:
        return (self.type_code >> 4) & 0x3F

    @property
    def data_type(self) -> int:
        return (self.type_code >> 10) & 0x7F

    @property
    def is_plain(self) -> bool:
        """No derivative, no extended (report/peak/history) bits; bit 30 is allowed."""
        return ((self.type_code >> 17) & 0x1F) == 0 and ((self.type_code >> 22) & ~0x100) == 0

    @property
    def name(self) -> str:
        base = _DATA_NAMES.get(self.data_type, f"type{self.data_type}")
        if self.data_type in (DATA_SINGLE_CHANNEL, DATA_INTERFEROGRAM, DATA_PHASE):
            base += _CHANNEL_NAMES.get(self.channel, "")
        if self.param_class == PARAM_DATA_STATUS:
            base += " data parameters"
        return base


@dataclass
class OpusData:
    """A data block with its status parameters: values (n,) on the axis ``FXV..LXV``."""

    block: OpusBlock
    params: dict
    values: np.ndarray

    @property
    def axis(self) -> np.ndarray:
        return np.linspace(float(self.params["FXV"]), float(self.params["LXV"]), len(self.values))


def _fail(path, problem: str) -> InputError:
    return InputError(path, f"not a readable OPUS file: {problem}")


def read_directory(data: bytes, path) -> list[OpusBlock]:
    """Parse header and directory of an OPUS file held in ``data``; raise InputError if corrupt."""
    if len(data) < HEADER_BYTES:
        raise _fail(path, f"file has {len(data)} bytes, shorter than the 24-byte header (truncated)")
    if not is_opus(data):
        raise _fail(path, f"wrong magic number {data[:4].hex()} (expected 0a0afefe)")
    dir_offset, capacity, n_blocks = struct.unpack_from("<iii", data, 12)
    if dir_offset < HEADER_BYTES or n_blocks <= 0 or n_blocks > max(capacity, 0):
        raise _fail(path, f"corrupt header (directory at byte {dir_offset}, {n_blocks} entries of "
                          f"{capacity})")
    end = dir_offset + ENTRY_BYTES * n_blocks
    if end > len(data):
        raise _fail(path, f"truncated: the directory needs bytes {dir_offset}-{end} but the file ends "
                          f"at {len(data)}")
    blocks = []
    for i in range(n_blocks):
        code, words, offset = struct.unpack_from("<iii", data, dir_offset + ENTRY_BYTES * i)
        if offset <= 0 or words < 0:
            continue  # unused entry
        blocks.append(OpusBlock(i, code & 0xFFFFFFFF, offset, words * 4))
    # A file cut short loses the blocks written last (often processed copies or history), and the
    # blocks still read look whole: refuse the file if any block the directory lists is cut.
    for block in blocks:
        if block.offset + block.size > len(data):
            raise _fail(path, f"truncated: block {block.name} (entry {block.index}) needs bytes "
                              f"{block.offset}-{block.offset + block.size} but the file ends at {len(data)}")
    return blocks


def read_parameters(data: bytes, block: OpusBlock, path) -> dict:
    """Decode a parameter block into ``{KEY: int | float | str}``."""
    chunk = _block_bytes(data, block, path)
    params: dict = {}
    pos = 0
    while pos + 8 <= len(chunk):
        key = chunk[pos:pos + 3]
        if key == b"END":
            return params
        if not _KEY.match(key) or chunk[pos + 3] != 0:
            raise _fail(path, f"corrupt parameter block {block.name} (entry {block.index}): unreadable "
                              f"key {key!r} at byte {block.offset + pos}")
        kind, words = struct.unpack_from("<hh", chunk, pos + 4)
        size = 2 * words
        start, pos = pos + 8, pos + 8 + size
        if words < 0 or pos > len(chunk):
            raise _fail(path, f"truncated parameter {key.decode()} in block {block.name}")
        raw = chunk[start:pos]
        if kind == 0 and size >= 4:
            value = struct.unpack_from("<i", raw)[0]
        elif kind == 1 and size >= 8:
            value = struct.unpack_from("<d", raw)[0]
        elif kind in (2, 3, 4):
            value = raw.split(b"\0", 1)[0].decode("latin-1")
        else:
            raise _fail(path, f"parameter {key.decode()} has unknown type {kind} / size {size}")
        params[key.decode()] = value
    return params  # no END marker: keep what was read


def _block_bytes(data: bytes, block: OpusBlock, path) -> bytes:
    if block.offset + block.size > len(data):
        raise _fail(path, f"truncated: block {block.name} (entry {block.index}) needs bytes "
                          f"{block.offset}-{block.offset + block.size} but the file ends at {len(data)}")
    return data[block.offset:block.offset + block.size]


def read_data_blocks(data: bytes, blocks: list[OpusBlock], path) -> list[OpusData]:
    """Pair each plain data block with its status-parameter block and decode both."""
    by_code: dict[int, list[OpusBlock]] = {}
    for block in blocks:
        by_code.setdefault(block.type_code, []).append(block)
    out = []
    for code, group in by_code.items():
        first = group[0]
        if first.param_class != PARAM_DATA or not first.is_plain or first.data_type in (0, 13):
            continue
        # The n-th data block of a type goes with the n-th status block of that type.
        statuses = by_code.get(code | (PARAM_DATA_STATUS << 4), [])
        for block, status in zip(group, statuses):  # a data block without parameters has no axis: skipped
            params = read_parameters(data, status, path)
            out.append(OpusData(block, params, _decode_values(data, block, params, path)))
    out.sort(key=lambda item: item.block.index)
    return out


def _decode_values(data: bytes, block: OpusBlock, params: dict, path) -> np.ndarray:
    missing = [k for k in ("NPT", "FXV", "LXV") if not isinstance(params.get(k), (int, float))]
    if missing:
        raise _fail(path, f"block {block.name} lacks data parameter(s) {', '.join(missing)}")
    npt = int(params["NPT"])
    chunk = _block_bytes(data, block, path)
    if npt < 2 or npt > len(chunk) // 4:
        raise _fail(path, f"block {block.name} declares NPT={npt} points but holds {len(chunk) // 4}")
    dtype = "<i4" if params.get("DPF") == 2 else "<f4"
    with np.errstate(all="ignore"):  # corrupt bytes may decode to NaN/inf: finish_spectrum refuses them
        values = np.frombuffer(chunk, dtype=dtype, count=npt).astype(np.float64)
        scale = params.get("CSF", 1.0)
        if isinstance(scale, (int, float)) and np.isfinite(scale) and scale != 0:
            values = values * float(scale)
    return values


def _wavenumbers(item: OpusData, path) -> np.ndarray:
    unit = str(item.params.get("DXU", "WN")).upper()
    axis = item.axis
    if unit == "WN":
        return axis
    if unit == "MI" and np.all(axis > 0):  # micrometres
        return 1e4 / axis
    raise InputError(path, f"block {item.block.name} has x unit {unit!r}; expected wavenumbers (WN, cm-1)",
                     field="DXU")


def _acquired_at(params: dict, tz, metadata: dict) -> datetime | None:
    """``DAT`` + ``TIM`` of a data status block -> aware datetime (zone from ``(GMT+1)``)."""
    date, time_text = params.get("DAT"), params.get("TIM")
    if not isinstance(date, str) or not isinstance(time_text, str):
        return None
    clock, _, zone_text = time_text.partition("(")
    clock = clock.strip()
    for fmt in ("%d/%m/%Y %H:%M:%S.%f", "%d/%m/%Y %H:%M:%S", "%Y/%m/%d %H:%M:%S.%f", "%Y/%m/%d %H:%M:%S"):
        try:
            moment = datetime.strptime(f"{date.strip()} {clock}", fmt)
            break
        except ValueError:
            continue
    else:
        metadata["acquired_at_unparsed"] = f"{date} {time_text}"
        return None
    zone: tzinfo | None = parse_utc_offset(zone_text.rstrip(") ")) if zone_text else None
    if zone is not None:
        return moment.replace(tzinfo=zone)
    return localise(moment, tz, metadata)


def read_opus(path: str | Path, *, timezone: str | tzinfo | None = "UTC") -> Spectrum:
    """Read the absorbance spectrum of a Bruker OPUS file.

    Uses the last plain ``AB`` block; without one, ``-log10(ScSm / ScRf)`` from the single
    channels, or a transmittance block (returned as ``kind="transmittance"``). The acquisition
    time is ``DAT``/``TIM`` of the chosen block's parameters with their ``(GMT+n)`` zone;
    a time without a zone is read in ``timezone``. Raises InputError for anything unreadable.
    """
    path = Path(path)
    data = read_file_bytes(path)
    try:
        return _read(data, path, timezone)
    except InputError:
        raise
    except (struct.error, ValueError, IndexError, OverflowError) as e:
        raise _fail(path, f"corrupt content ({type(e).__name__}: {e})") from None


def _read(data: bytes, path: Path, tz) -> Spectrum:
    blocks = read_directory(data, path)
    items = read_data_blocks(data, blocks, path)
    present = sorted({i.block.name for i in items})
    metadata: dict = {"format": "opus", "blocks": present, "kind_declared": True}

    absorbance = [i for i in items if i.block.data_type == DATA_ABSORBANCE and i.block.channel == CHANNEL_RATIO]
    if absorbance:
        chosen = absorbance[-1]  # the last written: processed (e.g. atmosphere-compensated) if present
        metadata.update(source_block="AB", n_absorbance_blocks=len(absorbance), opus_params=_brief(chosen.params))
        when = _acquired_at(chosen.params, tz, metadata)
        return finish_spectrum(path, _wavenumbers(chosen, path), chosen.values, "absorbance", when, metadata)

    sample = _one(items, DATA_SINGLE_CHANNEL, CHANNEL_SAMPLE)
    reference = _one(items, DATA_SINGLE_CHANNEL, CHANNEL_REFERENCE)
    why_not = _single_channel_problem(sample, reference, path)
    if why_not is None:
        x_s = _wavenumbers(sample, path)
        x_r = _wavenumbers(reference, path)
        order = np.argsort(x_r)
        ref_on_sample = np.interp(x_s, x_r[order], reference.values[order])
        metadata.update(source_block="-log10(ScSm/ScRf)", opus_params=_brief(sample.params),
                        reference_interpolated=not _same_grid(x_s, x_r))
        when = _acquired_at(sample.params, tz, metadata)
        return finish_spectrum(path, x_s, -np.log10(sample.values / ref_on_sample), "absorbance", when, metadata)

    transmittance = [i for i in items if i.block.data_type == DATA_TRANSMITTANCE and i.block.channel == CHANNEL_RATIO]
    if transmittance:
        chosen = transmittance[-1]
        metadata.update(source_block="TR", transmittance_percent=bool(np.max(chosen.values) > 1.5),
                        opus_params=_brief(chosen.params))
        when = _acquired_at(chosen.params, tz, metadata)
        return finish_spectrum(path, _wavenumbers(chosen, path), chosen.values, "transmittance", when, metadata)

    raise InputError(path, f"has no absorbance (AB) block and its single channels cannot replace it: "
                           f"{why_not} (blocks present: {', '.join(present) or 'none'})")


def _one(items: list[OpusData], data_type: int, channel: int) -> OpusData | None:
    found = [i for i in items if i.block.data_type == data_type and i.block.channel == channel]
    return found[-1] if found else None


def _single_channel_problem(sample: OpusData | None, reference: OpusData | None, path) -> str | None:
    """Why ``-log10(ScSm/ScRf)`` cannot be formed, or None if it can."""
    if sample is None and reference is None:
        return "there is neither a sample (ScSm) nor a reference (ScRf) single channel"
    if sample is None:
        return "the sample single channel (ScSm) is missing"
    if reference is None:
        return "the reference single channel (ScRf) is missing"
    x_s, x_r = _wavenumbers(sample, path), _wavenumbers(reference, path)
    step = abs(x_s[1] - x_s[0]) if len(x_s) > 1 else 0.0
    if x_r.min() > x_s.min() + 0.5 * step or x_r.max() < x_s.max() - 0.5 * step:
        return (f"the reference ScRf ({x_r.min():.1f}-{x_r.max():.1f} cm-1) does not cover the sample "
                f"ScSm ({x_s.min():.1f}-{x_s.max():.1f} cm-1)")
    if np.any(sample.values <= 0) or np.any(reference.values <= 0):
        return "the single channels hold values <= 0, so -log10(ScSm/ScRf) is undefined"
    return None


def _same_grid(x_s: np.ndarray, x_r: np.ndarray) -> bool:
    """True if the sample axis is a run of points of the reference axis (only an index shift)."""
    step = abs(x_s[1] - x_s[0])
    nearest = np.abs(x_r[:, None] - x_s[[0, -1]][None, :]).min(axis=0)  # (2,): both ends on reference points
    return bool(np.all(nearest < 1e-3 * step))


def _brief(params: dict) -> dict:
    keep = ("NPT", "FXV", "LXV", "DXU", "CSF", "DAT", "TIM", "MXY", "MNY")
    return {k: params[k] for k in keep if k in params}
