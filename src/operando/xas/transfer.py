"""Cu -> Co transfer: the Cu-trained SPT applied to computed Co K-edge spectra directly, then
fine-tuned on a small Co set, read out on the LixCoO2 delithiation series.

Data: the FEFF10 spectra of ``benchmarks/xas/co_feff/`` (``benchmarks/xas/compute_co_spectra.py``):
``kind == "coset"`` are Co-substituted OmniXAS Cu structures (training / cross-validation),
``kind == "licoo2"`` the LixCoO2 sites (x = 1 ... 0; a value of x is the multiplicity-weighted
mean of its inequivalent Co sites).

Energy scale (:func:`co_anchor`): the Cu model reads spectra on ``anchor + grid`` with the Cu anchor
8993 eV on FEFF's scale. The Co anchor is that anchor moved by the median difference of the
half-height edges of the same structures computed with Co and with Cu (every Co-set structure has
its Cu twin in the OmniXAS set): one global offset from computed pairs, never fitted per spectrum
and never on the LixCoO2 series, so the chemical shift between spectra is kept.

Fine-tuning (:func:`fine_tune`): all weights start from the Cu model, the input scaling, the
chosen Fourier components and the regression scaling stay those of the Cu model
(:func:`operando.xas.fit.fit` with ``fine_tune=True``), ``epochs`` passes at a learning rate of
``lr``. Scores on the Co set come from k-fold cross-validation by material (each fold fine-tuned
without its spectra); the LixCoO2 trajectory from the model fine-tuned on the whole Co set.
OS trajectory: the expected oxidation state ``sum_k p_k * OS_k`` over the classes +1, +2, +3 (the
Cu model has no +4 class, so a rise shows as probability moving to +3), and its Spearman
correlation with the nominal Co oxidation state ``4 - x``.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np

from operando.errors import InputError
from operando.xas.dataset import CU_EDGE_FEFF, DEFAULT_DIR, XasSet, material_folds
from operando.xas.fit import FitConfig, fit, predict_net
from operando.xas.labels import CN_CLASSES, OS_CLASSES, cn_class, os_class

CO_DIR = Path(__file__).resolve().parents[3] / "benchmarks" / "xas" / "co_feff"


def half_height_edge(energy: np.ndarray, mu: np.ndarray) -> float:
    """First energy (eV) where a FEFF-normalised ``mu`` (L,) reaches 0.5, linearly interpolated."""
    i = int(np.argmax(mu >= 0.5))
    if i == 0:
        return float(energy[0])
    e0, e1, m0, m1 = energy[i - 1], energy[i], mu[i - 1], mu[i]
    return float(e0 + (0.5 - m0) * (e1 - e0) / (m1 - m0))


def read_co_records(folder: str | Path = CO_DIR) -> list[dict]:
    """Every spectrum JSON of ``folder`` (one InputError naming a file that lacks a field)."""
    folder = Path(folder)
    files = sorted(folder.glob("*.json"))
    if not files:
        raise InputError(folder, "no computed Co spectra (run benchmarks/xas/compute_co_spectra.py)")
    recs = []
    for f in files:
        r = json.loads(f.read_text())
        for key in ("kind", "omega", "mu", "labels", "name"):
            if key not in r:
                raise InputError(f, f"field {key!r} missing (rerun benchmarks/xas/compute_co_spectra.py)")
        r["omega"], r["mu"] = np.asarray(r["omega"], float), np.asarray(r["mu"], float)
        recs.append(r)
    return recs


def co_anchor(recs: list[dict], cu_dir: str | Path = DEFAULT_DIR) -> tuple[float, dict]:
    """Co anchor on FEFF's scale and how it was fitted (module docstring): ``(anchor, info)``."""
    with np.load(Path(cu_dir) / "cu_feff_xanes.npz") as npz:  # read each array once, not per row
        d = {k: npz[k] for k in ("spectrum_id", "e0", "e_rel", "mu_rel")}
    row = {s: i for i, s in enumerate(d["spectrum_id"])}
    diffs = []
    for r in recs:
        if r["kind"] != "coset":
            continue
        i = row[r["cu_spectrum_id"]]
        cu_edge = half_height_edge(d["e0"][i] + d["e_rel"], d["mu_rel"][i].astype(float))
        diffs.append(half_height_edge(r["omega"], r["mu"]) - cu_edge)
    if not diffs:
        raise InputError(CO_DIR, "no Co-set spectra to fit the Co anchor on")
    shift = float(np.median(diffs))
    return CU_EDGE_FEFF + shift, {"median_edge_shift_ev": shift, "iqr_ev": float(np.subtract(*np.percentile(diffs, [75, 25]))),
                                  "n_pairs": len(diffs)}


def on_grid(recs: list[dict], anchor: float, grid: np.ndarray) -> np.ndarray:
    """(N, L) spectra at ``anchor + grid`` (ends held, as for the Cu set)."""
    return np.stack([np.interp(anchor + grid, r["omega"], r["mu"]) for r in recs]).astype(np.float32)


