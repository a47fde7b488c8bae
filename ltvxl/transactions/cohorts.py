"""Acquisition cohorts: customers grouped by the period of their first purchase.

:func:`cohort_table` gives one row per cohort (month, quarter or year of the
first purchase, on or before ``as_of``) and one column per period since
acquisition (period 0 is the acquisition period itself), with the metric:

- ``active``: customers of the cohort with a purchase in that period;
- ``retention``: active / cohort size, a fraction (period 0 is 1);
- ``revenue``: the cohort's revenue in that period (returns netted);
- ``ltv``: cumulative revenue per acquired customer up to and including that
  period: the empirical LTV curve.

Periods that have not happened by ``as_of`` are NaN (blank in a worksheet),
not zero. Periods are calendar periods: a customer acquired on 31 January
is active in period 1 with a purchase in February.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import LtvxlError, clip
from .choices import METRICS, PERIODS
from .log import TransactionLog
from .summary import CustomerTotals, resolve_as_of


def period_index(days: np.ndarray, period: str) -> np.ndarray:
    """Calendar period number of each day: months, quarters or years since 1970."""
    months = np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype(
        "datetime64[M]").astype(np.int64)
    if period == "month":
        return months
    if period == "quarter":
        return months // 3
    return months // 12


def period_label(index: int, period: str) -> str:
    """``2024-01``, ``2024-Q1`` or ``2024`` for a period number."""
    if period == "month":
        return str(np.datetime64(int(index), "M"))
    if period == "quarter":
        return f"{1970 + index // 4}-Q{index % 4 + 1}"
    return str(1970 + index)


def _choice(value: str, name: str, choices: tuple[str, ...]) -> str:
    key = str(value).strip().lower()
    for c in choices:
        if key in (c, c + "s", c + "ly"):
            return c
    raise LtvxlError(f'{name} must be one of {", ".join(choices)}; got {clip(repr(value), 40)}')


def cohort_table(
    log: TransactionLog, period: str = "month", metric: str = "retention", as_of: Any = None
) -> pd.DataFrame:
    """Cohort x periods-since-acquisition table of ``metric`` (see the module).

    Index: cohort labels (``2024-01``, ``2024-Q1`` or ``2024``); columns:
    ``customers`` (cohort size) then ``0, 1, 2, ...`` periods since acquisition.
    """
    period = _choice(period, "period", PERIODS)
    metric = "ltv" if str(metric).strip().lower() in ("cumulative", "cumulative revenue",
                                                     "ltv curve") else metric
    metric = _choice(metric, "metric", METRICS)
    day = resolve_as_of(log, as_of)
    t = CustomerTotals(log, day)
    inside = log.days <= day
    codes, days, amounts = log.codes[inside], log.days[inside], log.amounts[inside]
    has = t.has_purchase
    if not has.any():
        raise LtvxlError("no purchases on or before as_of")
    keep = has[codes]  # rows of customers with a purchase (drops returns-only customers)
    codes, days, amounts = codes[keep], days[keep], amounts[keep]
    cust_cohort = period_index(np.where(has, t.first, 0), period)
    now = int(period_index(np.array([day]), period)[0])
    used = np.unique(cust_cohort[has])
    row_of = np.full(int(used.max() - used.min() + 1), -1, dtype=np.int64)
    row_of[used - used.min()] = np.arange(len(used))
    crow = np.full(len(has), -1, dtype=np.int64)
    crow[has] = row_of[cust_cohort[has] - used.min()]
    n_rows, n_cols = len(used), int(now - used.min() + 1)
    sizes = np.bincount(crow[has], minlength=n_rows).astype(float)
    k = np.maximum(period_index(days, period) - cust_cohort[codes], 0)
    cell = crow[codes] * n_cols + k
    if metric in ("revenue", "ltv"):
        grid = np.bincount(cell, weights=amounts, minlength=n_rows * n_cols).reshape(n_rows, n_cols)
        if metric == "ltv":
            grid = np.cumsum(grid, axis=1) / sizes[:, None]
    else:
        buy = amounts >= 0
        pairs = np.unique(codes[buy].astype(np.int64) * n_cols + k[buy])
        pc = pairs // n_cols
        grid = np.bincount(crow[pc] * n_cols + pairs % n_cols,
                           minlength=n_rows * n_cols).reshape(n_rows, n_cols).astype(float)
        if metric == "retention":
            grid = grid / sizes[:, None]
    future = np.arange(n_cols)[None, :] > (now - used)[:, None]
    grid[future] = np.nan
    df = pd.DataFrame(grid, columns=list(range(n_cols)))
    df.insert(0, "customers", sizes.astype(np.int64))
    df.index = pd.Index([period_label(int(i), period) for i in used], name="cohort")
    df.attrs.update(period=period, metric=metric, as_of=np.datetime64(day, "D"),
                    notes=t.notes(log))
    return df
