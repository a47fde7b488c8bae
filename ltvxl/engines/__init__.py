"""Warehouse scale: the summary on an engine (DuckDB embedded, Spark), the fits here.

The heavy work of predictive CLV is two GROUP BYs and a join; the models
need only the distinct (frequency, recency, T) rows with their counts. So:

1. :func:`summarize` builds the per-customer summary on the engine (the same
   rules as :func:`ltvxl.transactions.summary.customer_summary`) and brings
   back the two small histograms;
2. :func:`fit` fits the purchase model and Gamma-Gamma on them, here;
3. :func:`score` computes the predictions once per distinct row, hands them
   to the engine, which joins them to every customer and writes the table.

Typical use in a notebook or a Spark job::

    from ltvxl import engines
    s = engines.summarize("s3a://bucket/transactions/", engine="spark")
    fits = engines.fit(s)
    engines.score(s, fits, horizon=12, output_table="analytics.clv")
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from ltvxl.errors import LtvxlError
from ltvxl.models import clv
from ltvxl.units import DEFAULT_UNIT, unit_days

from . import normalize, sql
from .base import Engine
from .normalize import Columns, bad_value_message, bad_value_queries, kind_of, normalized_select
from .scoring import Fits, scores, spend_sql
from .scoring import fit as fit_histograms

ENGINES = ("duckdb", "spark")
"""Engine names accepted by ``engine=`` and ``--engine``."""


def open_engine(
    name: str = "duckdb",
    *,
    spark_master: str | None = None,
    memory_limit: str | None = None,
    threads: int | None = None,
) -> Engine:
    """An engine by name: "duckdb" (embedded) or "spark" (``spark_master``, default local[2])."""
    key = str(name).strip().lower()
    if key == "duckdb":
        from .duckdb_engine import DuckDBEngine

        return DuckDBEngine(memory_limit=memory_limit, threads=threads)
    if key == "spark":
        from .spark_engine import SparkEngine

        return SparkEngine(master=spark_master)
    raise LtvxlError(f'engine must be one of {", ".join(ENGINES)}; got "{name}"')


@dataclass
class EngineSummary:
    """A per-customer summary kept on an engine, with its small histograms."""

    engine: Engine
    columns: Columns
    as_of: np.datetime64
    time_unit: str
    n_customers: int
    histogram: pd.DataFrame
    spend_histogram: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """The whole summary as a pandas table (for small data and tests), in customer order."""
        df = self.engine.query(f"SELECT * FROM {sql.SUMMARY} ORDER BY customer")
        df["customer"] = df["customer"].astype(str)  # integer ids as text, as in the outputs
        for col in ("first_day", "last_day"):
            days = df.pop(col).to_numpy(np.int64)
            df[col.replace("_day", "_purchase")] = days.astype("datetime64[D]")
        return df


def _detect(names: dict[str, str], given: dict[str, str | None]) -> dict[str, str]:
    """The column of each role (id, date, amount; order and channel when present): those
    ``given``, else detected from the names as the in-memory readers do."""
    from ltvxl.transactions.headers import detect_columns, find_roles

    detect_columns(list(names), given["id"], given["date"], given["amount"])  # its messages
    return find_roles(list(names), given)


def _as_of_day(as_of: Any, last_day: int) -> int:
    if as_of is None:
        return last_day
    from ltvxl.transactions.dates import parse_day

    return parse_day(as_of, "as_of")


def _count(value: Any) -> int:
    return 0 if value is None or pd.isna(value) else int(value)


@dataclass
class Source:
    """A transaction source opened on an engine: its columns, the normalized view
    (:data:`sql.NORMALIZED`) and the counts of its rows (the first and last usable day)."""

    engine: Engine
    name: str
    columns: Columns
    counts: pd.Series
    reader_notes: list[str] = field(default_factory=list)

    @property
    def first_day(self) -> int:
        """The first day (days since 1970-01-01) of a row with an id, a date and an amount."""
        return int(self.counts["first_day"])

    @property
    def last_day(self) -> int:
        """The last day of a row with an id, a date and an amount."""
        return int(self.counts["last_day"])

    def notes(self) -> list[str]:
        """What the reading did (cancellations) and the rows left out for a missing id,
        date or amount, in words."""
        out = list(self.reader_notes)
        for label, value in (
            ("rows without a customer id left out", self.counts["missing_id"]),
            ("rows without a date or amount left out", self.counts["missing_value"]),
        ):
            if _count(value):
                out.append(f"{label}: {_count(value):,}")
        return out


def open_source(
    source: str,
    *,
    engine: str | Engine = "duckdb",
    id_col: str | None = None,
    date_col: str | None = None,
    amount_col: str | None = None,
    order_col: str | None = None,
    channel_col: str | None = None,
    channel: bool = False,
    date_format: str | None = None,
    dayfirst: bool | None = None,
    decimal: str | None = None,
    thousands: str | None = None,
    missing_id: str = "drop",
    delimiter: str | None = None,
    drop_duplicates: bool = False,
    spark_master: str | None = None,
) -> Source:
    """Open ``source`` on an engine (a name, or an open :class:`Engine`), detect and check
    its columns.

    ``source``: a CSV or Parquet file, a glob, or a folder of them
    (hive-partitioned folders too). Columns are detected from their names
    as by the in-memory readers unless given; ``order_col``: order ids (the
    lines of one order are one order; detected from the names unless given, as
    in memory); with ``channel``, the channel column (``channel_col`` or detected)
    is carried as text (the ``channel`` of the normalized rows). Texts are read by
    the in-memory rules
    (:mod:`ltvxl.engines.normalize`): ``date_format`` (strftime codes) or
    ``dayfirst`` (True, False; None: decided from the column) for dates,
    ``decimal`` and ``thousands`` for amounts. ``missing_id``: rows without a
    customer id are left out and counted ("drop") or refused ("error").
    ``delimiter``: of CSV files (DuckDB detects it unless given; Spark reads commas).
    ``drop_duplicates``: rows equal in every column are read once (and counted).
    """
    eng = open_engine(engine, spark_master=spark_master) if isinstance(engine, str) else engine
    names = eng.open_source(str(source), delimiter)
    roles = _detect(names, {"id": id_col, "date": date_col, "amount": amount_col,
                            "order": order_col, "channel": channel_col})
    idc, datec, amountc = roles["id"], roles["date"], roles["amount"]
    order_col = roles.get("order")
    channel_col = roles.get("channel") if channel else None
    if kind_of(names[datec]) in ("date", "timestamp"):  # a CSV reader's guess of a format:
        names = eng.as_text(datec) or names  # the texts, read by the in-memory rules
    notes: list[str] = []
    if drop_duplicates:  # as the readers: whole rows, before any other rule
        before = _count(eng.query(f"SELECT COUNT(*) FROM {normalize.SOURCE}").iloc[0, 0])
        eng.drop_duplicates()
        after = _count(eng.query(f"SELECT COUNT(*) FROM {normalize.SOURCE}").iloc[0, 0])
        if before > after:
            notes.append(f"duplicate rows dropped: {before - after:,}")
    used = [c for c in (idc, datec, amountc, order_col) if c is not None]
    kinds = {c: kind_of(names[c]) for c in used}
    cols = Columns(idc, datec, amountc, kinds, date_format, order_col, channel=channel_col)
    cols = _date_rules(eng, cols, dayfirst)
    cols = _amount_rules(eng, cols, decimal, thousands)
    if order_col is not None:
        cols, more = _order_rules(eng, cols)
        notes += more
    eng.create_view(sql.NORMALIZED, normalized_select(cols))
    for column, what, check in bad_value_queries(cols):
        bad = eng.query(check)
        if len(bad):
            raise LtvxlError(bad_value_message(column, what, str(bad.iloc[0, 0]), date_format))
    counts = eng.query(sql.counts_query()).iloc[0]
    if _count(counts["n_rows"]) == 0 or pd.isna(counts["last_day"]):
        raise LtvxlError(f"{source}: no transaction with a customer id, a date and an amount")
    if missing_id == "error" and _count(counts["missing_id"]):
        raise LtvxlError(f'column "{idc}": {_count(counts["missing_id"]):,} rows have no '
                         "customer id (rows without one are left out with --missing-id drop)")
    return Source(eng, str(source), cols, counts, notes)


_ROW = "\x00"
"""What the in-memory parsers are given as a row number: the engine has none to give."""


def _without_rows(message: str) -> str:
    """An in-memory parser's message without the row numbers it was given (:data:`_ROW`)."""
    return message.replace(f" (row {_ROW})", "").replace(f" row {_ROW}", "")


