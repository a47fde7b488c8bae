"""Ratios of gamma and beta functions that stay accurate for very large arguments.

The models' closed forms are differences of ``gammaln`` values: B(a, b + n) /
B(a, b) is ``exp(gammaln(b+n) - gammaln(b) - gammaln(a+b+n) + gammaln(a+b))``.
Each ``gammaln`` is about b log b, so with b = 1e15 the four terms are near
3e16 and their difference (which may be 1e-3) is lost to rounding: survival
and probabilities then come out far above 1. Here the difference is formed
analytically instead. With Stirling's ``gammaln(y) = (y - 1/2) log y - y +
log(2 pi) / 2 + omega(y)``, the second difference of ``y log y - y`` is minus
the integral of log(1 + a/y) over [b, b + n], which has a closed form whose
three terms are each of the size of the result (no cancellation); the
``omega`` terms are small and smooth. scipy has no such ratio (its ``poch``
and ``betaln`` are single functions, whose differences cancel).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import gammaln

_HALF_LOG_2PI = 0.5 * np.log(2.0 * np.pi)
_SERIES_FROM = 8.0


def stirling_omega(y: Any) -> np.ndarray:
    """omega(y) = gammaln(y) - (y - 1/2) log y + y - log(2 pi)/2 (y > 0), about 1/(12 y)."""
    y = np.asarray(y, dtype=float)
    big = y >= _SERIES_FROM
    yb = np.where(big, y, _SERIES_FROM)
    inv = 1.0 / yb
    inv2 = inv * inv
    series = inv * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 * (1 / 1680 - inv2 / 1188))))
    ys = np.where(big, 1.0, y)
    direct = gammaln(ys) - (ys - 0.5) * np.log(ys) + ys - _HALF_LOG_2PI
    return np.where(big, series, direct)


def _log1p_neg(x: np.ndarray, one_minus_x_log: np.ndarray) -> np.ndarray:
    """log(1 - x) for 0 <= x <= 1: log1p(-x) for small x, else the given log(1 - x)."""
    return np.where(x < 0.5, np.log1p(-np.minimum(x, 0.5)), one_minus_x_log)


def log_beta_ratio(a: Any, b: Any, n: Any) -> np.ndarray:
    """log[B(a, b + n) / B(a, b)] = log[(b)_n / (a + b)_n] for a, b > 0 and n >= 0 (<= 0).

    Accurate to a few units of 1e-15 absolute where the result is above -745
    (the ratio is then relative-accurate to that), for arguments from 1e-300
    to 1e300; the work is a fixed number of operations, whatever n is.
    """
    a, b, n = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (a, b, n)))
    ab = a + b
    # M = integral over [b, b+n] of log(1 + a/y) dy
    #   = n log(1 + a/(b+n)) + b log(1 - a n/((a+b)(b+n))) + a log(1 + n/(a+b))
    with np.errstate(all="ignore"):
        x = (a / ab) * (n / (b + n))
        exact_log = np.log(b) + np.log(ab + n) - np.log(ab) - np.log(b + n)
        t1 = n * np.log1p(a / (b + n))
        t2 = b * _log1p_neg(x, exact_log)
        t3 = a * np.log1p(n / ab)
        m = t1 + t2 + t3
        half = 0.5 * (np.log1p(n / b) - np.log1p(n / ab))
        omega = (
            stirling_omega(b + n) - stirling_omega(b) - stirling_omega(ab + n) + stirling_omega(ab)
        )
        out = omega - m - half
    return np.where(n == 0, 0.0, out)


def _log_poch(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """gammaln(x + m) - gammaln(x) in Stirling form (x, m > 0): no cancellation for large x."""
    return (
        m * np.log(x + m)
        + (x * np.log1p(m / x) - m)
        - 0.5 * np.log1p(m / x)
        + stirling_omega(x + m)
        - stirling_omega(x)
    )


def log_nb_pmf(r: Any, alpha: Any, n: Any, t: Any) -> np.ndarray:
    """log P(N = n) for N negative binomial: Poisson of rate lambda over time t,
    lambda ~ Gamma(r, alpha): Gamma(r+n)/(Gamma(r) n!) (alpha/(alpha+t))^r (t/(alpha+t))^n.

    The gamma ratio is formed from the larger of r and n (Stirling form, see
    :func:`_log_poch`), so r or n up to 1e300 keep their digits.
    """
    r, alpha, n, t = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (r, alpha, n, t)))
    with np.errstate(all="ignore"):
        r_big = r >= n
        # r >= n: [gammaln(r+n) - gammaln(r)] - gammaln(n+1)
        by_r = _log_poch(r, n) - gammaln(n + 1.0)
        # n > r: [gammaln(n+r) - gammaln(n)] - log n - gammaln(r)
        by_n = _log_poch(n, r) - np.log(n) - gammaln(r)
        log_c = np.where(n == 0, 0.0, np.where(r_big, by_r, by_n))
        tail = np.where(n == 0, 0.0, -n * np.log1p(alpha / t))
        out = log_c - r * np.log1p(t / alpha) + tail
    return out


NEAR_ONE = 1e-3
"""Within this of 1 (a removable singularity of a closed form: BG/NBD's a = 1, BG/BB's
gamma = 1) the function is interpolated from a = 1 +- 1e-3, 1 +- 2e-3 (error of order 1e-12)."""


def around_one(a: float, compute: Any) -> np.ndarray:
    """``compute(a)``; near a = 1, the cubic through ``compute`` at 1 +- 1e-3, 1 +- 2e-3
    evaluated at a (the closed form cancels there; the limit itself is one point)."""
    if abs(a - 1.0) >= NEAR_ONE:
        return compute(a)
    nodes = 1.0 + NEAR_ONE * np.array([-2.0, -1.0, 1.0, 2.0])
    out: Any = 0.0
    for i, xi in enumerate(nodes):
        others = np.delete(nodes, i)
        out = out + compute(xi) * float(np.prod((a - others) / (xi - others)))
    return np.asarray(out)
