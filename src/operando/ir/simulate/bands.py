"""IR band library of the simulated species and the instrument's native wavenumber grid.

Every species (bulk electrolyte species and SEI products) is a sum of pseudo-Voigt bands.
:data:`BAND_LIBRARY` maps a component name to its bands, each a :class:`Band`
``(center_cm1, fwhm_cm1, relative_intensity, assignment, reference)``; curve resolution
matches recovered components to it by band position. Positions are literature values
(rounded, typically +-5-10 cm-1 between sources and between ATR and transmission); the
``reference`` field names the source (keys of :data:`REFERENCES`). Widths and relative
intensities are representative values chosen by us to resemble published ATR spectra, not
fitted to any data.

Absorbance per mol/L at a band maximum is ``PEAK_ABSORBANCE_PER_MOLAR[name] * relative``
times the ATR depth factor ``1400 / wavenumber`` (the evanescent-wave penetration depth grows
with wavelength) and the cell's ATR contact gain. For SEI products "mol/L" means moles of
product per litre of the volume the evanescent wave samples (about 1 um above the crystal).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Band(NamedTuple):
    """One IR band: position and full width at half maximum [cm-1], height relative to the
    species' strongest band, vibrational assignment, and the literature key (REFERENCES)."""

    center_cm1: float
    fwhm_cm1: float
    relative_intensity: float
    assignment: str
    reference: str


REFERENCES: dict[str, str] = {
    "seo2015": ("D. M. Seo, S. Reininger, M. Kutcher, K. Redmond, W. B. Euler, B. L. Lucht. Role of mixed "
                "solvation and ion pairing in the solution structure of lithium ion battery electrolytes. "
                "J. Phys. Chem. C 119 (2015) 14038."),
    "fulfer2016": ("K. D. Fulfer, D. G. Kuroda. Solvation structure and dynamics of the lithium ion in organic "
                   "carbonate-based electrolytes: a time-dependent infrared spectroscopy study. "
                   "J. Phys. Chem. C 120 (2016) 24011."),
    "zhuang2005": ("G. V. Zhuang, K. Xu, H. Yang, T. R. Jow, P. N. Ross. Lithium ethylene dicarbonate identified "
                   "as the primary product of chemical and electrochemical reduction of EC in 1.2 M "
                   "LiPF6/EC:EMC electrolyte. J. Phys. Chem. B 109 (2005) 17567."),
    "zhuang2006": ("G. V. Zhuang, H. Yang, P. N. Ross, K. Xu, T. R. Jow. Lithium methyl carbonate as a reaction "
                   "product of metallic lithium and dimethyl carbonate. Electrochem. Solid-State Lett. 9 "
                   "(2006) A64."),
    "aurbach1996": ("D. Aurbach, B. Markovsky, A. Shechter, Y. Ein-Eli, H. Cohen. A comparative study of "
                    "synthetic graphite and Li electrodes in electrolyte solutions based on ethylene "
                    "carbonate-dimethyl carbonate mixtures. J. Electrochem. Soc. 143 (1996) 3809."),
    "zhang2001": ("X. Zhang, R. Kostecki, T. J. Richardson, J. K. Pugh, P. N. Ross. Electrochemical and infrared "
                  "studies of the reduction of organic carbonates. J. Electrochem. Soc. 148 (2001) A1341."),
    "ota2004": ("H. Ota, Y. Sakata, A. Inoue, S. Yamaguchi. Analysis of vinylene carbonate derived SEI layers "
                "on graphite anode. J. Electrochem. Soc. 151 (2004) A1659."),
    "gachot2008": ("G. Gachot, S. Grugeon, M. Armand, S. Pilard, P. Guenot, J.-M. Tarascon, S. Laruelle. "
                   "Deciphering the multi-step degradation mechanisms of carbonate-based electrolyte in Li "
                   "batteries. J. Power Sources 178 (2008) 409."),
    "laruelle2002": ("S. Laruelle, S. Grugeon, P. Poizot, M. Dolle, L. Dupont, J.-M. Tarascon. On the origin of "
                     "the extra electrochemical capacity displayed by MO/Li cells at low potential. "
                     "J. Electrochem. Soc. 149 (2002) A627."),
    "leau2025": ("Tracking solid electrolyte interphase dynamics using operando fibre-optic infra-red "
                 "spectroscopy and multivariate curve regression. Nature Communications 16 (2025)."),
    "abcc2026": ("From Static Spectra to Operando Infrared Dynamics: Physics Informed Flow Modeling and a "
                 "Benchmark. arXiv:2602.18551 (2026)."),
}

