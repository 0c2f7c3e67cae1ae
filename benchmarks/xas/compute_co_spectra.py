"""Compute Co K-edge XANES with FEFF10 (PyPI ``feff10-rs``): the LixCoO2 delithiation series and a
small Co oxide training set made by putting Co on the Cu site of OmniXAS Cu structures.

One JSON file per spectrum under ``benchmarks/xas/co_feff/`` (``omega`` eV, ``mu``, FEFF's ``e0``,
the labels of :mod:`operando.xas.labels`, the cluster settings and the structure); a file that exists
is skipped, so the run can be stopped and resumed over several sittings::

    python benchmarks/xas/compute_co_spectra.py --only licoo2        # the 5 x values (11 site runs)
    python benchmarks/xas/compute_co_spectra.py --only coset --limit 60
    python benchmarks/xas/compute_co_spectra.py --list               # what is done, what is left

FEFF settings (:data:`FEFF_TAGS`): those of the OmniXAS Cu set (FEFF 9.9.1, COREHOLE RPA,
EXCHANGE 0 0.0 0.0 2, S02 0) but small enough for well under a minute per spectrum on one core:
SCF radius 2.5 A (each potential with its first shell, Jahn-Teller apical bonds included), FMS
radius 4.0 A (about 20-30 atoms: the first O shell and the metal shell at 2.8-3.4 A that shapes the
XANES beyond the white line), cluster radius 5 A, XANES k up to 4 A^-1 (about 60 eV above E0; the
model window is -5..+45 eV). Measured here on the shared 2-core machine: SCF 3.0 A took 77-146 s
per LixCoO2 site (24 SCF iterations dominate), SCF 2.2 A 21 s on a Co-set structure. The OmniXAS set
used SCF 7 A / FMS 9 A (a LiCoO2 run with FMS 5.5 A / SCF 4 A took 7.5 min on two cores); the
smaller radii lose fine structure above the white line and some of the self-consistent charge
transfer, which the transfer experiment has to live with (docs/xas/README.md).

LixCoO2 (x = 1, 0.75, 0.5, 0.25, 0): the rhombohedral primitive cell of
``pymatgen-mp-licoo2-xanes`` (Li Co O2, R-3m) made a 2 x 2 x 1 supercell (4 formula units);
Li is removed in supercell order (the first ``4 (1 - x)`` Li sites), atoms are not relaxed (no DFT
here), so only the lost Li and FEFF's self-consistent potentials change with x. Every
symmetry-inequivalent Co site is computed (pymatgen ``SpacegroupAnalyzer``), and the x spectrum is
their multiplicity-weighted mean (:func:`load_co_spectra` in ``operando.xas.transfer``).

Co training set: materials of ``omnixas-cu-feff`` whose absorbing Cu site has only O neighbours and
a bond-valence OS of +1..+3, with at most 3 elements and 24 atoms per cell (FEFF time grows with
both), sampled evenly over (CN class, OS) with seed 0; every Cu of the structure becomes Co
(geometry kept), and the labels are recomputed on the Co structure. A FEFF run that fails is
written as ``<name>.failed`` (the error) and skipped in later sittings unless ``--retry-failed``
(Co on the 12-fold A site of TiCuO3 or VCuO3, or in Fe5CuO8, made FEFF's POT or SCREEN stage fail);
``--limit`` counts tasks, not successes.
"""
from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from operando.atomic import write_text
from operando.files import shared_data
from operando.xas.labels import cn_class, site_labels

OUT = Path(__file__).with_name("co_feff")
LICOO2_JSON = shared_data("pymatgen-mp-licoo2-xanes") / "LiCoO2_k_xanes.json"
CU_DIR = shared_data("omnixas-cu-feff")
X_VALUES = (1.0, 0.75, 0.5, 0.25, 0.0)
SUPERCELL = (2, 2, 1)
CLUSTER_RADIUS = 5.0
FEFF_TAGS = {"COREHOLE": "RPA", "EXCHANGE": "0 0.0 0.0 2", "S02": "0.0",
             "SCF": "2.5 0 30 0.2 1", "FMS": "4.0 0", "XANES": "4.0 0.07 0.1"}
MAX_ELEMENTS, MAX_SITES = 3, 24


def licoo2_tasks() -> list[dict]:
    """One task per (x, inequivalent Co site) of the delithiation series."""
    from pymatgen.core import Structure
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    base = Structure.from_dict(json.loads(LICOO2_JSON.read_text())["structure"])
    base.remove_site_property("magmom") if "magmom" in base.site_properties else None
    tasks = []
    for x in X_VALUES:
        s = base * SUPERCELL
        li = [i for i, site in enumerate(s) if site.specie.symbol == "Li"]
        n_remove = int(round(len(li) * (1 - x)))
        s.remove_sites(li[:n_remove])
        sym = SpacegroupAnalyzer(s, symprec=1e-3).get_symmetrized_structure()
        for group in sym.equivalent_indices:
            i = group[0]
            if s[i].specie.symbol != "Co":
                continue
            tasks.append({"name": f"LixCoO2_x{x:.2f}_site{i:02d}", "kind": "licoo2", "x": x,
                          "structure": s, "site_index": i, "multiplicity": len(group)})
    return tasks


