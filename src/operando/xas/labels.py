"""Structure labels of an absorbing site with pymatgen: CN, CN2, OCN and OS.

Definitions (the SPT paper, arXiv:2603.27684, names the four targets but its definitions are not
public; these are ours):

- **CN**: coordination number, ``len(CrystalNN().get_nn_info(structure, i))`` with pymatgen's
  defaults (Pan et al., Inorg. Chem. 60, 1590 (2021)); cations count when CrystalNN picks them.
  The classification target groups it into :data:`CN_CLASSES` ``<=3, 4, 5, 6, >=7``.
- **OCN**: oxygen coordination, the number of O atoms inside that CrystalNN first shell.
- **CN2**: second-shell cation coordination, the number of cations (any element not in
  :data:`ANIONS`) within :data:`CN2_CUTOFF` = 3.5 A of the absorber that are not in the
  first shell. 3.5 A spans metal-metal distances of edge- (about 2.9-3.1 A) and corner-sharing
  (about 3.3-3.5 A) polyhedra in oxides, the shell that shapes the XANES beyond the white line.
- **OS**: oxidation state of the absorber from ``BVAnalyzer().get_valences(structure)`` (bond
  valence sums, O'Keeffe & Brese, J. Am. Chem. Soc. 113, 3226 (1991)); ``nan`` where
  BVAnalyzer cannot assign valences. The classification target keeps :data:`OS_CLASSES` +1, +2, +3.
"""
from __future__ import annotations

import math

import numpy as np

CN_CLASSES = ("<=3", "4", "5", "6", ">=7")
OS_CLASSES = (1, 2, 3)
ANIONS = frozenset({"O", "F", "Cl", "Br", "I", "S", "Se", "Te", "N", "P", "As", "C", "H"})
CN2_CUTOFF = 3.5


def cn_class(cn) -> np.ndarray:
    """Index into :data:`CN_CLASSES` (0 for CN <= 3, ..., 4 for CN >= 7)."""
    return np.clip(np.asarray(cn, dtype=int), 3, 7) - 3


def os_class(os_) -> np.ndarray:
    """Index into :data:`OS_CLASSES` (OS 1 -> 0, 2 -> 1, 3 -> 2); -1 where missing or outside."""
    v = np.asarray(os_, dtype=float)
    out = np.full(v.shape, -1, dtype=int)
    ok = np.isfinite(v) & (v >= 1) & (v <= 3)
    out[ok] = np.rint(v[ok]).astype(int) - 1
    return out


def first_shell(structure, site_index: int) -> list[dict]:
    """CrystalNN neighbour list (pymatgen defaults) of one site."""
    from pymatgen.analysis.local_env import CrystalNN

    return CrystalNN().get_nn_info(structure, site_index)


def cn2_from_shell(structure, site_index: int, shell: list[dict], cutoff: float = CN2_CUTOFF) -> int:
    """Cations within ``cutoff`` A of the site, first-shell atoms excluded (see module docstring)."""
    first = {(int(n["site_index"]), tuple(np.round(n["image"]).astype(int))) for n in shell}
    count = 0
    for nb in structure.get_neighbors(structure[site_index], cutoff):
        key = (int(nb.index), tuple(np.round(nb.image).astype(int)))
        if key in first:
            continue
        if nb.specie.symbol not in ANIONS:
            count += 1
    return count


def oxidation_state(structure, site_index: int) -> float:
    """BVAnalyzer valence of the site, ``nan`` when it cannot be assigned."""
    from pymatgen.analysis.bond_valence import BVAnalyzer

    try:
        return float(BVAnalyzer().get_valences(structure)[site_index])
    except (ValueError, KeyError):
        return math.nan


def site_labels(structure, site_index: int, *, with_os: bool = True) -> dict:
    """``{"cn", "ocn", "cn2", "os"}`` of one absorbing site (definitions in the module docstring)."""
    shell = first_shell(structure, site_index)
    ocn = sum(1 for n in shell if n["site"].specie.symbol == "O")
    out = {"cn": len(shell), "ocn": ocn, "cn2": cn2_from_shell(structure, site_index, shell)}
    if with_os:
        out["os"] = oxidation_state(structure, site_index)
    return out
