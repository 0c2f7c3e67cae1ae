"""Head to head on OpIRBench: the 1D route (MeanFlow + SiT1D on spectra) against the image route
(MeanFlow + SiT2D on the VAE latents of waveform images, arXiv 2602.18551 Sec. 3 / App. D).

Both routes get the same MeanFlow training (``--steps``, batch size, learning rate, seed: the
defaults of :func:`operando.ir.models.generative.default_training`), the same conditions and the
same chemical-flow target; the image route additionally trains its VAE first (``--vae-steps``).
For each route and split it records

* ``fit_seconds`` (everything: for the image route drawing, VAE training, encoding and MeanFlow),
  ``vae_seconds`` (VAE training alone) and ``flow_seconds_per_step`` (from the trainer's
  metrics.csv);
* ``predict_seconds``: forecasting the whole test set (``n_samples`` draws averaged per spectrum);
* parameter counts: the flow network, the VAE (image route) and their total;
* the seven OpIRBench metrics (mean over test spectra; DILATE over test experiments);
* for the image route, the floors its autoencoder sets: the MAE of the test spectra after
  chemical flow -> image -> spectrum (``draw_floor_MAE``) and after chemical flow -> image ->
  latent -> image -> spectrum (``vae_floor_MAE``) - what a perfect latent generator would score.

Writes ``<out>/routes.json`` and ``<out>/routes.md`` (atomic; rewritten after every run, so a
partial run leaves its finished rows), the bench files of every run under ``<out>/results``
and the training folders under ``<out>/train/<route>-<split>`` (an existing folder is resumed:
use a fresh ``--out`` after changing settings).

Smoke run (a couple of minutes, numbers meaningless)::

    python benchmarks/ir/bench_routes.py --data outputs/opirspec7k-sim.h5 --split random \\
        --steps 5 --vae-steps 5 --stride 20 --image-size 32 --threads 1 --out outputs/routes-smoke

Full CPU run: see docs/ir/image-route.md for the size that fits an hour on 2 cores.
"""
from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from ablation import thin  # noqa: E402 - the sibling script (benchmarks/ is sys.path[0] when run)

from operando.atomic import write_text
from operando.ir.bench.metrics import METRIC_NAMES, METRIC_SCALES
from operando.ir.bench.runner import evaluate, markdown_table, save_result
from operando.ir.bench.splits import get_split
from operando.ir.data.dataset import OperandoDataset
from operando.ir.data.preprocess import preprocess_dataset
from operando.ir.models import WAVEFORM_CPU_BACKBONE
from operando.ir.models.generative import FlowForecaster, FlowModelConfig, default_training
from operando.ir.models.latent import WaveformFlowForecaster

ROUTES = ("spectrum", "waveform")


def build(route: str, args, run_dir: Path) -> FlowForecaster:
    """The forecaster of one route with the shared training settings."""
    training = default_training("meanflow", args.seed)
    training.steps = args.steps
    if args.batch_size:
        training.batch_size = args.batch_size
    if args.lr:
        training.lr = args.lr
    if args.device:
        training.device = args.device
    if route == "spectrum":
        model = FlowModelConfig(objective="meanflow", preset=args.preset_1d, n_samples=args.n_samples)
        return FlowForecaster(seed=args.seed, model=model, training=training, run_dir=run_dir)
    overrides = dict(WAVEFORM_CPU_BACKBONE) if args.preset_2d == "small" and not args.no_narrow else {}
    waveform = {"height": args.image_size, "width": args.image_width or args.image_size,
                "vae_training": {"steps": args.vae_steps}}
    if args.vae_base_channels:
        waveform["vae"] = {"base_channels": args.vae_base_channels}
    model = FlowModelConfig(objective="meanflow", representation="waveform", preset=args.preset_2d,
                            n_samples=args.n_samples, model_overrides=overrides, waveform=waveform)
    return WaveformFlowForecaster(seed=args.seed, model=model, training=training, run_dir=run_dir)


def last_seconds(path: Path) -> float | None:
    """The ``seconds`` column of the last row of a metrics CSV (None if absent)."""
    if not path.is_file():
        return None
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return float(rows[-1]["seconds"]) if rows else None


