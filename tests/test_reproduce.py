"""benchmarks/reproduce_results.py: the step graph behind docs/results.md, and its resumable runner."""
import sys

from conftest import load_benchmark

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
    from operando.models import PIPELINE_MODELS
    assert {f"bench-{m}-system-seed-0" for m in PIPELINE_MODELS} <= set(names)


def fake_steps(log):
    ok = (sys.executable, "-c", f"open({str(log)!r}, 'a').write('x')")
    return [reproduce.Step("one", ok), reproduce.Step("two", ok, after=("one",)),
            reproduce.Step("fails", (sys.executable, "-c", "raise SystemExit(3)")),
            reproduce.Step("three", ok, after=("fails",))]


def test_the_runner_skips_finished_steps_and_stops_what_waits_on_a_failed_one(tmp_path, monkeypatch):
    log = tmp_path / "ran.txt"
    monkeypatch.setattr(reproduce, "steps", lambda out, docs: fake_steps(log))
    assert reproduce.main(["--out", str(tmp_path), "--jobs", "2"]) == 1      # "fails" failed
    assert log.read_text() == "xx"                                         # one and two, not three
    assert sorted(p.name for p in (tmp_path / "reproduce").glob("*.done")) == ["one.done", "two.done"]
    assert reproduce.main(["--out", str(tmp_path), "--only", "two"]) == 0   # done: nothing to run
    assert log.read_text() == "xx"
    (tmp_path / "reproduce" / "one.done").unlink()
    assert reproduce.main(["--out", str(tmp_path), "--only", "one"]) == 0
    assert log.read_text() == "xxx"
