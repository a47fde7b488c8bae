"""LTV_STATS, cohorts, tiers, RFM and group comparison on small logs computed by hand,
their worksheet functions as xlwings calls them, and the built-in sample log."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ltvxl.udfs as udfs
from ltvxl.errors import LtvxlError
from ltvxl.sample_data import SAMPLE_PATH, load_sample_transactions, write_sample
from ltvxl.transactions import (
    TransactionLog,
    cohort_curve,
    cohort_table,
    customer_summary,
    group_comparison,
    ltv_stats,
    rfm_summary,
    rfm_table,
    value_tiers,
)
from ltvxl.transactions.rfm import SEGMENT_GRID, SEGMENTS, quintile_scores


def make_log(rows, extra=None):
    ids, dates, amounts = zip(*rows, strict=True)
    return TransactionLog.from_arrays(np.array(ids, dtype=object), np.array(dates, dtype=object),
                                      np.array(amounts), extra)


def cells(rows, *more):
    """The log as three (or more) one-column ranges with a header row, as xlwings passes them."""
    cols = list(zip(*rows, strict=True))
    out = []
    for name, values in zip(("id", "date", "amount", *more), cols, strict=False):
        conv = [dt.datetime.fromisoformat(v) if name == "date" else v for v in values]
        out.append([[name], *([v] for v in conv)])
    return out


def days(a, b):
    return (dt.date.fromisoformat(b) - dt.date.fromisoformat(a)).days


# ------------------------------------------------------------------ LTV_STATS

STATS_ROWS = [
    ("A", "2023-01-01", 100.0), ("A", "2023-06-01", 50.0),
    ("B", "2023-03-01", 30.0), ("B", "2024-06-01", 70.0),
    ("C", "2024-09-01", 20.0),
]


def test_ltv_stats_by_hand():
    s = ltv_stats(make_log(STATS_ROWS), as_of="2024-12-31")
    assert (s.customers, s.purchases, s.revenue) == (3, 5, 270.0)
    assert s.avg_purchase_value == 54.0
    exposure = sum(days(d, "2024-12-31") + 1 for d in ("2023-01-01", "2023-03-01", "2024-09-01"))
    assert s.customer_years == pytest.approx(exposure / 365.25)
    assert s.purchase_frequency == pytest.approx(5 / (exposure / 365.25))
    # A and B were acquired a year or more before; A has not bought in the last year
    assert (s.churn_eligible, s.churned, s.yearly_churn) == (2, 1, 0.5)
    # censored (the default): A churned after 151 days (a year without purchase after
    # 2023-06-01, all inside the data); B is censored at as_of - 365 days = 2024-01-01, 306
    # days after its first purchase; C, acquired after that day, is not yet at risk
    assert s.lifespan_method == "censored"
    assert (s.censored_churned, s.years_at_risk) == (1, pytest.approx((151 + 306) / 365.25))
    assert s.lifespan == pytest.approx((151 + 306) / 365.25)
    assert s.simple_ltv == pytest.approx(54.0 * s.purchase_frequency * s.lifespan)
    assert s.lifespan_caution.startswith("thin: the lifespan rests on 1 churned of 2 customers "
                                         "acquired 2023-01-01 to 2024-01-01")
    churn = ltv_stats(make_log(STATS_ROWS), as_of="2024-12-31", lifespan="churn")
    assert churn.lifespan == 2.0 and churn.lifespan_caution == ""
    assert churn.simple_ltv == pytest.approx(54.0 * s.purchase_frequency * 2.0)
    observed = (days("2023-01-01", "2023-06-01") + days("2023-03-01", "2024-06-01")) / 3 / 365.25
    assert s.observed_lifespan == pytest.approx(observed)
    assert s.revenue_per_customer == 90.0
    obs = ltv_stats(make_log(STATS_ROWS), as_of="2024-12-31", lifespan="observed")
    assert obs.simple_ltv == pytest.approx(54.0 * s.purchase_frequency * observed)


def test_ltv_stats_worksheet_block():
    ids, dates, amounts = cells(STATS_ROWS)
    out = udfs.LTV_STATS(ids, dates, amounts, "2024-12-31", None)
    assert out[0] == ["measure", "value"]
    block = dict((label, value) for label, value in out[1:])
    assert all(len(r) == 2 for r in out)
    assert block["customers"] == 3.0
    assert block["average purchase value = revenue / purchases"] == 54.0
    assert block["lifespan (years) = customer-years at risk / churned"] == pytest.approx(
        457 / 365.25)
    assert block["caution"].startswith("thin: the lifespan rests on 1 churned")
    assert block["as of"] == dt.datetime(2024, 12, 31)
    churn = dict(udfs.LTV_STATS(ids, dates, amounts, "2024-12-31", "churn")[1:])
    assert churn["lifespan (years) = 1 / yearly churn"] == 2.0 and "caution" not in churn
    # nobody acquired a year before: the lifespan is not available, said in the cell
    out = udfs.LTV_STATS(ids, dates, amounts, "2023-12-31", None)
    block = dict((label, value) for label, value in out[1:])
    assert block["lifespan (years) = customer-years at risk / churned"].startswith(
        "#N/A no customer acquired")
    assert block["transactions after as_of excluded"] == 2.0


def test_ltv_stats_rows_have_the_kinds_and_bounded_extra_rows_sheets_format():
    """Every note LTV_STATS can show from cells at once, and the caution: the block stays
    within ROW_KINDS + EXTRA_ROWS rows (the Dashboard leaves that many), and each fixed
    row holds what ROW_KINDS says (the Dashboard formats it so)."""
    from ltvxl.transactions.stats import EXTRA_ROWS, ROW_KINDS

    ids = [["A"], ["A"], [None], ["B"], ["C"], ["D"], ["E"]]
    dates = [["2023-01-01"], ["2023-03-01"], [None], ["2023-02-01"], ["2023-05-01"],
             ["2023-07-01"], ["2025-01-01"]]
    amounts = [[10.0], [-3.0], [None], [0.0], [12.0], [-4.0], [7.0]]
    out = udfs.LTV_STATS(ids, dates, amounts, "2024-12-31", None)
    assert isinstance(out, list), out
    labels = [r[0] for r in out[1:]]
    extra = labels[len(ROW_KINDS):]
    # (a row without an id is refused in a worksheet; files may leave it out: one more note)
    assert {"caution", "blank rows skipped", "zero-amount rows",
            "returns netted (negative amounts)", "transactions after as_of excluded",
            "customers with returns but no purchase excluded"} == set(extra)
    assert len(out) - 1 <= len(ROW_KINDS) + EXTRA_ROWS
    ok = {"date": lambda v: isinstance(v, dt.datetime),
          "count": lambda v: float(v).is_integer(),
          "fraction": lambda v: isinstance(v, str) or 0 <= v <= 1}
    for (label, value), kind in zip(out[1:], ROW_KINDS, strict=False):
        assert ok.get(kind, lambda v: isinstance(v, (float, str)))(value), (label, kind)


def test_ltv_stats_no_churn_is_a_div0_in_the_cell():
    rows = [("A", "2023-01-01", 10.0), ("A", "2024-12-01", 10.0)]
    s = ltv_stats(make_log(rows), as_of="2024-12-31")
    assert s.lifespan_problem.startswith("#DIV/0! no customer churned")
    assert np.isnan(s.simple_ltv)


def test_censored_lifespan_recovers_a_known_churn_rate():
    """Exponential lifetimes with mean 2 years from first purchase to last, purchases every
    30 days while alive, acquisitions spread over 3 years of a 4-year log: the censored
    estimate is within 3 standard errors (mean / sqrt(churned)) of 2 years, where the
    share-churned estimator of customers acquired a year before is biased."""
    rng = np.random.default_rng(7)
    rows = []
    start = np.datetime64("2020-01-01")
    for i in range(3000):
        first = int(rng.integers(0, 3 * 365))
        life = rng.exponential(2 * 365.25)
        for k in range(int(life // 30) + 1):
            d = first + 30 * k
            if d < 4 * 365:
                rows.append((f"c{i}", str(start + np.timedelta64(d, "D")), 10.0))
    s = ltv_stats(make_log(rows), as_of=str(start + np.timedelta64(4 * 365 - 1, "D")))
    assert s.censored_churned > 500 and s.lifespan_caution == ""
    # purchases come every 30 days, so a lifetime ends at the last purchase up to 30 days
    # (15 on average) before it ends: the estimate is about 2 years - 15 days
    target = 2.0 - 15 / 365.25
    assert abs(s.lifespan - target) < 3 * target / np.sqrt(s.censored_churned)
    churn = ltv_stats(make_log(rows), as_of=str(start + np.timedelta64(4 * 365 - 1, "D")),
                      lifespan="churn")
    assert abs(churn.lifespan - target) > abs(s.lifespan - target)


# ------------------------------------------------------------------ cohorts

COHORT_ROWS = [
    ("A", "2024-01-05", 10.0), ("A", "2024-02-10", 5.0), ("A", "2024-04-01", 7.0),
    ("B", "2024-01-20", 20.0),
    ("C", "2024-02-01", 8.0), ("C", "2024-02-15", 2.0), ("C", "2024-03-03", 4.0),
]
NAN = np.nan


@pytest.mark.parametrize(("metric", "expected"), [
    ("active", [[2, 1, 0, 1], [1, 1, 0, NAN]]),
    ("retention", [[1, 0.5, 0, 0.5], [1, 1, 0, NAN]]),
    ("revenue", [[30, 5, 0, 7], [10, 4, 0, NAN]]),
    ("ltv", [[15, 17.5, 17.5, 21], [10, 14, 14, NAN]]),
])
def test_monthly_cohorts_by_hand(metric, expected):
    t = cohort_table(make_log(COHORT_ROWS), "month", metric, as_of="2024-04-10")
    assert list(t.index) == ["2024-01", "2024-02"]
    assert list(t["customers"]) == [2, 1]
    np.testing.assert_array_equal(t[[0, 1, 2, 3]].to_numpy(), np.array(expected, dtype=float))


def test_quarterly_and_yearly_cohorts():
    t = cohort_table(make_log(COHORT_ROWS), "quarter", "revenue", as_of="2024-04-10")
    assert list(t.index) == ["2024-Q1"] and list(t.loc["2024-Q1"]) == [3, 49.0, 7.0]
    y = cohort_table(make_log(COHORT_ROWS), "year", "retention")
    assert list(y.index) == ["2024"] and list(y.loc["2024"]) == [3, 1.0]


def test_cohort_worksheet_blanks_future_periods():
    ids, dates, amounts = cells(COHORT_ROWS)
    out = udfs.COHORT_TABLE(ids, dates, amounts, None, "active", "2024-04-10")
    assert out[0] == ["cohort", "customers", "month 0", "month 1", "month 2", "month 3"]
    assert out[1] == ["2024-01", 2.0, 2.0, 1.0, 0.0, 1.0]
    assert out[2] == ["2024-02", 1.0, 1.0, 1.0, 0.0, None]
    assert udfs.COHORT_TABLE(ids, dates, amounts, "week", None, None).startswith(
        "#VALUE! period must be one of month, quarter, year")


def test_the_partial_last_period_is_marked():
    log = make_log(COHORT_ROWS)
    assert cohort_table(log, "month", "ltv", as_of="2024-04-10").attrs["partial_last"]
    assert not cohort_table(log, "month", "ltv", as_of="2024-04-30").attrs["partial_last"]
    assert not cohort_table(log, "quarter", "ltv", as_of="2024-06-30").attrs["partial_last"]


@pytest.mark.parametrize(("as_of", "metric", "cohorts", "expected"), [
    # April is partial on 10 April: January's month 3 and February's month 2 are left out
    ("2024-04-10", "ltv", [2, 2, 1], [40 / 3, 40 / 3 + 3, 40 / 3 + 3 + 0]),
    ("2024-04-10", "retention", [2, 2, 1], [1.0, 2 / 3, 0.0]),
    ("2024-04-10", "active", [2, 2, 1], [1.5, 1.0, 0.0]),
    # on 30 April it is complete: both count
    ("2024-04-30", "ltv", [2, 2, 2, 1], [40 / 3, 40 / 3 + 3, 40 / 3 + 3, 40 / 3 + 3 + 7 / 2]),
    ("2024-04-30", "revenue", [2, 2, 2, 1], [40 / 3, 3.0, 0.0, 3.5]),
])
def test_cohort_curve_pools_complete_periods_by_hand(as_of, metric, cohorts, expected):
    curve = cohort_curve(make_log(COHORT_ROWS), "month", metric, as_of=as_of)
    assert list(curve["age"]) == list(range(len(expected)))
    assert list(curve["cohorts"]) == cohorts
    np.testing.assert_allclose(curve["value"].to_numpy(), expected, rtol=1e-12)


def test_cohort_curve_does_not_jump_where_a_cohort_stops_being_observed():
    """Two one-customer cohorts, the younger spending twice as much each month and seen for
    4 of its months. Averaging cumulative values over whichever cohorts reach an age would
    fall from 69 at month 3 to 60 at month 4, where the big spender is no longer seen; the
    pooled curve adds month 4's increment of the cohort seen there (14) to 69."""
    rows = []
    for c, (start, scale) in enumerate((("2024-01", 1.0), ("2024-03", 2.0))):
        for k in range(6):
            y, m = divmod(int(start[5:]) - 1 + k, 12)
            rows.append((f"{c}", f"{2024 + y}-{m + 1:02d}-15", scale * (10.0 + k)))
    curve = cohort_curve(make_log(rows), "month", "ltv", as_of="2024-06-30")
    increments = [15.0, 16.5, 18.0, 19.5, 14.0, 15.0]
    np.testing.assert_allclose(curve["value"], np.cumsum(increments), rtol=1e-12)
    assert list(curve["cohorts"]) == [2, 2, 2, 2, 1, 1]
    assert (np.diff(curve["value"]) > 0).all()


