"""ABCC pieces in the flow forecaster: switches, two streams, calibration spectra, physics losses,
trajectory batches, save/load, bench coverage, the ablation script and the registry entry."""
from __future__ import annotations

import dataclasses
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from toy import GRID, load_benchmark, toy_meta

from operando.errors import InputError, OperandoError
from operando.flow.meanflow import MeanFlow
from operando.ir.bench.splits import make_split
from operando.ir.bench.task import masked
from operando.ir.data.dataset import OperandoDataset
from operando.ir.data.experiment import Experiment, ExperimentMeta
from operando.ir.models import GENERATIVE_MODELS, MODEL_REGISTRY, build_model
from operando.ir.models.abcc import (
    ABCCConfig,
    MixtureConditionEncoder,
    PhysicsObjective,
    StreamBasis,
    StreamNet,
    TrajectoryBatches,
    trajectory_groups,
)
from operando.ir.models.abcc.streams import choose_rank, polynomial_shapes
from operando.ir.models.generative import FlowForecaster, FlowModelConfig, default_training
from operando.ir.models.runs import RunConfig, load_run
from operando.nn.sit1d import SiT1D

ROOT = Path(__file__).resolve().parents[2]
TINY = {"hidden_size": 32, "depth": 1, "num_heads": 2, "patch_size": 32, "time_freq_dim": 32}


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("OPERANDO_CACHE", str(tmp_path / "cache"))  # 3D embeddings stay in the test


def forecaster(run_dir=None, steps=3, target="chemical_flow", **abcc) -> FlowForecaster:
    training = default_training("meanflow")
    training.steps, training.batch_size, training.ckpt_every = steps, 16, 100
    return FlowForecaster(seed=0, model=FlowModelConfig(model_overrides=TINY, target=target,
                                                        abcc=ABCCConfig(**abcc)),
                          training=training, run_dir=run_dir)


@pytest.fixture
def train_and_context(toy_dataset):
    split = make_split(toy_dataset, "random", seed=0)
    return [masked(toy_dataset[n], s) for n, s in split.train.items()], masked(toy_dataset["cu-0"], [0])


# ------------------------------------------------------------------ synthetic calibration

def _lorentz(center, fwhm):
    return 1.0 / (1.0 + ((GRID - center) / (fwhm / 2)) ** 2)


ELEC_A, ELEC_B = _lorentz(1800, 20) + 0.4 * _lorentz(1200, 40), _lorentz(1750, 25) + 0.6 * _lorentz(1050, 30)
SEI_1, SEI_2 = _lorentz(1650, 30) + 0.5 * _lorentz(1300, 30), _lorentz(1500, 40) + 0.3 * _lorentz(900, 20)


def _static(name: str, system: str, spectra: np.ndarray) -> Experiment:
    meta = ExperimentMeta.from_dict({**toy_meta(name).to_dict(), "protocol": "static", "system": system})
    n = len(spectra)
    return Experiment(meta, np.arange(n) * 60.0, np.full(n, 3.0), GRID.copy(), spectra.astype(np.float32),
                      current_ma=np.zeros(n))


def synthetic_calibration(noise=1e-4, seed=0) -> OperandoDataset:
    """Electrolytes mixing two component spectra (plus a small baseline), two SEI references."""
    rng = np.random.default_rng(seed)
    ramp = polynomial_shapes(GRID, 1)
    exps = []
    for k, f in enumerate(np.linspace(0.1, 0.9, 7)):
        clean = np.stack([f * ELEC_A + (1 - f) * ELEC_B + rng.normal(0, 0.01, 2) @ ramp for _ in range(3)])
        exps.append(_static(f"cal-{k}", f"calibration|mix {k}", clean + noise * rng.standard_normal(clean.shape)))
    for name, band in (("LEDC", SEI_1), ("Li2CO3", SEI_2)):
        films = np.stack([m * band for m in (0.5, 1.0, 1.5)])  # thicker films: clipped after preprocessing
        exps.append(_static(f"ref-{name}", f"reference|{name}", films + noise * rng.standard_normal(films.shape)))
    return OperandoDataset(exps, simulated=True)


@pytest.fixture
def calibration_file(tmp_path):
    return synthetic_calibration().save(tmp_path / "calibration.h5")


def basis_from(dataset, **abcc) -> StreamBasis:
    from operando.ir.data.preprocess import preprocess_dataset

    return StreamBasis.from_calibration(preprocess_dataset(dataset), GRID, ABCCConfig(**abcc), "synthetic")


def span_residual(x: np.ndarray, rows: np.ndarray) -> float:
    """Largest |x - projection of x onto span(rows)| relative to max |x|."""
    q, _ = np.linalg.qr(np.atleast_2d(rows).T)
    rest = x - (x @ q) @ q.T
    return float(np.abs(rest).max() / max(np.abs(x).max(), 1e-30))


