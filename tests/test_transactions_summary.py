"""The per-customer summary: CDNOW's published calibration summary, lifetimes' output on a
small log, hand computations and properties that must hold for any log."""

import datetime as dt
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ltvxl.udfs as udfs
from ltvxl.errors import LtvxlError
from ltvxl.transactions import TransactionLog, customer_summary
from ltvxl.transactions import summary as summary_module

DATA = Path(__file__).parent / "data"


def cdnow_log():
    raw = pd.read_csv(DATA / "CDNOW_sample.txt", sep=r"\s+", header=None,
                      names=["master_id", "id", "date", "cds", "amount"])
    return TransactionLog.from_arrays(raw["id"].to_numpy(), raw["date"].to_numpy(),
                                      raw["amount"].to_numpy())


def test_cdnow_39_week_calibration_summary_exactly():
    """Fader, Hardie & Lee (2005): x, t_x, T (weeks, 2 decimals) of all 2,357 customers."""
    ref = pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")
    summary = customer_summary(cdnow_log(), as_of="1997-09-30", time_unit="weeks")
    assert str(summary.as_of) == "1997-09-30" and summary.time_unit == "weeks"
    s = summary.table
    assert len(s) == len(ref) == 2357
    assert list(s["customer"]) == [str(i) for i in ref["ID"]]
    assert (s["frequency"].to_numpy() == ref["x"].to_numpy()).all()
    assert (s["recency"].round(2).to_numpy() == ref["t_x"].to_numpy()).all()
    assert (s["T"].round(2).to_numpy() == ref["T"].to_numpy()).all()
    assert s["frequency"].sum() == 2457 and (s["frequency"] > 0).sum() == 946
    # zbar is rounded to cents in the file (half-way cases may round either way)
    assert np.abs(s["monetary_value"].to_numpy() - ref["zbar"].to_numpy()).max() <= 0.005 + 1e-9
    assert any("transactions after as_of excluded" in n for n in summary.notes)


def test_cdnow_through_the_worksheet_function():
    raw = pd.read_csv(DATA / "CDNOW_sample.txt", sep=r"\s+", header=None,
                      names=["master_id", "id", "date", "cds", "amount"])
    days = pd.to_datetime(raw["date"].astype(str)).dt.to_pydatetime()
    ids = [["ID"], *([float(v)] for v in raw["id"])]
    dates = [["Date"], *([d] for d in days)]
    amounts = [["Amount"], *([float(v)] for v in raw["amount"])]
    out = udfs.LTV_CUSTOMERS(ids, dates, amounts, dt.datetime(1997, 9, 30), "weeks")
    ref = pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")
    assert out[0][6:9] == ["repeat purchases", "recency (weeks)", "age T (weeks)"]
    body = out[1:]
    assert [r[0] for r in body] == [str(i) for i in ref["ID"]]
    assert [r[6] for r in body] == list(ref["x"].astype(float))
    assert [round(r[7], 2) for r in body] == list(ref["t_x"])
    assert [round(r[8], 2) for r in body] == list(ref["T"])


SMALL = [
    ("a", "2024-01-01", 10.0), ("a", "2024-01-01", 5.0), ("a", "2024-01-15", 20.0),
    ("a", "2024-03-04", 7.5), ("b", "2024-02-10", 12.0), ("c", "2024-01-20", 3.0),
    ("c", "2024-02-03", 4.0), ("c", "2024-02-03", 6.0), ("d", "2024-03-30", 50.0),
    ("b", "2024-04-05", 99.0),
]


def small_log(rows=SMALL):
    ids, dates, amounts = zip(*rows, strict=True)
    return TransactionLog.from_arrays(np.array(ids, dtype=object),
                                      np.array(dates, dtype=object), np.array(amounts))


