"""Predictions of the models checked independently: numerical integration, direct sums,
reference values from lifetimes 0.11.3, gradients, numerical stability, units, bad data."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad
from scipy.optimize import brentq
from scipy.special import betaln
from scipy.stats import beta as beta_dist

from ltvxl import units
from ltvxl.errors import LtvxlError
from ltvxl.models import base, bgbb, bgnbd, clv, gammagamma, mbgnbd, paretonbd, sbg
from ltvxl.models import simulate as sim

BG = {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259}
PN = {"r": 0.5533, "alpha": 10.578, "s": 0.6062, "beta": 11.669}
MB = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}
GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}

# (x, t_x, T) in weeks
ROWS = np.array(
    [(0, 0.0, 38.86), (1, 1.71, 38.86), (2, 30.43, 38.86), (7, 29.43, 31.0), (29, 38.43, 38.86),
     (5, 2.0, 35.0)]
)  # fmt: skip
X, TX, T = ROWS.T

# Reference values from lifetimes 0.11.3 (Python 3.11, numpy 2.4, scipy 1.17, in a separate
# venv): fitters with ``params_`` set to the published parameters above (BG, PN, MB, GG as
# ``dict(p=6.25, q=3.74, v=15.44)``), then ``conditional_probability_alive(x, t_x, T)``,
# ``conditional_expected_number_of_purchases_up_to_time(39, x, t_x, T)``,
# ``expected_number_of_purchases_up_to_time(39)``,
# ``probability_of_n_purchases_up_to_time(39, n)`` and
# ``conditional_expected_average_profit(frequency, monetary_value)`` on the rows above.
LIFETIMES = {
    "bg_palive": [1.0, 0.21223426371008022, 0.7266140448542472, 0.8844175756172021,
                  0.9662786777590459, 5.9488786468706424e-04],
    "bg_cond39": [0.19478676916061549, 0.2032585255260545, 1.2259226579870348,
                  5.403043929812097, 19.677979111679498, 2.4449568098006882e-03],
    "bg_exp39": 1.195047681513762,
    "bg_prob39": [0.5742999197005054, 0.19919386048701548, 0.08532423127557012,
                  0.04579855928529088],
    "pn_palive": [0.29511816029135063, 0.1678879432312955, 0.8691242543735007,
                  0.9740036058495897, 0.9941078938047361, 0.00402891632817229],
    "pn_cond39": [0.10707208768291029, 0.17099937237017895, 1.45513531391564,
                  5.584996599796927, 19.264563371004485, 0.01572068023998217],
    "pn_exp39": 1.2134656128166474,
    "mb_palive": [0.3897350809187629, 0.17083648431040802, 0.7062022651184873,
                  0.8748089069558441, 0.962804257792254, 0.0009832959330396],
    "mb_cond39": [0.15401274667514553, 0.18883654136434078, 1.2629606232673432,
                  5.174604637692704, 18.611571460184344, 3.9922931314296424e-03],
    "mb_exp39": 1.1829536655971713,
    "gg_spend": [24.6384872080089, 35.039370078740156, 48.80847308031774, 35.21897810218978],
}  # fmt: skip


@pytest.mark.parametrize(
    ("mod", "params", "key"), [(bgnbd, BG, "bg"), (paretonbd, PN, "pn"), (mbgnbd, MB, "mb")]
)
def test_agrees_with_lifetimes_per_customer(mod, params, key):
    np.testing.assert_allclose(mod.p_alive(params, X, TX, T), LIFETIMES[f"{key}_palive"], rtol=1e-8)
    np.testing.assert_allclose(
        mod.conditional_expected(params, 39, X, TX, T), LIFETIMES[f"{key}_cond39"], rtol=1e-8
    )
    assert mod.expected(params, 39) == pytest.approx(LIFETIMES[f"{key}_exp39"], rel=1e-9)


def test_bgnbd_probability_of_n_and_gamma_gamma_agree_with_lifetimes():
    np.testing.assert_allclose(
        bgnbd.prob_purchases(BG, np.arange(4), 39), LIFETIMES["bg_prob39"], rtol=1e-9
    )
    spend = gammagamma.expected_spend(GG, [1, 2, 5, 0], [20, 35, 50, 0])
    np.testing.assert_allclose(spend, LIFETIMES["gg_spend"], rtol=1e-12)


def test_expectations_equal_numerical_integrals_over_dropout():
    # BG/NBD: E[X(t)] = E_p[(1/p)(1 - (alpha/(alpha + p t))^r)]; MBG/NBD with (1-p)/p
    t = 52.0
    r, al, a, b = BG.values()
    want = quad(lambda p: (1 - (al / (al + p * t)) ** r) / p * beta_dist.pdf(p, a, b), 0, 1)[0]
    assert bgnbd.expected(BG, t) == pytest.approx(want, rel=1e-7)
    r, al, a, b = MB.values()
    f = lambda p: (1 - p) / p * (1 - (al / (al + p * t)) ** r) * beta_dist.pdf(p, a, b)  # noqa: E731
    assert mbgnbd.expected(MB, t) == pytest.approx(quad(f, 0, 1)[0], rel=1e-7)


def test_bgnbd_conditional_matches_textbook_formula_where_it_is_stable():
    from scipy.special import hyp2f1

    r, al, a, b = BG.values()
    x, tx, big_t, t = 3.0, 20.0, 38.0, 26.0
    z = t / (al + big_t + t)
    num = (
        (a + b + x - 1)
        / (a - 1)
        * (
            1
            - ((al + big_t) / (al + big_t + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
        )
    )
    den = 1 + a / (b + x - 1) * ((al + big_t) / (al + tx)) ** (r + x)
    assert bgnbd.conditional_expected(BG, t, x, tx, big_t) == pytest.approx(num / den, rel=1e-10)


def test_no_overflow_for_hundreds_of_purchases():
    x = np.array([300.0, 800.0, 2000.0])
    tx = np.array([50.0, 103.8, 99.0])
    big_t = np.array([52.0, 104.0, 104.0])
    for mod, params in ((bgnbd, BG), (paretonbd, PN), (mbgnbd, MB)):
        pa = mod.p_alive(params, x, tx, big_t)
        ce = mod.conditional_expected(params, 52, x, tx, big_t)
        assert np.all(np.isfinite(pa)) and np.all((pa >= 0) & (pa <= 1))
        assert np.all(np.isfinite(ce)) and np.all(ce > 0)
        # an active heavy buyer (800 in 104 weeks, last at 103.8) keeps buying at a bit below
        # her past rate (posterior shrinkage and dropout): 52 weeks at 800 / 104 a week = 400
        assert pa[1] > 0.99 and 0.7 * 400 < ce[1] < 400


# Pareto/NBD parameter sets whose dropout integrals take each path: the series around
# alpha (alpha close to beta), the series around beta (beta > alpha), quadrature (beta << alpha)
PN_PATHS = (
    PN,
    {"r": 0.5, "alpha": 1.0, "s": 0.7, "beta": 12.0},
    {"r": 2.0, "alpha": 30.0, "s": 0.4, "beta": 3.0},
)


def _pareto_rows(n=300, seed=0):
    rng = np.random.default_rng(seed)
    big_t = rng.uniform(5, 80, n)
    tx = big_t * rng.uniform(0, 1, n)
    x = rng.integers(1, 40, n).astype(float)
    x[:20], tx[:20] = 0.0, 0.0  # one-time buyers
    tx[20:30] = big_t[20:30] * (1 - 1e-9)  # a last purchase just before the end
    return x, tx, big_t


def test_pareto_integral_takes_every_path(monkeypatch):
    x, tx, big_t = _pareto_rows()
    seen = []
    quadrature = paretonbd._quadrature

    def counting(*args):
        seen.append(args[4].size)
        return quadrature(*args)

    monkeypatch.setattr(paretonbd, "_quadrature", counting)
    by_path = []
    for params in PN_PATHS:
        seen.clear()
        paretonbd.dropout_integral(*params.values(), x, tx, big_t, grad=True)
        _, al, _, be = params.values()
        outside = int(np.sum(np.abs((al - be) / (al + tx)) > paretonbd.SERIES_Z))
        by_path.append((x.size - outside, outside - sum(seen), sum(seen)))
    # rows by the series around alpha, the series around beta, quadrature
    assert by_path[0] == (x.size, 0, 0)
    assert min(by_path[1]) >= 10
    assert by_path[2][0] > 30 and by_path[2][1] == 0 and by_path[2][2] > 100


PARAM_NAMES = ("r", "alpha", "s", "beta")


def _central_difference(params, name, rel_step, x, tx, big_t):
    """d log I / d params[name] by central differences, step rel_step * params[name]."""
    step = rel_step * params[name]
    up, down = dict(params), dict(params)
    up[name] += step
    down[name] -= step
    return (
        paretonbd.dropout_integral(*up.values(), x, tx, big_t)
        - paretonbd.dropout_integral(*down.values(), x, tx, big_t)
    ) / (2 * step)


def test_pareto_integral_derivatives_match_finite_differences():
    # every path (series around alpha or beta, quadrature), one-time buyers, t_x near T
    x, tx, big_t = _pareto_rows()
    for params in PN_PATHS:
        got = paretonbd.dropout_integral(*params.values(), x, tx, big_t, grad=True)
        assert len(got) == 5 and all(np.all(np.isfinite(v)) for v in got)
        for i, name in enumerate(PARAM_NAMES):
            fd = _central_difference(params, name, 1e-5, x, tx, big_t)
            np.testing.assert_allclose(got[1 + i], fd, rtol=1e-5, atol=1e-8)


def test_pareto_integral_matches_adaptive_quadrature_over_many_customers():
    # log I: the series to 1e-10 (scipy's quad is the limit), quadrature rows to 1e-8
    x, tx, big_t = _pareto_rows()
    for params in PN_PATHS:
        ours = paretonbd.dropout_integral(*params.values(), x, tx, big_t)
        r, al, s, be = params.values()
        series = np.abs((al - be) / (al + tx)) <= paretonbd.SERIES_Z
        ref = []
        for xi, ti, bi in zip(x, tx, big_t, strict=True):
            scale = (r + xi) * math.log(al + ti) + (s + 1) * math.log(be + ti)

            def g(y, xi=xi, scale=scale, r=r, al=al, s=s, be=be):
                return math.exp(scale - (r + xi) * math.log(al + y) - (s + 1) * math.log(be + y))

            ref.append(math.log(quad(g, ti, bi, epsrel=1e-13, epsabs=0, limit=500)[0]) - scale)
        assert series.sum() > 30
        np.testing.assert_allclose(ours[series], np.array(ref)[series], rtol=0, atol=1e-10)
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-8)


def _far_rows():
    # (x, t_x, T) in weeks: 0 to 200 purchases, t_x near 0 and near T, short and long T
    rows = [
        (x, tx, t)
        for x in (0.0, 1.0, 5.0, 40.0, 200.0)
        for t in (2.0, 39.0)
        for tx in (0.0, 1e-6 * t, t - 1e-3, t * (1 - 1e-9))
    ]
    return (np.array(v) for v in zip(*rows, strict=True))


def _far_path(params, x, tx, big_t):
    # the rows dropout_integral sends to the series in powers of (alpha+y)/(beta-alpha)
    _, al, s, be = params.values()
    a_t = al + big_t
    spread = (s + 1) * np.log1p(2 * a_t / np.maximum(be - al - a_t, a_t))
    return (tx < big_t) & (2 * a_t <= be - al) & (spread <= paretonbd._FAR_SPREAD)


def _log_integral_by_quad(params, x, tx, big_t):
    r, al, s, be = params.values()
    out = []
    for xi, ti, bi in zip(x, tx, big_t, strict=True):
        scale = (r + xi) * math.log(al + ti) + (s + 1) * math.log(be + ti)

        def log_g(y, xi=xi, ti=ti):  # log of the integrand over its value at t_x
            w = y - ti
            return -(r + xi) * math.log1p(w / (al + ti)) - (s + 1) * math.log1p(w / (be + ti))

        def g(y, log_g=log_g):
            return math.exp(log_g(y))

        # where the integrand has fallen by e^-60, past which it adds nothing at 1e-13
        def drop(y, log_g=log_g):
            return log_g(y) + 60.0

        cut = bi if drop(bi) >= 0 else brentq(drop, ti, bi, xtol=1e-14 * bi)
        out.append(math.log(quad(g, ti, cut, epsrel=1e-13, epsabs=0, limit=500)[0]) - scale)
    return np.array(out)


FAR = [
    {"r": r, "alpha": al, "s": s, "beta": al * ratio}
    for al, ratio in ((0.5, 10.0), (10.0, 100.0), (10.0, 1e3), (10.0, 1e5), (10.0, 1e7))
    for s in (0.5, 2.0, 100.0, 1e4, 1e6)
    for r in (0.55, 1.0)  # r = 1: the term k = x integrates (alpha+y)^-1, a logarithm
]


def test_pareto_integral_with_beta_far_above_alpha_matches_adaptive_quadrature(monkeypatch):
    # beta/alpha 10 to 1e7, s 0.5 to 1e6 (the ridge of one common dropout rate): log I to
    # 1e-8 relative in I on every path, plus the rounding of log I itself (2^-52 |log I|)
    x, tx, big_t = _far_rows()
    quadrature, seen = paretonbd._quadrature, []
    monkeypatch.setattr(
        paretonbd, "_quadrature", lambda *a: seen.append(a[4].size) or quadrature(*a)
    )
    n_far = 0
    for params in FAR:
        seen.clear()
        open_ = tx < big_t
        ours = paretonbd.dropout_integral(*params.values(), x[open_], tx[open_], big_t[open_])
        far = _far_path(params, x[open_], tx[open_], big_t[open_])
        assert sum(seen) <= (~far).sum()  # (other rows may take the other series)
        # the series converges on all the rows sent to it
        rows = (v[open_][far] for v in (x, tx, big_t))
        assert np.isfinite(paretonbd._far_series(*params.values(), *rows, True)).all()
        n_far += far.sum()
        ref = _log_integral_by_quad(params, x[open_], tx[open_], big_t[open_])
        np.testing.assert_allclose(ours, ref, rtol=1e-15, atol=1e-8, err_msg=str(params))
    assert n_far > 1000  # of 2,000 rows (1,160 at the time of writing)


def test_pareto_far_series_derivatives_match_finite_differences():
    x, tx, big_t = _far_rows()
    open_ = tx < big_t
    x, tx, big_t = x[open_], tx[open_], big_t[open_]
    ridge = [
        {"r": 0.55, "alpha": 10.0, "s": 2.0, "beta": 177.0},
        {"r": 1.0, "alpha": 10.0, "s": 0.5, "beta": 1e4},
        {"r": 7.82, "alpha": 62.07, "s": 2.955e5, "beta": 1.897e7},  # bench_refresh's ridge
    ]
    for params in ridge:
        far = _far_path(params, x, tx, big_t)
        assert far.sum() >= 15
        got = paretonbd.dropout_integral(*params.values(), x[far], tx[far], big_t[far], grad=True)
        for i, name in enumerate(PARAM_NAMES):
            # a wider step: log I is about -5e6 on the last ridge, its rounding 1e-9
            fd = _central_difference(params, name, 1e-4, x[far], tx[far], big_t[far])
            scale = np.abs(got[1 + i]) + 1.0 / params[name]
            np.testing.assert_allclose(
                got[1 + i] / scale, fd / scale, rtol=0, atol=1e-5, err_msg=str(params)
            )


def test_gamma_gamma_and_bgbb_and_sbg_gradients():
    rng = np.random.default_rng(2)
    x = rng.integers(1, 8, 100).astype(float)
    m = rng.gamma(3, 10, 100)
    d = gammagamma.Data(x, m, np.ones(100))
    th = np.log([5.0, 3.0, 12.0])
    g = gammagamma.negll(th, d)[1]
    fd = [
        (gammagamma.negll(th + 1e-6 * e, d)[0] - gammagamma.negll(th - 1e-6 * e, d)[0]) / 2e-6
        for e in np.eye(3)
    ]
    np.testing.assert_allclose(g, fd, rtol=1e-5)
    lost, t, surv = np.array([300.0, 150, 90]), np.array([1.0, 2, 3]), 460.0
    th = np.log([0.7, 1.2])
    g = sbg.negll(th, lost, t, surv)[1]
    fd = [
        (sbg.negll(th + 1e-6 * e, lost, t, surv)[0] - sbg.negll(th - 1e-6 * e, lost, t, surv)[0])
        / 2e-6
        for e in np.eye(2)
    ]
    np.testing.assert_allclose(g, fd, rtol=1e-5)
    bb = bgbb.Data(
        np.array([0.0, 2, 3, 1]),
        np.array([0.0, 4, 3, 1]),
        np.array([6.0, 6, 6, 5]),
        np.array([10.0, 5, 3, 7]),
    )
    th = np.log([1.2, 0.7, 0.6, 2.5])
    g = bgbb.negll(th, bb)[1]
    fd = [
        (bgbb.negll(th + 1e-6 * e, bb)[0] - bgbb.negll(th - 1e-6 * e, bb)[0]) / 2e-6
        for e in np.eye(4)
    ]
    np.testing.assert_allclose(g, fd, rtol=1e-5)


def test_sbg_derl_equals_discounted_sum_of_survival():
    params = (0.704, 1.182)
    s = sbg.survival(params, np.arange(4000))
    for n in (0, 3):
        direct = sum(s[t] / s[n] / 1.1 ** (t - n - 1) for t in range(n + 1, 4000))
        assert sbg.derl(params, 0.1, n) == pytest.approx(direct, rel=1e-9)
    np.testing.assert_allclose(
        sbg.retention(params, [1, 2, 5]), s[[1, 2, 5]] / s[[0, 1, 4]], rtol=1e-12
    )
    np.testing.assert_allclose(
        sbg.churn_probability(params, [1, 2, 3]), -np.diff(s[:4]), rtol=1e-12
    )


def test_bgbb_conditional_expectation_equals_sum_over_future_opportunities():
    al, be, ga, de = 1.204, 0.750, 0.657, 2.783
    x, tx, n, h = 3, 4, 6, 5
    terms = [betaln(al + x, be + n - x) + betaln(ga, de + n)]
    terms += [betaln(al + x, be + tx - x + i) + betaln(ga + 1, de + tx + i) for i in range(n - tx)]
    lik = np.exp(np.logaddexp.reduce(terms) - betaln(al, be) - betaln(ga, de))
    future = sum(np.exp(betaln(ga, de + n + k) - betaln(ga, de)) for k in range(1, h + 1))
    want = np.exp(betaln(al + x + 1, be + n - x) - betaln(al, be)) / lik * future
    assert bgbb.conditional_expected((al, be, ga, de), h, x, tx, n) == pytest.approx(want)
    alive_next = (
        np.exp(
            betaln(al + x, be + n - x) + betaln(ga, de + n + 1) - betaln(al, be) - betaln(ga, de)
        )
        / lik
    )
    assert bgbb.p_alive((al, be, ga, de), x, tx, n) == pytest.approx(alive_next)


def test_compress_keeps_weights_and_maps_rows_back():
    cols = (np.array([1.0, 2, 1, 1]), np.array([5.0, 6, 5, 7]), np.array([9.0, 9, 9, 9]))
    comp = base.compress(cols, np.array([1.0, 2, 3, 4]))
    assert comp.n_rows == 3
    got = {tuple(c[i] for c in comp.columns): comp.weights[i] for i in range(3)}
    assert got == {(1, 5, 9): 4.0, (2, 6, 9): 2.0, (1, 7, 9): 4.0}
    for i in range(4):
        assert tuple(c[comp.inverse[i]] for c in comp.columns) == tuple(c[i] for c in cols)


def test_weights_equal_repeated_rows():
    x, tx, big_t = [0, 1, 2, 3, 0, 5], [0, 3, 8, 9, 0, 20], [10, 12, 30, 20, 25, 30]
    w = [3, 1, 2, 1, 4, 2]
    rep = np.repeat(np.arange(6), w)
    a = bgnbd.fit(x, tx, big_t, w)
    b = bgnbd.fit(np.take(x, rep), np.take(tx, rep), np.take(big_t, rep))
    assert a.log_likelihood == pytest.approx(b.log_likelihood, abs=1e-8)
    assert a.n_customers == 13


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: bgnbd.fit([0, 0, 0], [0, 0, 0], [5, 6, 7]), "no customer made a repeat purchase"),
        (lambda: bgnbd.fit([2], [3], [5]), "at least 2 customers"),
        (lambda: paretonbd.fit([1, 2], [6, 1], [5, 5]), "recency must be <= T; row 1"),
        (lambda: mbgnbd.fit([1, 0], [0, 0], [5, 5]), "recency must be > 0"),
        (lambda: gammagamma.fit([1, 2, 0], [0, -3, 5]), "at least 2 customers"),
        (lambda: gammagamma.fit([1, 2], [10, 10]), "same average spend"),
        (lambda: sbg.fit([100, 100, 100]), "nobody churned"),
        (lambda: sbg.fit([100, 80, 90]), "must not increase"),
        (lambda: bgbb.fit([3, 0], [2, 0], [6, 6]), "row 1"),
        (lambda: units.periodic_rate(0.1, "fortnights"), "time_unit must be one of"),
    ],
)
def test_degenerate_data_give_clear_messages(call, words):
    with pytest.raises(LtvxlError, match=words):
        call()


def test_gamma_gamma_counts_what_it_excludes():
    fit = gammagamma.fit([0, 1, 2, 3, 1, 4], [0, 10.0, -5, 30, 12, 18])
    assert fit.notes == (
        "1 customers without repeat purchases excluded",
        "1 customers with zero or negative spend excluded",
    )
    assert fit.n_customers == 4


def test_fit_that_cannot_converge_says_so_and_has_no_nan():
    # every customer buys at the same steady rate and nobody drops out: a, b are not identified
    x = np.full(50, 10.0)
    fit = bgnbd.fit(x, np.full(50, 29.5), np.full(50, 30.0))
    assert all(np.isfinite(v) for v in fit.params.values())
    assert not fit.converged
    assert fit.status.startswith("not converged") and "Remedies" in fit.status


def test_time_units_and_discounting():
    assert units.convert_time(1, "years", "weeks") == pytest.approx(365.25 / 7)
    assert units.convert_time(14, "days", "weeks") == pytest.approx(2)
    weekly = units.periodic_rate(0.1, "weeks")
    assert (1 + weekly) ** (365.25 / 7) == pytest.approx(1.1)
    assert units.periodic_rate(0.0, "days") == 0.0
    # one year in weeks is 12 monthly steps, the last ending at 52.18 weeks
    ends = clv.month_grid(1, "years", "weeks")
    assert ends.size == 12 and ends[-1] == pytest.approx(365.25 / 7)
    assert clv.month_grid(6, "weeks", "days")[-1] == pytest.approx(42)


def test_discounted_purchases_with_a_constant_rate():
    # 1 purchase a week for a year, discounted at 10 % a year month by month
    got, disc = clv.discounted_purchases(
        lambda t: np.array([t]),
        1,
        horizon_unit="years",
        time_unit="weeks",
        annual_discount_rate=0.1,
    )
    month = 365.25 / 12 / 7
    want = sum(month / 1.1 ** (k / 12) for k in range(1, 13))
    assert got[0] == pytest.approx(365.25 / 7)
    assert disc[0] == pytest.approx(want)


@pytest.mark.parametrize(
    ("name", "mod", "params"),
    [("bgnbd", bgnbd, BG), ("pnbd", paretonbd, PN), ("mbgnbd", mbgnbd, MB)],
)
def test_predict_sums_each_customers_conditional_expectation_by_month(name, mod, params):
    # predict evaluates the expectation given alive once per distinct (x, T): it must equal
    # each customer's own conditional expectation, month by month and discounted
    rng = np.random.default_rng(4)
    big_t = rng.integers(1, 60, 400).astype(float)
    x = rng.poisson(2, 400).astype(float)
    tx = np.where(x > 0, np.ceil(big_t * rng.uniform(0, 1, 400)), 0.0)
    summary = pd.DataFrame(
        {"frequency": x, "recency": tx, "T": big_t, "monetary_value": 10.0 * (x > 0)}
    )
    fit = base.FitResult(name, dict(params), {}, 0.0, 400, 400, True, "", 0, "weeks")
    got = clv.predict(
        summary,
        model=name,
        horizon=6,
        horizon_unit="months",
        annual_discount_rate=0.1,
        fits=clv.Fits(fit, None, clv.SPEND_FALLBACK),
    ).table
    ends = clv.month_grid(6, "months", "weeks")
    cum = [mod.conditional_expected(params, t, x, tx, big_t) for t in ends]
    steps = np.diff([np.zeros(400), *cum], axis=0)
    rate = units.periodic_rate(0.1, "weeks")
    disc = sum(step / (1 + rate) ** t for step, t in zip(steps, ends, strict=True))
    np.testing.assert_allclose(got["expected_purchases"], cum[-1], rtol=1e-12)
    np.testing.assert_allclose(got["clv"], disc * got["expected_spend"], rtol=1e-12)
    assert np.unique(np.c_[x, big_t], axis=0).shape[0] < 300  # pairs repeat


def test_churn_risk_bands():
    assert list(clv.churn_risk([0.05, 0.3, 0.69, 0.7, 1.0])) == [
        "high", "medium", "medium", "low", "low"]  # fmt: skip


def _mean_over_dropout(dist, big_t, t, scale, shape, weight=lambda p: 1.0):
    """E over p ~ dist of weight(p) (1/p) (1 - (scale/(scale + p t))^shape), by adaptive
    quadrature over the central mass of dist."""
    lo, hi = dist.ppf(1e-13), dist.ppf(1 - 1e-13)
    return quad(
        lambda p: -np.expm1(-shape * np.log1p(p * t / scale)) / p * weight(p) * dist.pdf(p),
        lo,
        hi,
        points=[dist.mean()],
        epsrel=1e-11,
        limit=200,
    )[0]


# a fit where hardly anyone drops out gives a and b in the hundreds of thousands (their
# ratio finite): in the closed form (1-z)^(a-1) underflows to 0 while 2F1 overflows, and
# their product was 0 x inf = NaN with "RuntimeWarning: invalid value encountered in
# multiply". Any such warning fails these tests.
CONCENTRATED = (7.477, 261.7, 441993.0, 4523586.0)


@pytest.mark.filterwarnings("error")
def test_expectations_with_a_concentrated_dropout_beta_are_right_and_warn_nothing():
    r, al, a, b = CONCENTRATED
    x = np.array([0.0, 1, 4, 30, 200])
    tx = np.array([0.0, 3, 100, 110, 120])
    big_t, t = np.full(5, 125.0), np.array([4.348, 52, 4.348, 1, 300])
    got_bg = bgnbd.conditional_expected(CONCENTRATED, t, x, tx, big_t)
    got_mbg = mbgnbd.conditional_expected(CONCENTRATED, t, x, tx, big_t)
    for i in range(5):
        s, k = al + big_t[i], r + x[i]
        want = _mean_over_dropout(beta_dist(a, b + x[i]), big_t[i], t[i], s, k)
        p_bg = bgnbd.p_alive(CONCENTRATED, x[i], tx[i], big_t[i])
        assert got_bg[i] == pytest.approx(want * p_bg, rel=1e-7)
        want = _mean_over_dropout(beta_dist(a, b + x[i] + 1), big_t[i], t[i], s, k)
        p_mbg = mbgnbd.p_alive(CONCENTRATED, x[i], tx[i], big_t[i])
        assert got_mbg[i] == pytest.approx(want * p_mbg, rel=1e-7)
    dist = beta_dist(a, b)
    assert bgnbd.expected(CONCENTRATED, 52.0) == pytest.approx(
        _mean_over_dropout(dist, 0.0, 52.0, al, r), rel=1e-7
    )
    assert mbgnbd.expected(CONCENTRATED, 52.0) == pytest.approx(
        _mean_over_dropout(dist, 0.0, 52.0, al, r, lambda p: 1.0 - p), rel=1e-7
    )


@pytest.mark.filterwarnings("error")
def test_closed_form_and_quadrature_agree_from_loose_to_concentrated_dropout():
    # across the switch from the 2F1 closed form to quadrature, without any warning
    r, al, x, tx, big_t, t = 0.9, 8.8, 3.0, 20.0, 40.0, 52.0
    for a in (0.5, 3.0, 300.0, 3e4, 3e6):
        b = 4.0 * a
        got = bgnbd.conditional_expected((r, al, a, b), t, x, tx, big_t)
        want = _mean_over_dropout(beta_dist(a, b + x), big_t, t, al + big_t, r + x)
        assert got == pytest.approx(want * bgnbd.p_alive((r, al, a, b), x, tx, big_t), rel=1e-7)


def test_compress_groups_exactly_when_hashes_collide(monkeypatch):
    cols = (np.array([1.0, 2, 1, 1, -0.0]), np.array([5.0, 6, 5, 7, 0.0]))
    monkeypatch.setattr(base, "_hashed_rows", lambda c: np.zeros(c[0].size, dtype=np.int64))
    comp = base.compress(cols)
    assert comp.n_rows == 4
    got = {tuple(c[i] for c in comp.columns): comp.weights[i] for i in range(4)}
    assert got == {(1, 5): 2.0, (2, 6): 1.0, (1, 7): 1.0, (0, 0): 1.0}
    for i in range(5):
        assert tuple(c[comp.inverse[i]] for c in comp.columns) == tuple(c[i] for c in cols)


def test_paretonbd_common_rate_integral_against_adaptive_quadrature():
    """The dropout integral of one common dropout rate (s, beta -> infinity, s/beta = mu),
    series and quadrature paths, against scipy's adaptive integration; its derivatives
    against central differences; the limit's likelihood gradient likewise."""
    rng = np.random.default_rng(7)
    paths = {"series": 0, "quadrature": 0}
    for _ in range(200):
        r, alpha, mu = np.exp(rng.uniform([-2, -2, -7], [3, 5, 1]))
        x = float(rng.integers(0, 60))
        big_t = float(rng.uniform(0.1, 200))
        tx = 0.0 if x == 0 else float(rng.uniform(0, 0.999 * big_t))
        p, a_tx = r + x, alpha + tx
        ref = quad(lambda y, p=p, alpha=alpha, a_tx=a_tx, mu=mu, tx=tx: math.exp(
            -p * math.log((alpha + y) / a_tx) - mu * (y - tx)),
            tx, big_t, epsrel=1e-13, epsabs=0, limit=500)[0]
        ref = math.log(ref) - p * math.log(a_tx) - mu * tx
        got = paretonbd.common_integral(r, alpha, mu, [x], [tx], [big_t], grad=True)
        paths["series" if 2 * mu * (alpha + big_t) <= 7 else "quadrature"] += 1
        assert got[0][0] == pytest.approx(ref, rel=1e-11, abs=1e-11)
        for i, v in enumerate((r, alpha, mu)):
            up, dn = [r, alpha, mu], [r, alpha, mu]
            up[i], dn[i] = v * (1 + 1e-6), v * (1 - 1e-6)
            fd = (paretonbd.common_integral(*up, [x], [tx], [big_t])[0]
                  - paretonbd.common_integral(*dn, [x], [tx], [big_t])[0]) / (2e-6 * v)
            assert got[i + 1][0] == pytest.approx(fd, rel=1e-5, abs=1e-7)
    assert min(paths.values()) > 30, paths
    data = sim.paretonbd(0.8, 8.0, 1e7, 1e7 / 0.05, np.linspace(5, 52, 500), seed=3)
    d = paretonbd.Data(*(data[c].to_numpy(float) for c in ("frequency", "recency", "T")),
                       np.ones(len(data)))
    theta = np.log([0.7, 9.0, 0.04])
    g = paretonbd.common_negll(theta, d)[1]
    for i in range(3):
        e = np.zeros(3)
        e[i] = 1e-6
        fd = (paretonbd.common_negll(theta + e, d)[0] - paretonbd.common_negll(theta - e, d)[0])
        assert g[i] == pytest.approx(fd / 2e-6, rel=1e-5, abs=1e-5)


def test_paretonbd_negll_value_is_negll_without_its_gradient():
    data = sim.paretonbd(0.8, 8.0, 2.0, 40.0, np.linspace(5, 52, 800), seed=4)
    d = paretonbd.Data(*(data[c].to_numpy(float) for c in ("frequency", "recency", "T")),
                       np.ones(len(data)))
    for params in ([0.8, 8.0, 2.0, 40.0], [0.5, 3.0, 100.0, 2000.0], [2.0, 20.0, 1e4, 2e5]):
        theta = np.log(params)
        assert paretonbd.negll_value(theta, d) == pytest.approx(
            paretonbd.negll(theta, d)[0], rel=1e-13)