def autoencoder_floors(model: WaveformFlowForecaster, ds: OperandoDataset, split) -> dict[str, float]:
    """MAE of the test spectra after flow -> image -> spectrum, and through the VAE as well
    (only the first when the model has no VAE yet: ``--floors-only``)."""
    has_vae = getattr(model, "vae", None) is not None
    drawn_errors, vae_errors = [], []
    for name, steps in split.test.items():
        e = ds[name]
        true = e.absorbance[steps].astype(np.float64)
        s0 = np.repeat(e.absorbance[:1].astype(np.float64), len(steps), axis=0)
        flow = model.encode_target(true, s0)
        images = model.target_images(flow)
        drawn = model.images_to_targets(images, true.shape[1])
        drawn_errors.append(np.abs(model.decode_target(drawn, s0) - true).mean(axis=1))
        if has_vae:
            through = model.latents_to_targets(model.images_to_latents(images), true.shape[1])
            vae_errors.append(np.abs(model.decode_target(through, s0) - true).mean(axis=1))
    floors = {"draw_floor_MAE": float(np.concatenate(drawn_errors).mean())}
    if has_vae:
        floors["vae_floor_MAE"] = float(np.concatenate(vae_errors).mean())
    return floors


def drawing_floor(split, ds: OperandoDataset, args) -> dict:
    """``--floors-only``: the drawing floor of the image route at the chosen size, no training."""
    from operando.ir.bench.task import masked

    model = build("waveform", args, run_dir=None)
    model.fit_drawing([masked(ds[name], steps) for name, steps in split.train.items() if len(steps)])
    return {"split": split.name, "image_size": f"{model.route.height}x{model.route.width}",
            "n_test_spectra": split.n_test, **autoencoder_floors(model, ds, split)}


def run_one(route: str, split, ds: OperandoDataset, args) -> dict:
    run_dir = args.out / "train" / f"{route}-{split.name}"
    model = build(route, args, run_dir)
    result = evaluate(model, ds, split, coverage_samples=args.coverage_samples or None)
    save_result(result, args.out / "results")
    summary = result.summary()
    record = {"route": route, "split": split.name, "model": result.model, "train_steps": args.steps,
              "n_train_spectra": split.n_train, "n_test_spectra": split.n_test,
              "fit_seconds": result.fit_seconds, "predict_seconds": result.predict_seconds}
    flow_seconds = last_seconds(run_dir / "metrics.csv")
    record["flow_seconds"] = flow_seconds
    record["flow_seconds_per_step"] = None if flow_seconds is None else flow_seconds / args.steps
    if route == "waveform":
        record.update({f"{k}_parameters": v for k, v in model.parameter_counts().items()})
        record["vae_seconds"] = last_seconds(run_dir / "vae_metrics.csv")
        record["image_size"] = f"{model.route.height}x{model.route.width}"
        record["latent_shape"] = [model.net.config.in_channels, *model.route.latent_size]
        record.update(autoencoder_floors(model, ds, split))
    else:
        flow = sum(p.numel() for p in model.net.parameters())
        record.update({"flow_parameters": flow, "vae_parameters": 0, "total_parameters": flow})
    for m in METRIC_NAMES:
        record[m] = summary[m]["mean"]
        record[f"{m}_std"] = summary[m]["std"]
    if "coverage90" in summary:
        record["coverage90"] = summary["coverage90"]["mean"]
    return record


def markdown(records: list[dict], args) -> str:
    lines = [f"1D route vs image route on OpIRBench: {args.steps} MeanFlow steps each (seed {args.seed}); "
             f"image route at {args.image_size}x{args.image_width or args.image_size} with "
             f"{args.vae_steps} VAE steps; stride {args.stride}. Metrics: mean over test spectra "
             "(DILATE: over test experiments). Floors: MAE of the true test spectra after drawing "
             "(draw) and after drawing + VAE (vae).", ""]
    rows = []
    for r in records:
        row = {"route": r["route"], "split": r["split"],
               "params (flow + VAE)": f"{r['flow_parameters']:,} + {r['vae_parameters']:,}",
               "fit [s]": f"{r['fit_seconds']:.1f}",
               "VAE [s]": "-" if r.get("vae_seconds") is None else f"{r['vae_seconds']:.1f}",
               "s / flow step": "-" if r["flow_seconds_per_step"] is None else f"{r['flow_seconds_per_step']:.3f}",
               "predict [s]": f"{r['predict_seconds']:.2f}"}
        for m in METRIC_NAMES:
            scale = METRIC_SCALES.get(m, 1.0)
            suffix = "" if scale == 1.0 else f" (x{scale:.0e})".replace("e-0", "e-")
            row[f"{m}{suffix}"] = f"{r[m] / scale:.4g}"
        for floor in ("draw_floor_MAE", "vae_floor_MAE"):
            row[f"{floor.split('_')[0]} floor MAE (x1e-2)"] = "-" if floor not in r else f"{r[floor] / 1e-2:.4g}"
        rows.append(row)
    return "\n".join(lines) + "\n" + markdown_table(pd.DataFrame(rows))


