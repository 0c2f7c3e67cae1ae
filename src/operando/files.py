"""What every reader of a user's file shares: its bytes with one clear error, and acquisition
times made timezone-aware (instruments write local times, often without a zone).
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from operando.errors import InputError


def resolve_timezone(tz: str | tzinfo | None) -> tzinfo:
    """``None``/``"UTC"`` -> UTC; a zoneinfo name such as ``"Europe/Berlin"`` -> that zone."""
    if tz is None:
        return timezone.utc
    if isinstance(tz, tzinfo):
        return tz
    if tz.upper() in ("UTC", "Z", "GMT"):
        return timezone.utc
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(None, f"unknown time zone {tz!r}: use a zoneinfo name such as "
                               "'UTC' or 'Europe/Berlin'", field="timezone") from None


def localise(moment: datetime, tz: str | tzinfo | None, metadata: dict | None = None) -> datetime:
    """Make ``moment`` timezone-aware: naive instrument times are read in ``tz``.

    When a zone is assumed, ``metadata["timezone_assumed"]`` records which.
    """
    if moment.utcoffset() is not None:
        return moment
    zone = resolve_timezone(tz)
    if metadata is not None:
        metadata["timezone_assumed"] = str(getattr(zone, "key", zone))
    return moment.replace(tzinfo=zone)


_OFFSET = re.compile(r"^(?:GMT|UTC)?\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)


def parse_utc_offset(text: str) -> tzinfo | None:
    """``"GMT+1"``, ``"UTC-05:30"``, ``"+0100"``, ``"GMT"`` -> a fixed-offset tzinfo; else None."""
    text = text.strip()
    if text.upper() in ("GMT", "UTC", "Z"):
        return timezone.utc
    m = _OFFSET.match(text)
    if not m:
        return None
    hours, minutes = int(m.group(2)), int(m.group(3) or 0)
    if hours > 14 or minutes >= 60:
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if m.group(1) == "-" else delta)


def read_file_bytes(path: Path, text_kind: str | None = None) -> bytes:
    """The bytes of ``path``, or one InputError when it cannot be read.

    With ``text_kind`` (e.g. "an EC-Lab .mpt text export"), binary content (NUL bytes) is
    refused with a message saying the file is not that kind of text file.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise InputError(path, f"cannot read file ({e.strerror or e})") from None
    if text_kind is not None and b"\x00" in data:
        raise InputError(path, f"binary content (NUL bytes): not {text_kind}")
    return data


def shared_data(*parts: str) -> Path:
    """A path in the real, external data kept beside the checkout (``../shared/data``, each folder
    with its SOURCE.md); the environment variable ``OPERANDO_SHARED_DATA`` points elsewhere."""
    import os

    root = os.environ.get("OPERANDO_SHARED_DATA")
    base = Path(root) if root else Path(__file__).resolve().parents[3] / "shared" / "data"
    return base.joinpath(*parts)


def open_hdf5(path: str | Path):
    """``path`` opened read-only as an :class:`h5py.File` (close it, or use it in ``with``), or
    one :class:`InputError`: no such file, or not an HDF5 file."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise InputError(path, f"not an HDF5 file ({e})") from None
