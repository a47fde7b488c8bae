"""The per-customer summary and its histogram, written once as SQL for every engine.

The queries are written in DuckDB's dialect and translated to the other
engines' dialects by sqlglot (``to_dialect``), so that DuckDB and Spark run
the same statement. They read a *normalized* view with one row per
transaction line:

- ``cid``: the customer id (NULL when missing): an integer column's integers, else
  text; the outputs write it as text;
- ``day``: the transaction day as a whole number of days since 1970-01-01
  (NULL when missing);
- ``amt``: the amount (a double; negative for returns);
- ``oid``: the order id as text (NULL without an order column or a value).

Each engine builds that view from its source (:mod:`ltvxl.engines.duckdb_engine`,
:mod:`ltvxl.engines.spark_engine`); the rules below are those of the in-memory
summary (:mod:`ltvxl.transactions.summary`):

- rows without a customer id, a day or an amount are left out and counted;
- rows after ``as_of`` are left out and counted;
- returns (negative amounts) are netted into revenue and are not purchases;
- purchases on the same day are one purchase: ``frequency`` is the number
  of distinct purchase days after the first, ``recency`` and ``T`` are
  measured in days and divided by the length of the time unit in days;
- ``monetary_value`` is the mean value of the repeat purchase days.
"""

from __future__ import annotations

from dataclasses import dataclass

NORMALIZED = "ltvxl_norm"
"""Name of the normalized transaction view (cid, day, amt) the queries read."""

SUMMARY = "ltvxl_summary"
"""Name under which an engine keeps the per-customer summary."""

SCORES = "ltvxl_scores"
"""Name of the table of scores per distinct (frequency, recency, T) row."""


@dataclass(frozen=True)
class Window:
    """The observation: its end ``as_of`` (a day number) and the time unit's length in days."""

    as_of_day: int
    unit_days: float


def _day_literal(day: int) -> str:
    return str(int(day))


def counts_query() -> str:
    """Row counts for the notes: rows, left out for a missing value, the first and last day
    of the usable rows (the last is the default ``as_of``), returns and zero amounts (the
    window's counts when ``as_of`` is that last day: no row is after it)."""
    return f"""
SELECT
  COUNT(*) AS n_rows,
  SUM(CASE WHEN cid IS NULL THEN 1 ELSE 0 END) AS missing_id,
  SUM(CASE WHEN cid IS NOT NULL AND (day IS NULL OR amt IS NULL) THEN 1 ELSE 0 END)
    AS missing_value,
  MIN(CASE WHEN cid IS NOT NULL AND amt IS NOT NULL THEN day END) AS first_day,
  MAX(CASE WHEN cid IS NOT NULL AND amt IS NOT NULL THEN day END) AS last_day,
  SUM(CASE WHEN cid IS NOT NULL AND day IS NOT NULL AND amt < 0 THEN 1 ELSE 0 END)
    AS returns,
  SUM(CASE WHEN cid IS NOT NULL AND day IS NOT NULL AND amt = 0 THEN 1 ELSE 0 END) AS zero
FROM {NORMALIZED}
"""


def window_counts_query(window: Window) -> str:
    """Counts that depend on ``as_of``: rows after it, returns and zero amounts on or before it."""
    end = _day_literal(window.as_of_day)
    return f"""
SELECT
  SUM(CASE WHEN day > {end} THEN 1 ELSE 0 END) AS after_as_of,
  SUM(CASE WHEN day <= {end} AND amt < 0 THEN 1 ELSE 0 END) AS returns,
  SUM(CASE WHEN day <= {end} AND amt = 0 THEN 1 ELSE 0 END) AS zero
FROM {NORMALIZED}
WHERE cid IS NOT NULL AND day IS NOT NULL AND amt IS NOT NULL
"""