# Bands per component. "-Li+" components are solvent molecules in the first solvation shell of
# Li+; their carbonyl stretch is red-shifted and their ring / O-C-O modes blue-shifted with
# respect to the free solvent (seo2015, fulfer2016).
BAND_LIBRARY: dict[str, list[Band]] = {
    "EC": [
        Band(1797.0, 16.0, 0.80, "C=O stretch (Fermi-resonance doublet, free EC)", "seo2015"),
        Band(1773.0, 18.0, 1.00, "C=O stretch (Fermi-resonance doublet, free EC)", "seo2015"),
        Band(1481.0, 10.0, 0.12, "CH2 scissoring", "seo2015"),
        Band(1392.0, 10.0, 0.16, "CH2 wagging", "seo2015"),
        Band(1156.0, 16.0, 0.45, "ring C-O-C asymmetric stretch", "seo2015"),
        Band(1070.0, 14.0, 0.35, "ring C-O / C-C stretch", "seo2015"),
        Band(972.0, 10.0, 0.14, "ring stretch", "seo2015"),
        Band(893.0, 10.0, 0.30, "ring breathing (free EC)", "seo2015"),
        Band(773.0, 10.0, 0.12, "C=O in-plane bend", "seo2015"),
        Band(717.0, 9.0, 0.20, "ring O-C=O bend (free EC)", "seo2015"),
    ],
    "EC-Li+": [
        Band(1785.0, 16.0, 0.35, "C=O stretch, Li+-coordinated EC (Fermi partner)", "seo2015"),
        Band(1758.0, 20.0, 1.00, "C=O stretch, Li+-coordinated EC", "seo2015"),
        Band(1481.0, 10.0, 0.12, "CH2 scissoring", "seo2015"),
        Band(1396.0, 10.0, 0.16, "CH2 wagging", "seo2015"),
        Band(1193.0, 18.0, 0.42, "ring C-O-C asymmetric stretch, Li+-coordinated", "seo2015"),
        Band(1076.0, 14.0, 0.35, "ring C-O / C-C stretch", "seo2015"),
        Band(976.0, 10.0, 0.14, "ring stretch", "seo2015"),
        Band(904.0, 10.0, 0.32, "ring breathing, Li+-coordinated EC", "seo2015"),
        Band(727.0, 9.0, 0.20, "ring O-C=O bend, Li+-coordinated", "seo2015"),
    ],
    "DMC": [
        Band(1752.0, 18.0, 1.00, "C=O stretch (free DMC)", "seo2015"),
        Band(1457.0, 12.0, 0.20, "CH3 asymmetric deformation", "seo2015"),
        Band(1436.0, 10.0, 0.14, "CH3 symmetric deformation", "seo2015"),
        Band(1270.0, 20.0, 0.95, "O-C-O asymmetric stretch (free DMC)", "seo2015"),
        Band(1115.0, 10.0, 0.08, "CH3 rock", "seo2015"),
        Band(975.0, 14.0, 0.20, "O-CH3 stretch", "seo2015"),
        Band(914.0, 10.0, 0.12, "O-C-O skeletal stretch (free DMC)", "seo2015"),
        Band(793.0, 10.0, 0.15, "O-C=O bend", "seo2015"),
    ],
    "DMC-Li+": [
        Band(1722.0, 22.0, 1.00, "C=O stretch, Li+-coordinated DMC", "seo2015"),
        Band(1457.0, 12.0, 0.20, "CH3 asymmetric deformation", "seo2015"),
        Band(1436.0, 10.0, 0.14, "CH3 symmetric deformation", "seo2015"),
        Band(1310.0, 22.0, 0.95, "O-C-O asymmetric stretch, Li+-coordinated DMC", "seo2015"),
        Band(1118.0, 10.0, 0.08, "CH3 rock", "seo2015"),
        Band(982.0, 14.0, 0.20, "O-CH3 stretch", "seo2015"),
        Band(935.0, 10.0, 0.12, "O-C-O skeletal stretch, Li+-coordinated", "seo2015"),
        Band(800.0, 10.0, 0.15, "O-C=O bend", "seo2015"),
    ],
    "EMC": [
        Band(1746.0, 18.0, 1.00, "C=O stretch (free EMC)", "seo2015"),
        Band(1452.0, 12.0, 0.20, "CH3/CH2 deformation", "seo2015"),
        Band(1372.0, 10.0, 0.12, "CH3 (ethyl) symmetric deformation", "seo2015"),
        Band(1266.0, 20.0, 0.95, "O-C-O asymmetric stretch (free EMC)", "seo2015"),
        Band(1016.0, 14.0, 0.20, "ethyl C-O stretch", "seo2015"),
        Band(865.0, 10.0, 0.10, "O-C-O skeletal stretch", "seo2015"),
        Band(791.0, 10.0, 0.15, "O-C=O bend", "seo2015"),
    ],
    "EMC-Li+": [
        Band(1715.0, 22.0, 1.00, "C=O stretch, Li+-coordinated EMC", "seo2015"),
        Band(1452.0, 12.0, 0.20, "CH3/CH2 deformation", "seo2015"),
        Band(1372.0, 10.0, 0.12, "CH3 (ethyl) symmetric deformation", "seo2015"),
        Band(1302.0, 22.0, 0.95, "O-C-O asymmetric stretch, Li+-coordinated EMC", "seo2015"),
        Band(1024.0, 14.0, 0.20, "ethyl C-O stretch", "seo2015"),
        Band(876.0, 10.0, 0.10, "O-C-O skeletal stretch, Li+-coordinated", "seo2015"),
        Band(797.0, 10.0, 0.15, "O-C=O bend", "seo2015"),
    ],
    "VC": [
        Band(1832.0, 16.0, 1.00, "C=O stretch", "zhang2001"),
        Band(1808.0, 14.0, 0.40, "C=O stretch (Fermi resonance)", "zhang2001"),
        Band(1163.0, 14.0, 0.30, "ring C-O-C stretch", "zhang2001"),
        Band(1080.0, 14.0, 0.50, "ring C-O stretch", "zhang2001"),
        Band(902.0, 10.0, 0.12, "ring breathing", "zhang2001"),
        Band(748.0, 10.0, 0.25, "=C-H out-of-plane bend", "zhang2001"),
    ],
    "PF6-": [
        Band(840.0, 28.0, 1.00, "P-F stretch (nu3) of PF6-", "seo2015"),
        Band(877.0, 18.0, 0.12, "P-F stretch of Li+...PF6- contact ion pairs", "seo2015"),
    ],
    "polyVC": [
        Band(1815.0, 30.0, 1.00, "C=O stretch of poly(vinylene carbonate)", "ota2004"),
        Band(1150.0, 40.0, 0.55, "C-O-C stretch of poly(VC) rings", "ota2004"),
        Band(1070.0, 35.0, 0.40, "C-O stretch", "ota2004"),
        Band(770.0, 20.0, 0.18, "ring deformation", "ota2004"),
    ],
    "LEDC": [
        Band(1652.0, 50.0, 1.00, "C=O asymmetric stretch of OCO2Li", "zhuang2005"),
        Band(1405.0, 40.0, 0.55, "CH2 bend / OCO2 symmetric stretch", "zhuang2005"),
        Band(1320.0, 35.0, 0.60, "C=O symmetric stretch of OCO2Li", "zhuang2005"),
        Band(1090.0, 40.0, 0.35, "C-O stretch", "zhuang2005"),
        Band(830.0, 25.0, 0.40, "OCO2 out-of-plane bend", "zhuang2005"),
    ],
    "semicarbonate": [
        Band(1638.0, 45.0, 1.00, "C=O asymmetric stretch of alkyl semicarbonates ROCO2Li", "aurbach1996"),
        Band(1450.0, 30.0, 0.25, "CH2/CH3 deformation", "aurbach1996"),
        Band(1375.0, 35.0, 0.40, "OCO2 symmetric stretch", "aurbach1996"),
        Band(1295.0, 35.0, 0.50, "C-O stretch of ROCO2Li", "aurbach1996"),
        Band(1065.0, 40.0, 0.35, "C-O stretch", "aurbach1996"),
        Band(848.0, 25.0, 0.30, "OCO2 out-of-plane bend", "aurbach1996"),
    ],
    "Li2CO3": [
        Band(1500.0, 60.0, 0.90, "CO3 asymmetric stretch (nu3, split)", "aurbach1996"),
        Band(1435.0, 60.0, 1.00, "CO3 asymmetric stretch (nu3, split)", "aurbach1996"),
        Band(1088.0, 12.0, 0.05, "CO3 symmetric stretch (nu1, weak in IR)", "aurbach1996"),
        Band(866.0, 15.0, 0.35, "CO3 out-of-plane bend (nu2)", "aurbach1996"),
        Band(712.0, 10.0, 0.10, "CO3 in-plane bend (nu4)", "aurbach1996"),
    ],
    "LMC": [
        Band(1662.0, 45.0, 1.00, "C=O asymmetric stretch of CH3OCO2Li", "zhuang2006"),
        Band(1470.0, 25.0, 0.25, "CH3 deformation", "zhuang2006"),
        Band(1355.0, 30.0, 0.70, "OCO2 symmetric stretch / CH3 deformation", "zhuang2006"),
        Band(1090.0, 30.0, 0.35, "C-O stretch", "zhuang2006"),
        Band(825.0, 20.0, 0.35, "OCO2 out-of-plane bend", "zhuang2006"),
    ],
    "DMDOHC": [
        Band(1745.0, 24.0, 1.00, "C=O stretch of the dialkyl carbonate ends", "gachot2008"),
        Band(1450.0, 15.0, 0.25, "CH3/CH2 deformation", "gachot2008"),
        Band(1400.0, 15.0, 0.15, "CH2 wagging", "gachot2008"),
        Band(1262.0, 26.0, 0.85, "O-C-O asymmetric stretch", "gachot2008"),
        Band(1010.0, 18.0, 0.20, "C-O stretch of the ethylene bridge", "gachot2008"),
        Band(790.0, 12.0, 0.15, "O-C=O bend", "gachot2008"),
    ],
    "gel": [
        Band(1460.0, 30.0, 0.30, "CH2 scissoring of oligo(ethylene oxide) chains", "laruelle2002"),
        Band(1350.0, 30.0, 0.25, "CH2 wagging", "laruelle2002"),
        Band(1105.0, 60.0, 1.00, "C-O-C ether stretch of the polymeric gel-like film", "laruelle2002"),
        Band(950.0, 30.0, 0.30, "CH2 rock / C-C stretch", "laruelle2002"),
        Band(845.0, 25.0, 0.20, "CH2 rock", "laruelle2002"),
    ],
}

