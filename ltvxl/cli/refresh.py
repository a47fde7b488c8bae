"""``ltvxl refresh``: recompute every formula of a workbook without Excel."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The options of ``ltvxl refresh``."""
    refresh = sub.add_parser(
        "refresh",
        help="recompute every formula of a workbook without Excel",
        description="Recompute the formulas of BOOK (native Excel functions and ltvxl "
        "functions) and store the results as the cells' values. The input is not changed "
        "unless --in-place is given.",
    )
    refresh.add_argument("book", help="the .xlsx workbook to refresh")
    refresh.add_argument("-o", "--output",
                         help="workbook to write (default: BOOK.refreshed.xlsx beside BOOK)")
    refresh.add_argument("--in-place", action="store_true", help="overwrite BOOK")
    refresh.add_argument("--keep-going", action="store_true",
                         help="write the output even where some formula cells cannot be "
                         "computed: they keep their previous values and are listed (also in "
                         "the output's custom document properties)")
    refresh.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Refresh the workbook and print what was computed."""
    from ..report import Progress
    from ..workbook.refresh import error_report, refresh

    result = refresh(args.book, args.output, in_place=args.in_place, keep_going=args.keep_going,
                     progress=Progress())
    for warning in result.warnings + ([error_report(result.errors)] if result.errors else []):
        print(f"ltvxl: warning: {warning}", file=sys.stderr)
    print(f"Refreshed {result.formulas:,} formulas ({result.spilled_cells:,} spilled cells) "
          f"in {result.seconds:.1f} s: wrote {result.output}")
    return 0
