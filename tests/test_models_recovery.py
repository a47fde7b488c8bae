"""Parameter recovery: data simulated (seeded) from known parameters are fitted back
within a few standard errors. The purchase models' recovery is part of their contract
(test_models_contract.py); here the spend, contract and discrete-opportunity models and
the purchase models' large-data paths."""

import numpy as np
import pytest
from scipy.optimize import minimize

from ltvxl.models import base, bgbb, bgnbd, gammagamma, mbgnbd, paretonbd, sbg
from ltvxl.models import simulate as sim

N = 8000


def within(fit, truth, k=3.5):
    for name, value in truth.items():
        se = fit.std_errors[name]
        assert np.isfinite(se) and se > 0, name
        assert abs(fit.params[name] - value) < k * se, (name, fit.params[name], value, se)
    assert fit.converged, fit.status


@pytest.fixture(scope="module")
def ages():
    # first purchases spread over a year, observed in weeks, rounded to days as real data are
    return np.round(np.random.default_rng(11).uniform(14, 52, N) * 7) / 7


def test_gamma_gamma_recovers_parameters():
    x = np.random.default_rng(3).poisson(2.0, 4000).astype(float)
    truth = {"p": 6.0, "q": 3.7, "gamma": 15.0}
    zbar = sim.gammagamma(*truth.values(), x, seed=4)
    within(gammagamma.fit(x, np.nan_to_num(zbar)), truth)


def test_sbg_recovers_parameters():
    truth = {"alpha": 0.7, "beta": 1.2}
    within(sbg.fit(sim.sbg(*truth.values(), cohort=5000, periods=7, seed=8)), truth)


