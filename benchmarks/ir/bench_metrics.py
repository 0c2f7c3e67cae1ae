"""Time OpIRBench's metric computation at the size of the system-split test set.

Random spectra stand in for real ones (the cost does not depend on the values): 1,322 test
spectra on the 601-point 800-2000 cm-1 grid, forming two experiments of 1,308 and 14 spectra.
Timed: the six per-spectrum metrics on all spectra plus DILATE on each experiment's sequence.
Also times one DILATE training-loss forward + backward at a typical batch size.

Run: /work/venv/bin/python benchmarks/ir/bench_metrics.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from operando.ir.bench.dilate import dilate_loss
from operando.ir.bench.metrics import sequence_dilate, spectrum_metrics

SEQUENCE_LENGTHS = (1308, 14)
N_WAVENUMBERS = 601


def full_metric_computation(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """Everything the benchmark runner computes for one model on the test set."""
    per_spectrum = spectrum_metrics(y_true, y_pred)
    dilate = []
    start = 0
    for length in SEQUENCE_LENGTHS:
        dilate.append(sequence_dilate(y_true[start:start + length], y_pred[start:start + length]))
        start += length
    return {"per_spectrum": per_spectrum, "dilate": dilate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    n_spectra = sum(SEQUENCE_LENGTHS)
    y_true = 0.05 * rng.standard_normal((n_spectra, N_WAVENUMBERS)).cumsum(axis=1) / 10
    y_pred = y_true + 0.005 * rng.standard_normal(y_true.shape)

    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        full_metric_computation(y_true, y_pred)
        times.append(time.perf_counter() - start)
    print(f"metrics: {n_spectra} spectra x {N_WAVENUMBERS} wavenumbers, DILATE on sequences "
          f"{SEQUENCE_LENGTHS}: best {min(times):.2f} s, median {np.median(times):.2f} s "
          f"over {args.repeats} runs")

    batch, steps = 8, 64
    true = torch.from_numpy(y_true[:batch * steps].reshape(batch, steps, N_WAVENUMBERS)).float()
    pred = torch.from_numpy(y_pred[:batch * steps].reshape(batch, steps, N_WAVENUMBERS)).float()
    pred.requires_grad_()
    start = time.perf_counter()
    dilate_loss(pred, true).backward()
    print(f"dilate_loss forward+backward, batch {batch} x {steps} steps x {N_WAVENUMBERS}: "
          f"{time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
