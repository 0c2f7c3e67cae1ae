"""The image route as a forecaster (operando.ir.models.latent): waveform images -> VAE latents ->
MeanFlow with a SiT2D -> decoded spectra; its run folder, its configs and its registry entry."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file
from toy import GRID, _band, toy_meta

from operando.cli.main import main
from operando.errors import InputError
from operando.ir.bench.task import masked
from operando.ir.data.dataset import OperandoDataset
from operando.ir.data.experiment import Experiment
from operando.ir.image.route import WaveformRouteConfig
from operando.ir.image.waveform import image_to_spec
from operando.ir.models import GENERATIVE_MODELS, MODEL_REGISTRY, PIPELINE_MODELS, build_model
from operando.ir.models.generative import FlowForecaster, FlowModelConfig, default_training
from operando.ir.models.latent import WaveformFlowForecaster, fit_band, forecaster_class, load_flow_forecaster
from operando.ir.models.runs import RunConfig, load_run

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "ir"
TINY_2D = {"hidden_size": 64, "depth": 2, "num_heads": 4, "time_freq_dim": 64}
TINY_1D = {"hidden_size": 32, "depth": 1, "num_heads": 2, "patch_size": 32, "time_freq_dim": 32}


def growing_band(name: str, n: int = 16, amplitude: float = 0.6) -> Experiment:
    """A fixed band plus a broad band that grows (and a dip that deepens) as the voltage falls:
    a chemical flow of about +/- 0.6, far above the toy data's, so that learning it shows."""
    voltage = np.linspace(3.0, 0.05, n)
    growth = amplitude * (3.0 - voltage) / 2.95
    spectra = (0.8 * _band(1775, 60)[None] + growth[:, None] * _band(1400, 120)[None]
               - 0.5 * growth[:, None] * _band(1100, 80)[None])
    return Experiment(toy_meta(name), np.arange(n) * 60.0, voltage, GRID.copy(), spectra.astype(np.float32),
                      current_ma=np.full(n, -0.1))


def waveform_forecaster(vae_steps: int, flow_steps: int, run_dir=None, seed: int = 0, n_samples: int = 1,
                        size: int = 32) -> WaveformFlowForecaster:
    training = default_training("meanflow", seed)
    training.steps, training.batch_size, training.warmup_steps, training.ckpt_every = flow_steps, 16, 20, 10 ** 6
    model = FlowModelConfig(representation="waveform", preset="tiny", n_samples=n_samples, model_overrides=TINY_2D,
                            waveform={"height": size, "width": size, "vae": {"base_channels": 8},
                                      "vae_training": {"steps": vae_steps, "batch_size": 8, "learning_rate": 3e-3}})
    return WaveformFlowForecaster(seed=seed, model=model, training=training, run_dir=run_dir)


@pytest.fixture(scope="module")
def cells():
    return [growing_band("a"), growing_band("b")]


@pytest.fixture(scope="module")
def fitted(cells, tmp_path_factory):
    """A route trained for 150 VAE and 150 MeanFlow steps on two cells (32 x 32 images)."""
    run_dir = tmp_path_factory.mktemp("latent") / "run"
    model = waveform_forecaster(150, 150, run_dir=run_dir)
    model.fit([masked(e, range(len(e))) for e in cells])
    return model, run_dir


def test_fit_predict_shapes_and_run_folder(fitted, cells):
    model, run_dir = fitted
    context, steps = masked(cells[0], [0]), np.arange(len(cells[0]))
    pred = model.predict(context, steps)
    assert pred.shape == (16, 601) and np.isfinite(pred).all()
    assert np.array_equal(pred, model.predict(context, steps))          # deterministic for the seed
    draws = model.sample(context, steps[:5], n_samples=3, seed=1)
    assert draws.shape == (3, 5, 601) and draws.std(axis=0).mean() > 0
    assert not np.array_equal(draws, model.sample(context, steps[:5], n_samples=3, seed=2))
    # latents 4 x 4 x 4 of the 32 x 32 images; s_v0 enters as 4 extra channels
    assert model.net.config.in_channels == 4 and model.net.config.use_s0 and model.net.config.patch_size == 2
    for name in ("vae.safetensors", "vae_config.json", "vae_data.json", "ema.safetensors", "encoder.safetensors"):
        assert (run_dir / name).is_file(), name
    saved = json.loads((run_dir / "forecaster.json").read_text())["model"]
    assert saved["representation"] == "waveform"
    # chemical flow in [-1, 1] fills the free band (s_max = 1 / alpha); s_v0 is centred on its range
    assert saved["waveform"]["target_center"] == 0.0 and saved["waveform"]["target_s_max"] == pytest.approx(2.5)
    s0 = cells[0].absorbance[0]
    assert saved["waveform"]["s0_center"] == pytest.approx((s0.max() + s0.min()) / 2, abs=1e-6)
    counts = model.parameter_counts()
    assert counts["total"] == counts["flow"] + counts["vae"] and counts["vae"] > 0


