"""SOC maps from per-pixel Co K-edge spectra: baselines and the physics-regularised network.

All methods take an absorption stack ``mu`` (frame, depth, lateral, energy) and return SOC maps
(frame, depth, lateral). Each pixel spectrum is first normalised (pre-edge mean removed, divided
by the edge jump), which removes the thickness.

* :func:`soc_linear_combination`: per-pixel least squares on the two end members plus a constant;
  the delithiated fraction is the spectral coordinate theta, mapped to SOC through the phase
  diagram (:meth:`SpectralModel.soc_from_theta`).
* :func:`soc_edge_position`: energy at half the edge jump, mapped through the noise-free
  calibration curve edge(theta).
* :func:`soc_nmf`: rank-2 non-negative matrix factorisation of all normalised spectra (the
  analysis of Tanimoto et al. 2021), the component closer to the delithiated end member giving theta.
* :func:`soc_prnn`: the physics-regularised network, two parts.

  1. :func:`train_soc_network`: a three-layer network (spectrum -> SOC), trained on spectra
     rendered from the spectral model at random SOC (thickness, jitter and noise at the stack's
     SNR), with its error calibrated on fresh rendered spectra as a function of the predicted SOC
     and the pixel's edge jump (:class:`SOCNetwork`).
  2. :func:`regularise_soc_maps`: the SOC maps (frame, depth, lateral) that best agree with the
     network's per-pixel estimates, weighted by their calibrated errors, under spatial continuity
     (neighbouring pixels in depth and laterally), smooth evolution in time (curvature between
     frames), and conservation of charge against the applied current (a hard constraint per
     frame: the stored charge since frame 0 equals the charge passed). A sparse Gaussian problem
     solved exactly with scipy.

  A network is a function of one pixel's spectrum, so a continuity penalty during training can
  only shrink its output towards a constant; it cannot average neighbours. Applying the penalties
  to the maps themselves is what uses the information of the neighbours and of the current.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from operando.errors import InputError


def normalise(mu, n_pre: int = 4, n_post: int = 12):
    """Per-pixel normalised spectra: (mu - pre-edge mean) / (post-edge mean - pre-edge mean)."""
    mu = np.asarray(mu, float)
    pre = mu[..., :n_pre].mean(axis=-1, keepdims=True)
    post = mu[..., -n_post:].mean(axis=-1, keepdims=True)
    jump = np.where(np.abs(post - pre) < 1e-9, 1e-9, post - pre)
    return (mu - pre) / jump


def _ref_norm(model, n_pre=4, n_post=12):
    lith, dele = model.end_members()
    return normalise(lith, n_pre, n_post), normalise(dele, n_pre, n_post)


def soc_linear_combination(mu, model):
    """Per-pixel linear-combination fit of the two end members (+ a constant)."""
    y = normalise(mu)
    lith, dele = _ref_norm(model)
    A = np.stack([lith, dele, np.ones_like(lith)], axis=1)
    coef, *_ = np.linalg.lstsq(A, y.reshape(-1, y.shape[-1]).T, rcond=None)
    a, b = coef[0], coef[1]
    theta = np.clip(b / np.where(np.abs(a + b) < 1e-9, 1e-9, a + b), 0.0, 1.0)
    return model.soc_from_theta(theta).reshape(y.shape[:-1])


def _edge_energy(norm, energy, level=0.5):
    """First energy where the normalised spectrum reaches ``level`` (linear interpolation)."""
    above = norm >= level
    k = np.argmax(above, axis=-1)
    k = np.clip(k, 1, norm.shape[-1] - 1)
    y1 = np.take_along_axis(norm, k[..., None], -1)[..., 0]
    y0 = np.take_along_axis(norm, (k - 1)[..., None], -1)[..., 0]
    frac = np.clip((level - y0) / np.where(np.abs(y1 - y0) < 1e-12, 1e-12, y1 - y0), 0, 1)
    return energy[k - 1] + frac * (energy[k] - energy[k - 1])


def soc_edge_position(mu, model):
    """Edge position (half jump) mapped to SOC through the noise-free calibration curve."""
    th_grid = np.linspace(0, 1, 201)
    soc_grid = model.soc_from_theta(th_grid)
    # calibrated on the stack's own energy grid and normalisation, so both see the same discretisation
    cal = _edge_energy(normalise(model.spectra(soc_grid)), model.energy)
    order = np.argsort(cal)
    edge = _edge_energy(normalise(mu), model.energy)
    th = np.interp(edge, cal[order], th_grid[order])
    return model.soc_from_theta(th)


def nmf(X, rank=2, n_iter=300, seed=0):
    """Plain multiplicative-update NMF (Lee & Seung): X (n, m) >= 0 ~ H (n, r) W (r, m)."""
    rng = np.random.default_rng(seed)
    n, m = X.shape
    H = rng.uniform(0.1, 1.0, (n, rank))
    W = rng.uniform(0.1, 1.0, (rank, m))
    eps = 1e-12
    for _ in range(n_iter):
        H *= (X @ W.T) / (H @ (W @ W.T) + eps)
        W *= (H.T @ X) / ((H.T @ H) @ W + eps)
    return H, W


def soc_nmf(mu, model, seed=0):
    """Rank-2 NMF of all normalised spectra; the delithiated-like component's share gives theta."""
    y = np.clip(normalise(mu), 0, None)
    X = y.reshape(-1, y.shape[-1])
    H, W = nmf(X, 2, seed=seed)
    lith, dele = _ref_norm(model)
    # which component is the delithiated one: project the components onto the end members
    A = np.stack([lith, dele], axis=1)
    proj, *_ = np.linalg.lstsq(A, W.T, rcond=None)  # (2 end members, 2 components)
    # express the pixel weights in end-member amounts: mixture = H W ~ H proj^T A^T
    amounts = H @ proj.T  # (n, 2): lith, del
    s = amounts.sum(axis=1)
    theta = np.clip(amounts[:, 1] / np.where(np.abs(s) < 1e-12, 1e-12, s), 0, 1)
    return model.soc_from_theta(theta).reshape(y.shape[:-1])


