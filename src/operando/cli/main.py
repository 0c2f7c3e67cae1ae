"""Entry point of the ``operando`` command.

Each subcommand lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``func(args) -> int``.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from operando.errors import OperandoError

# Module names under operando.cli, in the order `operando --help` lists them.
SUBCOMMAND_MODULES = [
    "pipeline",
    "simulate",
    "import_export",
    "import_operando",
    "data",
    "train",
    "predict",
    "forecast",
    "bench",
    "decompose",
    "report",
    "citations",
]


def build_parser() -> argparse.ArgumentParser:
    from operando import __version__

    parser = argparse.ArgumentParser(
        prog="operando",
        description="Physics-informed ML for operando battery IR spectroscopy (ABCC, OpIRBench).")
    parser.add_argument("--version", action="version", version=f"operando {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(f"operando.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except OperandoError as e:
        print(f"operando {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