def test_save_load_reproduces_predictions(fitted, cells):
    model, run_dir = fitted
    context, steps = masked(cells[1], [0]), np.arange(len(cells[1]))
    again = load_run(run_dir)
    assert type(again) is WaveformFlowForecaster and again.name == model.name
    assert np.array_equal(again.predict(context, steps), model.predict(context, steps))
    assert np.array_equal(again.sample(context, steps, n_samples=2, seed=5), model.sample(context, steps, n_samples=2,
                                                                                            seed=5))
    from operando.ir.forecast import load_model

    assert isinstance(load_model(run_dir).forecaster, WaveformFlowForecaster)


def test_the_route_learns_the_flow_of_its_training_cells(fitted, cells):
    """Overfitting check: the forecast of a training cell beats repeating s_v0 (the static
    forecast) by far. Measured (seeds 0-2): MAE 0.26-0.30 of the static forecast's."""
    model, _ = fitted
    cell = cells[0]
    true = cell.absorbance.astype(np.float64)
    pred = model.predict(masked(cell, [0]), np.arange(len(cell)))
    static_mae = np.abs(true - true[0]).mean()
    assert np.abs(pred - true).mean() < 0.5 * static_mae


def test_vae_path_reconstructs_a_smooth_flow(fitted, cells):
    """spectrum -> image -> latent -> image -> spectrum on the (smooth) chemical flow of a cell.
    Measured: drawing alone 0.0035, through the VAE 0.014-0.018 (seeds 0-2) in flow units
    (range 1.48)."""
    model, _ = fitted
    true = cells[0].absorbance.astype(np.float64)
    flow = model.encode_target(true, np.repeat(true[:1], len(true), axis=0))
    images = model.target_images(flow)
    assert images.shape == (16, 32, 32) and float(images.min()) >= 0 and float(images.max()) <= 255
    drawn = image_to_spec(images, 601, model._target_drawing()).double().numpy()
    assert np.abs(drawn - flow).mean() < 0.006
    back = model.latents_to_targets(model.images_to_latents(images), 601)
    assert back.shape == flow.shape and np.abs(back - flow).mean() < 0.035


def test_same_seed_same_forecast_without_a_run_folder(cells):
    train = [masked(e, range(len(e))) for e in cells]
    context, steps = masked(cells[0], [0]), np.arange(6)
    first, second = waveform_forecaster(10, 8), waveform_forecaster(10, 8)
    first.fit(train)
    second.fit(train)
    assert first.run_dir is None
    assert np.array_equal(first.predict(context, steps), second.predict(context, steps))
    other = waveform_forecaster(10, 8, seed=1)
    other.fit(train)
    assert not np.array_equal(first.predict(context, steps), other.predict(context, steps))


def test_refit_in_the_same_folder_reuses_the_vae(fitted, cells, monkeypatch):
    model, run_dir = fitted
    before = load_file(str(run_dir / "vae.safetensors"))
    import operando.ir.models.latent as latent

    monkeypatch.setattr(latent, "train_vae", lambda *a, **k: pytest.fail("the finished VAE was trained again"))
    again = waveform_forecaster(150, 150, run_dir=run_dir)   # same settings: resumes the finished run
    again.fit([masked(e, range(len(e))) for e in cells])
    after = load_file(str(run_dir / "vae.safetensors"))
    assert after.keys() == before.keys() and all(torch.equal(after[k], before[k]) for k in before)
    context, steps = masked(cells[0], [0]), np.arange(4)
    assert np.array_equal(again.predict(context, steps), model.predict(context, steps))


def test_spectrum_representation_is_the_1d_route(toy_dataset, tmp_path):
    assert FlowModelConfig().representation == "spectrum" and FlowModelConfig().waveform is None
    assert forecaster_class(FlowModelConfig()) is FlowForecaster
    assert forecaster_class("waveform") is WaveformFlowForecaster
    train = [masked(toy_dataset[n], range(len(toy_dataset[n]))) for n in ("cu-0", "sn-0")]
    context, steps = masked(toy_dataset["cu-1"], [0]), np.arange(5)
    preds = []
    for run, config in (("default", FlowModelConfig(model_overrides=TINY_1D)),
                        ("spectrum", FlowModelConfig(model_overrides=TINY_1D, representation="spectrum"))):
        training = default_training("meanflow")
        training.steps, training.batch_size = 4, 8
        model = FlowForecaster(model=config, training=training, run_dir=tmp_path / run)
        model.fit(train)
        preds.append(model.predict(context, steps))
    assert np.array_equal(preds[0], preds[1])
    again = load_run(tmp_path / "spectrum")
    assert type(again) is FlowForecaster and np.array_equal(again.predict(context, steps), preds[1])
    # a forecaster.json written before the field existed still loads as the 1D route
    saved = json.loads((tmp_path / "default" / "forecaster.json").read_text())
    del saved["model"]["representation"], saved["model"]["waveform"]
    (tmp_path / "default" / "forecaster.json").write_text(json.dumps(saved))
    assert type(load_run(tmp_path / "default")) is FlowForecaster


