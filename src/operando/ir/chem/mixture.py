"""Electrolyte mixture embedding from 3D molecular geometry (ABCC, Section 4 of arXiv:2602.18551).

ABCC conditions its forecast on the electrolyte recipe through molecular embeddings of the
salt, the solvents and the additives (the paper uses 3D molecular representations). This
module gives every molecule a fixed-length vector and combines them into one mixture vector.

Molecule encoders (:class:`MoleculeEncoder`)
--------------------------------------------
``kind="3d"`` (default, needs the optional extra ``pip install 'operando[chem]'``, i.e. RDKit):

1. Conformers: RDKit ETKDG v3 distance geometry (Wang, Witek, Landrum, Riniker, J. Chem. Inf.
   Model. 60 (2020) 2044), :data:`N_CONFORMERS` conformers from the fixed seed
   :data:`CONFORMER_SEED`, one thread, so the result is reproducible.
   A hypervalent centre (octahedral SP3D2 with 6 neighbours, e.g. P in PF6-, or trigonal
   bipyramidal SP3D with 5) is started from its ideal polyhedron (``coordMap``), because plain
   distance geometry has no good angle model for it.
2. Force field: each conformer is minimised with MMFF94 (Halgren, J. Comput. Chem. 17 (1996)
   490); species MMFF cannot type (e.g. PF6-) fall back to UFF (Rappe et al., J. Am. Chem.
   Soc. 114 (1992) 10024); species neither can type keep the ETKDG geometry (``"none"``).
   The lowest-energy conformer is kept (ties: lowest conformer id). Which force field was used
   is reported by :meth:`MoleculeEncoder.force_field`.
3. Descriptors (:data:`DESCRIPTOR_NAMES_3D`, 88 numbers, all hydrogens explicit):

   * shape (10): principal moments of inertia ``pmi1..3`` [amu A^2], normalised PMI ratios
     ``npr1, npr2``, radius of gyration [A], asphericity, eccentricity, spherocity index,
     inertial shape factor (RDKit ``rdMolDescriptors``, atomic masses). A single atom (Li+)
     is a point: its ratios are set to those of a sphere (npr 1, spherocity 1, asphericity,
     eccentricity and shape factor 0);
   * size and electrostatics (7): molar mass [g/mol], molecular volume [A^3] (RDKit grid
     volume, 0.2 A spacing), heavy-atom count, net formal charge, charge moment
     ``|sum_i q_i (r_i - r_com)|`` [e A] about the centre of mass, smallest and largest partial
     charge; partial charges are Gasteiger-Marsili (Tetrahedron 36 (1980) 3219), and the formal
     charges where Gasteiger has no parameters (hypervalent P of PF6-);
   * atom counts (11): H, Li, B, C, N, O, F, P, S, Cl, other;
   * pair-distance histogram by element class (60): atoms fall in the classes H, C, O, F and X
     (any other element); for each of the 15 unordered class pairs, interatomic distances are
     binned softly with Gaussians centred at 1.0, 1.5, 2.5 and 3.8 A (widths 0.2, 0.2, 0.4,
     0.6 A): bonded X-H, bonded heavy-heavy, 1-3 (geminal) and 1-4 and beyond.

   Standardisation uses fixed constants, never data statistics: count-like and extensive
   values go through ``log1p``; each value then becomes ``(value - offset) / scale`` with the
   constants of :data:`_DESCRIPTOR_SPEC_3D` (round numbers of the size seen for small
   electrolyte molecules), so a vector never depends on which other molecules were encoded.

``kind="2d"``: the pure-Python hashed atom-environment fingerprint of
:mod:`operando.ir.chem.fingerprints` (140 numbers); it works without RDKit, and it is always the
pure-Python one (also when RDKit is installed) so that it is the same on every install.

:meth:`MoleculeEncoder.from_file`: user-supplied vectors (e.g. 512-d Uni-Mol embeddings), from
a CSV ``smiles,v0,v1,...`` or an ``.npz`` with arrays ``smiles`` (n,) and ``vectors`` (n, D).

Salts are embedded ion by ion: the SMILES is split on ``'.'``, each ion is embedded on its
own (never as one multi-fragment molecule), and the salt vector is the stoichiometry-weighted
mean of its ion vectors, ``e_salt = sum_k n_k e_k / sum_k n_k`` with ``n_k`` the number of
times ion ``k`` occurs (LiPF6: the mean of Li+ and PF6-; Li2SO4: (2 e_Li + e_SO4) / 3). The
mean keeps salt vectors on the scale of single molecules. (A file encoder that has a vector
for the whole salt SMILES uses it as is.)

Mixture vector (:func:`mixture_embedding`), ``D = 3 E + 2`` for molecule vectors of length E::

    c = [ e_salt | sum_i p_i e_i | sum_j (w_j / W) e_j | salt molarity [mol/L] | W / 10 ]

with ``p_i`` the solvents' volume fractions (weight fractions converted with densities,
:func:`solvent_volume_fractions`), ``w_j`` the additives' weight percent and ``W = sum_j w_j``
(the additive block is zero when there are none; ``W / 10`` is the additive total in units of
10 wt%). Sums run in a fixed order (sorted by vector), so the result does not depend on the
order in which solvents or additives are listed, to the last bit.

3D embeddings are cached on disk (:func:`default_cache_dir`: ``$OPERANDO_CACHE`` or
``~/.cache/operando``), in ``molecule_embeddings.json`` keyed by encoder version, RDKit version
and canonical SMILES, written atomically.
"""
from __future__ import annotations

