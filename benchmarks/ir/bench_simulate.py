"""Time the generation of the whole OpIRSpec-7K-sim dataset (7,118 spectra); writes nothing.

Run: ``python benchmarks/ir/bench_simulate.py [--seed 0]``. Target: under 60 s on 2 CPU cores.
"""
from __future__ import annotations

import argparse
import time

from operando.ir.simulate import simulate_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.perf_counter()
    dataset = simulate_dataset(args.seed)
    seconds = time.perf_counter() - start
    print(f"simulate_dataset(seed={args.seed}): {dataset.n_spectra} spectra, {len(dataset)} experiments "
          f"in {seconds:.2f} s")


if __name__ == "__main__":
    main()