def test_calibration_rank_and_stream_targets_reconstruct_a_two_component_mixture():
    basis = basis_from(synthetic_calibration())
    assert basis.info["n_electrolyte_components"] == 2          # two electrolyte species, chosen by the noise
    assert basis.sei_names == ["LEDC", "Li2CO3"] and basis.baseline.shape == (2, 601)
    ramp = polynomial_shapes(GRID, 1)
    # A chemical flow: solvent A turns into B, SEI 1 and SEI 2 grow, the baseline drifts.
    amounts = np.array([[0.0, 0.0, 0.0], [0.1, 0.2, 0.05], [0.3, 0.5, 0.2]])
    elec_true = amounts[:, :1] * (ELEC_B - ELEC_A)
    sei_true = amounts[:, 1:2] * SEI_1 + amounts[:, 2:] * SEI_2
    drift = np.outer([0.0, 0.01, -0.02], ramp[1])
    x = elec_true + sei_true + drift
    fit = basis.fit(x)
    np.testing.assert_allclose(fit.elec + fit.sei + fit.baseline + fit.residual, x, atol=1e-12)
    assert np.abs(fit.residual).max() < 1e-3 * np.abs(x).max()
    # Each stream is recovered; an offset/slope is a convention between a stream and the baseline.
    q, _ = np.linalg.qr(ramp.T)
    off_baseline = lambda d: np.abs(d - (d @ q) @ q.T).max()
    assert off_baseline(fit.elec - elec_true) < 2e-3 and off_baseline(fit.sei - sei_true) < 2e-3
    assert np.abs(fit.sei - sei_true).max() < 5e-3 and np.abs(fit.elec - elec_true).max() < 5e-3
    c = fit.sei_coefficients
    assert (c >= 0).all() and c[2] / c[1] == pytest.approx([0.5 / 0.2, 0.2 / 0.05], rel=0.02)
    # SEI cannot shrink: a negative SEI change gets no negative SEI coefficient (signed without the constraint).
    shrink = -0.3 * SEI_1[None]
    assert (basis.fit(shrink).sei_coefficients >= 0).all()
    assert basis.fit(shrink, sei_nonnegative=False).sei_coefficients[0, 0] < 0
    # MCR-ALS electrolyte spectra span the same space: the same flow is explained.
    mcr = basis_from(synthetic_calibration(), electrolyte_method="mcr")
    assert mcr.elec.shape == (2, 601) and np.abs(mcr.fit(x).residual).max() < 1e-3 * np.abs(x).max()


def test_choose_rank_on_a_noisy_rank_three_matrix():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 3)) @ np.stack([ELEC_A, ELEC_B, SEI_1]) + 1e-3 * rng.standard_normal((40, 601))
    k, sv = choose_rank(x)
    assert k == 3 and sv[2] > 100 * sv[3]


def test_calibration_file_errors(tmp_path, train_and_context):
    train, _ = train_and_context
    with pytest.raises(InputError, match="operando ir simulate --calibration"):
        forecaster(calibration=str(tmp_path / "missing.h5")).prepare(train)
    only_electrolytes = OperandoDataset([e for e in synthetic_calibration() if "ref" not in e.name])
    with pytest.raises(InputError, match="SEI reference"):
        basis_from(only_electrolytes)


# ------------------------------------------------------------------ switches

