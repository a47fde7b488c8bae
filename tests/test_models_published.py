"""Fits of every model against the figures published with its paper.

Data in tests/data (see its README): the CDNOW 39-week calibration summary
(Fader, Hardie & Lee 2005), the donations summary (Fader, Hardie & Shang 2010)
and the sBG retention cohorts (Fader & Hardie 2007).
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ltvxl.models import bgbb, bgnbd, gammagamma, mbgnbd, paretonbd, sbg

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def cdnow():
    return pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")


def close(fit, published, rel=1e-3):
    for name, value in published.items():
        assert fit.params[name] == pytest.approx(value, rel=rel), name


@pytest.fixture(scope="module")
def bg_fit(cdnow):
    return bgnbd.fit(cdnow.x, cdnow.t_x, cdnow["T"], time_unit="weeks")


def test_bgnbd_cdnow_parameters_and_loglik(bg_fit):
    # Fader, Hardie & Lee (2005): r = 0.2426, alpha = 4.4136, a = 0.7929, b = 2.4259, LL -9582.4
    close(bg_fit, {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259})
    assert bg_fit.log_likelihood == pytest.approx(-9582.43, abs=0.01)
    assert bg_fit.converged and "converged" in bg_fit.status
    assert bg_fit.n_customers == 2357
    assert bg_fit.n_rows < 2357  # identical rows were compressed
    assert all(np.isfinite(v) and v > 0 for v in bg_fit.std_errors.values())


def test_bgnbd_conditional_expectation_of_the_paper(bg_fit, cdnow):
    # x = 2, t_x = 30.43, T = 38.86: 1.226 purchases in the next 39 weeks
    assert bgnbd.conditional_expected(bg_fit, 39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=6e-4)
    total = bgnbd.conditional_expected(bg_fit, 39, cdnow.x, cdnow.t_x, cdnow["T"]).sum()
    assert total == pytest.approx(1653, abs=2)  # paper: about 1,653 (actual 1,882)


def test_paretonbd_cdnow_parameters_and_loglik(cdnow):
    fit = paretonbd.fit(cdnow.x, cdnow.t_x, cdnow["T"])
    close(fit, {"r": 0.5533, "alpha": 10.578, "s": 0.6062, "beta": 11.669})
    assert fit.log_likelihood == pytest.approx(-9594.98, abs=0.01)
    # the quadrature likelihood equals the classic closed form with 2F1
    closed = paretonbd.loglik_hyp2f1(fit, cdnow.x, cdnow.t_x, cdnow["T"]).sum()
    assert fit.log_likelihood == pytest.approx(closed, abs=1e-6)


def test_mbgnbd_cdnow_parameters(cdnow):
    fit = mbgnbd.fit(cdnow.x, cdnow.t_x, cdnow["T"])
    close(fit, {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}, rel=2e-3)


def test_gammagamma_cdnow_repeat_buyers(cdnow):
    fit = gammagamma.fit(cdnow.x, cdnow.zbar)
    close(fit, {"p": 6.25, "q": 3.74, "gamma": 15.44}, rel=2e-3)
    assert fit.log_likelihood == pytest.approx(-4055.92, abs=0.01)
    assert fit.n_customers == 946
    assert fit.notes == ("1411 customers without repeat purchases excluded",)
    assert gammagamma.population_mean(fit) == pytest.approx(35.17, abs=0.01)


@pytest.mark.parametrize(
    ("cohort", "alpha", "beta", "loglik"),
    [("regular", 0.704, 1.182, -1680.27), ("high_end", 0.668, 3.806, -1611.16)],
)
def test_sbg_retention_cohorts(cohort, alpha, beta, loglik):
    table = pd.read_csv(DATA / "sbg_retention.csv")
    alive = table[cohort].to_numpy()[:8] * 10  # percentages of 1,000, years 0..7
    fit = sbg.fit(alive)
    close(fit, {"alpha": alpha, "beta": beta}, rel=1e-3)
    assert fit.log_likelihood == pytest.approx(loglik, abs=0.01)
    # the hold-out years 8..12 are projected within 2 percentage points
    projected = sbg.survival(fit, np.arange(8, 13)) * 100
    assert np.abs(projected - table[cohort].to_numpy()[8:]).max() < 2.0


def test_bgbb_donations():
    d = pd.read_csv(DATA / "donations.csv")
    fit = bgbb.fit(d.frequency, d.recency, d.periods, d.weights)
    close(fit, {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}, rel=1e-3)
    assert fit.log_likelihood == pytest.approx(-33225.6, abs=0.05)
    assert fit.n_customers == 11104 and fit.n_rows == 22
