"""``ltvxl report``: a transaction file into a finished report workbook (the main job)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from ..errors import LtvxlError
from ..models import registry
from . import engine_clv
from .assumptions import add_options, from_args
from .clv import AUTO, model_key, models_help
from .reading import add_read_arguments, read_options

BIG_INPUT_BYTES = 5_000_000
"""Input files larger than this show progress from the start."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The options of ``ltvxl report``."""
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
    add_read_arguments(report, channel=True)
    add_options(report)
    report.add_argument("--model", default=registry.DEFAULT.key, type=model_key,
                        metavar="MODEL",
                        help=f"purchase model of the predictions: {models_help()}, or auto: "
                        "the one with the lowest hold-out error (the Validation sheet says "
                        "which and why)")
    engine_clv.add_arguments(report)
    report.add_argument("--sample-rows", type=int, metavar="N",
                        help="with --engine duckdb|spark: the most transactions of the "
                        "sample the report is computed on (every transaction of customers "
                        f"chosen by a hash of their id; default {engine_clv.SAMPLE_ROWS:,}, at "
                        "most a worksheet's rows)")
    report.add_argument("--covariates", metavar="FILE",
                        help="CSV or XLSX with the customer id in the first column and one "
                        "column per covariate (e.g. channel, gender): put on a Covariates "
                        "sheet that the Predictions sheet's model reads (pnbd or bgnbd)")
    report.add_argument("--spend-covariates", action="store_true",
                        help="with --covariates: the Predictions sheet's spend model uses them "
                        "too (Gamma-Gamma whose mean spend depends on the covariates; "
                        "CLV_PREDICT's and CLV_FIT's spend COVARIATES)")
    report.add_argument("--shared", metavar="NAME", action="append",
                        help="with --covariates: a covariate (a column, or NAME=LEVEL of a "
                        "category) whose coefficient is one number in both processes ('both: "
                        "NAME' on CLV_FIT's table); repeat for several")
    report.add_argument("--template",
                        help="fill a copy of this workbook (e.g. your own copy of "
                        "templates/ltv_template.xlsx) instead of the standard template")
    report.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the report and print its summary."""
    from ..report import Progress, print_checks, print_summary, write_report

    loaded = None
    engine = engine_clv.chosen_engine(args)
    if engine != "memory":
        loaded = _engine_sample(args, engine)
    elif args.sample_rows is not None:
        raise LtvxlError("--sample-rows needs --engine duckdb or spark (the in-memory "
                         "report holds every transaction)")
    big = args.transactions is not None and Path(args.transactions).is_file() and \
        Path(args.transactions).stat().st_size > BIG_INPUT_BYTES
    given = dataclasses.replace(from_args(args), model=args.model.upper() if args.model == AUTO
                                else registry.purchase_model(args.model).choice)
    cov = None
    if (args.shared or args.spend_covariates) and not args.covariates:
        flag = "--shared" if args.shared else "--spend-covariates"
        raise LtvxlError(f"{flag} uses the covariates of --covariates FILE: give the file")
    if args.covariates is not None:
        from ..models.covariates import LINKS
        from .covariates_clv import read_table

        if args.model not in LINKS:
            raise LtvxlError(f"--covariates works with --model {' or '.join(LINKS)}, not "
                             f"{args.model}")
        cov = read_table(args.covariates)
    summary = write_report(
        args.output, args.transactions, read=read_options(args),
        template=args.template, progress=Progress(eager=big), assumptions=given,
        loaded=loaded, covariates=cov,
        covariates_name=Path(args.covariates or "covariates").name,
        spend_covariates=args.spend_covariates, shared=tuple(args.shared or ()))
    for warning in summary.warnings:
        print(f"ltvxl: warning: {warning}", file=sys.stderr)
    print_summary(summary)
    print_checks(summary)
    return 0


def _engine_sample(args: argparse.Namespace, engine: str) -> tuple[object, str | None, str]:
    """The report's log from an engine: every transaction of a hash sample of customers,
    at most --sample-rows (:mod:`ltvxl.engines.sample`); the source line says so."""
    from ..engines import open_source
    from ..engines.sample import customer_sample

    if args.output_table:
        raise LtvxlError("--output-table does not apply to ltvxl report (it writes -o FILE.xlsx)")
    eng = engine_clv.open_for(args, engine, channel=True)
    try:
        options = engine_clv.source_options(args, channel=True)
        src = open_source(str(args.transactions), engine=eng, **options)
        sample = customer_sample(src, args.sample_rows or engine_clv.SAMPLE_ROWS)
    finally:
        eng.close()
    print(src.columns.describe())
    name = Path(str(args.transactions)).name or str(args.transactions)
    line = sample.line(name)
    if not sample.complete:
        print(f"{sample.what()}, {sample.rows:,} of {sample.all_rows:,} transactions "
              f"(--sample-rows {args.sample_rows or engine_clv.SAMPLE_ROWS:,})")
    return sample.log, src.columns.channel, line