def test_each_switch_changes_the_model(train_and_context, calibration_file, monkeypatch):
    train, _ = train_and_context
    cal = str(calibration_file)
    full = forecaster(calibration=cal)
    tensors, objective, sampler = full.prepare(train)
    assert isinstance(full.net, StreamNet) and isinstance(objective, PhysicsObjective)
    assert isinstance(sampler, TrajectoryBatches)
    # 1. Chemical Flow: the target is the change (zero at m = 0), not the spectrum; no trajectory batches.
    spectrum = forecaster(calibration=cal, target="spectrum", trajectory=False)
    t_spec, _, no_sampler = spectrum.prepare(train)
    assert no_sampler is None
    origin = [g[0] for g in full.trajectories]
    assert np.abs(tensors["x"][origin].numpy()).max() < 1e-6 < np.abs(t_spec["x"][origin].numpy()).max()
    # 2. two streams: a StreamNet with three branches and fusion weights vs a plain SiT1D.
    one = forecaster(calibration=cal, two_stream=False)
    one.prepare(train)
    assert isinstance(one.net, SiT1D) and not isinstance(one.net, StreamNet)
    assert "stream_weights" in dict(full.net.named_parameters())
    assert set(dict(full.net.named_parameters())) != set(dict(one.net.named_parameters()))
    # 3. molecules: 3D, 2D and the fixed vocabulary give different conditioning sizes.
    dims = {}
    for kind in ("3d", "2d", "vocab"):
        model = forecaster(calibration=cal, molecules=kind)
        dims[kind] = model.prepare(train)[0]["cond_vec"].shape[1]
    assert len(set(dims.values())) == 3 and dims["2d"] - dims["3d"] == 3 * (140 - 88)
    # 4. physics: no weights, no extra objective; each weight adds its own term.
    assert forecaster(calibration=cal, lambda_mass=0, lambda_peak=0).objective() is None
    net, x = full.net, tensors["x"][:16]
    cond = {"s0": tensors["s0"][:16], "cond_vec": tensors["cond_vec"][:16]}
    noise = MeanFlow(cond_drop_prob=0.0).draw(16, 601, torch.Generator().manual_seed(0))
    with torch.no_grad():
        for p in net.parameters():  # leave the zero start so the estimate is not trivial
            p.add_(0.02 * torch.randn_like(p))
    losses = {}
    for name, weights in {"none": (0, 0), "mass": (1, 0), "peak": (0, 1)}.items():
        objective = PhysicsObjective(MeanFlow(cond_drop_prob=0.0), *weights)
        losses[name] = objective.loss(net, x, noise, cond).loss.item()
    assert losses["mass"] > losses["none"] and losses["peak"] > losses["none"]
    # 5. the draws' mean-matching term: off by default, on with its weight.
    assert full.objective().lambda_moment == 0.0
    moment = forecaster(calibration=cal, lambda_moment=100.0).objective()
    assert moment.lambda_moment == 100.0 and moment.moment_rows == 32 and moment.moment_from_step == 0
    assert forecaster(calibration=cal, lambda_moment=100.0, moment_from_step=6000).objective().moment_from_step == 6000
    on = PhysicsObjective(MeanFlow(cond_drop_prob=0.0), lambda_moment=1.0).loss(net, x, noise, cond).loss
    assert on.item() != losses["none"]
    # 6. the noise-end point estimate: off by default; on, it adds its term and sets the point forecast.
    assert full.objective().lambda_point == 0.0 and not full.point_from_noise_end
    point = forecaster(calibration=cal, lambda_point=0.25)
    assert point.objective().lambda_point == 0.25 and point.objective().point_rows == 32 and point.point_from_noise_end
    on = PhysicsObjective(MeanFlow(cond_drop_prob=0.0), lambda_point=1.0).loss(net, x, noise, cond).loss
    assert on.item() > losses["none"]


def test_missing_rdkit_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "rdkit", None)  # "import rdkit" now fails
    with pytest.raises(OperandoError, match=r"operando\[chem\]"):
        MixtureConditionEncoder("3d")
    assert MixtureConditionEncoder("2d").molecule_encoder.kind == "2d"


def test_config_validation_and_toml(tmp_path):
    with pytest.raises(ValueError, match="residual"):
        FlowModelConfig(abcc={"residual": "everything"})
    with pytest.raises(ValueError, match="reference"):
        FlowModelConfig(abcc={"reference": "denoised"})
    assert not ABCCConfig(residual="full").projects_reference and ABCCConfig().projects_reference
    with pytest.raises(ValueError, match="lambda_point"):
        ABCCConfig(lambda_point=-1.0)
    with pytest.raises(ValueError, match="point_rows"):
        ABCCConfig(point_rows=0)
    with pytest.raises(ValueError, match="moment_from_step"):
        ABCCConfig(moment_from_step=-1)
    with pytest.raises(ValueError, match="unknown abcc settings"):
        FlowModelConfig(abcc={"lambda_masss": 1.0})
    config = RunConfig.load(ROOT / "configs" / "ir" / "abcc-small.toml")
    model = config.model_config()
    assert model.abcc is not None and model.abcc.two_stream and model.abcc.molecules == "3d"
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[model.abcc]\nmolecules = "4d"\n')
    with pytest.raises(InputError, match="molecules"):
        RunConfig.load(bad)
    assert "abcc" in MODEL_REGISTRY and "abcc" in GENERATIVE_MODELS
    assert build_model("abcc", abcc={"molecules": "2d"}).config.abcc.molecules == "2d"


def test_the_abcc_config_file_is_the_registered_recipe():
    """configs/ir/abcc-small.toml trains what `operando ir bench --model abcc` trains, but for the
    calibration set (a file there, built in memory by the registered model)."""
    config = RunConfig.load(ROOT / "configs" / "ir" / "abcc-small.toml")
    registered = build_model("abcc", seed=config.seed)
    from_file = config.model_config()
    assert dataclasses.replace(from_file.abcc, calibration=registered.config.abcc.calibration) == registered.config.abcc
    assert dataclasses.replace(from_file, abcc=registered.config.abcc) == registered.config
    trained, reference = config.train_config(), registered.training
    assert (trained.steps, trained.batch_size, trained.lr) == (reference.steps, reference.batch_size, reference.lr)
    assert trained.to_dict() == reference.to_dict()


# ------------------------------------------------------------------ trajectories

