"""The decision functions: retention and promotion what-ifs, sensitivity, sBG elasticity,
LTV period by period. Worked examples exactly, elasticities against finite differences,
LTV_TREND's totals against the log's on random logs."""

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import betaln

import ltvxl.udfs as udfs
from ltvxl import decisions as dec
from ltvxl.errors import LtvxlError
from ltvxl.models import sbg
from ltvxl.transactions.log import TransactionLog
from ltvxl.transactions.trend import trend_table
from ltvxl.unit_economics import clv_retention, ltv, ltv_churn

CDNOW = Path(__file__).resolve().parents[2] / "shared" / "data" / "cdnow" / "CDNOW_master.txt"


# ---------------------------------------------------------------- worked examples


def test_gupta_lehmann_stuart_worked_example():
    assert clv_retention(100, 0.80, 0.12) == pytest.approx(250)
    assert round(clv_retention(100, 0.85, 0.12), 2) == 314.81
    assert round(udfs.RETENTION_IMPACT(100, 0.8, 0.12, 0.05), 4) == 0.2593
    assert round(udfs.RETENTION_ELASTICITY(0.8, 0.12), 4) == 3.5


def test_promotion_breakeven_worked_example():
    assert round(clv_retention(40, 0.8, 0.1), 2) == 106.67
    r_star = udfs.PROMO_BREAKEVEN(40, 30, 0.8, 0.1)
    assert round(r_star, 4) == 0.8585
    assert clv_retention(30, r_star, 0.1) == pytest.approx(clv_retention(40, 0.8, 0.1))


def test_bain_example_five_points_give_a_quarter_more_value():
    """Reichheld & Sasser's +5 points of retention: +25.9 % value at r 0.8, i 0.12 in the
    margin multiple, and 4.85 points give exactly +25 %."""
    assert round(udfs.RETENTION_IMPACT(100, 0.8, 0.12, 0.05), 3) == 0.259
    needed = udfs.RETENTION_NEEDED(0.8, 0.12, 0.25)
    assert round(needed, 4) == 0.0485
    assert udfs.RETENTION_IMPACT(100, 0.8, 0.12, needed) == pytest.approx(0.25)


def test_promo_impact_worked_example_and_breakeven():
    table = udfs.PROMO_IMPACT(50, 4, 0.4, 0.1, 0.25, None, 1000)
    rows = {r[0]: r[1:] for r in table[1:]}
    assert rows["gross profit per customer"][:2] == [80, pytest.approx(75)]
    assert rows["gross profit, all customers"][2] == pytest.approx(-5000)
    assert rows["discount cost per customer"][1] == pytest.approx(25)
    uplift = rows["break-even uplift of orders x order value"][1]
    assert uplift == pytest.approx(1 / 3)
    at_breakeven = dec.promo_impact(50, 4, 0.4, 0.1, uplift)
    assert at_breakeven.gross_profit[1] == pytest.approx(at_breakeven.gross_profit[0])
    value_uplift = dec.promo_impact(50, 4, 0.4, 0.1, 0.0, uplift)
    assert value_uplift.gross_profit[1] == pytest.approx(80)


def test_ltv_sensitivity_worked_example_and_tornado_order():
    table = udfs.LTV_SENSITIVITY(100, 3, 5)
    assert table[0] == ["driver", "value", "LTV at -10%", "LTV at +10%", "change at -10%",
                        "change at +10%"]
    assert [r[0] for r in table[1:]] == ["average purchase value", "purchase frequency",
                                         "lifespan"]
    for row in table[1:]:
        assert row[2:] == [pytest.approx(1350), pytest.approx(1650), pytest.approx(-150),
                           pytest.approx(150)]
    full = dec.ltv_sensitivity(100, 3, 5, 0.6, 0.1, 0.2)
    impact = np.maximum(full["change_low"].abs(), full["change_high"].abs()).round(6)
    assert list(impact) == sorted(impact, reverse=True)
    base = ltv(100, 3, 5, 0.6, 0.1)
    row = full.set_index("driver").loc["lifespan"]
    assert row["ltv_low"] == pytest.approx(ltv(100, 3, 4, 0.6, 0.1))
    assert row["change_high"] == pytest.approx(ltv(100, 3, 6, 0.6, 0.1) - base)


