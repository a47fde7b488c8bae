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

from .base import FitResult, ParamsLike, beta_expectation, dot, fit_rfm, params_of, rfm_start

NAME = "BG/NBD"
PARAMS = ("r", "alpha", "a", "b")


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


def _start(comp):
    return (*rfm_start(comp), 0.5, 1.0)


def fit(
    frequency: Any, recency: Any, T: Any, weights: Any = None, *, time_unit: str = "weeks"
) -> FitResult:
    """Fit BG/NBD by maximum likelihood.

    frequency, recency, T: per customer (recency and T in ``time_unit``);
    weights: optional number of customers each row stands for. Identical rows
    are compressed before fitting.
    """
    return fit_rfm(
        NAME, PARAMS, negll, Data, _start, frequency, recency, T, weights, time_unit,
        no_dropout="a",
    )  # fmt: skip


def _safe_a(a: float) -> float:
    """a = 1 is a removable singularity of the expectations; step around it."""
    return a if abs(a - 1.0) > 1e-7 else 1.0 + 1e-7


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
    a = _safe_a(a)
    t = np.asarray(t, dtype=float)
    z = t / (alpha + t)
    return dropout_mean(a + b - 1.0, a + b - 1.0 - r, a + b - 1.0, a, z, b, t, alpha, r)


def dropout_mean(factor, hyp_a, hyp_c, a, z, b_post, t, scale, shape, weight=None) -> np.ndarray:
    """factor/(a-1) [1 - (1-z)^(a-1) 2F1(hyp_a, a-1; hyp_c; z)]: the expected purchases in
    a window of length t of the BG/NBD family, E over the dropout p ~ Beta(a, b_post) of
    weight(p) (1/p) (1 - (scale/(scale + p t))^shape).

    The closed form is Euler's transformation of the papers' (1-z)^shape 2F1(...),
    which keeps the hypergeometric series well behaved. The tail (1-z)^(a-1) 2F1 is
    formed in logarithms: when the dropout Beta is concentrated (a and b in the
    hundreds of thousands, a fit where hardly anyone drops out) the power underflows
    to 0 while 2F1 overflows, and their plain product would be 0 x inf = NaN. Where
    2F1 is not a finite positive number or the tail would overflow, the expectation
    is computed by quadrature over p instead (:func:`_fallback`).
    """
    h = np.asarray(hyp2f1(hyp_a, a - 1.0, hyp_c, z), dtype=float)
    ok = np.isfinite(h) & (h > 0.0)
    log_tail = (a - 1.0) * np.log1p(-z) + np.log(np.where(ok, h, 1.0))
    ok &= log_tail < 700.0
    out = np.where(ok, factor / (a - 1.0) * -np.expm1(np.minimum(log_tail, 700.0)), np.nan)
    return _fallback(out, a, b_post, t, scale, shape, weight)


def _fallback(out, a, b_post, t, scale, shape, weight=None) -> np.ndarray:
    """Where the closed form is not finite (a and b very large), E over p ~ Beta(a, b_post)
    of weight(p) (1/p) (1 - (scale/(scale + p t))^shape) by quadrature (weight 1 if None)."""
    bad = ~np.isfinite(out)
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
    a = _safe_a(a)
    t, x = np.asarray(t, dtype=float), np.asarray(frequency, dtype=float)
    big_t = np.asarray(T, dtype=float)
    z = t / (alpha + big_t + t)
    c = a + b + x + (shift - 1.0)
    return dropout_mean(
        c, a + b + (shift - 1.0) - r, c, a, z, b + x + shift, t, alpha + big_t, r + x
    )


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
    """P(X(t) = n): probability that a new customer makes n purchases in (0, t]."""
    r, alpha, a, b = params_of(params, PARAMS)
    n, t = np.asarray(n, dtype=float), np.asarray(t, dtype=float)
    lbeta_ab = gammaln(a) + gammaln(b) - gammaln(a + b)
    first = (
        gammaln(a)
        + gammaln(b + n)
        - gammaln(a + b + n)
        - lbeta_ab
        + gammaln(r + n)
        - gammaln(r)
        - gammaln(n + 1)
        + r * np.log(alpha / (alpha + t))
        + n * np.log(np.where(t > 0, t / (alpha + t), 1.0))
    )
    first = np.where((t > 0) | (n == 0), np.exp(first), 0.0)
    pos = n > 0
    n1 = np.where(pos, n, 1.0)
    second = np.exp(
        gammaln(a + 1) + gammaln(b + n1 - 1) - gammaln(a + b + n1) - lbeta_ab
    ) * betainc(n1, r, t / (alpha + t))
    return first + np.where(pos, second, 0.0)
