"""The xrm verbs under `operando xrm`, and each verb's contract."""
from __future__ import annotations

import argparse
import importlib
import json

import pytest

from operando.cli.main import build_parser
from operando.cli.main import main as operando_main
from operando.files import shared_data
from operando.xrm.cli import VERB_MODULES


def main(argv):
    return operando_main(["xrm", *argv])


def test_parser_from_verb_modules_has_every_verb_with_a_func():
    parser = argparse.ArgumentParser(prog="operando")
    sub = parser.add_subparsers(dest="command")
    for name in VERB_MODULES:
        importlib.import_module(f"operando.xrm.cli.{name}").register(sub)
    assert VERB_MODULES == ["simulate", "infer", "bench", "train"]
    for verb, extra in (("simulate", ["-o", "x.h5"]), ("infer", ["maps.h5", "-o", "y.h5"]), ("bench", []), ("train", [])):
        args = parser.parse_args([verb, *extra])
        assert callable(args.func)


def test_simulate_rejects_bad_config(tmp_path, capsys):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"c_rate": 1.0, "bogus": 3}))
    out = tmp_path / "maps.h5"
    assert main(["simulate", "-o", str(out), "--config", str(cfg)]) == 1
    err = capsys.readouterr().err
    assert "cfg.json" in err and "unknown truth-config keys ['bogus']" in err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["cfg.json"]


def test_infer_rejects_a_file_that_is_not_maps(tmp_path, capsys):
    bad = tmp_path / "maps.h5"
    bad.write_bytes(b"\x89HDF junk")
    out = tmp_path / "res.h5"
    assert main(["infer", str(bad), "-o", str(out)]) == 1
    assert "maps.h5: not an HDF5 file" in capsys.readouterr().err
    assert not out.exists()


def test_simulate_then_infer_end_to_end(tmp_path):
    pytest.importorskip("pybamm")
    import h5py

    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"n_depth": 10, "n_lateral": 2, "n_frames": 4, "r_points": 5,
                               "separator_points": 4}))
    maps = tmp_path / "maps.h5"
    assert main(["simulate", "-o", str(maps), "--config", str(cfg), "--salt", "2", "--c-rate", "2"]) == 0
    assert json.loads(maps.with_suffix(".config.json").read_text())["salt_mol_m3"] == 2000.0
    res = tmp_path / "res.h5"
    assert main(["infer", str(maps), "-o", str(res)]) == 0
    with h5py.File(res) as h:
        assert h["fields"]["Effective conductivity [S.m-1]"].shape == (3, 10, 2)
        assert h["std"]["Electrolyte potential [V]"].shape == (3, 10, 2)
    assert res.with_suffix(".png").stat().st_size > 1000
    assert build_parser().parse_args(["xrm", "bench", "--quick"]).quick


def test_infer_on_real_xradia_frames_gives_edge_jump_not_soc(tmp_path, capsys):
    pass

    import h5py

    d = shared_data("txm-xanespy-nca")
    if not d.is_dir():
        pytest.skip("shared TXM frames not present")
    out = tmp_path / "jump.h5"
    rc = main(["infer", "--xrm", str(d / "fov07_xanessoc01_8250_0eV.xrm"), str(d / "ref_xanessoc01_8250_0eV.xrm"),
               "--xrm", str(d / "fov07_xanessoc01_8353_0eV.xrm"), str(d / "ref_xanessoc01_8353_0eV.xrm"),
               "-o", str(out)])
    assert rc == 0
    assert "edge-jump map only" in capsys.readouterr().out
    with h5py.File(out) as h:
        assert "Edge jump" in h and "State of charge" not in h
        assert h["Edge jump"].shape == (1024, 1024)
    # a flat field at the wrong energy: one error, nothing written
    bad = tmp_path / "bad.h5"
    rc = main(["infer", "--xrm", str(d / "fov07_xanessoc01_8353_0eV.xrm"), str(d / "ref_xanessoc01_8250_0eV.xrm"),
               "-o", str(bad)])
    assert rc == 1 and "flat field at 8249.94 eV" in capsys.readouterr().err
    assert not bad.exists()
