"""Forecasters: the OpIRBench baselines and the flow generators, behind one registry.

``MODEL_REGISTRY[name](seed)`` builds a fresh :class:`~operando.ir.bench.task.Forecaster`.
"""
from __future__ import annotations

from typing import Callable

from operando.ir.models.baselines import (
    NearestTrajectoryForecaster,
    RandomForecaster,
    RegressionForecaster,
    StaticForecaster,
)
from operando.ir.models.generative import FlowForecaster, FlowModelConfig
from operando.ir.models.sequence import GRUForecaster


def _meanflow_training(kwargs: dict, seed: int, steps: int):
    """The ``training`` keyword of ``kwargs`` (removed from it), else MeanFlow's default with ``steps`` steps."""
    from operando.ir.models.generative import default_training

    training = kwargs.pop("training", None)
    if training is None:
        training = default_training("meanflow", seed)
        training.steps = steps
    return training


def _meanflow(seed: int = 0, **kwargs) -> FlowForecaster:
    training = _meanflow_training(kwargs, seed, MEANFLOW_CPU_STEPS)
    return FlowForecaster(seed=seed, model=FlowModelConfig(objective="meanflow"), training=training, **kwargs)


# Plain MeanFlow trains twice the shared 3000-step default: on the random split its MAE went from
# 1.260e-2 (3000 steps) to 1.220e-2 (6000), past the MLP's 1.239e-2 (docs/ir/meanflow.md).
MEANFLOW_CPU_STEPS = 6000


def _flow_matching(seed: int = 0, **kwargs) -> FlowForecaster:
    return FlowForecaster(seed=seed, model=FlowModelConfig(objective="flow_matching"), **kwargs)


def _abcc(seed: int = 0, abcc: dict | None = None, **kwargs) -> FlowForecaster:
    """MeanFlow with every ABCC piece on (operando.ir.models.abcc) and conformal intervals;
    ``abcc`` overrides switches."""
    from operando.ir.models.abcc import ABCCConfig

    training = _meanflow_training(kwargs, seed, ABCC_CPU_STEPS)
    model = FlowModelConfig(objective="meanflow", abcc=ABCCConfig(**{**ABCC_LAST_PHASE, **(abcc or {})}),
                            n_samples=ABCC_POINT_DRAWS, antithetic=True,
                            conformal_share=ABCC_CONFORMAL_SHARE, conformal_system_folds=ABCC_SYSTEM_FOLDS,
                            conformal_fold_steps=ABCC_FOLD_STEPS)
    return FlowForecaster(seed=seed, model=model, training=training, **kwargs)


# ABCC trains 9000 steps: 6000 as plain MeanFlow does (from 3000 to 6000 its random-split MAE went
# from 1.286e-2 to 1.233e-2, system split 3.014e-2 to 2.864e-2; seed 0), then a last phase of 3000
# with L_moment (the draws' mean against squared error, weight 100 over all 64 rows of a batch),
# drawn in antithetic pairs. Of everything measured, only that recipe beat the MLP on all seven
# random-split metrics (three seeds: MSE 0.3296e-3 against 0.3306e-3). The 6000-step model
# (0.342e-3), 9000 plain steps (0.339e-3) and the same phase with independent draws (0.332e-3)
# did not (docs/ir/abcc.md section 6, "Antithetic draws, alone and after L_moment's last phase").
ABCC_CPU_STEPS = 9000
ABCC_LAST_PHASE = {"lambda_moment": 100.0, "moment_rows": 64, "moment_from_step": 6000}
# Its point forecast averages 16 one-step draws (the draws that give its interval): against 4, the
# random-split MAE of the 6000-step seed-0 model went from 1.233e-2 to 1.211e-2 (64: 1.207e-2).
ABCC_POINT_DRAWS = 16
# ABCC ships calibrated intervals: 10 % of its training spectra calibrate them for the systems it
# trained on (split conformal); for other systems, two models trained without half the training
# systems each (cross-conformal over systems). Each trains half the main model's steps (as many in
# all as the main model), with the last phase at the same share (FlowForecaster.fold_model_config):
# for the 6000-step model, folds of 1500 steps spread the per-seed system-split coverage over
# 0.820-0.909, folds of 3000 over 0.866-0.920 (docs/ir/abcc.md section 5).
ABCC_CONFORMAL_SHARE = 0.1
ABCC_SYSTEM_FOLDS = 2
ABCC_FOLD_STEPS = ABCC_CPU_STEPS // 2


def _meanflow_waveform(seed: int = 0, waveform: dict | None = None, **kwargs) -> FlowForecaster:
    """The image route (operando.ir.models.latent): latent MeanFlow on 32 x 256 waveform images with
    a SiT2D of SiT1D `small`'s width and depth; ``waveform`` overrides WaveformRouteConfig fields."""
    from operando.ir.models.latent import WaveformFlowForecaster

    model = FlowModelConfig(objective="meanflow", representation="waveform", waveform=dict(waveform or {}),
                            model_overrides=dict(WAVEFORM_CPU_BACKBONE))
    return WaveformFlowForecaster(seed=seed, model=model, **kwargs)


# SiT2D `small` narrowed to SiT1D `small` (hidden 128, 4 blocks): the CPU image route.
WAVEFORM_CPU_BACKBONE = {"hidden_size": 128, "depth": 4}

MODEL_REGISTRY: dict[str, Callable[..., object]] = {
    "random": RandomForecaster,
    "static": StaticForecaster,
    "nearest": NearestTrajectoryForecaster,
    "mlp": RegressionForecaster,
    "gru": GRUForecaster,
    "flow-matching": _flow_matching,
    "meanflow": _meanflow,
    "abcc": _abcc,
    "meanflow-waveform": _meanflow_waveform,
}


# Models trained by the flow trainer: they can keep their run folder (weights, metrics.csv).
GENERATIVE_MODELS = ("flow-matching", "meanflow", "abcc", "meanflow-waveform")

# Registered but left out of `operando pipeline` (ask for them by name: `operando ir bench --model`):
# the image route trains a VAE before its flow and would lengthen the main job.
OPT_IN_MODELS = ("meanflow-waveform",)
PIPELINE_MODELS = tuple(sorted(name for name in MODEL_REGISTRY if name not in OPT_IN_MODELS))


def build_model(name: str, seed: int = 0, **kwargs):
    from operando.errors import InputError

    if name not in MODEL_REGISTRY:
        raise InputError(None, f"unknown model {name!r}; registered: {sorted(MODEL_REGISTRY)}")
    return MODEL_REGISTRY[name](seed=seed, **kwargs)
