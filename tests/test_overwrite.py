"""One overwrite rule for every command that writes: an existing output is refused unless --force,
and the message says so. Each command is refused before it reads its inputs, so no input here
needs to exist; the existing output must be left exactly as it was."""
from __future__ import annotations

from pathlib import Path

import pytest

from operando.cli.main import main

# (argv with OUT for the output path, kind of output: "file", a folder ("dir"), or a folder holding marker)
WRITERS = {
    "simulate": (["ir", "simulate", "-o", "OUT"], "file", None),
    "import": (["ir", "import", "in", "-o", "OUT"], "file", None),
    "export": (["ir", "export", "data.h5", "-o", "OUT"], "dir", "dataset.json"),
    "import-operando": (["ir", "import-operando", "--spectra", "s", "--echem", "e.mpt", "--meta", "m.json",
                         "-o", "OUT"], "file", None),
    "data stats": (["ir", "data", "stats", "data.h5", "-o", "OUT"], "dir", None),
    "predict": (["ir", "predict", "--run", "r", "--data", "d.h5", "--experiment", "x", "-o", "OUT"], "dir", None),
    "forecast": (["ir", "forecast", "--run", "r", "--spectrum", "s.jdx", "--voltage", "v.csv", "--meta", "m.json",
                  "-o", "OUT"], "dir", "forecast.json"),
    "decompose": (["ir", "decompose", "data.h5", "-o", "OUT"], "dir", None),
    "plot": (["ir", "plot", "data.h5", "-o", "OUT"], "file", None),
    "report": (["ir", "report", "--data", "d.h5", "-o", "OUT"], "file", None),
    "bench": (["ir", "bench", "--data", "d.h5", "--model", "random", "--split", "random", "--out", "OUT"],
              "dir", "random/random/summary.json"),
    "pipeline": (["pipeline", "--out", "OUT"], "dir", None),
    "score": (["ir", "score", "--data", "d.h5", "--run", "r", "-o", "OUT"], "dir", "score.json"),
    "xas train": (["xas", "train", "--out", "OUT"], "dir", None),
    "xrm simulate": (["xrm", "simulate", "-o", "OUT"], "file", None),
    "xrm infer": (["xrm", "infer", "maps.h5", "-o", "OUT"], "file", None),
}


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_every_writer_refuses_an_existing_output_without_force(name, tmp_path, capsys, monkeypatch):
    argv, kind, marker = WRITERS[name]
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "existing"
    if kind == "file":
        out.write_text("earlier output")
        keep = out
    else:
        keep = out / (marker or "earlier.csv")
        keep.parent.mkdir(parents=True)
        keep.write_text("earlier output")
    assert main([str(out) if a == "OUT" else a for a in argv]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(out) in err and "pass --force to overwrite" in err, err
    assert keep.read_text() == "earlier output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing"]  # nothing else written


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_every_writer_offers_force(name, capsys):
    argv = WRITERS[name][0]
    with pytest.raises(SystemExit):
        main([a for a in argv[: next(i for i, a in enumerate(argv) if a.startswith("-"))]] + ["--help"])
    assert "--force" in capsys.readouterr().out