def test_trajectory_batches_start_at_the_origin_and_follow_the_steps():
    groups = trajectory_groups([5, 12, 1])
    assert [list(g) for g in groups] == [[0, 1, 2, 3, 4], list(range(5, 17)), [17]]
    sampler = TrajectoryBatches(groups, segment_length=4)
    batch = sampler(10, torch.Generator().manual_seed(0))
    assert batch.shape == (10,) and batch.dtype == torch.int64
    again = sampler(10, torch.Generator().manual_seed(0))
    assert torch.equal(batch, again)
    for segment in batch[:8].reshape(2, 4):
        cell = next(g for g in groups if int(segment[0]) in g)
        assert int(segment[0]) == cell[0]                      # starts at the origin pair
        assert all(int(r) in cell for r in segment)            # one cell's trajectory
        assert (segment[1:].diff() >= 0).all()                 # in step order
    counts = np.bincount(np.concatenate([sampler(64, torch.Generator().manual_seed(s)).numpy()
                                         for s in range(20)]), minlength=18)
    assert counts[[0, 5]].sum() > counts[[1, 2, 3, 4]].sum() / 4  # origins are over-represented


# ------------------------------------------------------------------ two-stream network

def test_two_stream_outputs_lie_in_their_subspaces_and_sum_to_the_total(train_and_context, calibration_file):
    train, context = train_and_context
    model = forecaster(calibration=str(calibration_file))
    tensors, _, _ = model.prepare(train)
    net = model.net
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    z, s0, cond = tensors["x"][:6].double(), tensors["s0"][:6].double(), tensors["cond_vec"][:6].double()
    net = net.double()
    t, r = torch.full((6,), 0.7, dtype=torch.float64), torch.zeros(6, dtype=torch.float64)
    elec, sei, base = (b.detach().numpy() for b in net.branches(z, t, r, s0=s0, cond_vec=cond))
    basis = model.streams
    assert np.abs(elec).max() > 0 and np.abs(sei).max() > 0 and np.abs(base).max() > 0
    assert span_residual(elec, basis.elec) < 1e-9
    assert span_residual(sei, basis.sei) < 1e-9
    assert span_residual(base, basis.baseline) < 1e-9
    u = net(z, t, r, s0=s0, cond_vec=cond).detach().numpy()
    outside = z.numpy() - (z.numpy() @ np.linalg.pinv(basis.stacked)) @ basis.stacked
    np.testing.assert_allclose(u, elec + sei + base + outside / 0.7, atol=1e-9)
    # A one-step sample lies in the span of the calibration spectra.
    x = (z - net(z, torch.ones(6, dtype=torch.float64), r, s0=s0, cond_vec=cond)).detach().numpy()
    assert span_residual(x, basis.stacked) < 1e-9


@pytest.mark.filterwarnings("ignore:the first spectrum has structure outside")
def test_tiny_abcc_trains_predicts_streams_and_round_trips(train_and_context, calibration_file, tmp_path):
    train, context = train_and_context
    model = forecaster(tmp_path / "run", steps=4, calibration=str(calibration_file))
    model.fit(train)
    steps = np.arange(len(context))
    pred = model.predict(context, steps)
    assert pred.shape == (len(context), 601) and np.isfinite(pred).all()
    streams = model.sample_streams(context, steps[:5], n_samples=3, seed=1)
    assert {k: v.shape for k, v in streams.items()} == {k: (3, 5, 601) for k in
                                                       ("total", "reference", "elec", "sei", "residual")}
    np.testing.assert_allclose(streams["reference"] + streams["elec"] + streams["sei"] + streams["residual"],
                               streams["total"], atol=1e-12)
    np.testing.assert_allclose(streams["total"], model.sample(context, steps[:5], n_samples=3, seed=1))
    basis = model.streams
    for name, rows in (("elec", basis.elec), ("sei", basis.sei), ("residual", basis.baseline)):
        assert span_residual(streams[name].reshape(-1, 601), rows) < 1e-4, name
    # reference = "span" (default): the whole forecast lies in the span of the spectra, as its
    # targets do; "measured" adds back exactly the out-of-span part of s_v0.
    assert span_residual(streams["total"].reshape(-1, 601), basis.stacked) < 1e-4
    s0 = context.absorbance[:1].astype(np.float64)
    outside = s0 - basis.in_span(s0)
    assert np.abs(outside).max() > 1e-3
    model.config.abcc.reference = "measured"
    measured = model.sample(context, steps[:5], n_samples=3, seed=1)
    model.config.abcc.reference = "span"
    np.testing.assert_allclose(measured - streams["total"], np.broadcast_to(outside, measured.shape), atol=1e-9)
    # The toy cells are not made of the calibration spectra (hence the filter on this test); a
    # first spectrum that is, up to noise, samples quietly; one band outside the span warns.
    covered = context.absorbance.copy()
    covered[0] = basis.in_span(covered[:1])[0] + 0.002 * np.random.default_rng(0).standard_normal(601)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.sample(dataclasses.replace(context, absorbance=covered), steps[:2], n_samples=1)
    covered[0] += 0.3 * np.exp(-0.5 * ((context.wavenumber_cm1 - 1234.0) / 4.0) ** 2)
    with pytest.warns(UserWarning, match="outside the span of the calibration spectra"):
        model.sample(dataclasses.replace(context, absorbance=covered), steps[:2], n_samples=1)
    assert (tmp_path / "run" / "streams.json").is_file()
    again = load_run(tmp_path / "run")
    assert again.config.abcc == model.config.abcc and isinstance(again.net, StreamNet)
    assert np.array_equal(pred, again.predict(context, steps))
    back = again.sample_streams(context, steps[:5], n_samples=3, seed=1)
    for name in streams:
        np.testing.assert_allclose(back[name], streams[name], atol=1e-12)
    assert again.streams.sei_names == ["LEDC", "Li2CO3"]
    plain = FlowForecaster(seed=0, model=FlowModelConfig(model_overrides=TINY))
    with pytest.raises(OperandoError, match="two-stream"):
        plain.sample_streams(context, steps[:2])