import csv
import itertools
import json
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from operando.atomic import atomic_path
from operando.errors import InputError, OperandoError
from operando.ir.chem.fingerprints import ELEMENT_COUNT_KEYS, FINGERPRINT_2D_DIM, fingerprint_2d, graph_key
from operando.ir.data.experiment import FRACTION_TOLERANCE, Component, Electrolyte

ENCODER_VERSION = 1  # bump when descriptors, constants or conformer settings change
CONFORMER_SEED = 20260224
N_CONFORMERS = 10
CACHE_FILE_NAME = "molecule_embeddings.json"
_CACHE_FORMAT = "operando-molecule-embeddings"
INSTALL_HINT = ("the 3D molecule encoder needs RDKit: install the optional extra with "
                "pip install 'operando[chem]' (or pip install rdkit), or use "
                "MoleculeEncoder(kind='2d') for the RDKit-free 2D fingerprints")

# --- descriptor definition --------------------------------------------------------------------
_PAIR_CLASSES = ("H", "C", "O", "F", "X")
_PAIR_TYPES = tuple(f"{a}{b}" for a, b in itertools.combinations_with_replacement(_PAIR_CLASSES, 2))
_RBF_CENTRES_A = (1.0, 1.5, 2.5, 3.8)
_RBF_WIDTHS_A = (0.2, 0.2, 0.4, 0.6)

# (name, transform, offset, scale): standardised value = (transform(x) - offset) / scale.
_DESCRIPTOR_SPEC_3D: tuple[tuple[str, str, float, float], ...] = (
    ("pmi1", "log1p", 4.5, 1.5), ("pmi2", "log1p", 4.5, 1.5), ("pmi3", "log1p", 4.5, 1.5),
    ("npr1", "linear", 0.5, 0.5), ("npr2", "linear", 0.5, 0.5),
    ("radius_of_gyration_a", "linear", 1.8, 0.6),
    ("asphericity", "linear", 0.5, 0.5), ("eccentricity", "linear", 0.5, 0.5),
    ("spherocity", "linear", 0.5, 0.5), ("inertial_shape_factor", "linear", 0.01, 0.01),
    ("molar_mass_g_per_mol", "log1p", 4.5, 1.0), ("volume_a3", "log1p", 4.3, 0.7),
    ("heavy_atoms", "log1p", 1.8, 1.0), ("formal_charge", "linear", 0.0, 1.0),
    ("charge_moment_e_a", "linear", 0.0, 1.0),
    ("partial_charge_min", "linear", 0.0, 0.5), ("partial_charge_max", "linear", 0.0, 0.5),
    *((f"count_{e}", "log1p", 0.0, 2.0) for e in ELEMENT_COUNT_KEYS),
    *((f"pairs_{p}_{c:g}a", "log1p", 0.0, 2.0) for p in _PAIR_TYPES for c in _RBF_CENTRES_A),
)
DESCRIPTOR_NAMES_3D: tuple[str, ...] = tuple(s[0] for s in _DESCRIPTOR_SPEC_3D)
DESCRIPTOR_3D_DIM = len(DESCRIPTOR_NAMES_3D)  # 88

# --- solvent densities --------------------------------------------------------------------------


@dataclass(frozen=True)
class SolventDensity:
    name: str
    smiles: str
    density_g_per_ml: float