def test_config_validation():
    with pytest.raises(ValueError, match="representation must be"):
        FlowModelConfig(representation="image")
    with pytest.raises(ValueError, match="need representation"):
        FlowModelConfig(waveform={"height": 64})
    with pytest.raises(ValueError, match="unknown waveform settings"):
        FlowModelConfig(representation="waveform", waveform={"size": 64})
    with pytest.raises(ValueError, match="unknown waveform.vae settings"):
        FlowModelConfig(representation="waveform", waveform={"vae": {"depth": 3}})
    with pytest.raises(ValueError, match="must not set"):
        WaveformRouteConfig(drawing={"s_max": 2.0})
    with pytest.raises(ValueError, match="not divisible"):
        WaveformRouteConfig(height=36)
    with pytest.raises(ValueError, match="ABCC"):
        FlowModelConfig(representation="waveform", abcc={})
    with pytest.raises(ValueError, match="implements representation"):
        FlowForecaster(model=FlowModelConfig(representation="waveform"))
    with pytest.raises(ValueError, match="implements representation"):
        WaveformFlowForecaster(model=FlowModelConfig())
    assert WaveformRouteConfig(height=32, width=128).latent_size == (4, 16)
    assert fit_band(np.array([0.2, 1.0]), alpha=0.4, headroom=1.0) == pytest.approx((0.6, 1.0))
    assert fit_band(np.full(3, 0.3), alpha=0.4, headroom=1.05) == (0.3, 1.0)


def test_shipped_configs_and_registry(tmp_path):
    small = RunConfig.load(CONFIGS / "meanflow-waveform-small.toml")
    route = small.model_config().waveform
    assert (route.height, route.width, route.latent_size) == (32, 256, (4, 32))
    base = RunConfig.load(CONFIGS / "meanflow-waveform-base-gpu.toml")
    assert base.model_config().preset == "base" and base.model_config().waveform.latent_size == (32, 32)
    assert base.train_config().device == "cuda"
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[model]\nrepresentation = "waveform"\n[model.waveform]\nheight = 30\n')
    with pytest.raises(InputError, match="not divisible"):
        RunConfig.load(bad)
    assert "meanflow-waveform" in MODEL_REGISTRY and "meanflow-waveform" in GENERATIVE_MODELS
    assert "meanflow-waveform" not in PIPELINE_MODELS and "meanflow" in PIPELINE_MODELS
    model = build_model("meanflow-waveform", seed=3)
    assert isinstance(model, WaveformFlowForecaster) and (model.config.waveform.height, model.config.waveform.width) == (32, 256)
    (tmp_path / "forecaster.json").write_text('{"model": {"representation": "video"}}')
    with pytest.raises(InputError, match="forecaster.json"):
        load_flow_forecaster(tmp_path)


def test_train_and_predict_cli(cells, tmp_path):
    data = OperandoDataset(list(cells), simulated=True).save(tmp_path / "data.h5")
    config = tmp_path / "run.toml"
    config.write_text(f'name = "img"\ndata = "{data}"\nsplit = "none"\nout = "{tmp_path / "runs"}"\n'
                      '[model]\nrepresentation = "waveform"\npreset = "tiny"\n'
                      f'model_overrides = {json.dumps(TINY_2D).replace(":", " =")}\n'
                      '[model.waveform]\nheight = 32\nwidth = 32\nvae = { base_channels = 8 }\n'
                      'vae_training = { steps = 4, batch_size = 4 }\n'
                      '[training]\nsteps = 4\nbatch_size = 8\n')
    assert main(["ir", "train", "--config", str(config), "--no-progress"]) == 0
    run = tmp_path / "runs" / "img"
    assert json.loads((run / "run.json").read_text())["model"]["waveform"]["height"] == 32
    assert main(["ir", "predict", "--run", str(run), "--data", str(data), "--experiment", "b",
                 "--samples", "2", "-o", str(tmp_path / "pred")]) == 0
    mean = pd.read_csv(tmp_path / "pred" / "forecast_mean.csv")
    assert mean.shape == (601, 17) and np.isfinite(mean.to_numpy()).all()
