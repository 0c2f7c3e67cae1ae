"""Cell embedding: known names land in their slots; an unknown name is encoded as 'other' with a warning."""
from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

from operando.ir.models import features
from operando.ir.models.features import ELECTRODE_VOCAB, condition_vector
from operando.ir.simulate import simulate_dataset


@pytest.fixture(scope="module")
def meta():
    return simulate_dataset(seed=0, experiments=["cu-dmc-1"])["cu-dmc-1"].meta


def test_known_names_give_no_warning_and_a_one_hot_electrode(meta):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vec = condition_vector(meta)
    start = 1 + len(features.SOLVENT_VOCAB) + len(features.ADDITIVE_VOCAB)
    electrode = vec[start:start + len(ELECTRODE_VOCAB)]
    assert electrode.sum() == 1.0 and electrode[ELECTRODE_VOCAB.index("Cu")] == 1.0


def test_unknown_electrode_is_other_and_warned_once(meta, monkeypatch):
    monkeypatch.setattr(features, "_WARNED_UNKNOWN", set())
    unknown = dataclasses.replace(meta, working_electrode="NMC811")
    with pytest.warns(UserWarning, match="'NMC811' is not in the cell embedding's vocabulary"):
        vec = condition_vector(unknown)
    start = 1 + len(features.SOLVENT_VOCAB) + len(features.ADDITIVE_VOCAB)
    assert vec[start + len(ELECTRODE_VOCAB) - 1] == 1.0  # the 'other' slot
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(condition_vector(unknown), vec)  # second time: silent