def _date_rules(eng: Engine, cols: Columns, dayfirst: bool | None) -> Columns:
    """Decide the order of d/m/y date texts from the whole column, as in memory."""
    from ltvxl.transactions.dates import date_order

    if cols.kinds[cols.date] != "text":
        return cols
    if cols.date_format:
        return replace(cols, date_how=f"format {cols.date_format}")
    if dayfirst is None:
        row = eng.query(normalize.date_order_query(cols.date)).iloc[0]

        def example(key: str) -> tuple[str, str] | None:
            return None if pd.isna(row[key]) else (str(row[key]), "")

        try:
            dayfirst = date_order(f'column "{cols.date}"', example("day_first"),
                                  example("month_first"), example("differing"))
        except LtvxlError as exc:
            raise LtvxlError(_without_rows(exc.message)) from None
        present = any(not pd.isna(row[k]) for k in row.index)
        how = ("day-first" if dayfirst else "month-first") if present else ""
    else:
        how = "day-first" if dayfirst else "month-first"
    return replace(cols, dayfirst=bool(dayfirst), date_how=how)


def _amount_rules(eng: Engine, cols: Columns, decimal: str | None,
                  thousands: str | None) -> Columns:
    """A text amount column: its distinct texts read by the in-memory parser, the values
    handed to the engine (:data:`normalize.AMOUNTS`)."""
    from ltvxl.transactions.amounts import parse_amounts

    if cols.kinds[cols.amount] != "text":  # numbers: no decimal mark to read
        return cols
    n = _count(eng.query(f"SELECT COUNT(*) FROM ({normalize.amount_texts_query(cols.amount)})"
                         " AS t").iloc[0, 0])
    if n > normalize.MAX_AMOUNT_TEXTS:
        raise LtvxlError(
            f'column "{cols.amount}" holds {n:,} distinct texts, more than the engine path '
            f"reads ({normalize.MAX_AMOUNT_TEXTS:,}): store the amounts as numbers")
    texts = eng.query(normalize.amount_texts_query(cols.amount))["ltvxl_text"]
    values = np.asarray(texts.astype(object).to_numpy(), dtype=object)
    try:
        parsed, how = parse_amounts(values, f'column "{cols.amount}"', lambda i: _ROW,
                                    text=True, decimal=decimal, thousands=thousands)
    except LtvxlError as exc:
        raise LtvxlError(_without_rows(exc.message)) from None
    eng.register(normalize.AMOUNTS, pd.DataFrame({"ltvxl_text": values, "ltvxl_value": parsed}))
    return replace(cols, amount_how=how)


