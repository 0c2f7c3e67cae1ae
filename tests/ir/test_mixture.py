"""Molecule encoders (3D RDKit descriptors, 2D pure-Python fingerprint, user vector files) and
the electrolyte mixture embedding."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from operando.errors import InputError, OperandoError
from operando.ir.chem import fingerprints, mixture
from operando.ir.chem.fingerprints import FINGERPRINT_2D_DIM, fingerprint_2d, graph_key
from operando.ir.chem.mixture import (
    DESCRIPTOR_3D_DIM,
    DESCRIPTOR_NAMES_3D,
    MoleculeEncoder,
    mixture_dim,
    mixture_embedding,
    solvent_volume_fractions,
)
from operando.ir.data.experiment import Component, Electrolyte, ExperimentMeta

LI = "[Li+]"
PF6 = "F[P-](F)(F)(F)(F)F"
LIPF6 = f"{LI}.{PF6}"
EC, DMC, EMC, VC = "C1COC(=O)O1", "COC(=O)OC", "CCOC(=O)OC", "O=C1OC=CO1"


def electrolyte(solvents, basis="weight", additives=(), molarity=1.0, salt=LIPF6) -> Electrolyte:
    return Electrolyte(Component("LiPF6", salt, molarity),
                       tuple(Component(n, s, f) for n, s, f in solvents), basis,
                       tuple(Component(n, s, w) for n, s, w in additives))


@pytest.fixture(scope="module")
def enc3d(tmp_path_factory):
    pytest.importorskip("rdkit")
    return MoleculeEncoder("3d", cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture
def enc2d():
    return MoleculeEncoder("2d")


# --- 3D encoder ------------------------------------------------------------------------------------


def test_3d_vector_layout(enc3d):
    v = enc3d.encode(EC)
    assert v.shape == (DESCRIPTOR_3D_DIM,) == (len(DESCRIPTOR_NAMES_3D),) == (88,)
    assert np.all(np.isfinite(v))
    assert np.abs(v).max() < 10  # fixed standardisation keeps small molecules in a sane range
    names = list(DESCRIPTOR_NAMES_3D)
    # Standardised count of O atoms: log1p(3) / 2; formal charge: 0.
    assert v[names.index("count_O")] == pytest.approx(np.log1p(3) / 2)
    assert v[names.index("formal_charge")] == 0.0


def test_3d_deterministic_and_same_across_a_fresh_cache(enc3d, tmp_path):
    a = enc3d.encode(EC)
    assert np.array_equal(a, enc3d.encode(EC))
    fresh = MoleculeEncoder("3d", cache_dir=tmp_path / "other")
    assert np.array_equal(a, fresh.encode(EC))  # recomputed from scratch: bit-identical
    assert np.array_equal(a, fresh.encode("O=C1OCCO1"))  # another spelling, same molecule


def test_cache_file_created_and_reused(tmp_path, monkeypatch):
    pytest.importorskip("rdkit")
    enc = MoleculeEncoder("3d", cache_dir=tmp_path)
    v = enc.encode(DMC)
    cache = tmp_path / mixture.CACHE_FILE_NAME
    assert cache.exists()
    data = json.loads(cache.read_text())
    keys = list(data["entries"])
    assert len(keys) == 1 and keys[0].startswith(enc.version + "/") and keys[0].endswith(DMC)
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write left no temporary file

    def no_conformers(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(mixture, "build_conformer", no_conformers)
    again = MoleculeEncoder("3d", cache_dir=tmp_path)
    assert np.array_equal(again.encode(DMC), v)
    assert again.force_field(DMC) == "MMFF94"
    # A damaged cache is ignored with a warning, never trusted.
    cache.write_text("{not json")
    monkeypatch.undo()
    with pytest.warns(UserWarning, match="unreadable embedding cache"):
        assert np.array_equal(MoleculeEncoder("3d", cache_dir=tmp_path).encode(DMC), v)


def test_pf6_uses_uff_fallback_and_is_octahedral(enc3d):
    pytest.importorskip("rdkit")
    from rdkit.Chem import rdMolDescriptors
    assert enc3d.force_field(PF6) == "UFF"  # MMFF94 has no type for hexacoordinate P
    assert enc3d.force_field(EC) == "MMFF94"
    conf = mixture.build_conformer(PF6)
    assert conf.force_field == "UFF" and conf.mol.GetNumConformers() == 1
    assert rdMolDescriptors.CalcNPR1(conf.mol) == pytest.approx(1.0, abs=1e-3)
    assert rdMolDescriptors.CalcNPR2(conf.mol) == pytest.approx(1.0, abs=1e-3)
    v = enc3d.encode(PF6)
    assert np.all(np.isfinite(v))  # Gasteiger has no P(VI) parameters: formal charges used
    assert v[list(DESCRIPTOR_NAMES_3D).index("formal_charge")] == -1.0


def test_salt_embedded_ion_by_ion(enc3d, monkeypatch):
    seen = []
    real = mixture.build_conformer

    def spy(smiles, **kwargs):
        seen.append(smiles)
        return real(smiles, **kwargs)

    monkeypatch.setattr(mixture, "build_conformer", spy)
    enc = MoleculeEncoder("3d", cache_dir=False)
    salt = enc.encode(LIPF6)
    assert seen and all("." not in s for s in seen)  # never one multi-fragment molecule
    expected = 0.5 * (enc.encode(LI) + enc.encode(PF6))
    assert np.allclose(salt, expected, rtol=0, atol=1e-12)
    assert np.array_equal(salt, enc.encode(f"{PF6}.{LI}"))  # order of the ions does not matter
    # Stoichiometry: Li2SO4 = (2 Li + SO4) / 3.
    sulfate = "[O-]S(=O)(=O)[O-]"
    li2so4 = enc.encode(f"{LI}.{LI}.{sulfate}")
    assert np.allclose(li2so4, (2 * enc.encode(LI) + enc.encode(sulfate)) / 3, atol=1e-12)
    with pytest.raises(ValueError, match="ion by ion"):
        real(LIPF6)


@pytest.mark.parametrize("kind", ["2d", "3d"])
def test_invalid_smiles_is_an_input_error_naming_it(kind, request):
    enc = request.getfixturevalue("enc3d" if kind == "3d" else "enc2d")
    with pytest.raises(InputError, match=r"C1CC\(") as err:
        enc.encode("C1CC(", field="electrolyte.solvents[0].smiles")
    assert err.value.field == "electrolyte.solvents[0].smiles"
    bad = electrolyte([("EC", EC, 0.5), ("junk", "C(C)(C)(C)(C)C", 0.5)], basis="volume")
    with pytest.raises(InputError, match=r"C\(C\)\(C\)\(C\)\(C\)C") as err:
        mixture_embedding(bad, enc)
    assert err.value.field == "electrolyte.solvents[1].smiles"
    bad_salt = electrolyte([("EC", EC, 1.0)], salt="[Li+].F[P-](F)(F)(F)(F")
    with pytest.raises(InputError) as err:
        mixture_embedding(bad_salt, enc)
    assert err.value.field == "electrolyte.salt.smiles"


# --- mixture ---------------------------------------------------------------------------------------


def test_weight_to_volume_fractions_hand_computed():
    e = electrolyte([("EC", EC, 0.5), ("DMC", DMC, 0.5)])
    p = solvent_volume_fractions(e)
    # 1:1 by weight: p_EC = (0.5/1.32) / (0.5/1.32 + 0.5/1.07) = 1.07 / 2.39
    assert p[0] == pytest.approx(1.07 / 2.39, abs=1e-12)
    assert p[0] == pytest.approx(0.4476987, abs=1e-7)
    e37 = electrolyte([("EC", EC, 0.3), ("EMC", EMC, 0.7)])
    v_ec, v_emc = 0.3 / 1.32, 0.7 / 1.01
    assert solvent_volume_fractions(e37) == pytest.approx([v_ec / (v_ec + v_emc), v_emc / (v_ec + v_emc)])
    vol = electrolyte([("EC", EC, 0.5), ("DMC", DMC, 0.5)], basis="volume")
    assert solvent_volume_fractions(vol).tolist() == [0.5, 0.5]


def test_density_lookup_by_smiles_and_user_table():
    # Matched by molecule, whatever the name or spelling.
    e = electrolyte([("ethylene carbonate", "O=C1OCCO1", 0.5), ("dimethyl carbonate", DMC, 0.5)])
    assert solvent_volume_fractions(e)[0] == pytest.approx(1.07 / 2.39)
    unknown = electrolyte([("EC", EC, 0.5), ("DME", "COCCOC", 0.5)])
    with pytest.raises(InputError, match="no density known for solvent 'DME'") as err:
        solvent_volume_fractions(unknown)
    assert err.value.field == "electrolyte.solvents[1]"
    p = solvent_volume_fractions(unknown, densities={"dme": 0.868})
    assert p[1] == pytest.approx((0.5 / 0.868) / (0.5 / 1.32 + 0.5 / 0.868))
    assert np.allclose(p, solvent_volume_fractions(unknown, densities={"COCCOC": 0.868}))
    with pytest.raises(InputError, match="positive"):
        solvent_volume_fractions(unknown, densities={"DME": -1.0})
    # Volume basis needs no density.
    assert np.allclose(solvent_volume_fractions(electrolyte([("EC", EC, 0.4), ("DME", "COCCOC", 0.6)],
                                                            basis="volume")), [0.4, 0.6])


def test_fractions_must_sum_to_one():
    meta = {"name": "x", "working_electrode": "Cu", "counter_electrode": "Li", "protocol": "galvanostatic",
            "electrolyte": {"salt": {"name": "LiPF6", "smiles": LIPF6, "molarity": 1.0},
                            "solvents": [{"name": "EC", "smiles": EC, "fraction": 0.5},
                                         {"name": "DMC", "smiles": DMC, "fraction": 0.4}]}}
    with pytest.raises(InputError, match="sum to 1") as err:
        ExperimentMeta.from_dict(meta, "experiment.json")
    assert err.value.field == "electrolyte.solvents"
    # An Electrolyte built in code bypasses that check; the embedding checks again.
    bad = electrolyte([("EC", EC, 0.5), ("DMC", DMC, 0.4)])
    with pytest.raises(InputError, match="sum to 1, they sum to 0.9"):
        mixture_embedding(bad, MoleculeEncoder("2d"))
    negative = electrolyte([("EC", EC, 1.5), ("DMC", DMC, -0.5)])
    with pytest.raises(InputError, match=">= 0"):
        solvent_volume_fractions(negative)


def test_mixture_layout_and_values(enc2d):
    e = electrolyte([("EC", EC, 0.5), ("DMC", DMC, 0.5)], additives=[("VC", VC, 2.0)], molarity=1.2)
    c = mixture_embedding(e, enc2d)
    dim = FINGERPRINT_2D_DIM
    assert c.shape == (mixture_dim(enc2d),) == (3 * dim + 2,)
    assert np.allclose(c[:dim], enc2d.encode(LIPF6))
    p = solvent_volume_fractions(e)
    assert np.allclose(c[dim:2 * dim], p[0] * enc2d.encode(EC) + p[1] * enc2d.encode(DMC))
    assert np.allclose(c[2 * dim:3 * dim], enc2d.encode(VC))  # one additive: weight share 1
    assert c[-2] == 1.2 and c[-1] == pytest.approx(0.2)  # molarity, total wt% / 10
    no_additive = mixture_embedding(electrolyte([("EC", EC, 1.0)]), enc2d)
    assert np.all(no_additive[2 * dim:3 * dim] == 0) and no_additive[-1] == 0.0
    two = electrolyte([("EC", EC, 1.0)], additives=[("VC", VC, 1.0), ("FEC", "O=C1OCC(F)O1", 3.0)])
    c2 = mixture_embedding(two, enc2d)
    assert np.allclose(c2[2 * dim:3 * dim], 0.25 * enc2d.encode(VC) + 0.75 * enc2d.encode("O=C1OCC(F)O1"))
    assert c2[-1] == pytest.approx(0.4)


@pytest.mark.parametrize("kind", ["2d", "3d"])
def test_mixture_is_order_invariant_and_deterministic(kind, request):
    enc = request.getfixturevalue("enc3d" if kind == "3d" else "enc2d")
    solvents = [("EC", EC, 0.3), ("DMC", DMC, 0.3), ("EMC", EMC, 0.4)]
    additives = [("VC", VC, 1.0), ("FEC", "O=C1OCC(F)O1", 2.0)]
    a = mixture_embedding(electrolyte(solvents, additives=additives), enc)
    b = mixture_embedding(electrolyte(solvents[::-1], additives=additives[::-1]), enc)
    c = mixture_embedding(electrolyte([solvents[1], solvents[2], solvents[0]], additives=additives), enc)
    assert np.array_equal(a, b) and np.array_equal(a, c)  # bit-identical, not just close
    assert a.shape == (3 * enc.dim + 2,) and np.all(np.isfinite(a))
    other = mixture_embedding(electrolyte([("EC", EC, 0.5), ("DMC", DMC, 0.5)]), enc)
    assert not np.allclose(a, other)  # a different recipe gives a different condition


# --- 2D fallback -----------------------------------------------------------------------------------


def test_2d_fingerprint_is_spelling_invariant_and_distinguishes_molecules():
    assert np.array_equal(fingerprint_2d(EC), fingerprint_2d("O=C1OCCO1"))
    assert np.array_equal(fingerprint_2d(VC), fingerprint_2d("C1=COC(=O)O1"))
    assert graph_key("CCOC(=O)OC") == graph_key("O=C(OC)OCC") == graph_key("COC(OCC)=O")
    vectors = [fingerprint_2d(s) for s in (EC, DMC, EMC, VC, "CC1COC(=O)O1", LI, PF6)]
    for i in range(len(vectors)):
        for j in range(i):
            assert not np.array_equal(vectors[i], vectors[j])
    assert vectors[0].shape == (FINGERPRINT_2D_DIM,) == (140,)
    assert len({graph_key(s) for s in (EC, DMC, EMC, VC, "CC1COC(=O)O1")}) == 5
    # Implicit hydrogens follow the valence model: EC has 4 H, benzene 6, PF6- none.
    assert fingerprints.parse_smiles(EC).element_counts()["H"] == 4
    assert fingerprints.parse_smiles("c1ccccc1").element_counts()["H"] == 6
    assert fingerprints.parse_smiles(PF6).formal_charge == -1


def test_2d_works_with_rdkit_hidden(monkeypatch):
    monkeypatch.setitem(sys.modules, "rdkit", None)  # "import rdkit" now fails
    with pytest.raises(OperandoError, match=r"operando\[chem\]"):
        MoleculeEncoder("3d")
    enc = MoleculeEncoder("2d")
    e = electrolyte([("EC", EC, 0.5), ("DMC", DMC, 0.5)], additives=[("VC", VC, 2.0)])
    c = mixture_embedding(e, enc)
    assert c.shape == (3 * 140 + 2,) and np.all(np.isfinite(c))
    assert np.allclose(c[:140], 0.5 * (fingerprint_2d(LI) + fingerprint_2d(PF6)))
    with pytest.raises(InputError, match="not-a-smiles"):
        enc.encode("not-a-smiles")


# --- user vectors ----------------------------------------------------------------------------------


def _write_csv(path, rows, dim):
    header = "smiles," + ",".join(f"v{i}" for i in range(dim))
    lines = [header] + [s + "," + ",".join(repr(float(x)) for x in v) for s, v in rows]
    path.write_text("\n".join(lines) + "\n")


def test_user_vectors_from_csv_and_npz(tmp_path):
    rng = np.random.default_rng(3)
    dim = 512  # e.g. Uni-Mol embeddings
    table = {LI: rng.normal(size=dim), PF6: rng.normal(size=dim), EC: rng.normal(size=dim),
             DMC: rng.normal(size=dim)}
    csv_path = tmp_path / "unimol.csv"
    _write_csv(csv_path, table.items(), dim)
    npz_path = tmp_path / "unimol.npz"
    np.savez(npz_path, smiles=np.array(list(table)), vectors=np.stack(list(table.values())))
    for path in (csv_path, npz_path):
        enc = MoleculeEncoder.from_file(path)
        assert enc.kind == "file" and enc.dim == dim
        assert np.array_equal(enc.encode("O=C1OCCO1"), table[EC])  # any spelling
        assert np.allclose(enc.encode(LIPF6), 0.5 * (table[LI] + table[PF6]))  # ion by ion
        c = mixture_embedding(electrolyte([("EC", EC, 0.5), ("DMC", DMC, 0.5)], basis="volume"), enc)
        assert c.shape == (3 * dim + 2,)
        assert np.allclose(c[dim:2 * dim], 0.5 * table[EC] + 0.5 * table[DMC])
        with pytest.raises(InputError, match="no vector for SMILES 'CCOC"):
            enc.encode(EMC)
    # A vector given for the whole salt is used as is.
    whole = tmp_path / "whole.csv"
    _write_csv(whole, [(LIPF6, np.ones(4)), (EC, np.zeros(4))], 4)
    assert np.array_equal(MoleculeEncoder.from_file(whole).encode(LIPF6), np.ones(4))


def test_user_vector_file_errors(tmp_path):
    bad_header = tmp_path / "bad.csv"
    bad_header.write_text("molecule,a,b\nCCO,1,2\n")
    with pytest.raises(InputError, match="header") as err:
        MoleculeEncoder.from_file(bad_header)
    assert err.value.line == 1
    bad_value = tmp_path / "value.csv"
    bad_value.write_text("smiles,v0,v1\nCCO,1,2\nCCC,1,x\n")
    with pytest.raises(InputError, match="numbers") as err:
        MoleculeEncoder.from_file(bad_value)
    assert err.value.line == 3
    bad_smiles = tmp_path / "smiles.csv"
    bad_smiles.write_text("smiles,v0\nC1CC,1\n")
    with pytest.raises(InputError, match="C1CC"):
        MoleculeEncoder.from_file(bad_smiles)
    with pytest.raises(InputError, match="not found"):
        MoleculeEncoder.from_file(tmp_path / "missing.csv")
    npz = tmp_path / "v.npz"
    np.savez(npz, smiles=np.array(["CCO"]), other=np.zeros((1, 3)))
    with pytest.raises(InputError, match="'vectors'"):
        MoleculeEncoder.from_file(npz)
