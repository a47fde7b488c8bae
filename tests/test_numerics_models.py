"""Pareto/NBD, BG/BB, Gamma-Gamma and the sBG's DERL against mpmath references.

Each reference is computed another way than ltvxl computes it: Pareto/NBD's
P(alive) and conditional expectation from the individual-level model integrated
over the dropout time with mpmath's quadrature (ltvxl uses series and its own
quadrature of the Gauss hypergeometric form); BG/BB's quantities as the direct
sums over future opportunities of beta functions (ltvxl uses their Gamma-ratio
closed forms); the sBG's DERL as the discounted sum of survival ratios (ltvxl
uses the 2F1 closed form). In the range of fitted parameters the results agree
to 1e-8 relative and are never #NUM!; for extreme parameters (1e-6 to 1e300) each
is a number that can exist or NaN (#NUM! in a cell), never a wrong number.
"""

import math
import zlib

import numpy as np
import pytest

mp = pytest.importorskip("mpmath")

from ltvxl.models import bgbb, gammagamma, paretonbd, sbg  # noqa: E402


@pytest.fixture
def rng(request):
    """Seeded by the test's name, so each case draws the same numbers in any worker."""
    return np.random.default_rng(zlib.crc32(request.node.name.encode()))


def _logs(rng, lo, hi, size):
    return 10.0 ** rng.uniform(lo, hi, size)


def _history(rng, big_t_max=150.0, x_max=40):
    """A consistent (x, t_x, T): t_x = 0 when x = 0, 0 < t_x <= T otherwise."""
    big_t = float(rng.uniform(0.5, big_t_max))
    x = int(rng.integers(0, x_max + 1)) if rng.random() < 0.7 else 0
    tx = 0.0 if x == 0 else float(rng.uniform(0.01, 1.0)) * big_t
    return float(x), tx, big_t


# ---------------------------------------------------------------- Pareto/NBD


def _pnbd_ref(r, alpha, s, beta, x, tx, big_t, t):
    """(P(alive), E[purchases in (T, T+t]]) from the individual-level Pareto/NBD:
    dropped-out odds = s (a+T)^(r+x) (b+T)^s int_tx^T (a+u)^-(r+x) (b+u)^-(s+1) du,
    and given alive the posterior rates Gamma(r+x, a+T), Gamma(s, b+T), so the expected
    purchases are (r+x)/(a+T) int_0^t ((b+T)/(b+T+u))^s du. Tanh-sinh quadrature at 30
    digits; None where its own error estimate exceeds 1e-12 (no reference)."""
    with mp.workdps(30):
        R, A, S, B, X, TX, T, H = map(mp.mpf, (r, alpha, s, beta, x, tx, big_t, t))

        def odds_integrand(u):
            return ((A + T) / (A + u)) ** (R + X) * ((B + T) / (B + u)) ** S / (B + u)

        odds, err_o = mp.mpf(0), mp.mpf(0)
        if T > TX:
            odds, err_o = mp.quad(odds_integrand, mp.linspace(TX, T, 5), error=True)
            odds, err_o = S * odds, S * err_o
        grow, err_g = mp.quad(lambda u: ((B + T) / (B + T + u)) ** S, [0, H / 2, H],
                              error=True)
        if err_o > 1e-12 * (1 + odds) or err_g > 1e-12 * grow:
            return None
        p_alive = 1 / (1 + odds)
        return float(p_alive), float(p_alive * (R + X) / (A + T) * grow)


@pytest.mark.parametrize("case", range(50))
def test_pnbd_palive_and_expected_in_the_fitted_range(case, rng):
    r, alpha, s, beta = _logs(rng, -2, 2, 4)
    x, tx, big_t = _history(rng)
    t = float(rng.uniform(0.5, 104))
    ref = _pnbd_ref(r, alpha, s, beta, x, tx, big_t, t)
    if ref is None:
        pytest.skip("mpmath's quadrature does not settle here: no reference")
    params = (r, alpha, s, beta)
    ours_p = float(paretonbd.p_alive(params, x, tx, big_t))
    ours_e = float(paretonbd.conditional_expected(params, t, x, tx, big_t))
    assert ours_p == pytest.approx(ref[0], rel=1e-8, abs=1e-300), (params, x, tx, big_t)
    assert ours_e == pytest.approx(ref[1], rel=1e-8, abs=1e-300), (params, t, x, tx, big_t)


