"""``operando ir import`` and ``operando ir export``: the folder layout <-> ``data.h5``.

``operando ir import DIR -o data.h5`` reads one sub-folder per experiment (``spectra.csv`` +
``experiment.json``, see docs/ir/data.md) and writes the HDF5 dataset (docs/ir/hdf5.md);
``operando ir export data.h5 -o DIR`` writes the same layout back. Both write atomically:
on any error nothing is left at the output path.
"""
from __future__ import annotations

from operando.atomic import FORCE_HELP


def register(sub) -> None:
    p = sub.add_parser("import", help="read experiment folders (spectra.csv + experiment.json) into data.h5",
                       description="Read every folder under DIR that holds spectra.csv and experiment.json "
                                   "(layout: docs/ir/data.md) and write one HDF5 dataset.")
    p.add_argument("folder", metavar="DIR", help="folder with one sub-folder per experiment")
    p.add_argument("-o", "--output", required=True, metavar="DATA.h5", help="HDF5 file to write")
    p.add_argument("--description", default=None,
                   help="dataset description stored in the file (default: from DIR/dataset.json, if any)")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.set_defaults(func=run_import)

    p = sub.add_parser("export", help="write data.h5 as experiment folders (spectra.csv + experiment.json)",
                       description="Write every experiment of an HDF5 dataset as a folder holding "
                                   "spectra.csv and experiment.json (layout: docs/ir/data.md). The tree is written under a "
                                   "temporary name and moved into place when complete.")
    p.add_argument("dataset", metavar="DATA.h5", help="HDF5 dataset to export")
    p.add_argument("-o", "--output", required=True, metavar="DIR",
                   help="output folder (new, empty, or with --force an earlier export, which is replaced)")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.set_defaults(func=run_export)


def run_import(args) -> int:
    from operando.atomic import refuse_overwrite
    from operando.ir.data.csv_layout import import_folder

    refuse_overwrite(args.output, args.force, what="dataset")
    dataset = import_folder(args.folder)
    if args.description is not None:
        dataset.description = args.description
    dataset.save(args.output)
    print(f"imported {len(dataset)} experiments ({dataset.n_spectra} spectra, {len(dataset.systems())} "
          f"systems) from {args.folder} -> {args.output}")
    return 0


def run_export(args) -> int:
    from operando.atomic import refuse_overwrite
    from operando.ir.data.csv_layout import DATASET_FILE, export_dataset
    from operando.ir.data.dataset import OperandoDataset

    refuse_overwrite(args.output, args.force, folder=True, marker=DATASET_FILE, what="export")
    dataset = OperandoDataset.load(args.dataset)
    export_dataset(dataset, args.output)
    note = " (ground truth of simulated data is not part of the layout and was not exported)" \
        if any(e.truth is not None for e in dataset) else ""
    print(f"exported {len(dataset)} experiments ({dataset.n_spectra} spectra) from {args.dataset} -> "
          f"{args.output}{note}")
    return 0
