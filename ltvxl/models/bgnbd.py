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
    """Compressed rows plus the distinct frequencies (special functions of x are
    evaluated once per distinct x and weighted by the customers having it)."""

    def __init__(self, x, tx, big_t, w):
        self.x, self.tx, self.big_t, self.w = x, tx, big_t, w
        self.ux, inv = np.unique(x, return_inverse=True)
        self.wx = np.bincount(inv, weights=w, minlength=self.ux.size)
        self.pos = x > 0
        self.xp, self.txp, self.wp = x[self.pos], tx[self.pos], w[self.pos]
        self.big_tp = big_t[self.pos]


def negll(theta: np.ndarray, d: Data) -> tuple[float, np.ndarray]:
    """Weighted negative log-likelihood and its gradient in log-parameters.

    log L = log G(r+x) - log G(r) + r log(alpha) + log B(a, b+x) - log B(a, b)
    + log[(alpha+T)^-(r+x) + 1{x>0} a/(b+x-1) (alpha+t_x)^-(r+x)], the bracket
    by log-sum-exp.
    """
    r, alpha, a, b = np.exp(theta)
    ux, wx = d.ux, d.wx
    # terms depending on x only, summed over distinct x
    ll = dot(wx, (gammaln(r + ux) + gammaln(b + ux) - gammaln(a + b + ux))) + d.w.sum() * (
        -gammaln(r) + r * np.log(alpha) + gammaln(a + b) - gammaln(b)
    )
    d_ab_x = dot(wx, digamma(a + b + ux))
    g_r = dot(wx, digamma(r + ux)) - d.w.sum() * (digamma(r) - np.log(alpha))
    g_a = d.w.sum() * digamma(a + b) - d_ab_x
    g_b = g_a + dot(wx, digamma(b + ux)) - d.w.sum() * digamma(b)
    g_alpha = d.w.sum() * r / alpha
    # the alive / dropped-out mixture, per row
    l_t = np.log(alpha + d.big_t)
    u1 = -(r + d.x) * l_t
    ll += dot(d.w, u1)
    g_r -= dot(d.w, l_t)
    g_alpha -= dot(d.w, ((r + d.x) / (alpha + d.big_t)))
    if d.xp.size:
        rx = r + d.xp
        l_tx = np.log(alpha + d.txp)
        bx1 = b + d.xp - 1.0
        l_tp = np.log(alpha + d.big_tp)
        # log of the dropped-out term relative to the alive term
        v = np.log(a) - np.log(bx1) + rx * (l_tp - l_tx)
        w2 = expit(v)
        ll += dot(d.wp, np.logaddexp(0.0, v))
        wp2 = d.wp * w2
        g_r += dot(wp2, (l_tp - l_tx))
        g_alpha += dot(wp2, (rx / (alpha + d.big_tp) - rx / (alpha + d.txp)))
        g_a += wp2.sum() / a
        g_b -= dot(wp2, (1.0 / bx1))
    grad = np.array([g_r * r, g_alpha * alpha, g_a * a, g_b * b])
    return -float(ll), -grad


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
    return fit_rfm(NAME, PARAMS, negll, Data, _start, frequency, recency, T, weights, time_unit)


def _safe_a(a: float) -> float:
    """a = 1 is a removable singularity of the expectations; step around it."""
    return a if abs(a - 1.0) > 1e-7 else 1.0 + 1e-7


def p_alive(params: ParamsLike, frequency: Any, recency: Any, T: Any) -> np.ndarray:
    """Probability that a customer with history (x, t_x, T) is still alive at T."""
    r, alpha, a, b = params_of(params, PARAMS)
    x, tx, big_t = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    pos = x > 0
    bx1 = np.where(pos, b + x - 1.0, 1.0)
    z = np.log(a) - np.log(bx1) + (r + x) * (np.log(alpha + big_t) - np.log(alpha + tx))
    return np.where(pos, expit(-z), 1.0)


def expected(params: ParamsLike, t: Any) -> np.ndarray:
    """Expected purchases in (0, t] of a customer just acquired (t in the data's unit)."""
    r, alpha, a, b = params_of(params, PARAMS)
    a = _safe_a(a)
    t = np.asarray(t, dtype=float)
    z = t / (alpha + t)
    # Euler's transformation keeps the hypergeometric function well inside its series
    with np.errstate(all="ignore"):
        tail = (1.0 - z) ** (a - 1.0) * hyp2f1(a + b - 1.0 - r, a - 1.0, a + b - 1.0, z)
        out = np.asarray((a + b - 1.0) / (a - 1.0) * (1.0 - tail))
    return _fallback(out, a, b, t, alpha, r)


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


def conditional_expected(
    params: ParamsLike, t: Any, frequency: Any, recency: Any, T: Any
) -> np.ndarray:
    """Expected purchases in (T, T + t] of a customer with history (x, t_x, T)."""
    r, alpha, a, b = params_of(params, PARAMS)
    a = _safe_a(a)
    t, x = np.asarray(t, dtype=float), np.asarray(frequency, dtype=float)
    big_t = np.asarray(T, dtype=float)
    z = t / (alpha + big_t + t)
    c = a + b + x - 1.0
    with np.errstate(all="ignore"):
        tail = (1.0 - z) ** (a - 1.0) * hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
        mean = np.asarray(c / (a - 1.0) * (1.0 - tail))
    mean = _fallback(mean, a, b + x, t, alpha + big_t, r + x)
    return mean * p_alive((r, alpha, a, b), x, recency, big_t)


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
