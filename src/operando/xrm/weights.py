"""The shipped SOC network (package data): safetensors weights with a SHA-256 manifest checked on load.

``models/soc_network_snr50.safetensors`` holds the per-pixel network of
:func:`operando.xrm.soc.train_soc_network` (its layers, the input standardisation and the calibrated
error model) for the default spectral model (:class:`operando.xrm.render.RenderConfig`) at SNR 50;
``models/MANIFEST.json`` holds its SHA-256 and the training settings. ``operando xrm train``
rebuilds both.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from operando.errors import InputError

MODELS = Path(__file__).resolve().parent / "models"
SHIPPED = MODELS / "soc_network_snr50.safetensors"
MANIFEST = MODELS / "MANIFEST.json"
REBUILD = "operando xrm train"
TRAIN_SETTINGS = {"snr": 50.0, "seed": 0}


def save_network(network, path: Path, manifest: Path, settings: dict) -> None:
    """Write the network's tensors (safetensors, atomically) and its hash and settings to ``manifest``."""
    import torch

    from operando.atomic import write_text
    from operando.train.checkpoint import save_tensors

    tensors = {f"net.{k}": v for k, v in network.net.state_dict().items()}
    for name in ("centre", "spread", "bin_edges", "sigma_per_jump"):
        tensors[name] = torch.tensor(getattr(network, name), dtype=torch.float64)
    hidden = [m.out_features for m in network.net if isinstance(m, torch.nn.Linear)][:-1]
    save_tensors(path, tensors, metadata={"hidden": json.dumps(hidden), "settings": json.dumps(settings)})
    entry = {"sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "hidden": hidden, "settings": settings}
    write_text(manifest, json.dumps({path.name: entry}, indent=2, sort_keys=True) + "\n")


def load_network(path: Path = SHIPPED, manifest: Path = MANIFEST):
    """The shipped :class:`operando.xrm.soc.SOCNetwork` (CPU), after checking its SHA-256 against the
    manifest; a missing or mismatched file is one :class:`InputError` naming it and the rebuild command."""
    import torch

    from operando.train.checkpoint import load_tensors
    from operando.xrm.soc import SOCNetwork

    hint = f"rebuild it with '{REBUILD}'"
    if not manifest.is_file():
        raise InputError(manifest, f"no such file (the SOC network's manifest); {hint}")
    if not path.is_file():
        raise InputError(path, f"no such file (the shipped SOC network); {hint}")
    try:
        entry = json.loads(manifest.read_text())[path.name]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise InputError(manifest, f"has no entry for {path.name}; {hint}") from None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != entry.get("sha256"):
        raise InputError(path, f"SHA-256 {digest[:12]}... does not match the manifest's "
                               f"{str(entry.get('sha256'))[:12]}...; {hint}")
    state = load_tensors(path)
    layers, d_in = [], state["centre"].numel()
    for h in entry["hidden"]:
        layers += [torch.nn.Linear(d_in, h), torch.nn.Tanh()]
        d_in = h
    net = torch.nn.Sequential(*layers, torch.nn.Linear(d_in, 1), torch.nn.Sigmoid())
    net.load_state_dict({k[len("net."):]: v for k, v in state.items() if k.startswith("net.")})
    net.eval()
    arrays = {k: state[k].numpy().astype(float) for k in ("centre", "spread", "bin_edges", "sigma_per_jump")}
    return SOCNetwork(net, **arrays)


def train_shipped(path: Path = SHIPPED, manifest: Path = MANIFEST, stoich=(0.95, 0.5)) -> Path:
    """Train the shipped network (default spectral model, :data:`TRAIN_SETTINGS`) and write it."""
    from operando.xrm.render import RenderConfig, SpectralModel
    from operando.xrm.soc import train_soc_network

    cfg = RenderConfig(snr=TRAIN_SETTINGS["snr"])
    model = SpectralModel(cfg, *stoich)
    network = train_soc_network(model, snr=cfg.snr, seed=TRAIN_SETTINGS["seed"])
    settings = {**TRAIN_SETTINGS, "render": dataclasses.asdict(cfg), "stoich": list(stoich)}
    save_network(network, path, manifest, json.loads(json.dumps(settings, default=float)))
    return path

