"""``operando xas transfer``: the Cu SPT on computed Co spectra, directly and fine-tuned; LixCoO2 OS trajectory."""
from __future__ import annotations

from operando.xas.cli.predict import DEFAULT_MODEL


def register(sub) -> None:
    p = sub.add_parser("transfer", help="Cu -> Co transfer on the FEFF Co set and the LixCoO2 series")
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="Cu model folder (default: the shipped Cu SPT)")
    p.add_argument("--co-dir", default=None, help="computed Co spectra (default benchmarks/xas/co_feff)")
    p.add_argument("--record", default="benchmarks/xas/record")
    p.add_argument("--out", default="docs/xas/results.md")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args) -> int:
    import json
    from pathlib import Path

    import torch

    from operando.atomic import write_text
    from operando.xas.bench import write_results
    from operando.xas.fit import load_model
    from operando.xas.transfer import CO_DIR, run_transfer

    torch.set_num_threads(1)
    model, cfg, _ = load_model(args.model)
    res = run_transfer(model, cfg, co_dir=args.co_dir or CO_DIR, folds=args.folds, epochs=args.epochs,
                       lr=args.lr, seed=args.seed)
    res["cu_model"] = str(args.model)
    path = write_text(Path(args.record) / "transfer_co.json", json.dumps(res, indent=2))
    for name in ("direct", "fine_tuned"):
        print(f"{name}: E[OS] over x={res['x']}: {[round(v, 3) for v in res[name]['expected_os']]}; "
              f"Spearman vs 4-x {res[name]['spearman_vs_4_minus_x']}")
    print("Co set:", res["co_set"])
    print("wrote", path)
    print("wrote", write_results(args.record, args.out))
    return 0