def coset_candidates(seed: int = 0) -> pd.DataFrame:
    """Cu spectra eligible for Cu -> Co substitution, in a seeded order balanced over (CN class, OS)."""
    lab = pd.read_csv(CU_DIR / "labels.csv")
    ok = lab.neighbors.str.fullmatch(r"O:\d+") & lab.oxidation_state.isin([1, 2, 3])
    n_el = lab.formula.str.count(r"[A-Z]")
    lab = lab[ok & (n_el <= MAX_ELEMENTS)].copy()
    lab = lab.drop_duplicates("material_id")  # one site per material
    lab["stratum"] = cn_class(lab.cn).astype(str) + "_" + lab.oxidation_state.astype(int).astype(str)
    rng = np.random.default_rng(seed)
    lab["rank"] = rng.permutation(len(lab))
    lab = lab.sort_values("rank")
    lab["round"] = lab.groupby("stratum").cumcount()  # round-robin over strata
    return lab.sort_values(["round", "rank"])


def coset_tasks(limit: int, seed: int = 0) -> list[dict]:
    from pymatgen.core import Structure

    cand = coset_candidates(seed)
    poscars = {}
    with gzip.open(CU_DIR / "structures.jsonl.gz", "rt") as f:
        for line in f:
            r = json.loads(line)
            if r["material_id"] in set(cand.material_id):
                poscars[r["material_id"]] = r["poscar"]
    tasks = []
    for row in cand.itertuples():
        s = Structure.from_str(poscars[row.material_id], fmt="poscar")
        if len(s) > MAX_SITES:
            continue
        s.replace_species({"Cu": "Co"})
        tasks.append({"name": f"{row.material_id}_{row.site_index:03d}_Co", "kind": "coset",
                      "structure": s, "site_index": int(row.site_index), "cu_spectrum_id": row.spectrum_id,
                      "cu_formula": row.formula})
        if len(tasks) >= limit:
            break
    return tasks


def run_feff(structure, site_index: int) -> dict:
    """FEFF10 Co K-edge XANES of one site: ``omega``, ``mu`` (FEFF's xmu columns) and ``e0`` (eV).

    FEFF's LDOS stage is skipped: it only writes densities of states (on mp-622628 with Co, mu
    equal within 5e-7 with and without it, 33 s against 39 s)."""
    import feff10
    from pymatgen.io.feff.sets import MPXANESSet

    work = Path(tempfile.mkdtemp(prefix="feff-co-"))
    try:
        inp = MPXANESSet(site_index, structure, radius=CLUSTER_RADIUS, user_tag_settings=dict(FEFF_TAGS))
        inp.tags.pop("LDOS", None)
        inp.write_input(str(work))
        t0 = time.time()
        stages = [s for s in feff10.Stage.default_pipeline() if s != feff10.Stage.LDOS]
        res = feff10.FeffPipeline(feff10.FeffConfig(str(work), feff10.FeffInput.from_file(str(work / "feff.inp")),
                                                    stages=stages)).run()
        table = res.read_xmu()
        cols = {name: i for i, name in enumerate(table.header[-1].lstrip("#").split())}
        omega = np.array(table.column(cols["omega"]))
        k = np.array(table.column(cols["k"]))
        mu = np.array(table.column(cols["mu"]))
        return {"omega": omega.round(3).tolist(), "mu": mu.round(6).tolist(),
                "e0": float(omega[np.argmin(np.abs(k))]), "feff_seconds": round(time.time() - t0, 1),
                "feff_inp": (work / "feff.inp").read_text()}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def compute(task: dict, out: Path) -> Path:
    target = out / f"{task['name']}.json"
    s, i = task["structure"], task["site_index"]
    labels = site_labels(s, i)
    rec = {k: v for k, v in task.items() if k != "structure"}
    rec.update(labels=labels, feff_tags=FEFF_TAGS, cluster_radius=CLUSTER_RADIUS,
               feff10_rs=_feff_version(), structure=s.as_dict())
    rec.update(run_feff(s, i))
    write_text(target, json.dumps(rec))
    return target


def _feff_version() -> str:
    from importlib.metadata import version

    return version("feff10-rs")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=["licoo2", "coset"], nargs="*", default=["licoo2", "coset"])
    ap.add_argument("--limit", type=int, default=60, help="Co training spectra to reach (default 60)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--list", action="store_true", help="print done / to do and exit")
    ap.add_argument("--retry-failed", action="store_true", help="rerun tasks marked <name>.failed")
    a = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    a.out.mkdir(parents=True, exist_ok=True)
    tasks = (licoo2_tasks() if "licoo2" in a.only else []) + (coset_tasks(a.limit, a.seed) if "coset" in a.only else [])
    failed = set() if a.retry_failed else {t["name"] for t in tasks if (a.out / f"{t['name']}.failed").exists()}
    todo = [t for t in tasks if not (a.out / f"{t['name']}.json").exists() and t["name"] not in failed]
    print(f"{len(tasks) - len(todo) - len(failed)} of {len(tasks)} done, {len(failed)} failed before (<name>.failed; "
          f"--retry-failed reruns them), {len(todo)} to compute", flush=True)
    if a.list:
        for t in todo:
            print("todo", t["name"])
        return
    for n, t in enumerate(todo, 1):
        t0 = time.time()
        try:
            path = compute(t, a.out)
        except Exception as e:  # one failed FEFF run must not stop the sitting; it is marked and skipped later
            write_text(a.out / f"{t['name']}.failed", f"{type(e).__name__}: {e}\n")
            print(f"[{n}/{len(todo)}] {t['name']}: FAILED {type(e).__name__}: {e}", file=sys.stderr, flush=True)
            continue
        print(f"[{n}/{len(todo)}] {path.name} {time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
