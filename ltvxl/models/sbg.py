"""The shifted-beta-geometric (sBG) model of contract renewals (Fader & Hardie 2007).

Each customer renews at the end of every period with her own probability
1 - theta until she churns; theta ~ Beta(alpha, beta) across customers.
Periods are whole contract periods (months or years, whatever the data use);
period t = 1 is the first renewal decision.

- survival S(t) = B(alpha, beta + t) / B(alpha, beta): share still a customer after t periods
- retention r(t) = S(t) / S(t-1) = (beta + t - 1) / (alpha + beta + t - 1), rising with t
- P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta): churn in period t
- DERL: discounted expected residual lifetime (Fader & Hardie 2010).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import digamma, gammaln, hyp2f1

from ltvxl.errors import LtvxlError

from .base import FitResult, ParamsLike, as_column, dot, fit_mle, params_of
from .special import log_beta_ratio

NAME = "sBG"
PARAMS = ("alpha", "beta")
MAX_ALIVE = 1e15
"""Largest count SBG_FIT accepts: beyond it the log-likelihood has no digits left to fit."""
REMEDY = "Remedies: the alive counts must not increase; use at least two periods of data"


def _counts(alive: Any) -> tuple[np.ndarray, np.ndarray, float]:
    """Churned in periods 1..k and survivors after k, from customers alive at 0..k."""
    n = as_column(alive, "alive")
    if n.size < 2:
        raise LtvxlError("alive needs the customers at the start (period 0) and at least one more")
    if not np.all(np.isfinite(n)) or np.any(n < 0):
        raise LtvxlError("alive must hold numbers >= 0")
    if np.any(n > MAX_ALIVE):
        i = int(np.argmax(n > MAX_ALIVE))
        raise LtvxlError(f"alive must be counts up to 1e15, got {n[i]:.3g} in row {i + 1}")
    if n[0] <= 0:
        raise LtvxlError("alive must start with the cohort size (> 0) at period 0")
    lost = -np.diff(n)
    if np.any(lost < 0):
        i = int(np.argmax(lost < 0)) + 1
        raise LtvxlError(
            f"alive must not increase: period {i} has {n[i]:g} after {n[i - 1]:g} "
            "(give the number still active of one cohort, not new sign-ups)"
        )
    return lost, np.arange(1, n.size, dtype=float), float(n[-1])


def negll(theta: np.ndarray, lost, t, survivors) -> tuple[float, np.ndarray]:
    """Negative log-likelihood of churn counts and survivors, gradient in log-parameters."""
    a, b = np.exp(theta)
    k = t[-1]
    d_ab = digamma(a + b)
    # log P(T = t) = log a + lnG(b+t-1) - lnG(b) + lnG(a+b) - lnG(a+b+t)
    lp = np.log(a) + gammaln(b + t - 1) - gammaln(b) + gammaln(a + b) - gammaln(a + b + t)
    ls = gammaln(b + k) - gammaln(b) + gammaln(a + b) - gammaln(a + b + k)
    ll = dot(lost, lp) + survivors * ls
    dab_t = digamma(a + b + t)
    g_a = dot(lost, (1.0 / a + d_ab - dab_t)) + survivors * (d_ab - digamma(a + b + k))
    g_b = dot(lost, (digamma(b + t - 1) - digamma(b) + d_ab - dab_t)) + survivors * (
        digamma(b + k) - digamma(b) + d_ab - digamma(a + b + k)
    )
    return -float(ll), -np.array([g_a * a, g_b * b])


def fit(alive: Any) -> FitResult:
    """Fit sBG to one cohort: customers still active at the start of periods 0, 1, ..., k.

    ``alive[0]`` is the cohort size; percentages work too (100, 63.1, ...) but
    then the standard errors and log-likelihood are those of a cohort of 100.
    """
    lost, t, survivors = _counts(alive)
    if lost.sum() == 0:
        raise LtvxlError(
            "sBG cannot be fitted: nobody churned, so the churn distribution is not "
            "identified (retention is 100 % so far)"
        )
    return fit_mle(
        NAME,
        PARAMS,
        lambda th: negll(th, lost, t, survivors),
        np.zeros(2),
        float(lost.sum() + survivors),
        int(t.size),
        remedy=REMEDY,
    )


def survival(params: ParamsLike, period: Any) -> np.ndarray:
    """S(t): share of a cohort still active after ``period`` renewal decisions (t >= 0)."""
    a, b = params_of(params, PARAMS)
    t = np.asarray(period, dtype=float)
    return np.exp(log_beta_ratio(a, b, t))


def retention(params: ParamsLike, period: Any) -> np.ndarray:
    """r(t) = S(t) / S(t-1): share of those active in period t-1 who renew in period t (t >= 1)."""
    a, b = params_of(params, PARAMS)
    t = np.asarray(period, dtype=float)
    return (b + t - 1.0) / (a + b + t - 1.0)


def churn_probability(params: ParamsLike, period: Any) -> np.ndarray:
    """P(T = t): probability that a new customer churns at renewal decision t (t >= 1)."""
    a, b = params_of(params, PARAMS)
    t = np.asarray(period, dtype=float)
    # B(a+1, b+t-1) / B(a, b) = a/(a+b) B(a+1, b+t-1) / B(a+1, b)
    return a / (a + b) * np.exp(log_beta_ratio(a + 1.0, b, t - 1.0))


def derl(params: ParamsLike, discount_rate: Any, renewals: Any = 0.0) -> np.ndarray:
    """Discounted expected residual lifetime, in payments (Fader & Hardie 2010).

    For a customer who has made ``renewals`` renewals (0 for one in her first
    period) and is about to decide on the next, the expected number of further
    payments, the first (at the coming renewal) undiscounted and each later one
    discounted at ``discount_rate`` per period:
    ``(beta+n)/(alpha+beta+n) 2F1(1, beta+n+1; alpha+beta+n+1; 1/(1+d))`` with
    n = renewals. Multiply by the margin per period for a residual value.
    """
    a, b = params_of(params, PARAMS)
    d = np.asarray(discount_rate, dtype=float)
    n = np.asarray(renewals, dtype=float)
    # no discounting: 2F1 at 1 is Gauss's (a+b+n)/(a-1), finite only for alpha > 1
    # (scipy's series there takes about a second near alpha = 0)
    undiscounted = (b + n) / (a - 1.0) if a > 1.0 else np.inf
    return _at_one(d, undiscounted, lambda x: (b + n) / (a + b + n) * hyp2f1(
        1.0, b + n + 1.0, a + b + n + 1.0, x))


def _at_one(d: np.ndarray, closed: np.ndarray | float, series: Any) -> np.ndarray:
    """``closed`` where the discount rate ``d`` is 0 (x = 1 / (1 + d) = 1), else
    ``series(x)``, which is never evaluated at x = 1 (every argument broadcast first)."""
    d, closed = np.broadcast_arrays(d, closed)
    zero = d == 0.0
    x = 1.0 / (1.0 + np.where(zero, 1.0, d))
    out = np.asarray(series(x), dtype=float)
    out = np.broadcast_to(out, d.shape).copy()
    out[zero] = closed[zero]
    return out if out.ndim else out[()]


def retention_elasticity(params: ParamsLike, discount_rate: Any, renewals: Any = 0.0) -> np.ndarray:
    """Retention elasticity of :func:`derl` (Fader & Hardie 2010): the per cent change of
    DERL when every future retention rate rises by 1 %.

    Raising each customer's retention probability by the factor k multiplies
    every future retention rate r(t) by k and the chance of j more payments by
    k^j; the derivative of ln DERL in ln k at k = 1 is, with n = renewals and
    x = 1/(1+d), ``2F1(2, beta+n+1; alpha+beta+n+1; x) / 2F1(1, beta+n+1; alpha+beta+n+1; x)``
    (the derivative of ``x 2F1(1, b; c; x)`` is ``2F1(2, b; c; x)``). The same
    number is a finite difference of :func:`derl` itself: k DERL at the discount
    rate ``(1 + d) / k - 1`` is DERL with every retention rate times k.
    """
    a, b = params_of(params, PARAMS)
    return elasticity_of(a, b, discount_rate, renewals)


def elasticity_of(alpha: Any, beta: Any, discount_rate: Any, renewals: Any) -> np.ndarray:
    """:func:`retention_elasticity` with the parameters as arrays (broadcast with the rest)."""
    a, b = np.asarray(alpha, dtype=float), np.asarray(beta, dtype=float)
    n = np.asarray(renewals, dtype=float)
    d = np.asarray(discount_rate, dtype=float)
    c = a + b + n + 1.0
    # no discounting: the ratio of Gauss's values at 1, (a+b+n-1)/(a-2), finite for alpha > 2
    undiscounted = np.where(a > 2.0, (a + b + n - 1.0) / np.where(a > 2.0, a - 2.0, 1.0),
                            np.inf)
    return _at_one(d, undiscounted, lambda x: hyp2f1(2.0, b + n + 1.0, c, x)
                   / hyp2f1(1.0, b + n + 1.0, c, x))
