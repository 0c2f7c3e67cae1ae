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
* :func:`soc_prnn`: a three-layer network (spectrum -> SOC), trained on spectra rendered from the
  spectral model at random SOC (with thickness, jitter and noise at the stack's SNR), and
  regularised on the stack itself by spatial continuity of SOC and by conservation of charge
  against the applied current (:func:`charge_conservation_penalty`), both evaluated on frame 0 and
  a few random whole frames per step. Input channels are standardised with the training
  statistics. A short seeded torch loop lives here (the project trainer is not used: the
  penalties need whole frames). Defaults (1500 Adam steps, weights 10 and 10) were chosen on the
  2 M / 2C condition at SNR 50 (seed 0) among five settings.
"""
from __future__ import annotations

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


def soc_prnn(mu, model, times, current, capacity_C_m3, dx, *, snr=50.0, jitter_eV=0.2, thickness_sigma=0.25,
             background=1.0, n_train=8000, hidden=(64, 32), epochs=1500, lam_smooth=10.0, lam_charge=10.0,
             batch=1024, frames_per_step=4, seed=0, return_net=False):
    """The physics-regularised network. Returns SOC maps (and the net with ``return_net``)."""
    import torch

    mu = np.asarray(mu, float)
    if mu.ndim != 4:
        raise InputError(None, f"spectra must be (frame, depth, lateral, energy), got {mu.shape}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small dense layers: one thread is fastest on a shared 2-core machine
    try:
        return _prnn(torch, mu, model, times, current, capacity_C_m3, dx, snr, jitter_eV, thickness_sigma,
                     background, n_train, hidden, epochs, lam_smooth, lam_charge, batch, frames_per_step, seed,
                     return_net)
    finally:
        torch.set_num_threads(threads)


def _prnn(torch, mu, model, times, current, capacity_C_m3, dx, snr, jitter_eV, thickness_sigma, background,
          n_train, hidden, epochs, lam_smooth, lam_charge, batch, frames_per_step, seed, return_net):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    n_f, n_d, n_l, n_e = mu.shape
    # training spectra rendered from the model at random SOC, measured like the stack
    soc_tr = rng.uniform(0, 1, n_train)
    spec = np.empty((n_train, n_e))
    chunks = np.array_split(np.arange(n_train), 20)
    for idx in chunks:
        e = model.energy + rng.uniform(-jitter_eV, jitter_eV, n_e)
        spec[idx] = model.spectra(soc_tr[idx], e)
    thick = np.exp(thickness_sigma * rng.standard_normal((n_train, 1)))
    m_tr = background + thick * spec
    if snr:
        n0 = snr ** 2 * np.exp(background + 1.0)
        m_tr = -np.log(np.maximum(rng.poisson(n0 * np.exp(-m_tr)), 1) / n0)
    n_tr = normalise(m_tr)
    # standardise each energy channel with the training statistics (conditioning of the fit)
    centre, spread = n_tr.mean(axis=0), n_tr.std(axis=0) + 1e-6
    x_tr = torch.tensor((n_tr - centre) / spread, dtype=torch.float32)
    y_tr = torch.tensor(soc_tr, dtype=torch.float32)
    x_map = torch.tensor((normalise(mu) - centre) / spread, dtype=torch.float32)  # (frame, depth, lateral, energy)
    q_target = torch.tensor(charged_passed(times, current), dtype=torch.float32)
    scale = float(capacity_C_m3 * dx * n_d)  # charge of a full electrode column
    layers, d_in = [], n_e
    for h in hidden:
        layers += [torch.nn.Linear(d_in, h), torch.nn.Tanh()]
        d_in = h
    net = torch.nn.Sequential(*layers, torch.nn.Linear(d_in, 1), torch.nn.Sigmoid())
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(seed)
    for step in range(epochs):
        opt.zero_grad()
        pick = torch.randint(0, n_train, (min(batch, n_train),), generator=gen)
        loss_sup = torch.mean((net(x_tr[pick])[:, 0] - y_tr[pick]) ** 2)
        # physics terms on a few whole frames per step (frame 0 always: charge is counted from it)
        k = min(frames_per_step, n_f - 1)
        frames = torch.cat([torch.zeros(1, dtype=torch.long),
                            1 + torch.randperm(n_f - 1, generator=gen)[:k]])
        s = net(x_map[frames].reshape(-1, n_e))[:, 0].reshape(len(frames), n_d, n_l)
        smooth = torch.mean((s[:, 1:] - s[:, :-1]) ** 2) + (torch.mean((s[:, :, 1:] - s[:, :, :-1]) ** 2)
                                                             if n_l > 1 else 0.0)
        stored = capacity_C_m3 * dx * s.sum(dim=1).mean(dim=1)
        stored = stored[1:] - stored[0]
        charge = torch.mean(((stored - q_target[frames[1:]]) / scale) ** 2)
        loss = loss_sup + lam_smooth * smooth + lam_charge * charge
        loss.backward()
        opt.step()
    with torch.no_grad():
        out = net(x_map.reshape(-1, n_e))[:, 0].reshape(n_f, n_d, n_l).double().numpy()
    return (out, net) if return_net else out
