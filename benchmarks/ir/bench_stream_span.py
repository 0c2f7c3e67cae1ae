"""How much of the simulated chemistry lies in the span of ABCC's calibration spectra, and the
best forecast any span-restricted model can make (no training; a minute). Prints the table of
docs/ir/abcc.md, section 2 ("Why a residual path, and which").

Run::

    python benchmarks/ir/bench_stream_span.py --data outputs/opirspec7k-sim.h5 [--json span.json]

For ``residual = "none"`` (V = span of electrolyte + SEI spectra) and ``"baseline"`` (plus an
offset and a slope), on the OpIRBench test sets (splits seed 0):

* share of the energy of the noiseless changes s̄_m - s̄_0 (all spectra) inside V;
* oracle MAE with the measured reference: s_0 + P_V (s̄_m - s_0), the test truth's change
  projected onto V and added to the measured first spectrum (``abcc.reference = "measured"``);
* oracle MAE with the span reference: P_V s_0 + P_V (s̄_m - s_0) = P_V s̄_m
  (``abcc.reference = "span"``, the default);
* the RMS of the measured s_0 outside V (median and max over test cells, and over every cell
  divided by its own noise std, the ratio the span reference warns above 2) against the
  noise std, the RMS of noise outside V; a reference whose out-of-span part is well above the
  noise holds chemistry the calibration set does not cover.

Scored against the measured spectra, like every OpIRBench model; next to the noise floor
(noiseless against measured). Needs data with ground truth (``operando ir simulate``).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from operando.ir.bench.splits import make_split
from operando.ir.data.dataset import OperandoDataset
from operando.ir.data.preprocess import preprocess_dataset
from operando.ir.models.abcc import ABCCConfig, StreamBasis, load_calibration


def span_scores(ds, split, basis: StreamBasis) -> dict:
    """Oracle MAEs (x1e-2) and reference statistics of one split's test set for one basis."""
    measured, span, floor, outside_rms, noise_rms = [], [], [], [], []
    for name, steps in split.test.items():
        e = ds[name]
        s0 = e.absorbance[:1].astype(np.float64)
        true = e.absorbance[steps].astype(np.float64)
        clean = e.truth.noiseless[steps].astype(np.float64)
        change, s0_in_span = basis.in_span(clean - s0), basis.in_span(s0)
        measured.append(np.abs(s0 + change - true).mean(axis=1))
        span.append(np.abs(s0_in_span + change - true).mean(axis=1))
        floor.append(np.abs(clean - true).mean(axis=1))
        outside_rms.append(float(np.sqrt(((s0 - s0_in_span) ** 2).mean())))
        noise = true - clean
        noise_rms.append(float(np.sqrt(((noise - basis.in_span(noise)) ** 2).mean())))
    return {"oracle_measured_reference": 100 * float(np.concatenate(measured).mean()),
            "oracle_span_reference": 100 * float(np.concatenate(span).mean()),
            "noise_floor": 100 * float(np.concatenate(floor).mean()),
            "reference_outside_rms_median": float(np.median(outside_rms)),
            "reference_outside_rms_max": float(np.max(outside_rms)),
            "noise_outside_rms_median": float(np.median(noise_rms))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, type=Path, help="OpIRSpec-7K-sim (operando ir simulate -o ...)")
    parser.add_argument("--json", type=Path, help="also write the numbers as JSON here")
    args = parser.parse_args()

    ds = preprocess_dataset(OperandoDataset.load(args.data))
    splits = {name: make_split(ds, name, seed=0) for name in ("system", "random")}
    grid = ds[ds.names[0]].wavenumber_cm1
    changes = np.concatenate([e.truth.noiseless - e.truth.noiseless[:1] for e in ds]).astype(np.float64)
    out = {}
    for residual in ("none", "baseline"):
        config = ABCCConfig(residual=residual)
        calibration, source = load_calibration(config)
        basis = StreamBasis.from_calibration(calibration, grid, config, source)
        out[residual] = {"n_components": {"elec": len(basis.elec), "sei": len(basis.sei),
                                          "baseline": len(basis.baseline)},
                         "change_share_in_span": basis.explained(changes),
                         # what the reference = "span" warning compares with 2
                         "outside_over_noise": [basis.outside_over_noise(e.absorbance[0]) for e in ds],
                         **{name: span_scores(ds, split, basis) for name, split in splits.items()}}
    print(f"| | residual = \"none\" | \"baseline\" |\n|---|---|---|")
    print(f"| share of the noiseless changes in the span | {out['none']['change_share_in_span']:.4f} | "
          f"{out['baseline']['change_share_in_span']:.4f} |")
    print(f"| every cell: RMS of s_0 outside the span / its noise std, min-max | "
          + " | ".join(f"{min(out[r]['outside_over_noise']):.2f}-{max(out[r]['outside_over_noise']):.2f}"
                       for r in ("none", "baseline")) + " |")
    for split in ("system", "random"):
        for key, label in (("oracle_measured_reference", "oracle MAE x1e-2, measured s_0"),
                           ("oracle_span_reference", "oracle MAE x1e-2, in-span s_0"),
                           ("reference_outside_rms_median", "RMS of s_0 outside the span, median"),
                           ("reference_outside_rms_max", "RMS of s_0 outside the span, max"),
                           ("noise_outside_rms_median", "RMS of the noise outside the span, median")):
            print(f"| {split}: {label} | {out['none'][split][key]:.4g} | {out['baseline'][split][key]:.4g} |")
        print(f"| {split}: noise floor MAE x1e-2 | {out['none'][split]['noise_floor']:.4g} | |")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