# Typical values near 25 C (EC: the liquid just above its 36 C melting point).
DEFAULT_SOLVENT_DENSITIES: tuple[SolventDensity, ...] = (
    SolventDensity("EC", "C1COC(=O)O1", 1.32),
    SolventDensity("DMC", "COC(=O)OC", 1.07),
    SolventDensity("EMC", "CCOC(=O)OC", 1.01),
    SolventDensity("DEC", "CCOC(=O)OCC", 0.975),
    SolventDensity("PC", "CC1COC(=O)O1", 1.20),
    SolventDensity("FEC", "O=C1OCC(F)O1", 1.45),
    SolventDensity("VC", "O=C1OC=CO1", 1.36),
)


def default_cache_dir() -> Path:
    """``$OPERANDO_CACHE`` if set, else ``~/.cache/operando``."""
    env = os.environ.get("OPERANDO_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "operando"


def split_fragments(smiles: str) -> list[str]:
    """The '.'-separated fragments (ions) of a SMILES, stripped, in written order."""
    return [f.strip() for f in smiles.strip().split(".")]


def _rdkit():
    """Import RDKit or raise an :class:`OperandoError` saying how to install it."""
    try:
        from rdkit import Chem, rdBase  # noqa: F401
        from rdkit.Chem import AllChem, Descriptors, rdDistGeom, rdForceFieldHelpers, rdMolDescriptors, rdPartialCharges  # noqa: F401
    except ImportError:
        raise OperandoError(INSTALL_HINT) from None
    import rdkit
    return rdkit


def _quiet():
    """Context that silences RDKit's C++ log (UFF typer warnings and the like)."""
    from rdkit import rdBase
    return rdBase.BlockLogs()


def rdkit_mol(smiles: str, *, field: str | None = None):
    """RDKit molecule of one SMILES; InputError naming the SMILES (and field) if invalid."""
    _rdkit()
    from rdkit import Chem
    with _quiet():
        mol = Chem.MolFromSmiles(smiles) if smiles.strip() else None
    if mol is None or mol.GetNumAtoms() == 0:
        raise InputError(None, f"invalid SMILES {smiles!r}: RDKit cannot read it", field=field)
    return mol


def canonical_smiles(smiles: str, *, field: str | None = None) -> str:
    """RDKit canonical SMILES (needs RDKit)."""
    from rdkit import Chem
    return Chem.MolToSmiles(rdkit_mol(smiles, field=field))


# --- 3D conformer and descriptors -----------------------------------------------------------------


@dataclass
class Conformer3D:
    """One optimised 3D structure: an RDKit molecule with hydrogens and exactly one conformer."""

    smiles: str
    mol: Any
    force_field: str  # "MMFF94" | "UFF" | "none"
    energy_kcal_per_mol: float | None


_OCTAHEDRON = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], float)
_OCTAHEDRON_TRANS = ((0, 1), (2, 3), (4, 5))
_BIPYRAMID = np.array([[0, 0, 1], [0, 0, -1], [1, 0, 0],
                       [-0.5, math.sqrt(3) / 2, 0], [-0.5, -math.sqrt(3) / 2, 0]], float)
_BIPYRAMID_TRANS = ((0, 1),)


def _polyhedron_coord_map(mol) -> dict | None:
    """Ideal octahedron / trigonal bipyramid for the molecule's one hypervalent centre, or None.

    Neighbours sharing a ring with the centre are kept cis (never on a trans pair of vertices),
    so chelates such as oxalato-phosphates stay embeddable.
    """
    from rdkit import Chem
    from rdkit.Geometry import Point3D
    centres = []
    for atom in mol.GetAtoms():
        hyb, degree = atom.GetHybridization(), atom.GetDegree()
        if hyb == Chem.HybridizationType.SP3D2 and degree == 6:
            centres.append((atom, _OCTAHEDRON, _OCTAHEDRON_TRANS))
        elif hyb == Chem.HybridizationType.SP3D and degree == 5:
            centres.append((atom, _BIPYRAMID, _BIPYRAMID_TRANS))
    if len(centres) != 1:  # several polyhedra would need a relative placement we do not know
        return None
    atom, vertices, trans_pairs = centres[0]
    ring_info = mol.GetRingInfo()
    nbrs = [n.GetIdx() for n in atom.GetNeighbors()]
    c = atom.GetIdx()

    def share_ring(a: int, b: int) -> bool:
        return any(c in r and a in r and b in r for r in ring_info.AtomRings())

    periodic = Chem.GetPeriodicTable()
    for perm in itertools.permutations(range(len(nbrs))):
        if any(share_ring(nbrs[perm[i]], nbrs[perm[j]]) for i, j in trans_pairs):
            continue
        coord_map = {c: Point3D(0.0, 0.0, 0.0)}
        for vertex, k in enumerate(perm):
            n = mol.GetAtomWithIdx(nbrs[k])
            bond = (periodic.GetRcovalent(atom.GetAtomicNum()) + periodic.GetRcovalent(n.GetAtomicNum()))
            x, y, z = vertices[vertex] * bond
            coord_map[nbrs[k]] = Point3D(float(x), float(y), float(z))
        return coord_map
    return None


