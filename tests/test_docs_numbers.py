"""Numbers in the docs that describe a file must be that file's: every line of README.md and
docs/ that names one training config (``configs/<technique>/<name>.toml``) and a number of
steps must give the config's own ``training.steps``.

(docs/ir/bring-your-own-data.md said 3000 steps in one section and 4000 in another for
``configs/ir/meanflow-small.toml``, which trains 6000.)
"""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
CONFIG = re.compile(r"configs/([a-z]+)/([A-Za-z0-9_.-]+)\.toml")
# "6000 steps", "6,000 steps", "100 000 steps", "3000 MeanFlow steps"; not "--set training.steps=20"
STEPS = re.compile(r"(?<![\w.=,])(\d{1,3}(?:[ ,]\d{3})+|\d+)(?:[- ]MeanFlow)? steps\b")


def config_steps(technique: str, name: str) -> int:
    with open(ROOT / "configs" / technique / f"{name}.toml", "rb") as f:
        return int(tomllib.load(f)["training"]["steps"])


def claims() -> list[tuple[str, int, str, int]]:
    """(doc, line number, config, steps stated) for each line naming one config and some steps."""
    found = []
    for doc in DOCS:
        for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), start=1):
            configs = set(CONFIG.findall(line))
            if len(configs) != 1:
                continue
            technique, name = configs.pop()
            for m in STEPS.finditer(line):
                found.append((f"{doc.relative_to(ROOT)}:{number}", technique, name,
                              int(re.sub(r"[ ,]", "", m.group(1)))))
    return found


def test_the_docs_state_steps_of_the_configs():
    # the check has something to check: the docs name the configs' steps in several places
    assert len({c[0] for c in claims()}) >= 4


@pytest.mark.parametrize("where, technique, name, stated", claims(), ids=lambda v: str(v))
def test_steps_in_the_docs_are_the_configs(where, technique, name, stated):
    assert stated == config_steps(technique, name), \
        f"{where} says {stated} steps for configs/{technique}/{name}.toml, which trains {config_steps(technique, name)}"
