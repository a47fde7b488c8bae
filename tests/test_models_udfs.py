"""Worksheet functions of the models, called as xlwings calls them (lists of rows, floats).

Expected values are published figures (CDNOW, Fader, Hardie & Lee 2005) or the core
functions, whose own tests check them against the papers and lifetimes."""

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ltvxl.udfs.models as fam
from ltvxl.models import bgnbd, gammagamma, paretonbd, registry, sbg
from ltvxl.worksheet import spec_of

DATA = Path(__file__).parent / "data"
BG = (0.2426, 4.4136, 0.7929, 2.4259)
PN = (0.5533, 10.578, 0.6062, 11.669)


def col(values):
    return [[float(v)] for v in values]


def test_flat_functions_spill_over_columns_of_customers():
    x, tx, big_t = [0, 1, 2, 7], [0, 1.71, 30.43, 29.43], [38.86, 38.86, 38.86, 31.0]
    got = fam.BGNBD_PALIVE(*BG, col(x), col(tx), col(big_t))
    np.testing.assert_allclose([r[0] for r in got], bgnbd.p_alive(BG, x, tx, big_t))
    got = fam.PNBD_EXPECTED(*PN, 52.0, col(x), col(tx), col(big_t))
    np.testing.assert_allclose(
        [r[0] for r in got], paretonbd.conditional_expected(PN, 52, x, tx, big_t)
    )


@pytest.mark.parametrize("model", registry.PURCHASE_MODELS, ids=lambda m: m.key)
def test_every_registered_model_has_its_flat_functions(model):
    # made from the registry: names, parameter arguments, and the core's values cell by cell
    x, tx, big_t = [0, 1, 2, 7], [0, 1.71, 30.43, 29.43], [38.86, 38.86, 38.86, 31.0]
    p = model.example
    cores = {
        "PALIVE": ((col(x), col(tx), col(big_t)), model.p_alive(p, x, tx, big_t)),
        "EXPECTED": (
            (39.0, col(x), col(tx), col(big_t)),
            model.conditional_expected(p, 39.0, x, tx, big_t),
        ),
        "EXPECTED_NEW": ((col([1, 39, 52]),), model.expected(p, np.array([1.0, 39, 52]))),
    }
    if model.prob_purchases is not None:
        cores["PROB"] = ((col([0, 1, 2]), 39.0), model.prob_purchases(p, [0, 1, 2], 39.0))
    assert set(model.flat_kinds) <= set(cores)
    for kind in model.flat_kinds:
        func = getattr(fam, f"{model.choice}_{kind}")
        names = [a.name for a in spec_of(func).args][: len(model.params)]
        assert names == [n if n != "r" else "r_shape" for n in model.params]
        args, want = cores[kind]
        got = func(*p, *args)
        np.testing.assert_allclose([r[0] for r in got], want, rtol=1e-12)
        assert f"{model.choice}_{kind}" in fam.__all__


def test_parameters_may_be_ranges_too():
    # two parameter sets, one per row
    got = fam.SBG_RETENTION([[0.704], [0.668]], [[1.182], [3.806]], 2.0)
    want = [sbg.retention((0.704, 1.182), 2), sbg.retention((0.668, 3.806), 2)]
    np.testing.assert_allclose([r[0] for r in got], want)


def test_bad_history_gives_a_message_in_its_cell_only():
    got = fam.BGNBD_EXPECTED(*BG, 39.0, col([2, 0, 3]), col([30.43, 5, 40]), col([38.86] * 3))
    assert got[0][0] == pytest.approx(1.2259, abs=1e-4)
    assert got[1][0] == "#VALUE! recency must be 0 when frequency is 0"
    assert got[2][0] == "#VALUE! recency must be <= age"
    assert fam.BGNBD_PALIVE(-1.0, *BG[1:], 1.0, 1.0, 2.0).startswith("#VALUE! r_shape must be > 0")


def test_gamma_gamma_needs_q_above_one():
    assert fam.GG_SPEND(6.25, 0.9, 15.44, 2.0, 35.0).startswith("#NUM! q must be > 1")
    assert fam.GG_SPEND(6.25, 3.74, 15.44, 0.0, 0.0) == pytest.approx(
        gammagamma.population_mean((6.25, 3.74, 15.44))
    )


