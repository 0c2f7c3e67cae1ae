"""Fuzz: damaged copies of real files must be read or refused with InputError -- nothing else.

300 seeded cases. Each takes a real file (the 8 OPUS fixtures, the chemotools CSV, EC-Lab
.mpt logs from shared/data when present, and JCAMP-DX files from the test writer), damages it
(truncation, byte flips, inserted/deleted bytes, garbage/duplicated/dropped lines) and feeds
it to every reader. A reader may return a result or raise the project's InputError; any other
exception, or a read running past the hang guard, fails the test with the case's seed.

Truncation of OPUS files is covered exhaustively as well: every shared OPUS file
(``shared/data/opus-opusreader2`` when present, else its identical copies in ``fixtures/opus``)
is cut at every 1 kB boundary (multiples of 1000 and of 1024 bytes) and at each block boundary
(a block's first byte, its last byte, its end). Each cut must be refused with an InputError
saying "truncated" -- or, only when it lies past the end of every block the directory lists,
read as exactly the spectrum of the whole file (nothing was lost).
"""
from __future__ import annotations

import random
import signal
from pathlib import Path

import numpy as np
import pytest
from io_writers import write_jcamp, write_mpt

from operando.echem import read_echem, read_mpt
from operando.errors import InputError
from operando.files import shared_data
from operando.ir.io import read_jcamp, read_opus, read_spectrum, read_text_spectrum
from operando.ir.io.opus import read_directory

FIXTURES = Path(__file__).parent / "fixtures"
ECLAB = shared_data("eclab-yadg")
SHARED_OPUS = shared_data("opus-opusreader2")
OPUS_SOURCE = SHARED_OPUS if SHARED_OPUS.is_dir() else FIXTURES / "opus"
OPUS_NAMES = sorted(p.name for p in OPUS_SOURCE.iterdir() if p.name not in ("LICENSE", "SOURCE.md"))
N_CASES = 300
HANG_GUARD_S = 20  # a single read taking this long counts as a hang

READERS = {
    "read_spectrum": read_spectrum,
    "read_opus": read_opus,
    "read_jcamp": read_jcamp,
    "read_text_spectrum": read_text_spectrum,
    "read_mpt": read_mpt,
    "read_echem": read_echem,
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("corpus")
    files = sorted(p for p in (FIXTURES / "opus").iterdir() if p.name not in ("LICENSE", "SOURCE.md"))
    files.append(FIXTURES / "text" / "fermentation_spectrum0.csv")
    x = np.linspace(4000.0, 600.0, 700)
    y = 0.05 + np.exp(-((x - 1750.0) / 12.0) ** 2)
    for form in ("AFFN", "PAC", "DIFDUP"):
        files.append(write_jcamp(folder / f"{form.lower()}.jdx", x, y, form, long_date="2024/01/01 10:00:00 +0100")[0])
    real_logs = [ECLAB / f"{s}.mpt" for s in ("cp", "gcpl.issue_149", "ocv.issue_149", "mb.issue_95")]
    if all(p.is_file() for p in real_logs):
        files += real_logs
    else:  # shared/data absent: a log from the test writer keeps the mpt reader in the fuzz
        t = np.linspace(0, 1000, 80)
        files.append(write_mpt(folder / "synthetic.mpt", t, 3 - t / 1000, np.full(80, 0.1), decimal=","))
    return files


def damage(data: bytes, rng: random.Random) -> tuple[bytes, list[str]]:
    """Apply 1-3 random kinds of damage; return the bytes and what was done."""
    done = []
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(["truncate", "flip", "insert", "delete", "garbage_line", "duplicate_line", "drop_line"])
        n = len(data)
        if kind == "truncate" and n:
            cut = rng.randrange(n)
            data = data[:cut]
            done.append(f"truncate@{cut}")
        elif kind == "flip" and n:
            buf = bytearray(data)
            for _ in range(rng.randint(1, 12)):
                buf[rng.randrange(n)] = rng.randrange(256)
            data = bytes(buf)
            done.append("flip")
        elif kind == "insert":
            at = rng.randrange(n + 1)
            data = data[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))) + data[at:]
            done.append(f"insert@{at}")
        elif kind == "delete" and n:
            at = rng.randrange(n)
            data = data[:at] + data[at + rng.randint(1, 256):]
            done.append(f"delete@{at}")
        else:
            lines = data.split(b"\n")
            i = rng.randrange(len(lines))
            if kind == "garbage_line":
                garbage = rng.choice([b"##XYDATA=(X++(Y..Y))", b"nan;nan", b"\t\t\t", b"1e999 1e999", b"??%%SsZz",
                                      b"##NPOINTS=99999999", b"Nb header lines : 2", b"\xff\xfe\x00garbage"])
                lines.insert(i, garbage)
            elif kind == "duplicate_line":
                lines.insert(i, lines[i])
            else:
                del lines[i]
            data = b"\n".join(lines)
            done.append(f"{kind}@{i}")
    return data, done


