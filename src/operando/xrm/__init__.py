"""Operando X-ray spectromicroscopy (XRM) of battery electrodes: state-of-charge maps and what lies behind them.

Following Wada et al. (arXiv 2602.19888), a cross-section of a LiCoO2 composite cathode is imaged
at the Co K edge while it charges; this subpackage turns such image stacks into state-of-charge
(SOC) maps and then into maps of what no spectrum shows: interfacial current, ionic current,
electrolyte potential and effective ionic conductivity. :mod:`~operando.xrm.truth` generates
operando maps with known ground truth from PyBaMM's Doyle-Fuller-Newman model (LiCoO2 | Li-metal
half-cell, Valøen-Reimers electrolyte, a random porosity field, one column per lateral pixel);
:mod:`~operando.xrm.physics` holds the porous-electrode relations and their residuals and the
regime measurement; :mod:`~operando.xrm.render` renders per-pixel Co K-edge spectra from SOC maps;
:mod:`~operando.xrm.soc` infers SOC from spectra (linear-combination fit, edge position, NMF and
the physics-regularised network); :mod:`~operando.xrm.mrf` infers current, potential and
conductivity as the most probable field of a Gaussian Kirchhoff Markov random field with
posterior uncertainty per pixel; :mod:`~operando.xrm.io.xradia` reads Xradia frames (an edge-jump
map, not SOC, from two energies); :mod:`~operando.xrm.bench` runs the study and generates
``docs/xrm/results.md``; the CLI verbs live in :mod:`~operando.xrm.cli`. ``docs/xrm/design.md``
says what was chosen where the paper's abstract is silent.
"""
