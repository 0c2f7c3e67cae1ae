"""``operando ir import-operando``: turn real instrument files into a dataset.

Reads every spectrum in ``--spectra DIR`` (Bruker OPUS, JCAMP-DX, CSV/TXT), the potentiostat
log ``--echem FILE`` (EC-Lab .mpt/.mpr or CSV) and the cell description ``--meta
experiment.json``, matches each spectrum to the voltage/current at its acquisition time and
writes one experiment to ``-o data.h5`` (atomically).
"""
from __future__ import annotations

from operando.atomic import FORCE_HELP


def register(sub) -> None:
    p = sub.add_parser("import-operando", help="import measured spectra + EC-Lab log into a dataset (HDF5)",
                       description=__doc__.split("\n\n", 1)[1])
    p.add_argument("--spectra", required=True, metavar="DIR", help="folder of spectrum files of one cell")
    p.add_argument("--echem", required=True, metavar="FILE", help="potentiostat log (.mpt, .mpr, .csv)")
    p.add_argument("--meta", required=True, metavar="JSON", help="experiment.json describing the cell")
    p.add_argument("-o", "--output", required=True, metavar="H5", help="dataset file to write")
    p.add_argument("--time-offset", type=float, default=0.0, metavar="SECONDS",
                   help="added to each spectrum's time on the log clock (spectrometer clock behind: > 0)")
    p.add_argument("--timezone", default="UTC", metavar="TZ",
                   help="zone of instrument times written without one, e.g. Europe/Berlin (default UTC)")
    p.add_argument("--baseline", choices=("none", "asls"), default="none",
                   help="per-spectrum baseline removal (asls needs pybaselines)")
    p.add_argument("--convert-transmittance", action="store_true",
                   help="accept transmittance spectra and convert them with A = -log10(T)")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.set_defaults(func=run)


def run(args) -> int:
    from operando.atomic import refuse_overwrite
    from operando.echem import read_echem
    from operando.files import resolve_timezone
    from operando.ir.data.dataset import OperandoDataset
    from operando.ir.data.experiment import ExperimentMeta
    from operando.ir.io.align import build_experiment, load_spectra

    refuse_overwrite(args.output, args.force, what="dataset")  # before the work, not after it
    zone = resolve_timezone(args.timezone)
    meta = ExperimentMeta.from_json_file(args.meta)
    log = read_echem(args.echem, timezone=zone)
    spectra = load_spectra(args.spectra, timezone=zone)
    experiment, report = build_experiment(spectra, log, meta, time_offset_s=args.time_offset,
                                          convert_transmittance=args.convert_transmittance,
                                          baseline=args.baseline)
    dataset = OperandoDataset([experiment], simulated=False,
                              description=f"imported from {args.spectra} and {args.echem}")
    dataset.save(args.output)
    print(report.summary())
    print(f"wrote {args.output}: experiment {experiment.name!r} ({len(experiment)} spectra)")
    return 0
