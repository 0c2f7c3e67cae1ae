"""Algorithm 1 of ABCC: a spectrum drawn as a grayscale waveform image, and back.

ABCC (arXiv:2602.18551, Sec. 3 and App. D) moves the spectra into image space so that a
pretrained image autoencoder can compress them into latents for MeanFlow. The defaults of
:class:`WaveformConfig` are the settings quoted from App. D: a 256 x 256 image, a free margin
of 8 % of the height at top and bottom, base thickness sigma_0 = 1.8 px with the
amplitude-adaptive thickness ``sigma = sigma_0 / 3 + 1.8 |y - y_c| / y_c * sigma_0``, values
clipped at +/- 0.4 and a contrast gain g = 180. The paper's pseudo-code itself was not
available to us; the exact drawing rules below are this project's reading of those settings
(see docs/ir/image-route.md).

Geometry (rows counted from the top, row 0 = top pixel, column 0 = first spectral point):

* the spectrum (N_f points, in the order given, e.g. ascending wavenumber left to right) is
  divided by ``s_max``, clipped to ``[-alpha, alpha]`` and linearly resampled to W columns
  (column j sits at fractional point index ``j (N_f - 1) / (W - 1)``);
* a value u maps to the row ``y = y_c - (u / alpha) * h`` with centre row ``y_c = (H - 1) / 2``
  and half-span ``h = y_c - margin (H - 1)``: +alpha is drawn at the top of the free band,
  -alpha at its bottom, 0 on the centre row; positive values go up as in a plot;
* every column carries one stroke centred on its row y_j. With ``connect=True`` (default) the
  stroke is a vertical segment ``y_j +/- L_j`` with ``L_j`` half the larger jump to a
  neighbouring column, so consecutive columns touch (a continuous trace, as a plotted line);
  the segment is symmetric about y_j, which keeps the per-column centroid at y_j;
* a pixel's *ink* is ``min(g * exp(-d^2 / (2 sigma_j^2)), 255)`` with d its vertical distance to
  the stroke (0 inside it) and sigma_j the adaptive thickness at y_j;
* the image is a dark trace on a white background: pixel = 255 - ink (``background="black"``
  gives ink itself). Values are floats in [0, 255] (quantise with :func:`to_uint8` to store).

ImageToSpec inverts this per column: the ink-weighted centroid of the rows (sub-pixel; ink
below ``floor_frac * g`` is ignored so that a decoded image's faint background does not pull
the centroid), refined by a few fixed-point steps that redraw the current estimate and
correct the difference between the observed and the redrawn centroid (this removes the bias
where a thick stroke is cut by the image border); rows are mapped back to values with alpha
and s_max and the W columns are resampled linearly to N_f points.

Both directions run on numpy arrays or torch tensors (any leading batch shape, CPU or GPU,
differentiable in torch) through the same code, so the two give the same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

Array = Any  # numpy.ndarray or torch.Tensor


@dataclass(frozen=True)
class WaveformConfig:
    """How a spectrum is drawn (defaults: ABCC App. D).

    ``height``, ``width``: image size H x W in pixels. ``margin``: fraction of the height kept
    free at the top and at the bottom. ``sigma0_px``: base thickness sigma_0 in pixels (not
    rescaled with the image size). ``thickness_slope``: the 1.8 of the adaptive thickness.
    ``alpha``: clip level of the (scaled) values. ``s_max``: spectra are divided by it before
    clipping (1.0: values in absorbance units, +/- 0.4 fills the band). ``gain``: contrast gain
    g. ``background``: "white" (dark trace) or "black" (bright trace). ``connect``: draw a
    continuous trace (vertical strokes between neighbouring columns). ``floor_frac`` and
    ``refine_steps``: ImageToSpec's ink floor (fraction of g) and number of refinement steps.
    """

    height: int = 256
    width: int = 256
    margin: float = 0.08
    sigma0_px: float = 1.8
    thickness_slope: float = 1.8
    alpha: float = 0.4
    s_max: float = 1.0
    gain: float = 180.0
    background: str = "white"
    connect: bool = True
    floor_frac: float = 0.1
    refine_steps: int = 6

    def __post_init__(self):
        if self.height < 8 or self.width < 2:
            raise ValueError(f"image must be at least 8 x 2 pixels, got {self.height} x {self.width}")
        if not 0 <= self.margin < 0.5:
            raise ValueError(f"margin must be in [0, 0.5), got {self.margin}")
        if self.sigma0_px <= 0 or self.alpha <= 0 or self.s_max <= 0 or self.gain <= 0:
            raise ValueError("sigma0_px, alpha, s_max and gain must be positive")
        if self.background not in ("white", "black"):
            raise ValueError(f"background must be 'white' or 'black', got {self.background!r}")
        if not 0 <= self.floor_frac < 1 or self.refine_steps < 0:
            raise ValueError("floor_frac must be in [0, 1) and refine_steps >= 0")

    @property
    def center_row(self) -> float:
        """y_c = (H - 1) / 2, the row of value 0."""
        return (self.height - 1) / 2

    @property
    def half_span_rows(self) -> float:
        """h: rows between the centre and the row of +alpha (top of the free band)."""
        return self.center_row - self.margin * (self.height - 1)

    @property
    def value_limit(self) -> float:
        """Largest magnitude a drawn spectrum can carry: alpha * s_max (in spectrum units)."""
        return self.alpha * self.s_max

    def with_size(self, height: int, width: int | None = None) -> "WaveformConfig":
        """The same style at another image size (thickness stays in pixels)."""
        return replace(self, height=height, width=height if width is None else width)


DEFAULT_WAVEFORM = WaveformConfig()


# --------------------------------------------------------------------------------------------
# A tiny numpy/torch shim: the algorithms below are written once against these few operations.
# --------------------------------------------------------------------------------------------
class _Ops:
    def __init__(self, like: Array):
        self.torch = isinstance(like, torch.Tensor)
        if self.torch:
            self.dtype = like.dtype if like.is_floating_point() else torch.float32
            self.device = like.device
        else:
            like = np.asarray(like)
            self.dtype = like.dtype if like.dtype in (np.float32, np.float64) else np.dtype(np.float64)

    def asfloat(self, x: Array) -> Array:
        if self.torch:
            return x.to(self.dtype)
        return np.asarray(x, dtype=self.dtype)

    def const(self, values: np.ndarray) -> Array:
        """A numpy float array as a backend array of the working dtype."""
        if self.torch:
            return torch.as_tensor(values, dtype=self.dtype, device=self.device)
        return np.asarray(values, dtype=self.dtype)

    def index(self, values: np.ndarray) -> Array:
        if self.torch:
            return torch.as_tensor(values, dtype=torch.long, device=self.device)
        return values

    def exp(self, x: Array) -> Array:
        return torch.exp(x) if self.torch else np.exp(x)

    def abs(self, x: Array) -> Array:
        return torch.abs(x) if self.torch else np.abs(x)

    def clip(self, x: Array, low: float | None, high: float | None) -> Array:
        return torch.clamp(x, low, high) if self.torch else np.clip(x, low, high)

    def maximum(self, a: Array, b: Array) -> Array:
        return torch.maximum(a, b) if self.torch else np.maximum(a, b)

    def where(self, cond: Array, a: Array, b: Array) -> Array:
        return torch.where(cond, a, b) if self.torch else np.where(cond, a, b)

    def sum(self, x: Array, axis: int) -> Array:
        return x.sum(dim=axis) if self.torch else x.sum(axis=axis)

    def cat(self, parts: list[Array], axis: int) -> Array:
        return torch.cat(parts, dim=axis) if self.torch else np.concatenate(parts, axis=axis)


def resample_linear(values: Array, n_out: int) -> Array:
    """Linear resampling along the last axis onto ``n_out`` evenly spaced points.

    (..., n_in) -> (..., n_out); the first and last points keep their positions (point k of
    the output sits at fractional input index ``k (n_in - 1) / (n_out - 1)``).
    """
    ops = _Ops(values)
    values = ops.asfloat(values)
    n_in = values.shape[-1]
    if n_out < 2 or n_in < 2:
        raise ValueError(f"resampling needs at least 2 points on both sides, got {n_in} -> {n_out}")
    if n_in == n_out:
        return values
    position = np.arange(n_out, dtype=np.float64) * ((n_in - 1) / (n_out - 1))
    left = np.clip(np.floor(position).astype(np.int64), 0, n_in - 2)
    frac = ops.const(position - left)
    lo, hi = values[..., ops.index(left)], values[..., ops.index(left + 1)]
    return lo + frac * (hi - lo)


def clip_spectra(spectra: Array, config: WaveformConfig = DEFAULT_WAVEFORM) -> Array:
    """The part of a spectrum an image can carry: values clipped to +/- alpha * s_max."""
    ops = _Ops(spectra)
    return ops.clip(ops.asfloat(spectra), -config.value_limit, config.value_limit)


def fit_s_max(spectra: Array, alpha: float = DEFAULT_WAVEFORM.alpha) -> float:
    """The smallest ``s_max`` that draws every given spectrum without clipping: max|s| / alpha."""
    peak = float(torch.as_tensor(spectra).abs().max()) if isinstance(spectra, torch.Tensor) \
        else float(np.abs(np.asarray(spectra)).max())
    return peak / alpha if peak > 0 else 1.0


def values_to_rows(values: Array, config: WaveformConfig = DEFAULT_WAVEFORM) -> Array:
    """Spectrum values (any shape) -> fractional image rows (clipping included)."""
    ops = _Ops(values)
    scaled = ops.clip(ops.asfloat(values) / config.s_max, -config.alpha, config.alpha)
    return config.center_row - scaled / config.alpha * config.half_span_rows


def rows_to_values(rows: Array, config: WaveformConfig = DEFAULT_WAVEFORM) -> Array:
    """Inverse of :func:`values_to_rows` on the free band (rows outside it give |u| > alpha)."""
    return (config.center_row - rows) / config.half_span_rows * config.alpha * config.s_max


def thickness_px(rows: Array, config: WaveformConfig = DEFAULT_WAVEFORM) -> Array:
    """Adaptive thickness sigma = sigma_0/3 + slope * |y - y_c| / y_c * sigma_0 (pixels)."""
    ops = _Ops(rows)
    y_c = config.center_row
    return config.sigma0_px / 3 + config.thickness_slope * ops.abs(rows - y_c) / y_c * config.sigma0_px


def stroke_half_lengths(rows: Array, connect: bool, height: int) -> Array:
    """L_j (..., W): half the larger jump from column j to a neighbour (0 when not connected).

    L_j is capped so that the stroke ``y_j +/- L_j`` stays inside the ``height`` rows: a stroke
    cut by the border would lose its symmetry, and then its centroid would no longer tell y_j
    (at a jump across most of the band this leaves a gap in the trace instead).
    """
    ops = _Ops(rows)
    if not connect:
        return rows * 0
    jump = ops.abs(rows[..., 1:] - rows[..., :-1])                       # (..., W-1)
    zero = jump[..., :1] * 0
    half = ops.maximum(ops.cat([zero, jump], -1), ops.cat([jump, zero], -1)) / 2
    room = (height - 1) / 2 - ops.abs(rows - (height - 1) / 2)           # min(y, H - 1 - y)
    return half - ops.clip(half - room, 0.0, None)                      # min(half, room)


def render_strokes(rows: Array, half_lengths: Array, sigma: Array, height: int,
                   gain: float) -> Array:
    """Ink (..., H, W) of one vertical stroke per column.

    rows, half_lengths, sigma: (..., W) stroke centre row y_j, half-length L_j and Gaussian
    thickness sigma_j (pixels). Ink = min(gain * exp(-d^2 / (2 sigma^2)), 255), d = distance of the
    pixel's row to the segment [y_j - L_j, y_j + L_j].
    """
    ops = _Ops(rows)
    grid = ops.const(np.arange(height, dtype=np.float64))[:, None]           # (H, 1)
    distance = ops.clip(ops.abs(grid - rows[..., None, :]) - half_lengths[..., None, :], 0.0, None)
    ink = gain * ops.exp(-0.5 * (distance / sigma[..., None, :]) ** 2)
    return ops.clip(ink, None, 255.0)


def _ink_to_pixels(ink: Array, config: WaveformConfig) -> Array:
    return 255.0 - ink if config.background == "white" else ink


def spec_to_image(spectra: Array, config: WaveformConfig = DEFAULT_WAVEFORM) -> Array:
    """Algorithm 1, SpecToImage: spectra (..., N_f) -> images (..., H, W), floats in [0, 255]."""
    ops = _Ops(spectra)
    spectra = ops.asfloat(spectra)
    if spectra.shape[-1] < 2:
        raise ValueError(f"a spectrum needs at least 2 points, got shape {tuple(spectra.shape)}")
    rows = resample_linear(values_to_rows(spectra, config), config.width)   # (..., W)
    ink = render_strokes(rows, stroke_half_lengths(rows, config.connect, config.height),
                         thickness_px(rows, config), config.height, config.gain)
    return _ink_to_pixels(ink, config)


def _centroid_rows(ink: Array, floor: float, ops: _Ops) -> Array:
    """Ink-weighted mean row per column: ink (..., H, W) -> (..., W); centre row if no ink."""
    height = ink.shape[-2]
    weights = ops.clip(ink - floor, 0.0, None)
    grid = ops.const(np.arange(height, dtype=np.float64))[:, None]
    total = ops.sum(weights, -2)
    has_ink = total > 0
    safe_total = ops.where(has_ink, total, total * 0 + 1)
    centroid = ops.sum(weights * grid, -2) / safe_total
    return ops.where(has_ink, centroid, centroid * 0 + (height - 1) / 2)


def image_rows(images: Array, config: WaveformConfig = DEFAULT_WAVEFORM) -> Array:
    """Sub-pixel trace row per column: images (..., H, W) in [0, 255] -> rows (..., W).

    Ink-weighted centroid (ink below ``floor_frac * gain`` ignored), then ``refine_steps``
    fixed-point corrections ``y <- y + (c_observed - c(redraw(y)))`` with the drawing rules.
    """
    ops = _Ops(images)
    images = ops.asfloat(images)
    height = images.shape[-2]
    if height != config.height or images.shape[-1] != config.width:
        raise ValueError(f"images are {height} x {images.shape[-1]} but the config draws "
                         f"{config.height} x {config.width}")
    ink = 255.0 - images if config.background == "white" else images
    floor = config.floor_frac * config.gain
    observed = _centroid_rows(ink, floor, ops)
    top = config.center_row - config.half_span_rows
    bottom = config.center_row + config.half_span_rows
    rows = ops.clip(observed, top, bottom)
    previous_rows = previous_centroid = None
    for _ in range(config.refine_steps):
        redrawn = render_strokes(rows, stroke_half_lengths(rows, config.connect, height),
                                 thickness_px(rows, config), height, config.gain)
        centroid = _centroid_rows(redrawn, floor, ops)
        # Secant step on centroid(row) = observed. The slope is 1 away from the borders and
        # drops where the border cuts a thick stroke; clamping it keeps the step safe.
        slope = centroid * 0 + 1
        if previous_rows is not None:
            d_row, d_centroid = rows - previous_rows, centroid - previous_centroid
            moved = ops.abs(d_row) > 1e-9
            safe_d_row = ops.where(moved, d_row, d_row * 0 + 1)
            slope = ops.where(moved, ops.clip(d_centroid / safe_d_row, 0.2, 1.5), slope)
        previous_rows, previous_centroid = rows, centroid
        rows = ops.clip(rows + (observed - centroid) / slope, top, bottom)
    return rows


def image_to_spec(images: Array, n_points: int,
                  config: WaveformConfig = DEFAULT_WAVEFORM) -> Array:
    """Algorithm 1, ImageToSpec: images (..., H, W) -> spectra (..., n_points).

    Values are in spectrum units (rows mapped back with alpha and s_max); they lie within
    +/- alpha * s_max, so a clipped spectrum comes back clipped.
    """
    rows = image_rows(images, config)
    return resample_linear(rows_to_values(rows, config), n_points)


def to_uint8(images: Array) -> Array:
    """Round float images in [0, 255] to uint8 (for PNG files or a pretrained autoencoder)."""
    if isinstance(images, torch.Tensor):
        return torch.clamp(torch.round(images), 0, 255).to(torch.uint8)
    return np.clip(np.round(np.asarray(images)), 0, 255).astype(np.uint8)


def max_thickness_px(config: WaveformConfig = DEFAULT_WAVEFORM) -> float:
    """The thickest stroke (at +/- alpha): sigma_0/3 + slope * h / y_c * sigma_0."""
    return config.sigma0_px / 3 + config.thickness_slope * config.half_span_rows \
        / config.center_row * config.sigma0_px


__all__ = ["WaveformConfig", "DEFAULT_WAVEFORM", "spec_to_image", "image_to_spec", "image_rows",
           "resample_linear", "clip_spectra", "fit_s_max", "values_to_rows", "rows_to_values",
           "thickness_px", "stroke_half_lengths", "render_strokes", "to_uint8", "max_thickness_px"]
