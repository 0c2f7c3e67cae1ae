"""HDF5 image stacks of a transmission X-ray microscope, flat- and dark-field corrected.

Layout: the APS Data Exchange names by default (every name can be overridden):

* ``exchange/data``: raw counts I, (energy, y, x) for one state or (frame, energy, y, x) for an
  operando series;
* ``exchange/data_white``: the flat field I0 (beam without sample), (y, x) for every image,
  (energy, y, x) per energy, or (frame, energy, y, x) per image;
* ``exchange/data_dark`` (optional): the dark field D, (y, x), or a stack (n, y, x) that is averaged;
* ``exchange/energy``: (energy,) in eV, or keV if the dataset's ``units`` attribute says so;
* ``exchange/time`` (optional): (frame,) seconds on the clock of the electrochemistry record.

The corrected stack is the optical density OD = -ln((I - D) / (I0 - D)), returned as
(frame, y, x, energy), the layout the SOC methods of :mod:`operando.xrm.soc` take (y = depth,
x = lateral position in a cross-section). Counts at or below the dark level are taken as half a
count above it. Every problem is one :class:`InputError` naming the file and the dataset.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from operando.errors import InputError
from operando.files import open_hdf5
from operando.xrm.io.xradia import capability

DATA = "exchange/data"
FLAT = "exchange/data_white"
DARK = "exchange/data_dark"
ENERGY = "exchange/energy"
TIME = "exchange/time"


@dataclass
class ImageStack:
    """A corrected stack. ``optical_density`` (frame, y, x, energy); ``energy_eV`` (energy,) increasing;
    ``times_s`` (frame,) or None; ``capability``: what the energies support, in words."""

    path: Path
    optical_density: np.ndarray
    energy_eV: np.ndarray
    times_s: np.ndarray | None
    capability: str


def _dataset(h, path, name, required=True):
    if name not in h:
        if required:
            raise InputError(path, f"no dataset '{name}'", field=name)
        return None
    node = h[name]
    if not hasattr(node, "shape"):
        raise InputError(path, f"'{name}' is a group, not a dataset", field=name)
    try:
        values = np.asarray(node[()], float)
    except (TypeError, ValueError) as e:
        raise InputError(path, f"not numeric ({e})", field=name) from None
    if not np.all(np.isfinite(values)):
        bad = int(np.size(values) - np.count_nonzero(np.isfinite(values)))
        raise InputError(path, f"{bad} of {values.size} values are NaN or infinite", field=name)
    return values


def _energies(h, path, name, n_energies):
    if name not in h:
        raise InputError(path, f"no dataset '{name}': the energies of the images are missing", field=name)
    e = _dataset(h, path, name).ravel()
    units = h[name].attrs.get("units", "eV")
    units = units.decode() if isinstance(units, bytes) else str(units)
    if units == "keV":
        e = 1000.0 * e
    elif units != "eV":
        raise InputError(path, f"units '{units}' (expected 'eV' or 'keV')", field=name)
    elif e.size and e.max() < 200.0:
        raise InputError(path, f"energies {e.min():g}-{e.max():g} look like keV; set the dataset's "
                               "'units' attribute to 'keV'", field=name)
    if e.size != n_energies:
        raise InputError(path, f"{e.size} energies for {n_energies} images per frame", field=name)
    if np.any(np.diff(e) <= 0):
        raise InputError(path, "energies must increase strictly (one image per energy)", field=name)
    return e


def _per_image(values, path, name, shape, what):
    """Broadcast a flat or dark field to the images' (frame, energy, y, x) ``shape``, or refuse it."""
    n_f, n_e, ny, nx = shape
    if values.shape[-2:] != (ny, nx):
        size = "x".join(str(s) for s in values.shape[-2:]) if values.ndim >= 2 else str(values.shape)
        raise InputError(path, f"{what} is {size} pixels (y x x) but the images are {ny}x{nx}", field=name)
    if values.ndim == 2:
        return values[None, None]
    if values.ndim == 3 and values.shape[0] == n_e:
        return values[None]
    if values.ndim == 4 and values.shape[:2] == (n_f, n_e):
        return values
    raise InputError(path, f"{what} of shape {values.shape} fits neither (y, x), (energy, y, x) = "
                           f"({n_e}, {ny}, {nx}) nor the images' {shape}", field=name)


def read_image_stack(path: str | Path, *, data: str = DATA, flat: str = FLAT, dark: str = DARK,
                     energy: str = ENERGY, time: str = TIME) -> ImageStack:
    """Read and flat/dark-correct an HDF5 image stack (names: see the module docstring)."""
    path = Path(path)
    with open_hdf5(path) as h:
        raw = _dataset(h, path, data)
        if raw.ndim == 3:
            raw = raw[None]
        if raw.ndim != 4 or 0 in raw.shape:
            raise InputError(path, f"images of shape {raw.shape}: expected (energy, y, x) or "
                                   "(frame, energy, y, x)", field=data)
        n_f, n_e = raw.shape[:2]
        e = _energies(h, path, energy, n_e)
        white = _per_image(_dataset(h, path, flat), path, flat, raw.shape, "flat field")
        black = _dataset(h, path, dark, required=False)
        if black is None:
            black = np.zeros((1, 1, 1, 1))
        else:
            if black.ndim == 3 and black.shape[0] != n_e:
                black = black.mean(axis=0)  # a series of dark frames
            black = _per_image(black, path, dark, raw.shape, "dark field")
        times = _dataset(h, path, time, required=False)
        if times is not None:
            times = times.ravel()
            if times.size != n_f:
                raise InputError(path, f"{times.size} frame times for {n_f} frames", field=time)
            if np.any(np.diff(times) <= 0):
                raise InputError(path, "frame times must increase", field=time)
    beam = white - black
    if np.any(beam <= 0):
        n_bad = int(np.count_nonzero(beam <= 0))
        raise InputError(path, f"flat field minus dark is <= 0 at {n_bad} pixels (no beam to divide by)",
                         field=flat)
    signal = np.maximum(raw - black, 0.5)
    od = -np.log(signal / beam)
    return ImageStack(path, np.moveaxis(od, 1, -1), e, times, capability(e))


def current_at_frames(stack: ImageStack, log) -> tuple[np.ndarray, np.ndarray | None]:
    """Voltage [V] and current [mA] (or None) of an electrochemistry record
    (:class:`operando.echem.eclab.EchemLog`) at the stack's frame times, each (frame,).

    The record must cover every frame: a frame outside it is refused, naming the record.
    """
    if stack.times_s is None:
        raise InputError(stack.path, f"no frame times ('{TIME}'), so the frames cannot be placed on the "
                                     f"current record {log.source}", field=TIME)
    t0, t1 = log.span_s
    f0, f1 = float(stack.times_s[0]), float(stack.times_s[-1])
    if f0 < t0 or f1 > t1:
        outside = int(np.count_nonzero((stack.times_s < t0) | (stack.times_s > t1)))
        raise InputError(log.source, f"the current record covers {t0:g}-{t1:g} s but the frames of "
                                     f"{stack.path.name} run {f0:g}-{f1:g} s ({outside} of "
                                     f"{stack.times_s.size} frames outside)")
    voltage = np.interp(stack.times_s, log.time_s, log.voltage_v)
    current = None if log.current_ma is None else np.interp(stack.times_s, log.time_s, log.current_ma)
    return voltage, current
