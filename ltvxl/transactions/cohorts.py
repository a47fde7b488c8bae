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
is active in period 1 with a purchase in February. The period holding
``as_of`` is partial unless ``as_of`` is its last day: the table shows it (its
``attrs["partial_last"]`` says so), :func:`cohort_curve` leaves it out.

:func:`cohort_curve` averages the cohorts into one curve by age, pooling only
the cohorts observed for the whole of that period (complete periods), so a
young cohort never pulls an age down with a period it has only begun.
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


def _metric(metric: str) -> str:
    if str(metric).strip().lower() in ("cumulative", "cumulative revenue", "ltv curve"):
        return "ltv"
    return _choice(metric, "metric", METRICS)


def _is_period_end(day: int, period: str) -> bool:
    """Whether ``day`` is the last day of its month, quarter or year."""
    idx = period_index(np.array([day, day + 1]), period)
    return bool(idx[0] != idx[1])


def cohort_table(
    log: TransactionLog, period: str = "month", metric: str = "retention", as_of: Any = None
) -> pd.DataFrame:
    """Cohort x periods-since-acquisition table of ``metric`` (see the module).

    Index: cohort labels (``2024-01``, ``2024-Q1`` or ``2024``); columns:
    ``customers`` (cohort size) then ``0, 1, 2, ...`` periods since acquisition.
    """
    period = _choice(period, "period", PERIODS)
    metric = _metric(metric)
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
                    notes=t.notes(log), partial_last=not _is_period_end(day, period))
    return df


def cohort_curve(
    log: TransactionLog, period: str = "month", metric: str = "ltv", as_of: Any = None
) -> pd.DataFrame:
    """The cohorts averaged into one curve by periods since acquisition, over complete
    periods only.

    At each age k the cohorts observed for all of period k are pooled: the
    period holding ``as_of`` counts only when ``as_of`` is its last day.
    ``retention``: their active customers / their customers (a fraction);
    ``active``: active customers per cohort; ``revenue``: their revenue in period
    k / their customers (per acquired customer); ``ltv``: the sum of those
    per-customer revenues over ages 0..k (each age pooling its own cohorts,
    so the curve does not jump where a cohort stops being observed).
    Columns: ``age`` (0, 1, ...), ``cohorts`` and ``customers`` pooled at that age,
    and ``value``. Ages no cohort has completed are not rows.
    """
    period = _choice(period, "period", PERIODS)
    metric = _metric(metric)
    base = "revenue" if metric in ("revenue", "ltv") else "active"
    grid = cohort_table(log, period, base, as_of)
    sizes = grid["customers"].to_numpy(float)
    values = grid.drop(columns="customers").to_numpy(float)
    observed = ~np.isnan(values)
    if grid.attrs["partial_last"]:  # the last observed cell of each cohort is partial
        last = observed.sum(axis=1) - 1
        observed[np.arange(len(last)), last] = False
    n_ages = int(observed.any(axis=0).sum()) if observed.any() else 0
    observed = observed[:, :n_ages]
    cohorts_at = observed.sum(axis=0)
    customers_at = (observed * sizes[:, None]).sum(axis=0)
    pooled = np.where(observed, values[:, :n_ages], 0.0).sum(axis=0)
    if metric == "active":
        value = pooled / cohorts_at
    else:
        value = pooled / customers_at
        if metric == "ltv":
            value = np.cumsum(value)
    out = pd.DataFrame({"age": np.arange(n_ages), "cohorts": cohorts_at.astype(np.int64),
                        "customers": customers_at.astype(np.int64), "value": value})
    out.attrs.update(period=period, metric=metric, as_of=grid.attrs["as_of"],
                     notes=grid.attrs["notes"], partial_last=grid.attrs["partial_last"])
    return out
