"""``operando citations``: print what to cite."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("citations", help="print the references to cite", description="print the references to cite")
    p.add_argument("keys", nargs="*", help="only these references")
    p.set_defaults(func=run)


def run(args) -> int:
    from operando.citations import CITATIONS, print_citations
    from operando.errors import InputError

    unknown = [k for k in args.keys if k not in CITATIONS]
    if unknown:
        raise InputError(None, f"unknown citation keys {unknown}; known: {sorted(CITATIONS)}")
    print_citations(args.keys or None)
    return 0