def co_set(recs: list[dict], anchor: float, grid: np.ndarray) -> XasSet:
    """The Co training spectra as an :class:`XasSet` (labels recomputed on the Co structures)."""
    rs = [r for r in recs if r["kind"] == "coset"]
    lab = lambda k: np.array([r["labels"][k] for r in rs], float)
    return XasSet(x=on_grid(rs, anchor, grid), grid=grid, anchor=anchor, cn=lab("cn").astype(int),
                  cn_cls=cn_class(lab("cn")), os=lab("os"), os_cls=os_class(lab("os")), ocn=lab("ocn"),
                  cn2=lab("cn2"), nn_dist=np.full(len(rs), np.nan), material=np.array([r["name"] for r in rs]),
                  spectrum_id=np.array([r["name"] for r in rs]))


def licoo2_series(recs: list[dict], anchor: float, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(x values (5,), spectra (5, L))``: per x the multiplicity-weighted mean over its Co sites."""
    rs = [r for r in recs if r["kind"] == "licoo2"]
    xs = np.array(sorted({r["x"] for r in rs}, reverse=True))
    spectra = []
    for x in xs:
        sites = [r for r in rs if r["x"] == x]
        w = np.array([r["multiplicity"] for r in sites], float)
        spectra.append((on_grid(sites, anchor, grid) * w[:, None]).sum(0) / w.sum())
    return xs, np.stack(spectra).astype(np.float32)


def expected_os(os_prob: np.ndarray) -> np.ndarray:
    """(B, 3) class probabilities -> (B,) expected oxidation state."""
    return os_prob @ np.asarray(OS_CLASSES, float)


def fine_tune(model, data: XasSet, *, epochs: int = 60, lr: float = 5e-4, seed: int = 0):
    """A copy of ``model`` fine-tuned on ``data`` (all weights; Cu scaling kept)."""
    tuned = copy.deepcopy(model)
    cfg = FitConfig(epochs=epochs, lr=lr, batch_size=16, seed=seed, time_limit_s=300.0)
    fit(tuned, data, cfg, fine_tune=True)
    return tuned


def _scores(model, data: XasSet) -> tuple[np.ndarray, np.ndarray]:
    p = predict_net(model, data.x)
    return p["cn_prob"].argmax(1), p["os_prob"].argmax(1)


def _acc(pred, truth) -> float | None:
    m = truth >= 0
    return float((pred[m] == truth[m]).mean()) if m.any() else None


def run_transfer(model, config: dict, *, co_dir: str | Path = CO_DIR, folds: int = 5, epochs: int = 60,
                 lr: float = 5e-4, seed: int = 0, seeds: tuple[int, ...] = (0, 1, 2)) -> dict:
    """The whole experiment (module docstring) as a JSON-ready dict."""
    from scipy.stats import spearmanr

    recs = read_co_records(co_dir)
    grid = np.asarray(config["grid"], float)
    anchor, anchor_info = co_anchor(recs)
    data = co_set(recs, anchor, grid)
    xs, series = licoo2_series(recs, anchor, grid)
    nominal = 4 - xs
    out = {"n_co_set": len(data), "n_licoo2_sites": sum(r["kind"] == "licoo2" for r in recs), "x": xs.tolist(),
           "anchor_ev": anchor, "anchor_fit": anchor_info, "fine_tune": {"epochs": epochs, "lr": lr, "seed": seed, "folds": folds},
           "co_set_os_counts": {str(k): int((data.os == k).sum()) for k in sorted(set(data.os[np.isfinite(data.os)]))},
           "co_set_cn_counts": {str(k): int((data.cn_cls == i).sum()) for i, k in enumerate(CN_CLASSES)},
           "licoo2_edge_rel_ev": [half_height_edge(anchor + grid, sp) - anchor for sp in series]}
    # Co set: direct vs fine-tuned, cross-validated by structure
    fold_of = material_folds(data.material, k=folds, seed=seed)
    pred_cn, pred_os = _scores(model, data)
    tuned_cn, tuned_os = np.empty_like(pred_cn), np.empty_like(pred_os)
    for k in range(folds):
        te, tr = fold_of == k, fold_of != k
        m = fine_tune(model, data.subset(np.nonzero(tr)[0]), epochs=epochs, lr=lr, seed=seed)
        tuned_cn[te], tuned_os[te] = _scores(m, data.subset(np.nonzero(te)[0]))
    out["co_set"] = {"direct": {"cn_acc": _acc(pred_cn, data.cn_cls), "os_acc": _acc(pred_os, data.os_cls)},
                     "fine_tuned_cv": {"cn_acc": _acc(tuned_cn, data.cn_cls), "os_acc": _acc(tuned_os, data.os_cls)}}
    # LixCoO2: direct vs fine-tuned on the whole Co set (``seed`` in the table, every seed of ``seeds`` judged)
    def trajectory(m) -> dict:
        p = predict_net(m, series)
        eos = expected_os(p["os_prob"])
        rho = spearmanr(eos, nominal).statistic
        return {"expected_os": eos.tolist(), "os_prob": p["os_prob"].tolist(),
                "os_class": [OS_CLASSES[i] for i in p["os_prob"].argmax(1)],
                "cn_class": [CN_CLASSES[i] for i in p["cn_prob"].argmax(1)],
                "spearman_vs_4_minus_x": None if not np.isfinite(rho) else round(float(rho), 6)}

    out["direct"] = trajectory(model)
    by_seed = {s: trajectory(fine_tune(model, data, epochs=epochs, lr=lr, seed=s)) for s in dict.fromkeys((seed, *seeds))}
    out["fine_tuned"] = by_seed[seed]
    out["fine_tuned_spearman_by_seed"] = {str(s): t["spearman_vs_4_minus_x"] for s, t in by_seed.items()}
    return out


def transfer_markdown(record_dir: str | Path) -> str:
    """The results-page section from ``transfer_co.json`` (empty when absent)."""
    path = Path(record_dir) / "transfer_co.json"
    if not path.is_file():
        return ""
    r = json.loads(path.read_text())
    ft = r["fine_tune"]
    lines = ["", "## Cu -> Co transfer: LixCoO2 delithiation (computed, FEFF10)", "",
             f"Generated by `operando xas transfer` from `{path.as_posix()}`. Spectra: `benchmarks/xas/co_feff/` "
             f"({r['n_co_set']} Co-set spectra: Co put on the Cu site of OmniXAS structures; "
             f"{r['n_licoo2_sites']} LixCoO2 site spectra), written by `benchmarks/xas/compute_co_spectra.py`. "
             f"Co anchor {r['anchor_ev']:.2f} eV on FEFF's scale (median Co - Cu edge shift of the same structures "
             f"{r['anchor_fit']['median_edge_shift_ev']:+.2f} eV, IQR {r['anchor_fit']['iqr_ev']:.2f} eV, "
             f"{r['anchor_fit']['n_pairs']} pairs). Fine-tuning: all weights, {ft['epochs']} epochs, lr {ft['lr']}, "
             f"seed {ft['seed']}.", "",
             f"Co-set labels: OS {r['co_set_os_counts']}, CN classes {r['co_set_cn_counts']}.", "",
             "| Co set | CN acc | OS acc |", "|---|---|---|"]
    fmt = lambda v: "-" if v is None else f"{v:.3f}"
    for name, label in (("direct", "Cu model applied directly"), ("fine_tuned_cv", f"fine-tuned ({ft['folds']}-fold CV by structure)")):
        lines.append(f"| {label} | {fmt(r['co_set'][name]['cn_acc'])} | {fmt(r['co_set'][name]['os_acc'])} |")
    lines += ["", "OS trajectory over x (expected OS = sum of p(+k) k; the model's classes are +1, +2, +3; nominal Co OS = 4 - x; "
              f"edge = half-height of the x spectrum; fine-tuning seed {ft['seed']}):", "",
              "| x | nominal OS | edge (eV rel. anchor) | direct E[OS] | direct P(+1/+2/+3) | direct CN | fine-tuned E[OS] | fine-tuned P(+1/+2/+3) | fine-tuned CN |",
              "|---|---|---|---|---|---|---|---|---|"]
    for i, x in enumerate(r["x"]):
        cells = []
        for name in ("direct", "fine_tuned"):
            d = r[name]
            cells += [f"{d['expected_os'][i]:.3f}", "/".join(f"{p:.2f}" for p in d["os_prob"][i]), d["cn_class"][i]]
        lines.append(f"| {x:.2f} | {4 - x:.2f} | {r['licoo2_edge_rel_ev'][i]:+.2f} | " + " | ".join(cells) + " |")
    lines.append("")
    for name, label in (("direct", "Cu model applied directly"), ("fine_tuned", "fine-tuned on the Co set")):
        rho, eos = r[name]["spearman_vs_4_minus_x"], r[name]["expected_os"]
        verdict = "not defined (constant prediction)" if rho is None else f"{rho:.3f} ({'met' if rho >= 0.9 else 'MISSED'}, goal >= 0.9)"
        lines.append(f"- Spearman of E[OS] against 4 - x, {label}: {verdict}; "
                     f"E[OS] rises by {eos[-1] - eos[0]:+.3f} from x = {r['x'][0]:g} to x = {r['x'][-1]:g}")
    by_seed = r.get("fine_tuned_spearman_by_seed", {})
    if by_seed:
        vals = list(by_seed.values())
        met = all(v is not None and v >= 0.9 for v in vals)
        lines.append(f"- fine-tuned, by fine-tuning seed: " + ", ".join(f"seed {k} {fmt(v)}" for k, v in by_seed.items())
                     + f": goal {'met' if met else 'MISSED'} in {'every' if met else 'not every'} seed")
    return "\n".join(lines) + "\n"