def test_agrees_with_lifetimes_on_a_small_log():
    """Expected values are lifetimes 0.11.3's summary_data_from_transaction_data on SMALL with
    observation_period_end="2024-03-31", freq="D" and freq_multiplier=7 (recorded by running
    lifetimes in a separate environment; lifetimes is not a test dependency).
    benchmarks/bench_summary.py compares the two on a million transactions."""
    s = customer_summary(small_log(), as_of="2024-03-31", time_unit="weeks").table
    s = s.set_index("customer")
    lifetimes = pd.DataFrame(
        {"frequency": [2.0, 0.0, 1.0, 0.0], "recency": [9.0, 0.0, 2.0, 0.0],
         "T": [12.857143, 7.142857, 10.142857, 0.142857],
         "monetary_value": [13.75, 0.0, 10.0, 0.0]},
        index=["a", "b", "c", "d"])
    for column in lifetimes:
        np.testing.assert_allclose(s[column].to_numpy(float), lifetimes[column].to_numpy(),
                                   atol=1e-6)
    days = customer_summary(small_log(), as_of="2024-03-31", time_unit="days").table
    assert list(days["recency"]) == [63.0, 0.0, 14.0, 0.0]
    assert list(days["T"]) == [90.0, 50.0, 71.0, 1.0]


def test_small_log_by_hand():
    s = customer_summary(small_log(), time_unit="days").table  # as_of 2024-04-05
    s = s.set_index("customer")
    a = s.loc["a"]
    assert a["orders"] == 4 and a["revenue"] == 42.5 and a["avg_order_value"] == 42.5 / 4
    assert a["frequency"] == 2 and a["recency"] == 63 and a["T"] == 95
    assert a["monetary_value"] == (20.0 + 7.5) / 2 and a["historical_value"] == 42.5
    assert str(a["first_purchase"])[:10] == "2024-01-01"
    assert str(a["last_purchase"])[:10] == "2024-03-04"
    b = s.loc["b"]
    assert b["frequency"] == 1 and b["recency"] == 55 and b["monetary_value"] == 99.0
    c = s.loc["c"]  # two purchases on 2024-02-03 are one repeat purchase worth 10
    assert c["orders"] == 3 and c["frequency"] == 1 and c["monetary_value"] == 10.0
    assert s.loc["d", "T"] == 6


def test_time_units():
    log = small_log()
    days = customer_summary(log, time_unit="days").table
    for unit, per in (("weeks", 7.0), ("months", 365.25 / 12), ("years", 365.25)):
        other = customer_summary(log, time_unit=unit).table
        np.testing.assert_allclose(other["T"], days["T"] / per)
        np.testing.assert_allclose(other["recency"], days["recency"] / per)
    with pytest.raises(LtvxlError, match="time_unit must be one of days, weeks, months, years"):
        customer_summary(log, time_unit="fortnights")


def test_returns_reduce_revenue_but_are_not_purchases():
    rows = [("a", "2024-01-01", 100.0), ("a", "2024-01-10", -30.0), ("a", "2024-02-01", 50.0),
            ("b", "2024-01-05", -10.0)]
    summary = customer_summary(small_log(rows), time_unit="days")
    assert str(summary.as_of) == "2024-02-01" and len(summary) == 1
    s = summary.table.set_index("customer")
    assert list(s.index) == ["a"]  # b has a return but no purchase
    a = s.loc["a"]
    assert a["revenue"] == 120.0 and a["orders"] == 2 and a["avg_order_value"] == 60.0
    assert a["frequency"] == 1 and a["recency"] == 31 and a["monetary_value"] == 50.0
    notes = summary.notes
    assert "returns netted (negative amounts): 2" in notes
    assert "customers with returns but no purchase excluded: 1" in notes


def test_as_of_problems():
    with pytest.raises(LtvxlError, match="as_of 2023-01-01 is before the first transaction"):
        customer_summary(small_log(), as_of="2023-01-01")
    with pytest.raises(LtvxlError, match='as_of: "soon" is not a date'):
        customer_summary(small_log(), as_of="soon")
    out = udfs.LTV_CUSTOMERS([["a"]], [[45000.0]], [[1.0]], "yesterday", None)
    assert out.startswith('#VALUE! as_of: "yesterday" is not a date')
    out = udfs.LTV_CUSTOMERS([["a"]], [[45000.0]], [[1.0]], None, "decades")
    assert out.startswith("#VALUE! time_unit must be one of")


# ------------------------------------------------------------------ properties

