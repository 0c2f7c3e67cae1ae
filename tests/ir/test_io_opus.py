"""Bruker OPUS reader: the 8 real files of tests/fixtures/opus, synthetic files, damaged files."""
from __future__ import annotations

import struct
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from io_writers import write_opus

from operando.errors import InputError
from operando.ir.io import check_ir_window, read_spectrum
from operando.ir.io.opus import read_data_blocks, read_directory, read_opus

OPUS_DIR = Path(__file__).parent / "fixtures" / "opus"
GMT1, GMT2, GMT12 = (timezone(timedelta(hours=h)) for h in (1, 2, 12))

# name: (points, first cm-1, last cm-1, acquired_at, source block, covers 800-2000 cm-1)
REAL = {
    "617262_1TP_C-1_A5.0": (3578, 599.7387, 7497.6979, datetime(2021, 2, 5, 11, 44, 26, 88000, GMT1), "AB", True),
    "629266_1TP_A-1_C1.0": (3578, 599.7604, 7497.9694, datetime(2019, 6, 12, 13, 17, 16, 720000, GMT2), "AB", True),
    "BF_lo_01_soil_cal.1": (1716, 499.6746, 3997.3968, datetime(2015, 11, 6, 14, 38, 14, 100000, GMT1), "AB", True),
    "MMP_2107_Test1.001": (1899, 3948.0, 11540.0, datetime(2021, 11, 9, 15, 57, 28, 710000, GMT1), "AB", False),
    "issue81_A1.1.0": (1866, 399.2719, 3996.5766, datetime(2023, 3, 16, 12, 28, 27, 332000, GMT1), "AB", True),
    "issue82_Opus_test.0": (1112, 3600.0, 12488.0, datetime(2014, 4, 24, 8, 44, 51, 193000, GMT2), "AB", False),
    "issue94_RT_01_1_23-02-21_13-23-54.0": (6930, 399.5731, 7498.6560,
                                            datetime(2023, 2, 21, 13, 23, 57, 530000, GMT1), "AB", True),
    # no AB block (only a reflectance ratio): absorbance from the single channels
    "test_spectra.0": (4819, 599.9206, 7498.2917, datetime(2020, 5, 11, 9, 9, 55, 555000, GMT12),
                       "-log10(ScSm/ScRf)", True),
}


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_opus_files_read(name):
    points, first, last, when, block, mid_ir = REAL[name]
    s = read_spectrum(OPUS_DIR / name)
    assert s.kind == "absorbance" and s.metadata["source_block"] == block
    assert len(s) == points
    assert s.wavenumber_cm1[0] == pytest.approx(first, abs=1e-3)
    assert s.wavenumber_cm1[-1] == pytest.approx(last, abs=1e-3)
    assert np.all(np.diff(s.wavenumber_cm1) > 0) and np.all(np.isfinite(s.values))
    assert s.acquired_at == when and s.acquired_at.utcoffset() == when.utcoffset()
    if mid_ir:
        check_ir_window(s)
    else:
        with pytest.raises(InputError, match=r"near-infrared \(NIR\) only.*needs the mid-IR range 800-2000 cm-1"):
            check_ir_window(s)


@pytest.mark.parametrize("name", ["issue94_RT_01_1_23-02-21_13-23-54.0", "issue81_A1.1.0"])
def test_absorbance_block_equals_the_single_channel_ratio(name):
    # In these files AB is the raw ratio: it must equal -log10(ScSm/ScRf) decoded from the same file,
    # which checks block pairing, NPT slicing and both axes at once.
    data = (OPUS_DIR / name).read_bytes()
    items = {i.block.name: i for i in read_data_blocks(data, read_directory(data, name), name)}
    sample, reference = items["ScSm"], items["ScRf"]
    ratio = sample.values / np.interp(sample.axis[::-1], reference.axis[::-1], reference.values[::-1])[::-1]
    s = read_opus(OPUS_DIR / name)
    assert np.max(np.abs(s.values[::-1] + np.log10(ratio))) < 1e-5


def test_no_absorbance_block_uses_single_channels_consistently():
    s = read_opus(OPUS_DIR / "test_spectra.0")
    assert s.metadata["reference_interpolated"] is False  # ScRf grid is ScSm's shifted by 4 points
    assert "Refl" in s.metadata["blocks"] and "AB" not in s.metadata["blocks"]
    # the file's own reflectance block is ScSm/ScRf: -log10 of it is our absorbance
    assert 0.2 < s.values.min() and s.values.max() < 1.7


