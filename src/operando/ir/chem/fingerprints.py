"""2D molecular fingerprints in pure Python (no RDKit needed).

The fallback molecule encoder of :mod:`operando.ir.chem.mixture` (``kind="2d"``) and the SMILES
identity used for density look-ups and user vector files. It always runs in pure Python, also
when RDKit is installed, so a 2D embedding is the same number on every install.

How it works:

1. :func:`parse_smiles` reads a SMILES string into a molecular graph (atoms with element,
   aromaticity, formal charge and hydrogen count; bonds with order). It covers the OpenSMILES
   syntax used for electrolyte species: organic-subset and bracket atoms, charges, explicit
   and implicit hydrogens, branches, ring closures (``1``-``9``, ``%nn``), bond symbols
   ``- = # $ : / \\`` and ``.`` between fragments. Stereo marks (``@``, ``/``, ``\\``) and
   isotopes are read and ignored. Implicit hydrogens of organic-subset atoms follow a
   simplified OpenSMILES valence model (lowest standard valence that fits the bonds; an
   aromatic C/N/P/B counts one extra bond for its share of the pi system).
2. :func:`fingerprint_2d` is an extended-connectivity (ECFP-like, Morgan) count fingerprint:
   every atom gets an initial identifier from (element, aromatic, heavy degree, hydrogens,
   formal charge, ring membership); two rounds of updates hash each identifier with the sorted
   (bond order, neighbour identifier) pairs, so each identifier describes the atom environment
   of radius 0, 1 and 2. Identifiers are hashed (BLAKE2b, stable across runs and platforms)
   into ``N_HASH_BINS`` count bins. The vector is ``log1p(bin counts) / 2`` followed by the
   element counts (``log1p(count) / 2``, elements :data:`ELEMENT_COUNT_KEYS`) and the net
   formal charge: length :data:`FINGERPRINT_2D_DIM` = 128 + 11 + 1 = 140.
3. :func:`graph_key` is a Weisfeiler-Lehman hash of the whole graph, refined until the atom
   partition is stable: two SMILES spellings of one molecule give the same key, so it serves
   as an RDKit-free canonical identity.

Everything depends only on the graph, never on the atom order of the SMILES, so
``"C1COC(=O)O1"`` and ``"O=C1OCCO1"`` give identical vectors.
"""
from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass, field

import numpy as np

from operando.errors import InputError

N_HASH_BINS = 128
FINGERPRINT_RADIUS = 2
# Elements counted explicitly (also by the 3D encoder); everything else goes to "other".
ELEMENT_COUNT_KEYS = ("H", "Li", "B", "C", "N", "O", "F", "P", "S", "Cl", "other")
FINGERPRINT_2D_DIM = N_HASH_BINS + len(ELEMENT_COUNT_KEYS) + 1

_ELEMENTS = frozenset("""
H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr
Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm
Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm Md No
Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og""".split())
_AROMATIC_BRACKET = {"b": "B", "c": "C", "n": "N", "o": "O", "p": "P", "s": "S", "se": "Se", "as": "As"}
_ORGANIC = ("Cl", "Br", "B", "C", "N", "O", "P", "S", "F", "I")  # two-letter symbols first
_AROMATIC_ORGANIC = {"b": "B", "c": "C", "n": "N", "o": "O", "p": "P", "s": "S"}
_DEFAULT_VALENCES = {"B": (3,), "C": (4,), "N": (3, 5), "O": (2,), "P": (3, 5), "S": (2, 4, 6),
                     "F": (1,), "Cl": (1,), "Br": (1,), "I": (1,)}
_BOND_SYMBOLS = {"-": 1.0, "=": 2.0, "#": 3.0, "$": 4.0, ":": 1.5, "/": 1.0, "\\": 1.0}


@dataclass
class Atom:
    element: str
    aromatic: bool = False
    charge: int = 0
    hydrogens: int = 0  # explicit (bracket) or implicit hydrogens attached to this atom
    bracket: bool = False


@dataclass
class MolGraph:
    """A molecule as a graph: ``atoms`` and ``bonds`` as (i, j, order) with i < j."""

    smiles: str
    atoms: list[Atom] = field(default_factory=list)
    bonds: list[tuple[int, int, float]] = field(default_factory=list)

    def neighbours(self) -> list[list[tuple[int, float]]]:
        nb: list[list[tuple[int, float]]] = [[] for _ in self.atoms]
        for i, j, order in self.bonds:
            nb[i].append((j, order))
            nb[j].append((i, order))
        return nb

    @property
    def formal_charge(self) -> int:
        return sum(a.charge for a in self.atoms)

    def element_counts(self) -> dict[str, int]:
        """Counts of :data:`ELEMENT_COUNT_KEYS`, hydrogens included."""
        counts = dict.fromkeys(ELEMENT_COUNT_KEYS, 0)
        for a in self.atoms:
            key = a.element if a.element in counts else "other"
            counts[key] += 1
            counts["H"] += a.hydrogens
        return counts


