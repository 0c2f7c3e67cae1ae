"""X-ray absorption spectroscopy (XAS): local structure from K-edge XANES.

In operando battery work XANES of a transition-metal K edge is recorded while the cell cycles;
the edge position tracks the metal's oxidation state and the near-edge shape its coordination,
so a model that inverts a spectrum into coordination number (CN), second-shell coordination
(CN2), oxygen coordination (OCN) and oxidation state (OS) turns a stack of spectra into a
structural trajectory. This subpackage follows the Spectral Pattern Translator (SPT) of Zhong et
al., "Solving the inverse problem of X-ray absorption spectroscopy via physics-informed deep
learning", arXiv:2603.27684 (2026): one plain function per processing step on numpy arrays
(:mod:`~operando.xas.read`, :mod:`~operando.xas.normalize`, :mod:`~operando.xas.resample`,
:mod:`~operando.xas.align`), structure labels (:mod:`~operando.xas.labels`), the model
(:mod:`~operando.xas.spt`), baselines (:mod:`~operando.xas.baselines`) and the benchmark
(:mod:`~operando.xas.bench`). Normalisation and file reading use xraylarch (import ``larch``).
"""
