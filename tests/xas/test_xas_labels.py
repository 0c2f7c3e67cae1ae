"""Structure labels (CN, OCN, CN2, OS) on known structures (issue 36, item 2)."""
import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pymatgen")
from pymatgen.core import Lattice, Structure  # noqa: E402

from operando.xas.labels import cn_class, os_class, site_labels  # noqa: E402

FIX = Path(__file__).with_name("fixtures")


def _poscar(name):
    return Structure.from_file(str(next(FIX.glob(f"{name}_mp-*.poscar"))))


def test_cuo_tenorite_square_planar_cu2plus():
    lb = site_labels(_poscar("CuO"), 0)
    assert lb["cn"] == 4 and lb["ocn"] == 4 and lb["os"] == 2.0
    # tenorite: Cu-Cu 2.90 (x4), 3.08 (x2), 3.17 (x4), 3.42 (x2) A, all within 3.5 A
    assert lb["cn2"] == 12


def test_cu2o_linear_cu1plus():
    lb = site_labels(_poscar("Cu2O"), 0)
    assert (lb["cn"], lb["ocn"], lb["os"]) == (2, 2, 1.0)


def test_cation_in_first_shell_counts_for_cn_not_ocn_or_cn2():
    s = _poscar("RbCuO")
    lb = site_labels(s, 1)  # CrystalNN: O4 + Rb6 (shared labels.csv row mp-1008807_001)
    assert (lb["cn"], lb["ocn"]) == (10, 4)
    # Rb at 2.65 A are first shell; the 12 Cu at 4.33 A lie beyond 3.5 A: no second-shell cation
    assert lb["cn2"] == 0


def test_cn2_counts_cations_beyond_first_shell_closed_form():
    # rock salt MO, a = 4.2 A: 6 O at 2.1 A (first shell), 12 M at 2.97 A (second shell)
    s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.2), ["Ni", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    lb = site_labels(s, 0)
    assert (lb["cn"], lb["ocn"], lb["cn2"], lb["os"]) == (6, 6, 12, 2.0)


def test_os_nan_when_bvanalyzer_fails():
    # Pt has no bond-valence parameters (15 materials of the Cu set fail this way)
    s = Structure(Lattice.cubic(3.0), ["Cu", "Pt", "O"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0, 0]])
    assert math.isnan(site_labels(s, 0)["os"])


def test_class_maps():
    np.testing.assert_array_equal(cn_class([1, 3, 4, 5, 6, 7, 12]), [0, 0, 1, 2, 3, 4, 4])
    np.testing.assert_array_equal(os_class([1, 2, 3, np.nan, 4, 0]), [0, 1, 2, -1, -1, -1])
