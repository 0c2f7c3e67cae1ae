"""The package's layout: no import cycle, the shared core independent of the techniques, the
techniques independent of each other, and a command line grouped by technique."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from operando.cli.main import TECHNIQUES, build_parser, main

SRC = Path(__file__).resolve().parents[1] / "src" / "operando"
TECHNIQUE_PACKAGES = tuple(f"operando.{group}" for group, _, _ in TECHNIQUES)


def module_files() -> dict[str, Path]:
    modules = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports, anywhere in it (top level, inside functions,
    under TYPE_CHECKING). ``from pkg import name`` points at ``pkg.name`` when that is a module
    and at ``pkg`` otherwise; the implicit import of a module's parent packages is not an edge."""
    modules = module_files()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative import
                    anchor = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    if target in modules:
                        edges.add(target)
                    elif base in modules:
                        edges.add(base)
        graph[name] = edges - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def technique_of(module: str) -> str | None:
    return next((p for p in TECHNIQUE_PACKAGES if module == p or module.startswith(p + ".")), None)


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle():
    assert cycles(import_graph()) == []


def test_the_shared_core_imports_no_technique_and_techniques_not_each_other():
    graph = import_graph()
    assert "operando.ir.models.generative" in graph and "operando.echem.eclab" in graph  # the walk saw the tree
    wrong = []
    for module, targets in graph.items():
        if module.startswith("operando.cli."):  # the command line and the main job compose the techniques
            continue
        own = technique_of(module)
        for target in targets:
            other = technique_of(target)
            if other is not None and other != own:
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_every_technique_has_a_package_with_a_docstring():
    for package in TECHNIQUE_PACKAGES:
        init = SRC.parent / package.replace(".", "/") / "__init__.py"
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), package


def test_help_is_a_map_of_the_techniques(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "  ir " in text and "forecast bench decompose" in text and "pipeline" in text and "citations" in text
    assert len(text.splitlines()) <= 16


def test_every_ir_verb_is_under_ir_and_the_old_spelling_says_where_it_went(capsys):
    parser = build_parser()
    assert {"simulate", "import", "export", "import-operando", "data", "train", "predict", "forecast", "bench",
            "decompose", "plot", "report"} <= set(parser.verbs_by_group["ir"])
    assert main(["bench", "--all"]) == 2
    assert "operando ir bench" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["ir", "bench", "--help"])
    assert "usage: operando ir bench" in capsys.readouterr().out
