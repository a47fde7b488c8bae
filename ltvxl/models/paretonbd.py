"""The Pareto/NBD model (Schmittlein, Morrison & Colombo 1987).

While alive a customer buys as a Poisson process of rate lambda ~ Gamma(r,
alpha); her lifetime is exponential with rate mu ~ Gamma(s, beta). Data per
customer: frequency x, recency t_x and T, in one time unit (days, weeks or
months); alpha, beta and every time argument t are in that unit.

The likelihood (Fader & Hardie 2005, "A Note on Deriving the Pareto/NBD Model")
is ``G(r+x) alpha^r beta^s / G(r) [A + s I]`` with the alive term
``A = (alpha+T)^-(r+x) (beta+T)^-s`` and the dropout integral
``I = int_{t_x}^{T} (alpha+y)^-(r+x) (beta+y)^-(s+1) dy``, usually written with
a Gauss hypergeometric function 2F1 that overflows or loses precision for
customers with many purchases and whose derivatives in r and s have no closed
form. Here ``log I`` and its four derivatives come from the hypergeometric
series itself, summed term by term in a form without overflow
(:func:`_series`), wherever it converges quickly, which is nearly every row of
real data; where beta is far above alpha + T (customers sharing one dropout
rate: the fit runs along a ridge with s and beta growing) a series in powers
of (alpha+y)/(beta-alpha), integrated exactly term by term (:func:`_far_series`);
the other rows (beta far from alpha and a short history) are integrated by
tanh-sinh quadrature after the substitution ``z = (c+y)^-(r+s+x)``
(:func:`_quadrature`). :func:`loglik_hyp2f1` is the textbook closed form, kept
as an independent check.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import digamma, expit, gammaln, hyp2f1

from ltvxl.units import DEFAULT_UNIT

from .base import (
    LIMIT_TOL,
    FitResult,
    Limit,
    ParamsLike,
    compress,
    dot,
    fit_rfm,
    params_of,
    rfm_start,
)
from .registry import PNBD

NAME = PNBD.name
PARAMS = PNBD.params

SERIES_Z = 0.5
"""Rows whose series ratio |z| is at most this are summed as a series (at most
:data:`SERIES_TERMS` terms); the others are integrated numerically."""
SERIES_TERMS = 64
_BLOCK = 4  # series terms between convergence checks
_CHUNK = 16384  # rows summed together (their arrays stay in the processor's cache)
_EPS = 2.0**-53


def _series(rho, m, z, u, log_u, grad: bool, ordered: bool = False) -> np.ndarray:
    """``S = sum_k (m)_k / k! z^k (1 - u^(rho+k)) / (rho+k)`` per row, and with ``grad``
    its partial derivatives in m, z, rho and u: an array of 1 or 5 rows, NaN where
    the series has not met its tolerance after :data:`SERIES_TERMS` terms.

    ``rho``, ``z``, ``u`` (in (0, 1]) and ``log_u`` are flat arrays of one length,
    |z| < 1; ``m`` is a number or such an array. Rows are ordered by |z|, largest
    first (unless ``ordered``: the caller's rows are, e.g. by t_x), and summed in
    chunks of :data:`_CHUNK` rows (see :func:`_series_chunk`).
    """
    n = rho.size
    if ordered:
        cols, m_s = [rho, z, u, log_u], m
    else:
        key = (255.0 - np.minimum(np.abs(z) * 510.0, 255.0)).astype(np.uint8)
        order = np.argsort(key, kind="stable")  # a radix sort: |z| (binned) largest first
        cols = [v.take(order) for v in (rho, z, u, log_u)]
        m_s = m.take(order) if np.ndim(m) else float(m)
    out = np.empty((5 if grad else 1, n))
    for lo in range(0, n, _CHUNK):
        hi = min(lo + _CHUNK, n)
        m_c = m_s[lo:hi] if np.ndim(m_s) else m_s
        rho_c, z_c, u_c, log_u_c = (v[lo:hi] for v in cols)
        out[:, lo:hi] = _series_chunk(rho_c, z_c, u_c, log_u_c, m_c, grad)
    if ordered:
        return out
    res = np.empty_like(out)
    res[:, order] = out
    return res


def _series_chunk(rho, z, u, log_u, m, grad: bool) -> np.ndarray:
    """:func:`_series` on rows ordered by |z|, largest first.

    Every term is formed by recurrences, without powers or special functions:
    ``(m)_k z^k / k!`` by its ratio, ``u^(rho+k)`` by products and ``1 - u^(rho+k)``
    by adding ``u^(rho+k) (1-u)``, so nothing cancels for u near 1. Since
    ``(1 - u^(rho+k)) / (rho+k)`` falls with k, the terms after term k shrink at
    least by the ratio ``|z| max((m+k)/(k+1), 1)`` each; a row is done when the
    terms left are below 2^-53 of the sum (the derivatives' terms carry an extra
    factor of about k, so their relative accuracy is about 1e-14).
    Terms are added in blocks of :data:`_BLOCK` to the leading rows up to the last
    one not done (rows ordered by |z| finish roughly from the end).
    """
    n = rho.size
    scalar_m = not np.ndim(m)
    one_minus_u = -np.expm1(log_u)
    big_u = np.exp(rho * log_u)  # u^(rho+k)
    d = -np.expm1(rho * log_u)  # 1 - u^(rho+k)
    p = np.ones(n)  # (m)_k z^k / k!
    q = np.zeros(n)  # k (m)_k z^(k-1) / k!, the coefficient of the derivative in z
    h: Any = 0.0 if scalar_m else np.zeros(n)  # sum_{j<k} 1/(m+j) = d/dm log (m)_k
    # S, S_m, S_z, sum a/(rho+k), sum p U/(rho+k), sum p U
    acc = np.zeros((6 if grad else 1, n))
    s, s_m, s_z, s_a, s_pu, s_uu = acc if grad else (acc[0], *([np.empty(0)] * 5))  # unused
    inv, mk, a, pu = (np.empty(n) for _ in range(4))
    active, k = n, 0
    open_rows = np.zeros(0, dtype=bool)
    while active and k < SERIES_TERMS:
        sl = slice(0, active)
        rho_, d_, p_, q_, bu_ = rho[sl], d[sl], p[sl], q[sl], big_u[sl]
        inv_, mk_, a_, pu_ = inv[sl], mk[sl], a[sl], pu[sl]
        z_, u_, omu_ = z[sl], u[sl], one_minus_u[sl]
        m_ = m if scalar_m else m[sl]
        h_ = h if scalar_m else h[sl]
        for _ in range(_BLOCK):
            np.add(rho_, k, out=inv_)
            np.reciprocal(inv_, out=inv_)
            np.multiply(d_, inv_, out=mk_)
            np.multiply(p_, mk_, out=a_)
            s[sl] += a_
            if grad:
                s_m[sl] += a_ * h_
                s_z[sl] += q_ * mk_
                s_a[sl] += a_ * inv_
                np.multiply(p_, bu_, out=pu_)
                s_uu[sl] += pu_
                pu_ *= inv_
                s_pu[sl] += pu_
                h_ = h_ + 1.0 / (m_ + k)
            d_ += bu_ * omu_
            bu_ *= u_
            np.multiply(p_, m_ + k, out=q_)
            np.multiply(q_, z_, out=p_)
            p_ *= 1.0 / (k + 1.0)
            k += 1
        if not scalar_m:
            h[sl] = h_
        else:
            h = h_
        # a_ holds term k-1; the ratio of each later term to the one before is below
        ratio = np.abs(z_) * np.maximum((m_ + (k - 1)) / k, 1.0)
        open_rows = ~((ratio < 1.0) & (np.abs(a_) * ratio <= _EPS * (1.0 - ratio) * np.abs(s[sl])))
        left = np.flatnonzero(open_rows)
        active = int(left[-1]) + 1 if left.size else 0
    out = np.array([s, s_m, s_z, -log_u * s_pu - s_a, -s_uu / u] if grad else [s])
    if active:  # not converged in SERIES_TERMS terms
        out[:, np.flatnonzero(open_rows)] = np.nan
    return out


def _tanh_sinh(step: float, k_max: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tanh-sinh nodes u on (0, 1), 1 - u (exact near 1) and weights."""
    k = np.arange(-k_max, k_max + 1) * step
    s = np.pi / 2 * np.sinh(k)
    u = 1.0 / (1.0 + np.exp(-2 * s))
    v = 1.0 / (1.0 + np.exp(2 * s))
    w = step * np.pi / 2 * np.cosh(k) / np.cosh(s) ** 2 / 2
    return u, v, w


_STEP, _K_MAX = 0.15, 24
_U, _V, _W = _tanh_sinh(_STEP, _K_MAX)
_LOG_W = np.log(_W)
_HALF = _U.size // 2 + 1  # nodes [0, _HALF) have u <= 1/2
_U_LO, _V_HI = _U[:_HALF], _V[_HALF:]


_EVEN = np.arange(0, _U.size, 2)  # the nodes of the rule with twice the step (k even)
TOLERANCE = 1e-3
"""Relative gap between the 49- and 25-node rules above which the other offset is tried."""


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


def _quadrature(r, alpha, s, beta, x, tx, big_t, grad: bool) -> list[np.ndarray]:
    """[log I] or [log I, d log I / d(r, alpha, s, beta)] by tanh-sinh quadrature (flat
    arrays in, flat arrays out).

    The integrand is written as ``(c+y)^-(rho+1) h(y)`` with ``rho = r + s + x``;
    the substitution ``z = (c+y)^-rho`` leaves the smooth, bounded ``h``,
    integrated with 23 nodes on the normalised z-interval. The offset ``c`` is
    alpha or beta, that of the larger exponent; where the rule with half the
    nodes disagrees by more than :data:`TOLERANCE` (``h`` steep, e.g. beta <<
    alpha), the offset whose power has the integrand's log-slope at t_x is tried
    too and the better-converged result kept. The derivatives are I-weighted
    means over y: d/dr = -E[log(alpha+y)], d/dalpha = -(r+x) E[1/(alpha+y)], and
    likewise for s and beta with exponent s+1.
    """
    x, tx, big_t = (v.reshape(-1, 1) for v in (x, tx, big_t))
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
    if not grad:
        return [log_i]

    def mean(g: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->i", e, g) / tot

    return [
        log_i,
        -mean(l_ay),
        -p[:, 0] * mean(1.0 / (alpha + y)),
        -mean(l_by),
        -q * mean(1.0 / (beta + y)),
    ]


FAR_TERMS = 160
"""Most terms of :func:`_far_series` before a row goes to quadrature instead."""
_FAR_SPREAD = 7.0  # at most e^7 between the sum of |terms| and |sum| (about 3e-14 relative)
_NEAR = 1e-3  # |e L| below which g(e) and g'(e) are taken from their Taylor series


def _far_series(r, alpha, s, beta, x, tx, big_t, grad: bool) -> np.ndarray:
    """[log I] or [log I, d log I / d(r, alpha, s, beta)] (rows of an array) where beta
    is far above alpha + T, NaN where the series has not converged in
    :data:`FAR_TERMS` terms.

    With ``D = beta - alpha``, ``p = r + x``, ``q = s + 1`` and ``a(y) = alpha + y``,
    ``(beta+y)^-q = D^-q (1 + a/D)^-q`` is expanded in powers of ``a/D`` and
    integrated term by term, exactly: ``I = D^-q a_T^(1-p) S`` with
    ``S = sum_k (q)_k/k! (-v)^k g(k+1-p)``, ``v = a_T/D``, ``L = log(a_T/a_tx)`` and
    ``g(e) = (1 - e^(-eL))/e`` (``= L`` at e = 0: the log term, no pole). The
    terms alternate; :func:`dropout_integral` sends rows here only where
    ``v <= 1/2`` and ``q log((1+v)/(1-v)) <=`` :data:`_FAR_SPREAD` (the sum of
    |terms| is then at most e^7 times the sum, about 14 bits of cancellation).
    Rows are taken by v, largest first, in chunks of :data:`_CHUNK` rows, and
    each block of terms goes only to the rows of the chunk still open (see
    :func:`_far_chunk`). The derivatives come from the same terms: in p through
    ``g'(e) = (L e^(-eL) - g)/e`` (a Taylor series where |eL| < 1e-3), in q
    through ``d/dq log (q)_k``, in v term by term; in L in closed form, since
    ``dS/dL = e^((p-1)L) (1 + v e^-L)^-q`` (the integrand at the end of the
    interval: the binomial series summed).
    """
    p, q = r + x, s + 1.0
    d = beta - alpha
    a_t, a_tx = alpha + big_t, alpha + tx
    v = a_t / d
    big_l = np.log1p((big_t - tx) / a_tx)
    res, ok = _far_chunks(q, p, v, big_l, grad)
    sum_ = res[0]
    l_d, l_at = np.log(d), np.log(a_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_s = np.log(sum_)
        log_i = log_s - q * l_d + (1.0 - p) * l_at
    bad = ~((sum_ > 0) & ok)
    log_i[bad] = np.nan
    if not grad:
        return log_i[None]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s_p, s_kt, s_q = res[1:] / sum_
        s_v = s_kt / v
        s_l = np.exp((p - 1.0) * big_l - q * np.log1p(a_tx / d) - log_s)
    dv_da = v / a_t + v / d
    dl_da = 1.0 / a_t - 1.0 / a_tx
    return np.array(
        [
            log_i,
            s_p - l_at,
            q / d + (1.0 - p) / a_t + s_v * dv_da + s_l * dl_da,
            s_q - l_d,
            -q / d - s_v * v / d,
        ]
    )


def _far_chunks(q, p, v, big_l, grad: bool) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_far_chunk` over all rows, in chunks of :data:`_CHUNK` rows sorted by ``v``
    (largest first, so each chunk's terms need a similar number of steps); the sums (and
    with ``grad`` their derivatives) and the converged flags, in the rows' own order."""
    order = np.argsort(-v, kind="stable")
    cols = [c.take(order) for c in (p, v, big_l)]
    n = p.size
    acc = np.empty((4 if grad else 1, n))
    done = np.empty(n, dtype=bool)
    for lo in range(0, n, _CHUNK):
        hi = min(lo + _CHUNK, n)
        p_c, v_c, l_c = (c[lo:hi] for c in cols)
        acc[:, lo:hi], done[lo:hi] = _far_chunk(q, p_c, v_c, l_c, grad)
    res = np.empty_like(acc)
    res[:, order] = acc
    ok = np.empty(n, dtype=bool)
    ok[order] = done
    return res, ok


def _far_chunk(q, p, v, big_l, grad: bool) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_far_series`' sums on rows ordered by v, largest first: (rows S, dS/dp,
    sum_k k t_k (= v dS/dv), dS/dq, or S alone; whether each row converged).
    ``q = None``: the limit q -> infinity with ``v`` standing for q v (the coefficients
    ``(-v)^k / k!``, :func:`_common_series`); the row dS/dq is then 0.

    In place on preallocated arrays, a block of :data:`_BLOCK` terms at a time to the
    leading rows up to the last one still open. ``(-v)^k (q)_k / k!`` and ``e = k+1-p``
    come by recurrence; ``g`` and ``g'`` from one ``expm1`` per term
    (``e^(-eL) = 1 - e g``); the Taylor forms only on the rows and at the term where
    ``|eL|`` is below :data:`_NEAR` (e nearest 0: k = p - 1 rounded).
    """
    n = p.size
    limit = q is None
    e = 1.0 - p  # k + 1 - p
    c = np.ones(n)  # (q)_k (-v)^k / k!
    acc = np.zeros((4 if grad else 1, n))
    el, g, t, tmp = (np.empty(n) for _ in range(4))
    k_near = np.rint(p - 1.0)
    near_rows = np.flatnonzero((k_near >= 0) & (np.abs((k_near + 1.0 - p) * big_l) < _NEAR))
    near = {int(k): near_rows[k_near[near_rows] == k] for k in np.unique(k_near[near_rows])}
    h = 0.0  # sum_{j<k} 1/(q+j)
    active, k = n, 0
    open_rows = np.ones(n, dtype=bool)
    while active and k < FAR_TERMS:
        sl = slice(0, active)
        e_, l_, c_, v_, el_, g_, t_, tmp_ = (a[sl] for a in (e, big_l, c, v, el, g, t, tmp))
        s_, sp_, skt_, sq_ = acc[:, sl] if grad else (acc[0, sl], *([np.empty(0)] * 3))
        for _ in range(_BLOCK):
            np.multiply(e_, l_, out=el_)
            np.negative(el_, out=g_)
            np.expm1(g_, out=g_)
            with np.errstate(divide="ignore", invalid="ignore"):
                np.divide(g_, e_, out=g_)
            np.negative(g_, out=g_)  # g(e) = (1 - e^(-eL)) / e
            rows = near.get(k)
            if rows is not None:
                rows = rows[rows < active]
                eln, ln = el_[rows], l_[rows]
                g_[rows] = ln * (1 - eln / 2 * (1 - eln / 3 * (1 - eln / 4)))
            np.multiply(c_, g_, out=t_)
            s_ += t_
            if grad:
                # g'(e) = (L e^(-eL) - g)/e = (L - g (1 + eL))/e
                np.add(el_, 1.0, out=tmp_)
                tmp_ *= g_
                np.subtract(l_, tmp_, out=tmp_)
                with np.errstate(divide="ignore", invalid="ignore"):
                    tmp_ /= e_
                if rows is not None:
                    tmp_[rows] = -ln * ln * (0.5 - eln / 3 * (1 - 3 * eln / 8 * (1 - 2 * eln / 5)))
                tmp_ *= c_
                sp_ -= tmp_
                if k:
                    np.multiply(t_, float(k), out=tmp_)
                    skt_ += tmp_
                    if not limit:
                        np.multiply(t_, h, out=tmp_)
                        sq_ += tmp_
                if not limit:
                    h += 1.0 / (q + k)
            c_ *= (-1.0 if limit else -(q + k)) / (k + 1.0)
            c_ *= v_
            e_ += 1.0
            k += 1
        # t holds term k-1; the later terms fall at least by this ratio each
        ratio = (1.0 if limit else q + k - 1.0) / k * v_
        small_tail = np.abs(t_) * ratio <= _EPS * (1.0 - ratio) * np.abs(s_)
        open_rows = ~((ratio < 1.0) & small_tail)
        left = np.flatnonzero(open_rows)
        active = int(left[-1]) + 1 if left.size else 0
    done = np.ones(n, dtype=bool)
    if active:
        done[np.flatnonzero(open_rows)] = False
    return acc, done


def dropout_integral(r, alpha, s, beta, x, tx, big_t, grad: bool = False, ordered: bool = False):
    """log I per customer (a flat array), and with ``grad`` also its derivatives in
    r, alpha, s and beta: ``(log I, d_r, d_alpha, d_s, d_beta)``.

    Written around an offset c (alpha or beta), with ``rho = r + s + x``,
    ``I = (c+t_x)^-rho S`` where S is the Gauss hypergeometric series
    ``sum_k (m)_k/k! z^k (1 - u^(rho+k)) / (rho+k)``, u = (c+t_x)/(c+T),
    from expanding the other factor in powers of z = (c-c')/(c+t_x) and
    integrating term by term: with c = alpha, m = s+1 and c' = beta; with
    c = beta, m = r+x and c' = alpha. Rows with |z| <= :data:`SERIES_Z` for
    c = alpha (alpha and beta not far apart relative to alpha + t_x: nearly all
    customers of fitted models) use that series; otherwise, when beta > alpha
    and the series in powers of (beta-alpha)/(beta+t_x) converges within a few
    dozen terms, that one; the rest, and any row whose series does not meet its
    tolerance in :data:`SERIES_TERMS` terms, go to :func:`_far_series` where beta
    is far enough above alpha + T for it (see there), else to :func:`_quadrature`.
    The derivatives come from the same series, term by term. ``ordered``: the rows
    are sorted by t_x (the fit's data are), which spares the series its sorting.
    """
    x, tx, big_t = (np.asarray(v, dtype=float).ravel() for v in (x, tx, big_t))
    n = x.size
    out = np.empty((5 if grad else 1, n))
    rho = r + s + x
    pending = np.ones(n, dtype=bool)
    for c, other, m_of in ((alpha, beta, "s"), (beta, alpha, "r")):
        c_tx = c + tx
        z = (c - other) / c_tx
        if m_of == "s":
            sel = np.abs(z) <= SERIES_Z
        else:  # only where the coefficients (r+x)_k / k! do not grow long
            sel = pending & (z > 0.0) & (z <= SERIES_Z) & ((r + x) * z <= 8.0 * (1.0 - z))
        rows = None if sel.all() else np.flatnonzero(sel)  # None: every row
        if rows is not None:
            if not rows.size:
                continue
            c_tx, z, tx_r, t_r, rho_r = (v.take(rows) for v in (c_tx, z, tx, big_t, rho))
        else:
            tx_r, t_r, rho_r = tx, big_t, rho
        c_t = c + t_r
        one_minus_u = (t_r - tx_r) / c_t
        log_u = np.log1p(-one_minus_u)
        m = s + 1.0 if m_of == "s" else r + (x if rows is None else x.take(rows))
        res = _series(rho_r, m, z, c_tx / c_t, log_u, grad, ordered)
        l_c = np.log(c_tx)
        with np.errstate(divide="ignore"):
            log_s = np.log(res[0])
        ok = ~np.isnan(log_s)
        if not ok.all():
            rows = np.flatnonzero(ok) if rows is None else rows[ok]
            log_s, l_c, z, c_tx, c_t, one_minus_u, rho_r = (
                v[ok] for v in (log_s, l_c, z, c_tx, c_t, one_minus_u, rho_r)
            )
            res = res[:, ok]
        at = slice(None) if rows is None else rows
        pending[at] = False
        out[0, at] = log_s - rho_r * l_c
        if grad:
            s_, s_m, s_z, s_rho, s_u = res
            d_rho = s_rho / s_ - l_c  # through rho = r + s + x
            d_c = (s_z * (1.0 - z) / c_tx + s_u * one_minus_u / c_t) / s_ - rho_r / c_tx
            d_other = -s_z / (c_tx * s_)
            d_m = d_rho + s_m / s_
            if m_of == "s":  # (d_r, d_alpha, d_s, d_beta)
                out[1:, at] = (d_rho, d_c, d_m, d_other)
            else:
                out[1:, at] = (d_m, d_other, d_rho, d_c)
        if rows is None:
            break
    a_t = alpha + big_t
    far = np.flatnonzero(
        pending
        & (tx < big_t)
        & (2.0 * a_t <= beta - alpha)
        & ((s + 1.0) * np.log1p(2.0 * a_t / np.maximum(beta - alpha - a_t, a_t)) <= _FAR_SPREAD)
    )
    if far.size:
        res = _far_series(r, alpha, s, beta, x[far], tx[far], big_t[far], grad)
        ok = ~np.isnan(res).any(axis=0)
        out[:, far[ok]] = res[:, ok]
        pending[far[ok]] = False
    rest = np.flatnonzero(pending)
    if rest.size:
        out[:, rest] = _quadrature(r, alpha, s, beta, x[rest], tx[rest], big_t[rest], grad)
    return tuple(out) if grad else out[0]


COMMON_S = 1e8
"""s from which the Gamma(s, beta) dropout rates (coefficient of variation 1/sqrt(s),
1e-4) are taken as their limit, one rate mu = s/beta for every customer: the functions
of this module evaluate that limit exactly there (it differs from the finite-s model by
about (mu T)^2 / s, less than the finite-s formulas' own rounding at such s). A fit at
the limit reports s = COMMON_S and beta = COMMON_S / mu (see :func:`fit`)."""


def _common_series(r, alpha, mu, x, tx, big_t, grad: bool) -> np.ndarray:
    """[log J] or [log J, d log J / d(r, alpha, mu)] of the common-rate dropout integral
    ``J = int_{t_x}^{T} (alpha+y)^-(r+x) e^(-mu y) dy`` (see :func:`common_integral`) by
    :func:`_far_series`' series in its limit q -> infinity, q v -> w = mu (alpha+T):
    ``J = e^(mu alpha) a_T^(1-p) S``, ``S = sum_k (-w)^k / k! g(k+1-p)`` (``g`` and
    ``L`` as there); rows with t_x < T only, NaN where the series has not converged.
    ``dS/dL = e^((p-1)L - mu a_tx)``, the integrand at the end of the interval."""
    p = r + x
    a_t, a_tx = alpha + big_t, alpha + tx
    w = mu * a_t
    big_l = np.log1p((big_t - tx) / a_tx)
    res, ok = _far_chunks(None, p, w, big_l, grad)
    sum_ = res[0]
    l_at = np.log(a_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_s = np.log(sum_)
        log_j = log_s + mu * alpha + (1.0 - p) * l_at
    log_j[~((sum_ > 0) & ok)] = np.nan
    if not grad:
        return log_j[None]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s_p = res[1] / sum_
        s_w = res[2] / (sum_ * w)
        s_l = np.exp((p - 1.0) * big_l - mu * a_tx - log_s)
    return np.array(
        [
            log_j,
            s_p - l_at,
            mu + (1.0 - p) / a_t + s_w * mu + s_l * (1.0 / a_t - 1.0 / a_tx),
            alpha + s_w * a_t,
        ]
    )


def _common_quadrature(r, alpha, mu, x, tx, big_t, grad: bool) -> list[np.ndarray]:
    """:func:`common_integral` by tanh-sinh quadrature (as :func:`_quad`): the integrand
    written ``(alpha+y)^-(rho+1) h(y)`` with ``rho = r + x + mu (alpha + t_x)`` (its
    log-slope at t_x, plus one), so that ``h = (alpha+y)^(1 + mu (alpha+t_x)) e^(-mu y)``
    is smooth and bounded, integrated over ``z = (alpha+y)^-rho``. The derivatives are
    J-weighted means over y: d/dr = -E[log(alpha+y)], d/dalpha = -(r+x) E[1/(alpha+y)],
    d/dmu = -E[y]."""
    x, tx, big_t = (v.reshape(-1, 1) for v in (x, tx, big_t))
    p = r + x
    a_tx = alpha + tx
    rho = p + mu * a_tx
    l_c_tx = np.log(a_tx)
    span = np.log1p((big_t - tx) / a_tx)
    one_minus_q = -np.expm1(-rho * span)
    log_zr = np.concatenate(
        (np.log((1.0 - one_minus_q) + one_minus_q * _U_LO), np.log1p(-one_minus_q * _V_HI)),
        axis=1,
    )
    shift = log_zr / -rho  # log((alpha+y)/(alpha+t_x))
    y = tx + a_tx * np.expm1(shift)
    l_ay = l_c_tx + shift
    log_h = (1.0 + mu * a_tx) * l_ay - mu * y + _LOG_W
    top = log_h.max(axis=1, keepdims=True)
    e = np.exp(log_h - top)
    tot = e.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_j = (-rho * l_c_tx + np.log(one_minus_q) - np.log(rho))[:, 0] + top[:, 0]
        log_j += np.log(tot)
    if not grad:
        return [log_j]

    def mean(g: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->i", e, g) / tot

    return [log_j, -mean(l_ay), -p[:, 0] * mean(np.exp(-l_ay)), -mean(y)]


def common_integral(r, alpha, mu, x, tx, big_t, grad: bool = False):
    """log J per customer, and with ``grad`` its derivatives in r, alpha and mu, where
    ``J = int_{t_x}^{T} (alpha+y)^-(r+x) e^(-mu y) dy`` is the dropout integral of the
    Pareto/NBD's limit s, beta -> infinity with s/beta = mu (one dropout rate mu for
    every customer; ``s beta^s I -> mu J``). Rows with t_x < T (J = 0 otherwise).

    The series of :func:`_common_series` where ``2 mu (alpha+T) <=`` :data:`_FAR_SPREAD`
    (at most e^7 of cancellation) and it converges; :func:`_common_quadrature` elsewhere.
    """
    x, tx, big_t = (np.asarray(v, dtype=float).ravel() for v in (x, tx, big_t))
    n = x.size
    out = np.empty((4 if grad else 1, n))
    pending = np.ones(n, dtype=bool)
    sel = np.flatnonzero(2.0 * mu * (alpha + big_t) <= _FAR_SPREAD)
    if sel.size:
        res = _common_series(r, alpha, mu, x[sel], tx[sel], big_t[sel], grad)
        ok = ~np.isnan(res).any(axis=0)
        out[:, sel[ok]] = res[:, ok]
        pending[sel[ok]] = False
    rest = np.flatnonzero(pending)
    if rest.size:
        out[:, rest] = _common_quadrature(r, alpha, mu, x[rest], tx[rest], big_t[rest], grad)
    return tuple(out) if grad else out[0]


class Data:
    """Compressed rows ordered by t_x (the order in which the dropout series need more
    terms, see :func:`_series`), plus the distinct frequencies."""

    def __init__(self, x, tx, big_t, w):
        # a radix sort on t_x in 65,536 steps: close enough to sorted for the series
        top = float(tx.max()) if tx.size else 0.0
        key = (tx * (65535.0 / top) if top > 0 else np.zeros(tx.size)).astype(np.uint16)
        order = np.argsort(key, kind="stable")
        x, tx, big_t, w = (v.take(order) for v in (x, tx, big_t, w))
        is_open = tx < big_t  # rows with a dropout window after the last purchase, first
        n_open = int(is_open.sum())
        if n_open < x.size:
            order = np.concatenate((np.flatnonzero(is_open), np.flatnonzero(~is_open)))
            x, tx, big_t, w = (v.take(order) for v in (x, tx, big_t, w))
        self.x, self.tx, self.big_t, self.w = x, tx, big_t, w
        self.n_open = n_open
        self.xo, self.txo, self.big_to, self.wo = (v[:n_open] for v in (x, tx, big_t, w))
        self.ux, inv = np.unique(x, return_inverse=True)
        self.wx = np.bincount(inv, weights=w, minlength=self.ux.size)


def negll(theta: np.ndarray, d: Data) -> tuple[float, np.ndarray]:
    """Weighted negative log-likelihood and its gradient in log-parameters."""
    r, alpha, s, beta = np.exp(theta)
    n = d.w.sum()
    ll = dot(d.wx, gammaln(r + d.ux)) + n * (-gammaln(r) + r * np.log(alpha))
    g_r = dot(d.wx, digamma(r + d.ux)) + n * (np.log(alpha) - digamma(r))
    g_alpha = n * r / alpha
    # alive term for every row; s log(beta / (beta + T)) as one log1p per row, not the
    # difference of two sums of s log(.), which at s = 1e7 cancel to 1e-4 of the total
    l_at = np.log(alpha + d.big_t)
    l_bt = np.log(beta + d.big_t)
    l_tb = np.log1p(d.big_t / beta)
    inv_at = 1.0 / (alpha + d.big_t)
    inv_bt = 1.0 / (beta + d.big_t)
    rx = r + d.x
    ll -= dot(d.w, rx * l_at + s * l_tb)
    g_r -= dot(d.w, l_at)
    g_alpha -= dot(d.w, rx * inv_at)
    g_s = -dot(d.w, l_tb)
    g_beta = s / beta * dot(d.w, d.big_t * inv_bt)
    if d.xo.size:
        log_i, d_r, d_alpha, d_s, d_beta = dropout_integral(
            r, alpha, s, beta, d.xo, d.txo, d.big_to, grad=True, ordered=True
        )
        k = d.n_open
        rx, l_at, l_bt, inv_at, inv_bt = (v[:k] for v in (rx, l_at, l_bt, inv_at, inv_bt))
        v = np.log(s) + log_i + rx * l_at + s * l_bt  # log(s I / A)
        # log(1 + e^v) and the dropout weight e^v / (1 + e^v) share one exponential
        e = np.exp(-np.abs(v))
        ll += dot(d.wo, np.log1p(e) + np.maximum(v, 0.0))
        ww = d.wo * np.maximum(e, v >= 0.0) / (1.0 + e)
        g_r += dot(ww, l_at + d_r)
        g_alpha += dot(ww, rx * inv_at + d_alpha)
        g_s += dot(ww, 1.0 / s + l_bt + d_s)
        g_beta += dot(ww, s * inv_bt + d_beta)
    grad = np.array([g_r * r, g_alpha * alpha, g_s * s, g_beta * beta])
    return -float(ll), -grad


def negll_value(theta: np.ndarray, d: Data) -> float:
    """:func:`negll`'s value alone (the dropout integral without its derivatives)."""
    r, alpha, s, beta = np.exp(theta)
    n = d.w.sum()
    ll = dot(d.wx, gammaln(r + d.ux)) + n * (-gammaln(r) + r * np.log(alpha))
    l_at = np.log(alpha + d.big_t)
    l_bt = np.log(beta + d.big_t)
    rx = r + d.x
    ll -= dot(d.w, rx * l_at + s * np.log1p(d.big_t / beta))
    if d.xo.size:
        log_i = dropout_integral(r, alpha, s, beta, d.xo, d.txo, d.big_to, ordered=True)
        k = d.n_open
        v = np.log(s) + log_i + rx[:k] * l_at[:k] + s * l_bt[:k]
        ll += dot(d.wo, np.log1p(np.exp(-np.abs(v))) + np.maximum(v, 0.0))
    return -float(ll)


def common_negll(theta: np.ndarray, d: Data) -> tuple[float, np.ndarray]:
    """Weighted negative log-likelihood of the common-rate limit (s, beta -> infinity,
    s/beta = mu: every customer's lifetime exponential with rate mu) and its gradient in
    (log r, log alpha, log mu): ``G(r+x)/G(r) alpha^r [A + mu J]`` with
    ``A = (alpha+T)^-(r+x) e^(-mu T)`` and J of :func:`common_integral`."""
    r, alpha, mu = np.exp(theta)
    n = d.w.sum()
    ll = dot(d.wx, gammaln(r + d.ux)) + n * (-gammaln(r) + r * np.log(alpha))
    g_r = dot(d.wx, digamma(r + d.ux)) + n * (np.log(alpha) - digamma(r))
    g_alpha = n * r / alpha
    l_at = np.log(alpha + d.big_t)
    inv_at = 1.0 / (alpha + d.big_t)
    rx = r + d.x
    ll -= dot(d.w, rx * l_at) + mu * dot(d.w, d.big_t)
    g_r -= dot(d.w, l_at)
    g_alpha -= dot(d.w, rx * inv_at)
    g_mu = -dot(d.w, d.big_t)
    if d.xo.size:
        log_j, d_r, d_alpha, d_mu = common_integral(
            r, alpha, mu, d.xo, d.txo, d.big_to, grad=True
        )
        k = d.n_open
        rx, l_at, inv_at = (v[:k] for v in (rx, l_at, inv_at))
        v = np.log(mu) + log_j + rx * l_at + mu * d.big_to  # log(mu J / A)
        e = np.exp(-np.abs(v))
        ll += dot(d.wo, np.log1p(e) + np.maximum(v, 0.0))
        ww = d.wo * np.maximum(e, v >= 0.0) / (1.0 + e)
        g_r += dot(ww, l_at + d_r)
        g_alpha += dot(ww, rx * inv_at + d_alpha)
        g_mu += dot(ww, 1.0 / mu + d_mu + d.big_to)
    grad = np.array([g_r * r, g_alpha * alpha, g_mu * mu])
    return -float(ll), -grad


INSIDE_S = (1e2, 1e3, 1e4)
"""s at which the fit compares the full model (at the limit's r, alpha and s/beta) with
its common-rate limit inside the boundary (spreads of the dropout rates of 10 %, 3 % and
1 %): if the full model is better at any of them by more than ``base.LIMIT_TOL``, its
optimum is interior and the fit goes on. Not beyond 1e4: there the full model's own
rounding (s log beta of order 1e5 and more, summed over the rows) reaches 1e-3 on
100,000s of customers, and on simulated data with 150,000 customers its log-likelihood at
s = 1e6 to 1e7 came out 0.01 above the limit's, which is its supremum."""


def _common_limit(data: Data, time_unit: str) -> Limit:
    """The limit s, beta -> infinity with s/beta = mu fixed, for :func:`fit`."""
    unit = time_unit[:-1] if time_unit.endswith("s") else time_unit

    def start(p: dict[str, float]) -> np.ndarray:
        return np.log([p["r"], p["alpha"], p["s"] / p["beta"]])

    def embed(p: dict[str, float]) -> dict[str, float]:
        return {"r": p["r"], "alpha": p["alpha"], "s": COMMON_S, "beta": COMMON_S / p["mu"]}

    def beaten(theta: np.ndarray, f_lim: float) -> bool:
        r, alpha, mu = np.exp(theta)
        for big in INSIDE_S:
            with np.errstate(all="ignore"):
                f_in = negll_value(np.log([r, alpha, big, big / mu]), data)
            if np.isfinite(f_in) and f_in < f_lim - LIMIT_TOL:
                return True
        return False

    def boundary(p: dict[str, float]) -> str:
        return (f"s, beta -> infinity with s/beta = {p['mu']:.4g} per {unit} (reported as "
                f"s = {COMMON_S:g}, beta = {COMMON_S / p['mu']:.4g})")

    return Limit(
        name="one dropout rate (s, beta -> infinity)",
        reason="the dropout rates show no spread between customers (the Gamma dropout "
        "distribution collapses to one rate for all)",
        names=("r", "alpha", "mu"),
        negll=lambda th: common_negll(th, data),
        fixed={},
        runs={"s": 1.0, "beta": 1.0},
        start=start,
        embed=embed,
        beaten=beaten,
        boundary=boundary,
    )


def _start(comp):
    r0, alpha0 = rfm_start(comp)
    mean_t = float(np.average(comp.columns[2], weights=comp.weights))
    return r0, alpha0, 0.5, max(mean_t / 2.0, 1e-3)


def _ridge_status(time_unit: str):
    """The status of a fit stopped on a ridge, in Pareto/NBD's terms (see ``fit_mle``)."""
    unit = time_unit[:-1] if time_unit.endswith("s") else time_unit

    def status(up: list[str], down: list[str], p: dict[str, float]) -> str | None:
        rate = p["s"] / p["beta"]
        if "s" in up and "beta" in up:
            return (
                "the dropout rates show no spread between customers: s and beta grow without "
                f"bound with s/beta = {rate:.4g} per {unit} fixed (the Gamma dropout "
                "distribution collapses to that one rate), so the fit stopped at "
                f"s = {p['s']:.4g}, beta = {p['beta']:.4g}, where the likelihood no longer "
                "improves; the predictions are those of one dropout rate for all customers"
            )
        if "s" in down or "beta" in up:
            return (
                "the data show no sign of dropout: the mean dropout rate s/beta falls toward 0 "
                f"(stopped at s = {p['s']:.4g}, beta = {p['beta']:.4g}, {rate:.3g} per {unit}), "
                "so customers are predicted to stay alive"
            )
        return None

    return status


def fit(
    frequency: Any, recency: Any, T: Any, weights: Any = None, *, time_unit: str = DEFAULT_UNIT
) -> FitResult:
    """Fit Pareto/NBD by maximum likelihood (same inputs as :func:`ltvxl.models.bgnbd.fit`)."""
    return fit_rfm(
        NAME, PARAMS, negll, Data, _start, frequency, recency, T, weights, time_unit,
        ridge_status=_ridge_status(time_unit), no_dropout="s",
        limits=lambda data: [_common_limit(data, time_unit)],
    )  # fmt: skip


DISTINCT_ROWS = 1000
"""Rows above which :func:`p_alive` evaluates the dropout integral once per distinct
(x, t_x, T) instead of once per row."""


def _log_alive_odds(params, x, tx, big_t):
    """log(s I / A): log-odds that the customer has dropped out by T (-inf where t_x = T;
    log(mu J / A) with mu = s/beta from s = :data:`COMMON_S` on, see :func:`common_integral`).

    The dropout integral is evaluated only on rows with t_x < T (I = 0 otherwise),
    and on many rows once per distinct (x, t_x, T): customers share histories
    (one-time buyers of one day share one row).
    """
    r, alpha, s, beta = params
    x, tx, big_t = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, tx, big_t)))
    shape = x.shape
    x, tx, big_t = (v.ravel() for v in (x, tx, big_t))
    log_i = np.full(x.size, -np.inf)
    rows = np.flatnonzero(~(tx >= big_t))  # NaN rows go through, to come out NaN
    cols = [v.take(rows) for v in (x, tx, big_t)]
    inverse = None
    if rows.size > DISTINCT_ROWS:
        comp = compress(cols)
        if comp.n_rows < 0.9 * rows.size:
            cols, inverse = list(comp.columns), comp.inverse
    common = s >= COMMON_S  # one dropout rate mu = s/beta: log(mu J / A) instead
    with np.errstate(divide="ignore"):
        if common:
            part = common_integral(r, alpha, s / beta, *cols)
        else:
            part = dropout_integral(r, alpha, s, beta, *cols)
    log_i[rows] = part if inverse is None else part.take(inverse)
    x, big_t, log_i = (v.reshape(shape) for v in (x, big_t, log_i))
    with np.errstate(divide="ignore"):  # s = 0 (no dropout, the NBD limit): P(alive) = 1
        if common:
            mu = s / beta
            return np.log(mu) + log_i + (r + x) * np.log(alpha + big_t) + mu * big_t
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


def alive_expected(params: ParamsLike, t: Any, frequency: Any, T: Any) -> np.ndarray:
    """Expected purchases in (T, T + t] of a customer with x purchases who is alive at T
    (t and T in the data's unit); times :func:`p_alive`, the conditional expectation."""
    r, alpha, s, beta = params_of(params, PARAMS)
    t, x, big_t = (np.asarray(v, dtype=float) for v in (t, frequency, T))
    return (r + x) * (beta + big_t) / (alpha + big_t) * _growth(s - 1.0, t / (beta + big_t))


def conditional_expected(
    params: ParamsLike, t: Any, frequency: Any, recency: Any, T: Any
) -> np.ndarray:
    """Expected purchases in (T, T + t] of a customer with history (x, t_x, T)."""
    p = params_of(params, PARAMS)
    return alive_expected(p, t, frequency, T) * p_alive(p, frequency, recency, T)


def loglik_hyp2f1(params: ParamsLike, frequency: Any, recency: Any, T: Any) -> np.ndarray:
    """Per-customer log-likelihood by the closed form with Gauss hypergeometric functions.

    The textbook expression (Fader & Hardie 2005, eq. 22), for checking the
    quadrature; it may overflow for customers with very many purchases.
    """
    r, alpha, s, beta = params_of(params, PARAMS)
    x, tx, big_t = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    rho = r + s + x
    par: float | np.ndarray
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
