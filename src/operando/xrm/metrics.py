"""Metrics of inferred XRM maps against the truth (the numbers the issue's goals name)."""
from __future__ import annotations

import numpy as np

from operando.xrm import truth as tr


def _mid(a):
    return 0.5 * (a[1:] + a[:-1])


def rel_l2(est, true) -> float:
    return float(np.linalg.norm(est - true) / max(np.linalg.norm(true), 1e-300))


def mrf_metrics(truth: tr.Truth, res) -> dict:
    """Relative L2 of j, i_e, phi_e (constant per column and interval removed); log error of
    kappa_eff (median and mean |ln(est/true)|) and the fraction of pixels whose truth lies within
    two posterior standard deviations (j and phi_e)."""
    f = truth.fields
    out = {}
    for key, name in (("j_rel_l2", tr.J), ("ionic_rel_l2", tr.IE)):
        out[key] = rel_l2(res.fields[name], _mid(f[name]))
    pe, pt = res.fields[tr.PHI_E], _mid(f[tr.PHI_E])
    out["phi_e_rel_l2"] = rel_l2(pe - pe.mean(1, keepdims=True), pt - pt.mean(1, keepdims=True))
    lk = np.abs(np.log(res.fields[tr.KAPPA] / _mid(f[tr.KAPPA])))
    out["log_kappa_err_median"] = float(np.median(lk))
    out["log_kappa_err_mean"] = float(np.mean(lk))
    # geometric means: one badly determined face must not decide the comparison
    out["kappa_true_mean"] = float(np.exp(np.mean(np.log(_mid(f[tr.KAPPA])))))
    out["kappa_est_mean"] = float(np.exp(np.mean(np.log(res.fields[tr.KAPPA]))))
    # the salt-concentration image (the role of the paper's LiAsF6 transmission check): the
    # MRF's plug-in estimate against the truth, relative to the initial concentration
    c_true = _mid(f[tr.C_E])
    out["salt_rel_err"] = float(np.mean(np.abs(res.salt_estimate - c_true)) / truth.config.salt_mol_m3)
    out["salt_rel_range_true"] = float((c_true.max() - c_true.min()) / truth.config.salt_mol_m3)
    inside = np.abs(res.fields[tr.J] - _mid(f[tr.J])) <= 2 * res.stds[tr.J]
    out["j_within_2sd"] = float(np.mean(inside))
    return out


def front_error_px(soc_est, soc_true, level: float = 0.5) -> float:
    """Largest per-frame error [pixels] of the mean reaction-front depth (SOC crossing ``level``)."""
    from operando.xrm.physics import soc_front_depth

    a = soc_front_depth(soc_est, level).mean(axis=1)
    b = soc_front_depth(soc_true, level).mean(axis=1)
    return float(np.max(np.abs(a - b)))


def front_error_profile_px(soc_est, soc_true, level: float = 0.5) -> float:
    """Largest per-frame error [pixels] of the front depth of the lateral-mean SOC profile."""
    from operando.xrm.physics import soc_front_depth

    a = soc_front_depth(np.asarray(soc_est).mean(axis=-1, keepdims=True), level)[:, 0]
    b = soc_front_depth(np.asarray(soc_true).mean(axis=-1, keepdims=True), level)[:, 0]
    return float(np.max(np.abs(a - b)))


def front_error_reaction_px(soc_est, soc_true) -> float:
    """Largest per-interval error [pixels] of the reaction-front depth (centroid of the SOC gained)."""
    from operando.xrm.physics import reaction_front_depth

    return float(np.max(np.abs(reaction_front_depth(soc_est) - reaction_front_depth(soc_true))))


def level_front_sensitivity_px(soc_true, level: float, soc_error: float = 0.01) -> float:
    """How far [pixels] an SOC error of ``soc_error`` moves the level-crossing front of the
    lateral-mean profile, at worst over the frames where the truth crosses ``level`` inside the map
    (``soc_error`` over the profile's depth slope there): the conditioning of that front definition."""
    prof = np.asarray(soc_true, float).mean(axis=-1)  # (frame, depth)
    worst = 0.0
    for p in prof:
        below = np.nonzero(p < level)[0]
        if below.size and below[0] > 0:
            k = int(below[0])
            worst = max(worst, soc_error / max(abs(p[k - 1] - p[k]), 1e-12))
    return worst
