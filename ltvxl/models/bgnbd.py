"""The BG/NBD model (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way").

While alive a customer buys as a Poisson process of rate lambda ~ Gamma(r,
alpha); after each purchase she drops out with probability p ~ Beta(a, b).
Data per customer: frequency x (repeat purchases), recency t_x (time of the
last purchase, counted from the first) and T (time since the first purchase),
all in one time unit (days, weeks or months); alpha is in that unit and every
time argument t below is in it too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import betainc, digamma, expit, gammaln, hyp2f1

from ltvxl.units import DEFAULT_UNIT

from .base import FitResult, ParamsLike, beta_expectation, dot, fit_rfm, params_of, rfm_start
from .registry import BGNBD
from .special import around_one, log_beta_ratio, log_nb_pmf

NAME = BGNBD.name
PARAMS = BGNBD.params


class Data:
    """Compressed rows, split into customers without (x = 0) and with repeat purchases,
    plus the distinct frequencies (special functions of x are evaluated once per
    distinct x and weighted by the customers having it)."""

    def __init__(self, x, tx, big_t, w):
        self.x, self.tx, self.big_t, self.w = x, tx, big_t, w
        self.n = float(w.sum())
        self.ux, self.wx = distinct_weights(x, w)
        self.pos = x > 0
        # integer indices: np.take is several times faster than boolean masks here
        i0, i1 = np.flatnonzero(~self.pos), np.flatnonzero(self.pos)
        self.zero = (x.take(i0), tx.take(i0), big_t.take(i0), w.take(i0), np.zeros(i0.size))
        xp, wp = x.take(i1), w.take(i1)
        self.xp, self.txp, self.big_tp, self.wp = xp, tx.take(i1), big_t.take(i1), wp
        self.rows = (xp, self.txp, self.big_tp, wp, wp * xp)


def distinct_weights(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of ``x`` and the summed weight of each (whole numbers by counting)."""
    if x.size and x.min() >= 0.0 and x.max() < 1e6:
        ints = x.astype(np.intp)
        if np.array_equal(ints, x):
            total = np.bincount(ints, weights=w)
            ux = np.flatnonzero(np.bincount(ints))
            return ux.astype(float), total[ux]
    ux, inv = np.unique(x, return_inverse=True)
    return ux, np.bincount(inv, weights=w, minlength=ux.size)


def _mixture(r, alpha, log_a, b_x, rows) -> tuple[float, float, float, float, float]:
    """Sum over ``rows`` (x, t_x, T, w, w x) of w log[(alpha+T)^-(r+x) + e^log_a / b_x
    (alpha+t_x)^-(r+x)] and its derivatives in r, alpha, a (times a) and b.

    The bracket is (alpha+T)^-(r+x) (1 + e^v) with v = log(a / b_x) + (r+x)
    log((alpha+T)/(alpha+t_x)); log(1 + e^v) and e^v / (1 + e^v) share one
    exponential, e^-|v|.
    """
    x, tx, big_t, w, wx = rows
    if not x.size:
        return 0.0, 0.0, 0.0, 0.0, 0.0
    inv_t = alpha + big_t
    inv_tx = alpha + tx
    l_t = np.log(inv_t)
    diff = l_t - np.log(inv_tx)
    rx = r + x
    v = rx * diff
    v += log_a
    v -= np.log(b_x)
    e = np.abs(v)
    np.negative(e, out=e)
    np.exp(e, out=e)
    soft = np.log1p(e)
    soft += np.maximum(v, 0.0)
    # e^v / (1 + e^v) = [1 if v >= 0 else e^-|v|] / (1 + e^-|v|); maximum() avoids a
    # branchy where()
    ws = np.maximum(e, v >= 0.0)
    e += 1.0
    ws /= e
    ws *= w
    np.reciprocal(inv_t, out=inv_t)
    np.reciprocal(inv_tx, out=inv_tx)
    w_lt, wx_lt = dot(w, l_t), dot(wx, l_t)
    ll = dot(w, soft) - r * w_lt - wx_lt
    g_r = dot(ws, diff) - w_lt
    inv_tx -= inv_t
    rx *= ws
    g_alpha = -dot(rx, inv_tx) - r * dot(w, inv_t) - dot(wx, inv_t)
    return ll, g_r, g_alpha, float(ws.sum()), -dot(ws, 1.0 / b_x)