def test_sensitivity_caps_a_margin_moved_above_one():
    df = dec.ltv_sensitivity(100, 3, 5, 0.95, None, 0.1).set_index("driver")
    assert df.loc["gross margin", "value_high"] == 1.0
    assert df.loc["gross margin", "ltv_high"] == pytest.approx(1500)


def test_chartmogul_trailing_ltv_arpa_100_at_5_percent_churn_is_2000():
    assert ltv_churn(100, 0.05) == 2000
    ids, dates, amounts = [], [], []
    for month in range(10):  # 100 customers a month; 5 leave and 5 join every month
        for c in range(5 * month, 5 * month + 100):
            ids.append(f"c{c}")
            dates.append(np.datetime64(f"2024-{month + 1:02d}-10"))
            amounts.append(100.0)
    log = TransactionLog.from_arrays(np.array(ids), np.array(dates), np.array(amounts))
    df = trend_table(log, "month")
    assert df["retention"].iloc[1:].tolist() == pytest.approx([0.95] * 9)
    assert df["trailing_ltv"].iloc[2:].tolist() == pytest.approx([2000.0] * 8)
    assert df["trailing_ltv"].iloc[:2].isna().all()
    assert trend_table(log, "month", margin=0.5)["trailing_ltv"].iloc[-1] == pytest.approx(1000)


# ---------------------------------------------------------------- elasticities


@settings(max_examples=60, deadline=None)
@given(r=st.floats(0.05, 0.98), i=st.floats(0.0, 0.5))
def test_retention_elasticity_is_the_log_derivative_of_the_margin_multiple(r, i):
    h = 1e-6
    fd = (np.log(clv_retention(1, r * (1 + h), i)) - np.log(clv_retention(1, r * (1 - h), i))) \
        / (np.log1p(h) - np.log1p(-h))
    assert dec.retention_elasticity(r, i) == pytest.approx(fd, rel=1e-6)


@settings(max_examples=60, deadline=None)
@given(r=st.floats(0.05, 0.95), i=st.floats(0.01, 0.5), g=st.floats(-0.5, 1.0))
def test_retention_needed_inverts_retention_impact(r, i, g):
    dr = dec.retention_needed(r, i, g)
    if r + dr <= 1:
        assert dec.retention_impact(100, r, i, dr) == pytest.approx(g, abs=1e-9)


def test_sbg_derl_published_values():
    assert round(float(sbg.derl((0.668, 3.806), 0.1, 7)), 3) == 7.530
    assert round(float(sbg.derl((0.668, 3.806), 0.1, 0)), 3) == 5.415


def _derl_with_retention_times(k, a, b, d, n):
    """DERL with every future retention rate times k: the series summed directly."""
    j = np.arange(1, 5_000)
    survive = np.exp(betaln(a, b + n + j) - betaln(a, b + n))
    return float(np.sum(k**j * survive / (1 + d) ** (j - 1)))


@pytest.mark.parametrize("n", [0, 7])
def test_sbg_elasticity_is_a_finite_difference_of_sbg_derl(n):
    a, b, d, h = 0.668, 3.806, 0.1, 1e-5

    def scaled(k):  # k DERL at discount (1 + d) / k - 1 is DERL with each retention rate x k
        return k * udfs.SBG_DERL(a, b, (1 + d) / k - 1, n)

    fd = (np.log(scaled(1 + h)) - np.log(scaled(1 - h))) / (np.log1p(h) - np.log1p(-h))
    direct = (np.log(_derl_with_retention_times(1 + h, a, b, d, n))
              - np.log(_derl_with_retention_times(1 - h, a, b, d, n))) / (np.log1p(h)
                                                                         - np.log1p(-h))
    value = udfs.SBG_ELASTICITY(a, b, d, n)
    assert value == pytest.approx(fd, rel=1e-7)
    assert value == pytest.approx(direct, rel=1e-6)
    assert round(value, 3) == {0: 7.578, 7: 8.632}[n]


