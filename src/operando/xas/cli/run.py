"""Stand-alone runner of the ``operando xas`` verbs until the main CLI wires them in:
``python -m operando.xas.cli.run VERB ...`` (same parser contract, same error handling)."""
from __future__ import annotations

import argparse
import importlib
import sys

from operando.errors import OperandoError
from operando.xas.cli import VERB_MODULES


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="operando xas", description="XAS: structure from K-edge XANES (SPT).")
    sub = parser.add_subparsers(dest="command", metavar="VERB")
    for name in VERB_MODULES:
        importlib.import_module(f"operando.xas.cli.{name}").register(sub)
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
        print(f"operando xas {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
