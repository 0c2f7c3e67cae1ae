"""``operando xrm <verb>``: one module per verb, each with ``register(subparsers)`` (the contract of
:mod:`operando.cli`). The lead wires them under ``operando xrm``; :func:`build_parser` builds a
stand-alone parser from them (tests, ``python -m operando.xrm.cli``)."""
from __future__ import annotations

import argparse
import importlib

VERB_MODULES = ["simulate", "infer", "bench"]


def build_parser(prog: str = "operando xrm") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Operando X-ray spectromicroscopy (SOC, current, "
                                                            "potential and conductivity maps).")
    sub = parser.add_subparsers(dest="command", metavar="VERB")
    for name in VERB_MODULES:
        importlib.import_module(f"operando.xrm.cli.{name}").register(sub)
    return parser


def main(argv=None) -> int:
    import sys

    from operando.errors import OperandoError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except OperandoError as e:
        print(f"operando xrm {args.command}: error: {e}", file=sys.stderr)
        return 1
