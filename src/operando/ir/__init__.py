"""Infrared: forecast the time-resolved operando IR sequence of a cell from one static spectrum,
its voltage profile and its electrolyte recipe (ABCC, arXiv 2602.18551: conditional MeanFlow
with one-step sampling), score forecasters on OpIRBench, and recover SEI formation pathways.

The data path: :mod:`~operando.ir.io` (instrument files) and :mod:`~operando.ir.data`
(experiments, HDF5, preprocessing), or :mod:`~operando.ir.simulate` (OpIRSpec-7K-sim). The
models: :mod:`~operando.ir.models` (baselines, flow forecasters, ABCC), :mod:`~operando.ir.chem`
(mixture embedding), :mod:`~operando.ir.image` (the waveform-image route). The benchmark:
:mod:`~operando.ir.bench`. The user's path: :mod:`~operando.ir.forecast` (``load_model``),
:mod:`~operando.ir.pathways`, :mod:`~operando.ir.report`; the CLI: :mod:`~operando.ir.cli`.
"""

__all__ = ["Forecast", "load_model"]


def __getattr__(name: str):
    # ``operando.ir.load_model`` / ``operando.ir.Forecast`` load numpy only when used, so that
    # ``import operando.ir`` (and ``operando --help``) stays instant.
    if name in ("load_model", "Forecast"):
        from operando.ir import forecast

        return getattr(forecast, name)
    raise AttributeError(f"module 'operando.ir' has no attribute {name!r}")
