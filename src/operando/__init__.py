"""operando: physics-informed machine learning for operando battery spectroscopy.

Forecasts time-resolved operando IR spectra from one static spectrum, the voltage profile and
the electrolyte recipe (the ABCC method of arXiv 2602.18551), scores models on OpIRBench,
and recovers SEI formation pathways by curve resolution. ``operando.print_citations()``
lists what to cite.
"""
from operando.citations import CITATIONS, print_citations

__version__ = "0.1.0"
__all__ = ["CITATIONS", "print_citations", "__version__"]
