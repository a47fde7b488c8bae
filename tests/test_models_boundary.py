"""Optimum or limit, never a stop in between: fits whose likelihood rises toward a boundary.

When nobody in the data drops out, the BG/NBD likelihood rises toward a = 0 and the
Pareto/NBD one toward s = 0, where both become the NBD's (Gamma-Poisson purchases, no
dropout). ``fit_mle`` follows the ridge and fits the NBD limit: the result is the limit
(a = 0 or s = 0, P(alive) = 1), with the NBD's log-likelihood, which the test computes
independently (scipy's minimiser on the NBD likelihood written out here).

Peer figures (lifetimes 0.11.3 in a separate virtualenv, penalizer 0; its parameters
evaluated with ltvxl's log-likelihood, so both are on one scale):

- simulated Online-Retail-like data (:func:`_online_retail_like`): BetaGeoFitter
  r = 0.760275, alpha = 5.72360, a = 1.73e-7, b = 22,259: -45,778.11033;
  ModifiedBetaGeoFitter -45,778.11033; ParetoNBDFitter -45,791.33 (stopped short).
  ltvxl: BG/NBD and Pareto/NBD -45,778.1103 at the NBD limit.
- the 2010-12-01 to 2011-12-09 part of the shared Online Retail II sample (213
  customers): BetaGeoFitter "did not converge"; ParetoNBDFitter s = 8.3e-10:
  -1,769.63694; ModifiedBetaGeoFitter a = 1.4e-8: -1,769.63694. ltvxl: BG/NBD and
  Pareto/NBD -1,769.6369 at the NBD limit (MBG/NBD -1,769.484: its extra dropout at
  the first purchase fits better).
- the whole sample (262 customers, two years) has dropout: lifetimes and ltvxl agree on
  interior optima (BG/NBD r = 0.82924, alpha = 11.8738, a = 0.058663, b = 1.14553).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import gammaln

from ltvxl.models import bgnbd, mbgnbd, paretonbd, simulate

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
ONLINE_RETAIL = SHARED / "online_retail_ii" / "online_retail_II_sample.xlsx"


def _online_retail_like():
    """4,339 customers over 53 weeks, 573 of them from the first days, nobody dropping out
    in practice (dropout probability Beta(0.02, 50): mean 0.04 %)."""
    rng = np.random.default_rng(7)
    big_t = rng.uniform(0, 53, 4339)
    big_t[:573] = rng.uniform(51.7, 53, 573)
    df = simulate.bgnbd(0.8, 6.0, 0.02, 50.0, big_t, seed=1)
    return df.frequency.to_numpy(), df.recency.to_numpy(), df["T"].to_numpy()


def _nbd_optimum(x, big_t):
    """The NBD's maximum log-likelihood, by scipy (written out independently of ltvxl)."""

    def negll(th):
        r, alpha = np.exp(th)
        return -np.sum(gammaln(r + x) - gammaln(r) + r * np.log(alpha)
                       - (r + x) * np.log(alpha + big_t))

    res = minimize(negll, np.log([0.5, 5.0]), method="Nelder-Mead",
                   options={"xatol": 1e-10, "fatol": 1e-10, "maxiter": 4000})
    return -res.fun, np.exp(res.x)


