"""Flow generators as OpIRBench forecasters: MeanFlow (one step) and flow matching (ODE).

Both share the SiT1D backbone (:mod:`operando.nn.sit1d`) and the conditions of the
baselines (:class:`~operando.ir.models.baselines.ConditionEncoder`: voltage-history features,
fixed cell embedding, s_v0 in a PCA basis) plus s_v0 itself as a second input channel.

What is generated (``target``):

* ``"chemical_flow"`` (default): Delta s = clip(s_vm - s_v0, -a, a) / a in [-1, 1] (Eq. 10 of
  arXiv 2602.18551), with the clip scale ``a`` the 99.9 % quantile of |Delta s| over the
  training pairs; the forecast is s_v0 + a * sample.
* ``"spectrum"``: s_vm itself.

A point forecast is the mean of ``n_samples`` draws (each one network evaluation for
MeanFlow, ``sample_steps`` for flow matching; independent, or with ``antithetic`` in pairs
(eps, -eps), whose mean carries less of the draws' scatter); :meth:`FlowForecaster.sample` returns the draws
and :meth:`FlowForecaster.summarize` their mean, spread and interval. With ``conformal_share``
> 0, that share of the training spectra is held out of training and calibrates the interval
(split conformal, :class:`~operando.ir.bench.uncertainty.ConformalScale`); otherwise the interval
is the draws' raw quantiles, which under-cover. With ``conformal_system_folds`` > 1, models
trained without some of the training systems calibrate a second set of factors for cells of
systems the forecaster never trained on (:meth:`FlowForecaster.calibrate_unseen_systems`);
:meth:`FlowForecaster.summarize` picks the factors by the cell's system.

ABCC (``abcc=ABCCConfig(...)``, :mod:`operando.ir.models.abcc`) adds, each switchable: trajectory
batches of the chemical flow, the two-stream network over fixed calibration spectra
(:meth:`FlowForecaster.sample_streams`), the molecular mixture embedding in the conditions,
and the mass/peak physics losses.

``representation = "waveform"`` selects the image route of ABCC instead (latent MeanFlow on
waveform images with a SiT2D): :class:`operando.ir.models.latent.WaveformFlowForecaster`, a
subclass of :class:`FlowForecaster`; the default ``"spectrum"`` is the 1D route of this module.

A fitted forecaster lives in a run folder: the trainer's files (config.json,
model_config.json, model/ema safetensors, metrics.csv) plus forecaster.json (this class's
settings), encoder.safetensors (the fitted condition encoder) and, with two streams,
streams.json (how the component spectra were obtained; the spectra are in the weights).
"""
from __future__ import annotations

import copy
import dataclasses
import json
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from operando.atomic import write_text
from operando.errors import OperandoError
from operando.flow import flow_matching, meanflow
from operando.ir.bench.task import hold_out_spectra, masked, spaced_rows, system_folds, training_rows
from operando.ir.bench.uncertainty import ConformalScale, SampleSummary, summarize_samples
from operando.ir.data.experiment import Experiment
from operando.ir.image.route import WaveformRouteConfig
from operando.ir.models.abcc import (
    ABCCConfig,
    PhysicsObjective,
    StreamBasis,
    StreamNet,
    StreamNetConfig,
    TrajectoryBatches,
    condition_encoder_from_state,
    load_calibration,
    make_condition_encoder,
    read_stream_info,
    trajectory_groups,
    write_stream_info,
)
from operando.nn.sit1d import SiT1D, SiT1DConfig
from operando.train.checkpoint import load_tensors, save_tensors
from operando.train.trainer import TrainConfig, build_objective, train

TARGETS = ("chemical_flow", "spectrum")
REPRESENTATIONS = ("spectrum", "waveform")
# abcc.reference = "span" warns when s_v0's RMS outside the span exceeds this many noise stds.
OUTSIDE_SPAN_WARNING = 2.0