def _error(smiles: str, problem: str, field_name: str | None) -> InputError:
    return InputError(None, f"invalid SMILES {smiles!r}: {problem}", field=field_name)


def parse_smiles(smiles: str, *, field_name: str | None = None) -> MolGraph:
    """Parse ``smiles`` into a :class:`MolGraph`; raise :class:`InputError` naming it if invalid."""
    if not isinstance(smiles, str) or not smiles.strip():
        raise _error(str(smiles), "empty", field_name)
    s = smiles.strip()
    g = MolGraph(s)
    prev: int | None = None  # atom the next atom bonds to
    pending_bond: float | None = None
    branch_stack: list[int | None] = []
    rings: dict[int, tuple[int, float | None]] = {}
    i = 0

    def add_atom(atom: Atom) -> None:
        nonlocal prev, pending_bond
        g.atoms.append(atom)
        idx = len(g.atoms) - 1
        if prev is not None:
            order = pending_bond if pending_bond is not None else _default_order(g.atoms[prev], atom)
            g.bonds.append((prev, idx, order))
        elif pending_bond is not None:
            raise _error(s, f"bond symbol without a preceding atom at position {i}", field_name)
        prev, pending_bond = idx, None

    while i < len(s):
        ch = s[i]
        if ch == "[":
            end = s.find("]", i)
            if end < 0:
                raise _error(s, f"unclosed '[' at position {i}", field_name)
            add_atom(_parse_bracket(s, s[i + 1:end], i, field_name))
            i = end + 1
        elif ch in "BCNOPSFI" or ch == "*":
            symbol = "*" if ch == "*" else next(e for e in _ORGANIC if s.startswith(e, i))
            add_atom(Atom(symbol))
            i += len(symbol)
        elif ch in _AROMATIC_ORGANIC:
            add_atom(Atom(_AROMATIC_ORGANIC[ch], aromatic=True))
            i += 1
        elif ch in _BOND_SYMBOLS:
            if pending_bond is not None:
                raise _error(s, f"two bond symbols in a row at position {i}", field_name)
            pending_bond = _BOND_SYMBOLS[ch]
            i += 1
        elif ch == "(":
            if prev is None:
                raise _error(s, f"branch '(' without a preceding atom at position {i}", field_name)
            branch_stack.append(prev)
            i += 1
        elif ch == ")":
            if not branch_stack:
                raise _error(s, f"unmatched ')' at position {i}", field_name)
            if pending_bond is not None:
                raise _error(s, f"bond symbol before ')' at position {i}", field_name)
            prev = branch_stack.pop()
            i += 1
        elif ch.isdigit() or ch == "%":
            if ch == "%":
                if not s[i + 1:i + 3].isdigit() or len(s[i + 1:i + 3]) != 2:
                    raise _error(s, f"'%' must be followed by two digits at position {i}", field_name)
                number, i = int(s[i + 1:i + 3]), i + 3
            else:
                number, i = int(ch), i + 1
            if prev is None:
                raise _error(s, f"ring bond {number} without a preceding atom", field_name)
            if number in rings:
                other, other_bond = rings.pop(number)
                if other == prev:
                    raise _error(s, f"ring bond {number} closes on its own atom", field_name)
                if (pending_bond is not None and other_bond is not None
                        and pending_bond != other_bond):
                    raise _error(s, f"ring bond {number} has conflicting bond symbols", field_name)
                order = pending_bond if pending_bond is not None else other_bond
                if order is None:
                    order = _default_order(g.atoms[other], g.atoms[prev])
                a, b = sorted((other, prev))
                if any((x, y) == (a, b) for x, y, _ in g.bonds):
                    raise _error(s, f"ring bond {number} duplicates an existing bond", field_name)
                g.bonds.append((a, b, order))
            else:
                rings[number] = (prev, pending_bond)
            pending_bond = None
        elif ch == ".":
            if prev is None or i == len(s) - 1:
                raise _error(s, f"empty fragment at '.' (position {i})", field_name)
            if branch_stack:
                raise _error(s, f"'.' inside a branch at position {i}", field_name)
            if pending_bond is not None:
                raise _error(s, f"bond symbol before '.' at position {i}", field_name)
            prev = None
            i += 1
        else:
            raise _error(s, f"unexpected character {ch!r} at position {i}", field_name)
    if branch_stack:
        raise _error(s, "unclosed '('", field_name)
    if rings:
        raise _error(s, f"unclosed ring bond(s) {sorted(rings)}", field_name)
    if pending_bond is not None:
        raise _error(s, "ends with a bond symbol", field_name)
    if not g.atoms:
        raise _error(s, "no atoms", field_name)
    _add_implicit_hydrogens(g, field_name)
    return g


