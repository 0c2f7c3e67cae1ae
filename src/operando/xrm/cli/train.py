"""``operando xrm train``: rebuild the shipped SOC network (weights + SHA-256 manifest)."""
from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "train", help="rebuild the shipped SOC network (package data, SHA-256 manifest)",
        description="Train the per-pixel SOC network on spectra rendered from the default spectral model at "
                    "SNR 50 (seeded, CPU, about a minute) with its calibrated error model, and write it as "
                    "safetensors with its SHA-256 in the manifest that 'operando xrm' checks on load.")
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="weights file (default: the shipped one in the package); manifest.json beside it")
    p.set_defaults(func=run)


def run(args) -> int:
    from threadpoolctl import threadpool_limits

    from operando.xrm import weights

    path = args.output or weights.SHIPPED
    with threadpool_limits(1):
        weights.train_shipped(path)
    print(f"wrote {path} and {path.parent / 'manifest.json'}")
    return 0
