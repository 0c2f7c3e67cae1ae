"""The waveform-image autoencoder (WaveformVAE) and the optional diffusers loader."""
from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest
import torch

from operando.errors import InputError, OperandoError
from operando.ir.image.vae import (
    VAEConfig,
    VAETrainConfig,
    WaveformVAE,
    load_diffusers_autoencoder,
    load_vae,
    save_vae,
    train_vae,
)
from operando.ir.image.waveform import WaveformConfig, image_to_spec, spec_to_image

SMALL = dict(image_size=64, base_channels=8, channel_mults=(1, 2, 2))


@pytest.fixture(autouse=True)
def one_thread():
    """Small convolutions run fastest on one thread when the 2 cores are shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _spectra(count: int, points: int = 301, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 1, points)
    spectra = np.zeros((count, points))
    for spectrum in spectra:
        for _ in range(3):
            centre, width, height = rng.uniform(0.1, 0.9), rng.uniform(0.02, 0.08), rng.uniform(-0.35, 0.35)
            spectrum += height / (1 + ((x - centre) / width) ** 2)
    return spectra


def test_latent_shapes_follow_the_downsampling_factor():
    assert VAEConfig().latent_shape == (4, 32, 32)            # 256 x 256 -> 4 x 32 x 32 (as SD)
    assert VAEConfig(image_size=64).latent_shape == (4, 8, 8)
    model = WaveformVAE(VAEConfig(**SMALL))
    images = torch.full((2, 64, 64), 255.0)
    latents = model.images_to_latents(images)
    assert latents.shape == (2, 4, 8, 8)
    assert model.latents_to_images(latents).shape == (2, 64, 64)
    with pytest.raises(ValueError, match="divisible"):
        model.encode(torch.zeros(1, 1, 60, 64))
    with pytest.raises(ValueError, match="divisible"):
        VAEConfig(image_size=100)


def test_vae_overfits_a_handful_of_waveform_images(tmp_path):
    spectra = _spectra(6)
    waveform = WaveformConfig(height=64, width=64)
    images = spec_to_image(spectra, waveform).astype(np.float32)
    unit = torch.tensor(images) / 127.5 - 1

    def mse(model):
        with torch.no_grad():
            return float(((model.latents_to_images(model.images_to_latents(images)) / 127.5 - 1
                           - unit) ** 2).mean())

    torch.manual_seed(0)
    untrained = mse(WaveformVAE(VAEConfig(**SMALL)))
    config = VAETrainConfig(steps=200, batch_size=6, learning_rate=3e-3, log_every=50, seed=0)
    model = train_vae(images, config, tmp_path, model_config=VAEConfig(**SMALL))
    trained = mse(model)
    blank = float(((1 - unit) ** 2).mean())                   # an all-white guess
    assert trained < untrained / 20
    assert trained < 0.3 * blank                               # the trace itself is reproduced
    # Latents are scaled to about unit variance; the decoded trace still reads as a spectrum.
    with torch.no_grad():
        latents = model.images_to_latents(images)
        decoded = model.latents_to_images(latents).numpy().astype(np.float64)
    assert 0.8 < float(latents.std()) < 1.25
    back = image_to_spec(decoded, spectra.shape[1], waveform)
    assert np.abs(back - spectra).mean() < 0.25 * np.abs(spectra).mean()
    # Run folder: config with the measured scaling factor, train config, weights, metrics.
    saved = json.loads((tmp_path / "vae_config.json").read_text())
    assert saved["scaling_factor"] == pytest.approx(model.config.scaling_factor)
    assert json.loads((tmp_path / "vae_train_config.json").read_text())["steps"] == 200
    metrics = (tmp_path / "vae_metrics.csv").read_text().splitlines()
    assert metrics[0] == "step,loss,reconstruction,kl,seconds" and metrics[-1].startswith("200,")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no temp files left
    reloaded = load_vae(tmp_path)
    with torch.no_grad():
        torch.testing.assert_close(reloaded.images_to_latents(images), latents, rtol=0, atol=0)


def test_training_is_seeded(tmp_path):
    images = spec_to_image(_spectra(3), WaveformConfig(height=64, width=64))
    config = VAETrainConfig(steps=3, batch_size=2, seed=7)
    first = train_vae(images, config, tmp_path / "a", model_config=VAEConfig(**SMALL))
    second = train_vae(images, config, tmp_path / "b", model_config=VAEConfig(**SMALL))
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_checkpoint_save_load_identity(tmp_path):
    torch.manual_seed(3)
    model = WaveformVAE(VAEConfig(**SMALL, scaling_factor=0.7)).eval()
    save_vae(model, tmp_path)
    loaded = load_vae(tmp_path)
    assert loaded.config == model.config
    for (name, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    x = torch.rand(2, 64, 64) * 255
    with torch.no_grad():
        torch.testing.assert_close(loaded.images_to_latents(x), model.images_to_latents(x), rtol=0, atol=0)
    (tmp_path / "vae.safetensors").unlink()
    with pytest.raises(InputError, match="vae.safetensors"):
        load_vae(tmp_path)


def test_train_vae_rejects_bad_images(tmp_path):
    with pytest.raises(ValueError, match=r"\[0, 255\]"):
        train_vae(np.full((2, 64, 64), 300.0), VAETrainConfig(steps=1), tmp_path)
    with pytest.raises(ValueError, match="channels"):
        train_vae(np.zeros((2, 3, 64, 64)), VAETrainConfig(steps=1), tmp_path,
                  model_config=VAEConfig(**SMALL))


def test_diffusers_loader_without_diffusers_gives_install_hint(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "diffusers", None)          # import diffusers -> ImportError
    with pytest.raises(OperandoError, match="pip install diffusers"):
        load_diffusers_autoencoder(tmp_path)


def test_diffusers_loader_reads_local_files_only(tmp_path, monkeypatch):
    calls = {}

    class FakeAutoencoderKL(torch.nn.Module):
        """Stands in for diffusers.AutoencoderKL: 8x average-pool encoder, repeat decoder."""

        config = types.SimpleNamespace(scaling_factor=0.5, latent_channels=4, in_channels=3,
                                       block_out_channels=(8, 8, 8, 8))

        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.ones(()))

        @classmethod
        def from_pretrained(cls, path, **kwargs):
            calls.update(path=path, **kwargs)
            return cls()

        def encode(self, x):
            mean = torch.nn.functional.avg_pool2d(x, 8).repeat(1, 2, 1, 1)[:, :4]
            return types.SimpleNamespace(latent_dist=types.SimpleNamespace(mean=mean))

        def decode(self, z):
            return types.SimpleNamespace(sample=z[:, :3].repeat_interleave(8, -1).repeat_interleave(8, -2))

    monkeypatch.setitem(sys.modules, "diffusers", types.SimpleNamespace(AutoencoderKL=FakeAutoencoderKL))
    with pytest.raises(InputError, match="config.json"):
        load_diffusers_autoencoder(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    codec = load_diffusers_autoencoder(tmp_path)
    assert calls["local_files_only"] is True and calls["path"] == str(tmp_path)
    assert codec.downsample_factor == 8 and codec.latent_channels == 4
    images = torch.full((2, 64, 64), 255.0)
    latents = codec.images_to_latents(images)
    assert latents.shape == (2, 4, 8, 8)
    torch.testing.assert_close(latents, torch.full_like(latents, 0.5))    # white = +1, x 0.5
    torch.testing.assert_close(codec.latents_to_images(latents), images)
