"""Generative flows over vectors: conditional MeanFlow (one-step) and flow matching (ODE).

Model contract: ``model(z, t, r, **cond) -> u`` with z (B, W), t (B,), r (B,), ``cond`` a dict
of batch-first tensors, plus ``drop_cond`` (B,) bool when condition dropout is used.
"""
from operando.flow import flow_matching, meanflow
from operando.flow.flow_matching import FlowMatching
from operando.flow.meanflow import FlowNoise, MeanFlow, ObjectiveLoss

__all__ = ["FlowMatching", "FlowNoise", "MeanFlow", "ObjectiveLoss", "flow_matching", "meanflow"]
