"""Every run behind docs/ir/results.md, from nothing, resumable; then the page itself.

    python benchmarks/ir/reproduce_results.py                   # all of it (roughly 13 h of two cores, estimated)
    python benchmarks/ir/reproduce_results.py --list            # the steps, done or not, and their commands

Each step is one command. A finished step leaves ``<out>/reproduce/<step>.done`` (its command
and wall time), and each step's output goes to ``<out>/reproduce/<step>.log``; a rerun skips the
finished steps and resumes an interrupted training from its checkpoint (flow models checkpoint
every 500 steps), so the whole can be spread over several sittings. ``--only PREFIX ...`` runs
just the steps whose names start with one of the prefixes (``--only bench-abcc``).

The record. A development machine keeps nothing between sittings but the repository, so every
finished step's small outputs (tables, summaries, per-spectrum scores, run configs and training
logs, reduced test errors; not weights, checkpoints, predictions or datasets) are copied into
``benchmarks/ir/record/`` (``--record``), which is committed. A step recorded there is done, and the
steps that only read the record (the point-bias tables, the ablation merge, the page) take their
inputs from it, so the page can be made from runs of several sittings. A step that needs the
files a recorded step left in ``--out`` (the speed tables read trained weights; every training
reads the simulated dataset) runs that step again first when those files are not there.

By default one step runs at a time on every core, so that each training ends as soon as it can
(an unfinished training resumes only from the checkpoints in ``--out``, which another sitting
does not have): ABCC's registered system-split step, a main model and two fold models (18,000
steps, 6,000 of them in the L_moment phase), takes about 95 minutes so (two threads, measured
2026-12-04: 0.25 s per plain step, 0.43 s per phase step). With ``--jobs 2`` two steps run side
by side at one torch thread each, for one long sitting: measured earlier on a busier machine,
0.71 s per step in each of two processes against 0.57 s in one two-thread process, so that
same step then takes more than three hours. Steps that time themselves (``speed-training``) run
alone.

The seeds follow the page's tables: every model at training seed 0 on both splits, ABCC and
the MLP (the models that are close on the random split) at seeds 0, 1, 2, MeanFlow at 0 and 1.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from operando.atomic import atomic_path, write_text

PY = sys.executable
HERE = Path(__file__).resolve().parent
SPLITS = ("random", "system")
SEEDS = {"abcc": (0, 1, 2), "mlp": (0, 1, 2), "meanflow": (0, 1)}


RECORD = HERE / "record"
# What the record keeps: text files and the reduced test errors, each at most RECORD_MAX_BYTES.
RECORD_SUFFIXES = (".md", ".csv", ".json", ".done", ".log", ".txt")
RECORD_NAMES = ("errors.npz",)
RECORD_MAX_BYTES = 2_000_000


@dataclass(frozen=True)
class Step:
    """One command; it runs after the steps named in ``after`` have finished; ``alone``: with no
    other step beside it (it measures time); ``reads_record``: its inputs come from the record,
    so the steps it waits on may have run in another sitting."""
    name: str
    argv: tuple[str, ...]
    after: tuple[str, ...] = ()
    alone: bool = False
    reads_record: bool = False


def then(*commands: tuple[str, ...]) -> tuple[str, ...]:
    """Several commands as one step's argv: each runs if the one before succeeded."""
    return ("sh", "-c", " && ".join(shlex.join(c) for c in commands))


