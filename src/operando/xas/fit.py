"""Seeded supervised training of the XAS networks, safetensors checkpoints, batched prediction.

The project's trainer (:mod:`operando.train.trainer`) is built around flow objectives; the XAS
heads need a plain supervised multi-task loss, so this module keeps a short seeded loop instead:

``loss = CE_w(cn) + CE_w(os) + MSE(standardised CN2, OCN, distance)``, where ``CE_w`` is
cross-entropy with class weights ``(n_max / n_c) ** 0.5`` (classes with fewer spectra count more;
the square root keeps the majority class from being drowned), OS rows without a BVAnalyzer label
are left out of the OS term, NaN regression targets out of the MSE. AdamW, cosine learning rate,
``torch.manual_seed(seed)`` before building and shuffling. Inputs are scaled inside the
networks by the training set's mean spectrum and standard deviation (buffers set here). Run folders hold ``config.json``
(model + training settings, seed) beside ``model.safetensors`` and ``manifest.json`` (the SHA-256
of both and the command that rebuilds the folder); nothing is pickled, :func:`load_model` checks
the manifest before reading anything and reads onto the CPU.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from operando.atomic import atomic_path
from operando.errors import InputError
from operando.shipped import MANIFEST, check_manifest, write_manifest
from operando.train.checkpoint import load_tensors, save_tensors
from operando.xas.baselines import CNN1D, MLP, NetConfig, regression_targets
from operando.xas.spt import SPT, SPTConfig


@dataclass
class FitConfig:
    epochs: int = 30
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    time_limit_s: float = 540.0  # stop early (and say so) rather than exceed the 10-minute budget
    # measured-like augmentation of half of every batch (off by default; see augment_batch)
    augment: bool = False
    aug_broaden_max_ev: float = 2.0
    aug_scale: float = 0.1
    aug_shift_max_ev: float = 0.5
    aug_snr_min: float = 30.0

    def to_dict(self) -> dict:
        return asdict(self)


def build_model(config: dict) -> nn.Module:
    """A network from its config dict (``kind``: spt, cnn or mlp)."""
    kind = config.get("kind", "spt")
    if kind == "spt":
        return SPT(SPTConfig(**config))
    if kind in ("cnn", "mlp"):
        return (CNN1D if kind == "cnn" else MLP)(NetConfig(**config))
    raise ValueError(f"unknown model kind {kind!r}")


def class_weights(labels: np.ndarray, n: int) -> torch.Tensor:
    counts = np.bincount(labels[labels >= 0], minlength=n).astype(float)
    w = np.where(counts > 0, (counts.max() / np.maximum(counts, 1)) ** 0.5, 0.0)
    return torch.tensor(w, dtype=torch.float32)


def augment_batch(x: torch.Tensor, step_ev: float, cfg: FitConfig, gen: torch.Generator) -> torch.Tensor:
    """Measured-like copies of half the rows of ``x`` (B, L) on a grid of ``step_ev``: Gaussian
    broadening with one FWHM per batch drawn from U(0, ``aug_broaden_max_ev``), a rigid shift
    per row from U(-``aug_shift_max_ev``, +``aug_shift_max_ev``) (kept small: the chemical shift
    carries the OS), an edge-step factor per row from U(1 - ``aug_scale``, 1 + ``aug_scale``) and
    white noise at an SNR from U(``aug_snr_min``, 300). The other half is left clean."""
    B, L = x.shape
    pick = torch.rand(B, generator=gen) < 0.5
    if not pick.any():
        return x
    y = x[pick]
    fwhm = float(torch.rand(1, generator=gen)) * cfg.aug_broaden_max_ev
    sigma = fwhm / 2.3548 / step_ev
    if sigma > 0.3:
        half = int(4 * sigma) + 1
        k = torch.exp(-0.5 * (torch.arange(-half, half + 1, dtype=x.dtype) / sigma) ** 2)
        k = (k / k.sum()).view(1, 1, -1)
        y = torch.nn.functional.conv1d(torch.nn.functional.pad(y.unsqueeze(1), (half, half), mode="replicate"), k).squeeze(1)
    if cfg.aug_shift_max_ev > 0:
        sh = (torch.rand(len(y), 1, generator=gen) * 2 - 1) * cfg.aug_shift_max_ev / step_ev  # in grid points
        pos = (torch.arange(L, dtype=x.dtype).unsqueeze(0) - sh).clamp(0, L - 1)
        lo = pos.floor().long().clamp(max=L - 2)
        w = pos - lo
        y = torch.gather(y, 1, lo) * (1 - w) + torch.gather(y, 1, lo + 1) * w
    y = y * (1 + (torch.rand(len(y), 1, generator=gen) * 2 - 1) * cfg.aug_scale)
    snr = cfg.aug_snr_min + torch.rand(len(y), 1, generator=gen) * (300 - cfg.aug_snr_min)
    y = y + torch.randn(y.shape, generator=gen) / snr
    out = x.clone()
    out[pick] = y
    return out


def fit(model: nn.Module, train, cfg: FitConfig, *, log=None, fine_tune: bool = False) -> dict:
    """Train ``model`` on an :class:`~operando.xas.dataset.XasSet`; returns a small history dict.

    ``fine_tune=True`` continues a trained model: its input scaling, chosen Fourier components and
    regression scaling are kept (not refitted on ``train``), only the weights move."""
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    x = torch.as_tensor(train.x, dtype=torch.float32)
    y_cn = torch.as_tensor(train.cn_cls, dtype=torch.long)
    y_os = torch.as_tensor(train.os_cls, dtype=torch.long)
    reg = regression_targets(train)
    if not fine_tune:
        model.reg_mean.copy_(torch.as_tensor(np.nanmean(reg, axis=0), dtype=torch.float32))
        model.reg_std.copy_(torch.as_tensor(np.nanstd(reg, axis=0) + 1e-6, dtype=torch.float32))
        model.x_mean.copy_(x.mean(0))
        model.x_scale.copy_((x - x.mean(0)).std())
        if isinstance(model, SPT) and model.config.use_fft:
            model.select_dominant_frequencies(x)
    y_reg = (torch.as_tensor(reg, dtype=torch.float32) - model.reg_mean) / model.reg_std
    ce_cn = nn.CrossEntropyLoss(weight=class_weights(train.cn_cls, model.config.n_cn))
    ce_os = nn.CrossEntropyLoss(weight=class_weights(train.os_cls, model.config.n_os), ignore_index=-1)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    n = len(x)
    step_ev = float(train.grid[1] - train.grid[0])
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    t0 = time.time()
    history = {"loss": [], "stopped_early": False}
    model.train()
    for epoch in range(cfg.epochs):
        perm = torch.randperm(n, generator=gen)
        run = 0.0
        for i in range(0, n, cfg.batch_size):
            b = perm[i:i + cfg.batch_size]
            xb = augment_batch(x[b], step_ev, cfg, gen) if cfg.augment else x[b]
            out = model(xb)
            loss = ce_cn(out["cn"], y_cn[b])
            if (y_os[b] >= 0).any():
                loss = loss + ce_os(out["os"], y_os[b])
            m = torch.isfinite(y_reg[b])
            if m.any():
                loss = loss + ((out["reg"] - torch.nan_to_num(y_reg[b])) ** 2)[m].mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            run += float(loss.detach()) * len(b)
        history["loss"].append(run / n)
        if log:
            log(f"epoch {epoch + 1}/{cfg.epochs} loss {run / n:.4f} ({time.time() - t0:.0f} s)")
        if time.time() - t0 > cfg.time_limit_s:
            history["stopped_early"] = True
            break
    history["seconds"] = time.time() - t0
    history["epochs_run"] = len(history["loss"])
    model.eval()
    return history


@torch.no_grad()
def predict_net(model: nn.Module, x: np.ndarray, *, batch_size: int = 1024, mc_samples: int = 0) -> dict:
    """Class probabilities ``cn_prob`` (B, 5), ``os_prob`` (B, 3) and ``reg`` (B, 3) in physical units.

    With ``mc_samples > 0`` dropout stays on and the outputs are averaged over that many passes;
    ``reg_std`` (B, 3) is then their spread (the uncertainty :mod:`operando.xas.predict` prints).
    """
    xt = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    passes = max(1, mc_samples)
    was = model.training
    if mc_samples:
        model.eval()
        for m in model.modules():
            if isinstance(m, nn.Dropout):
                m.train()
    else:
        model.eval()
    outs = {"cn": [], "os": [], "reg": []}
    for _ in range(passes):
        cn, os_, rg = [], [], []
        for i in range(0, len(xt), batch_size):
            o = model(xt[i:i + batch_size])
            cn.append(o["cn"].softmax(-1))
            os_.append(o["os"].softmax(-1))
            rg.append(o["reg"] * model.reg_std + model.reg_mean)
        outs["cn"].append(torch.cat(cn))
        outs["os"].append(torch.cat(os_))
        outs["reg"].append(torch.cat(rg))
    model.train(was)
    reg = torch.stack(outs["reg"])
    res = {"cn_prob": torch.stack(outs["cn"]).mean(0).numpy(), "os_prob": torch.stack(outs["os"]).mean(0).numpy(),
           "reg": reg.mean(0).numpy()}
    if mc_samples:
        res["reg_std"] = reg.std(0).numpy()
    return res


MODEL_FILES = ("config.json", "model.safetensors")  # hashed in the folder's manifest.json (operando.shipped)


def save_model(run_dir: str | Path, model: nn.Module, fit_cfg: FitConfig | None = None,
               extra: dict | None = None, tensors: dict | None = None, rebuild: str | None = None) -> Path:
    """Write ``run_dir`` atomically: config.json (model, fit, extra), model.safetensors and
    manifest.json (their SHA-256 and ``rebuild``, the command that made the folder)."""
    run_dir = Path(run_dir)
    with atomic_path(run_dir, directory=True) as tmp:
        cfg = {"model": model.config.to_dict(), "fit": fit_cfg.to_dict() if fit_cfg else None, **(extra or {})}
        (tmp / "config.json").write_text(json.dumps(cfg, indent=2), encoding="utf-8")
        state = dict(model.state_dict())
        state.update({f"extra.{k}": torch.as_tensor(v) for k, v in (tensors or {}).items()})
        save_tensors(tmp / "model.safetensors", state)
        write_manifest(tmp, list(MODEL_FILES), rebuild or f"operando xas train --force --out {run_dir}")
    return run_dir


def load_model(run_dir: str | Path) -> tuple[nn.Module, dict, dict]:
    """(model on CPU in eval mode, config dict, extra tensors) from a run folder whose files
    match its manifest (:func:`check_manifest`)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir() or not any((run_dir / name).is_file() for name in (*MODEL_FILES, MANIFEST)):
        raise InputError(run_dir, "not a model folder (needs config.json, model.safetensors and manifest.json)")
    check_manifest(run_dir, rebuild=f"operando xas train --force --out {run_dir}")
    cfg = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    model = build_model(cfg["model"])
    state = load_tensors(run_dir / "model.safetensors")
    extra = {k[len("extra."):]: v for k, v in state.items() if k.startswith("extra.")}
    model.load_state_dict({k: v for k, v in state.items() if not k.startswith("extra.")})
    model.eval()
    return model, cfg, extra
