"""``ltvxl functions``: the worksheet functions, one line each."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The options of ``ltvxl functions``."""
    functions = sub.add_parser("functions", help="list the worksheet functions")
    functions.add_argument("-v", "--verbose", action="store_true", help="with descriptions")
    functions.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print each function's signature (optional arguments in brackets)."""
    from ..udfs import FUNCTIONS
    from ..worksheet import spec_of

    for name, func in FUNCTIONS.items():
        spec = spec_of(func)
        sig = ", ".join(f"[{a.name}]" if a.optional else a.name for a in spec.args)
        print(f"{name}({sig})")
        if args.verbose:
            print(f"    {spec.description}")
    return 0
