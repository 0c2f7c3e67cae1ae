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


# ------------------------------------------------------------------ issue 34, item 3: names as written

def _electrode_one_hot(meta):
    start = 1 + len(features.SOLVENT_VOCAB) + len(features.ADDITIVE_VOCAB)
    return condition_vector(meta)[start:start + len(ELECTRODE_VOCAB)]


@pytest.mark.parametrize("name, material", [
    ("Cu-PVDF", "Cu"), ("Cu foil", "Cu"), ("copper mesh", "Cu"), ("LTO/SuperP 90/10", "LTO"),
    ("Li4Ti5O12", "LTO"), ("graphite (SLP30)", "graphite"), ("SLP-30", "graphite"), ("CoO/SuperP (90/10)", "CoO"),
    ("cobalt(II) oxide", "CoO"), ("PVDF-bound Sn", "Sn"), ("Si/graphite", "Si"), ("Li metal", "Li")])
def test_electrode_names_as_scientists_write_them_land_on_their_active_material(meta, monkeypatch, name, material):
    monkeypatch.setattr(features, "_WARNED_UNKNOWN", set())
    assert features.active_material(name) == material
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        one_hot = _electrode_one_hot(dataclasses.replace(meta, working_electrode=name))
    assert one_hot.sum() == 1.0 and one_hot[ELECTRODE_VOCAB.index(material)] == 1.0


@pytest.mark.parametrize("name", ["NMC811", "SnO2", "Co3O4", "Super P", "PVDF"])
def test_names_of_no_known_active_material_still_warn(meta, monkeypatch, name):
    monkeypatch.setattr(features, "_WARNED_UNKNOWN", set())
    assert features.active_material(name) is None
    with pytest.warns(UserWarning, match=rf"'{name}' is not in the cell embedding's vocabulary.*first active material"):
        one_hot = _electrode_one_hot(dataclasses.replace(meta, working_electrode=name))
    assert one_hot[-1] == 1.0


def test_simulated_electrodes_keep_their_slots(meta):
    """The recorded benchmark's cells: every simulated working electrode is encoded as before
    the names were parsed (the earlier rule: the name itself or a vocabulary word followed by
    '/' or a space)."""
    from operando.ir.simulate.systems import SYSTEMS

    def earlier_rule(name):
        key = name.strip().lower()
        return next(i for i, v in enumerate(ELECTRODE_VOCAB)
                    if key == v.lower() or key.startswith(v.lower() + "/") or key.startswith(v.lower() + " "))

    for system in SYSTEMS:
        slot = features.electrode_slot(system.working_electrode)
        assert slot == earlier_rule(system.working_electrode) and ELECTRODE_VOCAB[slot] != "other"