def build_conformer(smiles: str, *, seed: int = CONFORMER_SEED, n_conformers: int = N_CONFORMERS,
                    field: str | None = None) -> Conformer3D:
    """Lowest-energy optimised conformer of one molecule (one fragment; see module doc)."""
    if "." in smiles:
        raise ValueError(f"build_conformer takes one molecule, got fragments in {smiles!r}; "
                         "embed salts ion by ion")
    _rdkit()
    from rdkit import Chem
    from rdkit.Chem import rdDistGeom, rdForceFieldHelpers
    mol = Chem.AddHs(rdkit_mol(smiles, field=field))
    coord_map = _polyhedron_coord_map(mol)
    with _quiet():
        ids: list[int] = []
        for random_coords in (False, True):  # random starting coordinates rescue odd species
            params = rdDistGeom.ETKDGv3()
            params.randomSeed = seed
            params.numThreads = 1
            params.useRandomCoords = random_coords
            if coord_map:
                params.SetCoordMap(coord_map)
            ids = list(rdDistGeom.EmbedMultipleConfs(mol, n_conformers, params))
            if ids:
                break
        if not ids:
            raise OperandoError(f"RDKit could not embed a 3D conformer for SMILES {smiles!r}"
                                + (f" (field '{field}')" if field else ""))
        if rdForceFieldHelpers.MMFFHasAllMoleculeParams(mol):
            results = rdForceFieldHelpers.MMFFOptimizeMoleculeConfs(mol, numThreads=1, maxIters=2000)
            force_field = "MMFF94"
        elif rdForceFieldHelpers.UFFHasAllMoleculeParams(mol):
            results = rdForceFieldHelpers.UFFOptimizeMoleculeConfs(mol, numThreads=1, maxIters=2000)
            force_field = "UFF"
        else:
            results, force_field = [(0, 0.0)] * len(ids), "none"
    energies = [e for _, e in results]
    best = min(range(len(ids)), key=lambda k: (energies[k], k))
    single = Chem.Mol(mol, False, ids[best])
    return Conformer3D(smiles, single, force_field, None if force_field == "none" else float(energies[best]))


def _partial_charges(mol) -> np.ndarray:
    from rdkit.Chem import rdPartialCharges
    work = type(mol)(mol)
    with _quiet():
        rdPartialCharges.ComputeGasteigerCharges(work)
    q = np.array([a.GetDoubleProp("_GasteigerCharge") for a in work.GetAtoms()], float)
    if not np.all(np.isfinite(q)):  # no Gasteiger parameters (e.g. hypervalent P)
        q = np.array([a.GetFormalCharge() for a in mol.GetAtoms()], float)
    return q


