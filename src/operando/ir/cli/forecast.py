"""``operando ir forecast``: forecast your cell's operando IR sequence from one static spectrum.

Reads the static spectrum ``--spectrum FILE`` (Bruker OPUS, JCAMP-DX, CSV/TXT; absorbance
covering 800-2000 cm-1), the voltage profile ``--voltage FILE`` (EC-Lab .mpt/.mpr, or a CSV
with 'Time [s]', 'Voltage [V]' and optionally 'Current [mA]') and ``--meta experiment.json``,
and lets the trained model of ``--run RUN`` (default: the shipped forecaster) forecast the spectrum at every step of the profile
(thinned with --every or --steps). Writes into ``-o DIR``, all at once: forecast_mean.csv
(absorbance; with --samples also forecast_std/low/high.csv, the 90% interval), steps.csv,
forecast.json and the heatmap / stage plots.
"""
from __future__ import annotations

from pathlib import Path

from operando.atomic import FORCE_HELP


def register(sub) -> None:
    p = sub.add_parser("forecast", help="forecast the operando sequence of your cell from one static spectrum",
                       description=__doc__.split("\n\n", 1)[1])
    p.add_argument("--run", type=Path, default=None, metavar="RUN",
                   help="run folder from `operando ir train` (default: the shipped ABCC forecaster)")
    p.add_argument("--spectrum", required=True, type=Path, metavar="FILE",
                   help="static spectrum before cycling (OPUS, JCAMP-DX, CSV/TXT)")
    p.add_argument("--voltage", required=True, type=Path, metavar="FILE",
                   help="voltage profile: EC-Lab .mpt/.mpr or CSV with 'Time [s]','Voltage [V]'[,'Current [mA]']")
    p.add_argument("--meta", required=True, type=Path, metavar="JSON", help="experiment.json describing the cell")
    p.add_argument("-o", "--output", required=True, type=Path, metavar="DIR",
                   help="output folder (new, empty, or with --force an earlier forecast folder, which is replaced)")
    p.add_argument("--samples", type=int, default=None, metavar="N",
                   help="N >= 2 sampled forecasts: adds the per-wavenumber std and 90%% interval")
    p.add_argument("--seed", type=int, default=None, help="seed of the draws (default: the model's)")
    thin = p.add_mutually_exclusive_group()
    thin.add_argument("--every", type=float, default=None, metavar="SECONDS",
                      help="one forecast step every SECONDS from the start of the profile")
    thin.add_argument("--steps", type=int, default=None, metavar="N",
                      help="N forecast steps evenly spaced from the start to the end of the profile")
    p.add_argument("--measured", nargs="+", type=Path, default=None, metavar="FILE",
                   help="spectra measured at steps 1, 2, ... of the profile after the static one: the forecast "
                        "of the rest is corrected on them (few-shot) and starts from the last of them")
    p.add_argument("--convert-transmittance", action="store_true",
                   help="accept a transmittance spectrum and convert it with A = -log10(T)")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.set_defaults(func=run)


def run(args) -> int:
    from operando.atomic import refuse_overwrite
    from operando.ir.forecast import MARKER_FILE, load_model

    refuse_overwrite(args.output, args.force, folder=True, marker=MARKER_FILE, what="forecast")  # before the work
    model = load_model(args.run)
    result = model.forecast(args.spectrum, args.voltage, args.meta, samples=args.samples, seed=args.seed,
                            every_s=args.every, steps=args.steps,
                            convert_transmittance=args.convert_transmittance, measured=args.measured)
    result.save(args.output)
    t, v = result.time_s, result.voltage_v
    draws = (f"{result.info['samples']} draws, 90% interval" if result.info["samples"]
             else f"mean of {result.info['draws_averaged']} draws")
    print(f"{model.name} from {model.run_dir}: {result.n_steps} steps, t = {t[0]:g} .. {t[-1]:g} s, "
          f"{v.min():.3g} .. {v.max():.3g} V ({draws}, seed {result.info['seed']})")
    if args.measured:
        print(f"few-shot: steps 0..{len(args.measured)} are the measured spectra; the rest corrected on them "
              f"(the predicted change from the last of them on, times a gain of {result.info['few_shot_gain']:.3g})")
    if result.info["converted_from_transmittance"]:
        print(f"{args.spectrum}: converted from transmittance (A = -log10 T)")
    if result.info["smoke_run"]:
        from operando.ir.smoke import SMOKE_NOTE

        print(f"WARNING: {model.run_dir} is from a {SMOKE_NOTE}; this forecast means nothing (marked in forecast.json)")
    if not result.info["profile_has_current"]:
        print(f"note: {args.voltage} has no current column; the model was conditioned on zero current")
    print(f"wrote {args.output}/: forecast_mean.csv" + (", forecast_std.csv, forecast_low.csv, forecast_high.csv"
                                                         if result.std is not None else "")
          + ", steps.csv, forecast.json, forecast_heatmap.png, forecast_difference.png, forecast_stages.png")
    return 0
