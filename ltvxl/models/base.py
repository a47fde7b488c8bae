"""One maximum-likelihood routine for every ltvxl model, and its result.

A model supplies its negative log-likelihood and the analytic gradient with
respect to the logarithms of its parameters (all parameters are positive),
evaluated on sufficient statistics: identical rows compressed to one with a
count (:func:`compress`), times optional user weights. :func:`fit_mle`
minimises it by BFGS in log-parameter space (:func:`_bfgs`), computes standard
errors from the Hessian (forward differences of the analytic gradient, mapped
to the parameters by the delta method), and returns a
:class:`FitResult`: plain numbers, kept apart from the model and the data (as
in CLVTools), never NaN parameters, a convergence status in words.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln

from ltvxl.errors import MAX_NOTE, LtvxlError, clip
from ltvxl.units import unit_days

LOG_BOUND = 18.0
"""Log-parameters are kept in [-18, 18]: parameters between 1.5e-8 and 6.6e7."""


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """Inner product of two 1-D arrays without BLAS.

    ``a @ b`` goes to the BLAS ``ddot``, which a multithreaded OpenBLAS spreads
    over threads for long vectors: on a busy machine (Excel, other engines)
    that is up to 100 times slower than numpy's own loop used here.
    """
    return float(np.einsum("i,i->", a, b))


@dataclass(frozen=True)
class FitResult:
    """The outcome of a maximum-likelihood fit, independent of model and data.

    params, std_errors: by parameter name (standard errors from the inverse
    Hessian; NaN only when the Hessian is singular, which ``status`` explains).
    log_likelihood: at the returned parameters (weighted total).
    n_customers: customers (sum of counts and weights); n_rows: distinct rows
    after compression. converged: whether the optimiser met its tolerance and
    the Hessian is positive definite; status: the same in words, with a
    remedy when not. time_unit: the unit of the data's times (rates such as
    alpha are per this unit), or None for discrete-time models.
    """

    model: str
    params: dict[str, float]
    std_errors: dict[str, float]
    log_likelihood: float
    n_customers: float
    n_rows: int
    converged: bool
    status: str
    iterations: int
    time_unit: str | None = None
    notes: tuple[str, ...] = field(default=())
    limit: str = ""
    """The limit model the parameters stand for when the likelihood is highest on the
    boundary of the parameter space (e.g. "NBD (no dropout)"); empty for an interior
    optimum."""
    problems: tuple[str, ...] = field(default=())
    """Why the fit did not converge, one sentence each (empty when it did)."""
    remedy: str = ""
    covariance: np.ndarray | None = field(default=None, compare=False, repr=False)
    """The inverse Hessian of the negative log-likelihood in the optimiser's
    coordinates (the log-parameters, in the order of ``params``), when it is positive
    definite; None otherwise."""

    def status_rows(self) -> list[tuple[str, str]]:
        """(label, text) rows for a worksheet table, each text under 200 characters:
        the status, then each problem and the remedy on a row of its own."""
        if self.converged or not self.problems:
            head, sep, rest = self.status.partition(": ")
            if len(self.status) <= MAX_NOTE or not sep:
                return [("status", clip(self.status, MAX_NOTE))]
            return [("status", clip(head, MAX_NOTE)), ("note", clip(rest, MAX_NOTE))]
        rows = [("status", "not converged")]
        rows += [("problem", clip(p, MAX_NOTE)) for p in self.problems]
        if self.remedy:
            rows.append(("remedy", clip(self.remedy, MAX_NOTE)))
        return rows

    def __getitem__(self, name: str) -> float:
        return self.params[name]

    def values(self) -> tuple[float, ...]:
        """The parameters in the model's order."""
        return tuple(self.params.values())

    def table(self) -> list[list[Any]]:
        """Rows for a worksheet: header, one row per parameter, then the fit facts."""
        rows: list[list[Any]] = [["parameter", "estimate", "std_error"]]
        for k, v in self.params.items():
            rows.append([k, v, self.std_errors.get(k, float("nan"))])
        rows.append(["log_likelihood", self.log_likelihood, None])
        rows.append(["customers", self.n_customers, None])
        rows.append(["iterations", float(self.iterations), None])
        rows += [[label, text, None] for label, text in self.status_rows()]
        return rows


ParamsLike = FitResult | Mapping[str, float] | Sequence[float]


def params_of(params: ParamsLike, names: Sequence[str]) -> tuple[float, ...]:
    """The values of ``names`` from a FitResult, a mapping or a sequence (in order)."""
    if isinstance(params, FitResult):
        params = params.params
    if isinstance(params, Mapping):
        missing = [n for n in names if n not in params]
        if missing:
            raise LtvxlError(f"parameters {', '.join(missing)} are missing")
        return tuple(float(params[n]) for n in names)
    vals = tuple(float(v) for v in params)
    if len(vals) != len(names):
        raise LtvxlError(f"expected {len(names)} parameters ({', '.join(names)}), got {len(vals)}")
    return vals


@dataclass(frozen=True)
class Compressed:
    """Distinct rows of some columns, with the summed weight of each."""

    columns: tuple[np.ndarray, ...]
    weights: np.ndarray
    inverse: np.ndarray
    """Index of each original row's distinct row."""

    @property
    def n_rows(self) -> int:
        return int(self.weights.size)


