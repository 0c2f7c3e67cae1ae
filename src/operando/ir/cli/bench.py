"""``operando ir bench``: score models on OpIRBench and write the paper-style tables."""
from __future__ import annotations

from pathlib import Path

SPLIT_CHOICES = ("random", "system", "both")


def register(sub) -> None:
    p = sub.add_parser("bench", help="score models on the OpIRBench random/system splits")
    p.add_argument("--data", required=True, type=Path, help="dataset (.h5), e.g. from `operando ir simulate`")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--model", action="append", help="registered model name (repeatable)")
    group.add_argument("--all", action="store_true", help="every registered model")
    p.add_argument("--split", choices=SPLIT_CHOICES, default="both")
    p.add_argument("--out", type=Path, default=Path("results"), help="results folder")
    p.add_argument("--seed", type=int, default=0,
                   help="training seed of the models (results of seed N > 0 go to <model>/seed-N/; "
                        "run three seeds for the seeds.md table)")
    p.add_argument("--split-seed", type=int, default=0,
                   help="seed of the splits (default 0: OpIRBench's; changing it changes the benchmark)")
    p.add_argument("--train-steps", type=int, default=None,
                   help="override the training steps of the flow models")
    p.add_argument("--quick", action="store_true", help="tiny training budgets (smoke runs only)")
    p.add_argument("--force", action="store_true",
                   help="replace earlier results of the same model, split and seed in --out (without it they are "
                        "refused; other results in --out are kept either way)")
    p.set_defaults(func=run)


def run(args) -> int:
    from operando.ir.bench.suite import run_suite
    from operando.ir.models import MODEL_REGISTRY

    models = sorted(MODEL_REGISTRY) if args.all else args.model
    splits = ("random", "system") if args.split == "both" else (args.split,)
    refuse_earlier_results(args.out, models, splits, args.seed, args.force)
    tables = run_suite(args.data, models, splits, args.out, seed=args.seed, split_seed=args.split_seed,
                       train_steps=args.train_steps, quick=args.quick)
    for md in tables.values():
        print(md.read_text())
    return 0


def refuse_earlier_results(out: Path, models, splits, seed: int, force: bool) -> None:
    """The overwrite rule for a results folder that collects many runs: refuse (unless ``force``)
    only the results this command would replace -- the same model, split and seed."""
    from operando.errors import InputError
    from operando.ir.bench.runner import slug
    from operando.ir.models import build_model

    out = Path(out)
    if force or not any((out / split).is_dir() for split in splits):
        return
    found = []
    for name in models:
        folder = Path(slug(build_model(name, seed).name))  # results are filed under the model's display name
        if seed:
            folder = folder / f"seed-{seed}"
        found += [f"{split}/{folder}" for split in splits if (out / split / folder / "summary.json").is_file()]
    if found:
        shown = ", ".join(found[:6]) + (f" and {len(found) - 6} more" if len(found) > 6 else "")
        raise InputError(out, f"holds earlier results of {shown}; pass --force to overwrite them")
