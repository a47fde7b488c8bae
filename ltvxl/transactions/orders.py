"""A log with order ids as one row per purchase: what a table without an order column needs.

The report's Transactions table has no order column, so each of its rows is one
purchase. :func:`one_row_per_order` sums the lines of each order (per customer
and day) into one row, keeping an order's returned lines apart as one negative
row, so the per-customer figures of the table equal the log's own (orders,
revenue, first and last purchase, purchase days, repeat value; see
:class:`~.summary.CustomerTotals`): an order with a line of amount >= 0 is a
purchase, and returns are netted into revenue.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .log import TransactionLog

LINES_SUMMED = "order lines summed into one row per order"
SEVERAL_DAYS = "orders on several days (one purchase a day in the table)"


def one_row_per_order(log: TransactionLog) -> TransactionLog:
    """One row per (customer, order, day, purchase or return) of a log with order ids, in
    the order of each group's first line, its amount the lines' sum and its other columns
    the first line's; a log without order ids as it is. Counts say how many lines were
    summed and how many orders ran over several days."""
    if log.orders is None or not len(log):
        return log
    buy = log.amounts >= 0
    frame = pd.DataFrame({"c": log.codes, "o": log.orders, "d": log.days, "b": buy})
    group = frame.groupby(["c", "o", "d", "b"], sort=False).ngroup().to_numpy()
    n = int(group.max()) + 1
    if n == len(log):
        return log
    _, first = np.unique(group, return_index=True)  # groups are numbered by first line
    amounts = np.bincount(group, weights=log.amounts, minlength=n)
    counts = dict(log.counts)
    counts[LINES_SUMMED] = len(log) - n
    days_per_order = frame[buy].groupby(["c", "o"], sort=False)["d"].nunique()
    several = int((days_per_order > 1).sum())
    if several:
        counts[SEVERAL_DAYS] = several
    return TransactionLog(
        codes=log.codes[first],
        customers=log.customers,
        dates=log.dates[first],
        amounts=amounts,
        extra={k: v[first] for k, v in log.extra.items()},
        counts=counts,
        orders=log.orders[first],
        columns=dict(log.columns),
        source=log.source,
    )
