"""Why measured CuO reads CN 6 and the Cu foil is not flagged: the shipped Cu SPT on the measured
files, with the energy shift and the edge-step scale varied, and the domain statistics of the foil
against the training set. Prints plain tables (one torch thread); quoted in docs/xas/README.md.

    python benchmarks/xas/measured_gap.py
"""
import warnings

import numpy as np
import torch

from operando.files import shared_data
from operando.xas.dataset import CU_EDGE_FEFF, load_cu_feff
from operando.xas.fit import load_model, predict_net
from operando.xas.labels import CN_CLASSES
from operando.xas.perturb import broaden
from operando.xas.predict import domain_score, prepare_measured
from operando.xas.read import read_spectrum
from operando.xas.release import REFERENCE, REFERENCE_COMPUTED
from operando.xas.transfer import half_height_edge

MODEL = "src/operando/xas/models/spt-cu"
FOIL = shared_data("larch-athena-examples") / "cu.prj"


def off_subspace(x, extra) -> np.ndarray:
    """(B, L) -> (B,) RMS residual of x outside the model's 10 stored principal components."""
    mean, comps = (extra[k].numpy().astype(float) for k in ("pca_mean", "pca_components"))
    z = (np.atleast_2d(x) - mean) @ comps.T
    return np.sqrt(((np.atleast_2d(x) - mean - z @ comps) ** 2).mean(1))


def main() -> None:
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model, cfg, extra = load_model(MODEL)
    grid, anchor, shift = np.asarray(cfg["grid"]), cfg["anchor"], cfg["energy_shift_ev"]
    row = lambda x: predict_net(model, np.atleast_2d(x).astype(np.float32))
    fmt = lambda p: " ".join(f"{c}:{v:.2f}" for c, v in zip(CN_CLASSES, p["cn_prob"][0])) + \
        "  OS +1/+2/+3: " + "/".join(f"{v:.2f}" for v in p["os_prob"][0])
    data = load_cu_feff()
    i = list(data.spectrum_id).index(REFERENCE_COMPUTED)
    print(f"computed CuO ({REFERENCE_COMPUTED}), true CN 4:  {fmt(row(data.x[i]))}")
    for fwhm in (1.0, 2.0, 4.0):
        print(f"  with {fwhm:.0f} eV extra Gaussian broadening:  {fmt(row(broaden(data.x[i:i + 1], grid, fwhm)[0]))}")
    cuo = read_spectrum(REFERENCE)
    print(f"\nmeasured CuO (the alignment reference, true CN 4); fitted shift {shift:+.2f} eV")
    print("shift eV | edge-step scale | CN probabilities | OS")
    for d_shift, scale in [(0, 1.0), (-1, 1.0), (-0.5, 1.0), (0.5, 1.0), (1, 1.0), (0, 0.9), (0, 0.95), (0, 1.05), (0, 1.1)]:
        p = prepare_measured(cuo, element="Cu", grid=grid, anchor=anchor, shift_ev=shift + d_shift)
        print(f"{shift + d_shift:+.2f} | x{scale:.2f} | {fmt(row(p.x * scale))}")
    p = prepare_measured(cuo, element="Cu", grid=grid, anchor=anchor, shift_ev=shift)
    print(f"white line (max on the grid): measured {p.x.max():.2f}, computed {data.x[i].max():.2f}; "
          f"mean over +20..+45 eV: measured {p.x[grid >= 20].mean():.3f}, computed {data.x[i][grid >= 20].mean():.3f}")

    print("\nCu foil vs the training set (computed Cu oxides)")
    edges = np.array([half_height_edge(CU_EDGE_FEFF + data.grid, x) for x in data.x]) - CU_EDGE_FEFF
    foil = prepare_measured(read_spectrum(FOIL), element="Cu", grid=grid, anchor=anchor, shift_ev=shift)
    t2, spe = domain_score(data.x, extra), off_subspace(data.x, extra)
    for name, train, value in (("half-height edge after alignment, eV rel. anchor", edges, foil.edge_ev + shift - anchor),
                               ("PCA Mahalanobis score (flag > 1)", t2, domain_score(foil.x, extra)[0]),
                               ("RMS residual off the 10 PCs", spe, off_subspace(foil.x, extra)[0]),
                               ("white line (max on the grid)", data.x.max(1), foil.x.max())):
        lo, hi = np.percentile(train, [0.5, 99.5])
        print(f"{name}: foil {value:.3f}; training 0.5-99.5 % range {lo:.3f} .. {hi:.3f}")
    print(f"foil prediction: {fmt(row(foil.x))}")


if __name__ == "__main__":
    main()