def _hang(signum, frame):
    raise TimeoutError("reader hang")


def test_damaged_real_files_only_raise_input_error(corpus, tmp_path):
    rng = random.Random(20240501)
    outcomes = {"read": 0, "refused": 0}
    previous = signal.signal(signal.SIGALRM, _hang)
    try:
        for case in range(N_CASES):
            source = corpus[case % len(corpus)]
            data, done = damage(source.read_bytes(), rng)
            target = tmp_path / f"case{case:03d}{source.suffix}"
            target.write_bytes(data)
            for name, reader in READERS.items():
                signal.alarm(HANG_GUARD_S)
                try:
                    reader(target)
                    outcomes["read"] += 1
                except InputError:
                    outcomes["refused"] += 1
                except Exception as e:  # the point of the test: nothing but InputError may escape
                    pytest.fail(f"case {case} ({source.name}, {done}): {name} raised {type(e).__name__}: {e}")
                finally:
                    signal.alarm(0)
            target.unlink()
    finally:
        signal.signal(signal.SIGALRM, previous)
    # both outcomes must occur: damage that a reader survives, and damage it refuses
    assert outcomes["read"] > 50 and outcomes["refused"] > 500


def cut_points(data: bytes) -> list[int]:
    """Every 1 kB boundary (1000- and 1024-byte multiples) and every block boundary below the size."""
    cuts = set(range(1000, len(data), 1000)) | set(range(1024, len(data), 1024))
    for block in read_directory(data, "full"):
        cuts |= {block.offset, block.offset + block.size - 1, block.offset + block.size}
    return sorted(c for c in cuts if 0 < c < len(data))


def test_the_shared_opus_files_are_the_fixtures():
    assert len(OPUS_NAMES) == 8
    for name in OPUS_NAMES:
        assert (OPUS_SOURCE / name).read_bytes() == (FIXTURES / "opus" / name).read_bytes(), name


@pytest.mark.parametrize("name", OPUS_NAMES)
def test_every_truncation_is_refused_or_loses_nothing(name, tmp_path):
    data = (OPUS_SOURCE / name).read_bytes()
    full = read_opus(OPUS_SOURCE / name)
    data_end = max(b.offset + b.size for b in read_directory(data, name))
    cuts = cut_points(data)
    assert len(cuts) >= len(data) // 1000
    accepted_short = []
    for cut in cuts:
        target = tmp_path / name
        target.write_bytes(data[:cut])
        try:
            s = read_opus(target)
        except InputError as e:
            assert str(target) in str(e) and "truncated" in str(e), (cut, str(e))
            continue
        # read without complaint: only allowed when every block is whole, and then identical
        if cut < data_end:
            accepted_short.append(cut)
        assert np.array_equal(s.values, full.values) and np.array_equal(s.wavenumber_cm1, full.wavenumber_cm1)
        assert s.acquired_at == full.acquired_at
    assert not accepted_short, f"{name}: {len(accepted_short)} of {len(cuts)} cuts inside a block read " \
                               f"without error, e.g. at bytes {accepted_short[:5]}"