def _codes(col: np.ndarray) -> tuple[np.ndarray, int]:
    """Integer codes of a column's values and how many there can be.

    Small whole numbers >= 0 (frequencies, periods) are their own codes, which
    spares a hash table; other values are factorized.
    """
    if col.size and float(np.min(col)) >= 0.0 and float(np.max(col)) < 2**20:
        ints = col.astype(np.int64)
        if np.array_equal(ints, col):
            return ints, int(np.max(ints)) + 1
    codes, uniques = pd.factorize(col, sort=False)
    return codes.astype(np.int64), len(uniques)


_MIX = np.uint64(0x9E3779B97F4A7C15)


def _hashed_rows(cols: Sequence[np.ndarray]) -> np.ndarray:
    """A 64-bit hash of each row's values (equal rows, equal hashes; -0.0 counts as 0.0)."""
    h = np.zeros(cols[0].size, dtype=np.uint64)
    for c in cols:
        h ^= (c + 0.0).view(np.uint64)
        h *= _MIX
        h ^= h >> np.uint64(29)
    return h.view(np.int64)


def _exact_rows(cols: Sequence[np.ndarray]) -> np.ndarray:
    """An integer key per row, equal exactly when the rows are equal (codes of each column)."""
    key, size = _codes(cols[0])
    for c in cols[1:]:
        codes, k = _codes(c)
        if size * k >= 2**62:  # keep the combined key inside int64
            key, size = _codes(key)
        key = key * k + codes
        size *= k
    return key


def compress(columns: Sequence[np.ndarray], weights: np.ndarray | None = None) -> Compressed:
    """Compress identical rows of ``columns`` to one row with the summed weight, the
    distinct rows sorted by their values (the first column first).

    Hash-based, linear in the number of rows: rows are grouped by a 64-bit
    hash of their values (one pandas factorize), and the grouping is checked
    against the values themselves; should two different rows share a hash,
    the rows are grouped by exact per-column codes instead.
    """
    cols = [np.asarray(c, dtype=float).ravel() for c in columns]
    n = cols[0].size
    for make_key in (_hashed_rows, _exact_rows):
        inverse, uniques = pd.factorize(make_key(cols), sort=False)
        m = len(uniques)
        first = np.empty(m, dtype=np.int64)
        first[inverse[::-1]] = np.arange(n - 1, -1, -1)
        out = tuple(c[first] for c in cols)
        if make_key is _exact_rows or all(
            np.array_equal(u.take(inverse), c) for u, c in zip(out, cols, strict=True)
        ):
            break
    if weights is None:
        out_w = np.bincount(inverse, minlength=m).astype(float)
    else:
        out_w = np.bincount(inverse, weights=np.asarray(weights, float).ravel(), minlength=m)
    # distinct rows in sorted order (first column first): a fit sums its terms in an order
    # that depends on the rows' values only, so the same data in another row order (an
    # engine's histogram, ORDER BY the columns) give the same fit to the last digit
    order = np.lexsort(out[::-1]) if m > 1 else np.arange(m)
    rank = np.empty(m, dtype=np.int64)
    rank[order] = np.arange(m)
    return Compressed(tuple(c[order] for c in out), out_w[order], rank[inverse])


NegLL = Callable[[np.ndarray], tuple[float, np.ndarray]]


def _hessian(fun: NegLL, x: np.ndarray, g0: np.ndarray) -> np.ndarray:
    """Hessian of ``fun`` at ``x`` by forward differences of its analytic gradient ``g0``."""
    k = x.size
    h = np.empty((k, k))
    for i in range(k):
        step = 1e-6 * max(1.0, abs(x[i]))
        e = np.zeros(k)
        e[i] = step
        h[:, i] = (fun(x + e)[1] - g0) / step
    return 0.5 * (h + h.T)


def _inverse(hess: np.ndarray) -> np.ndarray | None:
    """The inverse of a positive definite Hessian, or None (not finite or not positive)."""
    if not np.all(np.isfinite(hess)):
        return None
    try:
        eig = np.linalg.eigvalsh(hess)
        if eig.min() > 1e-12 * max(eig.max(), 1e-300):
            return np.linalg.inv(hess)
    except np.linalg.LinAlgError:  # pragma: no cover - defensive
        pass
    return None


CONVERGED_DECREASE = 1e-12
"""A fit has converged when the decrease still expected (g' H^-1 g) is below this times
|log-likelihood| (the rounding of the value): each log-parameter is then within
sqrt(CONVERGED_DECREASE |LL|) standard errors of the optimum."""

RIDGE_WINDOW = 3
"""Iterations over which a ridge to infinity is recognised (see :func:`_bfgs`)."""
RIDGE_TOL = 0.05
"""Log-likelihood gain (absolute) below which a fit over :data:`RIDGE_WINDOW` iterations
that keeps moving log-parameters far in one direction is stopped as on a ridge."""


def _ridge(xs: list[np.ndarray], fs: list[float], tol: float = RIDGE_TOL) -> np.ndarray | None:
    """Per log-parameter +1 / -1 / 0: the direction in which it ran steadily over the last
    :data:`RIDGE_WINDOW` iterations while the value fell by less than :data:`RIDGE_TOL`
    (None: no ridge). A parameter runs when each step moved it the same way and all
    together by more than 1 (a factor e)."""
    if len(fs) <= RIDGE_WINDOW or fs[-RIDGE_WINDOW - 1] - fs[-1] >= tol:
        return None
    steps = np.diff(np.array(xs[-RIDGE_WINDOW - 1 :]), axis=0)
    total = steps.sum(axis=0)
    steady = np.all(steps > 0, axis=0) | np.all(steps < 0, axis=0)
    run = np.where(steady & (np.abs(total) > 1.0), np.sign(total), 0.0)
    return run if run.any() else None


