"""Algorithm 2 of ABCC: the Chemical Flow of an operando sequence drawn as one image.

ABCC (arXiv:2602.18551, Sec. 3) describes the operando sequence by its *chemical flow*: the
change of every spectrum relative to the spectrum at the starting voltage s_v0,

    d_m = clip(s_m - s_v0, -alpha, alpha) / alpha        (values in [-1, 1], alpha = 0.4),

and draws all d_m, in voltage order, as polylines into a single image, from light gray (early)
to black (late), so that one picture shows where and in which direction the bands move. Next
to it the paper keeps an explicit *residual variation* stream, drawn the same way with clip
scale 0.1 and thickness 1.0 px; we read it as the step-to-step change
``r_m = clip(s_m - s_(m-1), -0.1, 0.1) / 0.1`` (with s_0 = s_v0), which shows the small,
local changes that the chemical flow's coarser scale hides. The paper's pseudo-code was not
available to us; the drawing rules are this project's (docs/ir/image-route.md):

* the curves share the waveform geometry of :mod:`operando.ir.image.waveform` (value 0 on the
  centre row, +1 at the top of the free band, -1 at its bottom, same margin), each resampled
  linearly to W columns and drawn as a connected trace of constant Gaussian thickness;
* curve m of M gets the gray level ``light + (dark - light) * m / (M - 1)`` (light = 200,
  dark = 0; a single curve is black) and is laid over the white background and the earlier
  curves with coverage ``exp(-d^2 / (2 sigma^2))``: later curves lie on top.

Everything runs on numpy arrays or torch tensors with any leading batch shape.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from operando.ir.image.waveform import Array, WaveformConfig, _Ops, render_strokes, resample_linear, stroke_half_lengths


@dataclass(frozen=True)
class PolylineStyle:
    """How difference curves are drawn: image size, margin, clip scale, thickness, gray ramp."""

    height: int = 256
    width: int = 256
    margin: float = 0.08
    clip: float = 0.4
    thickness_px: float = 1.8
    light_level: float = 200.0
    dark_level: float = 0.0

    def __post_init__(self):
        if self.clip <= 0 or self.thickness_px <= 0:
            raise ValueError("clip and thickness_px must be positive")
        if not (0 <= self.dark_level <= 255 and 0 <= self.light_level <= 255):
            raise ValueError("gray levels must be in [0, 255]")
        WaveformConfig(height=self.height, width=self.width, margin=self.margin)  # validates size

    @property
    def geometry(self) -> WaveformConfig:
        """The waveform geometry these curves share (value +/-1 -> edges of the free band)."""
        return WaveformConfig(height=self.height, width=self.width, margin=self.margin,
                              alpha=1.0, s_max=1.0)


CFLOW_STYLE = PolylineStyle()                                   # chemical flow: alpha = 0.4
RESIDUAL_STYLE = PolylineStyle(clip=0.1, thickness_px=1.0)      # residual variation stream


def order_by_voltage(sequence: Array, voltage_v: Array | None) -> Array:
    """Sort the spectra (..., M, N) by decreasing voltage (the order a discharge visits them).

    ``voltage_v`` (M,) is shared by the batch; None keeps the given order. The sort is stable,
    so spectra at equal voltage stay in time order.
    """
    if voltage_v is None:
        return sequence
    voltage = np.asarray(voltage_v.detach().cpu() if isinstance(voltage_v, torch.Tensor) else voltage_v,
                         dtype=np.float64)
    if voltage.shape != (sequence.shape[-2],):
        raise ValueError(f"voltage_v must have shape ({sequence.shape[-2]},), got {voltage.shape}")
    order = np.argsort(-voltage, kind="stable")
    return sequence[..., _Ops(sequence).index(order), :]


def chemical_flow(sequence: Array, reference: Array, clip: float = CFLOW_STYLE.clip) -> Array:
    """d_m = clip(s_m - s_v0, -clip, clip) / clip: sequence (..., M, N), reference (..., N)."""
    ops = _Ops(sequence)
    diff = ops.asfloat(sequence) - ops.asfloat(reference)[..., None, :]
    return ops.clip(diff, -clip, clip) / clip


def residual_variation(sequence: Array, reference: Array, clip: float = RESIDUAL_STYLE.clip) -> Array:
    """r_m = clip(s_m - s_(m-1), -clip, clip) / clip with s_0 = s_v0: (..., M, N) -> (..., M, N)."""
    ops = _Ops(sequence)
    sequence = ops.asfloat(sequence)
    previous = ops.cat([ops.asfloat(reference)[..., None, :], sequence[..., :-1, :]], -2)
    return ops.clip(sequence - previous, -clip, clip) / clip


def draw_polylines(curves: Array, style: PolylineStyle = CFLOW_STYLE) -> Array:
    """Draw curves (..., M, N) with values in [-1, 1] into images (..., H, W) in [0, 255].

    Curve 0 is drawn first in light gray, curve M-1 last in black (see the module docstring).
    """
    ops = _Ops(curves)
    curves = ops.clip(ops.asfloat(curves), -1.0, 1.0)
    geometry = style.geometry
    count = curves.shape[-2]
    if count < 1:
        raise ValueError("draw_polylines needs at least one curve")
    rows = geometry.center_row - resample_linear(curves, style.width) * geometry.half_span_rows
    image = None
    for m in range(count):  # one curve at a time keeps memory at one (..., H, W) layer
        curve_rows = rows[..., m, :]
        coverage = render_strokes(curve_rows, stroke_half_lengths(curve_rows, True, style.height),
                                  curve_rows * 0 + style.thickness_px, style.height, gain=1.0)
        if image is None:
            image = coverage * 0 + 255.0
        level = style.dark_level if count == 1 else \
            style.light_level + (style.dark_level - style.light_level) * m / (count - 1)
        image = image + coverage * (level - image)
    return image


def spec_to_cflow(sequence: Array, reference: Array, style: PolylineStyle = CFLOW_STYLE,
                  voltage_v: Array | None = None) -> Array:
    """Algorithm 2, SpecToCFlow: sequence (..., M, N) and s_v0 (..., N) -> image (..., H, W)."""
    sequence = order_by_voltage(sequence, voltage_v)
    return draw_polylines(chemical_flow(sequence, reference, style.clip), style)


def spec_to_residual_image(sequence: Array, reference: Array,
                           style: PolylineStyle = RESIDUAL_STYLE,
                           voltage_v: Array | None = None) -> Array:
    """The residual variation stream: step-to-step changes drawn like the chemical flow."""
    sequence = order_by_voltage(sequence, voltage_v)
    return draw_polylines(residual_variation(sequence, reference, style.clip), style)


__all__ = ["PolylineStyle", "CFLOW_STYLE", "RESIDUAL_STYLE", "order_by_voltage", "chemical_flow",
           "residual_variation", "draw_polylines", "spec_to_cflow", "spec_to_residual_image"]
