"""Porous-electrode relations used by the truth generator, the Kirchhoff MRF and the tests.

Grid convention (every map in :mod:`operando.xrm`): arrays are ``(frame, depth, lateral)``;
depth index 0 is the pixel next to the separator, the last depth index touches the current
collector; pixels are finite-volume cells of width ``dx`` [m] centred on PyBaMM's mesh nodes.
Signs follow PyBaMM: charge current is negative, ``d(i_e)/dx = a*j`` with ``x`` running from
the separator to the current collector, and ``i_e = 0`` at the current collector.

Valøen & Reimers, J. Electrochem. Soc. 152, A882 (2005): conductivity and diffusivity of LiPF6
in EC:EMC, written here from the published fit (c in mol/L inside the formula, T in K).
"""
from __future__ import annotations

import numpy as np

F = 96485.33212  # C/mol (Faraday constant)
R = 8.314462618  # J/(mol K)


def valoen_reimers_conductivity(c_mol_m3, T_K=298.15):
    """Electrolyte conductivity [S/m] of LiPF6 at salt concentration ``c`` [mol/m3]."""
    c = np.asarray(c_mol_m3, dtype=float) / 1000.0
    T = np.asarray(T_K, dtype=float)
    inner = ((-10.5 + 0.0740 * T - 6.96e-5 * T ** 2) + c * (0.668 - 0.0178 * T + 2.80e-5 * T ** 2)
             + c ** 2 * (0.494 - 8.86e-4 * T))
    return 0.1 * c * inner ** 2  # mS/cm -> S/m is x0.1


def valoen_reimers_diffusivity(c_mol_m3, T_K=298.15):
    """Salt diffusivity [m2/s] of LiPF6 at salt concentration ``c`` [mol/m3]."""
    c = np.asarray(c_mol_m3, dtype=float) / 1000.0
    T = np.asarray(T_K, dtype=float)
    return 1e-4 * 10.0 ** (-4.43 - 54.0 / (T - 229.0 - 5.0 * c) - 0.22 * c)


def effective_conductivity(c_mol_m3, porosity, bruggeman: float, T_K=298.15):
    """Bruggeman effective conductivity kappa(c) * eps**b [S/m] (tortuosity eps**(1-b))."""
    return valoen_reimers_conductivity(c_mol_m3, T_K) * np.asarray(porosity, float) ** bruggeman


def butler_volmer_current(j0, eta, T_K=298.15):
    """Symmetric Butler-Volmer: j = 2 j0 sinh(F eta / 2RT) [A/m2] (transfer coefficient 1/2)."""
    return 2.0 * np.asarray(j0, float) * np.sinh(F * np.asarray(eta, float) / (2.0 * R * T_K))


def butler_volmer_overpotential(j, j0, T_K=298.15):
    """Inverse of :func:`butler_volmer_current`: eta = (2RT/F) asinh(j / 2 j0) [V]."""
    return 2.0 * R * T_K / F * np.arcsinh(np.asarray(j, float) / (2.0 * np.asarray(j0, float)))


def butler_volmer_residual(j, j0, phi_s, phi_e, ocp, T_K=298.15):
    """Relative residual of symmetric Butler-Volmer, (j - 2 j0 sinh(F(phi_s-phi_e-U)/2RT)) / max|j|."""
    pred = butler_volmer_current(j0, np.asarray(phi_s) - np.asarray(phi_e) - np.asarray(ocp), T_K)
    scale = max(float(np.max(np.abs(j))), 1e-30)
    return (np.asarray(j, float) - pred) / scale


def ionic_current_from_reaction(aj, dx):
    """Kirchhoff's current law on the pixel grid: ionic current density at the pixel centres [A/m2].

    Finite-volume balance ``i(k+1/2) - i(k-1/2) = a j_k dx`` with ``i = 0`` at the current
    collector (last depth index), evaluated at the centres as the mean of the two faces.
    ``aj``: volumetric interfacial current [A/m3], depth on axis -2.
    """
    aj = np.asarray(aj, float)
    flux = aj * dx
    # sum over pixels deeper than k (towards the current collector)
    deeper = np.flip(np.cumsum(np.flip(flux, axis=-2), axis=-2), axis=-2) - flux
    return -(deeper + 0.5 * flux)


def kirchhoff_residual(i_e, aj, dx, applied_current_density):
    """Kirchhoff's current law residuals, relative to the applied current density.

    Returns ``(interior, boundary)``: ``interior`` compares the ionic current at each pixel with
    the reaction collected between it and the current collector; ``boundary`` compares the total
    reaction of each column (the ionic current entering from the separator) with the applied
    current, per frame and column. ``applied_current_density`` [A/m2]: one value per frame, or
    one per frame and column (columns in parallel each carry their own share).
    """
    i_e = np.asarray(i_e, float)
    aj = np.asarray(aj, float)
    I = np.asarray(applied_current_density, float)
    I = I[:, None, :] if I.ndim == 2 else I.reshape(-1, *([1] * (aj.ndim - 1)))
    scale = max(float(np.max(np.abs(I))), 1e-30)
    interior = (i_e - ionic_current_from_reaction(aj, dx)) / scale
    total = -np.sum(aj * dx, axis=-2, keepdims=True)  # ionic current at the separator face
    boundary = (total - I) / scale
    return interior, boundary