def summary_query(window: Window, orders: bool = False) -> str:
    """One row per customer with a purchase on or before ``as_of``.

    Columns: customer, first_day, last_day (day numbers), orders (purchase
    rows), revenue (returns netted), avg_order_value, frequency, recency, T
    (in the time unit), monetary_value, historical_value. Customers with
    returns but no purchase have no row (see :func:`only_returns_query`).
    ``orders``: the rows have order ids (``oid``): orders are the distinct order ids
    of the purchase rows, a row without one an order of its own.
    """
    end = _day_literal(window.as_of_day)
    unit = repr(float(window.unit_days))
    order_cte, orders_col, order_join = "", "p.orders", ""
    if orders:
        order_cte = """,
order_counts AS (
  SELECT cid, COUNT(DISTINCT oid) + SUM(CASE WHEN oid IS NULL THEN 1 ELSE 0 END) AS orders
  FROM kept WHERE amt >= 0 GROUP BY cid
)"""
        orders_col, order_join = "o.orders", " JOIN order_counts AS o ON p.cid = o.cid"
    return f"""
WITH kept AS (
  SELECT cid, day, amt, oid FROM {NORMALIZED}
  WHERE cid IS NOT NULL AND day IS NOT NULL AND amt IS NOT NULL AND day <= {end}
),
revenue AS (
  SELECT cid, SUM(amt) AS revenue FROM kept GROUP BY cid
),
purchase_days AS (
  SELECT cid, day, SUM(amt) AS value, COUNT(*) AS n_rows
  FROM kept WHERE amt >= 0 GROUP BY cid, day
),
marked AS (
  SELECT cid, day, value, n_rows, MIN(day) OVER (PARTITION BY cid) AS first_day
  FROM purchase_days
),
per_customer AS (
  SELECT cid,
         MIN(day) AS first_day,
         MAX(day) AS last_day,
         COUNT(*) AS n_days,
         SUM(n_rows) AS orders,
         SUM(CASE WHEN day > first_day THEN value ELSE 0.0 END) AS repeat_value
  FROM marked GROUP BY cid
){order_cte}
SELECT
  p.cid AS customer,
  p.first_day,
  p.last_day,
  {orders_col} AS orders,
  r.revenue,
  r.revenue / {orders_col} AS avg_order_value,
  p.n_days - 1 AS frequency,
  CAST(p.last_day - p.first_day AS DOUBLE) / {unit} AS recency,
  CAST({end} - p.first_day AS DOUBLE) / {unit} AS T,
  CASE WHEN p.n_days > 1 THEN p.repeat_value / (p.n_days - 1) ELSE 0.0 END AS monetary_value,
  r.revenue AS historical_value
FROM per_customer AS p JOIN revenue AS r ON p.cid = r.cid{order_join}
"""


def only_returns_query(window: Window) -> str:
    """How many customers have returns but no purchase up to ``as_of`` (left out): those
    with return rows and no row in the summary (which has every customer with a purchase;
    a customer without one has only returns, so only the return rows are grouped)."""
    end = _day_literal(window.as_of_day)
    return f"""
SELECT COUNT(*) AS only_returns FROM (
  SELECT cid, SUM(amt) AS revenue FROM {NORMALIZED}
  WHERE cid IS NOT NULL AND day IS NOT NULL AND amt < 0 AND day <= {end}
  GROUP BY cid
) AS c LEFT JOIN {SUMMARY} AS s ON c.cid = s.customer
WHERE s.customer IS NULL AND c.revenue <> 0
"""


def histogram_query() -> str:
    """Distinct (frequency, recency, T) rows of the summary with their customer counts:
    the sufficient statistics of the purchase models."""
    return f"""
SELECT frequency, recency, T, COUNT(*) AS n
FROM {SUMMARY} GROUP BY frequency, recency, T
ORDER BY frequency, recency, T
"""


def spend_histogram_query() -> str:
    """Distinct (frequency, monetary_value) rows of repeat buyers with their counts: the
    sufficient statistics of the Gamma-Gamma spend model."""
    return f"""
SELECT frequency, monetary_value, COUNT(*) AS n
FROM {SUMMARY} WHERE frequency > 0
GROUP BY frequency, monetary_value
ORDER BY frequency, monetary_value
"""


def scored_query(spend: str, margin: float, risk_bands: tuple[tuple[float, str], ...]) -> str:
    """Per-customer predictions: the summary joined to the scores of its distinct row.

    ``spend`` is the SQL expression of the expected spend per purchase in
    terms of ``s.frequency`` and ``s.monetary_value``; ``risk_bands`` the
    churn-risk labels by P(alive), lowest limit first.
    """
    cases = " ".join(f"WHEN c.p_alive < {limit!r} THEN '{label}'" for limit, label in risk_bands)
    return f"""
SELECT
  CAST(s.customer AS VARCHAR) AS customer,
  c.p_alive,
  c.expected_purchases,
  {spend} AS expected_spend,
  c.discounted_purchases * ({spend}) * {float(margin)!r} AS clv,
  CASE {cases} ELSE 'low' END AS churn_risk
FROM {SUMMARY} AS s JOIN {SCORES} AS c
  ON s.frequency = c.frequency AND s.recency = c.recency AND s.T = c.T
"""


def to_dialect(sql: str, dialect: str) -> str:
    """``sql`` (DuckDB's dialect) in another engine's dialect ("duckdb", "spark")."""
    if dialect == "duckdb":
        return sql
    import sqlglot

    return sqlglot.transpile(sql, read="duckdb", write=dialect, pretty=True)[0]


