"""Kirchhoff Markov random field: current, potential and conductivity maps from SOC maps.

Input: SOC maps over time (frame, depth, lateral), the applied current density and the cell
voltage per frame, and the electrode's material description (:class:`ElectrodeModel`: open-circuit
potential, exchange-current constant, capacity, particle size, electrolyte transport). Output,
per pixel and frame interval (between consecutive frames): interfacial current ``j``, ionic
current ``i_e``, electrolyte potential ``phi_e`` (up to a constant per column and interval) and
effective conductivity ``kappa_eff``, each with a posterior standard deviation.

The most probable field under Gaussian likelihoods and Gaussian MRF priors (all solves are linear
least squares; scipy/numpy). Three stages, each exact for its own Gaussian model:

1. **Reaction** ``a j`` (A/m3): charge balance ``a j = Q_v dSOC/dt`` observed with the SOC
   noise, a Gaussian MRF smoothness prior between neighbouring pixels (depth and lateral), and
   Kirchhoff's current law at the separator as a tight constraint, ``-sum(a j dx) = I`` (mean
   over columns). One Hessian for all intervals; its inverse is the posterior covariance.
2. **Ionic current** ``i_e``: Kirchhoff's current law, ``d i_e/dx = a j`` with ``i_e = 0`` at
   the current collector: a linear map of stage 1, so mean and covariance follow exactly.
3. **Potential and conductivity** per column and interval: unknowns ``phi_e`` at pixels and the
   resistivity ``r = 1/kappa_eff`` at the faces between pixels. Symmetric Butler-Volmer gives a
   per-pixel observation ``phi_e = V - U(x_surf) - (2RT/F) asinh(j / 2 j0)``; Kirchhoff's voltage
   law with Ohm's law in the electrolyte links neighbours, ``phi_{k+1} - phi_k = -i_e r dx +
   2 (1 - t+) TDF RT/F d ln c``, which is linear in ``(phi_e, r)`` once ``i_e`` is fixed; a
   smoothness prior on ``r`` along depth and a weak prior around the bulk value close it.
   The salt concentration in the diffusion-potential term and in ``j0`` is a plug-in estimate:
   the salt balance driven by the stage-1 reaction, solved forward with a constant diffusivity
   (:func:`salt_from_reaction`); the surface stoichiometry in ``U`` is the mean one corrected
   by the quasi-steady parabolic profile of a sphere, ``x_surf = x - j R / (5 F D_s c_max)``.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import numpy as np

from operando.errors import InputError
from operando.xrm.physics import F, R, valoen_reimers_diffusivity


@dataclass
class ElectrodeModel:
    """What the MRF knows about the electrode (material properties, not the porosity field)."""

    stoich_discharged: float
    stoich_charged: float
    c_max_mol_m3: float
    particle_radius_m: float
    solid_diffusivity_m2_s: float
    j0_rate_A_m2: float  # j0 = j0_rate * sqrt(c_e * c_s * (c_max - c_s)) [A/m2]
    ocp_stoich: list  # table of the open-circuit potential [V] against stoichiometry
    ocp_V: list
    tdf_c_mol_m3: list  # table of PyBaMM's thermodynamic factor against salt concentration
    tdf: list
    porosity_mean: float
    active_fraction_mean: float
    bruggeman: float
    transference: float
    salt_initial_mol_m3: float
    separator_thickness_m: float
    separator_porosity: float
    separator_bruggeman: float
    temperature_K: float = 298.15

    @property
    def capacity_C_m3(self) -> float:
        return F * self.c_max_mol_m3 * self.active_fraction_mean * (self.stoich_discharged - self.stoich_charged)

    @property
    def area_per_volume_m(self) -> float:
        return 3.0 * self.active_fraction_mean / self.particle_radius_m

    def ocp(self, stoich):
        return np.interp(stoich, self.ocp_stoich, self.ocp_V)

    def thermodynamic_factor(self, c):
        return np.interp(c, self.tdf_c_mol_m3, self.tdf)

    def exchange_current(self, stoich, c_e):
        cs = np.clip(stoich, 1e-3, 1 - 1e-3) * self.c_max_mol_m3
        return self.j0_rate_A_m2 * np.sqrt(np.maximum(c_e, 1.0) * cs * (self.c_max_mol_m3 - cs))

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, where=None) -> "ElectrodeModel":
        try:
            return cls(**json.loads(text))
        except (TypeError, ValueError) as e:
            raise InputError(where, f"bad electrode model: {e}") from e


@dataclass
class MRFConfig:
    """Noise levels and prior strengths of the Kirchhoff MRF (saved with every inference)."""

    soc_sigma: float = 0.005  # per-pixel SOC uncertainty
    reaction_smooth_rel: float = 0.5  # neighbour difference of a j, relative to |I|/L
    current_sigma_rel: float = 1e-3  # Kirchhoff at the separator, relative to |I|
    bv_sigma_V: float = 0.003  # floor of the Butler-Volmer potential observation noise
    ohm_sigma_V: float = 1e-4  # Kirchhoff voltage law / Ohm per face
    resistivity_prior_rel: float = 2.0  # prior std of r around the bulk value, relative
    resistivity_smooth_rel: float = 0.05  # neighbour difference of r along depth, relative to bulk r
    diffusion_potential: bool = True  # include the estimated salt gradient in Ohm's law


@dataclass
class MRFResult:
    times_s: np.ndarray  # interval midpoints
    fields: dict  # name -> (interval, depth, lateral) means
    stds: dict  # name -> posterior std, same shape
    salt_estimate: np.ndarray  # plug-in salt concentration (interval, depth, lateral)


def _check_inputs(soc, times, current, voltage, where):
    soc = np.asarray(soc, float)
    if soc.ndim != 3:
        raise InputError(where, f"SOC maps must be (frame, depth, lateral), got shape {soc.shape}")
    n_f = soc.shape[0]
    if n_f < 2:
        raise InputError(where, "need at least two frames")
    for name, arr in (("times", times), ("current", current), ("voltage", voltage)):
        a = np.asarray(arr, float)
        if a.shape != (n_f,):
            raise InputError(where, f"{name} has {a.size} values but the maps have {n_f} frames", field=name)
        if not np.all(np.isfinite(a)):
            raise InputError(where, "contains NaN or infinite values", field=name)
    if not np.all(np.isfinite(soc)):
        raise InputError(where, "SOC maps contain NaN or infinite values")
    if np.any(np.diff(times) <= 0):
        raise InputError(where, "frame times must increase", field="times")
    return soc


def _grid_laplacian(n_d, n_l):
    import scipy.sparse as sp

    def path(n):
        if n == 1:
            return sp.csr_matrix((1, 1))
        d = sp.diags([np.ones(n - 1)], [1], shape=(n - 1, n)) - sp.eye(n - 1, n)
        return (d.T @ d).tocsr()

    return (sp.kron(path(n_d), sp.eye(n_l)) + sp.kron(sp.eye(n_d), path(n_l))).tocsr()


def kirchhoff_matrix(n_d, dx):
    """Matrix K with i_e = K (a j) for one column: pixel-centre ionic current, zero at the collector."""
    K = np.zeros((n_d, n_d))
    for k in range(n_d):
        K[k, k + 1:] = -dx
        K[k, k] = -0.5 * dx
    return K


def infer_reaction(soc, times, current, dx, capacity_C_m3, cfg: MRFConfig):
    """Stage 1: posterior mean and std of a*j [A/m3] per interval (interval, depth, lateral)."""
    n_f, n_d, n_l = soc.shape
    n = n_d * n_l
    dt = np.diff(times)
    d = capacity_C_m3 * np.diff(soc, axis=0) / dt[:, None, None]  # (interval, depth, lateral)
    I_mid = 0.5 * (current[1:] + current[:-1])
    scale = max(float(np.max(np.abs(I_mid))), 1e-12) / (n_d * dx)  # typical |a j|
    sigma_d = capacity_C_m3 * np.sqrt(2.0) * cfg.soc_sigma / dt  # per interval
    lap = _grid_laplacian(n_d, n_l).toarray()
    w = np.full(n, -dx / n_l)  # mean ionic current at the separator = w . (a j)
    sigma_I = cfg.current_sigma_rel * max(float(np.max(np.abs(I_mid))), 1e-12)
    alpha = 1.0 / (cfg.reaction_smooth_rel * scale) ** 2
    means = np.empty_like(d)
    stds = np.empty_like(d)
    cov_cache: dict[float, np.ndarray] = {}
    covs = []
    for m in range(len(dt)):
        key = float(f"{sigma_d[m]:.6g}")  # equal frame spacing -> one Hessian for every interval
        if key not in cov_cache:
            H = np.eye(n) / sigma_d[m] ** 2 + alpha * lap + np.outer(w, w) / sigma_I ** 2
            cov_cache[key] = np.linalg.inv(H)
        cov = cov_cache[key]
        b = d[m].reshape(n) / sigma_d[m] ** 2 + w * I_mid[m] / sigma_I ** 2
        means[m] = (cov @ b).reshape(n_d, n_l)
        stds[m] = np.sqrt(np.clip(np.diag(cov), 0, None)).reshape(n_d, n_l)
        covs.append(cov)
    return means, stds, covs


def ionic_current(aj_mean, covs, dx):
    """Stage 2: i_e = K a j per column, with the propagated posterior std."""
    m_i, n_d, n_l = aj_mean.shape
    K1 = kirchhoff_matrix(n_d, dx)
    ie = np.einsum("kj,mjl->mkl", K1, aj_mean)
    # full map operator on the (depth, lateral) raveled vector: kron(K1, I_l)
    Kfull = np.kron(K1, np.eye(n_l))
    std = np.empty_like(ie)
    done: dict[int, np.ndarray] = {}
    for m in range(m_i):
        key = id(covs[m])
        if key not in done:
            done[key] = np.sqrt(np.clip(np.sum((Kfull @ covs[m]) * Kfull, axis=1), 0, None))
        std[m] = done[key].reshape(n_d, n_l)
    return ie, std


def salt_from_reaction(aj, dt, dx, em: ElectrodeModel, n_sep: int = 6):
    """Plug-in salt concentration [mol/m3] at interval ends from the reaction map (per column).

    Salt balance ``eps dc/dt = d/dx(D_eff dc/dx) + (1 - t+) a j / F`` in the electrode and
    separator (implicit Euler, finite volumes), the Li-metal reaction removing
    ``(1 - t+) |I| / F`` at the outer separator face, no flux at the current collector;
    constant diffusivity (Valøen-Reimers at the initial concentration), mean porosity.
    Returns (interval, depth, lateral): the concentration at the end of each interval.
    """
    m_i, n_d, n_l = aj.shape
    dxs = em.separator_thickness_m / n_sep
    eps = np.concatenate([np.full(n_sep, em.separator_porosity), np.full(n_d, em.porosity_mean)])
    b = np.concatenate([np.full(n_sep, em.separator_bruggeman), np.full(n_d, em.bruggeman)])
    h = np.concatenate([np.full(n_sep, dxs), np.full(n_d, dx)])
    D0 = float(valoen_reimers_diffusivity(em.salt_initial_mol_m3, em.temperature_K))
    Deff = D0 * eps ** b
    n = n_sep + n_d
    # face conductances between cells i, i+1 (harmonic mean over the two half cells)
    g = 1.0 / (0.5 * h[:-1] / Deff[:-1] + 0.5 * h[1:] / Deff[1:])
    A = np.zeros((n, n))
    for i in range(n - 1):
        A[i, i] -= g[i]
        A[i, i + 1] += g[i]
        A[i + 1, i + 1] -= g[i]
        A[i + 1, i] += g[i]
    c = np.full((n, n_l), em.salt_initial_mol_m3)
    out = np.empty((m_i, n_d, n_l))
    tp = em.transference
    for m in range(m_i):
        src = np.zeros((n, n_l))
        src[n_sep:] = (1 - tp) * aj[m] / F * dx  # mol/m2/s per cell
        src[0] -= (1 - tp) * (aj[m] * dx).sum(axis=0) / F  # Li-metal face: the same salt leaves
        M = np.diag(eps * h / dt[m]) - A
        c = np.linalg.solve(M, (eps * h / dt[m])[:, None] * c + src)
        out[m] = c[n_sep:]
    return np.maximum(out, 1.0)


def infer_potential_conductivity(phi_obs, phi_sigma, i_face, dx, r_bulk, cfg: MRFConfig, diff_face=None):
    """Stage 3 for a batch of columns: Gaussian MRF in (phi_e at pixels, r at inner faces).

    ``phi_obs``, ``phi_sigma``: (B, n) Butler-Volmer observations and their std; ``i_face``: (B, n-1)
    ionic current at the inner faces; ``r_bulk``: prior centre of the resistivity [Ohm m] (scalar or
    (B,)); ``diff_face``: (B, n-1) diffusion-potential drop across each face [V] (or None).
    Returns (phi_mean, phi_std, r_mean, r_std).
    """
    phi_obs = np.asarray(phi_obs, float)
    B, n = phi_obs.shape
    nf = n - 1
    r_bulk = np.broadcast_to(np.asarray(r_bulk, float), (B,))
    diff_face = np.zeros((B, nf)) if diff_face is None else np.asarray(diff_face, float)
    nu = n + nf
    rows = []
    # Butler-Volmer observations of phi
    A_bv = np.zeros((B, n, nu))
    A_bv[:, np.arange(n), np.arange(n)] = 1.0 / phi_sigma
    rows.append((A_bv, phi_obs / phi_sigma))
    # Kirchhoff voltage law + Ohm: phi_{k+1} - phi_k + i_f r_f dx = diff_f
    A_o = np.zeros((B, nf, nu))
    k = np.arange(nf)
    A_o[:, k, k + 1] = 1.0
    A_o[:, k, k] = -1.0
    A_o[:, k, n + k] = i_face * dx
    rows.append((A_o / cfg.ohm_sigma_V, diff_face / cfg.ohm_sigma_V))
    # weak prior on r around the bulk value
    s_p = (cfg.resistivity_prior_rel * r_bulk)[:, None]
    A_p = np.zeros((B, nf, nu))
    A_p[:, k, n + k] = 1.0
    rows.append((A_p / s_p[:, :, None], np.broadcast_to(r_bulk[:, None], (B, nf)) / s_p))
    # smoothness of r along depth
    if nf > 1:
        s_s = (cfg.resistivity_smooth_rel * r_bulk)[:, None, None]
        A_s = np.zeros((B, nf - 1, nu))
        kk = np.arange(nf - 1)
        A_s[:, kk, n + kk + 1] = 1.0
        A_s[:, kk, n + kk] = -1.0
        rows.append((A_s / s_s, np.zeros((B, nf - 1))))
    A = np.concatenate([a for a, _ in rows], axis=1)
    y = np.concatenate([v for _, v in rows], axis=1)
    H = np.matmul(np.swapaxes(A, 1, 2), A)
    g = np.matmul(np.swapaxes(A, 1, 2), y[:, :, None])[:, :, 0]
    cov = np.linalg.inv(H)
    z = np.matmul(cov, g[:, :, None])[:, :, 0]
    sd = np.sqrt(np.clip(np.diagonal(cov, axis1=1, axis2=2), 0, None))
    return z[:, :n], sd[:, :n], z[:, n:], sd[:, n:]


def run_mrf(soc, times, current, voltage, dx, em: ElectrodeModel, cfg: MRFConfig | None = None,
            where=None) -> MRFResult:
    """All three stages. Arrays: ``soc`` (frame, depth, lateral); ``times``, ``current`` [A/m2]
    (PyBaMM sign: charge negative), ``voltage`` [V] per frame."""
    cfg = cfg or MRFConfig()
    soc = _check_inputs(soc, times, current, voltage, where)
    times, current, voltage = (np.asarray(a, float) for a in (times, current, voltage))
    n_f, n_d, n_l = soc.shape
    Q = em.capacity_C_m3
    aj, aj_sd, covs = infer_reaction(soc, times, current, dx, Q, cfg)
    ie, ie_sd = ionic_current(aj, covs, dx)
    a = em.area_per_volume_m
    j, j_sd = aj / a, aj_sd / a
    dt = np.diff(times)
    c_end = salt_from_reaction(aj, dt, dx, em)
    c_start = np.concatenate([np.full((1, n_d, n_l), em.salt_initial_mol_m3), c_end[:-1]])
    c_mid = 0.5 * (c_start + c_end)
    # Butler-Volmer observation of phi_e at interval midpoints
    soc_mid = 0.5 * (soc[1:] + soc[:-1])
    V_mid = 0.5 * (voltage[1:] + voltage[:-1])
    x_mean = em.stoich_discharged - soc_mid * (em.stoich_discharged - em.stoich_charged)
    x_surf = x_mean - j * em.particle_radius_m / (5.0 * F * em.solid_diffusivity_m2_s * em.c_max_mol_m3)
    j0 = em.exchange_current(x_surf, c_mid)
    eta = 2.0 * R * em.temperature_K / F * np.arcsinh(j / (2.0 * j0))
    phi_bv = V_mid[:, None, None] - em.ocp(x_surf) - eta
    # observation noise: SOC uncertainty through the OCP slope, with a floor
    dx_s = 1e-3
    slope = np.abs(em.ocp(x_surf + dx_s) - em.ocp(x_surf - dx_s)) / (2 * dx_s)
    sig_x = cfg.soc_sigma * (em.stoich_discharged - em.stoich_charged)
    phi_sig = np.sqrt(cfg.bv_sigma_V ** 2 + (slope * sig_x) ** 2)
    # faces
    i_face = 0.5 * (ie[:, 1:] + ie[:, :-1])
    if cfg.diffusion_potential:
        c_face = 0.5 * (c_mid[:, 1:] + c_mid[:, :-1])
        diff_face = (2.0 * (1.0 - em.transference) * em.thermodynamic_factor(c_face) * R * em.temperature_K / F
                     * np.diff(np.log(c_mid), axis=1))
    else:
        diff_face = np.zeros_like(i_face)
    from operando.xrm.physics import valoen_reimers_conductivity

    kappa_bulk = valoen_reimers_conductivity(c_mid.mean(axis=1), em.temperature_K) * em.porosity_mean ** em.bruggeman
    r_bulk = 1.0 / kappa_bulk  # (interval, lateral)
    m_i = n_f - 1

    def cols(a):  # (interval, n, lateral) -> (interval*lateral, n)
        return np.moveaxis(a, 2, 1).reshape(m_i * n_l, -1)

    phi, phi_sd, r, r_sd = infer_potential_conductivity(
        cols(phi_bv), cols(phi_sig), cols(i_face), dx, r_bulk.reshape(-1), cfg, cols(diff_face))

    def back(a):
        return np.moveaxis(a.reshape(m_i, n_l, -1), 1, 2)

    phi, phi_sd, r, r_sd = back(phi), back(phi_sd), back(r), back(r_sd)
    # a Gaussian posterior in r can reach zero or below where the current is small; keep the
    # conductivity within 20x of the bulk value there (the posterior std says how little is known)
    r_pos = np.maximum(r, 0.05 * r_bulk[:, None, :])
    kappa_face = 1.0 / r_pos
    # pixel values: mean of the neighbouring faces (the end pixels take their one face)
    def to_pixels(fa):
        out = np.empty((m_i, n_d, n_l))
        out[:, 1:-1] = 0.5 * (fa[:, 1:] + fa[:, :-1])
        out[:, 0] = fa[:, 0]
        out[:, -1] = fa[:, -1]
        return out

    kappa = to_pixels(kappa_face)
    log_kappa_sd = to_pixels(r_sd / r_pos)
    fields = {"Interfacial current density [A.m-2]": j, "Volumetric interfacial current density [A.m-3]": aj,
              "Ionic current density [A.m-2]": ie, "Electrolyte potential [V]": phi,
              "Effective conductivity [S.m-1]": kappa}
    stds = {"Interfacial current density [A.m-2]": j_sd, "Volumetric interfacial current density [A.m-3]": aj_sd,
            "Ionic current density [A.m-2]": ie_sd, "Electrolyte potential [V]": phi_sd,
            "Effective conductivity [S.m-1]": log_kappa_sd * kappa}
    return MRFResult(0.5 * (times[1:] + times[:-1]), fields, stds, c_mid)