@functools.lru_cache(maxsize=4096)
def check_smiles(smiles: str) -> None:
    """Raise :class:`InputError` (naming the SMILES) unless every molecule model can read it.

    The project's parser (:func:`parse_smiles`: syntax, elements, valences) always; RDKit, when
    installed, as well (it also refuses e.g. aromatic rings that cannot be kekulised), because
    the 3D mixture embedding reads the SMILES with it. Valid SMILES are cached.
    """
    parse_smiles(smiles)
    try:
        from rdkit import Chem, rdBase
    except ImportError:
        return
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(smiles)
    if mol is None or mol.GetNumAtoms() == 0:
        raise _error(smiles, "RDKit cannot read it (e.g. an aromatic ring that cannot be kekulised)", None)


def _default_order(a: Atom, b: Atom) -> float:
    return 1.5 if a.aromatic and b.aromatic else 1.0


def _parse_bracket(smiles: str, body: str, position: int, field_name: str | None) -> Atom:
    """Parse the inside of ``[...]``: isotope? symbol chirality? hcount? charge? class?"""
    j = 0
    while j < len(body) and body[j].isdigit():  # isotope: ignored
        j += 1
    rest = body[j:]
    symbol = None
    aromatic = False
    for written in sorted(_AROMATIC_BRACKET, key=len, reverse=True):
        if rest.startswith(written):
            symbol, aromatic, consumed = _AROMATIC_BRACKET[written], True, len(written)
            break
    if symbol is None:
        if len(rest) >= 2 and rest[1].islower() and rest[:2] in _ELEMENTS:
            symbol = rest[:2]
        elif rest[:1] in _ELEMENTS or rest[:1] == "*":
            symbol = rest[:1]
        else:
            raise _error(smiles, f"unknown element in bracket atom [{body}] at position {position}",
                         field_name)
        consumed = len(symbol)
    j += consumed
    while j < len(body) and body[j] == "@":  # chirality: ignored
        j += 1
    if body[j:j + 2] in ("TH", "AL", "SP", "TB", "OH"):
        j += 2
        while j < len(body) and body[j].isdigit():
            j += 1
    hydrogens = 0
    if j < len(body) and body[j] == "H":
        j += 1
        digits = ""
        while j < len(body) and body[j].isdigit():
            digits += body[j]
            j += 1
        hydrogens = int(digits) if digits else 1
    charge = 0
    if j < len(body) and body[j] in "+-":
        sign = 1 if body[j] == "+" else -1
        j += 1
        digits = ""
        while j < len(body) and body[j].isdigit():
            digits += body[j]
            j += 1
        if digits:
            charge = sign * int(digits)
        else:
            charge = sign
            while j < len(body) and body[j] == ("+" if sign > 0 else "-"):
                charge += sign
                j += 1
    if j < len(body) and body[j] == ":":  # atom class: ignored
        j += 1
        if j >= len(body) or not body[j:].isdigit():
            raise _error(smiles, f"bad atom class in [{body}]", field_name)
        j = len(body)
    if j != len(body):
        raise _error(smiles, f"cannot read bracket atom [{body}] at position {position}", field_name)
    return Atom(symbol, aromatic=aromatic, charge=charge, hydrogens=hydrogens, bracket=True)


def _add_implicit_hydrogens(g: MolGraph, field_name: str | None) -> None:
    bond_sum = [0.0] * len(g.atoms)
    n_aromatic = [0] * len(g.atoms)
    for i, j, order in g.bonds:
        for k in (i, j):
            if order == 1.5:
                bond_sum[k] += 1.0
                n_aromatic[k] += 1
            else:
                bond_sum[k] += order
    for k, atom in enumerate(g.atoms):
        if atom.bracket or atom.element == "*":
            continue
        used = bond_sum[k]
        valences = _DEFAULT_VALENCES[atom.element]
        if atom.aromatic:
            if atom.element in ("B", "C", "N", "P") and n_aromatic[k] >= 2:
                used += 1.0  # its share of the pi system (one of the alternating double bonds)
            # Aromatic atoms take the lowest valence only; a ring-fusion atom simply gets no H.
            atom.hydrogens = max(0, int(round(valences[0] - used)))
            continue
        fitting = [v for v in valences if v >= used - 1e-9]
        if not fitting:
            raise _error(g.smiles, f"atom {k + 1} ({atom.element}) has bonds of total order {used:g}, "
                         f"more than its valence {max(valences)} allows", field_name)
        atom.hydrogens = int(round(fitting[0] - used))


