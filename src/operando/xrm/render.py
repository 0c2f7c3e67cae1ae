"""Per-pixel Co K-edge spectra rendered from SOC maps (what an operando micro-XAFS stack would show).

End members (see ``docs/xrm/design.md``):

* lithiated: the Materials Project FEFF spectrum of LiCoO2 (shipped in ``reference/``, from ``shared/data/pymatgen-mp-licoo2-xanes``);
* delithiated (x = ``stoich_charged``): DERIVED, not computed: the LiCoO2 spectrum shifted by
  ``shift_eV`` (+1.5 eV), broadened by a Gaussian of ``broaden_eV`` and with the white line lowered
  by ``white_line_drop`` (10 %), the qualitative changes reported for Co K edges of LiCoO2 on charge
  (a small shift: oxygen-hole character, not a full Co3+ -> Co4+ step). No FEFF job was run.

Composition -> spectrum: a spectral coordinate ``theta`` (0 lithiated, 1 delithiated). Inside the
two-phase window ``[x_beta, x_alpha]`` (Li0.75 - Li0.94) a pixel is a lever-rule mixture of the two
boundary phases, whose spectra differ by only ``theta_beta`` (10 %) of the full change: the window
covers much of the SOC range but barely changes the spectrum, which is where a per-pixel spectrum
cannot pin down the SOC. Outside it (solid solution) the edge moves continuously: the spectrum at
``theta`` is the mixture of the two end members, each shifted towards the other by its share of
the edge shift, so the edge position moves smoothly and a linear fit is only approximately right.

Measurement: per-pixel thickness (edge jump, log-normal, fixed in time) on a flat matrix
background, transmission with Poisson counts set by the SNR (edge jump / noise of mu after the
edge), and an energy jitter uniform in +-``jitter_eV`` per frame and energy point (monochromator).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from operando.errors import InputError

# The Materials Project LiCoO2 spectrum, shipped (reference/SOURCE.md: origin, MIT licence, hash).
DEFAULT_LICOO2 = Path(__file__).resolve().parent / "reference" / "LiCoO2_k_xanes.json"
DEFAULT_LICOO2_SHA256 = "0e0ccb5c030850c320a5b393f2d430e0ef830321672211cfd582b30e1f942ecb"


@dataclass
class RenderConfig:
    e_min_eV: float = 7714.0
    e_max_eV: float = 7766.0
    n_energies: int = 80
    shift_eV: float = 1.5
    broaden_eV: float = 0.8
    white_line_drop: float = 0.10
    x_alpha: float = 0.94  # Li-rich boundary of the two-phase window
    x_beta: float = 0.75  # Li-poor boundary
    theta_beta: float = 0.10  # spectral change across the window (fraction of the total)
    thickness_sigma: float = 0.25  # log-normal std of the edge jump
    background: float = 1.0  # matrix absorption below the edge
    snr: float = 50.0
    jitter_eV: float = 0.2
    seed: int = 0


def load_end_member(path: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(energy [eV], mu) of the computed LiCoO2 spectrum; malformed files raise InputError."""
    path = Path(path) if path is not None else DEFAULT_LICOO2
    try:
        d = json.loads(path.read_text())
        e, mu = np.asarray(d["x"], float), np.asarray(d["y"], float)
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise InputError(path, f"not a pymatgen XAS JSON with 'x' and 'y' ({err})") from None
    if e.shape != mu.shape or e.size < 10 or not np.all(np.isfinite(mu)) or np.any(np.diff(e) <= 0):
        raise InputError(path, "energies must increase and match mu in length, with no NaN")
    return e, mu