def test_sbg_derl_and_survival_cells():
    assert fam.SBG_SURVIVAL(0.704, 1.182, 0.0) == 1.0
    assert fam.SBG_DERL(0.704, 1.182, 0.1, 0.0) == pytest.approx(sbg.derl((0.704, 1.182), 0.1, 0))
    # no discounting and alpha < 1: the expected lifetime is infinite, said as #NUM!
    assert fam.SBG_DERL(0.704, 1.182, 0.0, 0.0).startswith("#NUM!")


@pytest.fixture(scope="module")
def cdnow_raw():
    return pd.read_csv(
        DATA / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master", "id", "date", "cds", "amount"],
    )


@pytest.fixture(scope="module")
def cdnow_cells(cdnow_raw):
    raw = cdnow_raw
    ids = col(raw.id)
    dates = [[dt.datetime.strptime(str(d), "%Y%m%d")] for d in raw.date]
    return ids, dates, col(raw.amount)


AS_OF = dt.datetime(1997, 9, 30)


def test_clv_fit_on_raw_cdnow_transactions_gives_the_published_parameters(cdnow_cells):
    rows = fam.CLV_FIT(*cdnow_cells, AS_OF, "BGNBD")
    assert rows[0] == ["model", "parameter", "estimate", "std_error"]
    est = {(m, p): v for m, p, v, _ in rows[1:]}
    for name, value in {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259}.items():
        assert est[("BG/NBD", name)] == pytest.approx(value, rel=2e-3)
    assert est[("BG/NBD", "log-likelihood")] == pytest.approx(-9582.4, abs=0.1)
    assert est[("Gamma-Gamma", "p")] == pytest.approx(6.25, rel=2e-3)
    assert est[("BG/NBD", "status")].startswith("converged")


def test_order_ids_split_lines_count_as_one_purchase(cdnow_cells):
    """Each CDNOW transaction written as two lines of one order (half the amount each): with
    the order ids, CLV_FIT and CLV_PREDICT give what the unsplit log gives."""
    ids, dates, amounts = cdnow_cells
    twice = [row for row in ids for _ in range(2)]
    days = [row for row in dates for _ in range(2)]
    halves = [[v[0] / 2] for v in amounts for _ in range(2)]
    orders = [[f"o{i}"] for i in range(len(ids)) for _ in range(2)]
    whole = fam.CLV_FIT(ids, dates, amounts, AS_OF, "BGNBD")
    split = fam.CLV_FIT(twice, days, halves, AS_OF, "BGNBD", None, orders)
    assert [r[:2] for r in split] == [r[:2] for r in whole]
    for a, b in zip(split[1:], whole[1:], strict=True):
        if isinstance(a[2], float):
            assert a[2] == pytest.approx(b[2], rel=1e-9), a
    predicted = fam.CLV_PREDICT(twice, days, halves, 39.0, 0.0, None, AS_OF, "BGNBD", "weeks",
                                None, orders)
    assert sum(r[2] for r in predicted[1:]) == pytest.approx(1653, abs=3)
    bad = fam.CLV_FIT(twice, days, halves, AS_OF, "BGNBD", None, orders[:-5])
    assert bad.startswith("#VALUE!") and "order" in bad


def test_clv_predict_table(cdnow_cells):
    rows = fam.CLV_PREDICT(*cdnow_cells, 39.0, 0.0, None, AS_OF, "BGNBD", "weeks")
    header, body = rows[0], rows[1:]
    assert header[0] == "customer" and header[-1] == "churn risk"
    assert "39 weeks" in header[2]
    assert len(body) == 2357
    purchases = np.array([r[2] for r in body])
    assert purchases.sum() == pytest.approx(1653, abs=3)  # the paper's 39-week forecast
    # undiscounted with margin 1: CLV = expected purchases x expected spend
    np.testing.assert_allclose([r[4] for r in body], purchases * np.array([r[3] for r in body]))
    assert {r[5] for r in body} <= {"high", "medium", "low"}
    assert all(isinstance(v, float) and math.isfinite(v) for r in body for v in r[1:5])


