"""Recompute CN, OCN, CN2 (every site) and OS (a seeded sample of materials) of the OmniXAS Cu set.

Writes ``benchmarks/xas/cu_labels.csv`` (spectrum_id, cn, ocn, cn2) and prints how the recomputed
CN and OS agree with the ``cn`` / ``oxidation_state`` columns shipped in the data's labels.csv,
so those can be reused. Rerun: ``python benchmarks/xas/make_cu_labels.py [--os-sample 150]``.
Definitions: ``operando.xas.labels``.
"""
import argparse
import gzip
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from operando.atomic import write_text
from operando.files import shared_data
from operando.xas.labels import oxidation_state, site_labels

DATA = shared_data("omnixas-cu-feff")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--out", default=str(Path(__file__).with_name("cu_labels.csv")))
    ap.add_argument("--os-sample", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    warnings.simplefilter("ignore")
    from pymatgen.core import Structure

    data = Path(a.data)
    lab = pd.read_csv(data / "labels.csv")
    structures = {}
    with gzip.open(data / "structures.jsonl.gz", "rt") as f:
        for line in f:
            r = json.loads(line)
            structures[r["material_id"]] = r["poscar"]
    t = time.time()
    rows, cache = [], {}
    for sid, mid, site in zip(lab.spectrum_id, lab.material_id, lab.site_index):
        s = cache.get(mid) or Structure.from_str(structures[mid], fmt="poscar")
        cache = {mid: s}
        lb = site_labels(s, int(site), with_os=False)
        rows.append({"spectrum_id": sid, **lb})
    out = pd.DataFrame(rows)
    print(f"CN/OCN/CN2 of {len(out)} sites in {time.time() - t:.0f} s")
    same = (out.cn.values == lab.cn.values)
    print(f"recomputed CrystalNN CN equals shipped cn: {same.sum()}/{len(same)}")
    ocn_shipped = lab.neighbors.fillna("").map(
        lambda s: sum(int(p.split(":")[1]) for p in s.split(";") if p.startswith("O:")))
    print(f"OCN equals the O count of the shipped neighbours column: {(ocn_shipped.values == out.ocn.values).sum()}/{len(out)}")
    rng = np.random.default_rng(a.seed)
    mids = rng.choice(lab.material_id.unique(), size=min(a.os_sample, lab.material_id.nunique()), replace=False)
    agree = n = 0
    t = time.time()
    for mid in mids:
        s = Structure.from_str(structures[mid], fmt="poscar")
        for site, shipped in lab.loc[lab.material_id == mid, ["site_index", "oxidation_state"]].itertuples(index=False):
            v = oxidation_state(s, int(site))
            n += 1
            agree += (np.isnan(v) and np.isnan(shipped)) or v == shipped
    print(f"recomputed BVAnalyzer OS equals shipped oxidation_state: {agree}/{n} sites "
          f"({len(mids)} materials, seed {a.seed}, {time.time() - t:.0f} s)")
    write_text(a.out, out.to_csv(index=False))
    print("wrote", a.out)


if __name__ == "__main__":
    main()