def raw_descriptors_3d(conformer: Conformer3D) -> dict[str, float]:
    """The 88 descriptors of :data:`DESCRIPTOR_NAMES_3D`, in physical units, not standardised."""
    from rdkit.Chem import AllChem, Descriptors
    from rdkit.Chem import rdMolDescriptors as D
    mol = conformer.mol
    xyz = np.asarray(mol.GetConformer().GetPositions(), float)  # (n_atoms, 3) [A]
    masses = np.array([a.GetMass() for a in mol.GetAtoms()], float)
    symbols = [a.GetSymbol() for a in mol.GetAtoms()]
    out: dict[str, float] = {}
    if mol.GetNumAtoms() == 1:  # a point: moments zero, ratios of a sphere
        out.update(pmi1=0.0, pmi2=0.0, pmi3=0.0, npr1=1.0, npr2=1.0, radius_of_gyration_a=0.0,
                   asphericity=0.0, eccentricity=0.0, spherocity=1.0, inertial_shape_factor=0.0)
    else:
        out.update(pmi1=D.CalcPMI1(mol, force=True), pmi2=D.CalcPMI2(mol, force=True),
                   pmi3=D.CalcPMI3(mol, force=True), npr1=D.CalcNPR1(mol, force=True),
                   npr2=D.CalcNPR2(mol, force=True),
                   radius_of_gyration_a=D.CalcRadiusOfGyration(mol, force=True),
                   asphericity=D.CalcAsphericity(mol, force=True),
                   eccentricity=D.CalcEccentricity(mol, force=True),
                   spherocity=D.CalcSpherocityIndex(mol, force=True),
                   inertial_shape_factor=D.CalcInertialShapeFactor(mol, force=True))
    q = _partial_charges(mol)
    com = masses @ xyz / masses.sum()
    out["molar_mass_g_per_mol"] = Descriptors.MolWt(mol)
    out["volume_a3"] = AllChem.ComputeMolVolume(mol, gridSpacing=0.2, boxMargin=2.0)
    out["heavy_atoms"] = float(mol.GetNumHeavyAtoms())
    out["formal_charge"] = float(sum(a.GetFormalCharge() for a in mol.GetAtoms()))
    out["charge_moment_e_a"] = float(np.linalg.norm(q @ (xyz - com)))
    out["partial_charge_min"] = float(q.min())
    out["partial_charge_max"] = float(q.max())
    for e in ELEMENT_COUNT_KEYS:
        out[f"count_{e}"] = 0.0
    for s in symbols:
        out[f"count_{s if s in ELEMENT_COUNT_KEYS else 'other'}"] += 1.0
    classes = [s if s in _PAIR_CLASSES else "X" for s in symbols]
    hist = {f"pairs_{p}_{c:g}a": 0.0 for p in _PAIR_TYPES for c in _RBF_CENTRES_A}
    centres, widths = np.array(_RBF_CENTRES_A), np.array(_RBF_WIDTHS_A)
    for i, j in itertools.combinations(range(len(symbols)), 2):
        a, b = sorted((classes[i], classes[j]), key=_PAIR_CLASSES.index)
        d = float(np.linalg.norm(xyz[i] - xyz[j]))
        weights = np.exp(-0.5 * ((d - centres) / widths) ** 2)
        for c, w in zip(_RBF_CENTRES_A, weights):
            hist[f"pairs_{a}{b}_{c:g}a"] += float(w)
    out.update(hist)
    return {name: float(out[name]) for name in DESCRIPTOR_NAMES_3D}


def standardise_descriptors_3d(raw: Mapping[str, float]) -> np.ndarray:
    """Fixed-constant standardisation of :func:`raw_descriptors_3d`, shape (88,)."""
    values = []
    for name, transform, offset, scale in _DESCRIPTOR_SPEC_3D:
        x = raw[name]
        x = math.log1p(max(x, 0.0)) if transform == "log1p" else x
        values.append((x - offset) / scale)
    return np.array(values, float)


# --- the encoder ----------------------------------------------------------------------------------


