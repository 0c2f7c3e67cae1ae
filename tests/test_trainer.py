"""Training loop: overfitting, determinism, safe checkpoints, resumption."""
from __future__ import annotations

import csv
import json

import pytest
import torch
from tiny_training import COND_DIM, WIDTH, quick_config, tiny_dataset, tiny_model

from operando.errors import OperandoError
from operando.flow import MeanFlow
from operando.nn import SiT1D
from operando.train import TrainConfig, load_weights, train
from operando.train.checkpoint import count_values, flatten_optimizer_state, unflatten_optimizer_state


def predict(model, data, seed=0):
    cond = {"s0": data["s0"], "cond_vec": data["cond_vec"]}
    return MeanFlow().sample(model, tuple(data["x"].shape), cond, steps=1,
                             generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def overfit_run(tmp_path_factory):
    """400 MeanFlow steps on the 8 spectra, without guidance (deterministic targets)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)        # small ops: one thread is faster and the result fixed
    data = tiny_dataset()
    model = tiny_model()
    run_dir = tmp_path_factory.mktemp("overfit")
    config = TrainConfig(steps=400, batch_size=32, lr=2e-3, ema_decay=0.99, log_every=50,
                         ckpt_every=200, progress=False, cfg_kappa=0.0, cond_drop_prob=0.0)
    train(model, None, data, config, run_dir)
    yield data, model, run_dir
    torch.set_num_threads(threads)


def test_tiny_model_overfits_with_one_step_sampling(overfit_run):
    data, _, run_dir = overfit_run
    ema_model = SiT1D.from_run(run_dir, ema=True)
    prediction = predict(ema_model, data)
    relative_mse = ((prediction - data["x"]) ** 2).mean() / data["x"].var()
    untrained = ((predict(tiny_model(), data) - data["x"]) ** 2).mean() / data["x"].var()
    # Measured: 0.02 of the data variance after 400 steps (untrained model: > 1).
    assert relative_mse < 0.05, relative_mse
    assert untrained > 0.9


def test_prediction_is_deterministic_and_survives_reloading(overfit_run):
    data, model, run_dir = overfit_run
    first, again = predict(model, data, seed=3), predict(model, data, seed=3)
    assert torch.equal(first, again)
    reloaded = load_weights(run_dir, tiny_model(seed=99), ema=False)
    assert torch.equal(predict(reloaded, data, seed=3), first)


def test_run_folder_contents(overfit_run):
    _, _, run_dir = overfit_run
    names = {p.name for p in run_dir.iterdir()}
    assert {"config.json", "model_config.json", "metrics.csv", "model.safetensors",
            "ema.safetensors", "checkpoint"} <= names
    assert not [n for n in names if n.endswith(".tmp")]
    assert TrainConfig.load(run_dir / "config.json").steps == 400
    with (run_dir / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["step", "loss", "mse", "lr", "seconds"]
    assert [int(r["step"]) for r in rows] == list(range(50, 401, 50))
    assert float(rows[-1]["mse"]) < float(rows[0]["mse"])
    state = json.loads((run_dir / "checkpoint" / "state.json").read_text())
    assert state["step"] == 400
    model = SiT1D.from_run(run_dir)
    assert count_values(run_dir / "model.safetensors") == sum(t.numel() for t in model.state_dict().values()) > 0


def test_same_seed_same_parameters_other_seed_differs(tmp_path):
    data = tiny_dataset()
    runs = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        model = tiny_model()
        train(model, None, data, quick_config(steps=4, seed=seed), tmp_path / name)
        runs[name] = model.state_dict()
    assert all(torch.equal(runs["a"][k], runs["b"][k]) for k in runs["a"])
    assert not all(torch.equal(runs["a"][k], runs["c"][k]) for k in runs["a"])


class Interrupt(Exception):
    pass


def test_resuming_after_an_interruption_gives_the_uninterrupted_result(tmp_path):
    data = tiny_dataset()
    config = quick_config(steps=10, ckpt_every=4)
    straight = tiny_model()
    train(straight, None, data, config, tmp_path / "straight")

    def crash_at_step_6(step, loss):
        if step == 6:
            raise Interrupt

    interrupted = tiny_model()
    with pytest.raises(Interrupt):
        train(interrupted, None, data, config, tmp_path / "resumed", callback=crash_at_step_6)
    assert json.loads((tmp_path / "resumed/checkpoint/state.json").read_text())["step"] == 4
    resumed = tiny_model(seed=123)                    # weights come from the checkpoint
    train(resumed, None, data, config, tmp_path / "resumed")
    for key, value in straight.state_dict().items():
        assert torch.equal(resumed.state_dict()[key], value), key
    for name in ("ema.safetensors", "model.safetensors"):
        a = load_weights(tmp_path / "straight", tiny_model(), ema=name.startswith("ema"))
        b = load_weights(tmp_path / "resumed", tiny_model(), ema=name.startswith("ema"))
        assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    with (tmp_path / "resumed/metrics.csv").open() as handle:
        steps = [int(row["step"]) for row in csv.DictReader(handle)]
    assert steps == [2, 4, 6, 8, 10]


def test_resuming_with_another_configuration_is_refused(tmp_path):
    data = tiny_dataset()
    train(tiny_model(), None, data, quick_config(steps=2), tmp_path)
    with pytest.raises(OperandoError, match="lr"):
        train(tiny_model(), None, data, quick_config(steps=4, lr=5e-3), tmp_path)
    train(tiny_model(), None, data, quick_config(steps=4), tmp_path)   # more steps is fine
    assert json.loads((tmp_path / "checkpoint/state.json").read_text())["step"] == 4
    # Same settings, other data (e.g. spectra held out for calibration): refused, not resumed.
    other = dict(data, x=data["x"].flip(0))
    with pytest.raises(OperandoError, match=r"training data differs .*\['x'\]"):
        train(tiny_model(), None, other, quick_config(steps=6), tmp_path)
    with pytest.raises(OperandoError, match=r"training data differs"):
        train(tiny_model(), None, {k: v[:-1] for k, v in data.items()}, quick_config(steps=6), tmp_path)
    with pytest.raises(OperandoError, match=r"training data differs"):  # one value changed by 1 %
        nudged = data["x"].clone()
        nudged[3, 5] *= 1.01
        train(tiny_model(), None, dict(data, x=nudged), quick_config(steps=6), tmp_path)
    assert json.loads((tmp_path / "checkpoint/state.json").read_text())["step"] == 4
    # The same data up to rounding (another BLAS thread count): resumed.
    jitter = 1e-7 * torch.randn(data["x"].shape, generator=torch.Generator().manual_seed(1))
    rounded = dict(data, x=data["x"] * (1 + jitter))
    train(tiny_model(), None, rounded, quick_config(steps=6), tmp_path)
    assert json.loads((tmp_path / "checkpoint/state.json").read_text())["step"] == 6


def test_flow_matching_objective_trains_the_same_backbone(tmp_path):
    data = tiny_dataset()
    model = tiny_model()
    config = quick_config(steps=60, log_every=10, ckpt_every=100, objective="flow_matching",
                          batch_size=32, time_mean=0.0)
    train(model, None, data, config, tmp_path)
    with (tmp_path / "metrics.csv").open() as handle:
        losses = [float(row["loss"]) for row in csv.DictReader(handle)]
    assert losses[-1] < 0.5 * losses[0]


def test_optimizer_state_round_trips_through_flat_tensors():
    model = tiny_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95))
    model(torch.randn(2, WIDTH), torch.rand(2), torch.rand(2), s0=torch.randn(2, WIDTH),
          cond_vec=torch.randn(2, COND_DIM)).sum().backward()
    optimizer.step()
    tensors, meta = flatten_optimizer_state(optimizer.state_dict())
    json.dumps(meta)                                  # the non-tensor part is plain JSON
    restored = unflatten_optimizer_state(tensors, json.loads(json.dumps(meta)))
    other = torch.optim.AdamW(model.parameters(), lr=1.0)
    other.load_state_dict(restored)
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            assert torch.equal(other.state_dict()["state"][index][key], value)
    assert other.param_groups[0]["lr"] == 1e-3


def test_bad_tensors_are_reported(tmp_path):
    data = tiny_dataset()
    with pytest.raises(OperandoError, match="'x'"):
        train(tiny_model(), None, {"s0": data["s0"]}, quick_config(), tmp_path)
    with pytest.raises(OperandoError, match="rows"):
        train(tiny_model(), None, {**data, "s0": data["s0"][:3]}, quick_config(), tmp_path)


def test_cosine_schedule_warms_up_then_decays_to_the_floor():
    from operando.train.trainer import learning_rate

    config = TrainConfig(steps=1100, lr=1e-3, warmup_steps=100, lr_schedule="cosine", min_lr_ratio=0.1)
    assert learning_rate(config, 50) == pytest.approx(5e-4)
    assert learning_rate(config, 100) == pytest.approx(1e-3)
    assert learning_rate(config, 600) == pytest.approx(1e-4 + 0.5 * 9e-4)  # halfway: cos(pi/2) = 0
    assert learning_rate(config, 1100) == pytest.approx(1e-4)
    lrs = [learning_rate(config, s) for s in range(100, 1101)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))
    constant = TrainConfig(steps=1100, lr=1e-3, warmup_steps=100)
    assert learning_rate(constant, 1100) == 1e-3
    with pytest.raises(ValueError, match="lr_schedule"):
        TrainConfig(lr_schedule="step")
