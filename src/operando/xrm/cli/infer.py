"""``operando xrm infer``: current, potential and conductivity maps from SOC maps (Kirchhoff MRF)."""
from __future__ import annotations

from pathlib import Path

from operando.atomic import FORCE_HELP


def register(sub) -> None:
    p = sub.add_parser(
        "infer", help="infer interfacial current, ionic current, electrolyte potential and conductivity maps",
        description="Read SOC maps over time with the applied current and cell voltage (an 'operando xrm "
                    "simulate' file), infer the most probable current, potential and effective-conductivity "
                    "maps under Kirchhoff, Ohm and symmetric Butler-Volmer (a Gaussian Markov random field), "
                    "and write them with their posterior std as HDF5 plus PNG maps.")
    p.add_argument("maps", type=Path, nargs="?", help="HDF5 from 'operando xrm simulate'")
    p.add_argument("--xrm", type=Path, nargs=2, action="append", metavar=("SAMPLE", "FLAT"),
                   help="Xradia .xrm/.txrm sample frame and its flat field (repeat per energy); with frames "
                        "at two energies the output is an edge-jump map, NOT an SOC map")
    p.add_argument("--stack", type=Path, default=None,
                   help="HDF5 image stack (Data Exchange names: exchange/data, data_white, data_dark, energy, "
                        "time), flat- and dark-field corrected to optical density")
    p.add_argument("--echem", type=Path, default=None,
                   help="with --stack: electrochemistry record (.mpt/.mpr/.csv) whose voltage and current are "
                        "stored at the frame times; it must cover every frame")
    p.add_argument("-o", "--output", required=True, type=Path, help="output file (.h5); PNG written beside it")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.add_argument("--soc-noise", type=float, default=None,
                   help="add Gaussian noise of this std to the SOC maps first (seeded), to probe robustness")
    p.add_argument("--seed", type=int, default=0, help="seed of --soc-noise (default 0)")
    p.set_defaults(func=run)


def run(args) -> int:
    import dataclasses
    import json
    import time

    import numpy as np

    from operando.atomic import refuse_overwrite, write_text
    from operando.errors import InputError
    from operando.xrm import truth as tr
    from operando.xrm.inference import save_maps_png, write_inference
    from operando.xrm.mrf import MRFConfig, run_mrf

    refuse_overwrite(args.output, args.force, what="inference file")
    if args.stack is not None:
        if args.maps is not None or args.xrm:
            raise InputError(args.stack, "give one input: simulated maps, --xrm frames or --stack")
        return _run_stack(args)
    if args.echem is not None:
        raise InputError(args.echem, "--echem goes with --stack")
    if args.xrm:
        if args.maps is not None:
            raise InputError(args.maps, "give either simulated maps or --xrm frames, not both")
        return _run_xradia(args)
    if args.maps is None:
        raise InputError(None, "give simulated maps (HDF5) or --xrm SAMPLE FLAT frames")
    truth = tr.read_truth(args.maps)
    if truth.electrode is None:
        raise InputError(args.maps, "has no electrode model (attribute 'electrode'); write it with 'operando xrm simulate'")
    soc = truth.fields[tr.SOC]
    cfg = MRFConfig()
    if args.soc_noise:
        if args.soc_noise < 0:
            raise InputError(None, f"--soc-noise must be >= 0, got {args.soc_noise}")
        soc = soc + np.random.default_rng(args.seed).normal(0.0, args.soc_noise, soc.shape)
        cfg = dataclasses.replace(cfg, soc_sigma=max(cfg.soc_sigma, args.soc_noise))
    fr = truth.frames
    start = time.perf_counter()
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        res = run_mrf(soc, fr[tr.TIME], fr[tr.CURRENT], fr[tr.VOLTAGE], truth.dx, truth.electrode, cfg,
                      where=str(args.maps))
    seconds = time.perf_counter() - start
    config = {"input": str(args.maps), "mrf": dataclasses.asdict(cfg), "soc_noise": args.soc_noise,
              "seed": args.seed, "seconds": seconds}
    write_inference(args.output, res, soc=soc, config=config)
    write_text(args.output.with_suffix(".config.json"), json.dumps(config, indent=2, sort_keys=True) + "\n")
    maps = {tr.SOC: 0.5 * (soc[1:] + soc[:-1])}
    maps.update({k: res.fields[k] for k in (tr.J, tr.IE, tr.PHI_E, tr.KAPPA)})
    png = save_maps_png(args.output.with_suffix(".png"), maps, res.times_s, title=str(args.maps.name))
    print(f"{args.output}: MRF maps of {soc.shape[0] - 1} intervals in {seconds:.1f} s; maps {png}")
    return 0