def test_cohort_curve_worksheet():
    ids, dates, amounts = cells(COHORT_ROWS)
    out = udfs.COHORT_CURVE(ids, dates, amounts, None, None, "2024-04-10")
    assert out[0] == ["months since acquisition", "cohorts", "customers",
                      "cumulative value per customer"]
    assert out[1] == [0.0, 2.0, 3.0, pytest.approx(40 / 3)]
    assert len(out) == 4
    early = udfs.COHORT_CURVE(ids, dates, amounts, None, None, "2024-01-25")
    assert early == ("#VALUE! no cohort has a complete month yet: give a later as_of or a "
                     "shorter period")


# ------------------------------------------------------------------ tiers


def test_default_tiers_top_20_next_30():
    values = np.arange(1.0, 11.0)
    tiers = value_tiers(values)
    assert list(tiers) == ["Low"] * 5 + ["Medium"] * 3 + ["High"] * 2
    # one value against the population is tiered as inside it
    assert list(value_tiers(np.array([9.0, 8.0, 5.5]), values)) == ["High", "Medium", "Low"]


def test_tiers_ties_and_cutoffs():
    values = np.array([5.0, 5.0, 5.0, 1.0, 1.0])
    assert list(value_tiers(values)) == ["High", "High", "High", "Low", "Low"]
    out = value_tiers(np.array([1200.0, 500.0, 499.0]), breaks=(1000, 500), by="value")
    assert list(out) == ["High", "Medium", "Low"]
    out = value_tiers(np.arange(10.0), breaks=(0.1,), labels=("Top", "Rest"))
    assert list(out).count("Top") == 1
    with pytest.raises(LtvxlError, match="labels must have one more entry than breaks"):
        value_tiers(values, breaks=(0.1,))
    with pytest.raises(LtvxlError, match="shares must add up to at most 1"):
        value_tiers(values, breaks=(0.6, 0.6))


