"""``ltvxl docs``: docs/functions.md from the worksheet function declarations."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The options of ``ltvxl docs``."""
    docs = sub.add_parser(
        "docs",
        help="write docs/functions.md from the function declarations",
        description="Write the reference of every worksheet function (Markdown), generated "
        "from the declarations in ltvxl.udfs. Run it from the repository root.",
    )
    docs.add_argument("-o", "--output", default="docs/functions.md",
                      help="file to write (default: docs/functions.md)")
    docs.add_argument("--check", action="store_true",
                      help="only check that the file is up to date (exit 1 if not)")
    docs.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the reference, or with ``--check`` compare it (exit status 1 if stale)."""
    from .. import docs_gen

    if args.check:
        import ltvxl.udfs  # noqa: F401  (declares the functions)

        out = Path(args.output)
        current = out.read_text(encoding="utf-8") if out.exists() else ""
        if current != docs_gen.render():
            print(f"{args.output} is out of date: run `{docs_gen.COMMAND}`", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    print(f"Wrote {docs_gen.write(args.output)}")
    return 0
