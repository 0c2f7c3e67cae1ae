"""operando: physics-informed machine learning for operando battery spectroscopy.

Forecasts time-resolved operando IR spectra from one static spectrum, the voltage profile and
the electrolyte recipe (the ABCC method of arXiv 2602.18551), scores models on OpIRBench,
and recovers SEI formation pathways by curve resolution. ``operando.print_citations()``
lists what to cite.
"""
from operando.citations import CITATIONS, print_citations

__version__ = "0.1.0"
__all__ = ["CITATIONS", "Forecast", "load_model", "print_citations", "__version__"]


def __getattr__(name: str):
    # ``operando.load_model`` / ``operando.Forecast`` load numpy only when used, so that
    # ``import operando`` (and ``operando --help``) stays instant.
    if name in ("load_model", "Forecast"):
        from operando import forecast

        return getattr(forecast, name)
    raise AttributeError(f"module 'operando' has no attribute {name!r}")
