"""The Pareto/NBD model (Schmittlein, Morrison & Colombo 1987).

While alive a customer buys as a Poisson process of rate lambda ~ Gamma(r,
alpha); her lifetime is exponential with rate mu ~ Gamma(s, beta). Data per
customer: frequency x, recency t_x and T, in one time unit (days, weeks or
months); alpha, beta and every time argument t are in that unit.

The likelihood (Fader & Hardie 2005, "A Note on Deriving the Pareto/NBD Model")
is ``G(r+x) alpha^r beta^s / G(r) [A + s I]`` with the alive term
``A = (alpha+T)^-(r+x) (beta+T)^-s`` and the dropout integral
``I = int_{t_x}^{T} (alpha+y)^-(r+x) (beta+y)^-(s+1) dy``, usually written with
a Gauss hypergeometric function that overflows or loses precision for
customers with many purchases. Here ``I`` and its derivatives are computed by
tanh-sinh quadrature after the substitution ``z = (c+y)^-(r+s+x)`` (``c`` is
alpha or beta), which turns the integrand into a bounded, smooth function
(no overflow for hundreds of purchases); :func:`loglik_hyp2f1` is
the classic closed form, kept as an independent check.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import digamma, expit, gammaln, hyp2f1

from .base import FitResult, ParamsLike, dot, fit_rfm, params_of, rfm_start

NAME = "Pareto/NBD"
PARAMS = ("r", "alpha", "s", "beta")


def _tanh_sinh(step: float, k_max: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tanh-sinh nodes u on (0, 1), 1 - u (exact near 1) and weights."""
    k = np.arange(-k_max, k_max + 1) * step
    s = np.pi / 2 * np.sinh(k)
    u = 1.0 / (1.0 + np.exp(-2 * s))
    v = 1.0 / (1.0 + np.exp(2 * s))
    w = step * np.pi / 2 * np.cosh(k) / np.cosh(s) ** 2 / 2
    return u, v, w


_U, _V, _W = _tanh_sinh(0.3, 11)
_LOG_W = np.log(_W)
_HALF = _U.size // 2 + 1  # nodes [0, _HALF) have u <= 1/2
_U_LO, _V_HI = _U[:_HALF], _V[_HALF:]


_EVEN = np.arange(1, _U.size, 2)  # the nodes of the rule with twice the step
TOLERANCE = 1e-3
"""Relative gap between the 23- and 11-node rules above which the other offset is tried."""


def _quad(r, alpha, s, beta, x, tx, big_t, c_tx):
    """Tanh-sinh pieces of the dropout integral for offsets ``c_tx`` = c + t_x (columns)."""
    p, q = r + x, s + 1.0
    rho = p + q - 1.0
    l_c_tx = np.log(c_tx)
    span = np.log1p((big_t - tx) / c_tx)  # log((c+T)/(c+t_x))
    one_minus_q = -np.expm1(-rho * span)  # 1 - z_T / z_tx
    # log(z / z_tx) at the nodes, accurate at both ends of the interval
    log_zr = np.concatenate(
        (np.log((1.0 - one_minus_q) + one_minus_q * _U_LO), np.log1p(-one_minus_q * _V_HI)),
        axis=1,
    )
    shift = log_zr / -rho  # log((c+y)/(c+t_x))
    y = tx + c_tx * np.expm1(shift)
    l_ay = np.log(alpha + y)
    l_by = np.log(beta + y)
    log_h = (rho + 1.0) * (l_c_tx + shift) - p * l_ay - q * l_by + _LOG_W
    top = log_h.max(axis=1, keepdims=True)
    e = np.exp(log_h - top)
    tot = e.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_i = (-rho * l_c_tx + np.log(one_minus_q) - np.log(rho))[:, 0] + top[:, 0] + np.log(tot)
        gap = np.abs(2.0 * e[:, _EVEN].sum(axis=1) - tot) / tot
    return log_i, e, tot, y, l_ay, l_by, np.nan_to_num(gap)


