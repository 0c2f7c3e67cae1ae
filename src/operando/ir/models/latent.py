"""The image route of ABCC as an OpIRBench forecaster: latent MeanFlow on waveform images.

ABCC (arXiv:2602.18551, Sec. 3 and App. D) draws every spectrum as a grayscale waveform image
(Algorithm 1, :mod:`operando.ir.image.waveform`), compresses the images with an image
autoencoder into 4 x H/8 x W/8 latents and runs MeanFlow with a 2D SiT (patch 2) on the
latents. :class:`WaveformFlowForecaster` is that route behind the
:class:`~operando.ir.bench.task.Forecaster` API, selected by ``FlowModelConfig(representation=
"waveform")``; it is a :class:`~operando.ir.models.generative.FlowForecaster` (same target
encoding, condition encoder, trainer, samplers, run folder) whose training data and samples
live in latent space:

fit
    1. the generated quantity of every training pair, y (N, W): the chemical flow
       clip(s_vm - s_v0, -a, a) / a in [-1, 1] (or the spectrum itself, ``target="spectrum"``),
       exactly as the 1D route (:meth:`FlowForecaster.training_tensors`);
    2. y is drawn as an H x W image (Algorithm 1; +/-1 fills the free band), and so is every
       distinct s_v0 (centred on the mid-range of the training s_v0 and scaled to fill the band);
    3. the project's :class:`~operando.ir.image.vae.WaveformVAE` is trained on those images (the
       s_v0 images plus up to ``vae_images`` target images) and saved in the run folder;
    4. targets and s_v0 images are encoded to scaled latents (N, 4, H/8, W/8);
    5. MeanFlow trains :class:`~operando.nn.sit2d.SiT2D` on the target latents with the
       conditions of the 1D route: the latent of s_v0's image as 4 extra input channels
       (aligned pixel for pixel with the target latent) and the condition vector of
       :class:`~operando.ir.models.baselines.ConditionEncoder`.

predict
    one-step sampling of latents -> VAE decode -> ImageToSpec (N_f points) -> undo the centring
    -> s_v0 + a * flow (the 1D route's decoding). A point forecast is the mean of
    ``n_samples`` draws, as in the 1D route.

The run folder holds the 1D route's files (trainer files, encoder.safetensors,
forecaster.json with the fitted centring in ``model.waveform``) plus the VAE's
(vae_config.json, vae.safetensors, vae_train_config.json, vae_metrics.csv) and
vae_data.json (a fingerprint of the VAE's training images: a resumed run reuses a finished
VAE trained on the same images with the same settings instead of training it again).
"""
from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from operando.atomic import write_text
from operando.errors import InputError
from operando.ir.data.experiment import Experiment
from operando.ir.image.route import WaveformRouteConfig
from operando.ir.image.vae import (
    CONFIG_FILE,
    TRAIN_CONFIG_FILE,
    WEIGHTS_FILE,
    WaveformVAE,
    load_vae,
    save_vae,
    train_vae,
)
from operando.ir.image.waveform import WaveformConfig, image_to_spec, spec_to_image
from operando.ir.models.abcc import make_condition_encoder
from operando.ir.models.generative import FlowForecaster, FlowModelConfig
from operando.nn.sit2d import SiT2D, SiT2DConfig

VAE_DATA_FILE = "vae_data.json"
def fit_band(values: np.ndarray, alpha: float, headroom: float) -> tuple[float, float]:
    """(center, s_max) that draw ``values`` (any shape) inside the free band of an image:
    the mid-range, and the half-range times ``headroom`` over alpha (1.0 for constant values)."""
    low, high = float(np.min(values)), float(np.max(values))
    half = 0.5 * (high - low) * headroom
    return 0.5 * (high + low), (half / alpha if half > 0 else 1.0)