def charged_passed(times, current):
    """Charge passed since the first frame [C/m2] (trapezoid; PyBaMM sign: charge current < 0)."""
    t = np.asarray(times, float)
    i = np.asarray(current, float)
    return np.concatenate([[0.0], np.cumsum(-0.5 * (i[1:] + i[:-1]) * np.diff(t))])


def stored_charge(soc, capacity_C_m3, dx):
    """Charge stored since the first frame [C/m2] per unit cross-section width (mean over columns)."""
    soc = np.asarray(soc)
    per_frame = capacity_C_m3 * dx * soc.sum(axis=-2).mean(axis=-1)
    return per_frame - per_frame[0]


def charge_conservation_penalty(soc, times, current, capacity_C_m3, dx):
    """sum_f (stored_f - passed_f)^2 / sum_f passed_f^2: zero for a map that conserves charge."""
    q = stored_charge(soc, capacity_C_m3, dx)
    p = charged_passed(times, current)
    return float(np.sum((q - p) ** 2) / max(np.sum(p ** 2), 1e-300))


def charge_conservation_error(soc, times, current, capacity_C_m3, dx):
    """|stored - passed| / passed at the last frame (the metric of the issue)."""
    q = stored_charge(soc, capacity_C_m3, dx)
    p = charged_passed(times, current)
    return float(abs(q[-1] - p[-1]) / max(abs(p[-1]), 1e-300))


