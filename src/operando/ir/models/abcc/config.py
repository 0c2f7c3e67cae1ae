"""The ABCC switches (:class:`ABCCConfig`), saved inside a forecaster's forecaster.json."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from operando.settings import settings_from_table

RESIDUAL_MODES = ("none", "baseline", "full")
REFERENCE_MODES = ("span", "measured")
MOLECULE_KINDS = ("3d", "2d", "file", "vocab")
ELECTROLYTE_METHODS = ("svd", "mcr")
SIMULATED_CALIBRATION = "simulated"
REFERENCE_SYSTEM_PREFIX = "reference|"
STREAMS_FILE = "streams.json"


@dataclass
class ABCCConfig:
    """The ABCC switches (all on by default; saved inside forecaster.json).

    Chemical Flow: the target itself is ``FlowModelConfig.target``; ``trajectory`` /
    ``segment_length``: trajectory batches (see the module docstring).

    Two-stream: ``two_stream``; ``calibration``: the calibration HDF5 file (``operando ir simulate
    --calibration -o FILE``) or ``"simulated"`` (build the simulator's calibration set with
    ``calibration_seed`` in memory; only meaningful for simulated operando data);
    ``residual``: what may remain outside the two streams, ``"none"`` (nothing),
    ``"baseline"`` (an offset and slope: Legendre polynomials up to ``baseline_order``) or
    ``"full"`` (a third, unconstrained branch in the orthogonal complement);
    ``sei_nonnegative``: SEI coefficients of the training targets >= 0 (SEI grows);
    ``electrolyte_method``: ``"svd"`` (leading right singular vectors) or ``"mcr"`` (MCR-ALS
    spectra) of the calibration electrolytes, with K the smallest rank whose residual RMS is
    within ``noise_margin`` of the noise (at most ``max_electrolyte_components``);
    ``reference``: what a span-restricted forecast (two streams, ``residual`` other than
    ``"full"``) adds its change to: ``"span"`` (the part of s_v0 in the span of the stream and
    baseline spectra; the forecast then lies wholly in that span, as its training targets do)
    or ``"measured"`` (s_v0 itself, out-of-span part, such as its noise, included). Ignored
    when the forecast is not span-restricted.

    Molecules: ``molecules`` = ``"3d"`` | ``"2d"`` | ``"file"`` (vectors from
    ``molecule_file``) | ``"vocab"`` (the fixed vocabulary of :mod:`operando.ir.models.features`).

    Physics: ``lambda_mass``, ``lambda_peak`` weights of L_mass and L_peak (0 = off);
    ``physics_rows``: at most this many samples of each batch enter them (the extra forward
    pass costs about 40 % of a MeanFlow step at the full batch of 64, about 10 % at 16);
    ``physics_t_max``: only samples with t <= physics_t_max enter them (1 = all).
    ``lambda_moment``: weight of the draws' mean-matching term L_moment (0 = off; see
    :class:`PhysicsObjective`), on at most ``moment_rows`` samples of each batch, and only
    after training step ``moment_from_step`` (0: from the first step; N: a last phase, the
    first N steps plain MeanFlow plus the physics terms).
    ``lambda_point``: weight of L_point, the squared-error fit of the noise-end mean estimate
    (0 = off), on at most ``point_rows`` samples of each batch; with it on, the point forecast
    is the mean of ``n_samples`` noise-end estimates z - u(z, 1, 1) instead of the mean of the
    one-step draws (the draws still give the interval).
    """

    trajectory: bool = True
    segment_length: int = 8
    two_stream: bool = True
    calibration: str = SIMULATED_CALIBRATION
    calibration_seed: int = 0
    residual: str = "baseline"
    baseline_order: int = 1
    sei_nonnegative: bool = True
    electrolyte_method: str = "svd"
    noise_margin: float = 1.1
    max_electrolyte_components: int = 16
    reference: str = "span"
    molecules: str = "3d"
    molecule_file: str | None = None
    # Measured on the system split (SiT1D small, batch 64, first 200 steps): gradient norms of
    # the MeanFlow loss 5-10, of L_mass 0.02-0.06 and of L_peak 0.8-1.7 (weight 1 each); these
    # weights make each physics term about 5 % of the flow loss's gradient.
    lambda_mass: float = 10.0
    lambda_peak: float = 0.3
    physics_rows: int = 16
    physics_t_max: float = 1.0
    lambda_moment: float = 0.0
    moment_rows: int = 32
    moment_from_step: int = 0
    lambda_point: float = 0.0
    point_rows: int = 32

    def __post_init__(self):
        if self.segment_length < 1:
            raise ValueError(f"segment_length must be >= 1, got {self.segment_length}")
        if self.residual not in RESIDUAL_MODES:
            raise ValueError(f"residual must be one of {RESIDUAL_MODES}, got {self.residual!r}")
        if self.reference not in REFERENCE_MODES:
            raise ValueError(f"reference must be one of {REFERENCE_MODES}, got {self.reference!r}")
        if self.baseline_order < 0:
            raise ValueError(f"baseline_order must be >= 0, got {self.baseline_order}")
        if self.electrolyte_method not in ELECTROLYTE_METHODS:
            raise ValueError(f"electrolyte_method must be one of {ELECTROLYTE_METHODS}, "
                             f"got {self.electrolyte_method!r}")
        if self.molecules not in MOLECULE_KINDS:
            raise ValueError(f"molecules must be one of {MOLECULE_KINDS}, got {self.molecules!r}")
        if self.molecules == "file" and not self.molecule_file:
            raise ValueError("molecules = 'file' needs molecule_file (CSV smiles,v0,... or .npz)")
        if min(self.lambda_mass, self.lambda_peak, self.lambda_moment, self.lambda_point) < 0:
            raise ValueError("lambda_mass, lambda_peak, lambda_moment and lambda_point must be >= 0")
        if min(self.physics_rows, self.moment_rows, self.point_rows) < 1:
            raise ValueError(f"physics_rows, moment_rows and point_rows must be >= 1, got {self.physics_rows}, "
                             f"{self.moment_rows}, {self.point_rows}")
        if self.moment_from_step < 0:
            raise ValueError(f"moment_from_step must be >= 0, got {self.moment_from_step}")
        if not 0.0 < self.physics_t_max <= 1.0:
            raise ValueError(f"physics_t_max must be in (0, 1], got {self.physics_t_max}")
        if self.noise_margin <= 0 or self.max_electrolyte_components < 1:
            raise ValueError("noise_margin must be > 0 and max_electrolyte_components >= 1")

    @classmethod
    def from_value(cls, value: "ABCCConfig | Mapping | None") -> "ABCCConfig | None":
        """None, a config, or a dict of fields (unknown keys raise ValueError)."""
        if value is None:
            return None
        return settings_from_table(cls, value, "abcc")

    @property
    def uses_physics(self) -> bool:
        return self.lambda_mass > 0 or self.lambda_peak > 0 or self.lambda_moment > 0 or self.lambda_point > 0

    @property
    def projects_reference(self) -> bool:
        """Whether forecasts add their change to the in-span part of s_v0 (``reference``)."""
        return self.two_stream and self.residual != "full" and self.reference == "span"