@pytest.mark.parametrize(("module", "param"), [(bgnbd, "a"), (paretonbd, "s")])
def test_no_dropout_fit_is_the_nbd_limit(module, param):
    x, tx, big_t = _online_retail_like()
    fit = module.fit(x, tx, big_t, time_unit="weeks")
    best, (r, alpha) = _nbd_optimum(x, big_t)
    assert fit.limit == "NBD (no dropout)"
    assert fit.params[param] == 0.0
    assert "boundary" in fit.status and "no sign of dropout" in fit.status
    assert abs(fit.log_likelihood - best) < 1e-3
    assert fit.log_likelihood >= -45_778.11033 - 1e-3  # lifetimes' BetaGeoFitter
    assert fit.params["r"] == pytest.approx(r, rel=1e-4)
    assert fit.params["alpha"] == pytest.approx(alpha, rel=1e-4)
    assert np.isfinite(fit.std_errors["r"]) and np.isfinite(fit.std_errors["alpha"])
    # the predictions are the limit's: everybody alive, NBD conditional expectations
    assert np.all(module.p_alive(fit, x, tx, big_t) == 1.0)
    want = (fit.params["r"] + x) / (fit.params["alpha"] + big_t) * 10.0
    got = module.conditional_expected(fit, 10.0, x, tx, big_t)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_mbgnbd_on_no_dropout_data_beats_the_nbd():
    """MBG/NBD has a better limit than the NBD here (a, b -> 0: a share of customers drops
    out right after the first purchase); it must at least reach the NBD's likelihood."""
    x, tx, big_t = _online_retail_like()
    fit = mbgnbd.fit(x, tx, big_t, time_unit="weeks")
    best, _ = _nbd_optimum(x, big_t)
    assert fit.log_likelihood >= best - 1e-3
    assert fit.limit == ""


def test_data_with_dropout_keep_an_interior_optimum():
    x, tx, big_t = (np.asarray(v) for v in (simulate.bgnbd(0.25, 4.4, 0.8, 2.4,
                                                           np.full(3000, 39.0), seed=3)
                                            .to_numpy().T))
    fit = bgnbd.fit(x, tx, big_t, time_unit="weeks")
    assert fit.converged and fit.limit == ""
    assert 0 < fit.params["a"] < 10


def _online_retail_summary(start: str | None):
    from python_calamine import CalamineWorkbook

    from ltvxl.transactions.log import TransactionLog
    from ltvxl.transactions.summary import customer_summary

    book = CalamineWorkbook.from_path(str(ONLINE_RETAIL))
    ids, dates, amounts = [], [], []
    for name in book.sheet_names:
        rows = book.get_sheet_by_name(name).to_python()
        head = [str(h) for h in rows[0]]
        qty, price = head.index("Quantity"), head.index("Price")
        cid, when = head.index("Customer ID"), head.index("InvoiceDate")
        for row in rows[1:]:
            if row[cid] in ("", None):
                continue
            day = str(row[when])[:10]
            if start is None or day >= start:
                ids.append(str(int(row[cid])))
                dates.append(day)
                amounts.append(float(row[qty]) * float(row[price]))
    log = TransactionLog.from_arrays(ids, np.array(dates, dtype="datetime64[D]"), amounts)
    return customer_summary(log, None, "weeks").table


@pytest.mark.skipif(not ONLINE_RETAIL.exists(), reason="shared Online Retail II sample absent")
def test_online_retail_last_year_reaches_the_nbd_limit():
    s = _online_retail_summary("2010-12-01")
    x, tx, big_t = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    assert len(s) == 213
    best, _ = _nbd_optimum(x, big_t)
    for module in (bgnbd, paretonbd):
        fit = module.fit(x, tx, big_t, time_unit="weeks")
        assert fit.limit == "NBD (no dropout)", fit.status
        assert abs(fit.log_likelihood - best) < 1e-3
        assert fit.log_likelihood >= -1_769.63694 - 1e-3  # lifetimes' best (ParetoNBDFitter)
    assert mbgnbd.fit(x, tx, big_t, time_unit="weeks").log_likelihood >= best - 1e-3


@pytest.mark.skipif(not ONLINE_RETAIL.exists(), reason="shared Online Retail II sample absent")
def test_online_retail_two_years_interior_as_lifetimes():
    s = _online_retail_summary(None)
    x, tx, big_t = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    fit = bgnbd.fit(x, tx, big_t, time_unit="weeks")
    assert fit.converged and fit.limit == ""
    want = {"r": 0.8292388, "alpha": 11.873819, "a": 0.0586629, "b": 1.145502}  # lifetimes
    for name, value in want.items():
        assert fit.params[name] == pytest.approx(value, rel=1e-3)