def _strip_blocks(src: Path, dst: Path, remove: set[int]) -> Path:
    """Copy an OPUS file with directory entries of the given type codes blanked (type 0)."""
    data = bytearray(src.read_bytes())
    offset, _, n = struct.unpack_from("<iii", data, 12)
    for i in range(n):
        code = struct.unpack_from("<i", data, offset + 12 * i)[0] & 0x3FFFFF
        if code in remove:
            struct.pack_into("<i", data, offset + 12 * i, 0)
    dst.write_bytes(bytes(data))
    return dst


def test_without_absorbance_and_reference_is_refused_exactly(tmp_path):
    # test_spectra.0 minus its reference single channel: nothing can give absorbance.
    f = _strip_blocks(OPUS_DIR / "test_spectra.0", tmp_path / "noref.0", {0x040B, 0x041B})
    with pytest.raises(InputError, match=r"noref\.0: has no absorbance \(AB\) block and its single channels "
                                         r"cannot replace it: the reference single channel \(ScRf\) is missing"):
        read_spectrum(f)


def test_synthetic_ab_round_trip_and_time_zone(tmp_path):
    x = np.linspace(3999.0, 600.0, 1763)  # descending, as instruments write
    y = 0.2 + np.exp(-((x - 1750.0) / 15.0) ** 2)
    when = datetime(2024, 3, 1, 9, 30, 5, 250000, timezone(timedelta(hours=-5)))
    s = read_spectrum(write_opus(tmp_path / "cell.0", {"AB": (x, y)}, when, extra_values=7))
    assert np.allclose(s.wavenumber_cm1, x[::-1]) and np.allclose(s.values, y[::-1].astype(np.float32))
    assert s.acquired_at == when


def test_naive_opus_time_is_read_in_the_given_zone(tmp_path):
    x = np.linspace(4000.0, 600.0, 500)
    f = write_opus(tmp_path / "naive.0", {"AB": (x, np.full(500, 0.1))}, datetime(2024, 3, 1, 9, 30, 5))
    s = read_spectrum(f, timezone="Europe/Berlin")
    assert s.acquired_at.utcoffset() == timedelta(hours=1)
    assert s.metadata["timezone_assumed"] == "Europe/Berlin"


def test_single_channel_fallback_values(tmp_path):
    x = np.linspace(4000.0, 600.0, 300)
    reference = 1.0 + 0.5 * np.cos(x / 900.0) ** 2
    sample = reference * 10 ** -(0.3 * np.exp(-((x - 1800) / 30) ** 2))
    s = read_spectrum(write_opus(tmp_path / "sc.0", {"ScSm": (x, sample), "ScRf": (x, reference)},
                                 datetime(2024, 1, 1, tzinfo=timezone.utc)))
    expected = 0.3 * np.exp(-((s.wavenumber_cm1 - 1800) / 30) ** 2)  # float32 storage: ~1e-7 error
    assert np.max(np.abs(s.values - expected)) < 1e-5 and s.values.max() > 0.25


def test_transmittance_block_is_reported_as_transmittance(tmp_path):
    x = np.linspace(4000.0, 600.0, 300)
    s = read_spectrum(write_opus(tmp_path / "t.0", {"TR": (x, np.full(300, 0.8))}))
    assert s.kind == "transmittance" and s.acquired_at is None


@pytest.mark.parametrize("cut", [10, 23, 100, 1000, 20000])
def test_truncated_real_file_is_refused(tmp_path, cut):
    data = (OPUS_DIR / "issue81_A1.1.0").read_bytes()
    f = tmp_path / "cut.0"
    f.write_bytes(data[:cut])
    with pytest.raises(InputError, match=r"cut\.0: .*(truncated|no absorbance)"):
        read_spectrum(f)


def test_wrong_magic_and_corrupt_directory(tmp_path):
    data = bytearray((OPUS_DIR / "issue81_A1.1.0").read_bytes())
    bad = tmp_path / "magic.0"
    bad.write_bytes(b"XXXX" + bytes(data[4:]))
    with pytest.raises(InputError, match="wrong magic number"):
        read_spectrum(bad)
    struct.pack_into("<i", data, 20, 10**6)  # entry count beyond the directory capacity
    bad.write_bytes(bytes(data))
    with pytest.raises(InputError, match="corrupt header"):
        read_spectrum(bad)


def test_npt_beyond_block_is_refused(tmp_path):
    data = bytearray((OPUS_DIR / "issue81_A1.1.0").read_bytes())
    at = data.find(b"NPT\0", 27564)  # the AB data-status block starts at byte 27564
    struct.pack_into("<i", data, at + 8, 10**6)
    f = tmp_path / "npt.0"
    f.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"declares NPT=1000000 points but holds 1866"):
        read_spectrum(f)