def test_clv_predict_units_discount_and_margin(cdnow_cells):
    year = fam.CLV_PREDICT(*cdnow_cells, 1.0, 0.0, None, AS_OF, None, "years")
    months = fam.CLV_PREDICT(*cdnow_cells, 12.0, 0.0, None, AS_OF, None, None)
    assert [r[4] for r in year[1:]] == pytest.approx([r[4] for r in months[1:]])
    disc = fam.CLV_PREDICT(*cdnow_cells, 12.0, 0.1, 0.3, AS_OF, None, None)
    ratio = np.array([r[4] for r in disc[1:]]) / np.array([r[4] for r in months[1:]])
    # margin 0.3 and a year discounted at 10 % month by month: between 0.3 / 1.1 and 0.3
    assert np.all((ratio > 0.3 / 1.1) & (ratio < 0.3))


def test_fits_are_cached_on_the_content(cdnow_cells, monkeypatch):
    fam.FIT_CACHE.clear()
    calls = []
    real = paretonbd.fit  # the default model
    monkeypatch.setattr(paretonbd, "fit", lambda *a, **k: calls.append(1) or real(*a, **k))
    fam.CLV_PREDICT(*cdnow_cells, 12.0, None, None, AS_OF, None, None)
    fam.CLV_PREDICT(*cdnow_cells, 24.0, None, None, AS_OF, None, None)
    fam.CLV_FIT(*cdnow_cells, AS_OF, None)
    assert len(calls) == 1
    ids, dates, amounts = cdnow_cells
    fam.CLV_PREDICT(ids, dates, [[a[0] * 2] for a in amounts], 12.0, None, None, AS_OF, None, None)
    assert len(calls) == 1  # amounts do not change the purchase model's data
    fam.CLV_PREDICT(*cdnow_cells, 12.0, None, None, dt.datetime(1997, 12, 31), None, None)
    assert len(calls) == 2


def test_pareto_is_the_default_model(cdnow_cells):
    rows = fam.CLV_FIT(*cdnow_cells, AS_OF, None)
    assert rows == fam.CLV_FIT(*cdnow_cells, AS_OF, "pnbd")
    est = {(m, p): v for m, p, v, _ in rows[1:]}
    for name, value in {"r": 0.5533, "alpha": 10.578, "s": 0.6062, "beta": 11.669}.items():
        assert est[("Pareto/NBD", name)] == pytest.approx(value, rel=3e-3)  # as published
    assert fam.CLV_FIT(*cdnow_cells, AS_OF, "xyz").startswith(
        "#VALUE! model must be AUTO or one of")


def test_default_model_does_not_call_old_one_time_buyers_alive(cdnow_raw, cdnow_cells):
    # Why Pareto/NBD is the default: BG/NBD lets a customer drop out only right after a
    # repeat purchase, so without one her P(alive) is exactly 1 however long ago she bought
    # and the churn-risk label says "low". One-time buyers and their age T (weeks from the
    # first purchase to the end of the sample, 1998-06-30) counted here with pandas alone.
    raw = cdnow_raw.copy()
    raw["date"] = pd.to_datetime(raw["date"].astype(str), format="%Y%m%d")
    days = raw.groupby("id")["date"].agg(["nunique", "min"])
    age = (raw["date"].max() - days["min"]).dt.days / 7
    old_once = set(days.index[(days["nunique"] == 1) & (age > 30)].astype(str))
    assert len(old_once) > 1000  # about half of the 2,357 customers
    for model in (None, "PNBD", "BGNBD"):
        rows = fam.CLV_PREDICT(*cdnow_cells, None, None, None, None, model)
        body = [r for r in rows[1:] if str(r[0]) in old_once]
        assert len(body) == len(old_once)
        p_alive = np.array([r[1] for r in body])
        risk = [r[5] for r in body]
        if model == "BGNBD":
            assert np.all(p_alive == 1.0) and set(risk) == {"low"}
        else:
            assert p_alive.max() < 0.5
            assert sum(r in ("high", "medium") for r in risk) >= 0.9 * len(risk)


def day(d):
    return dt.datetime(2024, 1, 1) + dt.timedelta(days=d)


def test_degenerate_logs_give_clear_messages():
    one_day = fam.CLV_PREDICT(col([1, 2, 3]), [[day(0)]] * 3, col([5, 6, 7]))
    assert one_day.startswith("#VALUE! Pareto/NBD cannot be fitted: no customer made a repeat")
    one = fam.CLV_PREDICT(
        col([1, 1]), [[day(0)], [day(9)]], col([5, 6]), None, None, None, None, "BGNBD"
    )
    assert one.startswith("#VALUE! BG/NBD needs at least 2 customers")
    bad = fam.CLV_PREDICT(col([1]), [[day(0)]], col([5]), -3.0)
    assert bad.startswith("#VALUE! horizon must be >= 0")


