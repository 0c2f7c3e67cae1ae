"""``operando xas predict FILE...``: CN, CN2, OCN, OS with uncertainty for measured spectra."""
from __future__ import annotations

from pathlib import Path

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "spt-cu"


def register(sub) -> None:
    p = sub.add_parser("predict", help="predict CN, CN2, OCN, OS of XAS files (XDI, Athena .prj, two-column text)")
    p.add_argument("files", nargs="+", help="spectrum files")
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="model folder (default: the shipped Cu SPT)")
    p.add_argument("--mc-samples", type=int, default=20, help="Monte-Carlo dropout passes for the uncertainty")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args) -> int:
    import torch

    from operando.xas.fit import load_model
    from operando.xas.predict import format_rows, predict_files

    torch.set_num_threads(1)
    model, cfg, extra = load_model(args.model)
    rows = predict_files(args.files, model, cfg, extra, mc_samples=args.mc_samples, seed=args.seed)
    print(format_rows(rows))
    return 0