@settings(max_examples=40, deadline=None)
@given(a=st.floats(0.2, 5), b=st.floats(0.2, 10), d=st.floats(0.02, 0.5),
       n=st.integers(0, 20))
def test_sbg_elasticity_against_finite_differences(a, b, d, n):
    h = 1e-5
    lo = (1 - h) * float(sbg.derl((a, b), (1 + d) / (1 - h) - 1, n))
    hi = (1 + h) * float(sbg.derl((a, b), (1 + d) / (1 + h) - 1, n))
    fd = (np.log(hi) - np.log(lo)) / (np.log1p(h) - np.log1p(-h))
    assert float(sbg.retention_elasticity((a, b), d, n)) == pytest.approx(fd, rel=1e-5)


def test_heterogeneity_raises_the_elasticity_above_the_aggregate_one():
    """Fader & Hardie (2010): one aggregate retention rate understates the elasticity."""
    a, b, d = 0.668, 3.806, 0.1
    r1 = float(sbg.retention((a, b), 1))
    assert udfs.SBG_ELASTICITY(a, b, d, 0) > dec.retention_elasticity(r1, d)


# ---------------------------------------------------------------- cells and errors


def test_ranges_broadcast_and_bad_cells_say_why():
    out = udfs.RETENTION_IMPACT(100, [[0.8], [0.99], [0.8]], [[0.12], [0.12], [0.0]],
                                [[0.05], [0.05], [0.2]])
    assert out[0][0] == pytest.approx(0.2593, abs=5e-5)
    assert out[1][0].startswith("#VALUE! retention + retention_change must be between 0 and 1")
    assert out[2][0].startswith("#NUM! a retention of 1 without discounting")
    assert udfs.RETENTION_IMPACT(100, 1.5, 0.1, 0).startswith("#VALUE! retention must be")
    assert udfs.PROMO_BREAKEVEN(40, 5, 0.9, 0.1).startswith("#NUM! no retention up to 1")
    assert udfs.SBG_ELASTICITY(0.668, 3.806, 0, 1).startswith("#NUM! without discounting")
    assert udfs.SBG_ELASTICITY(3, 3.806, 0, 1) > 0
    assert udfs.LTV_SENSITIVITY(100, 3, 5, None, None, 2).startswith("#VALUE! change must be")
    assert udfs.PROMO_IMPACT("x", 4, 0.4, 0.1).startswith("#VALUE! avg_order_value must be")
    assert udfs.PROMO_IMPACT(50, 4, 0.4, 0.4)[-1][2].startswith("#NUM! none")
    with pytest.raises(LtvxlError, match="between 0 and 1"):
        dec.retention_impact(100, 0.9, 0.1, 0.2)


# ---------------------------------------------------------------- LTV_TREND


@pytest.mark.skipif(not CDNOW.exists(), reason="../shared/data/cdnow not present")
def test_trend_of_the_full_cdnow_log():
    raw = pd.read_csv(CDNOW, sep=r"\s+")
    log = TransactionLog.from_arrays(raw.iloc[:, 0].to_numpy(), raw.iloc[:, 1].to_numpy(),
                                     raw.iloc[:, 3].to_numpy())
    df = trend_table(log, "quarter")
    assert list(df["period"]) == ["1997-Q1", "1997-Q2", "1997-Q3", "1997-Q4", "1998-Q1",
                                  "1998-Q2"]
    assert list(df["new"]) == [23_570, 0, 0, 0, 0, 0]
    assert df["revenue"].sum() == pytest.approx(raw.iloc[:, 3].sum(), abs=1e-6)
    assert df["orders"].sum() == len(raw)
    assert not df["partial"].any()
    assert df["active"].iloc[0] == 23_570
    assert round(df["revenue"].iloc[0], 2) == round(
        raw.iloc[:, 3][raw.iloc[:, 1] < 19970401].sum(), 2)