class WaveformFlowForecaster(FlowForecaster):
    """Latent MeanFlow (or flow matching) on waveform images, behind the Forecaster API.

    ``model.representation`` must be ``"waveform"``; ``model.preset`` names the SiT2D preset
    (``tiny``, ``small``, ``base`` = SiT-B/2) and ``model.model_overrides`` its fields.
    After ``fit``: ``self.vae`` (the image autoencoder, CPU, eval), ``self.net`` (the SiT2D,
    EMA weights), ``self.encoder`` (the condition encoder).
    """

    representation = "waveform"

    @property
    def route(self) -> WaveformRouteConfig:
        return self.config.waveform

    @property
    def name(self) -> str:
        kind = "MeanFlow" if self.config.objective == "meanflow" else "Flow matching"
        return (f"{kind} waveform {self.route.height}x{self.route.width} "
                f"({self.config.preset}, {self.config.sample_steps}-step)")

    # ---------------------------------------------------------------- images
    def _target_drawing(self) -> WaveformConfig:
        return self.route.drawing_config(self.route.target_s_max)

    def _s0_drawing(self) -> WaveformConfig:
        return self.route.drawing_config(self.route.s0_s_max)

    def _fit_bands(self, y: np.ndarray, s0: np.ndarray) -> None:
        """Fix the drawing offset/scale of targets (y (N, W)) and of s_v0 (s0 (M, W))."""
        route = self.route
        alpha = route.drawing_config(1.0).alpha
        if self.config.target == "chemical_flow":
            # y is already in [-1, 1]: +/-1 at the edges of the free band.
            route.target_center, route.target_s_max = 0.0, 1.0 / alpha
        else:
            route.target_center, route.target_s_max = fit_band(y, alpha, route.headroom)
        route.s0_center, route.s0_s_max = fit_band(s0, alpha, route.headroom)

    def target_images(self, y: np.ndarray) -> torch.Tensor:
        """Encoded targets y (N, W) -> waveform images (N, H, W) in [0, 255] (float32)."""
        return spec_to_image(torch.from_numpy(np.asarray(y, np.float64) - self.route.target_center).float(),
                             self._target_drawing())

    def s0_images(self, s0: np.ndarray) -> torch.Tensor:
        """Reference spectra s0 (M, W) -> waveform images (M, H, W) in [0, 255] (float32)."""
        return spec_to_image(torch.from_numpy(np.asarray(s0, np.float64) - self.route.s0_center).float(),
                             self._s0_drawing())

    @torch.no_grad()
    def images_to_latents(self, images: torch.Tensor) -> torch.Tensor:
        """(N, H, W) in [0, 255] -> scaled latents (N, 4, h, w) on CPU, in chunks."""
        chunk = self.route.encode_batch
        return torch.cat([self.vae.images_to_latents(images[i:i + chunk]).float().cpu()
                          for i in range(0, images.shape[0], chunk)])

    @torch.no_grad()
    def latents_to_targets(self, latents: torch.Tensor, n_points: int) -> np.ndarray:
        """Scaled latents (N, 4, h, w) -> decoded images -> ImageToSpec -> targets (N, n_points)."""
        chunk = self.route.encode_batch
        return np.concatenate([self.images_to_targets(self.vae.latents_to_images(latents[i:i + chunk]).float().cpu(),
                                                      n_points) for i in range(0, latents.shape[0], chunk)])

    def images_to_targets(self, images: torch.Tensor, n_points: int) -> np.ndarray:
        """Waveform images (N, H, W) -> ImageToSpec -> targets (N, n_points) (inverse of
        :meth:`target_images`)."""
        return image_to_spec(images, n_points, self._target_drawing()).double().numpy() + self.route.target_center

    # ---------------------------------------------------------------- training
    def _vae_device(self) -> str:
        wanted = self.training.device
        if wanted == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return wanted

    def _fit_vae(self, images: torch.Tensor) -> WaveformVAE:
        """Train the VAE on ``images`` (N, H, W) into the run folder (a temporary one without);
        a finished VAE in the run folder with the same images and settings is reused."""
        route = self.route
        model_config = route.vae_config()
        train_config = route.vae_train_config(self.seed, self._vae_device())
        digest = hashlib.sha256(images.numpy().tobytes())
        digest.update(json.dumps([model_config.to_dict(), train_config.to_dict()], sort_keys=True).encode())
        fingerprint = {"sha256": digest.hexdigest(), "n_images": int(images.shape[0])}
        if self.run_dir is None:
            with tempfile.TemporaryDirectory(prefix="operando-vae-") as tmp:
                return train_vae(images, train_config, tmp, model_config=model_config)
        marker = self.run_dir / VAE_DATA_FILE
        done = all((self.run_dir / name).is_file() for name in (CONFIG_FILE, WEIGHTS_FILE, TRAIN_CONFIG_FILE))
        if done and marker.is_file() and json.loads(marker.read_text(encoding="utf-8")) == fingerprint:
            return load_vae(self.run_dir, device=train_config.device)
        marker.unlink(missing_ok=True)   # a VAE being replaced is not finished until the new marker
        vae = train_vae(images, train_config, self.run_dir, model_config=model_config)
        write_text(marker, json.dumps(fingerprint, indent=2) + "\n")  # last: marks a finished VAE
        return vae

    def fit_drawing(self, train_set: Sequence[Experiment]) -> dict[str, torch.Tensor]:
        """Everything of ``fit`` before the VAE: the condition encoder, the chemical-flow clip
        scale and the drawing bands. Returns the 1D route's training tensors: ``x`` (N, W) the
        encoded targets, ``s0`` (N, W), ``cond_vec`` (N, F)."""
        self.encoder = make_condition_encoder(None).fit(train_set)
        self.streams = None
        flat = super().training_tensors(train_set)
        self._fit_bands(flat["x"].double().numpy(), np.unique(flat["s0"].double().numpy(), axis=0))
        return flat

    def prepare(self, train_set: Sequence[Experiment]) -> tuple[dict[str, torch.Tensor], None, None]:
        """Fit the condition encoder, the drawing bands and the VAE; encode the training pairs;
        build the untrained SiT2D ``self.net``. Returns the latent training tensors
        (``x`` (N, 4, h, w), ``s0`` (N, 4, h, w), ``cond_vec`` (N, F)), no custom objective and
        no batch sampler."""
        torch.manual_seed(self.seed)
        flat = self.fit_drawing(train_set)                            # the 1D route's pairs
        y, s0 = flat["x"].double().numpy(), flat["s0"].double().numpy()
        s0_distinct, s0_index = np.unique(s0, axis=0, return_inverse=True)
        s0_index = s0_index.reshape(-1)
        target_images, s0_images = self.target_images(y), self.s0_images(s0_distinct)

        rng = np.random.default_rng(self.seed)
        chosen = np.sort(rng.choice(len(y), size=min(len(y), self.route.vae_images), replace=False))
        vae = self._fit_vae(torch.cat([s0_images, target_images[torch.from_numpy(chosen)]]))
        self.vae = vae.eval()
        x_latents = self.images_to_latents(target_images)
        s0_latents = self.images_to_latents(s0_images)[torch.from_numpy(s0_index)]
        self.vae = vae.to("cpu").eval()

        channels, h, w = x_latents.shape[1:]
        torch.manual_seed(self.seed)
        backbone = SiT2DConfig.preset(self.config.preset, input_size=max(h, w), in_channels=channels,
                                      cond_dim=flat["cond_vec"].shape[1], use_s0=True,
                                      **self.config.model_overrides)
        self.net = SiT2D(backbone)
        return {"x": x_latents, "s0": s0_latents, "cond_vec": flat["cond_vec"]}, None, None

    def load_net(self, run_dir: str | Path) -> torch.nn.Module:
        """The trained (EMA) SiT2D of a run folder."""
        return SiT2D.from_run(run_dir, ema=True)

    # -------------------------------------------------------------- prediction
    @torch.no_grad()
    def sample(self, context: Experiment, steps: np.ndarray, n_samples: int | None = None,
               seed: int | None = None) -> np.ndarray:
        """Draws of the forecast: (n_samples, len(steps), W), deterministic for a seed."""
        n = n_samples or self.config.n_samples
        steps = np.asarray(steps)
        k, n_points = len(steps), context.absorbance.shape[1]
        s0 = context.absorbance[:1].astype(np.float64)                         # (1, W)
        s0_latent = self.images_to_latents(self.s0_images(s0))                # (1, 4, h, w)
        cond = {"s0": s0_latent.expand(n * k, *s0_latent.shape[1:]).contiguous(),
                "cond_vec": torch.from_numpy(np.tile(self.encoder(context)[steps], (n, 1))).float()}
        latents = self.generate(self.prior_draws(n, (k, *s0_latent.shape[1:]), seed), cond)
        y = self.latents_to_targets(latents, n_points).reshape(n, k, n_points)
        return self.decode_target(y, np.repeat(s0, k, axis=0)[None])

    def sample_streams(self, *args, **kwargs):
        raise NotImplementedError("the waveform route has no two-stream head")

    # ------------------------------------------------------------- persistence
    def parameter_counts(self) -> dict[str, int]:
        """Trainable numbers of the flow network, the VAE and both together."""
        flow = sum(p.numel() for p in self.net.parameters())
        vae = sum(p.numel() for p in self.vae.parameters())
        return {"flow": flow, "vae": vae, "total": flow + vae}

    def save(self, run_dir: str | Path) -> None:
        save_vae(self.vae, run_dir)
        super().save(run_dir)   # forecaster.json last: it marks a finished run folder

    @classmethod
    def load(cls, run_dir: str | Path) -> "WaveformFlowForecaster":
        """Rebuild a fitted forecaster from its run folder, on CPU."""
        self = super().load(run_dir)
        self.vae = load_vae(run_dir)
        return self


def forecaster_class(representation: str | FlowModelConfig) -> type[FlowForecaster]:
    """The forecaster class of a representation ("spectrum" or "waveform") or of a model config."""
    if isinstance(representation, FlowModelConfig):
        representation = representation.representation
    if representation == "waveform":
        return WaveformFlowForecaster
    if representation == "spectrum":
        return FlowForecaster
    raise ValueError(f"representation must be 'spectrum' or 'waveform', got {representation!r}")


def load_flow_forecaster(run_dir: str | Path) -> FlowForecaster:
    """The fitted flow forecaster of a run folder, of the class its forecaster.json names."""
    path = Path(run_dir) / "forecaster.json"
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        representation = saved["model"].get("representation", "spectrum")
        cls = forecaster_class(representation)
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise InputError(path, f"not a forecaster.json written by operando ({type(error).__name__}: {error})") from None
    return cls.load(run_dir)


__all__ = ["WaveformFlowForecaster", "forecaster_class", "load_flow_forecaster", "fit_band"]