@dataclass
class SOCPrior:
    """Physics regularisation of SOC maps: prior standard deviations (SOC units) of the differences
    between neighbouring pixels in depth and laterally, and of the second time derivative in SOC per
    (record duration)^2; the second difference between frames is allowed that times (mean frame
    spacing / duration)^2 = 1 / (frames - 1)^2, so the prior means the same whatever the number of frames (5.3 gives 0.01
    per frame at 24 frames). Chosen on a tuning truth that is not a bench condition (1 M, 1.5C,
    porosity seed 1, 24 frames; see docs/xrm/design.md)."""

    depth_step_sd: float = 0.04
    lateral_step_sd: float = 0.05
    time_curvature_sd: float = 5.3

    def per_frame_curvature_sd(self, n_frames: int) -> float:
        """The prior std of the second difference of SOC between consecutive frames of a record of
        ``n_frames`` (mean spacing = duration / (n_frames - 1))."""
        return self.time_curvature_sd / max(n_frames - 1, 1) ** 2


@dataclass
class SOCNetwork:
    """A trained spectrum -> SOC network with its calibrated error.

    ``net`` maps standardised normalised spectra (n, energy) to SOC (n, 1); ``centre``/``spread``
    (energy,) standardise; ``sigma_per_jump`` (bins,) is the RMS error times the pixel's edge jump
    in bins of predicted SOC (``bin_edges`` (bins + 1,)): the error of a pixel is
    ``sigma_per_jump[bin(soc)] / jump``.
    """

    net: object
    centre: np.ndarray
    spread: np.ndarray
    bin_edges: np.ndarray
    sigma_per_jump: np.ndarray

    def predict(self, mu):
        """SOC and its error, each (frame, depth, lateral), from ``mu`` (frame, depth, lateral, energy)."""
        import torch

        mu = np.asarray(mu, float)
        x = torch.tensor((normalise(mu) - self.centre) / self.spread, dtype=torch.float32)
        with torch.no_grad():
            soc = self.net(x.reshape(-1, mu.shape[-1]))[:, 0].double().numpy().reshape(mu.shape[:-1])
        jump = np.median(edge_jump(mu), axis=0)  # thickness is fixed in time: one per pixel
        k = np.clip(np.searchsorted(self.bin_edges, soc) - 1, 0, self.sigma_per_jump.size - 1)
        return soc, self.sigma_per_jump[k] / np.maximum(jump, 1e-3)[None]


def edge_jump(mu, n_pre: int = 4, n_post: int = 12):
    """Post-edge minus pre-edge mean of each spectrum (..., energy) -> (...): the absorber's thickness."""
    mu = np.asarray(mu, float)
    return mu[..., -n_post:].mean(axis=-1) - mu[..., :n_pre].mean(axis=-1)


