"""Does a run folder forecast here what it forecast where it was scored? (no training; seconds)

A run trained and scored on another machine (a GPU one, say) is copied here with the
``predictions.npz`` its `operando ir bench` wrote; this loads the run with ``load_run`` (on the
CPU), forecasts the first ``--cells`` test cells again, whole, as the bench did (each from its
first spectrum, every step at once, so the draws' noise is the bench's), and prints the largest
absolute difference from the saved forecasts:

    python benchmarks/ir/compare_forecasts.py --run RUN --predictions FOLDER --data outputs/opirspec7k-sim.h5
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def largest_difference(run: Path, predictions: Path, data: Path, cells: int = 2) -> float:
    """Largest |forecast here - saved forecast| (absorbance) over the first ``cells`` test cells
    of ``predictions``; each cell's difference is printed."""
    from operando.ir.bench.runner import load_predictions
    from operando.ir.bench.task import masked
    from operando.ir.data.dataset import OperandoDataset
    from operando.ir.data.preprocess import preprocess_dataset
    from operando.ir.models.runs import load_run

    model = load_run(run)
    ds = preprocess_dataset(OperandoDataset.load(data))
    worst = 0.0
    for name, (steps, saved) in list(load_predictions(predictions).items())[:cells]:
        diff = float(np.abs(model.predict(masked(ds[name], [0]), steps) - saved).max())
        worst = max(worst, diff)
        print(f"{name}: {len(steps)} steps, max |forecast here - saved forecast| {diff:.3g}")
    return worst


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", type=Path, required=True, help="run folder (load_run)")
    p.add_argument("--predictions", type=Path, required=True, help="folder of the bench's predictions.npz")
    p.add_argument("--data", type=Path, required=True, help="the dataset the bench scored on")
    p.add_argument("--cells", type=int, default=2, help="test cells to forecast again")
    args = p.parse_args(argv)
    worst = largest_difference(args.run, args.predictions, args.data, args.cells)
    print(f"largest difference {worst:.3g} (absorbance)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