def test_bgbb_recovers_parameters():
    truth = {"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.8}
    d = sim.bgbb(*truth.values(), n=6, customers=N, seed=9)
    within(bgbb.fit(d.frequency, d.recency, d.periods), truth)


def test_bgnbd_predicts_simulated_holdout():
    # customers simulated over 2T: predictions from the first half match the second half
    rng = np.random.default_rng(21)
    r, alpha, a, b = 0.3, 3.0, 0.7, 2.0
    n = 20000
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    first, horizon = 26.0, 26.0
    # purchase times while alive; dropout after each repeat purchase with probability p
    counts_cal = np.zeros(n)
    counts_hold = np.zeros(n)
    last = np.zeros(n)
    t = np.zeros(n)
    alive = np.ones(n, bool)
    while alive.any():
        t = t + rng.exponential(1 / lam)
        alive &= t <= first + horizon
        cal = alive & (t <= first)
        counts_cal += cal
        last = np.where(cal, t, last)
        counts_hold += alive & (t > first)
        alive &= rng.random(n) >= p
    fit = bgnbd.fit(counts_cal, last, np.full(n, first))
    predicted = bgnbd.conditional_expected(fit, horizon, counts_cal, last, first).sum()
    assert predicted == pytest.approx(counts_hold.sum(), rel=0.05)


@pytest.mark.parametrize(
    ("mod", "simulate", "truth"),
    [
        (bgnbd, sim.bgnbd, {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}),
        (mbgnbd, sim.mbgnbd, {"r": 0.5, "alpha": 6.0, "a": 0.9, "b": 1.6}),
        (paretonbd, sim.paretonbd, {"r": 0.55, "alpha": 10.5, "s": 0.6, "beta": 12.0}),
    ],
)
def test_many_rows_start_from_a_subsample_and_reach_the_same_optimum(
    mod, simulate, truth, monkeypatch
):
    # 120,000 customers with distinct ages: above base.WARM_ROWS * 5 distinct rows the fit
    # starts from a fit on every k-th row; it must end where the plain fit ends
    from ltvxl.models import base

    big_t = np.random.default_rng(5).uniform(1, 78, 120_000)
    d = simulate(*truth.values(), big_t, seed=1)
    warm = mod.fit(d.frequency, d.recency, d["T"])
    assert warm.n_rows > 5 * base.WARM_ROWS
    within(warm, truth)
    monkeypatch.setattr(base, "WARM_ROWS", 10**9)
    plain = mod.fit(d.frequency, d.recency, d["T"])
    assert plain.converged
    assert warm.iterations < plain.iterations
    np.testing.assert_allclose(warm.values(), plain.values(), rtol=1e-4)
    np.testing.assert_allclose(
        list(warm.std_errors.values()), list(plain.std_errors.values()), rtol=1e-3
    )
    assert warm.log_likelihood == pytest.approx(plain.log_likelihood, abs=1e-5)


def _finite_predictions(fit, data):
    args = (data["frequency"], data["recency"], data["T"])
    alive = paretonbd.p_alive(fit.params, *args)
    expected = paretonbd.conditional_expected(fit.params, 52.0, *args)
    assert np.all(np.isfinite(alive)) and np.all((alive >= 0) & (alive <= 1))
    assert np.all(np.isfinite(expected)) and np.all(expected >= 0)
    assert all(np.isfinite(v) and v > 0 for v in fit.params.values())
    assert np.isfinite(fit.log_likelihood) and "nan" not in fit.status.lower()
    return alive


def test_paretonbd_no_dropout_stops_with_a_status(ages):
    # mean lifetime 1e12 weeks: nobody drops out within the year observed
    data = sim.paretonbd(0.8, 8.0, 1.0, 1e12, ages[:5000], seed=21)
    fit = paretonbd.fit(data["frequency"], data["recency"], data["T"])
    # by chance one tiny common dropout rate (s, beta -> infinity, s/beta = 1.7e-4 a week)
    # fits these data better than none at all (the NBD limit, s = 0): by 0.18
    assert not fit.converged and fit.limit == ""
    assert fit.status.startswith("not converged: the dropout rates show no spread"), fit.status
    assert fit.params["s"] / fit.params["beta"] < 1e-3  # per week
    x, big_t = data["frequency"].to_numpy(float), data["T"].to_numpy(float)
    nbd = minimize(lambda th: base.nbd_negll(th, x, big_t, np.ones(x.size)), np.log([0.5, 5.0]),
                   jac=True)
    assert fit.log_likelihood > -nbd.fun + 0.1
    alive = _finite_predictions(fit, data)
    assert alive.mean() > 0.98


def test_paretonbd_common_dropout_rate_fits_the_limit(ages):
    # every customer drops out at 0.05 a week: Gamma(s, beta) with s -> infinity
    data = sim.paretonbd(0.8, 8.0, 1e7, 1e7 / 0.05, ages, seed=22)
    cols = [data[c].to_numpy(float) for c in ("frequency", "recency", "T")]
    fit = paretonbd.fit(*cols)
    assert fit.converged and fit.limit == "one dropout rate (s, beta -> infinity)", fit.status
    assert "the dropout rates show no spread between customers" in fit.status, fit.status
    s, beta = fit.params["s"], fit.params["beta"]
    assert s == paretonbd.COMMON_S and fit.iterations < 40
    assert abs(s / beta - 0.05) < 0.01
    assert np.isnan(fit.std_errors["s"]) and np.isfinite(fit.std_errors["r"])
    alive = _finite_predictions(fit, data)
    # the limit is the supremum along the ridge: the full model further and further along
    # it (s/beta kept) approaches the limit's log-likelihood from below. Up to s = 1e4 only:
    # further out the full formula's rounding (1e-5 at s = 1e5, 5e-3 at 1e7 in this sum of
    # 8,000 terms, different from one CPU to another) exceeds the steps it takes
    d = paretonbd.Data(*cols, np.ones(len(data)))
    lls = [-paretonbd.negll(np.log([fit["r"], fit["alpha"], k, k / (s / beta)]), d)[0]
           for k in (1e2, 1e3, 1e4)]
    assert np.all(np.diff(lls) > 0) and lls[-1] < fit.log_likelihood
    # the alive term's s log(beta / (beta + T)) is one log1p a row: at s = 1e7 the full
    # model is within 1e-3 of the limit (the difference of two sums of s log(.) was 5e-3 off)
    far = -paretonbd.negll(np.log([fit["r"], fit["alpha"], 1e7, 1e7 / (s / beta)]), d)[0]
    assert abs(far - fit.log_likelihood) < 1e-3
    assert fit.log_likelihood - lls[-1] < 0.01
    # and the limit's predictions are those of the full model at s = 1e5 on the ridge
    near = {**fit.params, "s": 1e5, "beta": 1e5 / (s / beta)}
    np.testing.assert_allclose(paretonbd.p_alive(near, *cols), alive, rtol=1e-3, atol=1e-6)


def test_paretonbd_common_rate_limit_from_a_subsample(ages, monkeypatch):
    # many rows: the subsample fit runs onto the ridge, fits the limit there, and the full
    # data's limit fit starts from it; same optimum as without the warm start
    data = sim.paretonbd(0.8, 8.0, 1e7, 1e7 / 0.05, ages, seed=22)
    cols = [data[c].to_numpy(float) for c in ("frequency", "recency", "T")]
    plain = paretonbd.fit(*cols)
    monkeypatch.setattr(base, "WARM_ROWS", 600)
    warm = paretonbd.fit(*cols)
    assert warm.n_rows > 5 * base.WARM_ROWS
    assert warm.limit == plain.limit == "one dropout rate (s, beta -> infinity)"
    assert "a fit on a subsample of the rows ran onto this ridge" in warm.status, warm.status
    np.testing.assert_allclose(warm.values(), plain.values(), rtol=1e-5)
    assert warm.log_likelihood == pytest.approx(plain.log_likelihood, abs=1e-6)


def test_paretonbd_interior_optimum_near_the_ridge_is_kept(ages, monkeypatch):
    # little spread (s = 30) but some: started low, the fit runs up the ridge (s and beta
    # growing together), fits the limit of one rate, finds the full model better just
    # inside the boundary (at s = 100, one of INSIDE_S) and goes on to the interior optimum
    data = sim.paretonbd(0.8, 8.0, 30.0, 600.0, ages, seed=23)
    cols = [data[c].to_numpy(float) for c in ("frequency", "recency", "T")]
    d = paretonbd.Data(*cols, np.ones(len(data)))
    tried = []
    fit_limit = base._fit_limit

    def spy(model, names, limit, *args):
        out = fit_limit(model, names, limit, *args)
        tried.append((limit.name, out is None))
        return out

    monkeypatch.setattr(base, "_fit_limit", spy)
    fit = base.fit_mle("Pareto/NBD", paretonbd.PARAMS, lambda th: paretonbd.negll(th, d),
                       np.log([0.8, 8.0, 0.02, 0.4]), len(data), d.x.size,
                       limit=[paretonbd._common_limit(d, "weeks")])
    assert tried == [("one dropout rate (s, beta -> infinity)", True)]
    assert fit.limit == "" and fit.converged, fit.status
    plain = paretonbd.fit(*cols)
    assert plain.limit == "" and 3.0 < plain["s"] < 1e3
    np.testing.assert_allclose(fit.values(), plain.values(), rtol=1e-3)
    assert fit.log_likelihood == pytest.approx(plain.log_likelihood, abs=1e-5)


def test_paretonbd_little_spread_beats_the_limit_of_one_rate():
    # 3,000 customers whose dropout rates spread a little (s = 10): the fit heads up the
    # ridge, but the full model at s about 68 is better than one rate for all by 0.036
    # (found at s = 100 of INSIDE_S, where it beats the limit), so that is the result
    rng = np.random.default_rng(3)
    ages = np.round(rng.uniform(5, 104, 3000) * 7) / 7
    data = sim.paretonbd(0.8, 8.0, 10.0, 200.0, ages, seed=3010)
    cols = [data[c].to_numpy(float) for c in ("frequency", "recency", "T")]
    fit = paretonbd.fit(*cols)
    assert fit.limit == "" and fit.converged, fit.status
    assert 30 < fit["s"] < 200
    d = paretonbd.Data(*cols, np.ones(len(data)))
    r, alpha, s, beta = fit.values()
    one_rate = minimize(lambda th: paretonbd.common_negll(th, d), np.log([r, alpha, s / beta]),
                        jac=True, method="BFGS", options={"gtol": 1e-8})
    assert fit.log_likelihood > -one_rate.fun + 0.02  # better than the limit at its best