def _random_log(data):
    n = data.draw(st.integers(1, 60))
    ids = data.draw(st.lists(st.sampled_from(list("abcdefgh")), min_size=n, max_size=n))
    days = data.draw(st.lists(st.integers(0, 900), min_size=n, max_size=n))
    amounts = data.draw(st.lists(st.floats(-50, 500, allow_nan=False).map(lambda x: round(x, 2)),
                                 min_size=n, max_size=n))
    dates = np.datetime64("2023-01-15") + np.array(days).astype("timedelta64[D]")
    return pd.DataFrame({"id": ids, "date": dates, "amount": amounts})


@settings(max_examples=80, deadline=None)
@given(data=st.data(), period=st.sampled_from(["month", "quarter", "year"]))
def test_trend_totals_equal_the_log(data, period):
    raw = _random_log(data)
    if not (raw["amount"] >= 0).any():
        return
    log = TransactionLog.from_arrays(raw["id"].to_numpy(), raw["date"].to_numpy(),
                                     raw["amount"].to_numpy())
    df = trend_table(log, period)
    assert df["revenue"].sum() == pytest.approx(raw["amount"].sum(), abs=1e-6)
    buys = raw[raw["amount"] >= 0]
    assert df["orders"].sum() == len(buys)
    assert df["new"].sum() == buys["id"].nunique()
    freq = {"month": "M", "quarter": "Q", "year": "Y"}[period]
    key = buys["date"].dt.to_period(freq).astype(str)
    if period == "quarter":
        key = key.str.replace("Q", "-Q")
    active = buys.groupby(key)["id"].nunique()
    got = df.set_index("period")["active"]
    assert (got[got > 0] == active.reindex(got[got > 0].index)).all()
    assert got.sum() == active.sum()
    sets = buys.groupby(key)["id"].agg(set).reindex(df["period"]).tolist()
    for p in range(1, len(df)):
        prev, cur = sets[p - 1], sets[p]
        if isinstance(prev, set) and prev:
            kept = len(prev & cur) if isinstance(cur, set) else 0
            assert df["retention"].iloc[p] == pytest.approx(kept / len(prev))
    assert (df["days"] >= 1).all() and df["days"].sum() == (raw["date"].max()
                                                            - raw["date"].min()).days + 1


def test_trend_orders_column_counts_orders_not_rows():
    ids = [["id"], ["a"], ["a"], ["b"]]
    dates = [["date"], [dt.datetime(2024, 1, 5)], [dt.datetime(2024, 1, 5)],
             [dt.datetime(2024, 2, 1)]]
    amounts = [["amount"], [10.0], [5.0], [7.0]]
    orders = [["order"], ["o1"], ["o1"], ["o2"]]
    rows = udfs.LTV_TREND(ids, dates, amounts, "month", None, None, orders)
    header = rows[0]
    assert [r[header.index("orders")] for r in rows[1:]] == [1.0, 1.0]
    assert [r[header.index("average order value")] for r in rows[1:]] == [15.0, 7.0]
    assert [r[header.index("partial")] for r in rows[1:]] == [True, True]  # 5 Jan, 1 Feb
    assert rows[1][header.index("partial")] is True
    assert udfs.LTV_TREND(ids, dates, amounts, "week").startswith("#VALUE! period must be")
    core = trend_table(TransactionLog.from_arrays(["a", "a", "b"], ["2024-01-05"] * 2
                                                  + ["2024-02-01"], [10.0, 5.0, 7.0],
                                                  orders=["o1", "o1", "o2"]), "month")
    assert list(core["orders"]) == [1, 1]
