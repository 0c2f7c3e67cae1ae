"""``operando xas perturb``: accuracy kept by SPT and the forest under measured-like discrepancies."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("perturb", help="score SPT and the forest on perturbed held-out spectra (one fold)")
    p.add_argument("--record", default="benchmarks/xas/record")
    p.add_argument("--out", default="docs/xas/results.md")
    p.add_argument("--fold", type=int, default=0)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=None)
    p.add_argument("--augment", action="store_true", help="train SPT with measured-like augmentation")
    p.add_argument("--align", action="store_true", help="align each perturbed set with one shift fitted on a reference spectrum")
    p.set_defaults(func=run)


def run(args) -> int:
    from operando.xas.bench import run_perturbation, write_results
    from operando.xas.fit import FitConfig

    print("wrote", run_perturbation(args.record, fold=args.fold, seed=args.seed,
                                    fit_cfg=FitConfig(epochs=args.epochs, seed=args.seed, augment=args.augment), data_dir=args.data,
                                    align=args.align))
    print("wrote", write_results(args.record, args.out))
    return 0