def negll_shifted(theta: np.ndarray, d: Data, shift: int) -> tuple[float, np.ndarray]:
    """Negative log-likelihood and gradient in log-parameters of BG/NBD (``shift`` 0) and
    MBG/NBD (``shift`` 1, where a customer may also drop out at her first purchase).

    log L = log G(r+x) - log G(r) + r log(alpha) + log B(a, b+x+shift) - log B(a, b)
    + log[(alpha+T)^-(r+x) + D a/(b+x+shift-1) (alpha+t_x)^-(r+x)], with D = 1{x>0}
    for BG/NBD and 1 for MBG/NBD; the bracket as in :func:`_mixture`.
    """
    r, alpha, a, b = np.exp(theta)
    ux, wx, n = d.ux, d.wx, d.n
    # terms depending on x only, summed over distinct x
    ll = dot(wx, gammaln(r + ux) + gammaln(b + ux + shift) - gammaln(a + b + ux + shift))
    ll += n * (-gammaln(r) + r * np.log(alpha) + gammaln(a + b) - gammaln(b))
    g_r = dot(wx, digamma(r + ux)) - n * (digamma(r) - np.log(alpha))
    g_a = n * digamma(a + b) - dot(wx, digamma(a + b + ux + shift))
    g_b = g_a + dot(wx, digamma(b + ux + shift)) - n * digamma(b)
    g_alpha = n * r / alpha
    log_a = np.log(a)
    parts = [d.rows, d.zero] if shift else [d.rows]
    for rows in parts:
        m = _mixture(r, alpha, log_a, b + rows[0] + (shift - 1.0), rows)
        ll, g_r, g_alpha, g_a, g_b = (
            ll + m[0],
            g_r + m[1],
            g_alpha + m[2],
            g_a + m[3] / a,
            g_b + m[4],
        )
    if not shift:  # customers without repeat purchases: alive for sure, (alpha+T)^-r
        _, _, big_t0, w0, _ = d.zero
        l_t0 = np.log(alpha + big_t0)
        ll -= r * dot(w0, l_t0)
        g_r -= dot(w0, l_t0)
        g_alpha -= r * dot(w0, 1.0 / (alpha + big_t0))
    grad = np.array([g_r * r, g_alpha * alpha, g_a * a, g_b * b])
    return -float(ll), -grad


def negll(theta: np.ndarray, d: Data) -> tuple[float, np.ndarray]:
    """Weighted negative log-likelihood and its gradient in log-parameters.

    log L = log G(r+x) - log G(r) + r log(alpha) + log B(a, b+x) - log B(a, b)
    + log[(alpha+T)^-(r+x) + 1{x>0} a/(b+x-1) (alpha+t_x)^-(r+x)], the bracket
    by log-sum-exp.
    """
    return negll_shifted(theta, d, 0)


def start(comp):
    """Starting (r, alpha, a, b) of the BG/NBD family from the compressed rows."""
    return (*rfm_start(comp), 0.5, 1.0)


def fit(
    frequency: Any, recency: Any, T: Any, weights: Any = None, *, time_unit: str = DEFAULT_UNIT
) -> FitResult:
    """Fit BG/NBD by maximum likelihood.

    frequency, recency, T: per customer (recency and T in ``time_unit``);
    weights: optional number of customers each row stands for. Identical rows
    are compressed before fitting.
    """
    return fit_rfm(
        NAME, PARAMS, negll, Data, start, frequency, recency, T, weights, time_unit,
        no_dropout="a",
    )  # fmt: skip


def p_alive(params: ParamsLike, frequency: Any, recency: Any, T: Any) -> np.ndarray:
    """Probability that a customer with history (x, t_x, T) is still alive at T."""
    r, alpha, a, b = params_of(params, PARAMS)
    x, tx, big_t = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    pos = x > 0
    bx1 = np.where(pos, b + x - 1.0, 1.0)
    with np.errstate(divide="ignore"):  # a = 0 (no dropout, the NBD limit): P(alive) = 1
        z = np.log(a) - np.log(bx1) + (r + x) * (np.log(alpha + big_t) - np.log(alpha + tx))
    return np.where(pos, expit(-z), 1.0)


def expected(params: ParamsLike, t: Any) -> np.ndarray:
    """Expected purchases in (0, t] of a customer just acquired (t in the data's unit)."""
    r, alpha, a, b = params_of(params, PARAMS)
    t = np.asarray(t, dtype=float)
    z = t / (alpha + t)
    return around_one(
        a, lambda a: dropout_mean(a + b - 1.0, a + b - 1.0 - r, a + b - 1.0, a, z, b, t, alpha, r)
    )


