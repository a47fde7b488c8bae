"""From a source table to the normalized view (cid, day, amt) the summary reads.

The expressions follow the in-memory readers' rules (:mod:`ltvxl.transactions`):

- ids: whole numbers in any numeric type are one customer (1001, 1001.0 and
  "1001" agree), text ids are trimmed, blanks are missing;
- dates: date and timestamp columns to their day; numbers as Excel serials
  (1 to 2,958,465) or YYYYMMDD integers; texts by the rules of
  :mod:`ltvxl.transactions.dates`, written here as SQL: ISO year-month-day
  (``-``, ``/`` or ``.``, anything after a ``T`` or a space ignored), 8-digit
  ``20240131``, and day-first or month-first d/m/y texts with two- or
  four-digit years and an optional time, the order decided from the whole
  column (:func:`date_order_query`, :func:`ltvxl.transactions.dates.date_order`)
  unless ``dayfirst`` says it; or ``date_format`` (strptime codes);
- amounts: numbers; a text column is read by the in-memory parser
  (:func:`ltvxl.transactions.amounts.parse_amounts`: decimal commas, thousands
  separators, currency signs, negatives in parentheses, the dialect decided from
  the whole column or given by ``decimal``/``thousands``) on its distinct texts,
  which the engine joins back (:data:`AMOUNTS`);
- order ids (``order``): normalized as ids; the lines of one order are one
  order; blank ids, dates and amounts of an order's lines are taken from its
  other lines (an amount then counts 0: the order total on its first line) and
  Online Retail's cancellation invoices (``C536379`` among numeric invoices)
  are returns, as the in-memory readers do (:mod:`ltvxl.transactions.readers`).

Values that are present but cannot be read are not left out silently: the
engine looks for the first such value and stops with a message naming the
column and the value (:func:`bad_value_queries`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ltvxl.errors import LtvxlError

SOURCE = "ltvxl_source"
"""Name of the source view (the user's columns as the engine reads them)."""

AMOUNTS = "ltvxl_amounts"
"""Name of the table of a text amount column's distinct texts (``ltvxl_text``) and their
values (``ltvxl_value``), read by the in-memory parser."""

MAX_AMOUNT_TEXTS = 5_000_000
"""At most this many distinct amount texts are read by the in-memory parser."""

_D = "[0-9]"
DMY_PATTERN = (
    f"^({_D}{{1,2}})([-/.])({_D}{{1,2}})([-/.])({_D}{{4}}|{_D}{{2}})"
    f"([T ,]+{_D}{{1,2}}:{_D}{{2}}(:{_D}{{2}}([.,]{_D}+)?)?( *[AaPp][.]?[Mm][.]?)?)?"
    f"( *(Z|UTC|GMT|[+-]{_D}{{2}}:?{_D}{{2}}))?$"
)
"""d/m/y or m/d/y text with an optional time and zone (``_DMY_TEXT`` of
:mod:`ltvxl.transactions.dates`, without backslashes so that every engine's string
literals read it alike; the two separators are compared apart)."""
ISO_PATTERN = f"^({_D}{{4}})[-/.]({_D}{{1,2}})[-/.]({_D}{{1,2}})([T ].*)?$"
"""Year-month-day text (``_DATE_TEXT``)."""
COMPACT_PATTERN = f"^({_D}{{4}})({_D}{{2}})({_D}{{2}})$"
"""8-digit year-month-day text (``_COMPACT_TEXT``)."""
CANCELLED_PATTERN = f"^C{_D}"
"""An Online Retail cancellation invoice (``_CANCELLED`` of the readers)."""

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
    """SQL of the customer id, NULL when missing: whole numbers of an integer column as
    they are (grouping and joining integers is about twice as fast as their texts; the
    outputs cast them to text, :func:`ltvxl.engines.sql.scored_query`), else text."""
    c = _q(col)
    if kind == "int":
        return c
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


def _ymd(y: str, m: str, d: str) -> str:
    """A date from year, month and day texts, NULL when there is no such day."""
    return f"TRY_CAST({y} || '-' || LPAD({m}, 2, '0') || '-' || LPAD({d}, 2, '0') AS DATE)"


def _group(t: str, pattern: str, k: int) -> str:
    return f"regexp_extract({t}, '{pattern}', {k})"


def _text_date(c: str, date_format: str | None, dayfirst: bool) -> str:
    t = f"TRIM({c})"
    if date_format:
        return f"CAST(TRY_STRPTIME({t}, '{date_format.replace(chr(39), chr(39) * 2)}') AS DATE)"
    a, b = _group(t, DMY_PATTERN, 1), _group(t, DMY_PATTERN, 3)
    y = _group(t, DMY_PATTERN, 5)
    year = (f"CAST(CASE WHEN LENGTH({y}) = 2 THEN CAST({y} AS INT) + CASE WHEN "
            f"CAST({y} AS INT) < 69 THEN 2000 ELSE 1900 END ELSE CAST({y} AS INT) END "
            "AS VARCHAR)")
    day, month = (a, b) if dayfirst else (b, a)
    iso = [_group(t, ISO_PATTERN, k) for k in (1, 2, 3)]
    compact = [_group(t, COMPACT_PATTERN, k) for k in (1, 2, 3)]
    return (
        f"CASE WHEN regexp_matches({t}, '{DMY_PATTERN}') THEN CASE WHEN "
        f"{_group(t, DMY_PATTERN, 2)} = {_group(t, DMY_PATTERN, 4)} THEN "
        f"{_ymd(year, month, day)} END "
        f"WHEN regexp_matches({t}, '{ISO_PATTERN}') THEN {_ymd(*iso)} "
        f"WHEN regexp_matches({t}, '{COMPACT_PATTERN}') THEN {_ymd(*compact)} END"
    )


def date_order_query(col: str) -> str:
    """One d/m/y text of ``col`` of each kind that decides the order (NULL: none): a first
    field above 12 and a second not (day_first), the reverse (month_first), two fields
    that differ (differing); for :func:`ltvxl.transactions.dates.date_order`."""
    t = f"TRIM({_q(col)})"
    a = f"CAST({_group(t, DMY_PATTERN, 1)} AS INT)"
    b = f"CAST({_group(t, DMY_PATTERN, 3)} AS INT)"
    return f"""
SELECT MIN(CASE WHEN a > 12 AND b <= 12 THEN t END) AS day_first,
       MIN(CASE WHEN b > 12 AND a <= 12 THEN t END) AS month_first,
       MIN(CASE WHEN a <> b AND a <= 12 AND b <= 12 THEN t END) AS differing
FROM (SELECT {t} AS t, {a} AS a, {b} AS b FROM {SOURCE}
      WHERE regexp_matches({t}, '{DMY_PATTERN}')
        AND {_group(t, DMY_PATTERN, 2)} = {_group(t, DMY_PATTERN, 4)}) AS d
"""


def day_expr(col: str, kind: str, date_format: str | None = None,
             dayfirst: bool = True) -> str:
    """SQL of the transaction day as days since 1970-01-01, NULL when missing or unreadable
    (``dayfirst``: the order of d/m/y texts)."""
    c = _q(col)
    if kind in ("date", "timestamp"):
        return f"date_diff('day', DATE '1970-01-01', CAST({c} AS DATE))"
    if kind in ("int", "float"):
        return _number_day(c)
    if kind == "text":
        return f"date_diff('day', DATE '1970-01-01', {_text_date(c, date_format, dayfirst)})"
    raise LtvxlError(
        f'date column "{col}" holds neither dates, numbers nor text; name another with --date-col'
    )


def amount_expr(col: str, kind: str) -> str:
    """SQL of the amount as a double, NULL when missing (a text column: the value of its
    text in :data:`AMOUNTS`, joined as ``l``)."""
    c = _q(col)
    if kind in ("int", "float"):
        return f"CAST({c} AS DOUBLE)"
    if kind == "text":
        return "l.ltvxl_value"
    raise LtvxlError(f'amount column "{col}" holds no numbers; name another with --amount-col')


def amount_texts_query(col: str) -> str:
    """The distinct non-blank texts of a text amount column (sorted: a message quotes the
    same example every run)."""
    c = _q(col)
    return (f"SELECT DISTINCT {c} AS ltvxl_text FROM {SOURCE} "
            f"WHERE NULLIF(TRIM({c}), '') IS NOT NULL ORDER BY ltvxl_text")


@dataclass(frozen=True)
class Columns:
    """The source columns used, their kinds and how they are read.

    ``order``: the order-id column or None; ``dayfirst``: the order of d/m/y date
    texts (decided from the column unless given); ``date_how``, ``amount_how``: how
    texts were read, as the in-memory ``columns:`` line says it ("" for typed
    columns); ``fill``: an order's blank ids, dates or amounts are filled from its
    other lines; ``cancellations``: ``C...`` invoices are returns; ``once_per_order``:
    some orders have their amount on some lines only (the others count 0);
    ``channel``: a column carried along as text (the report's acquisition channel).
    """

    id: str
    date: str
    amount: str
    kinds: dict[str, str]
    date_format: str | None = None
    order: str | None = None
    dayfirst: bool = True
    date_how: str = ""
    amount_how: str = ""
    fill: bool = False
    cancellations: bool = False
    once_per_order: bool = False
    channel: str | None = None

    def roles(self) -> dict[str, str]:
        """Each role's column and how it was read, as a log's ``columns`` say them."""
        def how(text: str) -> str:
            return f" ({text})" if text else ""

        once = " (once per order)" if self.once_per_order else ""
        out = {"id": self.id, "date": self.date + how(self.date_how),
               "amount": self.amount + once + how(self.amount_how)}
        out.update({k: v for k, v in (("order", self.order), ("channel", self.channel)) if v})
        return out

    def describe(self) -> str:
        """The one line every command prints: which columns it used (as in memory)."""
        return "columns: " + ", ".join(f"{k}={v}" for k, v in self.roles().items())


def _cancelled(cols: Columns) -> str:
    return f"regexp_matches({_q(cols.order or '')}, '{CANCELLED_PATTERN}')"


def normalized_select(cols: Columns) -> str:
    """SELECT of the normalized rows (cid, day, amt, oid, cancelled, channel) from the
    source view."""
    join = ""
    if cols.kinds[cols.amount] == "text":
        join = f" LEFT JOIN {AMOUNTS} AS l ON s.{_q(cols.amount)} = l.ltvxl_text"
    oid = "CAST(NULL AS VARCHAR)" if cols.order is None else \
        id_expr(cols.order, cols.kinds[cols.order])
    cancelled = _cancelled(cols) if cols.cancellations else "FALSE"
    channel = "CAST(NULL AS VARCHAR)" if cols.channel is None else \
        f"CAST({_q(cols.channel)} AS VARCHAR)"
    base = (
        f"SELECT {id_expr(cols.id, cols.kinds[cols.id])} AS cid, "
        f"{day_expr(cols.date, cols.kinds[cols.date], cols.date_format, cols.dayfirst)} AS day, "
        f"{amount_expr(cols.amount, cols.kinds[cols.amount])} AS amt, {oid} AS oid, "
        f"{cancelled} AS cancelled, {channel} AS channel FROM {SOURCE} AS s{join}"
    )
    if cols.fill:
        def order_wide(what: str) -> str:
            return f"CASE WHEN oid IS NOT NULL THEN {what} OVER (PARTITION BY oid) END"

        base = (
            f"SELECT COALESCE(cid, {order_wide('MIN(cid)')}) AS cid, "
            f"COALESCE(day, {order_wide('MIN(day)')}) AS day, "
            f"CASE WHEN amt IS NULL AND {order_wide('COUNT(amt)')} > 0 THEN 0.0 ELSE amt END "
            f"AS amt, oid, cancelled, channel FROM ({base}) AS b"
        )
    return (f"SELECT cid, day, CASE WHEN cancelled AND amt > 0 THEN -amt ELSE amt END AS amt, "
            f"oid, cancelled, channel FROM ({base}) AS n")


def order_checks_query(cols: Columns) -> str:
    """Counts that decide the order rules: lines of an order with a blank id, date or
    amount (``blank_lines``), cancellation-shaped order ids (``c_orders``) and other
    order ids that are not whole numbers (``other_orders``)."""
    o = _q(cols.order or "")
    raw_blank = " OR ".join(
        f"{_q(c)} IS NULL" + (f" OR TRIM({_q(c)}) = ''" if cols.kinds[c] == "text" else "")
        for c in (cols.id, cols.date, cols.amount))
    text = cols.kinds[cols.order or ""] == "text"
    c_rows = f"SUM(CASE WHEN {_cancelled(cols)} THEN 1 ELSE 0 END)" if text else "0"
    others = (f"SUM(CASE WHEN {o} IS NOT NULL AND NOT {_cancelled(cols)} AND NOT "
              f"regexp_matches(TRIM({o}), '^{_D}+$') THEN 1 ELSE 0 END)") if text else "0"
    present = f"NULLIF(TRIM({o}), '') IS NOT NULL" if text else f"{o} IS NOT NULL"
    return f"""
SELECT SUM(CASE WHEN {present} AND ({raw_blank}) THEN 1 ELSE 0 END) AS blank_lines,
       {c_rows} AS c_orders, {others} AS other_orders
FROM {SOURCE}
"""


def once_per_order_query(cols: Columns) -> str:
    """How many orders have both lines with an amount and lines without one (the order
    total written on its first line: the others count 0)."""
    o, a = _q(cols.order or ""), _q(cols.amount)
    blank = f"{a} IS NULL" + (f" OR TRIM({a}) = ''" if cols.kinds[cols.amount] == "text" else "")
    present = f"NULLIF(TRIM({o}), '') IS NOT NULL" if cols.kinds[cols.order or ""] == "text" \
        else f"{o} IS NOT NULL"
    return f"""
SELECT COUNT(*) AS n FROM (
  SELECT {o} AS o, SUM(CASE WHEN {blank} THEN 1 ELSE 0 END) AS blank,
         SUM(CASE WHEN {blank} THEN 0 ELSE 1 END) AS given
  FROM {SOURCE} WHERE {present} GROUP BY {o}
) AS g WHERE blank > 0 AND given > 0
"""


def bad_value_queries(cols: Columns) -> list[tuple[str, str, str]]:
    """(column, what, query) for each check that a present value could be read: the query
    returns one offending value as text, or no row (text amounts are checked by the
    in-memory parser as they are read)."""
    if cols.kinds[cols.date] in ("date", "timestamp"):  # every present value is a date
        return []
    date = _q(cols.date)
    day = day_expr(cols.date, cols.kinds[cols.date], cols.date_format, cols.dayfirst)
    present = f"NULLIF(TRIM({date}), '') IS NOT NULL" if cols.kinds[cols.date] == "text" \
        else f"{date} IS NOT NULL"
    return [(cols.date, "is not a date",
             f"SELECT CAST({date} AS VARCHAR) AS v FROM {SOURCE} "
             f"WHERE {present} AND {day} IS NULL LIMIT 1")]


def bad_value_message(column: str, what: str, value: str, date_format: str | None) -> str:
    """The message for a value that cannot be read, with the option that fixes it."""
    hint = (
        "use ISO dates (2024-01-31), d/m/y or m/d/y texts, date-typed columns, or "
        "--date-format with strptime codes such as %d/%m/%Y"
    )
    if date_format:
        hint = f"it does not match --date-format {date_format}"
    shown = value if len(value) <= 40 else value[:37] + "..."
    return f'column "{column}": "{shown}" {what}; {hint}'