def _bfgs(
    fun: NegLL,
    x: np.ndarray,
    max_iter: int,
    inv: np.ndarray | None = None,
    ridge: list[np.ndarray] | None = None,
    ridge_tol: float = RIDGE_TOL,
    early: Callable[[list[np.ndarray]], np.ndarray | None] | None = None,
) -> tuple[np.ndarray, int, str]:
    """Minimise ``fun`` by BFGS in the box [-LOG_BOUND, LOG_BOUND]; (x, iterations, message).

    Small and self-contained on purpose: with a handful of parameters the
    work is in ``fun``, and scipy's L-BFGS-B calls multithreaded BLAS on tiny
    matrices, which is slow on a busy machine. The inverse Hessian starts from
    the finite-difference Hessian of the analytic gradient (near-Newton steps
    from the first iteration), or from ``inv`` when given; steps are at most 2
    in each log-parameter, with an Armijo backtracking line search (quadratic
    interpolation). Converged: the gradient is tiny, or the decrease still
    expected (g' H^-1 g) is below the rounding of the value (:data:`CONVERGED_DECREASE`
    relative),
    which on a million rows comes long before the gradient's rounding allows
    the first test. Stopped as on a ridge to infinity ("ridge", the directions
    appended to ``ridge``) when over the last :data:`RIDGE_WINDOW` iterations
    the value fell by less than :data:`RIDGE_TOL` while some log-parameters ran
    steadily by more than 1 (see :func:`_ridge`): further on the likelihood
    gains nothing that matters and the evaluations only chase rounding noise.
    ``ridge_tol`` replaces :data:`RIDGE_TOL` (:func:`fit_mle` follows a ridge with a
    much smaller one). ``early(iterates)`` gives the directions of a ridge that is to
    stop the search whatever the gain (a limit the model can fit directly), or None.
    """
    k = x.size
    f, g = fun(x)
    if inv is None:
        inv = _inverse(_hessian(fun, x, g))
    if inv is None or not np.all(np.isfinite(inv)):
        inv = np.eye(k) / max(float(np.max(np.abs(g))), 1.0)
    stall = 0
    xs, fs = [x.copy()], [f]
    for it in range(1, max_iter + 1):
        p = -inv @ g
        if not np.all(np.isfinite(p)) or g @ p >= 0:  # not a descent direction: restart
            inv = np.eye(k) / max(float(np.max(np.abs(g))), 1.0)
            p = -inv @ g
        big = float(np.max(np.abs(p)))
        if big > 2.0:
            p *= 2.0 / big
        slope = float(g @ p)
        t = 1.0
        for _ in range(40):
            x_new = np.clip(x + t * p, -LOG_BOUND, LOG_BOUND)
            f_new, g_new = fun(x_new)
            if f_new <= f + 1e-4 * t * slope:
                break
            # minimum of the quadratic through f, slope and f_new, kept in [0.1 t, 0.5 t]
            curv = f_new - f - slope * t
            t_q = -slope * t * t / (2.0 * curv) if curv > 0 and f_new < 1e300 else 0.1 * t
            t = min(max(t_q, 0.1 * t), 0.5 * t)
        else:
            return x, it, "the line search found no lower value"
        s_vec, y_vec = x_new - x, g_new - g
        drop = f - f_new
        x, f, g = x_new, f_new, g_new
        if float(np.max(np.abs(g))) < 1e-7 * max(1.0, abs(f)) ** 0.5:
            return x, it, "converged"
        stall = stall + 1 if drop <= 1e-14 * max(1.0, abs(f)) else 0
        if stall >= 3:
            return x, it, "no further progress"
        xs.append(x.copy())
        fs.append(f)
        run = _ridge(xs, fs, ridge_tol)
        if run is None and early is not None:
            run = early(xs)
        if run is not None:
            if ridge is not None:
                ridge.append(run)
            return x, it, "ridge"
        # norms by hypot: gradients of junk data can be near the float limit, where
        # y'y would overflow; then the curvature update is skipped
        norm_y = math.hypot(*y_vec)
        sy = float(s_vec @ y_vec) if norm_y < 1e150 else 0.0
        if sy > 1e-12 * math.hypot(*s_vec) * norm_y:
            rho = 1.0 / sy
            v = np.eye(k) - rho * np.outer(s_vec, y_vec)
            inv = v @ inv @ v.T + rho * np.outer(s_vec, s_vec)
            expected = float(g @ inv @ g)
            if math.hypot(*g) < 1e150 and 0.0 <= expected < CONVERGED_DECREASE * max(1.0, abs(f)):
                return x, it, "converged"
    return x, max_iter, f"stopped after {max_iter} iterations"


def _guarded(negll: NegLL) -> tuple[NegLL, dict[str, Any]]:
    """``negll`` made safe for the optimiser, and the best point it has seen.

    The wrapper ignores floating-point warnings, returns (1e300, 0) where the
    value or gradient is not finite, remembers the best finite point (x, f, g)
    and answers a repeated call at the last point without evaluating again.
    """
    best: dict[str, Any] = {"f": math.inf, "x": None, "g": None}
    last: dict[str, Any] = {"x": None}

    def safe(x: np.ndarray) -> tuple[float, np.ndarray]:
        if last["x"] is not None and np.array_equal(x, last["x"]):
            return last["out"]
        with np.errstate(all="ignore"):
            f, g = negll(x)
        if not (math.isfinite(f) and np.all(np.isfinite(g))):
            f, g = 1e300, np.zeros_like(x)
        elif f < best["f"]:
            best["f"], best["x"], best["g"] = f, x.copy(), g
        last["x"], last["out"] = x.copy(), (f, g)
        return f, g

    return safe, best