def _rendered_spectra(model, n, rng, snr, jitter_eV, thickness_sigma, background):
    """(mu (n, energy), soc (n,)): spectra at uniform random SOC, measured like a stack."""
    soc = rng.uniform(0, 1, n)
    n_e = model.energy.size
    spec = np.empty((n, n_e))
    for idx in np.array_split(np.arange(n), max(1, n // 400)):  # a jitter draw per block, as per frame
        spec[idx] = model.spectra(soc[idx], model.energy + rng.uniform(-jitter_eV, jitter_eV, n_e))
    mu = background + np.exp(thickness_sigma * rng.standard_normal((n, 1))) * spec
    if snr:
        n0 = snr ** 2 * np.exp(background + 1.0)
        mu = -np.log(np.maximum(rng.poisson(n0 * np.exp(-mu)), 1) / n0)
    return mu, soc


def train_soc_network(model, *, snr=50.0, jitter_eV=0.2, thickness_sigma=0.25, background=1.0, n_train=8000,
                      n_calibrate=4000, hidden=(64, 32), epochs=1500, batch=1024, lr=3e-3, seed=0) -> SOCNetwork:
    """Train the per-pixel network on rendered spectra and calibrate its error (seeded, CPU, one thread)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small dense layers: one thread is fastest on a shared 2-core machine
    try:
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        kw = dict(snr=snr, jitter_eV=jitter_eV, thickness_sigma=thickness_sigma, background=background)
        mu_tr, soc_tr = _rendered_spectra(model, n_train, rng, **kw)
        n_tr = normalise(mu_tr)
        centre, spread = n_tr.mean(axis=0), n_tr.std(axis=0) + 1e-6
        x_tr = torch.tensor((n_tr - centre) / spread, dtype=torch.float32)
        y_tr = torch.tensor(soc_tr, dtype=torch.float32)
        layers, d_in = [], n_tr.shape[1]
        for h in hidden:
            layers += [torch.nn.Linear(d_in, h), torch.nn.Tanh()]
            d_in = h
        net = torch.nn.Sequential(*layers, torch.nn.Linear(d_in, 1), torch.nn.Sigmoid())
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        gen = torch.Generator().manual_seed(seed)
        for _ in range(epochs):
            opt.zero_grad()
            pick = torch.randint(0, n_train, (min(batch, n_train),), generator=gen)
            loss = torch.mean((net(x_tr[pick])[:, 0] - y_tr[pick]) ** 2)
            loss.backward()
            opt.step()
        # error model on fresh spectra: RMS of (error x edge jump) per bin of predicted SOC
        mu_ca, soc_ca = _rendered_spectra(model, n_calibrate, rng, **kw)
        network = SOCNetwork(net, centre, spread, np.linspace(0, 1, 11), np.ones(10))
        pred, _ = network.predict(mu_ca[:, None, None, :])
        pred, jump = pred[:, 0, 0], edge_jump(mu_ca)
        k = np.clip(np.searchsorted(network.bin_edges, pred) - 1, 0, 9)
        scaled = (pred - soc_ca) * jump
        overall = float(np.sqrt(np.mean(scaled ** 2)))
        network.sigma_per_jump = np.array([float(np.sqrt(np.mean(scaled[k == b] ** 2))) if np.sum(k == b) >= 20
                                           else overall for b in range(10)])
        return network
    finally:
        torch.set_num_threads(threads)


def _difference(n: int, order: int):
    import scipy.sparse as sp

    if order == 1:
        return sp.diags([-np.ones(n - 1), np.ones(n - 1)], [0, 1], shape=(n - 1, n))
    return sp.diags([np.ones(n - 2), -2 * np.ones(n - 2), np.ones(n - 2)], [0, 1, 2], shape=(n - 2, n))


def regularise_soc_maps(soc_hat, sigma, times, current, capacity_C_m3, dx, prior: SOCPrior | None = None):
    """The most probable SOC maps (frame, depth, lateral) given per-pixel estimates ``soc_hat`` with
    errors ``sigma`` (both (frame, depth, lateral)), the prior of :class:`SOCPrior`, and charge
    conservation against the applied ``current`` (frame,) at ``times`` (frame,) as a hard constraint
    (stored charge since frame 0 = charge passed, per frame). Clipped to [0, 1] at the end, the
    charge then restored on the unclipped pixels.

    Gaussian: minimise sum ((s - soc_hat) / sigma)^2 + sum (D s / sd)^2 subject to C s = q, solved
    with conjugate gradients and the Schur complement of the frame constraints.
    """
    import scipy.sparse as sp
    import scipy.sparse.linalg as spl

    prior = prior or SOCPrior()
    soc_hat = np.asarray(soc_hat, float)
    n_f, n_d, n_l = soc_hat.shape
    eye = sp.identity
    terms = []
    if n_f >= 3:
        terms.append(sp.kron(_difference(n_f, 2), eye(n_d * n_l)) / prior.per_frame_curvature_sd(n_f))
    if n_d >= 2:
        terms.append(sp.kron(sp.kron(eye(n_f), _difference(n_d, 1)), eye(n_l)) / prior.depth_step_sd)
    if n_l >= 2:
        terms.append(sp.kron(eye(n_f * n_d), _difference(n_l, 1)) / prior.lateral_step_sd)
    weight = 1.0 / np.maximum(np.broadcast_to(sigma, soc_hat.shape), 1e-6).ravel() ** 2
    system = (sp.diags(weight) + sum(t.T @ t for t in terms)).tocsr()
    # preconditioner: the same system without the spatial couplings (their diagonal kept), which is
    # one banded system in time per pixel: exact and cheap in pixel-major order
    spatial = system - sp.diags(weight) - (terms[0].T @ terms[0] if n_f >= 3 else 0)
    local = (system - spatial + sp.diags(spatial.diagonal())).tocsr()
    order = np.arange(soc_hat.size).reshape(n_f, n_d * n_l).T.ravel()  # pixel-major
    local_lu = spl.splu(local[order][:, order].tocsc(), permc_spec="NATURAL")
    back = np.argsort(order)
    precondition = spl.LinearOperator(system.shape, matvec=lambda r: local_lu.solve(np.ravel(r)[order])[back])

    def solve(b):  # conjugate gradients: the system is SPD; a direct LU of it fills in badly
        x, info = spl.cg(system, b, rtol=1e-8, maxiter=2000, M=precondition)
        if info:
            raise RuntimeError(f"SOC regularisation: conjugate gradients did not converge ({info})")
        return x

    s = solve(weight * soc_hat.ravel())
    if n_f >= 2:
        # stored charge of frame f minus frame 0 (in units of capacity x dx) = charge passed; exact
        # whatever the solver's tolerance, since the correction is solved for in the constraint's own terms
        per_frame = n_d * n_l
        constraint = np.zeros((n_f - 1, soc_hat.size))
        for f in range(1, n_f):
            constraint[f - 1, f * per_frame:(f + 1) * per_frame] = 1.0 / n_l
            constraint[f - 1, :per_frame] -= 1.0 / n_l
        passed = charged_passed(times, current)[1:] / (capacity_C_m3 * dx)
        k_inv_ct = np.column_stack([solve(c) for c in constraint])
        s = s - k_inv_ct @ np.linalg.solve(constraint @ k_inv_ct, constraint @ s - passed)
        return _clip_keeping_charge(s.reshape(soc_hat.shape), passed)
    return np.clip(s.reshape(soc_hat.shape), 0.0, 1.0)


def _clip_keeping_charge(soc, passed, n_iter: int = 50):
    """Clip SOC maps (frame, depth, lateral) to [0, 1] and restore each later frame's charge since
    frame 0 (``passed`` (frame - 1,), in capacity x dx units) by shifting its unclipped pixels."""
    n_l = soc.shape[-1]
    for _ in range(n_iter):
        soc = np.clip(soc, 0.0, 1.0)
        stored = soc.sum(axis=1).mean(axis=-1)
        deficit = stored[0] + passed - stored[1:]
        if np.max(np.abs(deficit)) <= 1e-12 * (1.0 + np.max(np.abs(passed))):
            break
        free = np.where(deficit[:, None, None] > 0, soc[1:] < 1.0, soc[1:] > 0.0)
        n_free = np.maximum(free.sum(axis=(1, 2)), 1) / n_l
        soc[1:] += free * (deficit / n_free)[:, None, None]
    return soc


def soc_prnn(mu, model, times, current, capacity_C_m3, dx, *, snr=50.0, prior: SOCPrior | None = None,
             network: SOCNetwork | None = None, return_network=False, **train_kw):
    """SOC maps (frame, depth, lateral) from ``mu`` (frame, depth, lateral, energy) by the
    physics-regularised network: per-pixel network estimates (``network``, or one trained on spectra
    rendered at ``snr`` with ``train_kw``), then :func:`regularise_soc_maps`."""
    mu = np.asarray(mu, float)
    if mu.ndim != 4:
        raise InputError(None, f"spectra must be (frame, depth, lateral, energy), got {mu.shape}")
    if network is None:
        network = train_soc_network(model, snr=snr, **train_kw)
    soc_hat, sigma = network.predict(mu)
    out = regularise_soc_maps(soc_hat, sigma, times, current, capacity_C_m3, dx, prior)
    return (out, network) if return_network else out
