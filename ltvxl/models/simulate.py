"""Simulate customer summaries from the models' own generative stories (seeded).

Used to check that fits recover known parameters and to time fits on large
data. Each function draws per-customer latent rates from the mixing
distributions and then the observable summary, vectorised with numpy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _last_of(x: np.ndarray, n: np.ndarray, window: np.ndarray, rng) -> np.ndarray:
    """Time of the x-th of n uniform event times on (0, window) (0 when x = 0)."""
    pos = x > 0
    out = np.zeros(x.size)
    out[pos] = window[pos] * rng.beta(x[pos], n[pos] - x[pos] + 1.0)
    return out


def bgnbd(r: float, alpha: float, a: float, b: float, T: np.ndarray, seed=None) -> pd.DataFrame:
    """(frequency, recency, T) of customers observed for T after their first purchase.

    Purchases arrive at rate lambda ~ Gamma(r, alpha) (rate alpha); after each
    repeat purchase the customer drops out with probability p ~ Beta(a, b).
    """
    rng = _rng(seed)
    big_t = np.asarray(T, dtype=float)
    lam = rng.gamma(r, 1.0 / alpha, big_t.size)
    p = rng.beta(a, b, big_t.size)
    n = rng.poisson(lam * big_t).astype(float)  # purchases in (0, T] if never dropping out
    j = rng.geometric(p).astype(float)  # repeat purchases made before dropping out
    x = np.minimum(n, j)
    tx = _last_of(x, n, big_t, rng)
    return pd.DataFrame({"frequency": x, "recency": tx, "T": big_t})


def paretonbd(
    r: float, alpha: float, s: float, beta: float, T: np.ndarray, seed=None
) -> pd.DataFrame:
    """(frequency, recency, T): Poisson purchases at rate lambda ~ Gamma(r, alpha) during
    an exponential lifetime of rate mu ~ Gamma(s, beta)."""
    rng = _rng(seed)
    big_t = np.asarray(T, dtype=float)
    lam = rng.gamma(r, 1.0 / alpha, big_t.size)
    mu = rng.gamma(s, 1.0 / beta, big_t.size)
    tau = rng.exponential(1.0 / mu)
    window = np.minimum(tau, big_t)
    x = rng.poisson(lam * window).astype(float)
    tx = _last_of(x, x, window, rng)
    return pd.DataFrame({"frequency": x, "recency": tx, "T": big_t})


def gammagamma(p: float, q: float, gamma: float, frequency: np.ndarray, seed=None) -> np.ndarray:
    """Mean value of ``frequency`` transactions per customer (NaN where frequency is 0).

    Each value is Gamma(p, rate nu) with nu ~ Gamma(q, rate gamma).
    """
    rng = _rng(seed)
    x = np.asarray(frequency, dtype=float)
    nu = rng.gamma(q, 1.0 / gamma, x.size)
    out = np.full(x.size, np.nan)
    pos = x > 0
    out[pos] = rng.gamma(p * x[pos], 1.0 / (x[pos] * nu[pos]))
    return out


def sbg(alpha: float, beta: float, cohort: int, periods: int, seed=None) -> np.ndarray:
    """Customers of one cohort still active at the start of periods 0..periods."""
    rng = _rng(seed)
    theta = rng.beta(alpha, beta, cohort)
    life = rng.geometric(theta)  # the period in which each customer churns (1, 2, ...)
    t = np.arange(periods + 1)
    return (life[None, :] > t[:, None]).sum(axis=1).astype(float)


def bgbb(
    alpha: float, beta: float, gamma: float, delta: float, n: int, customers: int, seed=None
) -> pd.DataFrame:
    """(frequency, recency, periods) over n opportunities after the first transaction.

    Before each opportunity an alive customer dies with probability
    theta ~ Beta(gamma, delta); at each opportunity alive she transacts with
    probability p ~ Beta(alpha, beta).
    """
    rng = _rng(seed)
    p = rng.beta(alpha, beta, customers)
    theta = rng.beta(gamma, delta, customers)
    alive_for = rng.geometric(theta) - 1  # opportunities survived
    t = np.arange(1, n + 1)
    buys = (rng.random((customers, n)) < p[:, None]) & (t[None, :] <= alive_for[:, None])
    x = buys.sum(axis=1).astype(float)
    tx = np.where(buys, t[None, :], 0).max(axis=1).astype(float)
    return pd.DataFrame({"frequency": x, "recency": tx, "periods": float(n)})


def mbgnbd(r: float, alpha: float, a: float, b: float, T: np.ndarray, seed=None) -> pd.DataFrame:
    """As :func:`bgnbd`, but the customer may also drop out right after her first purchase."""
    rng = _rng(seed)
    big_t = np.asarray(T, dtype=float)
    lam = rng.gamma(r, 1.0 / alpha, big_t.size)
    p = rng.beta(a, b, big_t.size)
    n = rng.poisson(lam * big_t).astype(float)
    j = rng.geometric(p).astype(float) - 1.0  # dropout chances after every purchase
    x = np.minimum(n, j)
    tx = _last_of(x, n, big_t, rng)
    return pd.DataFrame({"frequency": x, "recency": tx, "T": big_t})


def transaction_log(
    customers: int,
    *,
    r: float = 0.8,
    alpha: float = 40.0,
    s: float = 0.7,
    beta: float = 120.0,
    p: float = 3.0,
    q: float = 4.0,
    gamma: float = 100.0,
    span_days: int = 730,
    acquisition_days: int = 180,
    seed=None,
) -> pd.DataFrame:
    """A transaction log (customer, day, amount) from the Pareto/NBD story, in days.

    Customer k (ids 1..customers) is acquired on a day uniform in
    [0, acquisition_days), buys at rate lambda ~ Gamma(r, alpha) per day while
    alive for an exponential lifetime of rate mu ~ Gamma(s, beta), until
    ``span_days``; purchase days are the integer days of the events (two on
    one day are two rows). Amounts follow the Gamma-Gamma story, rounded to
    cents: Gamma(p, rate nu) per purchase with nu ~ Gamma(q, rate gamma) per
    customer (mean spend p gamma / (q - 1)). Rows are sorted by day; ``day``
    counts from 0.
    """
    rng = _rng(seed)
    start = rng.integers(0, acquisition_days, customers)
    lam = rng.gamma(r, 1.0 / alpha, customers)
    mu = rng.gamma(s, 1.0 / beta, customers)
    window = np.minimum(rng.exponential(1.0 / mu), span_days - start)
    repeats = rng.poisson(lam * window)
    cust = np.repeat(np.arange(customers), repeats)
    offsets = rng.random(cust.size) * window[cust]
    ids = np.concatenate([np.arange(customers), cust]) + 1
    days = np.concatenate([start, start[cust] + np.floor(offsets).astype(np.int64)])
    days = np.minimum(days, span_days - 1)
    nu = rng.gamma(q, 1.0 / gamma, customers)
    amounts = np.round(rng.gamma(p, 1.0 / nu[ids - 1]), 2)
    order = np.argsort(days, kind="stable")
    return pd.DataFrame({"customer": ids[order], "day": days[order], "amount": amounts[order]})