def steps(out: Path, docs: Path, record: Path = RECORD) -> list[Step]:
    """The steps in the order they are started (dependencies are in ``after``)."""
    from operando.ir.models import PIPELINE_MODELS

    data, calibration, results = out / "opirspec7k-sim.h5", out / "calibration.h5", out / "results"
    d = ("--data", str(data))
    made = ("simulate", "simulate-calibration")
    todo = [Step("simulate", (PY, "-m", "operando", "ir", "simulate", "-o", str(data))),
            Step("simulate-calibration", (PY, "-m", "operando", "ir", "simulate", "--calibration", "-o", str(calibration)))]
    bench = {split: [] for split in SPLITS}
    # The slowest first (ABCC at every seed, then the other flow models), so that two jobs end
    # together rather than one long training running alone at the end.
    order = sorted(PIPELINE_MODELS, key=lambda m: ("abcc", "meanflow", "flow-matching").index(m)
                   if m in ("abcc", "meanflow", "flow-matching") else 3)
    for model in order:
        for seed in SEEDS.get(model, (0,)):
            for split in SPLITS:
                name = f"bench-{model}-{split}-seed-{seed}"
                bench[split].append(name)
                # the test errors reduced to kilobytes for the record (bench_point_bias.py)
                todo.append(Step(name, then((PY, "-m", "operando", "ir", "bench", *d, "--model", model, "--split", split,
                                             "--seed", str(seed), "--out", str(results)),
                                            (PY, str(HERE / "bench_point_bias.py"), *d, "--results", str(results),
                                             "--split", split, "--reduce")), made))
    for split in SPLITS:
        todo.append(Step(f"point-bias-{split}", (PY, str(HERE / "bench_point_bias.py"), "--results",
                                                  str(record / "results"), "--split", split), tuple(bench[split]),
                         reads_record=True))
    one = ("--threads", "1")
    todo += [
        Step("speed-sampling", (PY, str(HERE / "bench_sampling.py"), *d, "--results", str(results), "--split", "system",
                                *one), ("bench-meanflow-system-seed-0", "bench-flow-matching-system-seed-0")),
        Step("speed-draws-abcc-random", (PY, str(HERE / "bench_sampling.py"), *d, "--results", str(results),
                                         "--split", "random", "--models", "abcc", "--draws", "1", "4", "16", "64", "256",
                                         *one, "--out", str(results / "speed-draws-abcc-random")),
             ("bench-abcc-random-seed-0",)),
        Step("speed-draws-random", (PY, str(HERE / "bench_sampling.py"), *d, "--results", str(results),
                                    "--split", "random", "--models", "meanflow", "--draws", "1", "4", "16", "64",
                                    *one, "--out", str(results / "speed-draws-random")),
             ("bench-meanflow-random-seed-0",)),
    ]
    for split in SPLITS:
        todo.append(Step(f"routes-{split}", (PY, str(HERE / "bench_routes.py"), *d, "--split", split, "--steps", "3000",
                                             "--vae-steps", "1000", "--image-size", "32", "--image-width", "256", *one,
                                             "--out", str(out / f"routes-{split}")), made))
    ablation = (PY, str(HERE / "ablation.py"), *d, "--calibration", str(calibration), "--steps", "1000", *one)
    parts = {"ablation-seed-0": ("--seeds", "0"), "ablation-seed-1": ("--seeds", "1"),
             "ablation-seed-2a": ("--seeds", "2", "--variants", "1", "2", "3"),
             "ablation-seed-2b": ("--seeds", "2", "--variants", "4", "5", "6")}
    todo += [Step(name, (*ablation, *args, "--out", str(out / name)), made) for name, args in parts.items()]
    todo.append(Step("ablation-merge", (PY, str(HERE / "ablation.py"), "--merge", *(str(record / n) for n in parts),
                                        "--out", str(record / "ablation")), tuple(parts), reads_record=True))
    todo.append(Step("speed-training", (PY, str(HERE / "bench_training.py"), *d, "--model", "meanflow", "abcc",
                                        "--results", str(results), "--out", str(results / "speed")),
                     ("bench-abcc-random-seed-0",), alone=True))
    todo.append(Step("results-page", (PY, str(HERE / "regenerate_results.py"), "--results", str(record / "results"),
                                      "--ablation", str(record / "ablation"), "--routes", str(record / "routes-random"),
                                      str(record / "routes-system"), "--scale", "--out", str(docs)),
                     tuple(s.name for s in todo), reads_record=True))
    return todo


def source_version() -> str:
    """The commit the steps ran at (with "+changes" when the work tree differs from it)."""
    def git(*args):
        return subprocess.run(("git", *args), cwd=HERE, capture_output=True, text=True).stdout.strip()
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("+changes" if git("status", "--porcelain", "--untracked-files=no") else "")


def keep_in_record(out: Path, record: Path, unfinished: tuple[str, ...] = ()) -> int:
    """Copy the small outputs under ``out`` into ``record`` (the same relative paths), and the
    parameter count of every run folder's weights as ``parameters.json``; returns the files copied.
    Training checkpoints (resumption state) stay out, and so do the log and the own folder
    (``out/<name>``) of every step named in ``unfinished``: a running or failed step's partial
    files are not a result."""
    from operando.train.checkpoint import CHECKPOINT_DIR, count_values

    partial = {Path(name) for name in unfinished} | {Path("reproduce", f"{name}.log") for name in unfinished}
    copied = 0
    for path in sorted(out.rglob("*")):
        relative = path.relative_to(out)
        if (not path.is_file() or path.name.startswith(".") or CHECKPOINT_DIR in relative.parts
                or partial & {relative, *relative.parents}):
            continue
        target = record / path.relative_to(out)
        if path.name == "model.safetensors":
            content = (json.dumps({"parameters": count_values(path)}) + "\n").encode()
            target = target.with_name("parameters.json")
        elif (path.suffix in RECORD_SUFFIXES or path.name in RECORD_NAMES) and path.stat().st_size <= RECORD_MAX_BYTES:
            content = path.read_bytes()
        else:
            continue
        if target.exists() and target.read_bytes() == content:
            continue
        with atomic_path(target) as tmp:
            tmp.write_bytes(content)
        copied += 1
    return copied


