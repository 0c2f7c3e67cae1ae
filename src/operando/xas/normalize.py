"""Edge normalisation (pre-edge line, post-edge curve, E0, edge step) with xraylarch.

:func:`normalize` wraps ``larch.xafs.pre_edge`` (Newville, J. Synchrotron Rad. 20, 2013, 8,
the field's standard): E0 is the energy of the largest derivative of mu unless given; a line is
fitted to mu over ``[e0 + pre1, e0 + pre2]`` and a polynomial of degree ``nnorm`` over
``[e0 + norm1, e0 + norm2]``; the edge step is their difference at E0 and
``norm = (mu - pre_line) / edge_step``. ``flat`` also removes the post-edge curvature.

Where larch's defaults assume a full EXAFS scan (pre-edge from -200 eV, normalisation to
+several hundred eV) and the file is a short XANES window, :func:`edge_ranges` shrinks the
ranges to the data (documented defaults below), so the same call works for a 60 eV window and a
1.5 keV scan. :func:`find_edge` gives edge feature points of our own (maximum derivative and
half height of the normalised step) and refuses a spectrum whose edge is not in the expected range.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from operando.errors import InputError

#: Defaults (eV relative to E0) for long scans; :func:`edge_ranges` shrinks them to the data.
PRE1, PRE2 = -150.0, -30.0
NORM1, NORM2 = 50.0, 400.0
#: An edge step below this fraction of the spectrum's full range means "no edge here".
MIN_STEP_FRACTION = 0.05


@dataclass
class Normalized:
    """Result of :func:`normalize`: arrays on the input energy grid, scalars in eV / mu units."""

    energy: np.ndarray
    norm: np.ndarray
    flat: np.ndarray
    e0: float
    edge_step: float
    pre1: float
    pre2: float
    norm1: float
    norm2: float
    nnorm: int


def edge_ranges(energy: np.ndarray, e0: float) -> dict:
    """Pre-edge and normalisation ranges (relative to ``e0``) fitted inside the data.

    Pre-edge: ``[max(PRE1, first point), PRE2]``, or, when less than 45 eV of pre-edge is
    measured, the first two thirds of what is there. Post-edge: ``[NORM1, min(NORM2, last point)]``,
    or, when less than 150 eV of post-edge is measured, its last two thirds.
    ``nnorm`` is 2 above a 300 eV post-edge range, 1 above 100 eV, else 0 (a constant).
    """
    lo, hi = float(energy[0] - e0), float(energy[-1] - e0)
    pre1 = max(PRE1, lo)
    pre2 = PRE2 if lo < -45.0 else pre1 / 3.0
    norm2 = min(NORM2, hi)
    norm1 = NORM1 if norm2 > 150.0 else norm2 / 3.0
    span = norm2 - norm1
    nnorm = 2 if span > 300 else (1 if span > 100 else 0)
    return dict(pre1=pre1, pre2=pre2, norm1=norm1, norm2=norm2, nnorm=nnorm)


def normalize(energy, mu, *, e0: float | None = None, source: str = "<array>", **ranges) -> Normalized:
    """Normalise mu(E) with ``larch.xafs.pre_edge``; ``ranges`` override :func:`edge_ranges`.

    Raises InputError (naming ``source``) when E0 falls outside the data or the edge step is
    below ``MIN_STEP_FRACTION`` (5 %) of the spectrum's full range (no edge in the data).
    """
    from larch import Group
    from larch.xafs import find_e0, pre_edge

    energy = np.asarray(energy, dtype=float)
    mu = np.asarray(mu, dtype=float)
    if e0 is None:
        e0 = float(find_e0(energy, mu))
    if not energy[0] < e0 < energy[-1]:
        raise InputError(source, f"E0 {e0:.1f} eV lies outside the data ({energy[0]:.1f}-{energy[-1]:.1f} eV)")
    r = edge_ranges(energy, e0)
    r.update(ranges)
    g = Group(energy=energy, mu=mu)
    pre_edge(g, e0=e0, pre1=r["pre1"], pre2=r["pre2"], norm1=r["norm1"], norm2=r["norm2"],
             nnorm=r["nnorm"], make_flat=True)
    step = float(g.edge_step)
    if not np.isfinite(step) or step <= MIN_STEP_FRACTION * float(np.ptp(mu)):
        raise InputError(source, f"no absorption edge: edge step {step:.3g} at E0 {e0:.1f} eV")
    return Normalized(energy, np.asarray(g.norm, float), np.asarray(g.flat, float), float(g.e0), step,
                      r["pre1"], r["pre2"], r["norm1"], r["norm2"], int(r["nnorm"]))


def find_edge(energy, norm, *, method: str = "half", expected: tuple[float, float] | None = None,
              source: str = "<array>") -> float:
    """Edge position of a normalised spectrum (step 0 -> 1), in eV.

    ``method="half"``: first energy where ``norm`` crosses 0.5 (linear interpolation), a feature
    that depends on the step height, not on sharp pre-edge peaks. ``method="maxderiv"``: energy of
    the largest finite-difference derivative. With ``expected=(lo, hi)`` an edge outside that
    window raises InputError (wrong element or edge not measured).
    """
    e = np.asarray(energy, dtype=float)
    y = np.asarray(norm, dtype=float)
    if method == "half":
        above = np.nonzero(y >= 0.5)[0]
        if above.size == 0 or above[0] == 0:
            edge = float("nan")
        else:
            i = above[0]
            y0, y1 = y[i - 1], y[i]
            edge = float(e[i - 1] + (0.5 - y0) * (e[i] - e[i - 1]) / (y1 - y0))
    elif method == "maxderiv":
        edge = float(e[np.argmax(np.gradient(y, e))])
    else:
        raise ValueError(f"unknown edge method {method!r}")
    if not np.isfinite(edge):
        raise InputError(source, "no edge: the normalised spectrum never crosses half height")
    if expected is not None and not expected[0] <= edge <= expected[1]:
        raise InputError(source, f"edge at {edge:.1f} eV is outside the expected {expected[0]:.0f}-{expected[1]:.0f} eV "
                                 "(another element or edge?)")
    return edge
