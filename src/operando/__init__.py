"""operando: physics-informed machine learning for operando battery spectroscopy.

One package, three techniques, one shared core:

* :mod:`operando.ir` -- infrared: forecast a cell's time-resolved operando IR sequence from one
  static spectrum, its voltage profile and its electrolyte recipe (ABCC, arXiv 2602.18551),
  OpIRBench, SEI pathways by curve resolution. ``operando.ir.load_model`` is its front door.
* :mod:`operando.xas` -- X-ray absorption: local structure and oxidation state from K-edge XANES.
* :mod:`operando.xrm` -- X-ray spectromicroscopy: state-of-charge, current and potential maps.

The shared core: :mod:`operando.nn` (backbones), :mod:`operando.flow` (MeanFlow, flow matching,
physics losses), :mod:`operando.train` (trainer, checkpoints), :mod:`operando.plots`,
:mod:`operando.decompose` (MCR-ALS curve resolution), :mod:`operando.echem` (the cell's
electrochemistry record and time alignment), :mod:`operando.errors`, :mod:`operando.atomic`.
``operando.print_citations()`` lists what to cite.
"""
from operando.citations import CITATIONS, print_citations

__version__ = "0.1.0"
__all__ = ["CITATIONS", "print_citations", "__version__"]