RidgeStatus = Callable[[list[str], list[str], dict[str, float]], "str | None"]
"""A model's account of a ridge: (names growing, names shrinking, parameters) -> text."""

FOLLOW_TOL = 1e-5
"""Log-likelihood gain over :data:`RIDGE_WINDOW` iterations below which a ridge, once
met, is taken to have reached its end (see :func:`fit_mle`)."""
LIMIT_TOL = 1e-3
"""A limit model whose log-likelihood is within this of the full model's best (or above
it) is the optimum: the full model only approaches it at the boundary."""


@dataclass(frozen=True)
class Limit:
    """The model a likelihood tends to on a boundary of the parameter space.

    name: the limit in words ("NBD (no dropout)"); reason: what the boundary means
    for the data ("the data show no sign of dropout"). names: the limit's own
    parameters (a subset of the full model's); negll: its negative log-likelihood and
    gradient in their logarithms; fixed: the full model's other parameters at the
    limit by name (e.g. a = 0), which the model's prediction functions evaluate
    exactly (P(alive) = 1 when the dropout probability is 0).
    """

    name: str
    reason: str
    names: tuple[str, ...]
    negll: NegLL
    fixed: Mapping[str, float]
    runs: Mapping[str, float] = field(default_factory=dict)
    """The ridge that leads to this limit (parameter -> +1 growing, -1 shrinking): when
    given, the limit is fitted as soon as the fit's iterates run that way for
    :data:`RIDGE_WINDOW` iterations, instead of after following the ridge to its end."""
    start: Callable[[dict[str, float]], np.ndarray] | None = None
    """The limit's log-parameters from the full model's parameters (default: same names)."""
    embed: Callable[[dict[str, float]], dict[str, float]] | None = None
    """The full model's parameters that stand for the limit's (default: the limit's by
    name, the full model's others, and ``fixed``)."""
    beaten: Callable[[np.ndarray, float], bool] | None = None
    """(limit's log-parameters, its negll) -> whether the full model just inside the
    boundary is better: the optimum is then interior and the fit goes on."""
    boundary: Callable[[dict[str, float]], str] | None = None
    """The boundary in words from the limit's parameters (default: ``fixed``)."""


@dataclass(frozen=True)
class LimitHint:
    """A limit fitted on a subsample (see :func:`_warm_start`): its name, optimum
    (log-parameters) and inverse Hessian scaled to the full weight (or None)."""

    name: str
    x: np.ndarray
    inv: np.ndarray | None


def _early_stop(
    names: Sequence[str], limits: Sequence[Limit]
) -> Callable[[list[np.ndarray]], np.ndarray | None] | None:
    """The ``early`` test of :func:`_bfgs` for the limits with a ``runs`` ridge: the
    directions, when over the last :data:`RIDGE_WINDOW` iterations every step moved each
    of the limit's parameters its way and all together by more than 1 (a factor e)."""
    wanted = []
    for lim in limits:
        if lim.runs:
            d = np.array([float(np.sign(lim.runs.get(n, 0.0))) for n in names])
            wanted.append(d)
    if not wanted:
        return None

    def early(xs: list[np.ndarray]) -> np.ndarray | None:
        if len(xs) <= RIDGE_WINDOW:
            return None
        steps = np.diff(np.array(xs[-RIDGE_WINDOW - 1 :]), axis=0)
        for d in wanted:
            on = d != 0
            moved = steps[:, on] * d[on]
            if np.all(moved > 0) and np.all(moved.sum(axis=0) > 1.0):
                return d
        return None

    return early


def _matching(names: Sequence[str], limits: Sequence[Limit], run: np.ndarray) -> Limit | None:
    """The limit with a ``runs`` ridge that ``run`` (+1 / -1 / 0 per parameter) follows."""
    for lim in limits:
        if lim.runs and all(
            run[i] == np.sign(lim.runs[n]) for i, n in enumerate(names) if n in lim.runs
        ):
            return lim
    return None


