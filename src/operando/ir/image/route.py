"""Settings of ABCC's image route (:class:`WaveformRouteConfig`, ``[model.waveform]`` of a run
config): image size, drawing, the waveform VAE and its training. The route itself is
:class:`operando.ir.models.latent.WaveformFlowForecaster`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Mapping

from operando.ir.image.vae import VAEConfig, VAETrainConfig
from operando.ir.image.waveform import WaveformConfig
from operando.settings import settings_from_table

# Drawing settings the route sets itself: the size comes from height/width, s_max from the
# data, and the VAE's ink weighting assumes a dark trace on white.
_ROUTE_DRAWING_KEYS = ("height", "width", "s_max", "background")
# The route's VAE training defaults (CPU-sized; VAETrainConfig's own are for long runs).
DEFAULT_VAE_TRAINING = {"steps": 1000, "batch_size": 16, "learning_rate": 1e-3}
# The route's VAE size (CPU-sized; VAEConfig's own base of 32 channels costs 3x more per step).
DEFAULT_VAE = {"base_channels": 16}


@dataclass
class WaveformRouteConfig:
    """Settings of the image route (``[model.waveform]`` of a run config).

    ``height``, ``width``: image size H x W (each divisible by the VAE's downsampling factor,
    8 by default: latents 4 x H/8 x W/8). ``drawing``: :class:`WaveformConfig` fields other
    than the size, s_max and background (default: ABCC App. D's margin, thickness, clip and
    gain). ``vae``: :class:`VAEConfig` fields (default: :data:`DEFAULT_VAE`). ``vae_training``:
    :class:`VAETrainConfig` fields (default: :data:`DEFAULT_VAE_TRAINING`, seed = the
    forecaster's, device = the flow trainer's). ``vae_images``: at most this many target images
    (a seeded random subset) join the s_v0 images in the VAE's training set.
    ``encode_batch``: images per VAE call when encoding/decoding. ``headroom``: the s_v0 (and
    spectrum-target) band is this much wider than the training range, so that an unseen
    spectrum a little outside it is not clipped.

    Fitted at ``fit`` (None before): ``target_center``/``target_s_max`` and
    ``s0_center``/``s0_s_max``, the drawing offset and scale of targets and of s_v0.
    """

    # 32 x 256 on a CPU: the drawing's round trip loses accuracy with the width only (the
    # flow -> image -> spectrum MAE of the test spectra: 1.59e-2 at W = 64, 0.87e-2 at W = 256,
    # the same for H = 32 ... 256; docs/ir/image-route.md), so the width is spent where it pays.
    height: int = 32
    width: int = 256
    drawing: dict = field(default_factory=dict)
    vae: dict = field(default_factory=dict)
    vae_training: dict = field(default_factory=dict)
    vae_images: int = 4096
    encode_batch: int = 256
    headroom: float = 1.05
    target_center: float | None = None
    target_s_max: float | None = None
    s0_center: float | None = None
    s0_s_max: float | None = None

    def __post_init__(self):
        fixed = sorted(set(self.drawing) & set(_ROUTE_DRAWING_KEYS))
        if fixed:
            raise ValueError(f"waveform.drawing must not set {fixed} (the route sets them: "
                             "height/width are waveform settings, s_max is fitted, the trace is dark on white)")
        for name, cls in (("drawing", WaveformConfig), ("vae", VAEConfig), ("vae_training", VAETrainConfig)):
            known = {f.name for f in dataclasses.fields(cls)}
            unknown = sorted(set(getattr(self, name)) - known)
            if unknown:
                raise ValueError(f"unknown waveform.{name} settings {unknown}; known: {sorted(known)}")
        if self.vae_images < 1 or self.encode_batch < 1 or self.headroom < 1:
            raise ValueError("waveform.vae_images and encode_batch must be >= 1 and headroom >= 1")
        self.drawing_config(1.0)                      # validates the drawing settings and the size
        factor = self.vae_config().downsample_factor  # validates the VAE settings
        if self.height % factor or self.width % factor:
            raise ValueError(f"waveform image {self.height} x {self.width} is not divisible by the VAE's "
                             f"downsampling factor {factor}")

    @classmethod
    def from_value(cls, value: "WaveformRouteConfig | Mapping | None") -> "WaveformRouteConfig":
        """A config, a dict of fields (unknown keys raise ValueError), or None (the defaults)."""
        return cls() if value is None else settings_from_table(cls, value, "waveform")

    def drawing_config(self, s_max: float) -> WaveformConfig:
        return WaveformConfig(**{**self.drawing, "height": self.height, "width": self.width, "s_max": s_max})

    def vae_config(self) -> VAEConfig:
        return VAEConfig(**{**DEFAULT_VAE, "image_size": self.height, **self.vae})

    def vae_train_config(self, seed: int, device: str) -> VAETrainConfig:
        return VAETrainConfig(**{**DEFAULT_VAE_TRAINING, "seed": seed, "device": device, **self.vae_training})

    @property
    def latent_size(self) -> tuple[int, int]:
        """(h, w) of a latent: H and W over the VAE's downsampling factor."""
        factor = self.vae_config().downsample_factor
        return self.height // factor, self.width // factor
