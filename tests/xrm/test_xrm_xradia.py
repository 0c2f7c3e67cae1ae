"""Xradia reader on the shared real NCA frames: flat field, edge-jump map, and bad inputs."""
from __future__ import annotations

import shutil
import struct

import numpy as np
import pytest

pytest.importorskip("olefile")

from operando.errors import InputError  # noqa: E402
from operando.files import shared_data
from operando.xrm.io import xradia  # noqa: E402

DATA = shared_data("txm-xanespy-nca")
need = pytest.mark.skipif(not DATA.is_dir(), reason="shared TXM frames not present")


@need
def test_reads_real_frames_and_flat_field():
    s = xradia.read_xrm(DATA / "fov07_xanessoc01_8353_0eV.xrm")
    r = xradia.read_xrm(DATA / "ref_xanessoc01_8353_0eV.xrm")
    assert s.images.shape == (1, 1024, 1024)
    assert s.energy_eV[0] == pytest.approx(8353.03, abs=0.01)
    assert s.pixel_size_um == pytest.approx(0.0389, abs=1e-4)
    od = xradia.optical_density(s, r)
    assert od.shape == (1, 1024, 1024) and np.all(np.isfinite(od))
    # a window/matrix background (OD about 0.4) with particles absorbing well above it
    p5, p50, p99 = np.percentile(od, [5, 50, 99])
    assert 0.2 < p50 < 0.6 and p99 - p50 > 0.4 and p5 > 0.1


@need
def test_edge_jump_map_and_capability_says_no_soc():
    pre = xradia.optical_density(xradia.read_xrm(DATA / "fov07_xanessoc01_8250_0eV.xrm"),
                                 xradia.read_xrm(DATA / "ref_xanessoc01_8250_0eV.xrm"))[0]
    post = xradia.optical_density(xradia.read_xrm(DATA / "fov07_xanessoc01_8353_0eV.xrm"),
                                  xradia.read_xrm(DATA / "ref_xanessoc01_8353_0eV.xrm"))[0]
    jump = xradia.edge_jump_map(pre, post)
    frac = float(np.mean(jump > 0.1))
    assert 0.05 < frac < 0.3  # SOURCE.md: > 0.1 on about 15 % of pixels
    text = xradia.capability([8249.94, 8353.03])
    assert text.startswith("edge-jump map only") and "not its state of charge" in text


@need
def test_flat_field_of_wrong_energy_or_size(tmp_path):
    s = xradia.read_xrm(DATA / "fov07_xanessoc01_8353_0eV.xrm")
    with pytest.raises(InputError, match="ref_xanessoc01_8250_0eV.xrm: flat field at 8249.94 eV"):
        xradia.optical_density(s, xradia.read_xrm(DATA / "ref_xanessoc01_8250_0eV.xrm"))
    import olefile

    bad = tmp_path / "ref_resized.xrm"
    shutil.copy(DATA / "ref_xanessoc01_8353_0eV.xrm", bad)
    with olefile.OleFileIO(str(bad), write_mode=True) as o:  # same bytes, other shape: 2048 x 512
        o.write_stream("ImageInfo/ImageWidth", struct.pack("<i", 2048))
        o.write_stream("ImageInfo/ImageHeight", struct.pack("<i", 512))
    with pytest.raises(InputError, match="ref_resized.xrm: flat field is 2048 x 512 pixels"):
        xradia.optical_density(s, xradia.read_xrm(bad))


def test_not_an_xrm(tmp_path):
    p = tmp_path / "frame.xrm"
    p.write_bytes(b"\x00" * 1024)
    with pytest.raises(InputError, match="frame.xrm: not an OLE2"):
        xradia.read_xrm(p)
    with pytest.raises(InputError, match="no such file"):
        xradia.read_xrm(tmp_path / "none.xrm")