# ------------------------------------------------------------------ physics losses

def test_physics_losses_vanish_for_a_perfect_estimate_only():
    g = torch.Generator().manual_seed(0)
    x = torch.from_numpy(np.stack([0.8 * SEI_1 - 0.3 * ELEC_A, 0.5 * SEI_2 + 0.2 * ELEC_B]))

    def oracle(z, t, r, **cond):          # u(z_t, 0, t) = (z_t - x) / t: the data end is x itself
        return (z - x) / t[:, None]

    def lazy(z, t, r, **cond):            # u = 0: the estimate is z_t itself
        return torch.zeros_like(z)

    for base in (MeanFlow(cond_drop_prob=0.0), __import__("operando.flow", fromlist=["x"]).FlowMatching()):
        noise = base.draw(2, 601, g, dtype=torch.float64)
        physics = PhysicsObjective(base, lambda_mass=1.0, lambda_peak=1.0, max_rows=2)
        rows = torch.arange(2)
        np.testing.assert_allclose(physics.data_estimate(oracle, x, noise, {}, rows).numpy(), x.numpy(), atol=1e-12)
        for model, zero in ((oracle, True), (lazy, False)):
            extra = physics.loss(model, x, noise).loss - base.loss(model, x, noise).loss
            assert (abs(float(extra)) < 1e-12) == zero
    # The spectrum target: the losses see (x - s0) / scale, so a shared s0 cancels exactly.
    s0 = torch.full_like(x, 0.25)
    physics = PhysicsObjective(MeanFlow(cond_drop_prob=0.0), 1.0, 1.0, flow_scale=0.5)
    assert torch.allclose(physics.to_flow(x + s0, s0), x / 0.5)


def _affine_draws(spread):
    """A MeanFlow-contract model whose one-step draws are x = eps - u(eps, 0, 1) = mean + spread * eps,
    ``mean`` (B, W) given as a condition (so that it follows the rows)."""
    def model(z, t, r, *, mean, drop_cond=None):
        return z - (mean + spread * z)
    return model


