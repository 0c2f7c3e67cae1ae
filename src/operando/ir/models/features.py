"""Model inputs derived from a cell's record: causal voltage-history features and a fixed
composition/electrode embedding.

Every learned forecaster in the project (baselines and ABCC) conditions on the same features,
so that differences between models come from the models, not from what they were shown.

* :func:`step_features` (n_spectra, N_STEP_FEATURES): for step m, only data up to m is used
  (the OpIRBench task allows the voltage history up to the query step, not beyond).
* :func:`condition_vector` (N_CONDITION_FEATURES,): salt molarity, solvent volume fractions over a
  fixed vocabulary (weight fractions converted with densities), additive weight percents,
  working-electrode and protocol one-hots. Unknown names fall into an ``other`` slot, with a
  warning (once per name): a model cannot tell two unknown electrodes or solvents apart.

Working electrodes are written as scientists write them ("Cu-PVDF", "Cu foil", "LTO/SuperP
90/10", "graphite (SLP30)"): :func:`active_material` reads the first active material the name
names (:data:`ELECTRODE_NAMES`; binders, conductive carbons, ratios and product codes other
than those listed are skipped) and the cell embedding encodes that (docs/ir/data.md).
"""
from __future__ import annotations

import re
import warnings

import numpy as np

from operando.ir.data.experiment import Electrolyte, Experiment, ExperimentMeta

# Densities at 25 C [g/mL], to turn weight fractions into volume fractions.
# EC 1.32 (solid, molten ~1.32), DMC 1.07, EMC 1.01, DEC 0.975, PC 1.20, FEC 1.45 (supplier data).
SOLVENT_DENSITY_G_ML = {"EC": 1.32, "DMC": 1.07, "EMC": 1.01, "DEC": 0.975, "PC": 1.20, "FEC": 1.45}
SOLVENT_VOCAB = ("EC", "DMC", "EMC", "DEC", "PC", "FEC", "other")
ADDITIVE_VOCAB = ("VC", "FEC", "other")
ELECTRODE_VOCAB = ("Cu", "LTO", "Sn", "CoO", "graphite", "Si", "Li", "other")
PROTOCOL_VOCAB = ("galvanostatic", "intermittent", "other")
# The words (or phrases) that name each active material of ELECTRODE_VOCAB, lower case. A name is
# cut into words at spaces and - / , ; : + | ( ) [ ] @ &; the first word or phrase found here
# decides. Product codes of commercial graphites (SLP30, SFG6, KS6: Timcal/Imerys; MCMB: mesocarbon
# microbeads) name graphite. Binders (PVDF, CMC, ...), conductive carbons (Super P, C65, ...),
# current-collector words (foil, mesh) and ratios (90/10, 80 wt%) name nothing and are skipped.
ELECTRODE_NAMES = {
    "Cu": ("cu", "copper"),
    "LTO": ("lto", "li4ti5o12", "lithium titanate", "lithium titanium oxide"),
    "Sn": ("sn", "tin"),
    "CoO": ("coo", "cobalt oxide", "cobalt ii oxide", "cobalt monoxide"),
    "graphite": ("graphite", "slp30", "slp 30", "sfg6", "sfg 6", "ks6", "ks 6", "mcmb", "hopg"),
    "Si": ("si", "silicon"),
    "Li": ("li", "lithium", "lithium metal"),
}
_NAME_SEPARATORS = re.compile(r"[\s\-/,;:+|()\[\]@&]+")
_PHRASES = {tuple(_NAME_SEPARATORS.split(phrase)): material
            for material, phrases in ELECTRODE_NAMES.items() for phrase in phrases}
_LONGEST_PHRASE = max(len(words) for words in _PHRASES)


def active_material(name: str) -> str | None:
    """The active material of ELECTRODE_VOCAB a working-electrode name names, or None.

    ``"Cu-PVDF"``, ``"Cu foil"`` -> ``"Cu"``; ``"LTO/SuperP 90/10"`` -> ``"LTO"``;
    ``"graphite (SLP30)"`` -> ``"graphite"``; ``"Si/graphite"`` -> ``"Si"`` (the first one
    named); ``"NMC811"``, ``"SnO2"`` -> None (not in the vocabulary: no guessing beyond it).
    """
    words = [w for w in _NAME_SEPARATORS.split(str(name).strip().lower()) if w]
    for start in range(len(words)):
        for length in range(min(_LONGEST_PHRASE, len(words) - start), 0, -1):
            material = _PHRASES.get(tuple(words[start:start + length]))
            if material is not None:
                return material
    return None
DEFAULT_DENSITY_G_ML = 1.1

STEP_FEATURE_NAMES = (
    "Voltage [V]", "Time [h]", "Net charge [mAh]", "Charge throughput [mAh]", "Current [mA]",
    "Lowest voltage so far [V]", "Resting", "Time since current switch [h]",
    "Time below 1.5 V [h]", "Time below 0.8 V [h]", "Time below 0.3 V [h]", "Voltage step [V]",
)
N_STEP_FEATURES = len(STEP_FEATURE_NAMES)
N_CONDITION_FEATURES = 1 + len(SOLVENT_VOCAB) + len(ADDITIVE_VOCAB) + len(ELECTRODE_VOCAB) + len(PROTOCOL_VOCAB)