def dropout_integral(r, alpha, s, beta, x, tx, big_t, moments: bool = False):
    """log I per customer (a flat array), and optionally the I-weighted means of
    log(alpha+y), 1/(alpha+y), log(beta+y), 1/(beta+y) over y in (t_x, T].

    The integrand is written as ``(c+y)^-(rho+1) h(y)`` with ``rho = r + s + x``;
    the substitution ``z = (c+y)^-rho`` leaves the smooth, bounded ``h``,
    integrated by tanh-sinh quadrature (23 nodes) on the normalised z-interval.
    The offset ``c`` is alpha or beta, that of the larger exponent; where the
    rule with half the nodes disagrees by more than :data:`TOLERANCE` (``h``
    steep, e.g. beta << alpha), the offset whose power has the integrand's
    log-slope at t_x is tried too and the better-converged result kept.
    """
    x, tx, big_t = (np.asarray(v, dtype=float).reshape(-1, 1) for v in (x, tx, big_t))
    p, q = r + x, s + 1.0
    first = np.where(p >= q, alpha + tx, beta + tx)
    parts = list(_quad(r, alpha, s, beta, x, tx, big_t, first))
    redo = np.flatnonzero(parts[-1] > TOLERANCE)
    if redo.size:
        slope = (p + q) / (p / (alpha + tx) + q / (beta + tx))
        alt = _quad(r, alpha, s, beta, x[redo], tx[redo], big_t[redo], slope[redo])
        better = alt[-1] < parts[-1][redo]
        rows = redo[better]
        for k, piece in enumerate(alt):
            parts[k][rows] = piece[better]
    log_i, e, tot, y, l_ay, l_by, _ = parts
    if not moments:
        return log_i

    def mean(g: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->i", e, g) / tot

    return log_i, mean(l_ay), mean(1.0 / (alpha + y)), mean(l_by), mean(1.0 / (beta + y))


class Data:
    """Compressed rows plus the distinct frequencies."""

    def __init__(self, x, tx, big_t, w):
        self.x, self.tx, self.big_t, self.w = x, tx, big_t, w
        self.ux, inv = np.unique(x, return_inverse=True)
        self.wx = np.bincount(inv, weights=w, minlength=self.ux.size)
        self.open = tx < big_t  # rows with a dropout window after the last purchase
        self.xo, self.txo, self.big_to, self.wo = (
            x[self.open],
            tx[self.open],
            big_t[self.open],
            w[self.open],
        )


def negll(theta: np.ndarray, d: Data) -> tuple[float, np.ndarray]:
    """Weighted negative log-likelihood and its gradient in log-parameters."""
    r, alpha, s, beta = np.exp(theta)
    n = d.w.sum()
    ll = dot(d.wx, gammaln(r + d.ux)) + n * (-gammaln(r) + r * np.log(alpha) + s * np.log(beta))
    g_r = dot(d.wx, digamma(r + d.ux)) + n * (np.log(alpha) - digamma(r))
    g_alpha = n * r / alpha
    g_s = n * np.log(beta)
    g_beta = n * s / beta
    # alive term for every row
    l_at = np.log(alpha + d.big_t)
    l_bt = np.log(beta + d.big_t)
    rx = r + d.x
    ll += dot(d.w, (-rx * l_at - s * l_bt))
    g_r -= dot(d.w, l_at)
    g_alpha -= dot(d.w, (rx / (alpha + d.big_t)))
    g_s -= dot(d.w, l_bt)
    g_beta -= dot(d.w, (s / (beta + d.big_t)))
    if d.xo.size:
        x, big_t = d.xo, d.big_to
        log_i, m_la, m_ia, m_lb, m_ib = dropout_integral(
            r, alpha, s, beta, x, d.txo, big_t, moments=True
        )
        rxo = r + x
        la, lb = np.log(alpha + big_t), np.log(beta + big_t)
        v = np.log(s) + log_i + rxo * la + s * lb  # log(s I / A)
        wi = expit(v)
        ll += dot(d.wo, np.logaddexp(0.0, v))
        ww = d.wo * wi
        g_r += dot(ww, (la - m_la))
        g_alpha += dot(ww, (rxo / (alpha + big_t) - rxo * m_ia))
        g_s += dot(ww, (1.0 / s + lb - m_lb))
        g_beta += dot(ww, (s / (beta + big_t) - (s + 1.0) * m_ib))
    grad = np.array([g_r * r, g_alpha * alpha, g_s * s, g_beta * beta])
    return -float(ll), -grad


def _start(comp):
    r0, alpha0 = rfm_start(comp)
    mean_t = float(np.average(comp.columns[2], weights=comp.weights))
    return r0, alpha0, 0.5, max(mean_t / 2.0, 1e-3)


def fit(
    frequency: Any, recency: Any, T: Any, weights: Any = None, *, time_unit: str = "weeks"
) -> FitResult:
    """Fit Pareto/NBD by maximum likelihood (same inputs as :func:`ltvxl.models.bgnbd.fit`)."""
    return fit_rfm(NAME, PARAMS, negll, Data, _start, frequency, recency, T, weights, time_unit)


def _log_alive_odds(params, x, tx, big_t):
    """log(s I / A): log-odds that the customer has dropped out by T."""
    r, alpha, s, beta = params
    x, tx, big_t = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, tx, big_t)))
    with np.errstate(divide="ignore"):
        log_i = dropout_integral(r, alpha, s, beta, x, tx, big_t).reshape(x.shape)
    return np.log(s) + log_i + (r + x) * np.log(alpha + big_t) + s * np.log(beta + big_t)


