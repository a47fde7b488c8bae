"""LTV over time: one row per calendar month, quarter or year of a transaction log.

:func:`trend_table` follows every period from the one of the first transaction
to the one of ``as_of`` (empty periods included, so that changes compare like
with like). For each period:

- ``active``: customers with a purchase (amount >= 0) in the period;
  ``new``: customers whose first purchase falls in it;
- ``orders``: purchase rows, or distinct orders when the log has order ids
  (:attr:`~ltvxl.transactions.log.TransactionLog.orders`); ``revenue``: all
  amounts, returns netted, so that the periods add up to the log's revenue;
  ``aov`` = revenue / orders; ``orders_per_active``;
- ``retention``: customers active in both this and the previous period /
  customers active in the previous one; ``churn`` = 1 - retention (blank for
  the first period);
- ``arpu``: revenue / active customers, per period;
- ``trailing_churn``: churn pooled over the periods of the last six months
  before this one, this one excluded (six months, two quarters or one year):
  customers lost / customers active at the start, summed over those periods;
- ``trailing_ltv``: ``arpu x margin / trailing_churn`` (the ChartMogul
  definition, :func:`ltvxl.unit_economics.ltv_churn`: ARPA 100 at 5 % churn
  is 2,000), in currency, a per-period ARPU over a per-period churn;
- changes (fractions) of revenue and of trailing LTV against the previous
  period and against the same period a year earlier;
- ``partial``: True for a first period that starts before the first
  transaction or a last period that ends after ``as_of``; ``days`` says how
  many of its days the log covers.

A value that cannot be computed (a change from 0, a churn of 0) is NaN, blank
in a worksheet.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..domains import FRACTION, check
from ..errors import LtvxlError
from .cohorts import PERIODS, period_index, period_label
from .log import TransactionLog
from .summary import resolve_as_of

TRAILING_MONTHS = 6
"""Length of the window of the trailing churn rate, excluding the current period (ChartMogul)."""
MONTHS = {"month": 1, "quarter": 3, "year": 12}
"""Months in each period."""

TREND_COLUMNS = (
    "period", "start", "end", "days", "partial", "active", "new", "orders", "revenue", "aov",
    "orders_per_active", "retention", "churn", "arpu", "trailing_churn", "trailing_ltv",
    "revenue_vs_previous", "revenue_vs_year_ago", "ltv_vs_previous", "ltv_vs_year_ago",
)


def _month_start_day(month_index: np.ndarray) -> np.ndarray:
    """Day number (since 1970-01-01) of the first day of each month index."""
    return np.asarray(month_index, dtype=np.int64).astype("datetime64[M]").astype(
        "datetime64[D]").astype(np.int64)


def _period(value: Any) -> str:
    """``month``, ``quarter`` or ``year`` (also ``months``, ``quarterly``, ``yearly``...)."""
    key = str(value).strip().lower()
    for p in PERIODS:
        if key in (p, p + "s", p + "ly"):
            return p
    raise LtvxlError(f'period must be one of {", ".join(PERIODS)}; got "{value}"')


def _distinct(keys: np.ndarray) -> np.ndarray:
    """The sorted distinct values of an integer array (by sorting: numpy 2's hash-based
    ``np.unique`` takes seconds on a million keys)."""
    out = np.sort(keys)
    if out.size:
        out = out[np.concatenate(([True], out[1:] != out[:-1]))]
    return out


def _change(x: np.ndarray, lag: int) -> np.ndarray:
    """``x[p] / x[p - lag] - 1``; NaN where there is no earlier period or it is 0."""
    out = np.full(len(x), np.nan)
    if lag < len(x):
        prev, cur = x[:-lag], x[lag:]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[lag:] = np.where(prev != 0, cur / np.where(prev != 0, prev, 1.0) - 1.0, np.nan)
    return out


def trend_table(
    log: TransactionLog, period: str = "quarter", as_of: Any = None, margin: float = 1.0,
) -> pd.DataFrame:
    """One row per period with the columns of :data:`TREND_COLUMNS` (see the module).

    ``margin``: gross margin as a fraction (1 for a revenue LTV). With order ids
    (``log.orders``) the lines of one order are one order.
    """
    from ..unit_economics import ltv_churn

    period = _period(period)
    m = float(check("margin", margin, FRACTION))
    day = resolve_as_of(log, as_of)
    inside = log.days <= day
    codes, days, amounts = log.codes[inside], log.days[inside], log.amounts[inside]
    order_ids = None if log.orders is None else log.orders[inside]
    first_day = int(days.min())
    idx = period_index(days, period)
    p0 = int(period_index(np.array([first_day]), period)[0])
    p1 = int(period_index(np.array([day]), period)[0])
    n = p1 - p0 + 1
    k = (idx - p0).astype(np.int64)
    revenue = np.bincount(k, weights=amounts, minlength=n)
    buy = amounts >= 0
    if not buy.any():
        raise LtvxlError("no purchases on or before as_of (only returns)")
    bk, bc = k[buy], codes[buy].astype(np.int64)
    if order_ids is None:
        orders = np.bincount(bk, minlength=n).astype(float)
    else:
        order_code = np.asarray(order_ids[buy], dtype=np.int64)
        span = int(order_code.max()) + 1
        pairs = _distinct(bk * span + order_code)
        orders = np.bincount(pairs // span, minlength=n).astype(float)
    keys = _distinct(bc * n + bk)  # one key per (customer, active period)
    key_period = keys % n
    active = np.bincount(key_period, minlength=n).astype(float)
    first_period = np.full(len(log.customers), n, dtype=np.int64)
    np.minimum.at(first_period, bc, bk)
    new = np.bincount(first_period[first_period < n], minlength=n).astype(float)
    # keys are sorted and distinct: (customer, period + 1) is there iff it is the next key
    stays = np.zeros(keys.size, dtype=bool)
    stays[:-1] = (keys[1:] == keys[:-1] + 1) & (key_period[:-1] < n - 1)
    retained = np.zeros(n)
    retained[1:] = np.bincount(key_period[stays], minlength=n)[:-1]
    prev_active = np.concatenate([[np.nan], active[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        retention = np.where(prev_active > 0, retained / prev_active, np.nan)
        lost = np.where(prev_active > 0, prev_active - retained, 0.0)
        aov = np.where(orders > 0, revenue / orders, np.nan)
        per_active = np.where(active > 0, orders / active, np.nan)
        arpu = np.where(active > 0, revenue / active, np.nan)
    window = max(1, TRAILING_MONTHS // MONTHS[period])
    trailing = np.full(n, np.nan)
    base = np.nan_to_num(prev_active)
    for p in range(2, n):
        lo = max(1, p - window)
        at_start = base[lo:p].sum()
        if at_start > 0:
            trailing[p] = lost[lo:p].sum() / at_start
    usable = (trailing > 0) & np.isfinite(arpu) & (arpu >= 0)
    trailing_ltv = np.full(n, np.nan)
    if usable.any():
        trailing_ltv[usable] = ltv_churn(arpu[usable], trailing[usable], m)
    months = MONTHS[period]
    start_month = (np.arange(n) + p0) * months
    start = _month_start_day(start_month)
    end = _month_start_day(start_month + months) - 1
    covered = np.minimum(end, day) - np.maximum(start, first_day) + 1
    year = 12 // months
    df = pd.DataFrame({
        "period": [period_label(p0 + i, period) for i in range(n)],
        "start": start.astype("datetime64[D]"),
        "end": end.astype("datetime64[D]"),
        "days": covered.astype(np.int64),
        "partial": covered < (end - start + 1),
        "active": active.astype(np.int64),
        "new": new.astype(np.int64),
        "orders": orders.astype(np.int64),
        "revenue": revenue,
        "aov": aov,
        "orders_per_active": per_active,
        "retention": retention,
        "churn": 1.0 - retention,
        "arpu": arpu,
        "trailing_churn": trailing,
        "trailing_ltv": trailing_ltv,
        "revenue_vs_previous": _change(revenue, 1),
        "revenue_vs_year_ago": _change(revenue, year),
        "ltv_vs_previous": _change(trailing_ltv, 1),
        "ltv_vs_year_ago": _change(trailing_ltv, year),
    })
    notes = list(log.notes)
    if not inside.all():
        notes.append(f"transactions after as_of left out: {int((~inside).sum())}")
    df.attrs.update(period=period, as_of=np.datetime64(day, "D"), window=window, notes=notes)
    return df
