"""The shipped SOC network (package data): safetensors weights with a SHA-256 manifest checked on load.

``models/soc_network_snr50.safetensors`` holds the per-pixel network of
:func:`operando.xrm.soc.train_soc_network` (its layers, the input standardisation and the calibrated
error model) for the default spectral model (:class:`operando.xrm.render.RenderConfig`) at SNR 50;
``models/manifest.json`` (:mod:`operando.shipped`) holds its SHA-256, the command that rebuilds
it (``operando xrm train``) and the training settings.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from operando.errors import InputError
from operando.shipped import check_manifest, write_manifest

MODELS = Path(__file__).resolve().parent / "models"
SHIPPED = MODELS / "soc_network_snr50.safetensors"
REBUILD = "operando xrm train"
TRAIN_SETTINGS = {"snr": 50.0, "seed": 0}


def save_network(network, path: Path, settings: dict) -> None:
    """Write the network's tensors (safetensors, atomically) and the manifest beside them (its
    SHA-256, the rebuild command, the layer widths and ``settings``)."""
    import torch

    from operando.train.checkpoint import save_tensors

    tensors = {f"net.{k}": v for k, v in network.net.state_dict().items()}
    for name in ("centre", "spread", "bin_edges", "sigma_per_jump"):
        tensors[name] = torch.tensor(getattr(network, name), dtype=torch.float64)
    hidden = [m.out_features for m in network.net if isinstance(m, torch.nn.Linear)][:-1]
    save_tensors(path, tensors, metadata={"hidden": json.dumps(hidden), "settings": json.dumps(settings)})
    write_manifest(path.parent, [path.name], REBUILD, hidden=hidden, settings=settings)


def load_network(path: Path = SHIPPED):
    """The shipped :class:`operando.xrm.soc.SOCNetwork` (CPU), after checking its SHA-256 against the
    manifest beside it (:func:`operando.shipped.check_manifest`: a missing or altered file is one
    :class:`InputError` naming it and the rebuild command)."""
    import torch

    from operando.train.checkpoint import load_tensors
    from operando.xrm.soc import SOCNetwork

    manifest = check_manifest(path.parent)
    if path.name not in manifest["files"]:
        raise InputError(path, f"not in the manifest beside it; rebuild it with `{manifest['rebuild']}`")
    state = load_tensors(path)
    layers, d_in = [], state["centre"].numel()
    for h in manifest["hidden"]:
        layers += [torch.nn.Linear(d_in, h), torch.nn.Tanh()]
        d_in = h
    net = torch.nn.Sequential(*layers, torch.nn.Linear(d_in, 1), torch.nn.Sigmoid())
    net.load_state_dict({k[len("net."):]: v for k, v in state.items() if k.startswith("net.")})
    net.eval()
    arrays = {k: state[k].numpy().astype(float) for k in ("centre", "spread", "bin_edges", "sigma_per_jump")}
    return SOCNetwork(net, **arrays)


def train_shipped(path: Path = SHIPPED, stoich=(0.95, 0.5)) -> Path:
    """Train the shipped network (default spectral model, :data:`TRAIN_SETTINGS`) and write it."""
    from operando.xrm.render import RenderConfig, SpectralModel
    from operando.xrm.soc import train_soc_network

    cfg = RenderConfig(snr=TRAIN_SETTINGS["snr"])
    model = SpectralModel(cfg, *stoich)
    network = train_soc_network(model, snr=cfg.snr, seed=TRAIN_SETTINGS["seed"])
    settings = {**TRAIN_SETTINGS, "render": dataclasses.asdict(cfg), "stoich": list(stoich)}
    save_network(network, path, json.loads(json.dumps(settings, default=float)))
    return path