# Absorbance per mol/L at the strongest band (ATR, ~1 um effective path at 1400 cm-1).
# Chosen so that a 1 M LiPF6 EC:DMC electrolyte has its strongest bands at ~0.5-0.8.
PEAK_ABSORBANCE_PER_MOLAR: dict[str, float] = {
    "EC": 0.085, "EC-Li+": 0.085, "DMC": 0.075, "DMC-Li+": 0.075, "EMC": 0.070, "EMC-Li+": 0.070,
    "VC": 0.10, "PF6-": 0.30,
    "polyVC": 0.18, "LEDC": 0.16, "semicarbonate": 0.15, "Li2CO3": 0.12, "LMC": 0.15, "DMDOHC": 0.13,
    "gel": 0.12,
}

# Lorentzian fraction of the pseudo-Voigt: liquids are close to Lorentzian, the disordered
# solid SEI products have inhomogeneously broadened (more Gaussian) bands.
LORENTZ_FRACTION: dict[str, float] = {name: 0.7 for name in
                                      ("EC", "EC-Li+", "DMC", "DMC-Li+", "EMC", "EMC-Li+", "VC", "PF6-")}
LORENTZ_FRACTION.update({name: 0.35 for name in
                         ("polyVC", "LEDC", "semicarbonate", "Li2CO3", "LMC", "DMDOHC", "gel")})

