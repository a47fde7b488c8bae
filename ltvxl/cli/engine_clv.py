"""``ltvxl clv --engine duckdb|spark``: the same job on files too big for memory, or on a cluster.

The summary runs on the engine, the fits here on its histograms, and the
engine writes the per-customer table (:mod:`ltvxl.engines`). Without
``--engine`` a folder, a glob or a file over :data:`AUTO_BYTES` goes to
DuckDB, which the run says.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time
from pathlib import Path
from typing import Any

AUTO_BYTES = 1 << 30
"""Transaction files larger than this (1 GiB on disk) are summarized by DuckDB by default."""

SAMPLE_ROWS = 300_000
"""Transactions in the sample of ``ltvxl report --engine`` by default (a report of 300,000
transactions takes about 20 s and 800 MiB: docs/template.md)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The engine options of ``ltvxl clv``."""
    parser.add_argument(
        "--engine",
        choices=("memory", "duckdb", "spark"),
        help="where the per-customer summary is computed: memory (pandas/numpy), duckdb "
        "(embedded, for files larger than memory) or spark (a cluster, or local[2]); "
        f"default: duckdb for folders, globs and files over {AUTO_BYTES >> 30} GiB, else memory",
    )
    parser.add_argument(
        "--spark-master",
        help="Spark master URL for --engine spark (default: local[2]; e.g. yarn, spark://host:7077)",
    )
    parser.add_argument(
        "--output-table",
        help="with --engine spark: write the per-customer table to this catalog table "
        "instead of -o",
    )
    parser.add_argument(
        "--memory-limit",
        help="with --engine duckdb: the most memory DuckDB may use before spilling to disk "
        "(e.g. 4GB; default: 4 times the source files' size, at least 100 MB, at most "
        "DuckDB's own default of 80%% of RAM)",
    )


def chosen_engine(args: argparse.Namespace) -> str:
    """The engine of this run: the one asked for, else by the size and shape of the source."""
    if args.engine:
        return str(args.engine)
    source = args.transactions
    if source is None:
        return "memory"
    p = Path(source)
    if p.is_dir() or any(ch in str(source) for ch in "*?["):
        return "duckdb"
    if p.is_file() and p.suffix.lower() in (".csv", ".parquet", ".pq", ".txt", ".tsv"):
        return "duckdb" if os.path.getsize(p) > AUTO_BYTES else "memory"
    return "memory"


def _progress(start: float, what: str) -> None:
    print(f"[{time.perf_counter() - start:6.1f} s] {what}", file=sys.stderr, flush=True)


def open_for(args: argparse.Namespace, engine: str, *, channel: bool = False) -> Any:
    """Check the source and the options of an engine run, say why the engine was chosen
    when it was not asked for, and open the engine."""
    from ltvxl import engines
    from ltvxl.errors import LtvxlError

    if args.transactions is None:
        raise LtvxlError(f"--engine {engine} needs a transaction file, glob or folder")
    source_options(args, channel=channel)  # an option not applied: refused before any work
    if engine == "duckdb" and args.output_table:
        raise LtvxlError("--output-table needs --engine spark; give -o FILE.parquet instead")
    source = str(args.transactions)
    if any(ch in source for ch in "*?[") and not glob.glob(source, recursive=True):
        raise LtvxlError(f"no file matches {source}")
    if not args.engine:
        print(
            f"engine: duckdb ({source} is a folder, a glob or larger than "
            f"{AUTO_BYTES >> 30} GiB; --engine memory to read it into memory)"
        )
    return engines.open_engine(
        engine, spark_master=args.spark_master, memory_limit=getattr(args, "memory_limit", None)
    )


NOT_READ = {
    "quantity_col": "--quantity-col",
    "price_col": "--price-col",
    "channel_col": "--channel-col",
    "sheet": "--sheet",
    "header_row": "--header-row",
    "encoding": "--encoding",
}
"""Reading options of the in-memory readers that the engine path does not apply (the
engines read CSV and Parquet with their own dialect detection, without workbooks)."""


def source_options(args: argparse.Namespace, *, channel: bool = False) -> dict[str, Any]:
    """The column and format options of :func:`ltvxl.engines.open_source` from the
    command line (``channel``: the command reads a channel column); an option the engine
    path would not apply is refused, named."""
    from ltvxl.errors import LtvxlError
    from ltvxl.transactions import ReadOptions

    for key, option in NOT_READ.items():
        if getattr(args, key, None) and not (channel and key == "channel_col"):
            raise LtvxlError(
                f"{option} is not read by --engine {args.engine or 'duckdb'}; use --engine "
                "memory, or prepare the column in the source (the engine path reads CSV and "
                "Parquet with an amount column)")
    return {
        "id_col": args.id_col,
        "date_col": args.date_col,
        "amount_col": args.amount_col,
        "order_col": getattr(args, "order_col", None),
        "date_format": getattr(args, "date_format", None),
        "dayfirst": getattr(args, "dayfirst", None),
        "decimal": getattr(args, "decimal", None),
        "thousands": getattr(args, "thousands", None),
        "missing_id": getattr(args, "missing_id", "drop"),
        "delimiter": ReadOptions(delimiter=getattr(args, "delimiter", None)).delimiter,
        "drop_duplicates": bool(getattr(args, "drop_duplicates", False)),
    } | ({"channel_col": getattr(args, "channel_col", None), "channel": True} if channel else {})


def run(args: argparse.Namespace, engine: str, time_unit: str, print_fit) -> int:
    """Summarize on the engine, fit, score, write; print what was used and the totals."""
    from ltvxl import engines

    source = str(args.transactions)
    eng = open_for(args, engine)
    start = time.perf_counter()
    try:
        _progress(start, f"summarizing {source} on {engine}")
        s = engines.summarize(
            source, engine=eng, as_of=args.as_of, time_unit=time_unit, **source_options(args)
        )
        print(s.columns.describe())
        _progress(
            start, f"{s.n_customers:,} customers, {len(s.histogram):,} distinct rows; fitting"
        )
        fits = engines.fit(s, args.model)
        _progress(start, "scoring and writing")
        totals = engines.score(
            s,
            fits,
            horizon=args.horizon,
            horizon_unit=args.horizon_unit,
            annual_discount_rate=args.discount,
            gross_margin=args.margin,
            output=None if args.output_table else args.output,
            output_table=args.output_table,
        )
    finally:
        eng.close()
    print_fit(fits.purchases)
    if fits.spend is not None:
        print_fit(fits.spend)
    if fits.spend_note:
        print(f"Gamma-Gamma: {fits.spend_note}")
    for note in s.notes:
        print(f"data: {note}")
    where = args.output_table or args.output
    print(
        f"Wrote {where}: {totals.customers:,} customers; over the next {args.horizon:g} "
        f"{args.horizon_unit}: {totals.expected_purchases:,.1f} expected purchases, "
        f"CLV {totals.clv:,.2f} (discounted at {args.discount:g} a year, "
        f"margin {args.margin:g}; summary on {engine})"
    )
    _progress(start, "done")
    return 0