@dataclass
class FlowModelConfig:
    """Settings of a flow forecaster (saved as forecaster.json in its run folder)."""

    objective: str = "meanflow"          # "meanflow" | "flow_matching"
    preset: str = "small"                # SiT1D preset: "small" (CPU) | "base" (GPU, SiT-B/2)
    target: str = "chemical_flow"        # "chemical_flow" | "spectrum"
    clip_quantile: float = 0.999
    clip_scale: float | None = None      # fitted from the training pairs when None
    sample_steps: int | None = None      # default: 1 for MeanFlow, 50 for flow matching
    n_samples: int = 4                   # draws averaged into a point forecast
    # Draws in antithetic pairs (eps, -eps): each draw is still a draw of the model, but the
    # pairs' mean cancels the part of the noise-to-sample map that is odd in eps, so the point
    # forecast carries less of the draws' scatter at the same cost (docs/ir/abcc.md, section 6).
    antithetic: bool = False
    model_overrides: dict = field(default_factory=dict)
    abcc: ABCCConfig | None = None       # the ABCC pieces (None: a plain flow forecaster)
    # "spectrum": SiT1D on the 1D spectra (this module); "waveform": latent MeanFlow on waveform
    # images (operando.ir.models.latent, settings in `waveform`; `preset` then names a SiT2D preset).
    representation: str = "spectrum"
    waveform: WaveformRouteConfig | None = None
    # Split-conformal intervals: share of the training spectra held out of training to calibrate
    # them (0: raw draw quantiles), draws per held-out spectrum, and the fitted factors.
    conformal_share: float = 0.0
    conformal_samples: int = 16
    conformal: dict | None = None
    # Intervals for systems the model never trained on (cross-conformal over training systems):
    # the training systems are dealt into `conformal_system_folds` folds (0: off); a model of the
    # same settings, trained `conformal_fold_steps` steps at most (None: as many as the main one)
    # without each fold, is drawn on up to `conformal_fold_rows` spectra of each experiment of the
    # fold. Their factors (`conformal_unseen`) widen the interval of any system outside
    # `training_systems`; held-out spectra of training systems (`conformal`) calibrate the rest.
    conformal_system_folds: int = 0
    conformal_fold_steps: int | None = None
    conformal_fold_rows: int = 64
    conformal_unseen: dict | None = None
    training_systems: list[str] | None = None

    def __post_init__(self):
        self.abcc = ABCCConfig.from_value(self.abcc)
        if not 0.0 <= self.conformal_share < 1.0:
            raise ValueError(f"conformal_share must be in [0, 1), got {self.conformal_share!r}")
        if self.conformal_samples < 2:
            raise ValueError(f"conformal_samples must be at least 2, got {self.conformal_samples!r}")
        if self.conformal_system_folds == 1 or self.conformal_system_folds < 0:
            raise ValueError(f"conformal_system_folds must be 0 (off) or at least 2, got {self.conformal_system_folds!r}")
        if self.conformal_fold_steps is not None and self.conformal_fold_steps < 1:
            raise ValueError(f"conformal_fold_steps must be positive, got {self.conformal_fold_steps!r}")
        if self.conformal_fold_rows < 1:
            raise ValueError(f"conformal_fold_rows must be positive, got {self.conformal_fold_rows!r}")
        if self.representation not in REPRESENTATIONS:
            raise ValueError(f"representation must be one of {REPRESENTATIONS}, got {self.representation!r}")
        if self.representation == "waveform":
            self.waveform = WaveformRouteConfig.from_value(self.waveform)
            if self.abcc is not None:
                raise ValueError("the waveform representation does not take the ABCC pieces (abcc)")
        elif self.waveform is not None:
            raise ValueError("waveform settings need representation = 'waveform'")
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {self.target!r}")
        if self.objective not in ("meanflow", "flow_matching"):
            raise ValueError(f"objective must be 'meanflow' or 'flow_matching', got {self.objective!r}")
        if self.sample_steps is None:
            self.sample_steps = 1 if self.objective == "meanflow" else 50