HOLDOUT = "ltvxl_holdout"
"""Name of the per-customer table of a backtest: the calibration summary with the
hold-out purchases and value."""

_VALID = "cid IS NOT NULL AND day IS NOT NULL AND amt IS NOT NULL"


def holdout_query(calibration_end: int, holdout_end: int) -> str:
    """Each calibration customer (a row of the summary to ``calibration_end``) with its
    hold-out purchases (distinct days with an amount >= 0 after ``calibration_end`` up to
    ``holdout_end``, as the summary counts purchases) and hold-out value (every amount,
    returns netted), 0 without any."""
    cal, end = _day_literal(calibration_end), _day_literal(holdout_end)
    return f"""
WITH held AS (
  SELECT cid,
         COUNT(DISTINCT CASE WHEN amt >= 0 THEN day END) AS actual_purchases,
         SUM(amt) AS actual_value
  FROM {NORMALIZED}
  WHERE {_VALID} AND day > {cal} AND day <= {end}
  GROUP BY cid
)
SELECT s.customer, s.first_day, s.frequency, s.recency, s.T, s.monetary_value,
       CAST(COALESCE(h.actual_purchases, 0) AS DOUBLE) AS actual_purchases,
       COALESCE(h.actual_value, 0.0) AS actual_value
FROM {SUMMARY} AS s LEFT JOIN held AS h ON s.customer = h.cid
"""


def holdout_counts_query(calibration_end: int, holdout_end: int) -> str:
    """Customers whose first purchase is in the hold-out (not scored) and rows after the
    hold-out end (left out)."""
    cal, end = _day_literal(calibration_end), _day_literal(holdout_end)
    return f"""
SELECT
  (SELECT COUNT(*) FROM (
     SELECT cid, MIN(day) AS first_day FROM {NORMALIZED}
     WHERE {_VALID} AND amt >= 0 AND day <= {end} GROUP BY cid
   ) AS f WHERE first_day > {cal}) AS late,
  (SELECT COUNT(*) FROM {NORMALIZED} WHERE {_VALID} AND day > {end}) AS after_end
"""


def crosstab_query() -> str:
    """Distinct (frequency, recency, T, actual hold-out purchases) rows of the backtest with
    their customer counts: what the purchase measures depend on."""
    return f"""
SELECT frequency, recency, T, actual_purchases, COUNT(*) AS n
FROM {HOLDOUT} GROUP BY frequency, recency, T, actual_purchases
"""


def cohorts_query() -> str:
    """Calibration customers by first purchase day (the tracking table's cohorts)."""
    return f"SELECT first_day, COUNT(*) AS n FROM {SUMMARY} GROUP BY first_day ORDER BY first_day"


def weekly_repeats_query(first_day: int, holdout_end: int, days: int) -> str:
    """Repeat purchases (distinct days after the customer's first) of the calibration
    customers up to ``holdout_end`` by week: (day - ``first_day``) // ``days``."""
    end = _day_literal(holdout_end)
    return f"""
SELECT CAST(FLOOR((p.day - {_day_literal(first_day)}) / {int(days)}.0) AS BIGINT) AS week,
       COUNT(*) AS n
FROM (SELECT DISTINCT cid, day FROM {NORMALIZED}
      WHERE {_VALID} AND amt >= 0 AND day <= {end}) AS p
JOIN {SUMMARY} AS s ON p.cid = s.customer
WHERE p.day > s.first_day
GROUP BY 1
"""


def backtest_rows_query(spend: str, length: float) -> str:
    """The backtest per customer: the hold-out table joined to the scores of its distinct
    row; ``spend``: the expected spend per purchase (in ``s.frequency`` and
    ``s.monetary_value``), ``length``: the hold-out in the time unit (for the baseline)."""
    return f"""
SELECT
  CAST(s.customer AS VARCHAR) AS customer,
  s.frequency,
  s.recency,
  s.T,
  c.expected_purchases AS predicted_purchases,
  s.actual_purchases,
  CASE WHEN s.T > 0 THEN s.frequency / s.T ELSE 0.0 END * {float(length)!r}
    AS baseline_purchases,
  c.discounted_purchases * ({spend}) AS predicted_value,
  s.actual_value
FROM {HOLDOUT} AS s JOIN {SCORES} AS c
  ON s.frequency = c.frequency AND s.recency = c.recency AND s.T = c.T
"""


def value_totals_query(rows: str) -> str:
    """Totals of a backtest's values: predicted, actual and the sum of absolute errors."""
    return f"""
SELECT SUM(predicted_value) AS predicted_value, SUM(actual_value) AS actual_value,
       SUM(ABS(predicted_value - actual_value)) AS value_error
FROM ({rows}) AS b
"""