class MoleculeEncoder:
    """Fixed-length vector for a molecule or a salt (ion by ion); see the module docstring.

    ``kind``: ``"3d"`` (RDKit geometry descriptors, 88-d) or ``"2d"`` (pure-Python
    fingerprint, 140-d); :meth:`from_file` makes a ``"file"`` encoder. ``cache_dir``: where the
    3D cache lives (None: :func:`default_cache_dir`; False: no disk cache).
    """

    def __init__(self, kind: str = "3d", cache_dir: str | Path | None | bool = None):
        if kind not in ("3d", "2d"):
            raise ValueError(f"kind must be '3d' or '2d' (or use MoleculeEncoder.from_file), got {kind!r}")
        self.kind = kind
        self._memory: dict[str, dict] = {}
        self._file_vectors: dict[str, np.ndarray] | None = None
        self._file_path: Path | None = None
        if kind == "3d":
            rdkit = _rdkit()
            self.version = f"3d-v{ENCODER_VERSION}-rdkit{rdkit.__version__}"
            self.dim = DESCRIPTOR_3D_DIM
        else:
            self.version = f"2d-v{ENCODER_VERSION}"
            self.dim = FINGERPRINT_2D_DIM
        if cache_dir is False or kind != "3d":  # 2D vectors cost microseconds: no disk cache
            self.cache_path: Path | None = None
        else:
            base = default_cache_dir() if cache_dir in (None, True) else Path(cache_dir)
            self.cache_path = base / CACHE_FILE_NAME

    def __repr__(self) -> str:
        where = f", file={str(self._file_path)!r}" if self._file_path else ""
        return f"MoleculeEncoder(kind={self.kind!r}, dim={self.dim}{where})"

    # -- user vectors ---------------------------------------------------------------------------
    @classmethod
    def from_file(cls, path: str | Path) -> "MoleculeEncoder":
        """Encoder that looks molecules up in a vector file (e.g. Uni-Mol 512-d embeddings).

        CSV: header ``smiles,v0,v1,...,v{D-1}``, one molecule a line. NPZ: ``smiles`` (n,)
        strings and ``vectors`` (n, D) floats. Molecules are matched by graph identity
        (:func:`~operando.ir.chem.fingerprints.graph_key`), so any SMILES spelling works. A salt
        is looked up whole first, then ion by ion.
        """
        path = Path(path)
        if not path.exists():
            raise InputError(path, "file not found")
        if path.suffix.lower() == ".npz":
            smiles_list, vectors, lines = _read_npz_vectors(path)
        else:
            smiles_list, vectors, lines = _read_csv_vectors(path)
        table: dict[str, np.ndarray] = {}
        for smi, vec, line in zip(smiles_list, vectors, lines):
            key = graph_key(smi, field_name="smiles")  # InputError names the SMILES
            if key in table and not np.array_equal(table[key], vec):
                raise InputError(path, f"molecule {smi!r} appears twice with different vectors", line=line)
            table[key] = vec
        enc = cls.__new__(cls)
        enc.kind, enc.version, enc.dim = "file", f"file:{path.name}", vectors.shape[1]
        enc._memory, enc._file_vectors, enc._file_path, enc.cache_path = {}, table, path, None
        return enc

    # -- encoding -------------------------------------------------------------------------------
    def encode(self, smiles: str, *, field: str | None = None) -> np.ndarray:
        """Vector of one molecule or salt, shape (dim,); salts as the stoichiometry-weighted mean."""
        if not isinstance(smiles, str) or not smiles.strip():
            raise InputError(None, f"invalid SMILES {smiles!r}: empty", field=field)
        if self.kind == "file":
            whole = self._file_lookup(smiles, field, required=False)
            if whole is not None:
                return whole.copy()
        fragments = split_fragments(smiles)
        if any(not f for f in fragments):
            raise InputError(None, f"invalid SMILES {smiles!r}: empty fragment between '.'", field=field)
        vectors = []
        for k, fragment in enumerate(fragments):
            try:
                vectors.append(self._encode_fragment(fragment, field))
            except InputError as e:
                if len(fragments) == 1:
                    raise
                raise InputError(e.path, f"{e.problem} (ion {k + 1} of salt {smiles!r})", line=e.line,
                                 field=e.field) from None
        if len(vectors) == 1:
            return vectors[0].copy()
        # Sorted summation: the salt vector does not depend on the order ions are written in.
        ordered = sorted(vectors, key=lambda v: tuple(v.tolist()))
        total = np.zeros(self.dim)
        for v in ordered:
            total = total + v
        return total / len(vectors)

    def force_field(self, smiles: str) -> str:
        """Force field used for a single-molecule SMILES: "MMFF94", "UFF" or "none" (3D only)."""
        if self.kind != "3d":
            raise OperandoError(f"a {self.kind!r} encoder uses no force field")
        if "." in smiles:
            raise ValueError("force_field takes one molecule (one ion), not a multi-fragment SMILES")
        self._encode_fragment(smiles, None)
        return self._memory[self._cache_key(canonical_smiles(smiles))]["force_field"]

    def _encode_fragment(self, smiles: str, field: str | None) -> np.ndarray:
        if self.kind == "2d":
            return fingerprint_2d(smiles, field_name=field)
        if self.kind == "file":
            return self._file_lookup(smiles, field, required=True)
        key = self._cache_key(canonical_smiles(smiles, field=field))
        if key not in self._memory:
            self._load_cache()
        if key not in self._memory:
            conformer = build_conformer(smiles, field=field)
            vector = standardise_descriptors_3d(raw_descriptors_3d(conformer))
            self._memory[key] = {"vector": vector.tolist(), "force_field": conformer.force_field}
            self._save_cache({key: self._memory[key]})
        return np.array(self._memory[key]["vector"], float)

    def _file_lookup(self, smiles: str, field: str | None, *, required: bool) -> np.ndarray | None:
        assert self._file_vectors is not None
        try:
            key = graph_key(smiles, field_name=field)
        except InputError:
            if required:
                raise
            return None  # e.g. a salt written in a way the whole-string lookup cannot read
        vec = self._file_vectors.get(key)
        if vec is None and required:
            raise InputError(self._file_path, f"no vector for SMILES {smiles!r} in this file", field=field)
        return None if vec is None else vec.copy()

    # -- cache ------------------------------------------------------------------------------------
    def _cache_key(self, canonical: str) -> str:
        return f"{self.version}/{canonical}"

    def _read_cache_file(self) -> dict[str, dict]:
        if self.cache_path is None or not self.cache_path.exists():
            return {}
        try:
            data = json.loads(self.cache_path.read_text(encoding="utf-8"))
            if data.get("format") != _CACHE_FORMAT or not isinstance(data.get("entries"), dict):
                raise ValueError("not an operando embedding cache")
            return data["entries"]
        except (ValueError, OSError, AttributeError) as e:
            # Derived data only: a damaged cache is ignored (and rewritten), never trusted.
            warnings.warn(f"ignoring unreadable embedding cache {self.cache_path}: {e}", stacklevel=3)
            return {}

    def _load_cache(self) -> None:
        for key, entry in self._read_cache_file().items():
            if (key.startswith(self.version + "/") and isinstance(entry, dict)
                    and len(entry.get("vector", ())) == self.dim):
                self._memory.setdefault(key, entry)

    def _save_cache(self, new: dict[str, dict]) -> None:
        if self.cache_path is None:
            return
        entries = self._read_cache_file()  # merge: another process may have added entries
        entries.update(new)
        text = json.dumps({"format": _CACHE_FORMAT, "entries": entries}, indent=1, sort_keys=True)
        try:
            with atomic_path(self.cache_path) as tmp:
                tmp.write_text(text, encoding="utf-8")
        except OSError as e:  # a read-only home must not stop the encoding itself
            warnings.warn(f"could not write embedding cache {self.cache_path}: {e}", stacklevel=3)


