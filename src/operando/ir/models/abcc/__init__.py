"""ABCC: the chemistry and physics pieces of arXiv 2602.18551 inside the flow forecaster.

The forecaster itself is :class:`~operando.ir.models.generative.FlowForecaster`; an
:class:`ABCCConfig` in its :class:`~operando.ir.models.generative.FlowModelConfig` (``abcc=``)
switches the pieces below on. Each one can be turned off on its own (docs/ir/abcc.md):

1. **Chemical Flow, trajectory view** (``target="chemical_flow"`` plus ``trajectory``). The
   model generates the clipped, scaled change f_m = clip(s_m - s_0, -a, a) / a (Eq. 10). A
   cell's training pairs, in step order (the order of its voltage protocol), form a
   trajectory f_0 = 0, f_m1, f_m2, ... that starts at the origin: the reference pair m = 0
   (zero flow) is always one of them. With ``trajectory`` on, a batch is made of
   ``batch_size / segment_length`` trajectory segments (:class:`TrajectoryBatches`): each picks
   a cell with probability proportional to its number of pairs, and holds its origin pair plus
   ``segment_length - 1`` further pairs drawn without replacement along its trajectory and
   sorted by step. So every step of the model sees whole trajectories, from their origin to
   late steps, instead of isolated pairs. Off: rows drawn uniformly (plain pairs).
2. **Two-stream disentanglement** (``two_stream``; Eq. 11: D(v) = C_elec S_elec^T + C_SEI
   S_SEI^T + E). The component spectra are fixed beforehand from the separate static
   calibration set (``calibration``, never the operando data): :class:`StreamBasis`. Training
   targets are split per sample into the streams (:meth:`StreamBasis.fit`), and the network
   (:class:`StreamNet`) has one output branch per stream, each hard-projected onto its own
   subspace and fused with learnable weights. :meth:`FlowForecaster.sample_streams` returns
   the electrolyte and SEI contributions separately.
3. **Molecular mixture embedding** (``molecules``): the fixed-vocabulary cell embedding of the
   condition vector is replaced by :func:`~operando.ir.chem.mixture.mixture_embedding` of the
   recipe (3D conformer descriptors by default; ``"2d"`` fingerprints; ``"file"`` user
   vectors; ``"vocab"`` is the old fixed vocabulary), plus the electrode and protocol one-hots
   (:class:`MixtureConditionEncoder`).
4. **Physics constraints** (``lambda_mass``, ``lambda_peak``): L_mass (Eq. 12) and L_peak
   (Eq. 13) of :mod:`operando.flow.physics` are added to the flow loss, on the model's
   one-step data estimate (:class:`PhysicsObjective`).
"""
from operando.ir.models.abcc.conditions import (
                                                MixtureConditionEncoder,
                                                condition_encoder_from_state,
                                                make_condition_encoder,
)
from operando.ir.models.abcc.config import ABCCConfig
from operando.ir.models.abcc.physics import PhysicsObjective
from operando.ir.models.abcc.streams import (
                                                StreamBasis,
                                                StreamNet,
                                                StreamNetConfig,
                                                load_calibration,
                                                read_stream_info,
                                                write_stream_info,
)
from operando.ir.models.abcc.trajectories import TrajectoryBatches, trajectory_groups

__all__ = ["ABCCConfig", "MixtureConditionEncoder", "PhysicsObjective", "StreamBasis", "StreamNet", "StreamNetConfig",
           "TrajectoryBatches", "condition_encoder_from_state", "load_calibration", "make_condition_encoder",
           "read_stream_info", "trajectory_groups", "write_stream_info"]
