"""Autoencoders that turn waveform images into latents for latent MeanFlow.

ABCC (arXiv:2602.18551, App. D) encodes its 256 x 256 waveform images with the pretrained
Stable Diffusion autoencoder ``sd-vae-ft-ema`` (Rombach et al., CVPR 2022): 4 latent channels
at 1/8 of the resolution (4 x 32 x 32). Those weights cannot be downloaded here, so this module
provides

* :class:`WaveformVAE`, a small convolutional VAE of the same shape contract (4 latent
  channels, downsampling x8 by default: 4 x 32 x 32 at 256 x 256, 4 x 8 x 8 at 64 x 64), trained
  in the project on waveform images with :func:`train_vae` (L1 reconstruction with extra
  weight on the trace's ink, plus a small KL term), saved as safetensors;
* :func:`load_diffusers_autoencoder`, which wraps a diffusers ``AutoencoderKL`` read from a
  LOCAL folder (``local_files_only=True``; nothing is downloaded) for users who have such
  weights.

Both expose the same two methods, which are all the rest of the image route uses:
``images_to_latents(images)`` with images (B, H, W) in [0, 255] (white background) returning
scaled latents (B, C, h, w), and ``latents_to_images(latents)`` back to (B, H, W) in [0, 255].
"Scaled" follows the Stable Diffusion convention: latents are multiplied by
``scaling_factor`` so that they have about unit variance (for the VAE trained here the factor
is measured on the training images at the end of training).
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from operando.atomic import atomic_path, write_text
from operando.errors import InputError, OperandoError

CONFIG_FILE = "vae_config.json"
TRAIN_CONFIG_FILE = "vae_train_config.json"
WEIGHTS_FILE = "vae.safetensors"
METRICS_FILE = "vae_metrics.csv"


@dataclass
class VAEConfig:
    """Architecture of :class:`WaveformVAE` (saved as ``vae_config.json``).

    ``image_size``: H = W of the images it was built for (documentation; any size divisible by
    the downsampling factor works). ``channel_mults``: one stride-2 stage per entry, so the
    downsampling factor is ``2 ** len(channel_mults)`` (x8 by default). ``scaling_factor``:
    multiplies the encoder means into unit-variance latents (set by :func:`train_vae`).
    """

    image_size: int = 256
    in_channels: int = 1
    latent_channels: int = 4
    base_channels: int = 32
    channel_mults: tuple[int, ...] = (1, 2, 4)
    num_res_blocks: int = 1
    scaling_factor: float = 1.0

    def __post_init__(self):
        self.channel_mults = tuple(int(m) for m in self.channel_mults)
        if not self.channel_mults or min(self.channel_mults) < 1:
            raise ValueError(f"channel_mults must be positive integers, got {self.channel_mults}")
        if self.image_size % self.downsample_factor:
            raise ValueError(f"image_size {self.image_size} is not divisible by the downsampling "
                             f"factor {self.downsample_factor}")
        if self.base_channels % 8:
            raise ValueError("base_channels must be a multiple of 8 (GroupNorm groups)")

    @property
    def downsample_factor(self) -> int:
        return 2 ** len(self.channel_mults)

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        """(C, h, w) of the latent of one ``image_size`` image."""
        size = self.image_size // self.downsample_factor
        return (self.latent_channels, size, size)

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["channel_mults"] = list(self.channel_mults)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "VAEConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown VAEConfig fields: {sorted(unknown)}")
        return cls(**data)


@dataclass
class VAETrainConfig:
    """How :func:`train_vae` trains (saved as ``vae_train_config.json``).

    ``kl_weight``: weight of the KL term (per latent element, relative to the per-pixel
    reconstruction loss). ``ink_weight``: the reconstruction loss of a pixel is multiplied by
    ``1 + ink_weight * ink`` (ink in [0, 1] from the target), because the trace covers only a
    few percent of a waveform image and would otherwise be drowned by the background.
    """

    steps: int = 2000
    batch_size: int = 16
    learning_rate: float = 2e-4
    kl_weight: float = 1e-4
    ink_weight: float = 10.0
    seed: int = 0
    log_every: int = 50
    device: str = "cpu"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _groups(channels: int) -> int:
    return math.gcd(channels, 8)


class ResBlock(nn.Module):
    """GroupNorm - SiLU - conv3x3, twice, with a residual connection (1x1 conv if C changes)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(c_in), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm2 = nn.GroupNorm(_groups(c_out), c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class WaveformVAE(nn.Module):
    """Convolutional VAE: images (B, C, H, W) in [-1, 1] <-> latents (B, 4, H/f, W/f).

    Encoder: conv3x3, then per stage ``num_res_blocks`` ResBlocks and a stride-2 conv, a middle
    ResBlock and a conv to (mean, log-variance). The decoder mirrors it with nearest-neighbour
    upsampling. ``encode``/``decode`` work on unscaled latents; ``images_to_latents`` and
    ``latents_to_images`` are the [0, 255]-image, scaled-latent interface of the image route.
    """

    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = cfg = config
        widths = [cfg.base_channels * m for m in cfg.channel_mults]
        enc: list[nn.Module] = [nn.Conv2d(cfg.in_channels, widths[0], 3, padding=1)]
        c = widths[0]
        for width in widths:
            for _ in range(cfg.num_res_blocks):
                enc.append(ResBlock(c, width))
                c = width
            enc.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
        enc += [ResBlock(c, c), nn.GroupNorm(_groups(c), c), nn.SiLU(),
                nn.Conv2d(c, 2 * cfg.latent_channels, 3, padding=1)]
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = [nn.Conv2d(cfg.latent_channels, c, 3, padding=1), ResBlock(c, c)]
        for width in reversed(widths):
            dec += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c, width, 3, padding=1)]
            c = width
            for _ in range(cfg.num_res_blocks):
                dec.append(ResBlock(c, c))
        dec += [nn.GroupNorm(_groups(c), c), nn.SiLU(), nn.Conv2d(c, cfg.in_channels, 3, padding=1)]
        self.decoder = nn.Sequential(*dec)

    @property
    def latent_channels(self) -> int:
        return self.config.latent_channels

    @property
    def downsample_factor(self) -> int:
        return self.config.downsample_factor

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x (B, C, H, W) in [-1, 1] -> (mean, logvar), each (B, 4, H/f, W/f), unscaled."""
        f = self.downsample_factor
        if x.dim() != 4 or x.shape[-1] % f or x.shape[-2] % f:
            raise ValueError(f"images must be (B, C, H, W) with H, W divisible by {f}, "
                             f"got {tuple(x.shape)}")
        mean, logvar = self.encoder(x).chunk(2, dim=1)
        return mean, torch.clamp(logvar, -30.0, 20.0)

    def decode(self, z: Tensor) -> Tensor:
        """z (B, 4, h, w) unscaled -> x (B, C, h f, w f), about [-1, 1] (not clamped)."""
        return self.decoder(z)

    def forward(self, x: Tensor, generator: torch.Generator | None = None
                ) -> tuple[Tensor, Tensor, Tensor]:
        """Reconstruct with a reparameterised sample: x -> (reconstruction, mean, logvar)."""
        mean, logvar = self.encode(x)
        noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype).to(mean.device)
        return self.decode(mean + torch.exp(0.5 * logvar) * noise), mean, logvar

    def images_to_latents(self, images: Tensor | np.ndarray) -> Tensor:
        """Images (B, H, W) or (B, C, H, W) in [0, 255] -> scaled latents (posterior means)."""
        x = _images_to_unit(images, self.config.in_channels, self._device_dtype())
        return self.encode(x)[0] * self.config.scaling_factor

    def latents_to_images(self, latents: Tensor) -> Tensor:
        """Scaled latents (B, 4, h, w) -> images in [0, 255], (B, H, W) for one channel."""
        x = self.decode(latents.to(*self._device_dtype()) / self.config.scaling_factor)
        return _unit_to_images(x)

    def _device_dtype(self) -> tuple[torch.device, torch.dtype]:
        weight = next(self.parameters())
        return weight.device, weight.dtype

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def _images_to_unit(images: Tensor | np.ndarray, channels: int,
                    device_dtype: tuple[torch.device, torch.dtype]) -> Tensor:
    """[0, 255] images (B, H, W) / (B, C, H, W) -> (B, channels, H, W) in [-1, 1]."""
    x = torch.as_tensor(images).to(device=device_dtype[0], dtype=device_dtype[1])
    if x.dim() == 3:
        x = x[:, None]
    if x.dim() != 4:
        raise ValueError(f"images must be (B, H, W) or (B, C, H, W), got {tuple(x.shape)}")
    if x.shape[1] == 1 and channels > 1:
        x = x.expand(-1, channels, -1, -1)
    return x / 127.5 - 1.0


def _unit_to_images(x: Tensor) -> Tensor:
    """(B, C, H, W) about [-1, 1] -> [0, 255]; channels averaged to (B, H, W)."""
    return torch.clamp((x.mean(dim=1) + 1.0) * 127.5, 0.0, 255.0)


def vae_loss(model: WaveformVAE, x: Tensor, kl_weight: float, ink_weight: float,
             generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """(total, reconstruction, kl) for a batch x (B, C, H, W) in [-1, 1] (white = +1).

    Reconstruction: mean over pixels of ``(1 + ink_weight * ink) |x_hat - x|`` with
    ink = (1 - x) / 2; KL: mean over latent elements of KL(N(mean, var) || N(0, 1)).
    """
    recon, mean, logvar = model(x, generator)
    weight = 1.0 + ink_weight * (1.0 - x) / 2
    reconstruction = (weight * (recon - x).abs()).mean()
    kl = 0.5 * (mean ** 2 + logvar.exp() - 1.0 - logvar).mean()
    return reconstruction + kl_weight * kl, reconstruction, kl


def _as_image_tensor(images: Any) -> Tensor:
    x = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images)
    x = x.to(torch.float32)
    if x.dim() == 3:
        x = x[:, None]
    if x.dim() != 4 or x.shape[0] < 1:
        raise ValueError(f"images must be (N, H, W) or (N, C, H, W), got {tuple(x.shape)}")
    if float(x.min()) < 0 or float(x.max()) > 255:
        raise ValueError("images must hold values in [0, 255]")
    return x


def train_vae(images: Any, config: VAETrainConfig, run_dir: str | Path, *,
              model_config: VAEConfig | None = None) -> WaveformVAE:
    """Train a :class:`WaveformVAE` on waveform images and save it in ``run_dir``.

    images: (N, H, W) or (N, C, H, W) in [0, 255] (numpy or torch). ``model_config`` defaults to
    ``VAEConfig(image_size=H, in_channels=C)``. Seeded: the same images, configs and seed give
    the same weights (on the same device and torch build). Writes ``vae_config.json`` (with the
    measured ``scaling_factor``), ``vae_train_config.json``, ``vae.safetensors`` and
    ``vae_metrics.csv`` (step, loss, reconstruction, kl, seconds). Returns the model in eval mode.
    """
    data = _as_image_tensor(images)
    n, channels, height, width = data.shape
    model_config = model_config or VAEConfig(image_size=height, in_channels=channels)
    if channels != model_config.in_channels:
        raise ValueError(f"images have {channels} channels, the model expects "
                         f"{model_config.in_channels}")
    device = torch.device(config.device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = WaveformVAE(model_config)
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    generator = torch.Generator().manual_seed(config.seed)
    unit = data / 127.5 - 1.0
    rows = []
    start = time.perf_counter()
    for step in range(1, config.steps + 1):
        index = torch.randint(0, n, (min(config.batch_size, n),), generator=generator)
        batch = unit[index].to(device)
        loss, reconstruction, kl = vae_loss(model, batch, config.kl_weight, config.ink_weight,
                                            generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % config.log_every == 0 or step == 1 or step == config.steps:
            rows.append((step, loss.item(), reconstruction.item(), kl.item(),
                         time.perf_counter() - start))
    model.eval()
    model.config.scaling_factor = _measure_scaling_factor(model, unit)
    run_dir = Path(run_dir)
    save_vae(model, run_dir)
    write_text(run_dir / TRAIN_CONFIG_FILE, json.dumps(config.to_dict(), indent=2) + "\n")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["step", "loss", "reconstruction", "kl", "seconds"])
    writer.writerows(rows)
    write_text(run_dir / METRICS_FILE, buffer.getvalue())
    return model


@torch.no_grad()
def _measure_scaling_factor(model: WaveformVAE, unit_images: Tensor, batch: int = 64) -> float:
    """1 / std of the posterior means over the training images (SD's 0.18215 convention)."""
    device, dtype = model._device_dtype()
    means = [model.encode(unit_images[i:i + batch].to(device, dtype))[0].float().cpu()
             for i in range(0, unit_images.shape[0], batch)]
    std = float(torch.cat(means).std())
    return 1.0 / std if std > 0 and math.isfinite(std) else 1.0


def save_vae(model: WaveformVAE, run_dir: str | Path) -> Path:
    """Write ``vae_config.json`` and ``vae.safetensors`` atomically; returns the weights path."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    target = run_dir / WEIGHTS_FILE
    with atomic_path(target) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt", "model": "WaveformVAE"})
    write_text(run_dir / CONFIG_FILE, json.dumps(model.config.to_dict(), indent=2) + "\n")
    return target


def load_vae(run_dir: str | Path, device: str | torch.device = "cpu") -> WaveformVAE:
    """Rebuild a VAE saved by :func:`save_vae` / :func:`train_vae` (eval mode)."""
    run_dir = Path(run_dir)
    config_path, weights_path = run_dir / CONFIG_FILE, run_dir / WEIGHTS_FILE
    for path in (config_path, weights_path):
        if not path.is_file():
            raise InputError(path, "missing: not a VAE folder written by operando (train_vae)")
    try:
        config = VAEConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as error:
        raise InputError(config_path, f"invalid VAE configuration: {error}") from error
    model = WaveformVAE(config)
    try:
        model.load_state_dict(load_file(str(weights_path), device="cpu"))
    except (RuntimeError, KeyError) as error:
        raise InputError(weights_path, f"weights do not match {CONFIG_FILE}: {error}") from error
    return model.to(device).eval()


class DiffusersAutoencoder:
    """A diffusers ``AutoencoderKL`` behind the image route's two-method interface.

    Grayscale images are repeated to RGB for the encoder, the decoder's RGB output is averaged
    back to gray; latents are the posterior means times the model's ``scaling_factor``.
    """

    def __init__(self, autoencoder: Any):
        self.autoencoder = autoencoder
        config = autoencoder.config
        self.scaling_factor = float(getattr(config, "scaling_factor", 0.18215) or 0.18215)
        self.latent_channels = int(getattr(config, "latent_channels", 4))
        block_channels = getattr(config, "block_out_channels", (128, 256, 512, 512))
        self.downsample_factor = 2 ** (len(block_channels) - 1)
        self.in_channels = int(getattr(config, "in_channels", 3))

    def _device_dtype(self) -> tuple[torch.device, torch.dtype]:
        weight = next(self.autoencoder.parameters())
        return weight.device, weight.dtype

    @torch.no_grad()
    def images_to_latents(self, images: Tensor | np.ndarray) -> Tensor:
        x = _images_to_unit(images, self.in_channels, self._device_dtype())
        return self.autoencoder.encode(x).latent_dist.mean * self.scaling_factor

    @torch.no_grad()
    def latents_to_images(self, latents: Tensor) -> Tensor:
        device, dtype = self._device_dtype()
        x = self.autoencoder.decode(latents.to(device, dtype) / self.scaling_factor).sample
        return _unit_to_images(x.float())


def load_diffusers_autoencoder(local_dir: str | Path, device: str | torch.device = "cpu",
                               dtype: torch.dtype = torch.float32) -> DiffusersAutoencoder:
    """Load diffusers ``AutoencoderKL`` weights (e.g. ``sd-vae-ft-ema``) from a local folder.

    The folder is what ``AutoencoderKL.save_pretrained`` writes (``config.json`` and
    ``diffusion_pytorch_model.safetensors``). Nothing is downloaded (``local_files_only=True``).
    diffusers is an optional dependency, imported only here.
    """
    try:
        from diffusers import AutoencoderKL  # noqa: PLC0415 - optional dependency
    except ImportError as error:
        raise OperandoError("loading a pretrained Stable Diffusion autoencoder needs the optional "
                            "package diffusers: pip install diffusers") from error
    local_dir = Path(local_dir)
    if not (local_dir / "config.json").is_file():
        raise InputError(local_dir / "config.json", "missing: expected a diffusers AutoencoderKL "
                         "folder (config.json + diffusion_pytorch_model.safetensors)")
    try:
        autoencoder = AutoencoderKL.from_pretrained(str(local_dir), local_files_only=True,
                                                    torch_dtype=dtype)
    except (OSError, ValueError) as error:
        raise InputError(local_dir, f"could not load diffusers AutoencoderKL weights: {error}") from error
    return DiffusersAutoencoder(autoencoder.to(device).eval())


__all__ = ["VAEConfig", "VAETrainConfig", "WaveformVAE", "train_vae", "save_vae", "load_vae",
           "vae_loss", "DiffusersAutoencoder", "load_diffusers_autoencoder"]