def ohm_residual(i_e, phi_e, kappa_eff, dx, c_e=None, transference=0.38, thermodynamic_factor=1.0,
                 T_K=298.15):
    """Relative residual of Ohm's law in the electrolyte at interior pixel faces.

    ``i_e = -kappa_eff * (d phi_e/dx - 2 (1 - t+) (1 + dlnf/dlnc) RT/F d ln c/dx)``; the
    concentration (diffusion-potential) term is included when ``c_e`` is given. Face values are
    means of the neighbouring pixels, gradients are differences of neighbours.
    """
    i_e, phi_e, kappa_eff = (np.asarray(a, float) for a in (i_e, phi_e, kappa_eff))

    def face(a):
        return 0.5 * (a[..., 1:, :] + a[..., :-1, :])

    def grad(a):
        return (a[..., 1:, :] - a[..., :-1, :]) / dx

    drive = grad(phi_e)
    if c_e is not None:
        tf = np.asarray(thermodynamic_factor, float)
        tf_face = face(tf) if tf.ndim == phi_e.ndim else tf
        drive = drive - 2.0 * (1.0 - transference) * tf_face * R * T_K / F * grad(np.log(c_e))
    pred = -face(kappa_eff) * drive
    scale = max(float(np.max(np.abs(i_e))), 1e-30)
    return (face(i_e) - pred) / scale


def reaction_peak_depth(aj):
    """Depth (fraction of the thickness, 0 = separator side) of the lateral-mean |a j| peak, per frame."""
    prof = np.abs(np.asarray(aj, float)).mean(axis=-1)  # (frame, depth)
    n = prof.shape[-1]
    return (np.argmax(prof, axis=-1) + 0.5) / n


def soc_front_depth(soc, level=0.5):
    """Per frame and column: depth [pixels, from the separator side] where SOC first drops below ``level``.

    Linear interpolation between pixel centres; 0 when the column is already below ``level`` at
    the separator, the full depth when it never drops below.
    """
    soc = np.asarray(soc, float)
    n_f, n_d, n_l = soc.shape
    out = np.full((n_f, n_l), float(n_d))
    for f in range(n_f):
        for c in range(n_l):
            s = soc[f, :, c]
            below = np.nonzero(s < level)[0]
            if below.size == 0:
                continue
            k = int(below[0])
            if k == 0:
                out[f, c] = 0.0
                continue
            s0, s1 = s[k - 1], s[k]
            out[f, c] = (k - 1) + (s0 - level) / (s0 - s1) + 0.5
    return out


def reaction_front_depth(soc):
    """Per interval between frames: the depth [pixels from the separator side, pixel centres at
    k + 0.5] of the centroid of the reaction, i.e. of the SOC gained in that interval
    (lateral mean, gains only), from ``soc`` (frame, depth, lateral); shape (frame - 1,).

    Where the reaction is, rather than where SOC crosses a level: a shallow SOC profile makes a
    level crossing move by many pixels for a small SOC error, the centroid does not.
    """
    soc = np.asarray(soc, float)
    gain = np.clip(np.diff(soc, axis=0), 0.0, None).mean(axis=-1)  # (interval, depth)
    depth = np.arange(soc.shape[1]) + 0.5
    return (gain * depth).sum(axis=1) / np.maximum(gain.sum(axis=1), 1e-300)


def measure_regime(soc, aj):
    """Which regime a charge produced, measured from the maps (nothing built in).

    Numbers behind the call: ``soc_spread_mid`` (separator-side quarter minus collector-side
    quarter of the mean SOC, in the frame whose mean SOC is nearest the half of its final value),
    ``soc_end_separator`` / ``soc_end_collector`` (the two quarters in the last frame),
    ``front_depth_mid`` (mean depth, fraction of the thickness, where SOC first falls below the
    half of its final mean value, in that frame), ``peak_depth_early`` / ``peak_depth_late``
    (|a j| peak depth averaged over the first / last third of the frames). The call:
    ``"uniform"`` if the mid-charge spread is below 0.15; ``"pinned at separator side"`` if the
    collector-side quarter ends below half the separator-side quarter's SOC; otherwise
    ``"front moving inward"``.
    """
    soc = np.asarray(soc, float)
    n_f, n_d, _ = soc.shape
    mean_soc = soc.mean(axis=(1, 2))
    half = 0.5 * mean_soc[-1]
    mid = int(np.argmin(np.abs(mean_soc - half)))
    q = max(1, n_d // 4)

    def quarters(frame):
        prof = soc[frame].mean(axis=-1)
        return float(prof[:q].mean()), float(prof[-q:].mean())

    s_sep, s_cc = quarters(mid)
    e_sep, e_cc = quarters(n_f - 1)
    spread = s_sep - s_cc
    front = float(np.mean(soc_front_depth(soc[mid:mid + 1], level=half))) / n_d
    peak = reaction_peak_depth(aj)
    third = max(1, n_f // 3)
    if abs(spread) < 0.15:
        regime = "uniform"
    elif e_cc < 0.5 * e_sep:
        regime = "pinned at separator side"
    else:
        regime = "front moving inward"
    return {"regime": regime, "soc_spread_mid": spread, "soc_end_separator": e_sep,
            "soc_end_collector": e_cc, "front_depth_mid": front,
            "peak_depth_early": float(peak[1:third + 1].mean()), "peak_depth_late": float(peak[-third:].mean()),
            "mean_soc_end": float(mean_soc[-1])}
