"""benchmarks/ir/reproduce_results.py: the step graph behind docs/ir/results.md, and its resumable runner."""
import json
import sys

from toy import load_benchmark

reproduce = load_benchmark("reproduce_results")


def test_every_step_waits_only_on_earlier_steps_and_the_page_comes_last(tmp_path):
    steps = reproduce.steps(tmp_path, tmp_path / "results.md")
    names = [s.name for s in steps]
    assert len(names) == len(set(names))
    for i, s in enumerate(steps):
        assert set(s.after) <= set(names[:i]), s.name
    assert names[-1] == "results-page" and set(steps[-1].after) == set(names[:-1])
    # ABCC on both splits at three training seeds, each baseline at seed 0 at least
    assert {f"bench-abcc-{split}-seed-{k}" for split in ("random", "system") for k in (0, 1, 2)} <= set(names)
    from operando.ir.models import PIPELINE_MODELS
    assert {f"bench-{m}-system-seed-0" for m in PIPELINE_MODELS} <= set(names)


def fake_steps(log):
    ok = (sys.executable, "-c", f"open({str(log)!r}, 'a').write('x')")
    return [reproduce.Step("one", ok), reproduce.Step("two", ok, after=("one",)),
            reproduce.Step("fails", (sys.executable, "-c", "raise SystemExit(3)")),
            reproduce.Step("three", ok, after=("fails",))]


def test_the_runner_skips_finished_steps_and_stops_what_waits_on_a_failed_one(tmp_path, monkeypatch):
    log = tmp_path / "ran.txt"
    monkeypatch.setattr(reproduce, "steps", lambda out, docs, record: fake_steps(log))
    record = ["--record", str(tmp_path / "record")]
    assert reproduce.main(["--out", str(tmp_path), *record, "--jobs", "2"]) == 1      # "fails" failed
    assert log.read_text() == "xx"                                         # one and two, not three
    assert sorted(p.name for p in (tmp_path / "reproduce").glob("*.done")) == ["one.done", "two.done"]
    assert reproduce.main(["--out", str(tmp_path), *record, "--only", "two"]) == 0   # done: nothing to run
    assert log.read_text() == "xx"
    for folder in (tmp_path, tmp_path / "record"):
        (folder / "reproduce" / "one.done").unlink()
    assert reproduce.main(["--out", str(tmp_path), *record, "--only", "one"]) == 0
    assert log.read_text() == "xxx"


def test_the_record_keeps_small_outputs_and_the_parameter_count_not_weights(tmp_path):
    import torch

    from operando.train.checkpoint import save_tensors

    out, record = tmp_path / "out", tmp_path / "record"
    run = out / "results" / "runs" / "abcc-system"
    run.mkdir(parents=True)
    (run / "metrics.csv").write_text("step,loss\n1,0.5\n")
    save_tensors(run / "model.safetensors", {"w": torch.zeros(3, 4), "b": torch.zeros(4)})
    (run / "checkpoint").mkdir()
    (run / "checkpoint" / "state.json").write_text("{}")   # resumption state: not kept
    (out / "opirspec7k-sim.h5").write_bytes(b"\0" * 10)
    folder = out / "results" / "system" / "abcc-small-1-step"
    folder.mkdir(parents=True)
    (folder / "predictions.npz").write_bytes(b"\0" * 10)
    (folder / "errors.npz").write_bytes(b"\0" * 10)
    (folder / "huge.csv").write_bytes(b"0" * (reproduce.RECORD_MAX_BYTES + 1))
    assert reproduce.keep_in_record(out, record) == 3
    kept = sorted(str(p.relative_to(record)) for p in record.rglob("*") if p.is_file())
    assert kept == ["results/runs/abcc-system/metrics.csv", "results/runs/abcc-system/parameters.json",
                    "results/system/abcc-small-1-step/errors.npz"]
    assert json.loads((record / run.relative_to(out) / "parameters.json").read_text())["parameters"] == 16
    assert reproduce.keep_in_record(out, record) == 0  # unchanged files are not copied again


def test_a_step_not_finished_leaves_nothing_in_the_record(tmp_path):
    out, record = tmp_path / "outputs", tmp_path / "record"
    for name in ("ablation-seed-2b/train/x/metrics.csv", "reproduce/ablation-seed-2b.log",
                 "ablation-seed-2a/train/x/metrics.csv", "reproduce/ablation-seed-2a.log"):
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text("step,loss\n")
    assert reproduce.keep_in_record(out, record, unfinished=("ablation-seed-2b",)) == 2
    kept = sorted(str(p.relative_to(record)) for p in record.rglob("*") if p.is_file())
    assert kept == ["ablation-seed-2a/train/x/metrics.csv", "reproduce/ablation-seed-2a.log"]


def test_a_recorded_step_runs_again_only_where_a_step_needs_its_files_here():
    Step = reproduce.Step
    todo = [Step("simulate", ("x",)), Step("bench", ("x",), after=("simulate",)),
            Step("speed", ("x",), after=("bench",)), Step("table", ("x",), after=("bench",), reads_record=True)]
    assert reproduce.steps_done(todo, here=set(), recorded={"simulate", "bench", "speed", "table"}) == \
        {"simulate", "bench", "speed", "table"}
    # speed reads the weights bench left in the outputs folder, and bench the simulated data
    assert reproduce.steps_done(todo, here=set(), recorded={"simulate", "bench", "table"}) == {"table"}
    assert reproduce.steps_done(todo, here={"simulate", "bench"}, recorded={"simulate", "bench"}) == {"simulate", "bench"}
    # the table reads the record: a bench of another sitting is enough
    assert reproduce.steps_done(todo, here=set(), recorded={"simulate", "bench", "speed"}) == {"simulate", "bench", "speed"}


def test_steps_of_another_sitting_are_taken_from_the_record(tmp_path, monkeypatch):
    log = tmp_path / "ran.txt"

    def write(text, target):
        return (sys.executable, "-c", f"open({str(log)!r}, 'a').write({text!r}); "
                                      f"import pathlib; p = pathlib.Path({str(target)!r}); "
                                      "p.parent.mkdir(parents=True, exist_ok=True); p.write_text('made')")

    def fake(out, docs, record):
        return [reproduce.Step("data", write("d", out / "data.txt")),
                reproduce.Step("train", write("t", out / "run" / "metrics.csv"), after=("data",)),
                reproduce.Step("speed", write("s", out / "speed.md"), after=("train",))]

    monkeypatch.setattr(reproduce, "steps", fake)
    record = tmp_path / "record"
    first = ["--out", str(tmp_path / "sitting-1"), "--record", str(record), "--jobs", "1"]
    assert reproduce.main([*first, "--only", "data", "train"]) == 0
    assert log.read_text() == "dt"
    assert (record / "run" / "metrics.csv").read_text() == "made"
    assert "commit " in (record / "reproduce" / "train.done").read_text()
    # a new sitting, a new outputs folder: nothing recorded runs again but what speed needs here
    second = ["--out", str(tmp_path / "sitting-2"), "--record", str(record), "--jobs", "1"]
    assert reproduce.main([*second, "--only", "data", "train"]) == 0
    assert log.read_text() == "dt"
    assert reproduce.main(second) == 0
    assert log.read_text() == "dtdts"
    assert reproduce.main(second) == 0
    assert log.read_text() == "dtdts"