def dropout_mean(
    factor, hyp_a, hyp_c, a, z, b_post, t, scale, shape, minus_p: bool = False
) -> np.ndarray:
    """factor/(a-1) [1 - (1-z)^(a-1) 2F1(hyp_a, a-1; hyp_c; z)]: the expected purchases in
    a window of length t of the BG/NBD family, E over the dropout p ~ Beta(a, b_post) of
    w(p) (1/p) (1 - (scale/(scale + p t))^shape), w(p) = 1, or 1 - p with ``minus_p``.

    Three ways, each used where it is accurate (NaN where none is, for the caller
    to report):

    - the power series in u = t/scale (:func:`_series_mean`), where it converges
      fast without cancellation: small u, or a large b_post (a dropout
      probability near 0, where the closed form is 1 minus nearly 1);
    - the closed form, Euler's transformation of the papers' (1-z)^shape 2F1(...),
      its tail (1-z)^(a-1) 2F1 formed in logarithms, used where 1 minus the tail
      keeps 8 significant digits;
    - where 2F1 is not a finite positive number (a and b both very large), the
      expectation by quadrature over p (:func:`_fallback`).
    """
    u = np.asarray(t, dtype=float) / scale
    series = _series_mean(a, b_post, u, shape, minus_p)
    with np.errstate(all="ignore"):
        h = np.asarray(hyp2f1(hyp_a, a - 1.0, hyp_c, z), dtype=float)
        finite = np.isfinite(h) & (h != 0.0)
        l_power = (a - 1.0) * np.log1p(-z)
        l_h = np.log(np.abs(np.where(finite, h, 1.0)))
        log_tail = np.minimum(l_power + l_h, 700.0)
        # 1 - (1-z)^(a-1) 2F1: 1 - e^L when 2F1 > 0, 1 + e^L when 2F1 < 0 (no cancellation)
        bracket = np.where(h > 0.0, -np.expm1(log_tail), 1.0 + np.exp(log_tail))
        # rounding in the tail (2F1 to ~1e-15 relative) over the bracket it is subtracted from
        err = 1e-15 * (1.0 + np.abs(l_power) + np.abs(l_h)) * np.exp(log_tail) / np.abs(bracket)
        # scipy's 2F1 loses digits as z -> 1: beyond t/scale = 1e6 the closed form is not used
        good = finite & (l_power + l_h < 700.0) & (err < 1e-9) & (u <= CLOSED_FORM_MAX_U)
        closed = np.where(good, factor / (a - 1.0) * bracket, np.nan)
    # quadrature only where 2F1 failed and the Beta of p is concentrated enough for it
    concentrated = ~finite & (np.minimum(a, b_post) >= QUADRATURE_FROM)
    out = np.where(
        np.isfinite(series),
        series,
        np.where(np.isfinite(closed), closed, np.where(concentrated, np.inf, np.nan)),
    )
    weight = (lambda p: 1.0 - p) if minus_p else None
    return _fallback(out, a, b_post, t, scale, shape, weight)


CLOSED_FORM_MAX_U = 1e6
"""Largest t/scale for which the closed form with 2F1 is trusted (tested against mpmath)."""
QUADRATURE_FROM = 20.0
"""Smallest a and b_post for which the quadrature over p (:func:`_fallback`) is used."""
SERIES_TERMS = 60


def _series_mean(a, b_post, u, shape, minus_p: bool) -> np.ndarray:
    """E[w(p) (1/p) (1 - (1 + p u)^-shape)] for p ~ Beta(a, b_post) as the series
    sum_j (-1)^j (shape)_(j+1) / (j+1)! u^(j+1) E[w(p) p^j], E[p^j] = (a)_j / (a+b_post)_j
    (with w = 1 - p one more factor b_post / (a + b_post + j)); NaN where 60 terms do not
    converge to 1e-16 or the terms cancel (more than a factor 8 above the sum)."""
    a, b_post, u, k = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (a, b_post, u, shape))
    )
    ab = a + b_post
    with np.errstate(all="ignore"):
        term = k * u * (b_post / ab if minus_p else 1.0)
        total = term.copy()
        size = np.abs(term)
        for j in range(SERIES_TERMS):
            ratio = -u * (k + j + 1.0) / (j + 2.0) * (a + j) / (ab + j)
            if minus_p:
                ratio = ratio * (ab + j) / (ab + j + 1.0)
            term = term * ratio
            total = total + term
            size = size + np.abs(term)
        ok = np.isfinite(total) & (np.abs(term) <= 1e-16 * np.abs(total)) & (size <= 8 * total)
    return np.where(ok | (u == 0), np.where(u == 0, 0.0, total), np.nan)


