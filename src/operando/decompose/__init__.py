"""Curve resolution of operando sequences: MCR-ALS, rank estimate, naming, projection.

``mcr_als`` splits a sequence D (n, w) into component spectra S (K, w) and concentration
profiles C (n, K); ``suggest_n_components`` estimates K from the singular values above the
noise; ``match_components`` / ``match_to_reference`` name the components;
``project_onto_spectra`` is the differentiable (torch) projection onto known spectra used by
the model. :mod:`operando.ir.pathways` resolves SEI formation pathways from measured
and forecast sequences (difference sequence over a signed electrolyte background) and
scores their agreement.
"""
from operando.decompose.matching import (
                                         Match,
                                         find_component_peaks,
                                         match_components,
                                         match_to_reference,
                                         profile_agreement,
)
from operando.decompose.mcr import (
                                         MCRResult,
                                         is_unimodal,
                                         mcr_als,
                                         nnls_gram,
                                         polynomial_baseline,
                                         simplisma_pure_variables,
                                         suggest_n_components,
)
from operando.decompose.projection import project_onto_spectra

__all__ = ["MCRResult", "Match", "find_component_peaks", "is_unimodal", "match_components",
           "match_to_reference", "mcr_als", "nnls_gram", "polynomial_baseline", "profile_agreement",
           "project_onto_spectra", "simplisma_pure_variables", "suggest_n_components"]
