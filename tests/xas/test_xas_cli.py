"""``operando xas`` verbs built from VERB_MODULES, predict end to end on a tiny model, bench page."""
import argparse
import importlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from operando.errors import InputError
from operando.xas.bench import results_markdown, scores
from operando.xas.cli import VERB_MODULES
from operando.xas.fit import FitConfig, save_model
from operando.xas.predict import domain_score, fit_domain
from operando.xas.resample import relative_grid
from operando.xas.spt import SPT, SPTConfig

FIX = Path(__file__).with_name("fixtures")
CUO = Path(__file__).resolve().parents[2] / "src" / "operando" / "xas" / "reference" / "CuO_measured_xaslib.txt"


def _parser():
    p = argparse.ArgumentParser(prog="operando xas")
    sub = p.add_subparsers(dest="command")
    for name in VERB_MODULES:
        importlib.import_module(f"operando.xas.cli.{name}").register(sub)
    return p


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    torch.manual_seed(0)
    grid = relative_grid()
    rng = np.random.default_rng(0)
    e = 8993.0 + grid
    base = 0.5 + np.arctan((e - 8995.0) / 2.0) / np.pi
    x = (base[None] + 0.02 * rng.standard_normal((200, len(grid)))).astype(np.float32)
    m = SPT(SPTConfig(length=len(grid), n_freq=32, freq_rows=4, dim=32, n_nodes=8, k=3))
    cfg = {"element": "Cu", "edge": "K", "grid": grid.tolist(), "anchor": 8993.0, "energy_shift_ev": 5.3}
    return save_model(tmp_path_factory.mktemp("m") / "spt", m, FitConfig(), extra=cfg,
                      tensors=fit_domain(x)), x


def test_verbs_registered():
    p = _parser()
    for verb in VERB_MODULES:
        assert callable(p.parse_args([verb] + (["f.txt"] if verb == "predict" else [])).func)


def test_predict_flags_and_refuses(tiny_model, capsys):
    run, _ = tiny_model
    p = _parser()
    a = p.parse_args(["predict", str(CUO), str(FIX / "MnO_rt_01.xdi"), "--model", str(run), "--mc-samples", "3"])
    assert a.func(a) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("file\tCN")
    cuo = next(line for line in out if "CuO_measured" in line)
    assert "REFUSED" not in cuo and cuo.split("\t")[1].split()[0] in ("<=3", "4", "5", "6", ">=7")
    mno = next(line for line in out if "MnO_rt_01" in line)
    assert "REFUSED" in mno and "not the Cu K edge" in mno  # Mn edge at ~6544 eV: wrong element


def test_predict_bad_file_one_error(tiny_model, tmp_path):
    run, _ = tiny_model
    bad = tmp_path / "bad.txt"
    bad.write_text("\n".join(f"{8950 + i} {'nan' if i == 5 else 0.1}" for i in range(50)))
    a = _parser().parse_args(["predict", str(bad), "--model", str(run)])
    with pytest.raises(InputError, match="bad.txt.*NaN"):
        a.func(a)
    a = _parser().parse_args(["predict", str(CUO), "--model", str(tmp_path)])
    with pytest.raises(InputError, match="not a model folder"):
        a.func(a)


def test_domain_score_separates_training_like_from_foreign(tiny_model):
    _, x = tiny_model
    stats = fit_domain(x)
    assert np.mean(domain_score(x, stats) <= 1.0) >= 0.99
    assert domain_score(x[0] * 0 + 1.0, stats)[0] > 1.0


def test_scores_closed_form():
    y = np.array([0, 1, 1, 2])
    s = scores(y, np.array([0, 1, 2, 2]), np.array([0, -1, 1, 1]), np.array([0, 2, 1, 0]),
               np.array([[1.0, 2.0, np.nan]] * 4), np.array([[2.0, 2.0, 5.0]] * 4))
    assert s["cn_acc"] == 0.75 and s["os_acc"] == pytest.approx(2 / 3)
    assert s["cn2_mae"] == 1.0 and s["ocn_mae"] == 0.0 and np.isnan(s["dist_mae"])
    # macro-F1 over the 5 CN classes: classes 0 (F1 1), 1 (2/3), 2 (2/3), 3 and 4 absent (0)
    assert s["cn_f1"] == pytest.approx((1 + 2 / 3 + 2 / 3) / 5)


def test_results_page_from_record_only(tmp_path):
    rec = {"model": "majority", "fold": 0, "folds": 5, "train_seconds": 0.1, "ms_batch1": 0.01,
           "ms_batch1024": 0.001, **{k: 0.5 for k in ("cn_acc", "cn_f1", "os_acc", "os_f1", "cn2_mae", "ocn_mae", "dist_mae")}}
    (tmp_path / "fold0_majority.json").write_text(json.dumps(rec))
    a = _parser().parse_args(["bench", "--record", str(tmp_path), "--out", str(tmp_path / "r.md"), "--report-only"])
    assert a.func(a) == 0
    text = (tmp_path / "r.md").read_text()
    assert "| majority | 0 | 0.500 |" in text and "Only folds [0] of 5" in text
    assert results_markdown([rec], str(tmp_path)) == text


