"""A --quick smoke run says so everywhere: results and run folders, the report, every forecast
made from its models, and the pipeline's last lines (which then recommend no model)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from toy import toy_experiment

from operando.cli.main import main
from operando.ir.data.dataset import OperandoDataset
from operando.ir.smoke import SMOKE_FILE

TINY_NET = {"hidden_size": 32, "depth": 1, "num_heads": 2, "patch_size": 32}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """A quick bench of Static and a tiny MeanFlow on toy data, as `operando pipeline --quick` runs it."""
    from operando.ir.bench import suite

    folder = tmp_path_factory.mktemp("smoke")
    data = OperandoDataset([toy_experiment(f"cu-{i}", seed=i) for i in range(4)], simulated=True).save(folder / "toy.h5")
    original = suite.bench_model

    def tiny(*args, **kwargs):  # the same quick model with a tiny network, to keep the test short
        model = original(*args, **kwargs)
        if hasattr(model, "config"):
            model.config.model_overrides = dict(TINY_NET)
        return model

    mp = pytest.MonkeyPatch()
    mp.setattr(suite, "bench_model", tiny)
    try:
        suite.run_suite(data, ["static", "meanflow"], ("random",), folder / "results", quick=True,
                        log=lambda line: None, progress=False)
    finally:
        mp.undo()
    return {"folder": folder, "data": data, "results": folder / "results",
            "run": folder / "results" / "runs" / "meanflow-random"}


def test_every_folder_of_a_smoke_run_is_marked(smoke):
    results = smoke["results"]
    for folder in (results, results / "random" / "static", smoke["run"]):
        record = json.loads((folder / SMOKE_FILE).read_text())
        assert record["smoke_run"] is True and "not for use" in record["note"], folder
    assert len(list((results / "random").glob(f"*/{SMOKE_FILE}"))) == 2  # Static and MeanFlow


def test_a_forecast_from_a_smoke_model_is_marked_and_warned(smoke, tmp_path, capsys):
    e = OperandoDataset.load(smoke["data"])["cu-0"]
    spectrum = tmp_path / "static.csv"
    rows = zip(e.wavenumber_cm1.tolist(), e.absorbance[0].tolist())
    spectrum.write_text("Wavenumber [cm-1],Absorbance\n" + "".join(f"{w!r},{a!r}\n" for w, a in rows))
    voltage = tmp_path / "voltage.csv"
    rows = zip(e.time_s.tolist(), e.voltage_v.tolist())
    voltage.write_text("Time [s],Voltage [V]\n" + "".join(f"{t!r},{v!r}\n" for t, v in rows))
    meta = tmp_path / "experiment.json"
    meta.write_text(e.meta.to_json())
    out = tmp_path / "forecast"
    assert main(["ir", "forecast", "--run", str(smoke["run"]), "--spectrum", str(spectrum), "--voltage",
                 str(voltage), "--meta", str(meta), "-o", str(out), "--steps", "5"]) == 0
    printed = capsys.readouterr().out
    assert "WARNING:" in printed and "SMOKE RUN (--quick)" in printed and "this forecast means nothing" in printed
    assert json.loads((out / "forecast.json").read_text())["smoke_run"] is True


def test_the_report_of_a_smoke_run_says_so_in_its_header(smoke, tmp_path):
    from operando.ir.report import write_report

    page = write_report(tmp_path / "report.html", data=smoke["data"], results=smoke["results"],
                        experiments=["cu-3"], n_samples=2).read_text()
    head = page[:page.index("<h2")]
    assert '<p class="smoke">SMOKE RUN (--quick): tiny training budgets' in head
    assert "<th>Smoke run</th><td>yes: made with --quick</td>" in head.replace("\n", "")


def test_the_pipeline_recommends_no_smoke_model(monkeypatch, tmp_path, capsys):
    """The pipeline's last lines, its stages replaced by stand-ins (they are tested elsewhere)."""
    import operando.ir.bench.suite as suite
    import operando.ir.data.stats as stats
    import operando.ir.report as report
    import operando.ir.simulate as simulate

    toy = OperandoDataset([toy_experiment("cu-0")], simulated=True)
    monkeypatch.setattr(simulate, "simulate_dataset", lambda seed: toy)
    monkeypatch.setattr(simulate, "simulate_calibration", lambda seed: toy)
    monkeypatch.setattr(stats, "dataset_stats", lambda ds: {})
    monkeypatch.setattr(stats, "format_stats", lambda s: "")
    monkeypatch.setattr(stats, "plot_dataset_stats", lambda ds, out, stats=None: [])
    monkeypatch.setattr(suite, "run_suite", lambda *a, **k: {})
    monkeypatch.setattr(report, "write_report", lambda path, **k: Path(path))
    assert main(["pipeline", "--out", str(tmp_path / "quick"), "--quick"]) == 0
    quick = capsys.readouterr().out
    assert "default model for your own cells" not in quick
    assert "SMOKE RUN (--quick)" in quick and "no model of" in quick and "is recommended" in quick
    assert main(["pipeline", "--out", str(tmp_path / "full")]) == 0
    assert "default model for your own cells" in capsys.readouterr().out


def test_a_full_run_over_a_smoke_run_clears_the_marks(smoke, tmp_path):
    import shutil

    from operando.ir.bench import suite

    results = tmp_path / "results"
    shutil.copytree(smoke["results"], results)
    suite.run_suite(smoke["data"], ["static"], ("random",), results, log=lambda line: None, progress=False)
    assert not (results / "random" / "static" / SMOKE_FILE).exists()
    assert (results / SMOKE_FILE).exists()  # MeanFlow's smoke results are still there
    shutil.rmtree(results / "random" / "meanflow-small-1-step")  # its results ...
    shutil.rmtree(results / "runs" / "meanflow-random")  # ... and its model: nothing of the smoke run is left
    suite.run_suite(smoke["data"], ["static"], ("random",), results, log=lambda line: None, progress=False)
    assert not (results / SMOKE_FILE).exists()


def test_the_report_shows_the_provenance_docs_report_md_promises(smoke, tmp_path):
    # docs/ir/report.md: "run (name, split, seed, objective, training steps)"; a bench run folder
    # (no run.json, as the pipeline's) showed only its path.
    from operando.ir.report import write_report

    page = write_report(tmp_path / "report.html", data=smoke["data"], results=smoke["results"], run=smoke["run"],
                        experiments=["cu-3"], n_samples=2).read_text().replace("\n", "")
    assert "<th>Run</th><td>meanflow-random (split random, seed 0)</td>" in page
    assert "<th>Model</th><td>meanflow / small / target chemical_flow</td>" in page
    assert "<th>Training steps</th><td>20</td>" in page