def _fit_limit(
    model: str,
    names: Sequence[str],
    limit: Limit,
    x: np.ndarray,
    f: float,
    iterations: int,
    n_customers: float,
    n_rows: int,
    time_unit: str | None,
    notes: Sequence[str],
    hint: LimitHint | None = None,
) -> FitResult | None:
    """The fit at ``limit`` when its likelihood reaches the full model's best ``-f``
    (from the limit's fit on a subsample when ``hint`` is given)."""
    if hint is not None:
        start = hint.x
    elif limit.start is None:
        start = x[[list(names).index(n) for n in limit.names]]
    else:
        start = limit.start(dict(zip(names, np.exp(x).tolist(), strict=True)))
    safe, best = _guarded(limit.negll)
    start = np.clip(start, -LOG_BOUND + 1, LOG_BOUND - 1)
    if safe(start)[0] >= 1e300:
        return None
    runs: list[np.ndarray] = []
    _, its, _ = _bfgs(safe, start, 500, None if hint is None else hint.inv, runs)
    f_lim, x_lim, g_lim = best["f"], best["x"], best["g"]
    cov = _inverse(_hessian(limit.negll, x_lim, g_lim))
    if f_lim > f + LIMIT_TOL or runs or cov is None or np.any(np.abs(x_lim) >= LOG_BOUND - 1):
        return None  # not the supremum, or the limit has a boundary of its own
    if limit.beaten is not None and limit.beaten(x_lim, f_lim):
        return None  # the full model is better inside the boundary: an interior optimum
    lim_values = {n: float(v) for n, v in zip(limit.names, np.exp(x_lim), strict=True)}
    params = dict(zip(names, np.exp(x).tolist(), strict=True))
    if limit.embed is None:
        params.update(lim_values)
        params.update({n: float(v) for n, v in limit.fixed.items()})
    else:
        params.update(limit.embed(lim_values))
    se = dict.fromkeys(names, float("nan"))
    lim_se = np.exp(x_lim) * np.sqrt(np.clip(np.diag(cov), 0, None))
    se.update({n: float(v) for n, v in zip(limit.names, lim_se, strict=True) if n in se})
    if limit.boundary is None:
        fixed = ", ".join(f"{n} = {v:g}" for n, v in limit.fixed.items())
    else:
        fixed = limit.boundary(lim_values)
    others = [n for n in names if n not in limit.names and n not in limit.fixed
              and limit.embed is None]
    way = (f"on the way, in {iterations} iterations" if hint is None else
           "where a fit on a subsample of the rows ran onto this ridge")
    verb = "plays" if len(others) == 1 else "play"
    unused = f"; {' and '.join(others)} {verb} no part there" if others else ""
    status = (
        f"converged to the boundary {fixed}: {limit.reason}, so the likelihood is highest "
        f"in the {limit.name} limit (log-likelihood {-f_lim:,.3f}; the {model} fit reached "
        f"{-f:,.3f} {way}, and {its} more for the limit); the predictions are the "
        f"limit's{unused}"
    )
    return FitResult(
        model=model,
        params=params,
        std_errors=se,
        log_likelihood=float(-f_lim),
        n_customers=float(n_customers),
        n_rows=int(n_rows),
        converged=True,
        status=status,
        iterations=iterations + its,
        time_unit=time_unit,
        notes=tuple(notes),
        limit=limit.name,
    )