def write_outputs(records: list[dict], args) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    write_text(args.out / "routes.json", json.dumps({"settings": settings, "runs": records}, indent=2) + "\n")
    write_text(args.out / "routes.md", markdown(records, args))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="operando dataset (.h5)")
    parser.add_argument("--split", choices=("random", "system", "both"), default="both")
    parser.add_argument("--steps", type=int, default=3000, help="MeanFlow training steps of both routes")
    parser.add_argument("--vae-steps", type=int, default=1000, help="VAE training steps of the image route")
    parser.add_argument("--image-size", type=int, default=64, help="image height H (and width unless --image-width)")
    parser.add_argument("--image-width", type=int, default=None, help="image width W (default: --image-size)")
    parser.add_argument("--vae-base-channels", type=int, default=None, help="VAE width (default: the route's, 16)")
    parser.add_argument("--preset-1d", default="small", help="SiT1D preset of the 1D route")
    parser.add_argument("--preset-2d", default="small", help="SiT2D preset of the image route")
    parser.add_argument("--no-narrow", action="store_true",
                        help="keep SiT2D `small` as it is (default: narrowed to SiT1D small's hidden 128, depth 4)")
    parser.add_argument("--batch-size", type=int, default=None, help="MeanFlow batch size (default 64)")
    parser.add_argument("--lr", type=float, default=None, help="MeanFlow learning rate (default 1e-3)")
    parser.add_argument("--n-samples", type=int, default=4, help="draws averaged into a point forecast")
    parser.add_argument("--coverage-samples", type=int, default=0, help="draws for coverage90 (0: skip)")
    parser.add_argument("--routes", nargs="+", choices=ROUTES, default=list(ROUTES))
    parser.add_argument("--stride", type=int, default=1, help="keep every n-th spectrum of each cell (smoke runs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="trainer device (auto, cpu, cuda); default auto")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's choice); 1 when other jobs share the cores")
    parser.add_argument("--out", type=Path, default=Path("outputs/routes"))
    parser.add_argument("--floors-only", action="store_true",
                        help="no training: print the image route's drawing floor (MAE of the test spectra "
                             "after flow -> image -> spectrum) at the chosen size and write floors.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    ds = OperandoDataset.load(args.data)
    if args.stride > 1:
        ds = OperandoDataset([thin(e, args.stride) for e in ds], simulated=ds.simulated, description=ds.description)
    ds = preprocess_dataset(ds)
    splits = ("random", "system") if args.split == "both" else (args.split,)
    records = []
    for split_name in splits:
        split = get_split(ds, split_name, args.out / "splits" / f"stride{args.stride}", seed=args.seed)
        print(f"[{split_name}] {split.n_train} train / {split.n_test} test spectra", flush=True)
        if args.floors_only:
            records.append(drawing_floor(split, ds, args))
            print(f"  {records[-1]['image_size']}: drawing floor MAE {records[-1]['draw_floor_MAE'] / 1e-2:.3f}e-2",
                  flush=True)
            write_text(args.out / "floors.json", json.dumps(records, indent=2) + "\n")
            continue
        for route in args.routes:
            started = time.perf_counter()
            record = run_one(route, split, ds, args)
            records.append(record)
            write_outputs(records, args)
            floor = f"  VAE floor MAE {record['vae_floor_MAE'] / 1e-2:.3f}e-2" if "vae_floor_MAE" in record else ""
            print(f"  {route:8s} MAE {record['MAE'] / 1e-2:.3f}e-2  DILATE {record['DILATE']:.4f}  "
                  f"fit {record['fit_seconds']:.1f} s  predict {record['predict_seconds']:.2f} s  "
                  f"params {record['total_parameters']:,}{floor}  ({time.perf_counter() - started:.0f} s)", flush=True)
    if args.floors_only:
        print(f"wrote {args.out / 'floors.json'}")
        return
    print((args.out / "routes.md").read_text())
    print(f"wrote {args.out / 'routes.json'} and {args.out / 'routes.md'}")


if __name__ == "__main__":
    main()