def _fallback(out, a, b_post, t, scale, shape, weight=None) -> np.ndarray:
    """Where the closed form is not finite (a and b very large), E over p ~ Beta(a, b_post)
    of weight(p) (1/p) (1 - (scale/(scale + p t))^shape) by quadrature (weight 1 if None)."""
    bad = np.isinf(out)
    if not bad.any():
        return out
    out = np.array(out, dtype=float)
    t_b, s_b, k_b, bp = (
        np.broadcast_to(np.asarray(v, dtype=float), out.shape)[bad].reshape(-1, 1)
        for v in (t, scale, shape, b_post)
    )

    def g(p):
        value = -np.expm1(-k_b * np.log1p(p * t_b / s_b)) / p
        return value if weight is None else value * weight(p)

    out[bad] = beta_expectation(g, np.full(bp.shape, a), bp)
    return out


def conditional_mean(
    params: tuple[float, ...], t: Any, frequency: Any, T: Any, shift: int
) -> np.ndarray:
    """Expected purchases in (T, T + t] of a customer with x repeat purchases who is alive
    at T, for BG/NBD (``shift`` 0) and MBG/NBD (``shift`` 1).

    Given the history, p ~ Beta(a, b+x+shift) and lambda ~ Gamma(r+x, alpha+T):
    c/(a-1) [1 - (1-z)^(r+x) 2F1(r+x, b+x+shift; c; z)] with c = a+b+x+shift-1 and
    z = t/(alpha+T+t), evaluated by :func:`dropout_mean`.
    """
    r, alpha, a, b = params
    t, x = np.asarray(t, dtype=float), np.asarray(frequency, dtype=float)
    big_t = np.asarray(T, dtype=float)
    z = t / (alpha + big_t + t)

    def mean(a: float) -> np.ndarray:
        c = a + b + x + (shift - 1.0)
        return dropout_mean(
            c, a + b + (shift - 1.0) - r, c, a, z, b + x + shift, t, alpha + big_t, r + x
        )

    return around_one(a, mean)


def alive_expected(params: ParamsLike, t: Any, frequency: Any, T: Any) -> np.ndarray:
    """Expected purchases in (T, T + t] of a customer with x repeat purchases who is alive
    at T (t and T in the data's unit); times :func:`p_alive`, the conditional expectation.
    It does not depend on recency, so it can be evaluated once per distinct (x, T)."""
    return conditional_mean(params_of(params, PARAMS), t, frequency, T, 0)


def conditional_expected(
    params: ParamsLike, t: Any, frequency: Any, recency: Any, T: Any
) -> np.ndarray:
    """Expected purchases in (T, T + t] of a customer with history (x, t_x, T)."""
    values = params_of(params, PARAMS)
    return alive_expected(values, t, frequency, T) * p_alive(values, frequency, recency, T)


def prob_purchases(params: ParamsLike, n: Any, t: Any) -> np.ndarray:
    """P(X(t) = n): probability that a new customer makes n purchases in (0, t].

    B(a, b+n)/B(a, b) NB(n; r, alpha, t) + [n > 0] B(a+1, b+n-1)/B(a, b) I(n, r; t/(alpha+t)),
    the beta ratios and the negative binomial in forms that keep their digits for
    parameters up to 1e300 (:mod:`ltvxl.models.special`).
    """
    r, alpha, a, b = params_of(params, PARAMS)
    n, t = np.asarray(n, dtype=float), np.asarray(t, dtype=float)
    with np.errstate(all="ignore"):
        first = np.exp(log_beta_ratio(a, b, n) + log_nb_pmf(r, alpha, n, t))
        first = np.where((t > 0) | (n == 0), first, 0.0)
        pos = n > 0
        n1 = np.where(pos, n, 1.0)
        lead = np.log(a / (a + b)) + log_beta_ratio(a + 1.0, b, n1 - 1.0)
        second = np.exp(lead) * betainc(n1, r, t / (alpha + t))
    return first + np.where(pos, second, 0.0)
