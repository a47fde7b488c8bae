"""``ltvxl template``: build the template workbook on the built-in sample."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The options of ``ltvxl template``."""
    template = sub.add_parser(
        "template",
        help="build the template workbook (templates/ltv_template.xlsx)",
        description="Build the template workbook on the built-in sample transactions and "
        "refresh it, so that it carries computed values.",
    )
    template.add_argument("-o", "--output",
                          help="workbook to write (default: templates/ltv_template.xlsx)")
    template.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build, refresh and write the template."""
    from ..report import Progress
    from ..workbook.template import TEMPLATE_PATH, build_template

    out = Path(args.output) if args.output else TEMPLATE_PATH
    result = build_template(out, progress=Progress())
    for warning in result.warnings:
        print(f"ltvxl: warning: {warning}", file=sys.stderr)
    print(f"Wrote {result.output} ({result.formulas:,} formulas, computed)")
    return 0
