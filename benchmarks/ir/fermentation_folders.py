"""Experiment folders (spectra.csv + experiment.json) from a real ATR-MIR time series, to show
`operando ir score` on measured spectra (docs/ir/bring-your-own-data.md, section "Scoring").

The series: chemotools' fermentation dataset (../shared/data/chemotools-fermentation, MIT; 1629
on-line ATR-MIR absorbance spectra of one lignocellulosic fermentation, 428-1833 cm-1, in
acquisition order, one a minute by the upstream docs, not verified). It is no battery: the
folders carry a placeholder experiment.json (working electrode "none: fermentation broth",
water as the only "solvent") and a potential of 0 V throughout, so a model is conditioned on
time alone. Outside about 890-1750 cm-1 the probe saturates (|A| up to 4064); the example's run
uses the 950-1750 cm-1 window (configs/ir/fermentation-tiny.toml).

Every ``--every``-th spectrum is kept and the series is cut into consecutive experiments of
``--length`` spectra each (times from the experiment's start); the first ``--train`` experiments
go to ``OUT/train/``, the rest to ``OUT/measured/``::

    python benchmarks/ir/fermentation_folders.py --out ex
    operando ir import ex/train -o ex/train.h5
    operando ir import ex/measured -o ex/measured.h5
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from operando.files import shared_data

SOURCE = shared_data("chemotools-fermentation", "fermentation_spectra.csv")
MINUTE_S = 60.0

META = {
    "working_electrode": "none: fermentation broth",
    "counter_electrode": "none",
    "protocol": "fermentation",
    "electrolyte": {"salt": {"name": "none", "smiles": "[Na+].[Cl-]", "molarity": 0.0},
                    "solvents": [{"name": "water", "smiles": "O", "fraction": 1.0}],
                    "fraction_basis": "volume"},
    "note": "placeholder: a fermentation (chemotools dataset), not a battery cell; potential 0 V throughout",
}


def write_folders(source: Path, out: Path, every: int, length: int, n_train: int) -> list[Path]:
    frame = pd.read_csv(source)
    wavenumbers = frame.columns.astype(float).to_numpy()
    spectra = frame.to_numpy(dtype=np.float64)
    rows = np.arange(0, len(spectra), every)
    n_experiments = len(rows) // length
    if n_experiments <= n_train:
        raise SystemExit(f"{len(rows)} kept spectra make {n_experiments} experiments of {length}; need more "
                         f"than --train {n_train}")
    written = []
    for k in range(n_experiments):
        kept = rows[k * length:(k + 1) * length]
        name = f"ferm-{k + 1}"
        folder = out / ("train" if k < n_train else "measured") / name
        folder.mkdir(parents=True, exist_ok=True)
        time_s = (kept - kept[0]) * MINUTE_S
        table = pd.DataFrame(spectra[kept], columns=[repr(float(w)) for w in wavenumbers])
        table.insert(0, "Voltage [V]", 0.0)
        table.insert(0, "Time [s]", time_s)
        table.to_csv(folder / "spectra.csv", index=False, float_format="%.10g")
        meta = dict(META, name=name, source=f"{source.name} rows {kept[0]}..{kept[-1]} every {every}")
        (folder / "experiment.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        written.append(folder)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--every", type=int, default=5, help="keep every N-th spectrum (default 5: one per 5 min)")
    parser.add_argument("--length", type=int, default=60, help="spectra per experiment (default 60: 5 h)")
    parser.add_argument("--train", type=int, default=3, help="experiments for training (default 3)")
    args = parser.parse_args(argv)
    folders = write_folders(args.source, args.out, args.every, args.length, args.train)
    print(f"wrote {len(folders)} experiment folders: {args.train} under {args.out}/train, "
          f"{len(folders) - args.train} under {args.out}/measured")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