def test_moment_loss_is_the_squared_error_of_the_draws_mean():
    """Closed form: with draws mean + s eps, E[L_moment] = mean_W (mean - x)^2 for any spread s."""
    g = torch.Generator().manual_seed(0)
    n, w = 4096, 6
    x = torch.randn(n, w, generator=g, dtype=torch.float64)
    base = MeanFlow(cond_drop_prob=0.0)
    noise = base.draw(n, w, g, dtype=torch.float64)
    physics = PhysicsObjective(base, lambda_moment=1.0, moment_rows=n)
    rows = torch.arange(n)
    offset = 0.3
    expected = float(((x + offset - x) ** 2).mean())  # the draws' mean is x + 0.3
    for spread in (0.0, 0.5, 2.0):
        value = float(physics.moment_loss(_affine_draws(spread), x, noise, {"mean": x + offset}, rows))
        # s = 0: exact; else the cross term spread^2 eps_i eps_(i+1) averages out (sd spread^2 / sqrt(n w))
        assert abs(value - expected) < (1e-12 if spread == 0 else 4 * spread ** 2 / (n * w) ** 0.5)
    # A perfect mean gives zero (to rounding) for deterministic draws, and only the draws' mean is pulled.
    assert abs(float(physics.moment_loss(_affine_draws(0.0), x, noise, {"mean": x}, rows))) < 1e-30
    shift = torch.zeros(w, dtype=torch.float64, requires_grad=True)
    spread = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    physics.moment_loss(_affine_draws(spread), x, noise, {"mean": x + offset + shift}, rows).backward()
    # d/dshift_j = 2 offset / w + noise terms of sd sqrt(2 / n) / w; d/dspread: noise terms only
    np.testing.assert_allclose(shift.grad.numpy(), 2 * offset / w, atol=4 * (2 / n) ** 0.5 / w)
    assert abs(float(spread.grad)) < 4 * (offset * 2 ** 0.5 + 2) / (n * w) ** 0.5 < 2 * offset / w
    # In the objective the term is added with its weight, and rows whose condition is dropped stay out.
    cond = {"mean": x + offset}
    total = PhysicsObjective(base, lambda_moment=2.0, moment_rows=n).loss(_affine_draws(0.0), x, noise, cond).loss
    plain = base.loss(_affine_draws(0.0), x, noise, cond).loss
    np.testing.assert_allclose(float(total - plain), 2.0 * expected, rtol=1e-9)
    # As a last phase (moment_from_step = 10) it enters only after step 10; outside training (no step), always.
    late = PhysicsObjective(base, lambda_moment=2.0, moment_rows=n, moment_from_step=10)
    assert float(late.loss(_affine_draws(0.0), x, noise, cond, step=10).loss) == float(plain)
    assert float(late.loss(_affine_draws(0.0), x, noise, cond, step=11).loss) == float(total)
    assert float(late.loss(_affine_draws(0.0), x, noise, cond).loss) == float(total)
    dropping = MeanFlow(cond_drop_prob=0.5)
    noise = dropping.draw(n, w, g, dtype=torch.float64)
    kept = torch.nonzero(~noise.drop_cond.to(torch.bool)).flatten()[:100]
    assert len(kept) == 100 and kept.tolist() != list(range(100))  # some of the first 100 rows are dropped
    physics = PhysicsObjective(dropping, lambda_moment=1.0, moment_rows=100)
    cond = {"mean": x + torch.linspace(0.0, 1.0, n, dtype=torch.float64)[:, None]}  # a different error per row
    extra = physics.loss(_affine_draws(0.0), x, noise, cond).loss - dropping.loss(_affine_draws(0.0), x, noise, cond).loss
    np.testing.assert_allclose(float(extra), float(physics.moment_loss(_affine_draws(0.0), x, noise, cond, kept)), rtol=1e-9)
    assert float(extra) != pytest.approx(float(physics.moment_loss(_affine_draws(0.0), x, noise, cond, torch.arange(100))))


def test_point_loss_is_the_squared_error_of_the_noise_end_estimate_on_kept_rows():
    """L_point = mean_rows sum_W (eps - u(eps, 1, 1) - x)^2 over the first ``point_rows`` rows
    that keep their condition; for u = z - mean the estimate is ``mean`` whatever the noise."""
    g = torch.Generator().manual_seed(1)
    n, w = 512, 6
    x = torch.randn(n, w, generator=g, dtype=torch.float64)
    dropping = MeanFlow(cond_drop_prob=0.5)
    noise = dropping.draw(n, w, g, dtype=torch.float64)
    kept = torch.nonzero(~noise.drop_cond.to(torch.bool)).flatten()[:100]
    assert kept.tolist() != list(range(100))
    model = _affine_draws(0.0)
    error = torch.linspace(0.0, 1.0, n, dtype=torch.float64)[:, None]   # a different error per row
    cond = {"mean": x + error}
    physics = PhysicsObjective(dropping, lambda_point=2.0, point_rows=100)
    extra = physics.loss(model, x, noise, cond).loss - dropping.loss(model, x, noise, cond).loss
    expected = float(((cond["mean"][kept] - x[kept]) ** 2).sum(1).mean())   # w * error^2 per row
    np.testing.assert_allclose(float(extra), 2.0 * expected, rtol=1e-9)
    perfect = {"mean": x}
    assert abs(float(physics.loss(model, x, noise, perfect).loss - dropping.loss(model, x, noise, perfect).loss)) < 1e-12


@pytest.mark.filterwarnings("ignore:the first spectrum has structure outside")
def test_point_forecast_with_l_point_is_the_mean_of_noise_end_estimates(train_and_context, calibration_file, tmp_path):
    train, context = train_and_context
    model = forecaster(tmp_path / "run", steps=4, calibration=str(calibration_file), lambda_point=1.0)
    model.fit(train)
    steps = np.arange(len(context))
    assert np.array_equal(model.predict(context, steps), load_run(tmp_path / "run").predict(context, steps))
    with torch.no_grad():
        for p in model.net.parameters():  # leave the near-zero start so the estimate and the draws differ
            p.add_(0.02 * torch.randn_like(p))
    pred = model.predict(context, steps)
    estimates = model.noise_end_means(context, steps)
    assert estimates.shape == (model.config.n_samples, len(context), 601)
    np.testing.assert_allclose(pred, estimates.mean(axis=0))
    assert np.abs(pred - model.sample(context, steps).mean(axis=0)).max() > 1e-6   # not the draws' mean
    # Like the draws, the estimates lie in the span of the stream spectra.
    assert span_residual(estimates.reshape(-1, 601), model.streams.stacked) < 1e-4