def _order_rules(eng: Engine, cols: Columns) -> tuple[Columns, list[str]]:
    """The readers' rules of order ids: an order's blank fields filled from its other
    lines, cancellation invoices as returns (with their note)."""
    checks = eng.query(normalize.order_checks_query(cols)).iloc[0]
    cancellations = _count(checks["c_orders"]) > 0 and _count(checks["other_orders"]) == 0
    cols = replace(cols, fill=_count(checks["blank_lines"]) > 0, cancellations=cancellations)
    if cols.fill and _count(eng.query(normalize.once_per_order_query(cols)).iloc[0, 0]):
        cols = replace(cols, once_per_order=True)
    notes = []
    if cancellations:
        eng.create_view(sql.NORMALIZED, normalized_select(cols))
        lines = _count(eng.query(f"SELECT COUNT(*) FROM {sql.NORMALIZED} "
                                 "WHERE cancelled AND cid IS NOT NULL").iloc[0, 0])
        notes.append(f"cancellation invoices (C...) netted as returns, lines: {lines:,}")
    return cols, notes


def summarize_window(src: Source, day: int, time_unit: str = DEFAULT_UNIT) -> EngineSummary:
    """The summary of an opened source up to ``day`` (days since 1970-01-01, inclusive)."""
    eng = src.engine
    window = sql.Window(day, unit_days(time_unit))
    eng.create_table(sql.SUMMARY, sql.summary_query(window, src.columns.order is not None))
    notes = src.notes()
    # as_of on or after the last day: nothing after it, the whole source's counts
    wc = pd.Series({"after_as_of": 0, "returns": src.counts["returns"],
                    "zero": src.counts["zero"]}) if day >= src.last_day else \
        eng.query(sql.window_counts_query(window)).iloc[0]
    if _count(wc["zero"]):  # the wording and order of the in-memory summary's notes
        notes.append(f"zero-amount rows: {_count(wc['zero']):,}")
    if _count(wc["returns"]):
        notes.append(f"returns netted (negative amounts): {_count(wc['returns']):,}")
    if _count(wc["after_as_of"]):
        notes.append(f"transactions after as_of excluded: {_count(wc['after_as_of'])}")
    only = _count(eng.query(sql.only_returns_query(window)).iloc[0, 0]) \
        if _count(wc["returns"]) else 0  # no return: nobody has only returns
    if only:
        notes.append(f"customers with returns but no purchase excluded: {only}")
    hist = eng.query(sql.histogram_query())
    spend = eng.query(sql.spend_histogram_query())
    n = int(hist["n"].sum()) if len(hist) else 0
    if n == 0:
        raise LtvxlError(f"{src.name}: no customer has a purchase on or before as_of")
    return EngineSummary(
        eng, src.columns, np.datetime64(day, "D"), time_unit, n, hist, spend, notes
    )


