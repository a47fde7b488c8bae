"""One row per order (what the report's Transactions table holds): a log with order ids,
summed to one row per order, gives the per-customer figures of the log itself when read
without order ids, and the orders counted independently with pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ltvxl.transactions import TransactionLog, customer_summary, one_row_per_order, rfm_table
from ltvxl.transactions.orders import LINES_SUMMED, SEVERAL_DAYS
from ltvxl.transactions.trend import trend_table

SUMMARY = ["first_purchase", "last_purchase", "orders", "revenue", "frequency", "recency", "T",
           "monetary_value"]


def lines(seed: int, n_orders: int = 400) -> pd.DataFrame:
    """Order lines: 1-6 lines per order, some returned lines, cancellation orders, zero
    lines, orders without an id (each line its own order), one order id per customer."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n_orders):
        customer = f"C{rng.integers(60)}"
        day = np.datetime64("2023-01-01") + np.timedelta64(int(rng.integers(0, 500)), "D")
        order = None if rng.random() < 0.05 else (f"C{k}" if rng.random() < 0.05 else str(k))
        for _ in range(int(rng.integers(1, 7))):
            amount = round(float(rng.gamma(2.0, 20.0)), 2)
            if (order is not None and order.startswith("C")) or rng.random() < 0.05:
                amount = -amount
            elif rng.random() < 0.03:
                amount = 0.0
            rows.append((customer, day, amount, order, f"ch{rng.integers(3)}"))
    return pd.DataFrame(rows, columns=["customer", "date", "amount", "order", "channel"])


def log_of(df: pd.DataFrame, orders: bool = True) -> TransactionLog:
    return TransactionLog.from_arrays(df["customer"], df["date"].to_numpy(), df["amount"],
                                      {"channel": df["channel"]},
                                      orders=df["order"].to_numpy(object) if orders else None)


def as_table(per: TransactionLog) -> TransactionLog:
    """The rows as the report's Transactions table holds them: no order column."""
    return TransactionLog.from_arrays(per.ids, per.dates, per.amounts,
                                      {"channel": per.extra["channel"]})


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("as_of", [None, "2023-09-30"])
def test_the_table_of_orders_gives_the_logs_figures(seed, as_of):
    df = lines(seed)
    log = log_of(df)
    per = one_row_per_order(log)
    table = as_table(per)
    assert len(per) < len(log) and per.counts[LINES_SUMMED] == len(log) - len(per)
    a = customer_summary(log, as_of=as_of).table.set_index("customer")[SUMMARY]
    b = customer_summary(table, as_of=as_of).table.set_index("customer")[SUMMARY]
    pd.testing.assert_frame_equal(a, b, rtol=1e-12)
    # orders counted independently: distinct order ids among lines >= 0 (a line without an
    # order id is an order of its own), up to as_of
    cut = df if as_of is None else df[df["date"] <= np.datetime64(as_of)]
    buys = cut[cut["amount"] >= 0]
    key = buys["order"].where(buys["order"].notna(), "line" + buys.index.astype(str))
    expected = key.groupby(buys["customer"]).nunique()
    assert b["orders"].to_dict() == expected.to_dict()
    ra = rfm_table(log, as_of=as_of).set_index("customer")[["orders", "F", "segment"]]
    rb = rfm_table(table, as_of=as_of).set_index("customer")[["orders", "F", "segment"]]
    pd.testing.assert_frame_equal(ra, rb)
    ta = trend_table(log, "month", as_of=as_of)[["orders", "revenue", "active"]]
    tb = trend_table(table, "month", as_of=as_of)[["orders", "revenue", "active"]]
    pd.testing.assert_frame_equal(ta, tb, rtol=1e-12)


def test_line_items_read_as_purchases_would_count_more():
    """The reason for the table of orders: without it, lines are purchases."""
    log = log_of(lines(4))
    lines_only = log_of(lines(4), orders=False)
    assert customer_summary(lines_only).table["orders"].sum() > \
        customer_summary(log).table["orders"].sum()


def test_orders_on_several_days_are_counted():
    df = pd.DataFrame({"customer": ["A", "A", "A", "B"],
                       "date": np.array(["2024-01-01", "2024-01-01", "2024-01-03", "2024-01-02"],
                                        dtype="datetime64[D]"),
                       "amount": [10.0, 5.0, 2.0, 3.0], "order": ["1", "1", "1", "2"],
                       "channel": ["x", "y", "x", "x"]})
    per = one_row_per_order(log_of(df))
    assert per.amounts.tolist() == [15.0, 2.0, 3.0]
    assert per.extra["channel"].tolist() == ["x", "x", "x"]  # the first line's
    assert per.counts[SEVERAL_DAYS] == 1 and per.counts[LINES_SUMMED] == 1


def test_a_log_without_order_ids_is_kept_as_it_is():
    log = log_of(lines(5), orders=False)
    assert one_row_per_order(log) is log