def fit_mle(
    model: str,
    names: Sequence[str],
    negll: NegLL,
    start: np.ndarray,
    n_customers: float,
    n_rows: int,
    *,
    time_unit: str | None = None,
    max_iter: int = 500,
    remedy: str = "",
    notes: Sequence[str] = (),
    inv_hessian: np.ndarray | None = None,
    ridge_status: RidgeStatus | None = None,
    limit: Limit | Sequence[Limit] | None = None,
    limit_hint: LimitHint | None = None,
    hessian: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> FitResult:
    """Minimise ``negll`` (value, gradient) over log-parameters from ``start``.

    ``negll`` is the total weighted negative log-likelihood and its gradient
    with respect to the log-parameters. The returned parameters are the best
    finite point found, never NaN. ``remedy`` is added to the status of a fit
    that does not converge. ``inv_hessian``: an estimate of the inverse
    Hessian at ``start`` (e.g. from a fit on a subsample), which spares the
    optimiser its own. A fit stopped on a ridge to infinity (see :func:`_bfgs`)
    is not converged; its status says which parameters grow or shrink without
    bound, in the model's words when ``ridge_status(up, down, params)`` (names
    of the parameters growing, shrinking; all parameters by name) gives them.

    Optimum or limit, never a stop in between: a fit that meets a ridge follows
    it (BFGS again, stopping only when :data:`RIDGE_WINDOW` iterations gain less
    than :data:`FOLLOW_TOL`), and when the model has a ``limit`` (the model its
    likelihood tends to at the boundary, e.g. the NBD when nobody drops out) the
    limit is fitted too: if its log-likelihood is within :data:`LIMIT_TOL` of the
    best the full model reached (or above it), the likelihood's supremum is the
    limit, and the result is the limit's parameters (``FitResult.limit`` names it).
    ``limit`` may be several; one with a ``runs`` ridge is fitted as soon as the fit
    runs onto that ridge (see :class:`Limit`), and the fit goes on if it is rejected.
    ``limit_hint``: the subsample fit ran onto the ridge to that limit and fitted it
    there; the limit is then fitted from it before any iteration of the full model.
    ``hessian(x, g)``: the Hessian of ``negll`` at ``x`` (its gradient there ``g``) for
    the standard errors, where the model has it cheaper than forward differences of the
    whole gradient (default: :func:`_hessian`).
    """
    x0 = np.clip(np.asarray(start, float), -LOG_BOUND + 1, LOG_BOUND - 1)
    safe, best = _guarded(negll)
    if safe(x0)[0] >= 1e300:
        raise LtvxlError(f"{model}: the likelihood cannot be evaluated at the starting values")
    limits: list[Limit] = [] if limit is None else (
        [limit] if isinstance(limit, Limit) else list(limit))
    early = _early_stop(names, limits)
    hinted = [lim for lim in limits if limit_hint is not None and lim.name == limit_hint.name]
    if hinted:
        at_limit = _fit_limit(model, names, hinted[0], best["x"], best["f"], 0,
                              n_customers, n_rows, time_unit, notes, limit_hint)
        if at_limit is not None:
            return at_limit
        early = None  # an interior optimum: a plain fit
    runs: list[np.ndarray] = []
    _, iterations, message = _bfgs(safe, x0, max_iter, inv_hessian, runs, early=early)
    lim = _matching(names, limits, runs[0]) if runs and early is not None else None
    if lim is not None:  # on the ridge to a limit the model fits directly: fit it now
        at_limit = _fit_limit(model, names, lim, best["x"], best["f"], iterations,
                              n_customers, n_rows, time_unit, notes)
        if at_limit is not None:
            return at_limit
        runs.clear()  # an interior optimum: go on
        _, more, message = _bfgs(safe, best["x"], max_iter, None, runs)
        iterations += more
    met_ridge = bool(runs)
    if met_ridge:  # follow the ridge to where the likelihood stops rising
        first = runs[0]
        runs.clear()
        _, more, message = _bfgs(safe, best["x"], max_iter, None, runs, FOLLOW_TOL)
        iterations += more
        if not runs and message != "converged":
            runs.append(first)
    x, f, g = best["x"], best["f"], best["g"]
    for other in limits if met_ridge else ():
        if other.runs:
            continue
        at_limit = _fit_limit(model, names, other, x, f, iterations, n_customers, n_rows,
                              time_unit, notes)
        if at_limit is not None:
            return at_limit
    problems: list[str] = []
    gnorm = float(np.max(np.abs(g))) if g.size else 0.0
    if runs:
        up = [n for n, d in zip(names, runs[0], strict=True) if d > 0]
        down = [n for n, d in zip(names, runs[0], strict=True) if d < 0]
        values = {n: float(v) for n, v in zip(names, np.exp(x), strict=True)}
        text = ridge_status(up, down, values) if ridge_status else None
        moves = [f"{n} grows without bound" for n in up] + [f"{n} shrinks toward 0" for n in down]
        problems.append(
            text
            or f"the likelihood improves by less than {FOLLOW_TOL:g} over {RIDGE_WINDOW} "
            f"iterations while {' and '.join(moves)} (stopped after {iterations} iterations)"
        )
    elif gnorm > 1e-3 * max(1.0, n_customers) ** 0.5:
        problems.append(
            f"the optimiser stopped after {iterations} iterations without converging "
            f"(largest gradient {gnorm:.3g}: {message})"
        )
    at_bound = [n for n, v in zip(names, x, strict=True) if abs(v) >= LOG_BOUND - 1e-3]
    if at_bound:
        problems.append(
            f"{', '.join(at_bound)} ran to the edge of the allowed range "
            f"(the data do not identify {'it' if len(at_bound) == 1 else 'them'})"
        )
    params = np.exp(x)
    se = np.full(x.size, np.nan)
    cov = None
    try:
        hess = _hessian(negll, x, g) if hessian is None else hessian(x, g)
        if np.all(np.isfinite(hess)):
            eig = np.linalg.eigvalsh(hess)
            if eig.min() > 0:
                cov = np.linalg.inv(hess)
                se = params * np.sqrt(np.clip(np.diag(cov), 0, None))
            elif not at_bound:
                problems.append(
                    "the Hessian is not positive definite, so there are no standard errors"
                )
    except (np.linalg.LinAlgError, FloatingPointError):  # pragma: no cover - defensive
        problems.append("the Hessian could not be inverted")
    converged = not problems
    if converged:
        status = f"converged in {iterations} iterations"
    else:
        status = "not converged: " + "; ".join(problems)
        if remedy:
            status += ". " + remedy
    return FitResult(
        model=model,
        params={n: float(v) for n, v in zip(names, params, strict=True)},
        std_errors={n: float(v) for n, v in zip(names, se, strict=True)},
        log_likelihood=float(-f),
        n_customers=float(n_customers),
        n_rows=int(n_rows),
        converged=converged,
        status=status,
        iterations=iterations,
        time_unit=time_unit,
        notes=tuple(notes),
        problems=tuple(problems),
        remedy=remedy if problems else "",
        covariance=cov,
    )


def as_column(value: Any, name: str) -> np.ndarray:
    """A 1-D float array from an array-like; an error naming ``name`` on non-numbers."""
    try:
        arr = np.asarray(value, dtype=float).ravel()
    except (TypeError, ValueError):
        raise LtvxlError(f"{name} must hold numbers") from None
    return arr


def check_rfm(
    frequency: Any, recency: Any, T: Any, weights: Any = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validated (frequency, recency, T, weights) columns of a customer summary.

    frequency: repeat purchases (whole number >= 0); recency: time of the last
    purchase since the first (0 when frequency is 0); T: time since the first
    purchase, >= recency. All times in one unit.
    """
    x = as_column(frequency, "frequency")
    tx = as_column(recency, "recency")
    big_t = as_column(T, "T")
    n = x.size
    if n == 0:
        raise LtvxlError("there are no customers to fit")
    if tx.size != n or big_t.size != n:
        raise LtvxlError(
            f"frequency, recency and T must have the same length, got {n}, {tx.size}, {big_t.size}"
        )
    w = np.ones(n) if weights is None else as_column(weights, "weights")
    if w.size != n:
        raise LtvxlError(f"weights must have one value per customer ({n}), got {w.size}")
    for name, arr in (("frequency", x), ("recency", tx), ("T", big_t), ("weights", w)):
        bad = ~np.isfinite(arr) | (arr < 0)
        if bad.any():
            i = int(np.argmax(bad))
            raise LtvxlError(f"{name} must be a finite number >= 0; row {i + 1} has {arr[i]}")
    if np.any(x != np.round(x)):
        i = int(np.argmax(x != np.round(x)))
        raise LtvxlError(f"frequency must be a whole number; row {i + 1} has {x[i]}")
    if np.any(tx > big_t * (1 + 1e-12)):
        i = int(np.argmax(tx > big_t))
        raise LtvxlError(f"recency must be <= T; row {i + 1} has recency {tx[i]} and T {big_t[i]}")
    if np.any((x == 0) & (tx != 0)):
        i = int(np.argmax((x == 0) & (tx != 0)))
        raise LtvxlError(f"recency must be 0 when frequency is 0; row {i + 1} has {tx[i]}")
    if np.any((x > 0) & (tx <= 0)):
        i = int(np.argmax((x > 0) & (tx <= 0)))
        raise LtvxlError(
            f"recency must be > 0 when frequency > 0 (repeat purchases happen after the first); "
            f"row {i + 1}"
        )
    return x, np.minimum(tx, big_t), big_t, w


RFM_REMEDY = (
    "Remedies: check that frequency counts repeat purchases only and that recency and T "
    "are in the same time unit; use more customers or a longer observation period"
)


def prepare_rfm(
    model: str, frequency: Any, recency: Any, T: Any, weights: Any = None
) -> tuple[Compressed, float]:
    """Checked and compressed (frequency, recency, T) rows and the number of customers.

    Degenerate data raise a clear :class:`LtvxlError`: fewer than two
    customers, nobody with a repeat purchase, everyone observed for no time.
    """
    x, tx, big_t, w = check_rfm(frequency, recency, T, weights)
    keep = w > 0
    n_customers = float(w.sum())
    if keep.sum() < 2:
        raise LtvxlError(f"{model} needs at least 2 customers, got {int(keep.sum())}")
    if not np.any((x > 0) & keep):
        raise LtvxlError(
            f"{model} cannot be fitted: no customer made a repeat purchase (all frequency 0, "
            "e.g. every purchase on one day), so the purchase and dropout rates are not "
            "identified; use a longer observation period"
        )
    if not np.any((big_t > 0) & keep):
        raise LtvxlError(f"{model} cannot be fitted: every customer has T = 0 (observed no time)")
    if keep.all():
        comp = compress((x, tx, big_t), None if weights is None else w)
    else:
        comp = compress((x[keep], tx[keep], big_t[keep]), w[keep])
    return comp, n_customers


def rfm_start(comp: Compressed) -> tuple[float, float]:
    """Starting (r, alpha) from the mean repeat-purchase rate: r = 0.5, alpha = r / rate."""
    x, _, big_t = comp.columns
    w = comp.weights
    rate = float(np.sum(w * x) / max(np.sum(w * big_t), 1e-12))
    return 0.5, 0.5 / max(rate, 1e-6)


def fit_rfm(
    model: str,
    names: Sequence[str],
    negll: Callable[[np.ndarray, Any], tuple[float, np.ndarray]],
    data_cls: Callable[..., Any],
    start: Callable[[Compressed], Sequence[float]],
    frequency: Any,
    recency: Any,
    T: Any,
    weights: Any,
    time_unit: str,
    ridge_status: RidgeStatus | None = None,
    no_dropout: str | None = None,
    limits: Callable[[Any], Sequence[Limit]] | None = None,
) -> FitResult:
    """Fit a (frequency, recency, T) model: check, compress, then :func:`fit_mle`.

    ``data_cls(x, t_x, T, w)`` prepares the compressed rows for ``negll``;
    ``start(comp)`` gives the starting parameters. ``no_dropout``: the parameter
    whose value 0 means that nobody drops out (BG/NBD's a, Pareto/NBD's s); the
    model's likelihood then tends to the NBD's (r, alpha), its limit (:class:`Limit`).
    ``limits(data)``: the model's other limits on the prepared rows.
    """
    unit_days(time_unit)
    comp, n = prepare_rfm(model, frequency, recency, T, weights)
    data = data_cls(*comp.columns, comp.weights)
    all_limits = [] if no_dropout is None else [nbd_limit(comp, no_dropout)]
    if limits is not None:
        all_limits += list(limits(data))
    theta0 = np.log(np.asarray(start(comp), dtype=float))
    theta0, inv, hint = _warm_start(negll, data_cls, comp, theta0, names, limits)
    return fit_mle(
        model,
        names,
        lambda th: negll(th, data),
        theta0,
        n,
        comp.n_rows,
        time_unit=time_unit,
        remedy=RFM_REMEDY,
        inv_hessian=inv,
        ridge_status=ridge_status,
        limit=all_limits,
        limit_hint=hint,
    )


def nbd_negll(theta: np.ndarray, x: np.ndarray, big_t: np.ndarray, w: np.ndarray
              ) -> tuple[float, np.ndarray]:
    """Negative log-likelihood of the NBD (Gamma(r, alpha) Poisson rates, nobody drops out)
    of x repeat purchases in (0, T], and its gradient in (log r, log alpha).

    log L = log G(r+x) - log G(r) + r log(alpha) - (r+x) log(alpha+T): the limit of the
    BG/NBD, MBG/NBD and Pareto/NBD likelihoods when the dropout probability or rate is 0
    (their terms in t_x vanish there).
    """
    r, alpha = np.exp(theta)
    ll = dot(w, gammaln(r + x) - (r + x) * np.log(alpha + big_t)) + float(w.sum()) * (
        r * math.log(alpha) - math.lgamma(r))
    d_r = dot(w, digamma(r + x) - np.log(alpha + big_t)) + float(w.sum()) * (
        math.log(alpha) - float(digamma(r)))
    d_alpha = float(w.sum()) * r / alpha - dot(w, (r + x) / (alpha + big_t))
    return -float(ll), -np.array([d_r * r, d_alpha * alpha])


NBD_LIMIT = "NBD (no dropout)"
"""The name of the buy-till-you-die models' limit without dropout (:func:`nbd_limit`)."""


def nbd_limit(comp: Compressed, no_dropout: str) -> Limit:
    """The NBD limit of a buy-till-you-die model on compressed (x, t_x, T) rows."""
    x, _, big_t = comp.columns
    w = comp.weights
    return Limit(
        name=NBD_LIMIT,
        reason="the data show no sign of dropout",
        names=("r", "alpha"),
        negll=lambda th: nbd_negll(th, x, big_t, w),
        fixed={no_dropout: 0.0},
    )


WARM_ROWS = 20_000
"""Distinct rows above which a fit starts from a fit on about this many of them."""


def _warm_start(
    negll: Callable[[np.ndarray, Any], tuple[float, np.ndarray]],
    data_cls: Callable[..., Any],
    comp: Compressed,
    theta0: np.ndarray,
    names: Sequence[str] = (),
    limits: Callable[[Any], Sequence[Limit]] | None = None,
) -> tuple[np.ndarray, np.ndarray | None, LimitHint | None]:
    """Starting log-parameters, inverse Hessian and limit hint for a fit on many rows.

    Every k-th distinct row (with its weight) is fitted first, which costs
    little; its optimum and its Hessian scaled to the full weight are the full
    fit's starting point and first inverse Hessian, so that only a few
    iterations run over all rows. With at most 5 ``WARM_ROWS`` rows, or when
    the subsample fit goes to the edge of the range, ``theta0`` is kept.
    ``limits(data)``: the model's limits with a ``runs`` ridge (see :class:`Limit`);
    when the subsample fit runs onto one, that limit is fitted on the subsample too,
    and returned as the hint (see :func:`fit_mle`).
    """
    if comp.n_rows <= 5 * WARM_ROWS:
        return theta0, None, None
    k = comp.n_rows // WARM_ROWS
    cols = [c[::k] for c in comp.columns]
    w = comp.weights[::k]
    sub = data_cls(*cols, w)
    scale = float(comp.weights.sum()) / float(w.sum())
    safe, best = _guarded(lambda th: negll(th, sub))
    if safe(theta0)[0] >= 1e300:
        return theta0, None, None
    sub_limits = [] if limits is None else list(limits(sub))
    runs: list[np.ndarray] = []
    _bfgs(safe, np.clip(theta0, -LOG_BOUND + 1, LOG_BOUND - 1), 200, ridge=runs,
          early=_early_stop(names, sub_limits))
    x = best["x"]
    if np.any(np.abs(x) >= LOG_BOUND - 1):
        return theta0, None, None
    inv = _inverse(_hessian(safe, x, best["g"]) * scale)
    lim = _matching(names, sub_limits, runs[0]) if runs else None
    if lim is None:
        return x, inv, None
    if lim.start is None:
        lim_start = x[[list(names).index(n) for n in lim.names]]
    else:
        lim_start = lim.start(dict(zip(names, np.exp(x).tolist(), strict=True)))
    lim_safe, lim_best = _guarded(lim.negll)
    if lim_safe(lim_start)[0] >= 1e300:
        return x, inv, None
    _bfgs(lim_safe, np.clip(lim_start, -LOG_BOUND + 1, LOG_BOUND - 1), 200)
    x_lim = lim_best["x"]
    if np.any(np.abs(x_lim) >= LOG_BOUND - 1):
        return x, inv, None
    lim_inv = _inverse(_hessian(lim_safe, x_lim, lim_best["g"]) * scale)
    return x, inv, LimitHint(lim.name, x_lim, lim_inv)


_GL_X, _GL_W = np.polynomial.legendre.leggauss(64)


def beta_expectation(func: Callable[[np.ndarray], np.ndarray], a: Any, b: Any) -> np.ndarray:
    """E[func(p)] for p ~ Beta(a, b) per row, by 64-point Gauss-Legendre quadrature over
    the mean +- 12 standard deviations (clipped to (0, 1)).

    A fallback for concentrated Beta distributions (large a and b), where the
    closed forms with Gauss hypergeometric functions overflow; ``func`` takes
    and returns arrays of shape (rows, 64).
    """
    a, b = (np.asarray(v, dtype=float).reshape(-1, 1) for v in np.broadcast_arrays(a, b))
    mean = a / (a + b)
    sd = np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1.0)))
    lo = np.clip(mean - 12 * sd, 0.0, 1.0)
    hi = np.clip(mean + 12 * sd, 0.0, 1.0)
    p = lo + (hi - lo) * (_GL_X + 1.0) / 2.0
    p = np.clip(p, 1e-300, 1.0 - 1e-16)
    logpdf = (a - 1.0) * np.log(p) + (b - 1.0) * np.log1p(-p)
    w = _GL_W * np.exp(logpdf - logpdf.max(axis=1, keepdims=True))
    return (w * func(p)).sum(axis=1) / w.sum(axis=1)
