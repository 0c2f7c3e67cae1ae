"""Train the model that ``operando xas predict`` uses, with its alignment shift and domain statistics.

:func:`train_release` trains SPT on every spectrum of the Cu set (or the folds given), fits the
global energy shift of measured Cu spectra once on the shipped measured CuO reference against the
computed CuO (mp-1692, the same material) and stores the PCA domain statistics
(:func:`operando.xas.predict.fit_domain`) beside the weights. Everything needed to predict is in
the run folder: ``config.json`` (model, training, grid, anchor, element, shift, reference) and
``model.safetensors``.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from operando.xas.align import fit_energy_shift
from operando.xas.dataset import DEFAULT_DIR, load_cu_feff, material_folds
from operando.xas.fit import FitConfig, build_model, fit, save_model
from operando.xas.normalize import normalize
from operando.xas.predict import fit_domain
from operando.xas.read import read_spectrum
from operando.xas.spt import SPTConfig

REFERENCE = Path(__file__).with_name("reference") / "CuO_measured_xaslib.txt"
REFERENCE_COMPUTED = "mp-1692_000"  # CuO tenorite, the structure behind the measured reference


def cu_energy_shift(reference: str | Path = REFERENCE, data_dir=None) -> float:
    """Shift (eV) that puts measured Cu spectra on the computed set's energy scale."""
    s = read_spectrum(reference)
    n = normalize(s.energy, s.mu, source=s.source)
    d = np.load(Path(data_dir or DEFAULT_DIR) / "cu_feff_xanes.npz")
    i = list(d["spectrum_id"]).index(REFERENCE_COMPUTED)
    return fit_energy_shift(s.energy, n.norm, d["e0"][i] + d["e_rel"], d["mu_rel"][i].astype(float))


def train_release(out: str | Path, *, fit_cfg: FitConfig | None = None, spt: dict | None = None,
                  exclude_fold: int | None = None, data_dir=None, rebuild: str | None = None, log=print) -> Path:
    torch.set_num_threads(1)
    fit_cfg = fit_cfg or FitConfig()
    data = load_cu_feff(data_dir) if data_dir else load_cu_feff()
    if exclude_fold is not None:
        data = data.subset(np.nonzero(material_folds(data.material, seed=fit_cfg.seed) != exclude_fold)[0])
    cfg = {**SPTConfig().to_dict(), **(spt or {}), "kind": "spt", "length": data.x.shape[1]}
    model = build_model(cfg)
    t0 = time.time()
    hist = fit(model, data, fit_cfg, log=log)
    shift = cu_energy_shift(data_dir=data_dir)
    extra = {"element": "Cu", "edge": "K", "grid": data.grid.tolist(), "anchor": data.anchor,
             "energy_shift_ev": shift, "alignment_reference": f"{REFERENCE.name} vs {REFERENCE_COMPUTED}",
             "trained_on": f"{len(data)} spectra of the OmniXAS Cu FEFF set"
                           + (f" (fold {exclude_fold} of 5 held out)" if exclude_fold is not None else ""),
             "train_seconds": time.time() - t0, "epochs_run": hist["epochs_run"], "stopped_early": hist["stopped_early"]}
    log(f"trained in {extra['train_seconds']:.0f} s; measured -> computed energy shift {shift:+.2f} eV")
    return save_model(out, model, fit_cfg, extra=extra, tensors=fit_domain(data.x), rebuild=rebuild)