def summarize(
    source: str, *, as_of: Any = None, time_unit: str = DEFAULT_UNIT, **options: Any
) -> EngineSummary:
    """Summarize a transaction source on an engine.

    ``source`` and ``options`` (engine, id_col, date_col, amount_col,
    date_format, spark_master) as :func:`open_source`. ``as_of``: end of
    observation (default: the last day with a usable row); ``time_unit`` of
    recency and T. Rows without an id, date or amount and rows after
    ``as_of`` are left out and counted in ``notes``.
    """
    unit_days(time_unit)
    src = open_source(source, **options)
    day = _as_of_day(as_of, src.last_day)
    if day < src.first_day:
        raise LtvxlError(
            f"as_of {np.datetime64(day, 'D')} is before the first transaction "
            f"({np.datetime64(src.first_day, 'D')})"
        )
    return summarize_window(src, day, time_unit)


def fit(summary: EngineSummary, model: str | None = None) -> Fits:
    """Fit the purchase model (default Pareto/NBD) and Gamma-Gamma on the histograms."""
    return fit_histograms(summary.histogram, summary.spend_histogram, model, summary.time_unit)


@dataclass(frozen=True)
class ScoreTotals:
    """What was written: customers, expected purchases and CLV summed over them."""

    customers: int
    expected_purchases: float
    clv: float


def _escaped(column: str) -> str:
    """Text that a spreadsheet would run as a formula made inert by a leading apostrophe."""
    first = f"SUBSTR({column}, 1, 1)"
    return (
        f"CASE WHEN {first} IN ('=', '+', '-', '@', CHR(9), CHR(13)) "
        f"THEN '''' || {column} ELSE {column} END"
    )


def score(
    summary: EngineSummary,
    fits: Fits,
    *,
    horizon: float = 12.0,
    horizon_unit: str = "months",
    annual_discount_rate: float = 0.1,
    gross_margin: float = 1.0,
    output: str | None = None,
    output_table: str | None = None,
) -> ScoreTotals:
    """Score every customer of ``summary`` and write the table (columns as ``ltvxl clv``:
    customer, p_alive, expected_purchases, expected_spend, clv, churn_risk).

    ``output``: a .parquet or .csv file (on Spark, a folder of part files);
    ``output_table``: a table of the Spark catalog instead. CSV ids that a
    spreadsheet would run as formulas get a leading apostrophe.
    """
    if not (0 <= gross_margin <= 1):
        raise LtvxlError(f"gross_margin must be a fraction in [0, 1], got {gross_margin}")
    eng = summary.engine
    table = scores(
        fits,
        summary.histogram,
        horizon=horizon,
        horizon_unit=horizon_unit,
        time_unit=summary.time_unit,
        annual_discount_rate=annual_discount_rate,
    )
    eng.register(sql.SCORES, table)
    query = sql.scored_query(spend_sql(fits), gross_margin, clv.RISK_BANDS)
    if output_table:
        write_table = getattr(eng, "write_table", None)
        if write_table is None:
            raise LtvxlError(
                "output_table (--output-table) needs the spark engine; give an output file instead"
            )
        write_table(query, output_table)
    elif output:
        customer = _escaped("customer") if str(output).lower().endswith(".csv") else "customer"
        order = " ORDER BY q.customer" if eng.ordered_output else ""
        eng.write(
            f"SELECT {customer} AS customer, p_alive, expected_purchases, expected_spend, "
            f"clv, churn_risk FROM ({query}) AS q{order}",
            str(output),
        )
    written = eng.written(output_table or output, table=bool(output_table)) \
        if (output_table or output) else None  # summed from what was written: no second join
    totals = eng.query(
        "SELECT COUNT(*) AS n, SUM(expected_purchases) AS e, SUM(clv) AS v "
        f"FROM {written or f'({query})'} AS q"
    ).iloc[0]
    return ScoreTotals(int(totals["n"]), float(totals["e"]), float(totals["v"]))


__all__ = [
    "ENGINES",
    "EngineSummary",
    "Fits",
    "ScoreTotals",
    "Source",
    "fit",
    "open_engine",
    "open_source",
    "score",
    "summarize",
    "summarize_window",
]
