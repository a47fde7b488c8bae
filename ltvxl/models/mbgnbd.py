"""The modified BG/NBD model (Batislam, Denizel & Filiztekin 2007).

As BG/NBD, except that a customer may also drop out right after her first
purchase, so customers without repeat purchases are not assumed alive.
Data and units as in :mod:`ltvxl.models.bgnbd`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit

from ltvxl.units import DEFAULT_UNIT

from .base import FitResult, ParamsLike, fit_rfm, params_of
from .bgnbd import Data, conditional_mean, dropout_mean, negll_shifted, start
from .registry import MBGNBD
from .special import around_one

NAME = MBGNBD.name
PARAMS = MBGNBD.params


def negll(theta: np.ndarray, d: Data) -> tuple[float, np.ndarray]:
    """Weighted negative log-likelihood and its gradient in log-parameters.

    log L = log G(r+x) - log G(r) + r log(alpha) + log B(a, b+x+1) - log B(a, b)
    + log[(alpha+T)^-(r+x) + a/(b+x) (alpha+t_x)^-(r+x)].
    """
    return negll_shifted(theta, d, 1)


def fit(
    frequency: Any, recency: Any, T: Any, weights: Any = None, *, time_unit: str = DEFAULT_UNIT
) -> FitResult:
    """Fit MBG/NBD by maximum likelihood (same inputs as :func:`ltvxl.models.bgnbd.fit`)."""
    return fit_rfm(
        NAME, PARAMS, negll, Data, start, frequency, recency, T, weights, time_unit,
        no_dropout="a",
    )  # fmt: skip


def p_alive(params: ParamsLike, frequency: Any, recency: Any, T: Any) -> np.ndarray:
    """Probability that a customer with history (x, t_x, T) is still alive at T."""
    r, alpha, a, b = params_of(params, PARAMS)
    x, tx, big_t = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    with np.errstate(divide="ignore"):  # a = 0 (no dropout, the NBD limit): P(alive) = 1
        z = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + big_t) - np.log(alpha + tx))
    return expit(-z)


def expected(params: ParamsLike, t: Any) -> np.ndarray:
    """Expected purchases in (0, t] of a customer just acquired (t in the data's unit)."""
    r, alpha, a, b = params_of(params, PARAMS)
    t = np.asarray(t, dtype=float)
    z = t / (alpha + t)
    # E[(1-p)/p (1 - e^(-lambda p t))] = b/(a-1) [1 - (1-z)^r 2F1(r, b+1; a+b; z)]
    return around_one(
        a, lambda a: dropout_mean(b, a + b - r, a + b, a, z, b, t, alpha, r, minus_p=True)
    )


def alive_expected(params: ParamsLike, t: Any, frequency: Any, T: Any) -> np.ndarray:
    """Expected purchases in (T, T + t] of a customer with x repeat purchases who is alive
    at T (t and T in the data's unit); times :func:`p_alive`, the conditional expectation."""
    return conditional_mean(params_of(params, PARAMS), t, frequency, T, 1)


def conditional_expected(
    params: ParamsLike, t: Any, frequency: Any, recency: Any, T: Any
) -> np.ndarray:
    """Expected purchases in (T, T + t] of a customer with history (x, t_x, T)."""
    values = params_of(params, PARAMS)
    return alive_expected(values, t, frequency, T) * p_alive(values, frequency, recency, T)