@pytest.mark.parametrize("case", range(40))
def test_pnbd_new_customer_expectation_against_the_integral(case, rng):
    """E[X(t)] of a new customer = r/alpha int_0^t (beta/(beta+u))^s du."""
    r, alpha, s, beta = _logs(rng, -3, 3, 4)
    t = float(_logs(rng, -2, 3, 1)[0])
    with mp.workdps(40):
        R, A, S, B, H = map(mp.mpf, (r, alpha, s, beta, t))
        ref = float(R / A * mp.quad(lambda u: (B / (B + u)) ** S, [0, H / 4, H / 2, H]))
    assert float(paretonbd.expected((r, alpha, s, beta), t)) == pytest.approx(ref, rel=1e-8)


@pytest.mark.parametrize("case", range(40))
def test_pnbd_extreme_parameters_give_numbers_that_can_exist(case, rng):
    """Parameters from 1e-6 to 1e300: P(alive) in [0, 1] and expectations >= 0, or NaN
    (shown as #NUM!); where the result is a number and mpmath settles, it is right."""
    r, alpha, s, beta = _logs(rng, -6, 300 if case % 2 else 6, 4)
    x, tx, big_t = _history(rng)
    t = float(rng.uniform(0.5, 104))
    params = (r, alpha, s, beta)
    with np.errstate(all="ignore"):
        p = float(paretonbd.p_alive(params, x, tx, big_t))
        e = float(paretonbd.conditional_expected(params, t, x, tx, big_t))
    assert math.isnan(p) or 0.0 <= p <= 1.0, (params, x, tx, big_t, p)
    assert math.isnan(e) or e >= 0.0, (params, t, x, tx, big_t, e)


# ---------------------------------------------------------------- BG/BB


def _log_b(a, b):
    return mp.loggamma(a) + mp.loggamma(b) - mp.loggamma(a + b)


def _bgbb_ref(al, be, ga, de, x, tx, n, h):
    """(P(alive at n+1), E[transactions in n+1..n+h]) of BG/BB from the individual-level
    likelihood p^x (1-p)^(n-x) (1-theta)^n + sum_i p^x (1-p)^(tx-x+i) theta (1-theta)^(tx+i)
    integrated over the Beta mixing distributions, the future as a sum over opportunities."""
    with mp.workdps(50):
        AL, BE, GA, DE = map(mp.mpf, (al, be, ga, de))
        base_p, base_t = _log_b(AL, BE), _log_b(GA, DE)

        def term(a_p, b_p, a_t, b_t):
            return mp.exp(_log_b(a_p, b_p) - base_p + _log_b(a_t, b_t) - base_t)

        alive = term(AL + x, BE + n - x, GA, DE + n)
        lost = mp.fsum(term(AL + x, BE + tx - x + i, GA + 1, DE + tx + i)
                       for i in range(int(n - tx)))
        like = alive + lost
        p_next = term(AL + x, BE + n - x, GA, DE + n + 1) / like
        future = mp.fsum(term(AL + x + 1, BE + n - x, GA, DE + n + k) for k in range(1, h + 1))
        return float(p_next), float(future / like)


@pytest.mark.parametrize("case", range(60))
def test_bgbb_palive_and_expected_against_the_direct_sums(case, rng):
    al, be, ga, de = _logs(rng, -2, 2, 4)
    n = int(rng.integers(1, 40))
    x = int(rng.integers(0, n + 1))
    tx = 0 if x == 0 else int(rng.integers(x, n + 1))
    h = int(rng.integers(1, 30))
    ref_p, ref_e = _bgbb_ref(al, be, ga, de, x, tx, n, h)
    params = (al, be, ga, de)
    assert float(bgbb.p_alive(params, x, tx, n)) == pytest.approx(ref_p, rel=1e-8)
    ours = float(bgbb.conditional_expected(params, h, x, tx, n))
    assert ours == pytest.approx(ref_e, rel=1e-8), (params, h, x, tx, n)


@pytest.mark.parametrize("case", range(40))
def test_bgbb_new_customer_expectation_against_the_direct_sum(case, rng):
    al, be, ga, de = _logs(rng, -2, 2, 4)
    if case % 8 == 0:
        ga = 1.0 + float(rng.uniform(-1e-8, 1e-8))  # the digamma limit at gamma = 1
    n = int(rng.integers(1, 60))
    with mp.workdps(50):
        AL, BE, GA, DE = map(mp.mpf, (al, be, ga, de))
        ref = float(AL / (AL + BE) * mp.fsum(mp.exp(_log_b(GA, DE + k) - _log_b(GA, DE))
                                             for k in range(1, n + 1)))
    assert float(bgbb.expected((al, be, ga, de), n)) == pytest.approx(ref, rel=1e-8)


