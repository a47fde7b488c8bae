"""RFM scores and named segments.

For each customer with a purchase on or before ``as_of``:

- recency: days from the last purchase to ``as_of``; frequency: orders
  (purchase rows); monetary: revenue (returns netted);
- scores 1 to 5 by quintile: a customer's score is 1 + floor(5 x c / n), where
  n is the number of customers and c the number of customers with a strictly
  worse value (a larger recency, a smaller frequency or monetary value). The
  best customers score 5, recency is reversed (recent is good), and equal
  values always get equal scores, so ties are handled deterministically and
  independently of row order;
- FM = the mean of the F and M scores, rounded half up;
- the segment is read from :data:`SEGMENT_GRID` by R (row) and FM (column).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .log import TransactionLog
from .summary import CustomerTotals, resolve_as_of

SEGMENTS = (
    "Champions", "Loyal Customers", "Potential Loyalist", "New Customers", "Promising",
    "Need Attention", "About To Sleep", "At Risk", "Can't Lose Them", "Hibernating", "Lost",
)
"""The segment names, best first (also the order of :func:`rfm_summary`)."""

SEGMENT_GRID: dict[int, tuple[str, str, str, str, str]] = {
    # R score: segment for FM = 1, 2, 3, 4, 5
    5: ("New Customers", "Potential Loyalist", "Potential Loyalist", "Champions", "Champions"),
    4: ("Promising", "Potential Loyalist", "Loyal Customers", "Loyal Customers", "Champions"),
    3: ("About To Sleep", "About To Sleep", "Need Attention", "Loyal Customers",
        "Loyal Customers"),
    2: ("Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose Them"),
    1: ("Lost", "Lost", "Hibernating", "At Risk", "Can't Lose Them"),
}
"""The rule table: segment by R score and FM score."""


def quintile_scores(values: np.ndarray, higher_is_better: bool = True) -> np.ndarray:
    """Scores 1..5: 1 + floor(5 x (customers with a strictly worse value) / n)."""
    v = np.asarray(values, dtype=float)
    n = len(v)
    s = np.sort(v)
    if higher_is_better:
        worse = np.searchsorted(s, v, side="left")
    else:
        worse = n - np.searchsorted(s, v, side="right")
    return (1 + (5 * worse) // max(n, 1)).astype(np.int64)


def segment_of(r: np.ndarray, fm: np.ndarray) -> np.ndarray:
    """Segment names for arrays of R and FM scores (1..5)."""
    grid = np.array([SEGMENT_GRID[i] for i in range(1, 6)], dtype=object)
    return grid[np.asarray(r) - 1, np.asarray(fm) - 1]


def rfm_table(log: TransactionLog, as_of: Any = None) -> pd.DataFrame:
    """Per customer: recency_days, orders, revenue, R, F, M, RFM code and segment."""
    day = resolve_as_of(log, as_of)
    t = CustomerTotals(log, day)
    keep = np.flatnonzero(t.has_purchase)
    recency = (day - t.last[keep]).astype(np.int64)
    orders = t.orders[keep]
    revenue = t.revenue[keep]
    r = quintile_scores(recency, higher_is_better=False)
    f = quintile_scores(orders)
    m = quintile_scores(revenue)
    fm = (f + m + 1) // 2
    df = pd.DataFrame({
        "customer": log.customers[keep],
        "recency_days": recency,
        "orders": orders,
        "revenue": revenue,
        "R": r,
        "F": f,
        "M": m,
        "RFM": [f"{a}{b}{c}" for a, b, c in zip(r, f, m, strict=True)],
        "segment": segment_of(r, fm),
    })
    df.attrs.update(as_of=np.datetime64(day, "D"), notes=t.notes(log))
    return df


def rfm_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Customers and revenue per segment (all segments, in :data:`SEGMENTS` order)."""
    g = table.groupby("segment", sort=False).agg(customers=("customer", "size"),
                                                 revenue=("revenue", "sum"))
    g = g.reindex(list(SEGMENTS), fill_value=0)
    total_c, total_r = g["customers"].sum(), g["revenue"].sum()
    out = pd.DataFrame({
        "segment": g.index,
        "customers": g["customers"].to_numpy(np.int64),
        "share_of_customers": g["customers"].to_numpy(float) / total_c if total_c else 0.0,
        "revenue": g["revenue"].to_numpy(float),
        "share_of_revenue": g["revenue"].to_numpy(float) / total_r if total_r else 0.0,
    })
    return out