rows_strategy = st.lists(
    st.tuples(st.integers(0, 12), st.integers(0, 120),
              st.sampled_from([0.0, 1.5, 10.0, 20.25, -3.0, 99.99])),
    min_size=1, max_size=60,
)
BASE = np.datetime64("2024-01-01", "D")


def log_of(rows):
    ids = np.array([f"c{i}" for i, _, _ in rows], dtype=object)
    dates = BASE + np.array([d for _, d, _ in rows], dtype=np.int64)
    amounts = np.array([a for _, _, a in rows])
    return TransactionLog.from_arrays(ids, dates, amounts)


def rows_by_customer(df):
    return {r["customer"]: tuple(r.drop("customer")) for _, r in df.iterrows()}


@settings(max_examples=60, deadline=None)
@given(rows_strategy, st.randoms(use_true_random=False))
def test_row_order_does_not_matter(rows, rnd):
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    as_of = BASE + np.timedelta64(130, "D")
    a = customer_summary(log_of(rows), as_of=as_of).table
    b = customer_summary(log_of(shuffled), as_of=as_of).table
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(rows_strategy, st.lists(st.tuples(st.integers(0, 120), st.floats(0, 500)),
                               min_size=1, max_size=5))
def test_adding_a_customer_leaves_the_others_unchanged(rows, new_rows):
    as_of = BASE + np.timedelta64(130, "D")
    before = rows_by_customer(customer_summary(log_of(rows), as_of=as_of).table)
    extended = rows + [(99, d, a) for d, a in new_rows]
    after = rows_by_customer(customer_summary(log_of(extended), as_of=as_of).table)
    assert set(after) - set(before) == {"c99"}
    for cust, values in before.items():
        assert after[cust] == values


@settings(max_examples=60, deadline=None)
@given(rows_strategy, st.integers(0, 12))
def test_splitting_by_customer_gives_the_same_rows(rows, cut):
    as_of = BASE + np.timedelta64(130, "D")
    whole = rows_by_customer(customer_summary(log_of(rows), as_of=as_of).table)
    low = [r for r in rows if r[0] < cut]
    high = [r for r in rows if r[0] >= cut]
    parts = {}
    for part in (low, high):
        if part and any(a >= 0 for _, _, a in part):
            parts.update(rows_by_customer(customer_summary(log_of(part), as_of=as_of).table))
    assert parts == whole


@settings(max_examples=40, deadline=None)
@given(rows_strategy)
def test_summary_matches_a_direct_per_customer_computation(rows):
    """An independent, loop-based reading of the definitions."""
    check_against_direct_computation(rows)


@settings(max_examples=40, deadline=None)
@given(rows_strategy)
def test_block_by_block_steps_match_with_tiny_blocks(rows):
    """The summary works block by block (to bound memory): with blocks of 3 rows every
    boundary case (a customer or a day across blocks) occurs, and the result is the same."""
    with mock.patch.object(summary_module, "_CHUNK", 3):
        check_against_direct_computation(rows)


def check_against_direct_computation(rows):
    as_of = 130
    end = BASE + np.timedelta64(as_of, "D")
    s = customer_summary(log_of(rows), as_of=end, time_unit="days").table
    got = rows_by_customer(s)
    expected = {}
    for cust in sorted({i for i, _, _ in rows}):
        mine = [(d, a) for i, d, a in rows if i == cust]
        buys = [(d, a) for d, a in mine if a >= 0]
        if not buys:
            continue
        first = min(d for d, _ in buys)
        last = max(d for d, _ in buys)
        days = sorted({d for d, _ in buys})
        repeat = [sum(a for d2, a in buys if d2 == d) for d in days[1:]]
        revenue = sum(a for _, a in mine)
        expected[f"c{cust}"] = dict(orders=len(buys), revenue=revenue, frequency=len(days) - 1,
                                    recency=last - first, T=as_of - first,
                                    monetary_value=(sum(repeat) / len(repeat)) if repeat else 0)
    assert set(got) == set(expected)
    cols = list(s.columns.drop("customer"))
    for cust, exp in expected.items():
        row = dict(zip(cols, got[cust], strict=True))
        for key, value in exp.items():
            assert row[key] == pytest.approx(value, abs=1e-9), (cust, key)
