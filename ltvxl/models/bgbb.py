"""The BG/BB model of discrete purchase opportunities (Fader, Hardie & Shang 2010).

At each opportunity (a yearly campaign, a weekly event) an alive customer
transacts with probability p ~ Beta(alpha, beta); after each opportunity she
dies with probability theta ~ Beta(gamma, delta). Data per customer:
frequency x (transactions in the n opportunities after the first), recency
t_x (the opportunity of the last one, 0 if none) and n, the number of
opportunities; horizons are counted in opportunities.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import betaln, digamma, gammaln, poch

from ltvxl.domains import MAX_BB_PERIODS
from ltvxl.errors import LtvxlError

from .base import FitResult, ParamsLike, as_column, compress, dot, fit_mle, params_of
from .special import around_one

NAME = "BG/BB"
PARAMS = ("alpha", "beta", "gamma", "delta")
REMEDY = "Remedies: check that recency <= periods and frequency <= recency; use more customers"


def _check(frequency: Any, recency: Any, periods: Any, weights: Any = None):
    x = as_column(frequency, "frequency")
    tx = as_column(recency, "recency")
    n = as_column(periods, "periods")
    if not (x.size == tx.size == n.size):
        raise LtvxlError("frequency, recency and periods must have the same length")
    w = np.ones(x.size) if weights is None else as_column(weights, "weights")
    if w.size != x.size:
        raise LtvxlError("weights must have one value per row")
    for name, arr in (("frequency", x), ("recency", tx), ("periods", n)):
        if np.any(~np.isfinite(arr) | (arr < 0) | (arr != np.round(arr))):
            raise LtvxlError(f"{name} must hold whole numbers >= 0")
    if np.any(~np.isfinite(w) | (w < 0)):
        raise LtvxlError("weights must be numbers >= 0")
    bad = (x > tx) | (tx > n) | ((x == 0) & (tx != 0)) | ((x > 0) & (tx == 0))
    if bad.any():
        i = int(np.argmax(bad))
        raise LtvxlError(
            f"row {i + 1}: need 0 <= frequency <= recency <= periods, and recency 0 exactly "
            f"when frequency is 0; got {x[i]:g}, {tx[i]:g}, {n[i]:g}"
        )
    return x, tx, n, w


MAX_FIT_CELLS = 50_000
"""Most terms the fit's likelihood sums (distinct rows x the largest periods - recency):
each evaluation costs one special function per term, so this keeps a fit near a second."""


class Data:
    """Compressed rows and the padded grid of dropout-after-last-purchase terms."""

    def __init__(self, x, tx, n, w):
        self.x, self.tx, self.n, self.w = x, tx, n, w
        gap = (n - tx).astype(int)
        width = max(int(gap.max()), 1)
        if width * x.size > MAX_FIT_CELLS:
            raise LtvxlError(
                f"{NAME} fits at most {MAX_FIT_CELLS:,} terms (rows x periods), got {x.size:,} "
                f"x {width:,}: count opportunities in larger units or give patterns with weights"
            )
        self.i = np.arange(width)[None, :]
        self.mask = self.i < gap[:, None]


def _log_terms(alpha, beta, gamma, delta, x, tx, n, i, mask):
    """Log of the alive term and of the terms 'died after opportunity t_x + i'."""
    base = -betaln(alpha, beta) - betaln(gamma, delta)
    alive = betaln(alpha + x, beta + n - x) + betaln(gamma, delta + n) + base
    xc, txc = x[:, None], tx[:, None]
    dead = np.where(
        mask,
        betaln(alpha + xc, beta + txc - xc + i) + betaln(gamma + 1.0, delta + txc + i) + base,
        -np.inf,
    )
    return alive, dead


def _loglik(params, x, tx, n, i, mask):
    alpha, beta, gamma, delta = params
    alive, dead = _log_terms(alpha, beta, gamma, delta, x, tx, n, i, mask)
    allt = np.concatenate([alive[:, None], dead], axis=1)
    top = allt.max(axis=1, keepdims=True)
    e = np.exp(allt - top)
    tot = e.sum(axis=1)
    return top[:, 0] + np.log(tot), e / tot[:, None]


def negll(theta: np.ndarray, d: Data) -> tuple[float, np.ndarray]:
    """Weighted negative log-likelihood and its gradient in log-parameters."""
    al, be, ga, de = np.exp(theta)
    x, tx, n, i = d.x, d.tx, d.n, d.i
    ll, pi = _loglik((al, be, ga, de), x, tx, n, i, d.mask)
    pa, pd_ = pi[:, 0], pi[:, 1:]
    xc, txc = x[:, None], tx[:, None]
    # d/d(param) of log B(p, q) = psi(p) - psi(p + q), psi(q) - psi(p + q)
    ab = digamma(al) - digamma(al + be), digamma(be) - digamma(al + be)
    gd = digamma(ga) - digamma(ga + de), digamma(de) - digamma(ga + de)
    s_a = digamma(al + be + n)
    g_al = pa * (digamma(al + x) - s_a) + (
        pd_ * (digamma(al + xc) - digamma(al + be + txc + i))
    ).sum(1)
    g_be = pa * (digamma(be + n - x) - s_a) + (
        pd_ * (digamma(be + txc - xc + i) - digamma(al + be + txc + i))
    ).sum(1)
    s_g = digamma(ga + de + n)
    g_ga = pa * (digamma(ga) - s_g) + (
        pd_ * (digamma(ga + 1.0) - digamma(ga + de + 1.0 + txc + i))
    ).sum(1)
    g_de = pa * (digamma(de + n) - s_g) + (
        pd_ * (digamma(de + txc + i) - digamma(ga + de + 1.0 + txc + i))
    ).sum(1)
    w = d.w
    sw = w.sum()
    grad = np.array(
        [
            (dot(w, g_al) - sw * ab[0]) * al,
            (dot(w, g_be) - sw * ab[1]) * be,
            (dot(w, g_ga) - sw * gd[0]) * ga,
            (dot(w, g_de) - sw * gd[1]) * de,
        ]
    )
    return -float(dot(w, ll)), -grad


def fit(frequency: Any, recency: Any, periods: Any, weights: Any = None) -> FitResult:
    """Fit BG/BB by maximum likelihood on (frequency, recency, periods) rows.

    weights: optional number of customers each row stands for (as in the
    usual summary table of patterns with their counts).
    """
    x, tx, n, w = _check(frequency, recency, periods, weights)
    keep = w > 0
    if keep.sum() < 2:
        raise LtvxlError(f"{NAME} needs at least 2 customers")
    if not np.any(x[keep] > 0):
        raise LtvxlError(f"{NAME} cannot be fitted: no customer ever transacted again")
    if not np.any(n[keep] > 0):
        raise LtvxlError(f"{NAME} cannot be fitted: every customer has 0 opportunities")
    comp = compress((x[keep], tx[keep], n[keep]), w[keep])
    x_c, tx_c, n_c = comp.columns
    data = Data(x_c, tx_c, n_c, comp.weights)
    return fit_mle(
        NAME,
        PARAMS,
        lambda th: negll(th, data),
        np.zeros(4),
        float(w[keep].sum()),
        comp.n_rows,
        remedy=REMEDY,
    )


MAX_PERIODS = MAX_BB_PERIODS
"""Most opportunities per customer the predictions accept (memory grows with it)."""


def _row_loglik(params, x, tx, n) -> np.ndarray:
    """Per-row log-likelihood, in chunks of rows so memory stays bounded."""
    x, tx, n = np.broadcast_arrays(*(np.asarray(v, dtype=float).ravel() for v in (x, tx, n)))
    if n.size and n.max() > MAX_PERIODS:
        raise LtvxlError(f"periods must be <= {MAX_PERIODS}, got {n.max():g}")
    gap = (n - tx).astype(np.int64)
    width = max(int(gap.max(initial=0)), 1)
    step = max(1, 2_000_000 // width)
    out = np.empty(x.size)
    i = np.arange(width)[None, :]
    for lo in range(0, x.size, step):
        sl = slice(lo, lo + step)
        out[sl] = _loglik(params, x[sl], tx[sl], n[sl], i, i < gap[sl, None])[0]
    return out


def p_alive(params: ParamsLike, frequency: Any, recency: Any, periods: Any) -> np.ndarray:
    """Probability that the customer is alive at opportunity n + 1."""
    p = params_of(params, PARAMS)
    shape = np.broadcast_shapes(*(np.shape(v) for v in (frequency, recency, periods)))
    x, tx, n = (
        np.broadcast_to(np.asarray(v, float), shape).ravel() for v in (frequency, recency, periods)
    )
    ll = _row_loglik(p, x, tx, n)
    al, be, ga, de = p
    nxt = betaln(al + x, be + n - x) - betaln(al, be) + betaln(ga, de + n + 1.0) - betaln(ga, de)
    return np.exp(nxt - ll).reshape(shape)


def _future_alive_sum(ga, de, start, horizon):
    """sum_{k=1..horizon} B(gamma, delta + start + k) / B(gamma, delta), in closed form:
    delta/(gamma-1) G(gamma+delta)/G(1+delta) [G(1+delta+m)/G(gamma+delta+m)] from m = start
    to start + horizon (its digamma limit when gamma is 1, interpolated near 1)."""
    start, horizon = np.broadcast_arrays(np.asarray(start, float), np.asarray(horizon, float))
    if ga == 1.0:  # the limit gamma = 1: sum of delta / (delta + start + k)
        return de * (digamma(de + start + horizon + 1.0) - digamma(de + start + 1.0))

    def closed(g: float) -> np.ndarray:
        def part(m):  # G(1+delta+m) / G(gamma+delta+m), accurate for large m
            return poch(g + de + m, 1.0 - g)

        coef = de / (g - 1.0) * np.exp(gammaln(g + de) - gammaln(1.0 + de))
        return coef * (part(start) - part(start + horizon))

    # near gamma = 1 the difference cancels (1e-8 lost at 1e-8 from 1): interpolated
    return around_one(ga, closed)


def conditional_expected(
    params: ParamsLike, horizon: Any, frequency: Any, recency: Any, periods: Any
) -> np.ndarray:
    """Expected transactions in the next ``horizon`` opportunities (n+1 .. n+horizon)."""
    p = params_of(params, PARAMS)
    al, be, ga, de = p
    shape = np.broadcast_shapes(*(np.shape(v) for v in (horizon, frequency, recency, periods)))
    h = np.broadcast_to(np.asarray(horizon, dtype=float), shape).ravel()
    x, tx, n = (
        np.broadcast_to(np.asarray(v, dtype=float), shape).ravel()
        for v in (frequency, recency, periods)
    )
    ll = _row_loglik(p, x, tx, n)
    lead = betaln(al + x + 1.0, be + n - x) - betaln(al, be) - ll
    return (np.exp(lead) * _future_alive_sum(ga, de, n, h)).reshape(shape)


def expected(params: ParamsLike, periods: Any) -> np.ndarray:
    """Expected transactions of a new customer in the first ``periods`` opportunities."""
    al, be, ga, de = params_of(params, PARAMS)
    n = np.asarray(periods, dtype=float)
    return al / (al + be) * _future_alive_sum(ga, de, np.zeros_like(n), n)