def _read_csv_vectors(path: Path) -> tuple[list[str], np.ndarray, list[int]]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise InputError(path, "empty file; expected a header 'smiles,v0,v1,...'", line=1)
    header = [h.strip() for h in rows[0]]
    if len(header) < 2 or header[0].lower() != "smiles" or header[1:] != [f"v{i}" for i in range(len(header) - 1)]:
        raise InputError(path, "expected the header 'smiles,v0,v1,...,v{D-1}'", line=1)
    dim = len(header) - 1
    smiles, vectors, lines = [], [], []
    for n, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != dim + 1:
            raise InputError(path, f"expected {dim + 1} columns, got {len(row)}", line=n)
        try:
            vec = np.array([float(c) for c in row[1:]], float)
        except ValueError:
            raise InputError(path, "vector entries must be numbers", line=n) from None
        if not np.all(np.isfinite(vec)):
            raise InputError(path, "vector entries must be finite", line=n)
        smiles.append(row[0].strip())
        vectors.append(vec)
        lines.append(n)
    if not vectors:
        raise InputError(path, "no molecules after the header", line=2)
    return smiles, np.stack(vectors), lines


def _read_npz_vectors(path: Path) -> tuple[list[str], np.ndarray, list[int | None]]:
    try:
        with np.load(path, allow_pickle=False) as data:
            if "smiles" not in data or "vectors" not in data:
                raise InputError(path, "expected arrays 'smiles' (n,) and 'vectors' (n, D)")
            smiles = [str(s) for s in data["smiles"].tolist()]
            vectors = np.asarray(data["vectors"], float)
    except (ValueError, OSError) as e:
        raise InputError(path, f"cannot read as .npz: {e}") from None
    if vectors.ndim != 2 or vectors.shape[0] != len(smiles) or vectors.shape[0] == 0:
        raise InputError(path, f"'vectors' must be (n, D) with n = {len(smiles)} molecules, "
                         f"got shape {vectors.shape}", field="vectors")
    if not np.all(np.isfinite(vectors)):
        raise InputError(path, "vector entries must be finite", field="vectors")
    return smiles, vectors, [None] * len(smiles)


# --- mixture --------------------------------------------------------------------------------------


def _same_molecule(a: str, b: str) -> bool:
    try:
        return graph_key(a) == graph_key(b)
    except InputError:  # a SMILES the pure-Python reader does not cover: compare as written
        return a.strip() == b.strip()


def solvent_density(component: Component, densities: Mapping[str, float] | None = None,
                    *, field: str | None = None) -> float:
    """Density [g/mL] of a solvent: user table (by name, then SMILES), then the defaults.

    ``densities`` maps a solvent name (case-insensitive) or SMILES to g/mL and extends or
    overrides :data:`DEFAULT_SOLVENT_DENSITIES`.
    """
    for key, value in (densities or {}).items():
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise InputError(None, f"density must be a positive number [g/mL], got {value!r}",
                             field=f"densities[{key!r}]")
    user = dict(densities or {})
    for key, value in user.items():
        if key.casefold() == component.name.casefold():
            return float(value)
    for key, value in user.items():
        if _same_molecule(key, component.smiles):
            return float(value)
    for entry in DEFAULT_SOLVENT_DENSITIES:
        if _same_molecule(entry.smiles, component.smiles):
            return entry.density_g_per_ml
    for entry in DEFAULT_SOLVENT_DENSITIES:
        if entry.name.casefold() == component.name.casefold():
            return entry.density_g_per_ml
    known = ", ".join(e.name for e in DEFAULT_SOLVENT_DENSITIES)
    raise InputError(None, f"no density known for solvent {component.name!r} ({component.smiles}); a "
                     f"weight-basis recipe needs densities to become volume fractions: pass "
                     f"densities={{{component.name!r}: <g/mL>}} or give the fractions by volume "
                     f"(known: {known})", field=field)


