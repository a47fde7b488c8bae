"""The Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005, "RFM and CLV").

A customer's transaction values are Gamma(p, nu) around her mean p / nu, and
nu ~ Gamma(q, gamma) across customers. Data per customer: x, the number of
transactions whose values are averaged (usually the repeat purchases), and
zbar, their mean value (currency). Only customers with x > 0 and zbar > 0
inform the fit; the others are excluded and counted in the fit's notes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import digamma, gammaln

from ltvxl.errors import LtvxlError

from .base import FitResult, ParamsLike, as_column, compress, dot, fit_mle, params_of

NAME = "Gamma-Gamma"
PARAMS = ("p", "q", "gamma")
REMEDY = (
    "Remedies: spend must vary between customers; remove extreme outliers or "
    "fit on more repeat buyers"
)


class Data:
    """Compressed (x, zbar) rows, with the terms that do not depend on the parameters."""

    def __init__(self, x, m, w):
        self.x, self.m, self.w = x, m, w
        self.xm = x * m
        self.ux, inv = np.unique(x, return_inverse=True)
        self.wx = np.bincount(inv, weights=w, minlength=self.ux.size)
        self.sum_w = float(w.sum())
        self.sum_wx_lxm = float(dot(w, (x * np.log(self.xm))))
        self.sum_w_lm = float(dot(w, np.log(m)))


def negll(theta: np.ndarray, d: Data) -> tuple[float, np.ndarray]:
    """Weighted negative log-likelihood of the mean spends and its log-parameter gradient.

    log f(zbar | x) = log G(px+q) - log G(px) - log G(q) + q log(gamma)
    + (px-1) log(zbar) + px log(x) - (px+q) log(gamma + x zbar).
    """
    p, q, g = np.exp(theta)
    pu = p * d.ux
    lg_row = np.log(g + d.xm)
    d_pq = digamma(pu + q)
    ll = (
        dot(d.wx, (gammaln(pu + q) - gammaln(pu)))
        + d.sum_w * (q * np.log(g) - gammaln(q))
        + p * d.sum_wx_lxm
        - d.sum_w_lm
        - dot(d.w, ((p * d.x + q) * lg_row))
    )
    g_p = dot((d.wx * d.ux), (d_pq - digamma(pu))) + d.sum_wx_lxm - dot((d.w * d.x), lg_row)
    g_q = dot(d.wx, d_pq) - d.sum_w * (digamma(q) - np.log(g)) - dot(d.w, lg_row)
    g_g = d.sum_w * q / g - dot(d.w, ((p * d.x + q) / (g + d.xm)))
    grad = np.array([g_p * p, g_q * q, g_g * g])
    return -float(ll), -grad


def fit(frequency: Any, avg_spend: Any, weights: Any = None) -> FitResult:
    """Fit Gamma-Gamma on (frequency, average spend) per customer.

    Customers with frequency 0 or a non-positive average spend are excluded
    (counted in ``notes``); fewer than 2 remaining customers is an error.
    """
    x = as_column(frequency, "frequency")
    m = as_column(avg_spend, "avg_spend")
    if x.size != m.size:
        raise LtvxlError(
            f"frequency and avg_spend must have the same length, got {x.size} and {m.size}"
        )
    w = np.ones(x.size) if weights is None else as_column(weights, "weights")
    ok = np.isfinite(x) & np.isfinite(m) & np.isfinite(w) & (w > 0)
    no_repeat = ok & (x <= 0)
    bad_spend = ok & (x > 0) & (m <= 0)
    keep = ok & (x > 0) & (m > 0)
    notes = []
    if no_repeat.any():
        notes.append(f"{int(no_repeat.sum())} customers without repeat purchases excluded")
    if bad_spend.any():
        notes.append(f"{int(bad_spend.sum())} customers with zero or negative spend excluded")
    if (~ok).any():
        notes.append(f"{int((~ok).sum())} rows with missing or invalid values excluded")
    if keep.sum() < 2:
        raise LtvxlError(
            f"{NAME} needs at least 2 customers with repeat purchases and positive spend, "
            f"got {int(keep.sum())}" + (f" ({'; '.join(notes)})" if notes else "")
        )
    comp = compress((x[keep], m[keep]), w[keep])
    xs, ms = comp.columns
    if np.ptp(ms) == 0:
        raise LtvxlError(
            f"{NAME} cannot be fitted: every customer has the same average spend, so its "
            "spread across customers is not identified"
        )
    mean = float(np.average(ms, weights=comp.weights))
    data = Data(xs, ms, comp.weights)
    start = np.log([2.0, 2.0, mean])  # population mean p gamma / (q - 1) = 2 mean
    result = fit_mle(
        NAME,
        PARAMS,
        lambda th: negll(th, data),
        start,
        float(w[keep].sum()),
        comp.n_rows,
        remedy=REMEDY,
        notes=notes,
    )
    return result


def expected_spend(params: ParamsLike, frequency: Any, avg_spend: Any) -> np.ndarray:
    """Expected average spend per transaction of a customer (currency).

    ``(gamma + x zbar) p / (p x + q - 1)``: a weighted mean of the population
    mean ``p gamma / (q - 1)`` and the customer's own mean ``zbar``; for
    x = 0 the population mean. Needs q > 1.
    """
    p, q, g = params_of(params, PARAMS)
    x, m = np.asarray(frequency, dtype=float), np.asarray(avg_spend, dtype=float)
    m = np.where(x > 0, m, 0.0)
    # as the weighted mean, so that no product overflows before the division (p, gamma
    # up to 1e300); a mean beyond the floats (inf) is NaN: no number to show
    den = p * x + (q - 1.0)
    with np.errstate(over="ignore", invalid="ignore"):
        out = (p / den) * g + (p * x / den) * m
    return np.where(np.isinf(out), np.nan, out)


def population_mean(params: ParamsLike) -> float:
    """Mean spend per transaction across customers, ``p gamma / (q - 1)`` (inf when q <= 1)."""
    p, q, g = params_of(params, PARAMS)
    return p * g / (q - 1.0) if q > 1 else float("inf")
