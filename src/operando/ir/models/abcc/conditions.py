"""Molecular mixture embedding in the conditions (piece 3 of :mod:`operando.ir.models.abcc`)."""
from __future__ import annotations

import json

import numpy as np

from operando.ir.data.experiment import Experiment, ExperimentMeta
from operando.ir.models.abcc.config import ABCCConfig
from operando.ir.models.baselines import ConditionEncoder
from operando.ir.models.features import ELECTRODE_VOCAB, PROTOCOL_VOCAB, condition_vector, step_features

N_ELECTRODE_PROTOCOL = len(ELECTRODE_VOCAB) + len(PROTOCOL_VOCAB)


class MixtureConditionEncoder(ConditionEncoder):
    """[step features, mixture embedding, electrode + protocol one-hot, s_v0 PCA], standardized.

    The fixed-vocabulary salt/solvent/additive slots of
    :func:`~operando.ir.models.features.condition_vector` are replaced by
    :func:`~operando.ir.chem.mixture.mixture_embedding` with a
    :class:`~operando.ir.chem.mixture.MoleculeEncoder` of kind ``molecules`` ("3d" needs RDKit: a
    clear error says how to install it). Shapes: (n_steps, n_inputs).
    """

    def __init__(self, molecules: str = "3d", molecule_file: str | None = None):
        from operando.ir.chem.mixture import MoleculeEncoder

        self.molecules, self.molecule_file = molecules, molecule_file
        if molecules == "file":
            self.molecule_encoder = MoleculeEncoder.from_file(molecule_file)
        else:
            self.molecule_encoder = MoleculeEncoder(molecules)
        self._cache: dict[str, np.ndarray] = {}

    def cell_vector(self, meta: ExperimentMeta) -> np.ndarray:
        from operando.ir.chem.mixture import mixture_embedding

        key = json.dumps(meta.electrolyte.to_dict(), sort_keys=True)
        if key not in self._cache:
            self._cache[key] = mixture_embedding(meta.electrolyte, self.molecule_encoder)
        one_hots = condition_vector(meta)[-N_ELECTRODE_PROTOCOL:]
        return np.concatenate([self._cache[key], one_hots])

    def raw(self, e: Experiment) -> np.ndarray:
        per_cell = np.concatenate([self.cell_vector(e.meta), self.basis(e.absorbance[0])[0]])
        return np.hstack([step_features(e), np.repeat(per_cell[None], len(e), axis=0)])

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray], molecules: str = "3d",
                   molecule_file: str | None = None) -> "MixtureConditionEncoder":
        fitted = ConditionEncoder.from_state(state)
        enc = cls(molecules, molecule_file)
        enc.basis, enc.scaler = fitted.basis, fitted.scaler
        return enc


def make_condition_encoder(config: ABCCConfig | None) -> ConditionEncoder:
    """The (unfitted) condition encoder of a forecaster: the fixed vocabulary without ABCC."""
    if config is None or config.molecules == "vocab":
        return ConditionEncoder()
    return MixtureConditionEncoder(config.molecules, config.molecule_file)


def condition_encoder_from_state(config: ABCCConfig | None, state: dict[str, np.ndarray]) -> ConditionEncoder:
    if config is None or config.molecules == "vocab":
        return ConditionEncoder.from_state(state)
    return MixtureConditionEncoder.from_state(state, config.molecules, config.molecule_file)
