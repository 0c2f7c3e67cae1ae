"""``operando data ...``: look at a dataset.

``operando ir data stats DATA.h5 -o DIR`` draws the paper's Figure 2 for any dataset (SNR
histogram, voltage histogram, RMS spectral change versus voltage), writes each panel's
numbers as CSV beside the PNG, and prints the summary.
"""
from __future__ import annotations

from operando.atomic import FORCE_HELP


def register(sub) -> None:
    p = sub.add_parser("data", help="dataset statistics",
                       description="Inspect an operando dataset (HDF5, see docs/ir/hdf5.md).")
    data_sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    s = data_sub.add_parser("stats", help="Figure 2 panels: SNR, voltage and spectral-change statistics",
                            description="Compute and plot (a) the SNR histogram, (b) the voltage histogram "
                                        "and (c) the RMS spectral change versus voltage of a dataset "
                                        "(method: docs/ir/data.md).")
    s.add_argument("dataset", metavar="DATA.h5", help="HDF5 dataset")
    s.add_argument("-o", "--output", required=True, metavar="DIR",
                   help="folder for dataset_stats.png, the panels' CSV files and summary.json")
    s.add_argument("--force", action="store_true", help=FORCE_HELP)
    s.set_defaults(func=run_stats)


def run_stats(args) -> int:
    from operando.atomic import refuse_overwrite
    from operando.ir.data.dataset import OperandoDataset
    from operando.ir.data.stats import dataset_stats, format_stats, plot_dataset_stats

    refuse_overwrite(args.output, args.force, folder=True, what="statistics")
    dataset = OperandoDataset.load(args.dataset)
    stats = dataset_stats(dataset)
    paths = plot_dataset_stats(dataset, args.output, stats=stats)
    print(format_stats(stats))
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0