def _ring_atoms(g: MolGraph) -> set[int]:
    """Atoms on at least one cycle: endpoints of every bond that is not a bridge (Tarjan)."""
    nb = g.neighbours()
    n = len(g.atoms)
    order = [-1] * n
    low = [0] * n
    bridges: set[tuple[int, int]] = set()
    counter = 0
    for root in range(n):
        if order[root] >= 0:
            continue
        # Iterative DFS: (node, parent, neighbour iterator)
        order[root] = low[root] = counter
        counter += 1
        stack = [(root, -1, iter(nb[root]))]
        while stack:
            node, parent, it = stack[-1]
            advanced = False
            for other, _ in it:
                if other == parent:
                    continue
                if order[other] < 0:
                    order[other] = low[other] = counter
                    counter += 1
                    stack.append((other, node, iter(nb[other])))
                    advanced = True
                    break
                low[node] = min(low[node], order[other])
            if not advanced:
                stack.pop()
                if parent >= 0:
                    low[parent] = min(low[parent], low[node])
                    if low[node] > order[parent]:
                        bridges.add((min(node, parent), max(node, parent)))
    ring = set()
    for i, j, _ in g.bonds:
        if (min(i, j), max(i, j)) not in bridges:
            ring.update((i, j))
    return ring


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def _initial_ids(g: MolGraph) -> list[int]:
    ring = _ring_atoms(g)
    nb = g.neighbours()
    return [_hash(f"{a.element}|{int(a.aromatic)}|{len(nb[k])}|{a.hydrogens}|{a.charge}|{int(k in ring)}")
            for k, a in enumerate(g.atoms)]


def _refine(ids: list[int], nb: list[list[tuple[int, float]]]) -> list[int]:
    """One Morgan / Weisfeiler-Lehman round: hash each id with its sorted (bond, neighbour id)."""
    out = []
    for k in range(len(ids)):
        around = sorted((order, ids[other]) for other, order in nb[k])
        out.append(_hash(f"{ids[k]}|" + ",".join(f"{order}:{other_id}" for order, other_id in around)))
    return out


def environment_ids(g: MolGraph, radius: int = FINGERPRINT_RADIUS) -> list[int]:
    """All atom-environment identifiers of radius 0..``radius`` (one per atom and radius)."""
    nb = g.neighbours()
    ids = _initial_ids(g)
    out = list(ids)
    for _ in range(radius):
        ids = _refine(ids, nb)
        out.extend(ids)
    return out


def graph_key(smiles: str, *, field_name: str | None = None) -> str:
    """Spelling-independent identity of a molecule (Weisfeiler-Lehman hash of its graph), hex."""
    g = parse_smiles(smiles, field_name=field_name)
    nb = g.neighbours()
    ids = _initial_ids(g)
    n_classes = len(set(ids))
    for _ in range(len(ids)):
        new = _refine(ids, nb)
        ids = new
        if len(set(new)) == n_classes:
            break
        n_classes = len(set(new))
    digest = hashlib.blake2b(",".join(str(x) for x in sorted(ids)).encode(), digest_size=16)
    return digest.hexdigest()


def fingerprint_2d(smiles: str, *, field_name: str | None = None) -> np.ndarray:
    """Hashed atom-environment count fingerprint of one molecule, shape (FINGERPRINT_2D_DIM,).

    Works on multi-fragment SMILES too (all fragments as one graph); the mixture encoder
    splits salts into ions before calling it.
    """
    g = parse_smiles(smiles, field_name=field_name)
    bins = np.zeros(N_HASH_BINS)
    for env in environment_ids(g):
        bins[env % N_HASH_BINS] += 1.0
    counts = g.element_counts()
    elements = np.array([math.log1p(counts[k]) / 2.0 for k in ELEMENT_COUNT_KEYS])
    return np.concatenate([np.log1p(bins) / 2.0, elements, [float(g.formal_charge)]])