# Concentration-dependent band shift [cm-1 per mol/L of local salt above the 1 M reference]:
# stronger ion-ion and ion-solvent interaction pulls the coordinated carbonyls further down and
# pushes the PF6- stretch up as contact ion pairs form (seo2015). Not part of the linear model.
SALT_SHIFT_CM1_PER_MOLAR: dict[str, float] = {
    "EC": -0.8, "EC-Li+": -2.5, "DMC": -0.8, "DMC-Li+": -2.5, "EMC": -0.8, "EMC-Li+": -2.5,
    "VC": -0.5, "PF6-": 2.0,
}
REFERENCE_SALT_MOLAR = 1.0  # component spectra are drawn at this local salt concentration

# Native instrument grid: 4 cm-1 resolution with zero-filling factor 2 on a HeNe-referenced
# interferometer gives a point spacing of 15798.0 / 8192 = 1.9285 cm-1; we keep 700-2100 cm-1.
LASER_WAVENUMBER_CM1 = 15798.0
POINT_SPACING_CM1 = LASER_WAVENUMBER_CM1 / 8192
NATIVE_WAVENUMBER_CM1: np.ndarray = POINT_SPACING_CM1 * np.arange(int(np.ceil(700.0 / POINT_SPACING_CM1)),
                                                                   int(np.floor(2100.0 / POINT_SPACING_CM1)) + 1)