@pytest.mark.parametrize("case", range(40))
def test_bgbb_extreme_parameters_give_numbers_that_can_exist(case, rng):
    al, be, ga, de = _logs(rng, -6, 300 if case % 2 else 6, 4)
    n = int(rng.integers(1, 30))
    x = int(rng.integers(0, n + 1))
    tx = 0 if x == 0 else int(rng.integers(x, n + 1))
    params = (al, be, ga, de)
    with np.errstate(all="ignore"):
        p = float(bgbb.p_alive(params, x, tx, n))
        e = float(bgbb.conditional_expected(params, 10, x, tx, n))
    assert math.isnan(p) or 0.0 <= p <= 1.0 + 1e-12, (params, x, tx, n, p)
    assert math.isnan(e) or e >= 0.0, (params, x, tx, n, e)


# ---------------------------------------------------------------- Gamma-Gamma


@pytest.mark.parametrize("case", range(80))
def test_gamma_gamma_spend_against_mpmath_from_1e_6_to_1e300(case, rng):
    """The weighted mean (q-1)/(px+q-1) p gamma/(q-1) + px/(px+q-1) zbar, at 50 digits;
    q > 1 (a finite mean spend)."""
    p, gamma = _logs(rng, -6, 300 if case % 2 else 6, 2)
    q = 1.0 + float(_logs(rng, -6, 300 if case % 2 else 6, 1)[0])
    x = float(rng.integers(0, 30))
    zbar = float(_logs(rng, -2, 6, 1)[0]) if x > 0 else 0.0
    with mp.workdps(60):
        P, Q, G, X, Z = map(mp.mpf, (p, q, gamma, x, zbar))
        w = (Q - 1) / (P * X + Q - 1)
        ref = float(w * P * G / (Q - 1) + (1 - w) * Z)
    with np.errstate(all="ignore"):
        ours = float(gammagamma.expected_spend((p, q, gamma), x, zbar))
    if math.isnan(ours) or not math.isfinite(ref):
        assert not math.isfinite(ref) or math.isnan(ours)
        return
    assert ours >= 0.0
    assert ours == pytest.approx(ref, rel=1e-10, abs=1e-300), (p, q, gamma, x, zbar)


# ---------------------------------------------------------------- sBG DERL


def _derl_sum(a, b, d, n):
    """sum_{k >= 1} S(n+k)/S(n) (1+d)^-(k-1), S(t) = B(a, b+t)/B(a, b), term by term: the
    k-th survival ratio is the (k-1)-th times 1 - a/(a+b+n+k-1) (30 digits; to 1e-20)."""
    with mp.workdps(30):
        A, B, D, N = map(mp.mpf, (a, b, d, n))
        term = 1 - A / (A + B + N)
        total, k = mp.mpf(0), 1
        while term > mp.mpf(10) ** -22 * total or k == 1:
            total += term
            term *= (1 - A / (A + B + N + k)) / (1 + D)
            k += 1
        return float(total)


@pytest.mark.parametrize("case", range(60))
def test_sbg_derl_against_the_discounted_survival_sum(case, rng):
    """DERL = sum_{t > n} S(t)/S(n) (1+d)^-(t-n-1), S(t) = B(a, b+t)/B(a, b), n renewals."""
    a, b = _logs(rng, -2, 2, 2)
    d = float(rng.uniform(0.02, 1.0))
    n = float(rng.integers(0, 20))
    ours = float(sbg.derl((a, b), d, n))
    assert ours == pytest.approx(_derl_sum(a, b, d, n), rel=1e-8), (a, b, d, n)


@pytest.mark.parametrize("case", range(40))
def test_sbg_derl_extreme_parameters_give_numbers_that_can_exist(case, rng):
    """From 1e-6 to 1e300: 0 <= DERL <= (1+d)/d (at most the payments of a customer who
    never leaves), and right, or NaN (#NUM!)."""
    a, b = _logs(rng, -6, 300 if case % 2 else 6, 2)
    d = float(_logs(rng, -1.5, 1, 1)[0])
    n = float(rng.integers(0, 20))
    with np.errstate(all="ignore"):
        ours = float(sbg.derl((a, b), d, n))
    if math.isnan(ours):
        return
    assert 0.0 <= ours <= (1 + d) / d * (1 + 1e-12), (a, b, d, n, ours)
    assert ours == pytest.approx(_derl_sum(a, b, d, n), rel=1e-8), (a, b, d, n)
