"""The ``ltvxl`` command: headless jobs on workbooks and transaction files."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .errors import LtvxlError


def _cmd_report(args: argparse.Namespace) -> int:
    from .example import UnitEconomicsInputs
    from .report import Progress, print_summary, write_report

    big = args.transactions is not None and Path(args.transactions).is_file() and \
        Path(args.transactions).stat().st_size > 5_000_000
    inputs = UnitEconomicsInputs() if args.cac is None else UnitEconomicsInputs(cac=args.cac)
    summary = write_report(
        args.output, args.transactions, id_col=args.id_col, date_col=args.date_col,
        amount_col=args.amount_col, channel_col=args.channel_col, sheet=args.sheet,
        inputs=inputs, template=args.template, progress=Progress(eager=big))
    for warning in summary.warnings:
        print(f"ltvxl: warning: {warning}", file=sys.stderr)
    print_summary(summary)
    return 0


def _cmd_functions(args: argparse.Namespace) -> int:
    from .udfs import FUNCTIONS
    from .worksheet import spec_of

    for name, func in FUNCTIONS.items():
        spec = spec_of(func)
        sig = ", ".join(f"[{a.name}]" if a.optional else a.name for a in spec.args)
        print(f"{name}({sig})")
        if args.verbose:
            print(f"    {spec.description}")
    return 0


def _cmd_docs(args: argparse.Namespace) -> int:
    from . import docs_gen

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


def _cmd_template(args: argparse.Namespace) -> int:
    from .report import Progress
    from .workbook.template import TEMPLATE_PATH, build_template

    out = Path(args.output) if args.output else TEMPLATE_PATH
    result = build_template(out, progress=Progress())
    for warning in result.warnings:
        print(f"ltvxl: warning: {warning}", file=sys.stderr)
    print(f"Wrote {result.output} ({result.formulas:,} formulas, computed)")
    return 0


def _cmd_refresh(args: argparse.Namespace) -> int:
    from .report import Progress
    from .workbook.refresh import refresh

    result = refresh(args.book, args.output, in_place=args.in_place, keep_going=args.keep_going,
                     progress=Progress())
    for warning in result.warnings:
        print(f"ltvxl: warning: {warning}", file=sys.stderr)
    print(f"Refreshed {result.formulas:,} formulas ({result.spilled_cells:,} spilled cells) "
          f"in {result.seconds:.1f} s: wrote {result.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ltvxl",
        description="Customer-lifetime-value analytics for Excel workbooks, without Excel.",
    )
    parser.add_argument("--version", action="version", version=f"ltvxl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    report = sub.add_parser(
        "report",
        help="write a report workbook (the main job)",
        description="Read a transaction file (CSV, Parquet or XLSX; the built-in sample "
        "transactions when none is given), put it into a copy of the template workbook, "
        "compute every formula and print a short summary. Column names are detected "
        "(customer_id, date, amount, channel...) unless given.",
    )
    report.add_argument("transactions", nargs="?",
                        help="transaction file (default: the built-in sample)")
    report.add_argument("-o", "--output", default="report.xlsx",
                        help="workbook to write (default: report.xlsx)")
    report.add_argument("--id-col", help="column of customer ids")
    report.add_argument("--date-col", help="column of transaction dates")
    report.add_argument("--amount-col", help="column of amounts")
    report.add_argument("--channel-col", help="column of acquisition channels (optional)")
    report.add_argument("--sheet", help="sheet of an XLSX file (default: the first)")
    report.add_argument("--cac", type=float,
                        help="customer acquisition cost for the Inputs sheet (default: 500)")
    report.add_argument("--template",
                        help="fill a copy of this workbook (e.g. your own copy of "
                        "templates/ltv_template.xlsx) instead of the standard template")
    report.set_defaults(func=_cmd_report)

    functions = sub.add_parser("functions", help="list the worksheet functions")
    functions.add_argument("-v", "--verbose", action="store_true", help="with descriptions")
    functions.set_defaults(func=_cmd_functions)

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
    docs.set_defaults(func=_cmd_docs)
    _add_addin_command(sub)
    _add_clv_command(sub)

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
    refresh.set_defaults(func=_cmd_refresh)

    template = sub.add_parser(
        "template",
        help="build the template workbook (templates/ltv_template.xlsx)",
        description="Build the template workbook on the built-in sample transactions and "
        "refresh it, so that it carries computed values.",
    )
    template.add_argument("-o", "--output",
                          help="workbook to write (default: templates/ltv_template.xlsx)")
    template.set_defaults(func=_cmd_template)
    return parser


def _add_addin_command(sub: argparse._SubParsersAction) -> None:
    from .addin.install import add_arguments, run

    addin = sub.add_parser(
        "addin",
        help="install, remove or check the Excel add-in (Windows desktop Excel)",
        description="Install ltvxl.xlam where Excel loads it and point xlwings at this "
        "Python and at ltvxl.udfs; remove undoes exactly that; status checks each piece.",
    )
    add_arguments(addin)
    addin.set_defaults(func=run)


def _add_clv_command(sub: argparse._SubParsersAction) -> None:
    from .models.command import add_arguments, run

    clv = sub.add_parser(
        "clv",
        help="predict each customer's CLV from a transaction file (Pareto/NBD + Gamma-Gamma)",
        description="Fit the purchase model (Pareto/NBD by default, BG/NBD or MBG/NBD) and "
        "Gamma-Gamma "
        "to a transaction file and write P(alive), expected purchases, expected spend, "
        "discounted CLV and churn risk per customer to a CSV file.",
    )
    add_arguments(clv)
    clv.set_defaults(func=run)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except LtvxlError as exc:
        print(f"ltvxl: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ltvxl: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"ltvxl: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
              file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
