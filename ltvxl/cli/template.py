"""``ltvxl template``: build the template workbook on the built-in sample."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_OUTPUT = "ltv_template.xlsx"
"""Written in the current directory without ``-o``: never into the installation (an
installed package has no ``templates/``; an editable one must not have its committed
template overwritten, which ``ltvxl generate`` rebuilds)."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The options of ``ltvxl template``."""
    template = sub.add_parser(
        "template",
        help=f"build the template workbook ({DEFAULT_OUTPUT})",
        description="Build the template workbook on the built-in sample transactions and "
        "refresh it, so that it carries computed values. Fill it with your own "
        "transactions and refresh it in Excel, or use `ltvxl report FILE`.",
    )
    template.add_argument("-o", "--output", default=DEFAULT_OUTPUT,
                          help=f"workbook to write (default: {DEFAULT_OUTPUT} in the current "
                          "directory)")
    template.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build, refresh and write the template."""
    from ..report import Progress
    from ..workbook.template import build_template

    result = build_template(Path(args.output), progress=Progress())
    for warning in result.warnings:
        print(f"ltvxl: warning: {warning}", file=sys.stderr)
    print(f"Wrote {result.output} ({result.formulas:,} formulas, computed)")
    return 0
