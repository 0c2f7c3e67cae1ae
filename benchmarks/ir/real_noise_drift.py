"""Noise and drift of real IR spectra, next to OpIRSpec-7K-sim: targets for recalibrating the
simulator (issue 34, item 2). Prints a table; changes nothing.

Measured on the real files in ../shared/data:

* the mid-IR Bruker OPUS files of opus-opusreader2 (single spectra, soil and test samples):
  SNR and noise std by :func:`operando.noise.estimate_snr` / ``estimate_noise_std`` (peak-to-peak
  over the second-difference white-noise std) on 800-2000 cm-1;
* the chemotools fermentation time series (1629 ATR-MIR spectra, one a minute, on its clean
  950-1750 cm-1 window): the same per spectrum, and the per-spectrum drift against the first
  spectrum, the least-squares fit ``y_m ~ a y_0 + b + c x`` (x: wavenumber scaled to [-1, 1]):
  scale ``a``, offset ``b`` and tilt ``c`` (absorbance), and the share of the change
  ``y_m - y_0`` (its sum of squares) that the fit removes.

and, with ``--sim FILE`` (an OpIRSpec-7K-sim HDF5), the same of the simulated cells on 800-2000
cm-1 and on 950-1750 cm-1 (raw absorbance, not preprocessed).

    python benchmarks/ir/real_noise_drift.py [--sim outputs/opirspec7k-sim.h5]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from operando.files import shared_data
from operando.ir.bench.measured import fit_drift

DATA = shared_data()
OPUS_MID_IR = ("617262_1TP_C-1_A5.0", "629266_1TP_A-1_C1.0", "BF_lo_01_soil_cal.1", "issue81_A1.1.0",
               "test_spectra.0")


def window(wn: np.ndarray, a: np.ndarray, lo: float, hi: float):
    keep = (wn >= lo) & (wn <= hi)
    return wn[keep], a[..., keep]


def drift(wn: np.ndarray, spectra: np.ndarray, lag: int | None = None) -> dict[str, np.ndarray]:
    """Per spectrum m >= 1: scale, offset, tilt of the fit to spectrum 0 (or, with ``lag``, to
    spectrum m - lag; :func:`operando.ir.bench.measured.fit_drift`) and the share of the change's
    sum of squares the fit removes."""
    if lag is None:
        refs, later = np.repeat(spectra[:1], len(spectra) - 1, axis=0), spectra[1:]
    else:
        refs, later = spectra[:-lag], spectra[lag:]
    fitted, coef = fit_drift(later, refs, wn)
    coef = coef.T
    change = later - refs
    rest = later - fitted
    share = 1 - (rest ** 2).sum(axis=1) / np.maximum((change ** 2).sum(axis=1), 1e-300)
    return {"scale": coef[0], "offset": coef[1], "tilt": coef[2], "removed": share,
            "change_rms": np.sqrt((change ** 2).mean(axis=1)), "rest_rms": np.sqrt((rest ** 2).mean(axis=1))}


def quartiles(v) -> str:
    q = np.quantile(np.asarray(v, dtype=np.float64), [0.05, 0.5, 0.95])
    return f"{q[1]:.4g} [{q[0]:.3g}, {q[2]:.3g}]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sim", type=Path, default=None, help="OpIRSpec-7K-sim HDF5 to compare")
    args = parser.parse_args(argv)
    from operando.ir.io import read_spectrum
    from operando.noise import estimate_noise_std, estimate_snr

    print("median [5 %, 95 %] over spectra; SNR = peak-to-peak / second-difference noise std (operando.noise)\n")
    print("| data | window cm-1 | spectra | SNR | noise std (A) |")
    print("|---|---|---|---|---|")
    for name in OPUS_MID_IR:
        s = read_spectrum(DATA / "opus-opusreader2" / name)
        wn, a = window(np.asarray(s.wavenumber_cm1, float), np.asarray(s.values, float), 800, 2000)
        print(f"| OPUS {name} | 800-2000 | 1 | {float(estimate_snr(a)):.4g} | {float(estimate_noise_std(a)):.3g} |")
    import pandas as pd

    frame = pd.read_csv(DATA / "chemotools-fermentation" / "fermentation_spectra.csv")
    wn_f, a_f = window(frame.columns.astype(float).to_numpy(), frame.to_numpy(dtype=np.float64), 950, 1750)
    print(f"| fermentation (chemotools) | 950-1750 | {len(a_f)} | {quartiles(estimate_snr(a_f))} | "
          f"{quartiles(estimate_noise_std(a_f))} |")
    sims = []
    if args.sim is not None:
        from operando.ir.data.dataset import OperandoDataset

        ds = OperandoDataset.load(args.sim)
        for lo, hi in ((800, 2000), (950, 1750)):
            snr, noise = [], []
            for e in ds:
                wn, a = window(np.asarray(e.wavenumber_cm1, float), np.asarray(e.absorbance, float), lo, hi)
                snr.append(estimate_snr(a))
                noise.append(estimate_noise_std(a))
            print(f"| OpIRSpec-7K-sim | {lo}-{hi} | {ds.n_spectra} | {quartiles(np.concatenate(snr))} | "
                  f"{quartiles(np.concatenate(noise))} |")
        sims = [(e.name, *window(np.asarray(e.wavenumber_cm1, float), np.asarray(e.absorbance, float), 800, 2000))
                for e in ds]

    print("\nper-spectrum drift against the first spectrum: y_m ~ a y_0 + b + c x (x in [-1, 1])\n")
    print("| data | spectra | scale a | offset b (A) | tilt c (A) | change RMS (A) | left after fit (A) | share removed |")
    print("|---|---|---|---|---|---|---|---|")
    d = drift(wn_f, a_f)
    print(f"| fermentation, 950-1750 | {len(a_f) - 1} | {quartiles(d['scale'])} | {quartiles(d['offset'])} | "
          f"{quartiles(d['tilt'])} | {quartiles(d['change_rms'])} | {quartiles(d['rest_rms'])} | "
          f"{quartiles(d['removed'])} |")
    d = drift(wn_f, a_f, lag=1)
    print(f"| fermentation, 950-1750, spectrum m vs m-1 (1 min) | {len(a_f) - 1} | {quartiles(d['scale'])} | "
          f"{quartiles(d['offset'])} | {quartiles(d['tilt'])} | {quartiles(d['change_rms'])} | "
          f"{quartiles(d['rest_rms'])} | {quartiles(d['removed'])} |")
    if sims:
        parts = [drift(wn, a, lag=1) for _, wn, a in sims]
        joined = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        print(f"| OpIRSpec-7K-sim, 800-2000, spectrum m vs m-1 | {len(joined['scale'])} | {quartiles(joined['scale'])} | "
              f"{quartiles(joined['offset'])} | {quartiles(joined['tilt'])} | {quartiles(joined['change_rms'])} | "
              f"{quartiles(joined['rest_rms'])} | {quartiles(joined['removed'])} |")
        parts = [drift(wn, a) for _, wn, a in sims]
        joined = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        print(f"| OpIRSpec-7K-sim, 800-2000 | {len(joined['scale'])} | {quartiles(joined['scale'])} | "
              f"{quartiles(joined['offset'])} | {quartiles(joined['tilt'])} | {quartiles(joined['change_rms'])} | "
              f"{quartiles(joined['rest_rms'])} | {quartiles(joined['removed'])} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