def p_alive(params: ParamsLike, frequency: Any, recency: Any, T: Any) -> np.ndarray:
    """Probability that a customer with history (x, t_x, T) is still alive at T."""
    return expit(-_log_alive_odds(params_of(params, PARAMS), frequency, recency, T))


def _growth(k: np.ndarray | float, u: np.ndarray) -> np.ndarray:
    """(1 - (1+u)^-k) / k, and its limit log(1+u) at k = 0."""
    k = np.asarray(k, dtype=float)
    lu = np.log1p(u)
    small = np.abs(k) < 1e-9
    ks = np.where(small, 1.0, k)
    return np.where(small, lu, -np.expm1(-ks * lu) / ks)


def expected(params: ParamsLike, t: Any) -> np.ndarray:
    """Expected purchases in (0, t] of a customer just acquired (t in the data's unit)."""
    r, alpha, s, beta = params_of(params, PARAMS)
    t = np.asarray(t, dtype=float)
    return r * beta / alpha * _growth(s - 1.0, t / beta)


def conditional_expected(
    params: ParamsLike, t: Any, frequency: Any, recency: Any, T: Any
) -> np.ndarray:
    """Expected purchases in (T, T + t] of a customer with history (x, t_x, T)."""
    p = params_of(params, PARAMS)
    r, alpha, s, beta = p
    t, x, big_t = (np.asarray(v, dtype=float) for v in (t, frequency, T))
    mean = (r + x) * (beta + big_t) / (alpha + big_t) * _growth(s - 1.0, t / (beta + big_t))
    return mean * p_alive(p, x, recency, big_t)


def loglik_hyp2f1(params: ParamsLike, frequency: Any, recency: Any, T: Any) -> np.ndarray:
    """Per-customer log-likelihood by the closed form with Gauss hypergeometric functions.

    The textbook expression (Fader & Hardie 2005, eq. 22), for checking the
    quadrature; it may overflow for customers with very many purchases.
    """
    r, alpha, s, beta = params_of(params, PARAMS)
    x, tx, big_t = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    rho = r + s + x
    if alpha >= beta:
        big, par = alpha, s + 1.0
        diff = alpha - beta
    else:
        big, par = beta, r + x
        diff = beta - alpha
    f1 = hyp2f1(rho, par, rho + 1.0, diff / (big + tx)) / (big + tx) ** rho
    f2 = hyp2f1(rho, par, rho + 1.0, diff / (big + big_t)) / (big + big_t) ** rho
    a0 = f1 - f2
    alive = 1.0 / ((alpha + big_t) ** (r + x) * (beta + big_t) ** s)
    return (
        gammaln(r + x)
        - gammaln(r)
        + r * np.log(alpha)
        + s * np.log(beta)
        + np.log(alive + s / rho * a0)
    )


_GL_X, _GL_W = np.polynomial.legendre.leggauss(96)


def prob_purchases(params: ParamsLike, n: Any, t: Any) -> np.ndarray:
    """P(X(t) = n): probability that a new customer makes n purchases in (0, t].

    Conditioning on the lifetime tau (Lomax: P(tau > y) = (beta/(beta+y))^s),
    X(t) is negative binomial in the active time w = min(tau, t):
    ``P = S(t) NB(n; t) + int_0^t f(y) NB(n; y) dy``, the integral by 96-point
    Gauss-Legendre quadrature in u = log(1 + y/beta) (t in the data's unit).
    """
    r, alpha, s, beta = params_of(params, PARAMS)
    n, t = np.broadcast_arrays(np.asarray(n, dtype=float), np.asarray(t, dtype=float))
    shape = n.shape
    n, t = n.reshape(-1, 1), t.reshape(-1, 1)

    def log_nb(w: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = (
                gammaln(r + n) - gammaln(r) - gammaln(n + 1.0)
                + r * np.log(alpha / (alpha + w)) + n * np.log(w / (alpha + w))
            )  # fmt: skip
        return np.where((w == 0) & (n == 0), 0.0, np.nan_to_num(out, nan=-np.inf))

    alive = np.exp(-s * np.log1p(t / beta) + log_nb(t))
    # y = beta (e^u - 1): f(y) dy = s e^(-s u) du on u in (0, log(1 + t/beta))
    top = np.log1p(t / beta)
    u = top * (_GL_X + 1.0) / 2.0
    y = beta * np.expm1(u)
    dead = (top / 2.0 * _GL_W * s * np.exp(-s * u + log_nb(y))).sum(axis=1, keepdims=True)
    return (alive + dead).reshape(shape)
