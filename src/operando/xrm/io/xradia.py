"""Xradia ``.xrm`` / ``.txrm`` transmission X-ray microscope files (OLE2 containers, read with olefile).

Streams used: ``ImageInfo/ImageWidth``, ``ImageHeight``, ``NoOfImages`` (int32), ``DataType``
(int32: 5 = uint16, 10 = float32), ``Energy`` (float32 per image, eV), ``PixelSize`` (float32, µm),
``ExpTimes`` (float32 per image, s), and the images ``ImageData<k>/Image<n>`` (100 images per
folder, ``k = (n - 1) // 100 + 1``). Layouts written from the files themselves; nothing is copied
from other readers.

What such frames support: with a sample frame and its flat field (reference) at an energy, the
optical density ``OD = -ln(I / I0)``; with two energies below and above an absorption edge, an
**edge-jump map** (element thickness). A state-of-charge map needs a spectrum per pixel across the
edge (many energies) and is NOT claimed from two energies: :func:`capability` says which.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from operando.errors import InputError

_DTYPES = {5: "<u2", 10: "<f4"}


@dataclass
class XrmImages:
    path: Path
    images: np.ndarray  # (n, height, width) float64 counts
    energy_eV: np.ndarray  # (n,)
    pixel_size_um: float
    exposure_s: np.ndarray
    meta: dict = field(default_factory=dict)


def _read(ole, path, name, fmt, count=1):
    if not ole.exists(name):
        raise InputError(path, f"missing stream '{name}' (not an Xradia file?)")
    raw = ole.openstream(name).read()
    size = struct.calcsize("<" + fmt)
    if len(raw) < size * count:
        raise InputError(path, f"stream '{name}' holds {len(raw)} bytes, expected {size * count}")
    return struct.unpack("<" + fmt * count, raw[:size * count])


def read_xrm(path: str | Path) -> XrmImages:
    """Read every image of an ``.xrm``/``.txrm`` file; malformed files raise one InputError."""
    import olefile

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    if not olefile.isOleFile(str(path)):
        raise InputError(path, "not an OLE2 (Xradia .xrm/.txrm) file")
    try:
        ole = olefile.OleFileIO(str(path))
    except (OSError, ValueError) as e:  # olefile raises OSError on broken containers
        raise InputError(path, f"unreadable OLE2 container ({e})") from None
    with ole:
        (w,) = _read(ole, path, "ImageInfo/ImageWidth", "i")
        (h,) = _read(ole, path, "ImageInfo/ImageHeight", "i")
        (n,) = _read(ole, path, "ImageInfo/NoOfImages", "i")
        (dtype_code,) = _read(ole, path, "ImageInfo/DataType", "i")
        if w <= 0 or h <= 0 or n <= 0:
            raise InputError(path, f"image size {w} x {h} x {n} is not positive")
        if dtype_code not in _DTYPES:
            raise InputError(path, f"DataType {dtype_code} not supported (known: {sorted(_DTYPES)})",
                             field="ImageInfo/DataType")
        energy = np.asarray(_read(ole, path, "ImageInfo/Energy", "f", n), float)
        (pixel,) = _read(ole, path, "ImageInfo/PixelSize", "f")
        exposure = np.asarray(_read(ole, path, "ImageInfo/ExpTimes", "f", n), float) \
            if ole.exists("ImageInfo/ExpTimes") else np.full(n, np.nan)
        dt = np.dtype(_DTYPES[dtype_code])
        images = np.empty((n, h, w))
        for i in range(1, n + 1):
            name = f"ImageData{(i - 1) // 100 + 1}/Image{i}"
            if not ole.exists(name):
                raise InputError(path, f"missing image stream '{name}' of {n}")
            raw = ole.openstream(name).read()
            if len(raw) < w * h * dt.itemsize:
                raise InputError(path, f"image {i} holds {len(raw)} bytes, {w} x {h} {dt} needs "
                                       f"{w * h * dt.itemsize}", field=name)
            images[i - 1] = np.frombuffer(raw[:w * h * dt.itemsize], dt).reshape(h, w)
    if not np.all(np.isfinite(images)):
        raise InputError(path, "image data contain NaN or infinite values")
    return XrmImages(path, images, energy, float(pixel), exposure, {"data_type": dtype_code})


def optical_density(sample: XrmImages, reference: XrmImages, energy_tol_eV: float = 0.5) -> np.ndarray:
    """Flat-field correction: OD = -ln(I / I0) per image (counts below 1 are taken as 1)."""
    if reference.images.shape[1:] != sample.images.shape[1:]:
        raise InputError(reference.path, f"flat field is {reference.images.shape[2]} x {reference.images.shape[1]} "
                                         f"pixels but the sample {sample.path.name} is "
                                         f"{sample.images.shape[2]} x {sample.images.shape[1]}")
    if reference.images.shape[0] not in (1, sample.images.shape[0]):
        raise InputError(reference.path, f"{reference.images.shape[0]} flat-field images for "
                                         f"{sample.images.shape[0]} sample images")
    ref_e = np.broadcast_to(reference.energy_eV, sample.energy_eV.shape)
    bad = np.abs(ref_e - sample.energy_eV) > energy_tol_eV
    if np.any(bad):
        i = int(np.argmax(bad))
        raise InputError(reference.path, f"flat field at {ref_e[i]:.2f} eV but the sample {sample.path.name} "
                                         f"image {i + 1} is at {sample.energy_eV[i]:.2f} eV")
    ref = np.broadcast_to(reference.images, sample.images.shape)
    return -np.log(np.maximum(sample.images, 1.0) / np.maximum(ref, 1.0))


def capability(energies_eV) -> str:
    """What a stack at these energies can give, in words (never SOC from fewer than ~10 energies)."""
    n = len(np.unique(np.round(np.asarray(energies_eV, float), 1)))
    if n >= 10:
        return (f"{n} energies: per-pixel spectra; an SOC map needs end members and the methods of "
                "operando.xrm.soc")
    if n >= 2:
        return (f"edge-jump map only: {n} energies (below/above the edge) measure the absorber's thickness, "
                "not its state of charge; an SOC map needs a spectrum per pixel across the edge")
    return "one energy: an optical-density image only"


def edge_jump_map(pre: np.ndarray, post: np.ndarray) -> np.ndarray:
    """Edge jump OD(above edge) - OD(below edge) per pixel (same field of view, no drift correction)."""
    if pre.shape != post.shape:
        raise InputError(None, f"pre-edge map {pre.shape} and post-edge map {post.shape} differ in shape")
    return post - pre