def _run_xradia(args) -> int:
    import json

    import h5py
    import numpy as np

    from operando.atomic import atomic_path, write_text
    from operando.errors import InputError
    from operando.xrm.inference import save_maps_png
    from operando.xrm.io import xradia

    ods, energies = [], []
    for sample, flat in args.xrm:
        s = xradia.read_xrm(sample)
        od = xradia.optical_density(s, xradia.read_xrm(flat))
        ods.append(od)
        energies.extend(s.energy_eV.tolist())
    od = np.concatenate(ods)
    if len({o.shape[1:] for o in ods}) != 1:
        raise InputError(args.xrm[1][0], "frames of different sizes")
    order = np.argsort(energies)
    od, energies = od[order], np.asarray(energies)[order]
    text = xradia.capability(energies)
    with atomic_path(args.output) as tmp:
        with h5py.File(tmp, "w") as h:
            h.attrs["format"] = "operando.xrm.xradia/1"
            h.attrs["capability"] = text
            h.create_dataset("Energy [eV]", data=energies)
            h.create_dataset("Optical density", data=od, compression="gzip")
            if len(energies) >= 2:
                h.create_dataset("Edge jump", data=xradia.edge_jump_map(od[0], od[-1]), compression="gzip")
    config = {"xrm": [[str(a), str(b)] for a, b in args.xrm], "energies_eV": energies.tolist(), "capability": text}
    write_text(args.output.with_suffix(".config.json"), json.dumps(config, indent=2) + "\n")
    maps = {"Optical density": od[-1][None, ::4, ::4]}
    if len(energies) >= 2:
        maps["Edge jump"] = xradia.edge_jump_map(od[0], od[-1])[None, ::4, ::4]
    save_maps_png(args.output.with_suffix(".png"), maps, [0.0], n_cols=1, title=text.split(":")[0],
                  cross_section=False)
    print(f"{args.output}: {text}")
    return 0


def _run_stack(args) -> int:
    """Corrected optical-density stack (+ record at the frames) as HDF5 and a PNG; everything is read
    and checked before anything is written."""
    import json

    import h5py
    import numpy as np

    from operando.atomic import atomic_path, write_text
    from operando.xrm.inference import save_maps_png
    from operando.xrm.io.hdf5_stack import current_at_frames, read_image_stack

    stack = read_image_stack(args.stack)
    voltage = current = None
    if args.echem is not None:
        from operando.echem.eclab import read_echem

        voltage, current = current_at_frames(stack, read_echem(args.echem))
    od = stack.optical_density
    with atomic_path(args.output) as tmp:
        with h5py.File(tmp, "w") as h:
            h.attrs["format"] = "operando.xrm.stack/1"
            h.attrs["capability"] = stack.capability
            h.create_dataset("Energy [eV]", data=stack.energy_eV)
            h.create_dataset("Optical density", data=od, compression="gzip")
            if stack.times_s is not None:
                h.create_dataset("Time [s]", data=stack.times_s)
            if voltage is not None:
                h.create_dataset("Voltage [V]", data=voltage)
            if current is not None:
                h.create_dataset("Current [mA]", data=current)
    config = {"stack": str(args.stack), "echem": None if args.echem is None else str(args.echem),
              "energies_eV": stack.energy_eV.tolist(), "capability": stack.capability}
    write_text(args.output.with_suffix(".config.json"), json.dumps(config, indent=2) + "\n")
    step = max(1, max(od.shape[1:3]) // 256)
    jump = od[..., -1] - od[..., 0]
    save_maps_png(args.output.with_suffix(".png"), {"Edge jump (last - first energy)": jump[:, ::step, ::step]},
                  np.zeros(1) if stack.times_s is None else stack.times_s, n_cols=min(4, od.shape[0]),
                  title=stack.capability.split(":")[0], cross_section=False)
    print(f"{args.output}: {od.shape[0]} frames, {stack.capability}")
    return 0