def finished(marks: Path) -> set[str]:
    return {p.name[: -len(".done")] for p in marks.glob("*.done")}


def steps_done(todo: list[Step], here: set[str], recorded: set[str], selected=lambda name: True) -> set[str]:
    """The steps that need not run: finished in this outputs folder (``here``) or recorded, less
    every recorded step whose outputs a step still to run (one not done that ``selected`` takes)
    needs in the outputs folder."""
    done = here | recorded
    for step in reversed(todo):  # a step runs after those it waits on: these come later here
        if step.name in done or step.reads_record or not selected(step.name):
            continue
        done -= {name for name in step.after if name not in here}
    return done


def rewrite_tables(results: Path) -> None:
    """Rewrite each split's tables from every saved summary: jobs side by side each wrote them
    from what was there when they finished."""
    from operando.ir.bench.runner import write_tables

    for split in SPLITS:
        if (results / split).is_dir():
            write_tables(results, split)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("outputs"), help="where the data and every run go")
    p.add_argument("--docs", type=Path, default=HERE.parents[1] / "docs" / "ir" / "results.md", help="the page written last")
    p.add_argument("--jobs", type=int, default=1, help="steps run side by side (one torch thread each when > 1)")
    p.add_argument("--only", nargs="+", default=None, help="run only the steps whose names start with one of these")
    p.add_argument("--record", type=Path, default=RECORD,
                   help="where every finished step's small outputs are kept (committed; see above)")
    p.add_argument("--list", action="store_true", help="print the steps and whether each is done")
    args = p.parse_args(argv)
    marks = args.out / "reproduce"
    todo = steps(args.out, args.docs, args.record)
    names = {s.name for s in todo}
    def selected(name):
        return args.only is None or name.startswith(tuple(args.only))
    done = steps_done(todo, finished(marks) & names, finished(args.record / "reproduce") & names, selected)
    if args.list:
        for s in todo:
            print(f"{'done' if s.name in done else '    '}  {s.name:28s} {' '.join(s.argv[1:])}")
        return 0
    wanted = [s for s in todo if s.name not in done and selected(s.name)]
    marks.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **({"OMP_NUM_THREADS": "1"} if args.jobs > 1 else {})}
    running: dict[str, tuple[subprocess.Popen, float, Step]] = {}
    version = source_version()
    failed = []
    while wanted or running:
        for name, (proc, started, step) in list(running.items()):
            if proc.poll() is None:
                continue
            del running[name]
            seconds = time.time() - started
            if proc.returncode:
                failed.append(name)
                print(f"FAILED {name} (exit {proc.returncode}); see {marks / (name + '.log')}", flush=True)
                continue
            if name.startswith("bench-"):
                rewrite_tables(args.out / "results")
            write_text(marks / f"{name}.done", f"{shlex.join(step.argv)}\n{seconds:.0f} s\ncommit {version}\n")
            done.add(name)
            kept = keep_in_record(args.out, args.record, tuple(s.name for s in todo if s.name not in done))
            rewrite_tables(args.record / "results")  # from every recorded summary, not only this sitting's
            print(f"done   {name} in {seconds:.0f} s ({kept} files into {args.record})", flush=True)
        ready = [s for s in wanted if set(s.after) <= done]
        blocked = [s for s in wanted if set(s.after) & set(failed)]
        wanted = [s for s in wanted if s not in blocked]
        if any(step.alone for _, _, step in running.values()):
            ready = []
        for s in ready:
            if len(running) >= args.jobs or (s.alone and running):
                break
            with (marks / f"{s.name}.log").open("a") as log:  # the child keeps its own copy of the handle
                proc = subprocess.Popen(s.argv, stdout=log, stderr=subprocess.STDOUT, env=env)
            running[s.name] = (proc, time.time(), s)
            wanted.remove(s)
            print(f"start  {s.name}", flush=True)
            if s.alone:
                break
        if not ready and not running and wanted:
            missing = sorted({a for s in wanted for a in s.after} - done)
            print(f"cannot start {[s.name for s in wanted]}: waiting on {missing} (not selected or failed)")
            break
        time.sleep(2)
    if failed:
        print(f"failed: {failed}")
    return 1 if failed or wanted else 0


if __name__ == "__main__":
    sys.exit(main())