def test_spend_fallback_is_labelled():
    # one repeat buyer: Gamma-Gamma cannot be fitted, the mean repeat spend is used
    ids = col([1, 1, 1, 2, 3, 4])
    dates = [[day(0)], [day(20)], [day(40)], [day(5)], [day(10)], [day(30)]]
    rows = fam.CLV_PREDICT(ids, dates, col([10, 30, 50, 8, 9, 10]), 12.0, 0.0)
    assert isinstance(rows, list), rows
    assert rows[0][3] == "expected spend per purchase (mean repeat spend)"
    assert {r[3] for r in rows[1:]} == {40.0}
    fit = fam.CLV_FIT(ids, dates, col([10, 30, 50, 8, 9, 10]), None, None)
    assert any(r[0] == "Gamma-Gamma" and "not fitted" in str(r[2]) for r in fit)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("model", ["BGNBD", "PNBD", "MBGNBD"])
def test_clv_on_the_built_in_sample_warns_nothing(model):
    # the report's data: a RuntimeWarning from the models (e.g. 0 x inf in a closed form)
    # fails this test; every number in the table must be finite
    from ltvxl.sample_data import SAMPLE_PATH

    d = pd.read_csv(SAMPLE_PATH, parse_dates=["date"])
    ids, amounts = [[v] for v in d.customer_id], col(d.amount.astype(float).tolist())
    dates = [[v.to_pydatetime()] for v in d.date]
    fam.FIT_CACHE.clear()
    rows = fam.CLV_PREDICT(ids, dates, amounts, 12.0, 0.1, 0.6, None, model)
    assert isinstance(rows, list), rows
    assert len(rows) == 1 + d.customer_id.nunique()
    assert all(math.isfinite(v) for r in rows[1:] for v in r[1:5])
    fit = fam.CLV_FIT(ids, dates, amounts, None, model)
    assert isinstance(fit, list), fit
    assert any(r[1] == "status" and str(r[2]).startswith("converged") for r in fit), fit


def header_col(values, header):
    return [[header], *col(values)]


def test_fit_functions_from_summary_columns_give_the_published_parameters():
    d = pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")
    x, tx, big_t = header_col(d.x, "x"), header_col(d.t_x, "t_x"), header_col(d["T"], "T")
    rows = fam.BTYD_FIT(x, tx, big_t, "BG/NBD")  # the published BG/NBD fit
    est = {r[0]: r[1] for r in rows[1:]}
    assert rows[0] == ["parameter", "estimate", "std_error"]
    assert est["r"] == pytest.approx(0.2426, rel=1e-3)
    assert est["b"] == pytest.approx(2.4259, rel=1e-3)
    assert est["time unit"] == "weeks"
    pn = {r[0]: r[1] for r in fam.BTYD_FIT(col(d.x), col(d.t_x), col(d["T"]))[1:]}
    assert pn["beta"] == pytest.approx(11.669, rel=1e-3)  # the default, Pareto/NBD
    assert fam.BTYD_FIT(x, tx, big_t, "pareto_nbd") == fam.BTYD_FIT(x, tx, big_t, None)
    gg = {r[0]: r[1] for r in fam.GG_FIT(col(d.x), col(d.zbar))[1:]}
    assert gg["q"] == pytest.approx(3.74, rel=2e-3)
    assert gg["note"] == "1411 customers without repeat purchases excluded"
    sbg_rows = fam.SBG_FIT(col([1000, 631, 468, 382, 326, 289, 262, 241]))
    assert {r[0]: r[1] for r in sbg_rows[1:]}["alpha"] == pytest.approx(0.704, rel=1e-3)
    dn = pd.read_csv(DATA / "donations.csv")
    bb = fam.BGBB_FIT(col(dn.frequency), col(dn.recency), col(dn.periods), col(dn.weights))
    assert {r[0]: r[1] for r in bb[1:]}["delta"] == pytest.approx(2.783, rel=1e-3)


def test_fit_functions_name_the_bad_row():
    got = fam.BTYD_FIT([[1.0], ["x"]], col([1, 2]), col([3, 4]))
    assert got == '#VALUE! frequency must be a number, got text "x" (row 2 of frequency)'
    assert fam.SBG_FIT(col([100, 100])).startswith("#VALUE! sBG cannot be fitted: nobody churned")