def test_perturbation_page_from_record(tmp_path):
    res = {p: {"cn_acc": 0.8, "os_acc": 0.7, "cn_retained": 1.0, "os_retained": 1.0} for p in ("clean", "SNR 30")}
    (tmp_path / "perturb_fold0.json").write_text(json.dumps({"fold": 0, "folds": 5, "models": {"spt": res}}))
    from operando.xas.bench import perturbation_markdown

    text = perturbation_markdown(tmp_path)
    assert "| SNR 30 | 0.800 | 1.000 | 0.700 | 1.000 |" in text and "one fold only" in text


def test_shipped_model_loads_on_cpu_and_refuses_other_elements(capsys):
    from operando.xas.cli.predict import DEFAULT_MODEL
    from operando.xas.fit import load_model

    model, cfg, extra = load_model(DEFAULT_MODEL)
    assert cfg["element"] == "Cu" and len(cfg["grid"]) == model.config.length
    assert next(model.parameters()).device.type == "cpu" and "pca_threshold" in extra
    a = _parser().parse_args(["predict", str(CUO), str(FIX / "MnO_rt_01.xdi"), "--mc-samples", "2"])
    assert a.func(a) == 0
    out = capsys.readouterr().out
    assert "not the Cu K edge" in out and out.count("REFUSED") == 1


def test_no_white_line_is_flagged_as_metal_like(tiny_model, tmp_path, capsys):
    """An arctan edge with no white line is below the training floor of the tiny model's spectra with
    a white line; the same edge with one is not flagged by this rule."""
    run, _ = tiny_model
    e = np.arange(8900.0, 9150.0, 0.5)
    edge = 0.5 + np.arctan((e - 8985.0) / 2.0) / np.pi
    flat, peaked = tmp_path / "flat.txt", tmp_path / "peaked.txt"
    flat.write_text("\n".join(f"{a} {b}" for a, b in zip(e, 0.1 + edge)))
    peaked.write_text("\n".join(f"{a} {b}" for a, b in zip(e, 0.1 + edge * (1 + 0.6 * np.exp(-((e - 8992) / 4) ** 2)))))
    from operando.xas.fit import load_model
    from operando.xas.predict import predict_files

    model, cfg, extra = load_model(run)
    extra = {**extra, "white_line_floor": torch.tensor(1.2)}
    rows = predict_files([flat, peaked], model, cfg, extra, mc_samples=2)
    assert rows[0]["no_white_line"] and rows[0]["out_of_domain"] and not rows[1]["no_white_line"]


def test_shipped_model_flags_the_cu_foil():
    from operando.files import shared_data
    from operando.xas.cli.predict import DEFAULT_MODEL
    from operando.xas.fit import load_model
    from operando.xas.predict import format_rows, predict_files

    foil = shared_data("larch-athena-examples") / "cu.prj"
    if not foil.is_file():
        pytest.skip(f"{foil} absent (shared data not beside the checkout)")
    model, cfg, extra = load_model(DEFAULT_MODEL)
    rows = predict_files([foil, CUO], model, cfg, extra, mc_samples=2)
    assert rows[0]["no_white_line"] and rows[0]["out_of_domain"]
    assert not rows[1]["out_of_domain"]
    assert "metal-like" in format_rows(rows).splitlines()[1]


def test_perturbation_goals_are_judged_from_the_record(tmp_path):
    from operando.xas.bench import perturbation_markdown

    v = lambda cn, os_: {"cn_acc": 0.8, "os_acc": 0.7, "cn_retained": cn, "os_retained": os_}
    res = {"clean": v(1, 1), "combined (+2 eV, 1 eV, SNR 100)": v(0.95, 0.89), "shift +5 eV": v(0.9, 0.86),
           "step x1.1": v(0.99, 0.95)}
    rec = {"fold": 0, "folds": 5, "aligned": True, "alignment_reference": "m0", "models": {"spt": res}}
    (tmp_path / "perturb_fold0_aligned.json").write_text(json.dumps(rec))
    text = perturbation_markdown(tmp_path)
    assert "retained >= 0.90 on combined (+2 eV, 1 eV, SNR 100): MISSED (CN 0.950, OS 0.890)" in text
    assert "retained >= 0.85 on shift +5 eV: met" in text and "retained >= 0.90 on step x1.1: met" in text
    (tmp_path / "perturb_fold0_aligned.json").write_text(json.dumps({**rec, "aligned": False}))
    assert "shift +5 eV: " not in perturbation_markdown(tmp_path)  # judged only once alignment is applied