NATIVE_WAVENUMBER_CM1.setflags(write=False)
ATR_REFERENCE_CM1 = 1400.0


def pseudo_voigt(wavenumber_cm1: np.ndarray, center_cm1: np.ndarray, fwhm_cm1: np.ndarray,
                 lorentz_fraction: float) -> np.ndarray:
    """Peak-normalised pseudo-Voigt profiles.

    ``wavenumber_cm1`` (w,); ``center_cm1``, ``fwhm_cm1`` (b,) -> (b, w), each row 1 at its centre.
    """
    x = (np.asarray(wavenumber_cm1)[None, :] - np.asarray(center_cm1)[:, None]) / (np.asarray(fwhm_cm1)[:, None] / 2)
    lorentz = 1.0 / (1.0 + x * x)
    gauss = np.exp(-np.log(2.0) * x * x)
    return lorentz_fraction * lorentz + (1.0 - lorentz_fraction) * gauss


def species_spectrum(name: str, wavenumber_cm1: np.ndarray, shift_cm1: float = 0.0) -> np.ndarray:
    """Absorbance of 1 mol/L of ``name`` (before the ATR depth factor): (w,)."""
    bands = BAND_LIBRARY[name]
    centers = np.array([b.center_cm1 for b in bands]) + shift_cm1
    widths = np.array([b.fwhm_cm1 for b in bands])
    heights = np.array([b.relative_intensity for b in bands]) * PEAK_ABSORBANCE_PER_MOLAR[name]
    return heights @ pseudo_voigt(wavenumber_cm1, centers, widths, LORENTZ_FRACTION[name])


def atr_depth_factor(wavenumber_cm1: np.ndarray) -> np.ndarray:
    """Relative ATR penetration depth, proportional to wavelength, 1 at 1400 cm-1: (w,)."""
    return ATR_REFERENCE_CM1 / np.asarray(wavenumber_cm1, dtype=np.float64)


def component_spectra(names: list[str], wavenumber_cm1: np.ndarray, *, shift_cm1: float = 0.0) -> np.ndarray:
    """Unit-concentration ATR spectra of ``names`` (k,) on ``wavenumber_cm1`` (w,) -> (k, w).

    ``shift_cm1`` moves every band of every species by the same amount (used to build the
    shift derivatives of :mod:`operando.ir.simulate.spectra`).
    """
    depth = atr_depth_factor(wavenumber_cm1)
    return np.stack([species_spectrum(n, wavenumber_cm1, shift_cm1) * depth for n in names])
