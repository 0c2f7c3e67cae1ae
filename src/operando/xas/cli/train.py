"""``operando xas train``: train the SPT that ``operando xas predict`` uses (alignment + domain stats)."""
from __future__ import annotations

from operando.atomic import FORCE_HELP


def register(sub) -> None:
    p = sub.add_parser("train", help="train SPT on the Cu FEFF set and save a model folder")
    p.add_argument("--out", default="src/operando/xas/models/spt-cu",
                   help="model folder (default: the one predict uses; replacing it needs --force)")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--exclude-fold", type=int, default=None, help="hold out this fold (of 5, by material)")
    p.add_argument("--data", default=None)
    p.add_argument("--augment", action="store_true", help="measured-like augmentation (operando.xas.fit.augment_batch)")
    p.set_defaults(func=run)


def run(args) -> int:
    from operando.atomic import refuse_overwrite
    from operando.xas.fit import FitConfig
    from operando.xas.release import train_release

    refuse_overwrite(args.out, args.force, folder=True, what="model folder")  # before the training
    rebuild = (f"operando xas train --force --epochs {args.epochs} --seed {args.seed} --out {args.out}"
               + (f" --exclude-fold {args.exclude_fold}" if args.exclude_fold is not None else "")
               + (" --augment" if args.augment else "") + (f" --data {args.data}" if args.data else ""))
    out = train_release(args.out, fit_cfg=FitConfig(epochs=args.epochs, seed=args.seed, augment=args.augment),
                        exclude_fold=args.exclude_fold, data_dir=args.data, rebuild=rebuild)
    print("wrote", out)
    return 0
