"""Entry point of the ``operando`` command: one group of verbs per technique, plus the verbs
that belong to none (the main job, citations).

Each verb lives in its own module and exposes ``register(subparsers)``, which adds its parser
and sets ``func(args) -> int``. A technique lists its verb modules in ``<technique>.cli``
(``VERB_MODULES``); ``operando <technique> <verb>`` runs them.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from operando.errors import OperandoError

# (group, package of its verb modules, one line for `operando --help`), in the order listed.
TECHNIQUES = [
    ("ir", "operando.ir.cli", "infrared: forecast a cell's operando IR sequence (ABCC), OpIRBench, SEI pathways"),
    ("xas", "operando.xas.cli", "X-ray absorption: coordination and oxidation state from K-edge XANES (SPT)"),
    ("xrm", "operando.xrm.cli", "X-ray spectromicroscopy: state-of-charge, current and potential maps"),
]
# Verbs of no one technique, as modules of this package.
GENERAL_MODULES = ["pipeline", "citations"]


class _MapParser(argparse.ArgumentParser):
    """The top-level parser: its help is a map, each technique with its verbs."""

    def format_help(self) -> str:
        width = max(len(name) for name in self.summaries) + 2
        lines = ["usage: operando [--version] COMMAND ...", "",
                 "Physics-informed machine learning for operando battery spectroscopy.", ""]
        for name, summary in self.summaries.items():
            lines.append(f"  {name:<{width}}{summary}")
            if name in self.verbs_by_group:
                lines.append(f"  {'':<{width}}  {' '.join(self.verbs_by_group[name])}")
        lines += ["", "`operando COMMAND --help` for more; docs/<technique>/ documents each technique."]
        return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    from operando import __version__

    parser = _MapParser(prog="operando")
    parser.add_argument("--version", action="version", version=f"operando {__version__}")
    sub = parser.add_subparsers(dest="group", metavar="COMMAND", title="commands", parser_class=argparse.ArgumentParser)
    parser.verbs_by_group, parser.summaries = {}, {}
    for group, package, summary in TECHNIQUES:
        g = sub.add_parser(group, help=summary, description=summary)
        g_sub = g.add_subparsers(dest="verb", metavar="VERB", title="verbs")
        for name in importlib.import_module(package).VERB_MODULES:
            importlib.import_module(f"{package}.{name}").register(g_sub)
        g.set_defaults(group_parser=g)
        parser.verbs_by_group[group] = list(g_sub.choices)
        parser.summaries[group] = summary
    for name in GENERAL_MODULES:
        importlib.import_module(f"operando.cli.{name}").register(sub)
        parser.summaries[name] = sub.choices[name].description or ""
    return parser


def moved_verb(parser: argparse.ArgumentParser, argv: list[str]) -> str | None:
    """The new spelling of a verb that was top-level before the techniques got their groups
    (``operando bench`` -> ``operando ir bench``); None for anything else."""
    if argv and argv[0] not in parser.verbs_by_group and argv[0] not in GENERAL_MODULES:
        for group, verbs in parser.verbs_by_group.items():
            if argv[0] in verbs:
                return f"operando {group} {argv[0]}"
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    moved = moved_verb(parser, argv)
    if moved:
        print(f"operando: '{argv[0]}' belongs to a technique now: use `{moved}` (operando --help lists them)",
              file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        getattr(args, "group_parser", parser).print_help()
        return 2
    command = " ".join(part for part in (args.group, getattr(args, "verb", None)) if part)
    try:
        return int(args.func(args) or 0)
    except OperandoError as e:
        print(f"operando {command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