# ------------------------------------------------------------------ bench coverage

class _Gaussian:
    """A fake sampling forecaster: the truth's reference plus N(0, sigma) draws."""

    name = "Gaussian draws"

    def __init__(self, sigma):
        self.sigma = sigma

    def fit(self, train):
        pass

    def predict(self, context, steps):
        return np.repeat(context.absorbance[:1].astype(np.float64), len(steps), axis=0)

    def sample(self, context, steps, n_samples=None, seed=None):
        rng = np.random.default_rng(seed or 0)
        mean = self.predict(context, steps)
        return mean[None] + self.sigma * rng.standard_normal((n_samples, *mean.shape))


def test_runner_records_coverage_for_sampling_models(toy_dataset, tmp_path):
    import json

    from operando.ir.bench.runner import evaluate, save_result

    split = make_split(toy_dataset, "random", seed=0)
    narrow, wide = (evaluate(_Gaussian(s), toy_dataset, split, coverage_samples=16) for s in (1e-4, 10.0))
    cov_narrow, cov_wide = narrow.per_spectrum["coverage90"], wide.per_spectrum["coverage90"]
    assert len(cov_narrow) == split.n_test and cov_narrow.between(0, 1).all()
    assert cov_wide.mean() > 0.99 and cov_narrow.mean() < 0.2
    folder = save_result(wide, tmp_path)
    assert json.loads((folder / "summary.json").read_text())["coverage90"]["mean"] == pytest.approx(cov_wide.mean())
    static = evaluate(build_model("static"), toy_dataset, split)
    assert "coverage90" not in static.per_spectrum and "coverage90" not in static.summary()


def test_ablation_variants_are_cumulative():
    ablation = load_benchmark("ablation")
    rows = dict(ablation.variant_configs("simulated"))
    assert list(rows)[0] == "ABCC (full)" and rows["ABCC (full)"].abcc == ABCCConfig()
    last = rows["w/o mean alignment"]
    assert last.target == "spectrum" and not last.abcc.trajectory and not last.abcc.two_stream
    assert last.abcc.molecules == "2d" and last.abcc.lambda_peak == 0 and last.abcc.lambda_mass == 0
    assert rows["w/o Chemical Flow"].abcc.two_stream and rows["w/o two-stream"].abcc.molecules == "3d"
    # every row calibrates its interval on held-out spectra as the registered ABCC does (the
    # registered one's unseen-system folds are left out: they would double the ablation's training)
    from operando.ir.models import ABCC_CONFORMAL_SHARE, build_model

    assert build_model("abcc").config.conformal_share == ABCC_CONFORMAL_SHARE > 0
    assert {c.conformal_share for c in rows.values()} == {ABCC_CONFORMAL_SHARE}


def test_ablation_compares_each_row_with_the_one_above_seed_by_seed():
    """ablation.seed_by_seed: per-seed MAE and peak drift, and counts of the shared seeds in which
    a row is worse than the row above and than the full model (a missing seed is not counted)."""
    import pandas as pd

    ablation = load_benchmark("ablation")
    rows = pd.DataFrame([
        {"variant": "ABCC (full)", "seed": 0, "MAE": 0.030, "peak_drift_cm1": 2.0},
        {"variant": "ABCC (full)", "seed": 1, "MAE": 0.034, "peak_drift_cm1": 2.2},
        {"variant": "w/o Chemical Flow", "seed": 0, "MAE": 0.040, "peak_drift_cm1": 1.9},
        {"variant": "w/o Chemical Flow", "seed": 1, "MAE": 0.033, "peak_drift_cm1": 2.5},
        {"variant": "w/o two-stream", "seed": 0, "MAE": 0.039, "peak_drift_cm1": 2.0},
    ])
    text = ablation.seed_by_seed(rows, [0, 1])
    assert "| ABCC (full) | 3.000 / 3.400 | 2.000 / 2.200 |  |  |  |" in text
    assert "| w/o Chemical Flow | 4.000 / 3.300 | 1.900 / 2.500 | 1 of 2 | 1 of 2 | 1 of 2 |" in text
    assert "| w/o two-stream | 3.900 / - | 2.000 / - | 0 of 1 | 1 of 1 | 1 of 1 |" in text


# ------------------------------------------------------------------ data parallel

def _ddp_model():
    from operando.nn import SiT1DConfig

    torch.manual_seed(0)
    net = SiT1D(SiT1DConfig(width=24, cond_dim=3, patch_size=4, hidden_size=16, depth=1, num_heads=2)).double()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return net


def _ddp_data():
    g = torch.Generator().manual_seed(0)
    return {"x": torch.randn(10, 24, generator=g, dtype=torch.float64),
            "s0": torch.randn(10, 24, generator=g, dtype=torch.float64),
            "cond_vec": torch.randn(10, 3, generator=g, dtype=torch.float64)}


