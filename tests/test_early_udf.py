"""CLV_EARLY and CLV_EARLY_FIT: the first-purchase value model as worksheet functions
(ranges as xlwings passes them, and through xlwings' own conversion)."""

import datetime as dt

import numpy as np
import pytest
from conftest import MISSING

import ltvxl.udfs.early as fam
from ltvxl.errors import MAX_CELL_TEXT
from ltvxl.models import early
from ltvxl.sample_data import load_sample_transactions
from ltvxl.transactions.log import TransactionLog


@pytest.fixture(scope="module")
def sample():
    log = load_sample_transactions()
    cells = ([["customer"], *([v] for v in log.ids)],
             [["date"], *([dt.datetime.fromisoformat(str(d))] for d in log.dates)],
             [["amount"], *([float(a)] for a in log.amounts)])
    return log, cells


def test_clv_early_spills_the_customers_inside_their_window(sample):
    log, cells = sample
    rows = fam.CLV_EARLY(*cells, dt.datetime(2024, 12, 31), 30, 6)
    assert rows[0] == ["customer", "first purchase", "days observed",
                       "P(buys again in the 6 months after day 30)",
                       "predicted value (6 months after day 30)"]
    log = TransactionLog.from_cells(*cells)  # no channel: the worksheet passes none
    f = early.customer_features(log, 30, 6)
    want = early.fit(log, f).predict(early.Features(
        f.recent, 30, 6.0, f.end, f.numeric, f.categorical))
    assert [r[0] for r in rows[1:]] == list(want["customer"])
    assert all(r[2] <= 30 and r[1] >= dt.datetime(2024, 12, 2) for r in rows[1:])
    assert np.allclose([r[3] for r in rows[1:]], want["p_repeat"])
    assert np.allclose([r[4] for r in rows[1:]], want["predicted_value"])
    # blank window, horizon and as_of take the defaults
    assert fam.CLV_EARLY(*cells, None, None, None) == rows


def test_clv_early_fit_is_the_validation(sample):
    log, cells = sample
    rows = fam.CLV_EARLY_FIT(*cells, None, 30, 6)
    assert {len(r) for r in rows} == {8}
    assert rows[0][:3] == ["prediction", "normalized Gini", "decile MAPE"]
    log = TransactionLog.from_cells(*cells)
    v = early.fit(log, early.customer_features(log, 30, 6)).validation
    for row, s in zip(rows[1:4], v.rows, strict=True):
        assert row[0] == s.name and row[1] == pytest.approx(s.gini)
        assert row[2] == pytest.approx(s.decile_mape) and row[7] == s.customers
    labels = [r[0] for r in rows[4:]]
    assert labels[:4] == ["split", "model", "chosen because", "features"]
    assert any(lab.startswith("against window value x ratio") for lab in labels)
    assert all(len(str(c)) <= MAX_CELL_TEXT for r in rows for c in r)


@pytest.mark.parametrize(("args", "message"), [
    ((None, 0), "#VALUE! window must be >= 1 and <= 3660, got 0"),
    ((None, 2.5), "#VALUE! window must be a whole number of days, got 2.5"),
    ((None, 30, 0), "#VALUE! horizon must be > 0 and <= 1200, got 0"),
    ((None, "a month"), "#VALUE! window"),
    (("someday",), '#VALUE! as_of: "someday" is not a date'),
    ((dt.datetime(2023, 3, 1),), "#VALUE! 0 customers have their 30-day window and 6-month "
                                 "horizon inside the data (2023-01-01 to 2023-03-01)"),
])
def test_bad_arguments_are_messages_naming_them(sample, args, message):
    _, cells = sample
    for func in (fam.CLV_EARLY, fam.CLV_EARLY_FIT):
        out = func(*cells, *args)
        assert isinstance(out, str) and out.startswith(message), out


def test_no_customer_inside_a_window_is_na(sample):
    log, cells = sample
    # only customers acquired up to 2024-10-31, judged at 2024-12-31: every window is over
    keep = [0] + [i + 1 for i, d in enumerate(log.dates) if d <= np.datetime64("2024-10-31")]
    sub = [[c[i] for i in keep] for c in cells]
    late = [i for i in range(1, len(sub[0])) if sub[1][i][0] > dt.datetime(2024, 1, 1)]
    assert late
    out = fam.CLV_EARLY(*sub, dt.datetime(2024, 12, 31))
    assert out.startswith("#N/A no customer was acquired within 30 days of 2024-12-31")


def test_through_xlwings(xl_call, sample):
    _, cells = sample
    as_tuples = [tuple(tuple(r) for r in c) for c in cells]
    out = xl_call(fam.CLV_EARLY, *as_tuples, MISSING, 30.0, MISSING)
    assert out[0][0] == "customer" and len(out) > 1
    fit = xl_call(fam.CLV_EARLY_FIT, *as_tuples, MISSING, MISSING, MISSING)
    assert fit[0][0] == "prediction" and fit[1][0].startswith("model: ")


def test_covariates_range_is_a_feature(sample):
    """CLV_EARLY's covariates: the sample's channel of each customer's first purchase given
    as a covariates range (category) and a made-up number: the same predictions as the
    core with that table, the features cov_channel and cov_score."""
    import pandas as pd

    log, cells = sample
    ids = list(dict.fromkeys(log.ids))
    rng = np.random.default_rng(0)
    firsts = pd.DataFrame({"id": log.ids, "ch": log.extra["channel"]}).groupby(
        "id", sort=False)["ch"].first()
    score = rng.integers(0, 5, len(ids)).astype(float)
    rng_cells = [["customer", "channel", "score"],
                 *([c, firsts[c], float(s)] for c, s in zip(ids, score, strict=True))]
    rows = fam.CLV_EARLY(*cells, dt.datetime(2024, 12, 31), 30, 6, rng_cells)
    assert rows[0][0] == "customer"
    plain = TransactionLog.from_cells(*cells)
    cov = pd.DataFrame({"channel": [firsts[c] for c in plain.customers],
                        "score": [float(score[ids.index(c)]) for c in plain.customers]})
    f = early.customer_features(plain, 30, 6, covariates=cov)
    assert "cov_channel" in f.categorical and "cov_score" in f.numeric
    want = early.fit(plain, f).predict(early.Features(
        f.recent, 30, 6.0, f.end, f.numeric, f.categorical))
    assert np.allclose([r[4] for r in rows[1:]], want["predicted_value"])
    fit = fam.CLV_EARLY_FIT(*cells, None, 30, 6, rng_cells)
    features = next(r[1] for r in fit if r[0] == "features")
    assert "cov_channel" in features and "cov_score" in features
    out = fam.CLV_EARLY(*cells, None, 30, 6, rng_cells[:-1])
    assert isinstance(out, str) and "1 customers have no covariate row" in out
