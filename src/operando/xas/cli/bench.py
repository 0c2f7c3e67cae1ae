"""``operando xas bench``: k-fold benchmark by material; regenerates docs/xas/results.md."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("bench", help="benchmark SPT, ablations and baselines on the Cu FEFF set")
    p.add_argument("--record", default="benchmarks/xas/record", help="folder of per-(fold, model) JSON results")
    p.add_argument("--out", default="docs/xas/results.md", help="results page generated from the record")
    p.add_argument("--models", nargs="*", default=None, help="subset of models (default: all)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--only-folds", type=int, nargs="*", default=None, help="run only these folds")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=None, help="Cu set folder (default ../shared/data/omnixas-cu-feff beside the checkout)")
    p.add_argument("--force", action="store_true", help="recompute results already in the record")
    p.add_argument("--report-only", action="store_true", help="only regenerate the page from the record")
    p.set_defaults(func=run)


def run(args) -> int:
    from operando.xas.bench import run_bench, write_results
    from operando.xas.fit import FitConfig

    if not args.report_only:
        run_bench(args.record, models=args.models, folds=args.folds, only_folds=args.only_folds, seed=args.seed,
                  fit_cfg=FitConfig(epochs=args.epochs, seed=args.seed), data_dir=args.data, force=args.force)
    print("wrote", write_results(args.record, args.out))
    return 0