def _ddp_objective():
    return PhysicsObjective(MeanFlow(cond_drop_prob=0.0, cfg_kappa=0.0), lambda_mass=5.0, max_rows=64)


def _ddp_config():
    from operando.train import TrainConfig

    return TrainConfig(steps=2, batch_size=8, lr=1e-2, progress=False, cond_drop_prob=0.0, cfg_kappa=0.0)


def _ddp_worker(rank: int, port: int, folder: str) -> None:
    import os

    from operando.train import train
    from operando.train.checkpoint import save_tensors

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2",
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    net = _ddp_model()
    train(net, _ddp_objective(), _ddp_data(), _ddp_config(), os.path.join(folder, "ddp"))
    save_tensors(os.path.join(folder, f"rank{rank}.safetensors"), net.state_dict())


def test_physics_pass_on_the_bare_module_is_all_reduced_under_ddp(tmp_path):
    """The extra forward runs on the unwrapped module; DDP still averages its gradients."""
    import torch.multiprocessing as mp

    from operando.train import train
    from operando.train.checkpoint import load_tensors
    from operando.train.distributed import free_port

    mp.spawn(_ddp_worker, args=(free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [load_tensors(tmp_path / f"rank{r}.safetensors") for r in range(2)]
    single, plain = _ddp_model(), _ddp_model()
    train(single, _ddp_objective(), _ddp_data(), _ddp_config(), tmp_path / "single")
    train(plain, MeanFlow(cond_drop_prob=0.0, cfg_kappa=0.0), _ddp_data(), _ddp_config(), tmp_path / "plain")
    moved_by_physics = 0.0
    for key, value in single.state_dict().items():
        assert torch.equal(ranks[0][key], ranks[1][key]), key
        torch.testing.assert_close(ranks[0][key], value, rtol=1e-6, atol=1e-9)
        moved_by_physics = max(moved_by_physics, float((value - plain.state_dict()[key]).abs().max()))
    assert moved_by_physics > 1e-4


@pytest.mark.filterwarnings("ignore:the first spectrum has structure outside")
def test_train_and_predict_streams_on_the_command_line(toy_dataset, calibration_file, tmp_path):
    import json

    import pandas as pd

    from operando.cli.main import main

    data = toy_dataset.save(tmp_path / "data.h5")
    config = tmp_path / "abcc.toml"
    config.write_text(f'name = "tiny"\ndata = "{data}"\nsplit = "none"\nout = "{tmp_path / "runs"}"\n'
                      f'[model]\nmodel_overrides = {json.dumps(TINY).replace(":", " =")}\n'
                      f'[model.abcc]\ncalibration = "{calibration_file}"\nmolecules = "2d"\n'
                      '[training]\nsteps = 3\nbatch_size = 8\n')
    assert main(["ir", "train", "--config", str(config), "--no-progress"]) == 0
    run = tmp_path / "runs" / "tiny"
    assert json.loads((run / "run.json").read_text())["model"]["abcc"]["molecules"] == "2d"
    assert main(["ir", "predict", "--run", str(run), "--data", str(data), "--experiment", "sn-1", "--streams",
                 "--samples", "3", "-o", str(tmp_path / "pred")]) == 0
    parts = {k: pd.read_csv(tmp_path / "pred" / f"forecast_{k}.csv").iloc[:, 1:].to_numpy()
             for k in ("mean", "elec", "sei", "residual")}
    assert all(p.shape == (601, 40) for p in parts.values())
    assert np.abs(parts["elec"]).max() > 0 and np.abs(parts["sei"]).max() > 0


def test_a_last_phase_term_in_one_run_equals_a_plain_run_continued_with_it(tmp_path):
    """L_moment from step 4 (moment_from_step) in one 8-step run gives the weights of 4 plain steps
    resumed for 4 more with L_moment on; on from the first step, other weights."""
    from tiny_training import quick_config, tiny_dataset, tiny_model

    from operando.flow import MeanFlow
    from operando.ir.models.abcc import PhysicsObjective
    from operando.train import train

    data = tiny_dataset()
    config = quick_config(steps=8, ckpt_every=4)
    base = dict(lambda_moment=1.0, moment_rows=8)
    phased = tiny_model()
    train(phased, PhysicsObjective(MeanFlow(), **base, moment_from_step=4), data, config, tmp_path / "phased")
    continued = tiny_model()
    train(continued, PhysicsObjective(MeanFlow()), data, quick_config(steps=4, ckpt_every=4), tmp_path / "continued")
    train(continued, PhysicsObjective(MeanFlow(), **base), data, config, tmp_path / "continued")
    always = tiny_model()
    train(always, PhysicsObjective(MeanFlow(), **base), data, config, tmp_path / "always")
    for key, value in phased.state_dict().items():
        assert torch.equal(continued.state_dict()[key], value), key
    assert not all(torch.equal(always.state_dict()[k], v) for k, v in phased.state_dict().items())
