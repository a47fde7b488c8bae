"""From a source table to the normalized view (cid, day, amt) the summary reads.

The expressions follow the in-memory readers' rules (:mod:`ltvxl.transactions`):

- ids: whole numbers in any numeric type are one customer (1001, 1001.0 and
  "1001" agree), text ids are trimmed, blanks are missing;
- dates: date and timestamp columns to their day; numbers as Excel serials
  (1 to 2,958,465) or YYYYMMDD integers; text as ISO dates with or without a
  time (or with ``date_format``, strptime codes such as ``%d/%m/%Y``);
- amounts: numbers, or text holding plain numbers.

Values that are present but cannot be read are not left out silently: the
engine looks for the first such value and stops with a message naming the
column and the value (:func:`bad_value_queries`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ltvxl.errors import LtvxlError

SOURCE = "ltvxl_source"
"""Name of the source view (the user's columns as the engine reads them)."""

EXCEL_SERIAL_1970 = 25569
"""Excel serial (1900 date system) of 1970-01-01."""

MAX_SERIAL = 2958465
"""Excel serial of 9999-12-31."""

KINDS = ("int", "float", "text", "date", "timestamp", "other")


def kind_of(type_name: str) -> str:
    """The kind of a column from its engine type name (DuckDB's or Spark's spelling)."""
    t = type_name.strip().upper()
    if t.startswith(("DECIMAL", "NUMERIC")):
        return "float"
    if t in (
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "INT",
        "BIGINT",
        "HUGEINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
        "LONG",
        "SHORT",
        "BYTE",
        "INT64",
        "INT32",
    ):
        return "int"
    if t in ("FLOAT", "DOUBLE", "REAL", "FLOAT4", "FLOAT8"):
        return "float"
    if t in ("VARCHAR", "STRING", "TEXT") or t.startswith(("VARCHAR", "CHAR")):
        return "text"
    if t == "DATE":
        return "date"
    if t.startswith("TIMESTAMP"):
        return "timestamp"
    return "other"


def _q(name: str) -> str:
    """A column name quoted for SQL (DuckDB's double quotes; sqlglot turns them into
    Spark's backquotes)."""
    return '"' + name.replace('"', '""') + '"'


def id_expr(col: str, kind: str) -> str:
    """SQL of the customer id as text, NULL when missing."""
    c = _q(col)
    if kind == "int":
        return f"CAST({c} AS VARCHAR)"
    if kind == "float":
        return (
            f"CASE WHEN {c} = FLOOR({c}) AND ABS({c}) < 1e15 "
            f"THEN CAST(CAST({c} AS BIGINT) AS VARCHAR) ELSE CAST({c} AS VARCHAR) END"
        )
    if kind == "text":
        return f"NULLIF(TRIM({c}), '')"
    raise LtvxlError(
        f'id column "{col}" holds neither text nor numbers; name another with --id-col'
    )


def _number_day(c: str) -> str:
    return (
        f"CASE WHEN {c} >= 1 AND {c} < {MAX_SERIAL + 1} "
        f"THEN CAST(FLOOR({c}) AS BIGINT) - {EXCEL_SERIAL_1970} "
        f"WHEN {c} >= 10000101 AND {c} <= 99991231 AND {c} = FLOOR({c}) "
        f"THEN date_diff('day', DATE '1970-01-01', make_date(CAST(FLOOR({c} / 10000) AS INT), "
        f"CAST(FLOOR({c} / 100) AS INT) % 100, CAST({c} AS INT) % 100)) END"
    )


def _text_date(c: str, date_format: str | None) -> str:
    if date_format:
        return (
            f"CAST(TRY_STRPTIME(TRIM({c}), '{date_format.replace(chr(39), chr(39) * 2)}') AS DATE)"
        )
    return f"CAST(TRY_CAST(TRIM({c}) AS TIMESTAMP) AS DATE)"


def day_expr(col: str, kind: str, date_format: str | None = None) -> str:
    """SQL of the transaction day as days since 1970-01-01, NULL when missing or unreadable."""
    c = _q(col)
    if kind in ("date", "timestamp"):
        return f"date_diff('day', DATE '1970-01-01', CAST({c} AS DATE))"
    if kind in ("int", "float"):
        return _number_day(c)
    if kind == "text":
        return f"date_diff('day', DATE '1970-01-01', {_text_date(c, date_format)})"
    raise LtvxlError(
        f'date column "{col}" holds neither dates, numbers nor text; name another with --date-col'
    )


def amount_expr(col: str, kind: str) -> str:
    """SQL of the amount as a double, NULL when missing or unreadable."""
    c = _q(col)
    if kind in ("int", "float"):
        return f"CAST({c} AS DOUBLE)"
    if kind == "text":
        return f"TRY_CAST(TRIM({c}) AS DOUBLE)"
    raise LtvxlError(f'amount column "{col}" holds no numbers; name another with --amount-col')


@dataclass(frozen=True)
class Columns:
    """The source columns used and their kinds."""

    id: str
    date: str
    amount: str
    kinds: dict[str, str]
    date_format: str | None = None

    def describe(self) -> str:
        """The one line every command prints: which columns it used."""
        fmt = f" ({self.date_format})" if self.date_format else ""
        return f"columns: id={self.id}, date={self.date}{fmt}, amount={self.amount}"


def normalized_select(cols: Columns) -> str:
    """SELECT of the normalized rows (cid, day, amt) from the source view."""
    return (
        f"SELECT {id_expr(cols.id, cols.kinds[cols.id])} AS cid, "
        f"{day_expr(cols.date, cols.kinds[cols.date], cols.date_format)} AS day, "
        f"{amount_expr(cols.amount, cols.kinds[cols.amount])} AS amt FROM {SOURCE}"
    )


def bad_value_queries(cols: Columns) -> list[tuple[str, str, str]]:
    """(column, what, query) for each check that a present value could be read: the query
    returns one offending value as text, or no row."""
    date = _q(cols.date)
    day = day_expr(cols.date, cols.kinds[cols.date], cols.date_format)
    out = [(cols.date, "is not a date",
            f"SELECT CAST({date} AS VARCHAR) AS v FROM {SOURCE} "
            f"WHERE {date} IS NOT NULL AND {day} IS NULL LIMIT 1")]
    if cols.kinds[cols.amount] == "text":
        amount = _q(cols.amount)
        present = f"NULLIF(TRIM({amount}), '') IS NOT NULL"
        out.append((cols.amount, "is not a number",
                    f"SELECT {amount} AS v FROM {SOURCE} "
                    f"WHERE {present} AND {amount_expr(cols.amount, 'text')} IS NULL LIMIT 1"))
    return out


def bad_value_message(column: str, what: str, value: str, date_format: str | None) -> str:
    """The message for a value that cannot be read, with the option that fixes it."""
    if what == "is not a date":
        hint = (
            "use ISO dates (2024-01-31), date-typed columns, or --date-format "
            "with strptime codes such as %d/%m/%Y"
        )
        if date_format:
            hint = f"it does not match --date-format {date_format}"
    else:
        hint = "amounts must be plain numbers (1234.56) in the engine path"
    shown = value if len(value) <= 40 else value[:37] + "..."
    return f'column "{column}": "{shown}" {what}; {hint}'