_WARNED_UNKNOWN: set[tuple[str, str]] = set()


def _slot(name: str, vocab: tuple[str, ...], kind: str) -> int:
    key = name.strip().lower()
    for i, v in enumerate(vocab):
        if key == v.lower() or key.startswith(v.lower() + "/") or key.startswith(v.lower() + " "):
            return i
    if (kind, key) not in _WARNED_UNKNOWN:
        _WARNED_UNKNOWN.add((kind, key))
        how = (" (a working electrode is read by its first active material, e.g. 'Cu-PVDF' as Cu; names "
               "in docs/ir/data.md)" if vocab is ELECTRODE_VOCAB else "")
        warnings.warn(f"{kind} {name!r} is not in the cell embedding's vocabulary {vocab[:-1]}{how}; it is "
                      "encoded as 'other', like every other unknown name", UserWarning, stacklevel=3)
    return len(vocab) - 1


def electrode_slot(name: str) -> int:
    """Index in ELECTRODE_VOCAB of a working-electrode name (:func:`active_material`); the
    ``other`` slot, with a warning once per name, when it names no known active material."""
    material = active_material(name)
    if material is not None:
        return ELECTRODE_VOCAB.index(material)
    return _slot(name, ELECTRODE_VOCAB, "working electrode")


def volume_fractions(electrolyte: Electrolyte) -> dict[str, float]:
    """Solvent volume fractions (sum 1); weight fractions are converted with densities."""
    amounts = {}
    for s in electrolyte.solvents:
        v = s.amount
        if electrolyte.fraction_basis == "weight":
            v = v / SOLVENT_DENSITY_G_ML.get(s.name.upper(), DEFAULT_DENSITY_G_ML)
        amounts[s.name] = amounts.get(s.name, 0.0) + v
    total = sum(amounts.values())
    return {k: v / total for k, v in amounts.items()}


def condition_vector(meta: ExperimentMeta) -> np.ndarray:
    """Fixed embedding of the cell: (N_CONDITION_FEATURES,) float64."""
    el = meta.electrolyte
    solvents = np.zeros(len(SOLVENT_VOCAB))
    for name, frac in volume_fractions(el).items():
        solvents[_slot(name, SOLVENT_VOCAB, 'solvent')] += frac
    additives = np.zeros(len(ADDITIVE_VOCAB))
    for a in el.additives:
        additives[_slot(a.name, ADDITIVE_VOCAB, 'additive')] += a.amount
    electrode = np.zeros(len(ELECTRODE_VOCAB))
    electrode[electrode_slot(meta.working_electrode)] = 1.0
    protocol = np.zeros(len(PROTOCOL_VOCAB))
    protocol[_slot(meta.protocol, PROTOCOL_VOCAB, 'protocol')] = 1.0
    return np.concatenate([[el.salt.amount], solvents, additives, electrode, protocol])


def step_features(e: Experiment) -> np.ndarray:
    """Causal voltage-history features of every step: (n_spectra, N_STEP_FEATURES) float64.

    Charge is the running trapezoidal integral of the current (zero when no current was
    logged); "resting" means |I| below 1 % of the largest |I| of the cell.
    """
    t_s = np.asarray(e.time_s, dtype=np.float64)
    v = np.asarray(e.voltage_v, dtype=np.float64)
    n = len(t_s)
    i_ma = np.zeros(n) if e.current_ma is None else np.nan_to_num(np.asarray(e.current_ma, dtype=np.float64))
    t_h = (t_s - t_s[0]) / 3600.0
    dt_h = np.diff(t_h, prepend=t_h[0])
    mid_i = np.concatenate([[0.0], 0.5 * (i_ma[1:] + i_ma[:-1])])
    net = np.cumsum(mid_i * dt_h)
    throughput = np.cumsum(np.abs(mid_i) * dt_h)
    scale = np.max(np.abs(i_ma)) if np.any(i_ma) else 1.0
    resting = (np.abs(i_ma) < 0.01 * scale).astype(np.float64)
    switch = np.zeros(n)
    last = t_h[0]
    for k in range(1, n):
        if resting[k] != resting[k - 1]:
            last = t_h[k]
        switch[k] = t_h[k] - last
    mid_v = np.concatenate([[v[0]], 0.5 * (v[1:] + v[:-1])])
    below = [np.cumsum((mid_v < level) * dt_h) for level in (1.5, 0.8, 0.3)]
    return np.column_stack([v, t_h, net, throughput, i_ma, np.minimum.accumulate(v), resting, switch,
                            *below, np.diff(v, prepend=v[0])])


class Standardizer:
    """Column-wise z-scoring fitted on training rows.

    Columns that are constant up to rounding (std below 1e-6 of their scale, e.g. PCA
    coordinates beyond the rank of the training set) are left unscaled, so rounding noise is
    never blown up into a feature.
    """

    def fit(self, x: np.ndarray) -> "Standardizer":
        x = np.asarray(x, dtype=np.float64)
        self.mean = x.mean(axis=0)
        std = x.std(axis=0)
        self.std = np.where(std > 1e-6 * np.maximum(1.0, np.abs(self.mean)), std, 1.0)
        return self

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.std