class FlowForecaster:
    """A conditional flow generator behind the :class:`~operando.ir.bench.task.Forecaster` API."""

    representation = "spectrum"   # the FlowModelConfig.representation this class implements

    def __init__(self, seed: int = 0, model: FlowModelConfig | None = None,
                 training: TrainConfig | None = None, run_dir: str | Path | None = None):
        self.seed = seed
        self.config = model or FlowModelConfig()
        if self.config.representation != self.representation:
            raise ValueError(f"{type(self).__name__} implements representation {self.representation!r}, the config "
                             f"asks for {self.config.representation!r} (operando.ir.models.latent.forecaster_class)")
        self.training = training or default_training(self.config.objective, seed)
        self.run_dir = None if run_dir is None else Path(run_dir)

    @property
    def name(self) -> str:
        if self.config.abcc is not None:
            kind = "" if self.config.objective == "meanflow" else " flow matching"
            return f"ABCC{kind} ({self.config.preset}, {self.config.sample_steps}-step)"
        if self.config.objective == "meanflow":
            return f"MeanFlow ({self.config.preset}, {self.config.sample_steps}-step)"
        return f"Flow matching ({self.config.preset}, {self.config.sample_steps}-step ODE)"

    # ---------------------------------------------------------------- training
    def training_tensors(self, train_set: Sequence[Experiment]) -> dict[str, torch.Tensor]:
        """x (N, W) targets, s0 (N, W), cond_vec (N, F) of every visible training pair.

        Rows are grouped by experiment, in step order (the trajectories of ABCC). With two
        streams (and a residual other than "full"), x is the part of the target the streams
        explain (:meth:`~operando.ir.models.abcc.StreamBasis.fit`).
        """
        xs, s0s, conds, lengths = [], [], [], []
        for e in train_set:
            rows = training_rows(e)
            xs.append(e.absorbance[rows].astype(np.float64))
            s0s.append(np.repeat(e.absorbance[:1].astype(np.float64), len(rows), axis=0))
            conds.append(self.encoder(e)[rows])
            lengths.append(len(rows))
        x, s0 = np.concatenate(xs), np.concatenate(s0s)
        change_quantile = float(np.quantile(np.abs(x - s0), self.config.clip_quantile))
        if self.config.target == "chemical_flow" and self.config.clip_scale is None:
            self.config.clip_scale = change_quantile
        y = self.encode_target(x, s0)
        self.trajectories = trajectory_groups(lengths)
        self.flow_scale = change_quantile or 1.0
        streams = getattr(self, "streams", None)
        if streams is not None:
            fit = streams.fit(y, self.config.abcc.sei_nonnegative)
            energy = max(float((y ** 2).sum()), 1e-300)
            self.stream_summary = {name: float((part ** 2).sum() / energy) for name, part in
                                   (("elec", fit.elec), ("sei", fit.sei), ("baseline", fit.baseline),
                                    ("residual", fit.residual))}
            if self.config.abcc.residual != "full":
                y = fit.in_span
        return {"x": torch.from_numpy(y).float(),
                "s0": torch.from_numpy(s0).float(),
                "cond_vec": torch.from_numpy(np.concatenate(conds)).float()}

    def prepare(self, train_set: Sequence[Experiment]) -> tuple[dict[str, torch.Tensor], object, object]:
        """Everything before training: fit the condition encoder (and, with two streams, the
        calibration spectra), build the untrained network ``self.net``; return the training
        tensors, the objective (None: the trainer's own) and the batch sampler (None: uniform)."""
        torch.manual_seed(self.seed)
        abcc = self.config.abcc
        self.encoder = make_condition_encoder(abcc).fit(train_set)
        self.streams = None
        if abcc is not None and abcc.two_stream:
            calibration, source = load_calibration(abcc)
            self.streams = StreamBasis.from_calibration(calibration, train_set[0].wavenumber_cm1, abcc, source)
        tensors = self.training_tensors(train_set)
        width, cond_dim = tensors["x"].shape[1], tensors["cond_vec"].shape[1]
        backbone = SiT1DConfig.preset(self.config.preset, width=width, cond_dim=cond_dim,
                                      **self.config.model_overrides)
        if self.streams is None:
            self.net = SiT1D(backbone)
        else:
            self.net = StreamNet(StreamNetConfig(backbone.to_dict(), abcc.residual, len(self.streams.elec),
                                                 len(self.streams.sei), len(self.streams.baseline)), self.streams)
        sampler = None
        if abcc is not None and abcc.trajectory:
            sampler = TrajectoryBatches(self.trajectories, abcc.segment_length)
        return tensors, self.objective(), sampler

    def fit(self, train_set: Sequence[Experiment]) -> None:
        fold_config = copy.deepcopy(self.config)   # before prepare() fits the clip scale
        all_train, held = train_set, None
        self.config.training_systems = sorted({e.system for e in train_set})
        if self.config.conformal_share > 0:
            train_set, held = hold_out_spectra(train_set, self.config.conformal_share, self.seed)
        tensors, objective, sampler = self.prepare(train_set)
        if self.run_dir is None:
            with tempfile.TemporaryDirectory(prefix="operando-flow-") as tmp:
                train(self.net, objective, tensors, self.training, tmp, sampler=sampler)
                self.net = self.load_net(tmp)
        else:
            train(self.net, objective, tensors, self.training, self.run_dir, sampler=sampler)
            self.net = self.load_net(self.run_dir)
        self.net.eval()
        if held is not None:
            self.calibrate(held)
        if self.config.conformal_system_folds:
            self.calibrate_unseen_systems(all_train, fold_config)
        if self.run_dir is not None:
            self.save(self.run_dir)

    def calibrate(self, held: Sequence[tuple[Experiment, np.ndarray]]) -> ConformalScale:
        """Fit the conformal interval factors on held-out ``(experiment, steps)`` spectra the
        network never trained on (:meth:`fit` does this with ``conformal_share`` > 0)."""
        scale = ConformalScale.fit(*self.held_out_draws(held))
        self.config.conformal = scale.to_dict()
        return scale

    def held_out_draws(self, held: Sequence[tuple[Experiment, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        """The true spectra (n, W) of held-out ``(experiment, steps)`` pairs and
        ``conformal_samples`` draws of each, forecast from its experiment's first spectrum
        (N, n, W): what the conformal factors are fitted on."""
        true = [e.absorbance[steps].astype(np.float64) for e, steps in held]
        draws = [self.sample(masked(e, [0]), steps, n_samples=self.config.conformal_samples) for e, steps in held]
        return np.concatenate(true), np.concatenate(draws, axis=1)

    def calibrate_unseen_systems(self, train_set: Sequence[Experiment], fold_config: FlowModelConfig
                                 ) -> ConformalScale:
        """Cross-conformal factors for unseen systems (``config.conformal_unseen``).

        The systems of ``train_set`` are dealt into ``conformal_system_folds`` folds
        (:func:`~operando.ir.bench.task.system_folds`); for each, a forecaster of ``fold_config``
        (this one's settings before fitting) is trained without the fold's systems (in
        ``<run_dir>/system-folds/fold-<k>`` when this model has a run folder, so a rerun reloads
        it) and drawn on up to ``conformal_fold_rows`` spectra of each experiment of the fold.
        The scores give the factors, system by system, and the largest is kept
        (:meth:`ConformalScale.fit` with groups): the error of a model on chemistry it never saw,
        in units of its own draw spread, on the hardest of the held-out systems.
        """
        config = self.config
        fold_config = self.fold_model_config(fold_config)
        training = dataclasses.replace(self.training, steps=self.fold_training_steps())
        true, draws, groups = [], [], []
        for k, systems in enumerate(system_folds(train_set, config.conformal_system_folds, self.seed)):
            run_dir = None if self.run_dir is None else self.run_dir / "system-folds" / f"fold-{k}"
            fold = type(self)(seed=self.seed, model=copy.deepcopy(fold_config), training=training, run_dir=run_dir)
            fold.fit([e for e in train_set if e.system not in systems])
            held = [(e, spaced_rows(e, config.conformal_fold_rows)) for e in train_set if e.system in systems]
            fold_true, fold_draws = fold.held_out_draws(held)
            true.append(fold_true)
            draws.append(fold_draws)
            groups += [e.system for e, steps in held for _ in steps]
        scale = ConformalScale.fit(np.concatenate(true), np.concatenate(draws, axis=1), groups=np.array(groups))
        config.conformal_unseen = scale.to_dict()
        return scale

    def fold_model_config(self, fold_config: FlowModelConfig) -> FlowModelConfig:
        """The settings of an unseen-system fold model: ``fold_config`` without intervals of its
        own, and with an ABCC last phase (``abcc.moment_from_step``) at the same share of its
        shorter training as the main model's, so the fold models are drawn from models trained
        the same way (the registered phase from step 6000 of 9000 starts at step 3000 of a 4500-step fold)."""
        abcc = last_phase_at_share(fold_config.abcc, self.fold_training_steps(), self.training.steps)
        return dataclasses.replace(fold_config, abcc=abcc, conformal_share=0.0, conformal=None,
                                   conformal_system_folds=0, conformal_unseen=None, training_systems=None)

    def set_training_steps(self, steps: int) -> None:
        """Train ``steps`` steps; the unseen-system fold models keep their share of the main
        model's steps (ABCC's registered half), so a longer run does not get weaker folds, and an
        ABCC last phase (``abcc.moment_from_step``) keeps its share too (a shorter run still
        ends with it)."""
        if self.config.conformal_fold_steps is not None:
            self.config.conformal_fold_steps = max(1, steps * self.config.conformal_fold_steps // self.training.steps)
        self.config.abcc = last_phase_at_share(self.config.abcc, steps, self.training.steps)
        self.training.steps = steps

    def fold_training_steps(self) -> int:
        """Training steps of each unseen-system fold model: ``conformal_fold_steps``, at most the
        main model's (all of them when it is None)."""
        return min(self.training.steps, self.config.conformal_fold_steps or self.training.steps)

    def interval_scale(self, system: str | None = None) -> tuple[ConformalScale | None, str]:
        """The interval factors for a forecast of ``system`` and their name: the unseen-system
        ones when the model has them and ``system`` is not a training system, else the
        split-conformal ones; ``(None, "draw quantiles")`` for an uncalibrated model."""
        config = self.config
        if (config.conformal_unseen is not None and system is not None
                and system not in (config.training_systems or ())):
            return ConformalScale.from_dict(config.conformal_unseen), "cross-conformal, unseen system"
        if config.conformal is not None:
            return ConformalScale.from_dict(config.conformal), "split-conformal"
        return None, "draw quantiles"

    def summarize(self, draws: np.ndarray, level: float = 0.9, system: str | None = None) -> SampleSummary:
        """Mean, spread and central ``level`` interval of ``draws`` (N, k, W) from :meth:`sample`
        of a cell of battery system ``system``: conformally calibrated when the model was
        (:meth:`interval_scale`), else raw quantiles."""
        scale, _ = self.interval_scale(system)
        return summarize_samples(draws, level) if scale is None else scale.summarize(draws, level)

    def objective(self):
        """The training objective: None (the trainer's own) unless ABCC physics weights are set."""
        abcc = self.config.abcc
        if abcc is None or not abcc.uses_physics:
            return None
        return PhysicsObjective(
            build_objective(self.training), abcc.lambda_mass, abcc.lambda_peak,
            flow_scale=None if self.config.target == "chemical_flow" else self.flow_scale,
            t_max=abcc.physics_t_max, max_rows=abcc.physics_rows,
            lambda_moment=abcc.lambda_moment, moment_rows=abcc.moment_rows,
            moment_from_step=abcc.moment_from_step,
            lambda_point=abcc.lambda_point, point_rows=abcc.point_rows)

    def load_net(self, run_dir: str | Path) -> torch.nn.Module:
        """The trained (EMA) network of a run folder: a SiT1D, or a StreamNet with two streams."""
        abcc = self.config.abcc
        if abcc is not None and abcc.two_stream:
            return StreamNet.from_run(run_dir, ema=True)
        return SiT1D.from_run(run_dir, ema=True)

    # -------------------------------------------------------------- prediction
    def encode_target(self, x: np.ndarray, s0: np.ndarray) -> np.ndarray:
        if self.config.target == "spectrum":
            return x
        a = self.config.clip_scale
        return np.clip(x - s0, -a, a) / a

    def decode_target(self, y: np.ndarray, s0: np.ndarray) -> np.ndarray:
        return y if self.config.target == "spectrum" else s0 + self.config.clip_scale * y

    @torch.no_grad()
    def sample(self, context: Experiment, steps: np.ndarray, n_samples: int | None = None,
               seed: int | None = None) -> np.ndarray:
        """Draws of the forecast: (n_samples, len(steps), W), deterministic for a seed (in
        antithetic pairs with ``config.antithetic``: draw j + n // 2 from the negated noise of draw j)."""
        return self.forecast_spectra(context, steps, n_samples, seed, self.generate)

    @torch.no_grad()
    def noise_end_means(self, context: Experiment, steps: np.ndarray, n_samples: int | None = None,
                        seed: int | None = None) -> np.ndarray:
        """Conditional-mean estimates z - u(z, 1, 1) (:func:`operando.flow.meanflow.noise_end_mean`)
        from the draws' noise: (n_samples, len(steps), W). Trained only with ``abcc.lambda_point`` > 0."""
        def estimate(noise, cond):
            return meanflow.noise_end_mean(self.net, tuple(noise.shape), cond, noise=noise)
        return self.forecast_spectra(context, steps, n_samples, seed, estimate)

    def forecast_spectra(self, context: Experiment, steps: np.ndarray, n_samples: int | None, seed: int | None,
                         generate) -> np.ndarray:
        """``generate(noise, cond)`` -> targets (n k, W) from the prior noise of n draws
        (:meth:`prior_draws`) on the conditions of ``steps``, decoded into spectra (n, k, W)."""
        n = n_samples or self.config.n_samples
        steps = np.asarray(steps)
        k, width = len(steps), context.absorbance.shape[1]
        s0 = np.repeat(context.absorbance[:1].astype(np.float64), k, axis=0)
        cond = {"s0": torch.from_numpy(np.tile(s0, (n, 1))).float(),
                "cond_vec": torch.from_numpy(np.tile(self.encoder(context)[steps], (n, 1))).float()}
        y = generate(self.prior_draws(n, (k, width), seed), cond)
        return self.decode_target(y.double().numpy().reshape(n, k, width), self.reference(s0)[None])

    def reference(self, s0: np.ndarray) -> np.ndarray:
        """What a chemical-flow forecast adds its change to, (..., W) from s_v0 repeated (..., W): s_v0,
        or its in-span part for a span-restricted ABCC (``abcc.reference = "span"``): the
        targets were projected onto the span, so the measured s_v0's out-of-span part (its
        noise, on simulated data) is no part of any forecast step."""
        abcc = self.config.abcc
        if abcc is None or not abcc.projects_reference or getattr(self, "streams", None) is None:
            return s0
        first = s0.reshape(-1, s0.shape[-1])[0]
        ratio = self.streams.outside_over_noise(first)
        if ratio > OUTSIDE_SPAN_WARNING:
            # OpIRSpec-7K-sim: 0.84-1.33 (noise only; benchmarks/ir/bench_stream_span.py); more is uncovered chemistry.
            warnings.warn(f"the first spectrum has structure outside the span of the calibration spectra (RMS "
                          f"{ratio:.3g} times its noise std); the forecast drops it. Use a calibration set "
                          "that covers this electrolyte, or abcc.reference = 'measured'",
                          stacklevel=4)  # past sample() and its no_grad wrapper
        return np.broadcast_to(self.streams.in_span(first), s0.shape)

    def prior_draws(self, n: int, shape: tuple[int, ...], seed: int | None) -> torch.Tensor:
        """Prior noise of ``n`` draws of ``shape`` (k, ...): (n k, ...), draw-major, seeded with
        ``seed`` (default: the forecaster's). With ``config.antithetic`` the second n // 2 draws
        negate the first n // 2 (an odd n's last draw is independent); without, the same numbers
        as the samplers' own draw from that seed."""
        generator = torch.Generator().manual_seed(self.seed if seed is None else seed)
        k, rest = shape[0], tuple(shape[1:])
        if not self.config.antithetic or n < 2:
            return torch.randn((n * k, *rest), generator=generator)
        half = torch.randn(((n // 2) * k, *rest), generator=generator)
        odd = torch.randn(((n % 2) * k, *rest), generator=generator)
        return torch.cat([half, -half, odd])

    def generate(self, noise: torch.Tensor, cond: dict[str, torch.Tensor]) -> torch.Tensor:
        """Run the objective's sampler (``sample_steps`` steps of ``self.net``) from prior
        ``noise`` (B, ...): generated targets, same shape."""
        sampler = meanflow.sample if self.config.objective == "meanflow" else flow_matching.sample
        return sampler(self.net, tuple(noise.shape), cond, steps=self.config.sample_steps, noise=noise)

    @property
    def point_from_noise_end(self) -> bool:
        """Whether the point forecast is the noise-end mean estimate (ABCC with L_point on)."""
        abcc = self.config.abcc
        return abcc is not None and abcc.lambda_point > 0

    def predict(self, context: Experiment, steps: np.ndarray) -> np.ndarray:
        """Point forecast, (len(steps), W): the mean of ``n_samples`` draws, or with L_point
        (``abcc.lambda_point`` > 0) the mean of as many noise-end estimates of the conditional mean."""
        if self.point_from_noise_end:
            return self.noise_end_means(context, steps).mean(axis=0)
        return self.sample(context, steps).mean(axis=0)

    def sample_streams(self, context: Experiment, steps: np.ndarray, n_samples: int | None = None,
                       seed: int | None = None) -> dict[str, np.ndarray]:
        """Draws split into streams (two-stream ABCC models only); every array (N, k, W).

        ``total`` = ``reference + elec + sei + residual``: the forecast spectra (as
        :meth:`sample`); ``reference``: s_v0 for the chemical-flow target (its in-span part
        with ``abcc.reference = "span"``; the streams are then changes from it), zero for the
        spectrum target; ``elec``, ``sei``: the
        electrolyte and SEI contributions, each in the span of its calibration spectra;
        ``residual``: the rest (baseline offset/slope, or anything outside the span with
        ``residual = "full"``). All in the forecast's (normalised absorbance) units.
        """
        if getattr(self, "streams", None) is None:
            raise OperandoError(f"{self.name} has no two-stream head (abcc.two_stream is off)")
        total = self.sample(context, steps, n_samples, seed)
        s0 = np.repeat(context.absorbance[:1].astype(np.float64), len(np.asarray(steps)), axis=0)[None]
        reference = self.reference(s0) if self.config.target == "chemical_flow" else np.zeros_like(s0)
        change = total - reference
        scale = self.config.clip_scale if self.config.target == "chemical_flow" else 1.0
        elec, sei, _ = self.streams.split(change / scale)
        elec, sei = elec * scale, sei * scale
        return {"total": total, "reference": np.broadcast_to(reference, total.shape).copy(),
                "elec": elec, "sei": sei, "residual": change - elec - sei}

    # ------------------------------------------------------------- persistence
    def save(self, run_dir: str | Path) -> None:
        run_dir = Path(run_dir)
        save_tensors(run_dir / "encoder.safetensors",
                     {k: torch.from_numpy(np.asarray(v, dtype=np.float64)) for k, v in self.encoder.state().items()})
        if getattr(self, "streams", None) is not None:
            write_stream_info(run_dir, self.streams,
                                         {"training_energy_share": getattr(self, "stream_summary", None)})
        # Last: forecaster.json marks a finished run folder.
        write_text(run_dir / "forecaster.json", json.dumps(
            {"seed": self.seed, "model": dataclasses.asdict(self.config)}, indent=2))

    @classmethod
    def load(cls, run_dir: str | Path) -> "FlowForecaster":
        """Rebuild a fitted forecaster from its run folder, on CPU."""
        run_dir = Path(run_dir)
        saved = json.loads((run_dir / "forecaster.json").read_text(encoding="utf-8"))
        self = cls(seed=saved["seed"], model=FlowModelConfig(**saved["model"]),
                   training=TrainConfig.load(run_dir / "config.json"), run_dir=run_dir)
        state = {k: v.numpy() for k, v in load_tensors(run_dir / "encoder.safetensors").items()}
        self.encoder = condition_encoder_from_state(self.config.abcc, state)
        self.net = self.load_net(run_dir)
        self.streams = (StreamBasis.from_net(self.net, read_stream_info(run_dir))
                        if isinstance(self.net, StreamNet) else None)
        return self


def last_phase_at_share(abcc: ABCCConfig | None, steps: int, of_steps: int) -> ABCCConfig | None:
    """``abcc`` with its last L_moment phase (``moment_from_step``; 0: none, kept) at the same
    share of a ``steps``-step training as it has of an ``of_steps``-step one."""
    if abcc is None or abcc.moment_from_step <= 0:
        return abcc
    return dataclasses.replace(abcc, moment_from_step=abcc.moment_from_step * steps // of_steps)


def default_training(objective: str, seed: int = 0) -> TrainConfig:
    """CPU-sized training defaults for the `small` preset.

    lr 1e-3 after 200 warm-up steps, constant. A cosine decay to zero at step 3000
    (``lr_schedule="cosine"``) was measured and did not help: MeanFlow's random-split MAE was
    1.268e-2 with it against 1.260e-2 without (OpIRBench, seed 0; `operando ir bench` at commit
    4939200, whose default was cosine).

    Training-time guidance is off (omega 1, kappa 0; the paper's omega 1, kappa 0.5 is one
    config entry away): a forecast must match the conditional distribution, and guidance
    extrapolates past it (effective scale omega / (1 - kappa) = 2); on a tiny overfitting
    problem in development it made the one-step error several times larger.
    """
    return TrainConfig(seed=seed, steps=3000, batch_size=64, lr=1e-3, warmup_steps=200,
                       ema_decay=0.999, grad_clip=1.0, objective=objective, progress=False,
                       ckpt_every=500, cfg_omega=1.0, cfg_kappa=0.0)