def test_tier_worksheet_function():
    pop = [[v] for v in (1000.0, 950.0, 800.0, 700.0, 600.0, 500.0, 400.0, 300.0, 200.0, 100.0)]
    assert udfs.LTV_TIER(950.0, pop, None, None, None) == "High"
    assert udfs.LTV_TIER(600.0, pop, None, None, None) == "Medium"
    assert udfs.LTV_TIER(599.0, pop, None, None, None) == "Low"
    column = udfs.LTV_TIER(pop, None, None, None, None)
    assert [r[0] for r in column] == ["High"] * 2 + ["Medium"] * 3 + ["Low"] * 5
    out = udfs.LTV_TIER([[10.0], ["n/a"]], [[1.0], [10.0]], [[0.5]], [["Top", "Bottom"]], None)
    assert out == [["Top"], ['#VALUE! values must be a number, got text "n/a"']]
    assert udfs.LTV_TIER(5.0, None, [[0.5]], None, None).startswith("#VALUE! labels are needed")


# ------------------------------------------------------------------ RFM


def test_quintile_scores_are_rank_based_and_tie_safe():
    assert list(quintile_scores(np.arange(10.0))) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert list(quintile_scores(np.arange(10.0), higher_is_better=False)) == \
        [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert list(quintile_scores(np.array([3.0, 3.0, 3.0]))) == [1, 1, 1]
    assert list(quintile_scores(np.array([1.0, 2.0, 2.0, 2.0, 9.0]))) == [1, 2, 2, 2, 5]


def test_rule_table_covers_every_score_and_segment():
    names = {SEGMENT_GRID[r][fm - 1] for r in range(1, 6) for fm in range(1, 6)}
    assert names == set(SEGMENTS) and len(SEGMENTS) == 11
    assert SEGMENT_GRID[5][4] == "Champions" and SEGMENT_GRID[1][0] == "Lost"
    assert SEGMENT_GRID[1][4] == "Can't Lose Them" and SEGMENT_GRID[5][0] == "New Customers"


def rfm_rows():
    """Ten customers: c0 bought long ago, once, little; c9 recently, often, a lot."""
    rows = []
    for i in range(10):
        for k in range(i + 1):
            day = np.datetime64("2024-01-01") + np.timedelta64(10 * i + k, "D")
            rows.append((f"c{i}", str(day), 10.0 * (i + 1)))
    return rows


def test_rfm_table_by_hand():
    t = rfm_table(make_log(rfm_rows()), as_of="2024-06-30").set_index("customer")
    assert t.loc["c9", "orders"] == 10 and t.loc["c9", "revenue"] == 1000.0
    assert t.loc["c9", "recency_days"] == days("2024-01-10", "2024-06-30") - 90
    assert list(t["R"]) == list(t["F"]) == list(t["M"]) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert t.loc["c9", "segment"] == "Champions" and t.loc["c9", "RFM"] == "555"
    assert t.loc["c0", "segment"] == "Lost"
    assert t.loc["c4", "segment"] == "Need Attention"  # R 3, FM 3


def test_rfm_summary_and_worksheet_functions():
    rows = rfm_rows()
    s = rfm_summary(rfm_table(make_log(rows)))
    assert list(s["segment"]) == list(SEGMENTS)
    assert s["customers"].sum() == 10 and s["share_of_customers"].sum() == pytest.approx(1)
    champions = s.set_index("segment").loc["Champions"]
    assert champions["customers"] == 2 and champions["revenue"] == 9 * 90 + 10 * 100
    ids, dates, amounts = cells(rows)
    out = udfs.RFM_SEGMENTS(ids, dates, amounts, None)
    assert out[0] == ["customer", "recency (days)", "orders", "revenue", "R", "F", "M", "RFM",
                      "segment"]
    assert out[-1][0] == "c9" and out[-1][-1] == "Champions"
    summary = udfs.RFM_SUMMARY(ids, dates, amounts, None)
    assert len(summary) == 12 and summary[1][:2] == ["Champions", 2.0]


# ------------------------------------------------------------------ groups

GROUP_ROWS = [
    ("a", "2024-01-01", 100.0, "Instagram"), ("a", "2024-02-01", 50.0, "Email"),
    ("b", "2024-01-03", 40.0, "Facebook"), ("c", "2024-01-04", 60.0, "Instagram"),
    ("c", "2024-01-04", -10.0, "Instagram"), ("d", "2024-03-01", 30.0, None),
]


def group_log():
    rows = [r[:3] for r in GROUP_ROWS]
    return make_log(rows, {"channel": np.array([r[3] for r in GROUP_ROWS], dtype=object)})


def test_group_comparison_by_hand():
    g = group_comparison(group_log(), "channel", {"Instagram": 50.0, "Facebook": 20.0})
    g = g.set_index("group")
    # a counts for Instagram (the channel of the first purchase), c's return is netted
    ig = g.loc["Instagram"]
    assert (ig["customers"], ig["orders"], ig["revenue"]) == (2, 3, 200.0)
    assert ig["revenue_per_customer"] == 100.0 and ig["ltv_cac"] == 2.0
    assert ig["share_of_revenue"] == pytest.approx(200 / 270)
    assert g.loc["Facebook", "ltv_cac"] == 2.0
    assert np.isnan(g.loc["(blank)", "ltv_cac"])
    assert g.loc["Total", "customers"] == 4 and g.loc["Total", "revenue"] == 270.0
    assert list(g.index) == ["Facebook", "Instagram", "(blank)", "Total"]


def test_group_worksheet_function():
    ids, dates, amounts, channel = cells(GROUP_ROWS, "channel")
    cac = [["channel", "CAC"], ["Instagram", 50.0], ["Facebook", 20.0]]
    out = udfs.LTV_BY_GROUP(channel, ids, dates, amounts, cac, None)
    assert out[0][-3:] == ["CAC", "LTV:CAC", "caution"]
    rows = {r[0]: r for r in out[1:]}
    small = "fewer than 30 customers: too few to compare"
    assert rows["Instagram"][1:] == [2.0, 3.0, 200.0, 100.0, pytest.approx(200 / 270), 50.0, 2.0,
                                     small]
    assert rows["(blank)"][-3:] == [None, None, small]
    out = udfs.LTV_BY_GROUP(channel, ids, dates, amounts, [["Instagram", -5.0]], None)
    assert out == "#VALUE! cac_by_group row 1: CAC must be a number > 0, got -5.0"
    plain = udfs.LTV_BY_GROUP(channel, ids, dates, amounts, None, None)
    assert plain[0][-2:] == ["share of revenue", "caution"]
    lenient = udfs.LTV_BY_GROUP(channel, ids, dates, amounts, None, None, None, 2)
    assert {r[0]: r[-1] for r in lenient[1:]} == {
        "Facebook": "fewer than 2 customers: too few to compare", "Instagram": "",
        "(blank)": "fewer than 2 customers: too few to compare", "Total": ""}
    assert udfs.LTV_BY_GROUP(channel, ids, dates, amounts, None, None, None, 0).startswith(
        "#VALUE! min_customers must be >= 1")


def test_groups_below_the_minimum_size_are_marked():
    g = group_comparison(group_log(), "channel", min_customers=2).set_index("group")
    assert g["small"].to_dict() == {"Facebook": True, "Instagram": False, "(blank)": True,
                                    "Total": False}
    assert group_comparison(group_log(), "channel").attrs["min_customers"] == 30


# ------------------------------------------------------------------ the sample log


def test_sample_is_rebuilt_identically(tmp_path):
    rebuilt = write_sample(tmp_path / "sample.csv")
    assert rebuilt.read_bytes() == SAMPLE_PATH.read_bytes()


def test_sample_is_realistic():
    log = load_sample_transactions()
    assert 2000 <= len(log) <= 5000 and 200 <= len(log.customers) <= 1000
    assert set(log.extra["channel"]) >= {"Facebook", "Instagram", "Email"}
    span = int(log.days.max() - log.days.min())
    assert 700 <= span <= 731
    assert log.counts.get("returns netted (negative amounts)", 0) > 0
    s = customer_summary(log).table
    assert (s["frequency"] > 0).mean() > 0.3  # repeat buyers exist
    g = group_comparison(log, "channel").set_index("group")
    assert g.loc["Referral", "revenue_per_customer"] > g.loc["Facebook", "revenue_per_customer"]


# ------------------------------------------------------------------ properties

property_rows = st.lists(
    st.tuples(st.integers(0, 9), st.integers(0, 400), st.sampled_from([0.0, 5.0, 12.5, 80.0, -4.0]),
              st.sampled_from(["Email", "Ads", None])),
    min_size=1, max_size=50,
).filter(lambda rows: any(a >= 0 for _, _, a, _ in rows))


def property_log(rows):
    base = np.datetime64("2023-01-01", "D")
    return TransactionLog.from_arrays(
        np.array([f"c{i}" for i, *_ in rows], dtype=object),
        base + np.array([d for _, d, _, _ in rows], dtype=np.int64),
        np.array([a for _, _, a, _ in rows]),
        {"channel": np.array([g for *_, g in rows], dtype=object)})


@settings(max_examples=40, deadline=None)
@given(property_rows, st.randoms(use_true_random=False))
def test_row_order_does_not_matter_for_any_table(rows, rnd):
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    a, b = property_log(rows), property_log(shuffled)
    as_of = "2024-03-01"
    for make in (lambda log: cohort_table(log, "quarter", "ltv", as_of),
                 lambda log: rfm_table(log, as_of),
                 lambda log: rfm_summary(rfm_table(log, as_of))):
        pd.testing.assert_frame_equal(make(a), make(b), check_exact=False, rtol=1e-12)
    s1, s2 = ltv_stats(a, as_of), ltv_stats(b, as_of)
    assert s1.simple_ltv == pytest.approx(s2.simple_ltv, nan_ok=True)
    assert (s1.customers, s1.purchases, s1.churned) == (s2.customers, s2.purchases, s2.churned)


@settings(max_examples=40, deadline=None)
@given(property_rows)
def test_take_keeps_the_customers_rows(rows):
    log = property_log(rows)
    keep = np.array([i % 2 == 0 for i, *_ in rows])
    if not any(k and r[2] >= 0 for k, r in zip(keep, rows, strict=True)):
        return
    part = log.take(keep)
    direct = property_log([r for k, r in zip(keep, rows, strict=True) if k])
    pd.testing.assert_frame_equal(customer_summary(part, as_of="2024-03-01").table,
                                  customer_summary(direct, as_of="2024-03-01").table)


def test_a_log_of_returns_only():
    ids, dates, amounts = cells([("a", "2024-01-01", -5.0), ("b", "2024-01-02", -1.0)])
    assert udfs.LTV_STATS(ids, dates, amounts, None, None) == \
        "#VALUE! no purchases on or before as_of"
    assert udfs.COHORT_TABLE(ids, dates, amounts, None, None, None) == \
        "#VALUE! no purchases on or before as_of"
    out = udfs.LTV_CUSTOMERS(ids, dates, amounts, None, None)
    assert len(out) == 1 and out[0][0] == "customer"  # the header only: nobody bought