def solvent_volume_fractions(electrolyte: Electrolyte, densities: Mapping[str, float] | None = None
                             ) -> np.ndarray:
    """Volume fractions of the solvents, shape (n_solvents,), in the recipe's order, sum 1.

    Weight basis: ``p_i = (w_i / rho_i) / sum_j (w_j / rho_j)``. Volume basis: the fractions
    as given (renormalised). The fractions must be >= 0 and sum to 1 within 1e-3.
    """
    fractions = np.array([s.amount for s in electrolyte.solvents], float)
    if len(fractions) == 0:
        raise InputError(None, "at least one solvent is required", field="electrolyte.solvents")
    if np.any(~np.isfinite(fractions)) or np.any(fractions < 0):
        raise InputError(None, f"solvent fractions must be finite and >= 0, got {fractions.tolist()}",
                         field="electrolyte.solvents")
    if abs(fractions.sum() - 1.0) > FRACTION_TOLERANCE:
        raise InputError(None, f"solvent fractions must sum to 1, they sum to {fractions.sum():g}",
                         field="electrolyte.solvents")
    if electrolyte.fraction_basis == "weight":
        rho = np.array([solvent_density(s, densities, field=f"electrolyte.solvents[{i}]")
                        for i, s in enumerate(electrolyte.solvents)])
        volumes = fractions / rho
    elif electrolyte.fraction_basis == "volume":
        volumes = fractions
    else:
        raise InputError(None, f"expected 'volume' or 'weight', got {electrolyte.fraction_basis!r}",
                         field="electrolyte.fraction_basis")
    return volumes / volumes.sum()


def mixture_dim(encoder: MoleculeEncoder) -> int:
    """Length of :func:`mixture_embedding` for this encoder: 3 * encoder.dim + 2."""
    return 3 * encoder.dim + 2


def _ordered_weighted_sum(weights: list[float], vectors: list[np.ndarray], dim: int) -> np.ndarray:
    """``sum_k weights[k] * vectors[k]`` summed in a fixed order (by vector, then weight)."""
    order = sorted(range(len(vectors)), key=lambda k: (tuple(vectors[k].tolist()), weights[k]))
    total = np.zeros(dim)
    for k in order:
        total = total + weights[k] * vectors[k]
    return total


def mixture_embedding(electrolyte: Electrolyte, encoder: MoleculeEncoder,
                      densities: Mapping[str, float] | None = None) -> np.ndarray:
    """Electrolyte condition vector ``c``, shape (3 * E + 2,) with E = ``encoder.dim``.

    ``c = [e_salt, sum_i p_i e_i, sum_j (w_j/W) e_j, salt molarity [mol/L], W/10]`` (see the
    module docstring); deterministic and independent of the order of solvents and additives.
    """
    e_salt = encoder.encode(electrolyte.salt.smiles, field="electrolyte.salt.smiles")
    p = solvent_volume_fractions(electrolyte, densities)
    solvent_vecs = [encoder.encode(s.smiles, field=f"electrolyte.solvents[{i}].smiles")
                    for i, s in enumerate(electrolyte.solvents)]
    e_solvent = _ordered_weighted_sum(p.tolist(), solvent_vecs, encoder.dim)
    w = [float(a.amount) for a in electrolyte.additives]
    for i, wi in enumerate(w):
        if not (math.isfinite(wi) and wi >= 0):
            raise InputError(None, f"additive weight percent must be >= 0, got {wi!r}",
                             field=f"electrolyte.additives[{i}].weight_percent")
    total = float(sum(sorted(w)))
    additive_vecs = [encoder.encode(a.smiles, field=f"electrolyte.additives[{i}].smiles")
                     for i, a in enumerate(electrolyte.additives)]
    if total > 0:
        e_additive = _ordered_weighted_sum([wi / total for wi in w], additive_vecs, encoder.dim)
    else:
        e_additive = np.zeros(encoder.dim)
    return np.concatenate([e_salt, e_solvent, e_additive, [electrolyte.salt.amount, total / 10.0]])
