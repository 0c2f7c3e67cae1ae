"""The computed Cu K-edge training set (OmniXAS FEFF, ``../shared/data/omnixas-cu-feff`` beside the checkout).

:func:`load_cu_feff` returns every spectrum on the model grid with its labels:

- spectra: the shipped ``mu_rel`` (FEFF's ``mu``, already divided by the atomic cross-section
  50 eV above the edge, so the edge step is close to 1) is placed back on FEFF's absolute
  energy scale (``e0 + e_rel``) and resampled onto ``CU_EDGE_FEFF + relative_grid()``, i.e.
  -5 .. +45 eV around a fixed Cu anchor in 0.25 eV steps (201 points). A fixed anchor, not each
  spectrum's own edge, keeps the chemical shift that carries the oxidation state; measured
  spectra reach this scale through one global offset (:mod:`operando.xas.align`).
- labels: ``cn`` and ``oxidation_state`` from the shipped labels.csv (CrystalNN and BVAnalyzer
  with pymatgen defaults; ``benchmarks/xas/make_cu_labels.py`` recomputes them: CN equal for
  5,299/5,299 sites), ``ocn`` and ``cn2`` from ``benchmarks/xas/cu_labels.csv`` written by that
  script (definitions in :mod:`operando.xas.labels`), ``nn_dist_mean`` shipped.

:func:`material_folds` splits by material (the upstream train/test lists share 39 materials).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from operando.errors import InputError
from operando.files import shared_data
from operando.xas.labels import cn_class, os_class
from operando.xas.resample import relative_grid

DEFAULT_DIR = shared_data("omnixas-cu-feff")
LABELS_CSV = Path(__file__).resolve().parents[3] / "benchmarks" / "xas" / "cu_labels.csv"
#: Anchor of the model grid on FEFF's absolute energy scale for the OmniXAS Cu set (eV). FEFF's
#: E0 spans 8986.98-8992.54 eV there; half heights of the edges lie about 8990-9000 eV.
CU_EDGE_FEFF = 8993.0


@dataclass
class XasSet:
    """Spectra ``x`` (N, L) float32 on ``anchor + grid`` and per-row labels (N,)."""

    x: np.ndarray
    grid: np.ndarray
    anchor: float
    cn: np.ndarray
    cn_cls: np.ndarray
    os: np.ndarray
    os_cls: np.ndarray
    ocn: np.ndarray
    cn2: np.ndarray
    nn_dist: np.ndarray
    material: np.ndarray
    spectrum_id: np.ndarray

    def subset(self, idx) -> "XasSet":
        kw = {k: (v[idx] if isinstance(v, np.ndarray) and v.ndim >= 1 and k != "grid" else v)
              for k, v in self.__dict__.items()}
        return XasSet(**kw)

    def __len__(self) -> int:
        return len(self.x)


def load_cu_feff(data_dir: str | Path = DEFAULT_DIR, labels_csv: str | Path = LABELS_CSV,
                 grid: np.ndarray | None = None) -> XasSet:
    """Load the Cu set on the model grid (see module docstring)."""
    import pandas as pd

    data_dir = Path(data_dir)
    npz, csv = data_dir / "cu_feff_xanes.npz", data_dir / "labels.csv"
    for p in (npz, csv, Path(labels_csv)):
        if not p.is_file():
            raise InputError(p, "missing (see docs/xas/README.md for where the Cu set comes from)")
    grid = relative_grid() if grid is None else np.asarray(grid, float)
    d = np.load(npz)
    lab = pd.read_csv(csv)
    extra = pd.read_csv(labels_csv)
    if list(extra.spectrum_id) != list(lab.spectrum_id):
        raise InputError(labels_csv, "rows do not match the data's labels.csv (rerun make_cu_labels.py)")
    e_rel, mu = d["e_rel"], d["mu_rel"].astype(float)
    e0 = d["e0"]
    target = CU_EDGE_FEFF + grid
    x = np.empty((len(mu), len(grid)), dtype=np.float32)
    for i in range(len(mu)):
        e = e0[i] + e_rel
        valid = slice(None) if not np.isnan(mu[i]).any() else ~np.isnan(mu[i])
        x[i] = np.interp(target, e[valid], mu[i][valid])  # ends held constant (<= 0.8 eV here)
    os_ = lab.oxidation_state.to_numpy(float)
    return XasSet(x=x, grid=grid, anchor=CU_EDGE_FEFF, cn=lab.cn.to_numpy(int), cn_cls=cn_class(lab.cn),
                  os=os_, os_cls=os_class(os_), ocn=extra.ocn.to_numpy(float), cn2=extra.cn2.to_numpy(float),
                  nn_dist=lab.nn_dist_mean.to_numpy(float), material=lab.material_id.to_numpy(str),
                  spectrum_id=lab.spectrum_id.to_numpy(str))


def material_folds(material: np.ndarray, k: int = 5, seed: int = 0) -> np.ndarray:
    """Fold index (0..k-1) per row; all rows of one material share a fold (seeded shuffle)."""
    uniq = np.unique(material)
    perm = np.random.default_rng(seed).permutation(len(uniq))
    fold_of = {m: int(i % k) for i, m in zip(range(len(uniq)), uniq[perm])}
    return np.array([fold_of[m] for m in material], dtype=int)
