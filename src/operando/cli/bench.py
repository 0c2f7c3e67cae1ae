"""``operando bench``: score models on OpIRBench and write the paper-style tables."""
from __future__ import annotations

from pathlib import Path

SPLIT_CHOICES = ("random", "system", "both")


def register(sub) -> None:
    p = sub.add_parser("bench", help="score models on the OpIRBench random/system splits")
    p.add_argument("--data", required=True, type=Path, help="dataset (.h5), e.g. from `operando simulate`")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--model", action="append", help="registered model name (repeatable)")
    group.add_argument("--all", action="store_true", help="every registered model")
    p.add_argument("--split", choices=SPLIT_CHOICES, default="both")
    p.add_argument("--out", type=Path, default=Path("results"), help="results folder")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args) -> int:
    from operando.bench.runner import evaluate, noise_floor, save_result, write_tables
    from operando.bench.splits import get_split
    from operando.data.dataset import OperandoDataset
    from operando.data.preprocess import preprocess_dataset
    from operando.models import MODEL_REGISTRY, build_model

    names = sorted(MODEL_REGISTRY) if args.all else args.model
    for name in names:
        if name not in MODEL_REGISTRY:
            build_model(name)  # raises the clear "unknown model" error
    ds = preprocess_dataset(OperandoDataset.load(args.data))
    splits = ("random", "system") if args.split == "both" else (args.split,)
    for split_name in splits:
        split = get_split(ds, split_name, args.out / "splits", seed=args.seed)
        print(f"[{split_name}] {split.n_train} train / {split.n_test} test spectra")
        floor = noise_floor(ds, split)
        if floor is not None:
            save_result(floor, args.out)
        for name in names:
            result = evaluate(build_model(name, seed=args.seed), ds, split)
            save_result(result, args.out)
            s = result.summary()
            print(f"  {result.model:<28s} MAE {s['MAE']['mean'] / 1e-2:7.3f}e-2  "
                  f"DILATE {s['DILATE']['mean']:9.4f}  fit {result.fit_seconds:6.1f}s  "
                  f"predict {result.predict_seconds:5.2f}s")
        csv, md = write_tables(args.out, split_name)
        print(f"  table: {md}")
        print(md.read_text())
    return 0