class SpectralModel:
    """theta(x), the end members on the render grid, and the spectrum at any SOC."""

    def __init__(self, cfg: RenderConfig, stoich_discharged: float, stoich_charged: float, end_member=None):
        self.cfg = cfg
        self.x0, self.x1 = stoich_discharged, stoich_charged
        e_src, mu_src = end_member if end_member is not None else load_end_member()
        if cfg.e_min_eV < e_src[0] or cfg.e_max_eV > e_src[-1]:
            raise InputError(None, f"render range {cfg.e_min_eV}-{cfg.e_max_eV} eV outside the end member's "
                                   f"{e_src[0]:.1f}-{e_src[-1]:.1f} eV")
        self.energy = np.linspace(cfg.e_min_eV, cfg.e_max_eV, cfg.n_energies)
        fine = np.arange(e_src[0], e_src[-1], 0.05)
        lith = np.interp(fine, e_src, mu_src)
        # delithiated: lowered white line, Gaussian broadening, shift
        peak = np.argmax(lith)
        w = np.exp(-0.5 * ((fine - fine[peak]) / 3.0) ** 2)
        d = lith * (1.0 - cfg.white_line_drop * w)
        k = np.arange(-60, 61) * 0.05
        g = np.exp(-0.5 * (k / max(cfg.broaden_eV, 1e-6)) ** 2)
        g /= g.sum()
        d = np.convolve(np.pad(d, 60, mode="edge"), g, mode="valid")
        self._fine, self._lith, self._del = fine, lith, d

    def theta(self, soc):
        """Spectral coordinate of a SOC (piecewise linear through the two-phase window)."""
        x = self.x0 - np.asarray(soc, float) * (self.x0 - self.x1)
        c = self.cfg
        th = np.where(x >= c.x_alpha, 0.0,
                      np.where(x >= c.x_beta, c.theta_beta * (c.x_alpha - x) / (c.x_alpha - c.x_beta),
                               c.theta_beta + (1 - c.theta_beta) * (c.x_beta - x) / (c.x_beta - self.x1)))
        return np.clip(th, 0.0, 1.0)

    def soc_from_theta(self, theta):
        """Inverse of :meth:`theta` (the lithiated plateau x >= x_alpha maps to its upper end)."""
        c = self.cfg
        th = np.clip(np.asarray(theta, float), 0.0, 1.0)
        x = np.where(th <= c.theta_beta, c.x_alpha - th / c.theta_beta * (c.x_alpha - c.x_beta),
                     c.x_beta - (th - c.theta_beta) / (1 - c.theta_beta) * (c.x_beta - self.x1))
        return (self.x0 - x) / (self.x0 - self.x1)

    def two_phase(self, soc):
        x = self.x0 - np.asarray(soc, float) * (self.x0 - self.x1)
        return (x <= self.cfg.x_alpha) & (x >= self.cfg.x_beta)

    def _solid_solution(self, th, energy):
        """Spectrum at spectral coordinate th (array) on ``energy`` (last axis)."""
        s = self.cfg.shift_eV
        th = np.asarray(th, float)[..., None]
        # both shapes sit at the edge position of theta: the lithiated shape and the broadened,
        # lowered one, mixed by theta; at theta = 1 this is the delithiated end member at +s
        lith = np.interp(energy - th * s, self._fine, self._lith)
        dele = np.interp(energy - th * s, self._fine, self._del)
        return (1 - th) * lith + th * dele

    def end_members(self, energy=None):
        e = self.energy if energy is None else energy
        return self._solid_solution(np.array(0.0), e), self._solid_solution(np.array(1.0), e)

    def spectra(self, soc, energy=None):
        """Noise-free normalised spectra (..., n_energies) of SOC values."""
        e = self.energy if energy is None else energy
        th = self.theta(soc)
        c = self.cfg
        in_window = th <= c.theta_beta
        # two-phase: lever rule between the alpha (theta 0) and beta (theta_beta) phases
        f = np.where(in_window, th / c.theta_beta, 0.0)[..., None]
        alpha = self._solid_solution(np.zeros_like(th), e)
        beta = self._solid_solution(np.full_like(th, c.theta_beta), e)
        mix = (1 - f) * alpha + f * beta
        return np.where(in_window[..., None], mix, self._solid_solution(th, e))


def render_stack(soc: np.ndarray, model: SpectralModel, cfg: RenderConfig | None = None) -> dict:
    """Measured-like absorption stack (frame, depth, lateral, energy) from SOC maps.

    Returns ``{"mu": ..., "energy": ..., "thickness": (depth, lateral), "config": dict}``.
    """
    cfg = cfg or model.cfg
    soc = np.asarray(soc, float)
    if soc.ndim != 3 or not np.all(np.isfinite(soc)):
        raise InputError(None, f"SOC maps must be finite (frame, depth, lateral), got shape {soc.shape}")
    rng = np.random.default_rng(cfg.seed)
    n_f, n_d, n_l = soc.shape
    thick = np.exp(cfg.thickness_sigma * rng.standard_normal((n_d, n_l)))
    mu = np.empty((n_f, n_d, n_l, model.energy.size))
    for f in range(n_f):
        e = model.energy + rng.uniform(-cfg.jitter_eV, cfg.jitter_eV, model.energy.size)
        mu[f] = cfg.background + thick[..., None] * model.spectra(soc[f], e)
    if cfg.snr and np.isfinite(cfg.snr):
        post = cfg.background + 1.0  # mean absorption after the edge (jump ~1)
        n0 = (cfg.snr ** 2) * np.exp(post)  # counts giving sigma(mu) = 1/SNR there
        counts = rng.poisson(n0 * np.exp(-mu))
        mu = -np.log(np.maximum(counts, 1) / n0)
    return {"mu": mu, "energy": model.energy, "thickness": thick, "config": dataclasses.asdict(cfg)}
