"""Static covariates (channel, persona, gender...) in the purchase and dropout processes.

As in CLVTools: customer i with covariates x_i has, in Pareto/NBD,

    alpha_i = alpha_0 exp(-gamma_purchase' x_i),   beta_i = beta_0 exp(-gamma_dropout' x_i),

so her mean purchase rate r / alpha_i is exp(gamma_purchase' x_i) times the
reference customer's (a positive purchase coefficient means more purchases:
exp(gamma) is a rate ratio) and her mean dropout rate s / beta_i is
exp(gamma_dropout' x_i) times the reference's (a positive dropout coefficient
means shorter lifetimes). r and s are shared by all customers. In BG/NBD,
alpha_i likewise, and a_i = a_0 exp(gamma_dropout' x_i), b_i = b_0
exp(gamma_dropout' x_i) (:data:`LINKS`).

Categories are one-hot encoded against a named reference level (the most
frequent, unless given); coefficients are named ``purchase: Channel=Instagram``
and ``dropout: Channel=Instagram`` (``purchase: Gender`` for a number).

How the likelihood is computed: customers with the same covariate vector
share (alpha_i, beta_i), so the log-likelihood is the sum over the distinct
covariate vectors of the plain Pareto/NBD log-likelihood of their customers at
that group's parameters, evaluated by the plain model's ``negll`` with its
series and analytic gradient; the gradient with respect to the coefficients
follows by the chain rule (d log alpha_g / d gamma = -x_g, and so on). This
keeps every numerical safeguard of the plain model, and costs one plain
evaluation per group: numeric covariates with many distinct values must be
binned (:data:`MAX_GROUPS`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from ltvxl.errors import LtvxlError, clip
from ltvxl.units import DEFAULT_UNIT

from . import paretonbd
from .base import LOG_BOUND, NBD_LIMIT, FitResult, _inverse, compress, fit_mle
from .cache import FitCache

MAX_GROUPS = 2000
"""Most distinct covariate vectors a fit takes (each costs one plain likelihood evaluation)."""

PURCHASE, DROPOUT = "purchase", "dropout"


@dataclass(frozen=True)
class Link:
    """How covariates enter a model: for each process, (index of a log-parameter, sign):
    log theta_i = log theta_0 + sign * gamma' x_i."""

    module: Any
    purchase: tuple[tuple[int, int], ...]
    dropout: tuple[tuple[int, int], ...]


def _links() -> dict[str, Link]:
    import importlib

    from . import registry

    out = {}
    for m in registry.PURCHASE_MODELS:
        if m.covariate_links is not None:
            purchase, dropout = ([(m.params.index(name), sign) for name, sign in pairs]
                                 for pairs in m.covariate_links)
            module = getattr(m.fit, "module", None) or m.fit.__module__  # a registry Lazy
            out[m.key] = Link(importlib.import_module(module), tuple(purchase),
                              tuple(dropout))
    return out


LINKS = _links()
"""The models that take covariates, by short name: those whose registry entry has
``covariate_links``."""


@dataclass(frozen=True)
class Design:
    """Covariates as a numeric matrix (one row per customer) with named columns."""

    names: tuple[str, ...]
    matrix: np.ndarray
    references: dict[str, str]
    """Reference level of each categorical covariate."""


def design(table: pd.DataFrame, references: dict[str, str] | None = None) -> Design:
    """One-hot encode the categorical columns of ``table`` (one row per customer, covariates
    only); numeric columns are used as they are. Missing values are refused (naming the
    column and row)."""
    references = dict(references or {})
    names: list[str] = []
    cols: list[np.ndarray] = []
    refs: dict[str, str] = {}
    for name in table.columns:
        col = table[name]
        missing = col.isna().to_numpy()
        if missing.any():
            row = int(np.argmax(missing)) + 1
            raise LtvxlError(f'covariate "{name}" row {row}: the value is missing')
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            names.append(str(name))
            cols.append(col.to_numpy(float))
            continue
        text = col.astype(str)
        levels = text.value_counts(sort=True)
        ref = references.get(str(name), str(levels.index[0]))
        if ref not in levels.index:
            raise LtvxlError(f'covariate "{name}": reference level "{ref}" does not occur')
        refs[str(name)] = ref
        for level in sorted(str(v) for v in levels.index if v != ref):
            names.append(f"{name}={level}")
            cols.append((text == level).to_numpy(float))
    if not names:
        raise LtvxlError("no covariate column to use")
    matrix = np.column_stack(cols)
    if not np.all(np.isfinite(matrix)):
        raise LtvxlError("covariates must be finite numbers")
    return Design(tuple(names), matrix, refs)


def for_customers(table: pd.DataFrame, customers: Any, source: str = "covariates"
                  ) -> tuple[pd.DataFrame, int]:
    """The covariate rows of ``customers`` in their order, and how many rows were unused.

    ``table``: the customer id in its first column, one column per covariate. Ids are
    compared as the transaction readers format them (1001 and 1001.0 are one customer).
    A customer without a row, or a customer with two, is an error naming ``source``.
    """
    from ltvxl.transactions.ids import format_id

    if table.shape[1] < 2:
        raise LtvxlError(f"{source}: needs the customer id in the first column and at least "
                         "one covariate column")
    ids = [format_id(v) for v in table.iloc[:, 0]]
    table = table.iloc[:, 1:].set_axis(ids)
    dup = table.index.duplicated()
    if dup.any():
        i = int(np.argmax(dup))
        raise LtvxlError(f'{source} row {i + 2}: customer "{clip(str(ids[i]), 40)}" appears '
                         "twice")
    wanted = [format_id(c) for c in customers]
    missing = [c for c in wanted if c not in table.index]
    if missing:
        raise LtvxlError(f'{source}: {len(missing):,} customers have no covariate row (first: '
                         f'"{clip(str(missing[0]), 40)}"); give every customer of the '
                         "transactions a row")
    return table.loc[wanted].reset_index(drop=True), len(table) - len(wanted)


@dataclass(frozen=True)
class CovariateFit:
    """A Pareto/NBD fit with covariates, the plain fit it is tested against, and the test."""

    fit: FitResult
    """r, alpha (alpha_0), s, beta (beta_0), then the coefficients by name."""
    plain: FitResult
    design: Design
    processes: tuple[str, ...]
    lr_statistic: float
    lr_df: int
    lr_p_value: float
    model: str = "pnbd"
    """Short name of the model (a key of :data:`LINKS`)."""
    shared: tuple[str, ...] = ()
    """The covariates whose coefficient both processes share (``both: <name>``)."""

    @property
    def coefficients(self) -> dict[str, float]:
        return {k: v for k, v in self.fit.params.items()
                if k.startswith((*self.processes, SHARED))}

    def coefficient(self, process: str, name: str) -> float:
        """The coefficient of covariate ``name`` in ``process`` (0 when it is not in it)."""
        p = self.fit.params
        return p.get(f"{process}: {name}", p.get(f"{SHARED}: {name}", 0.0)
                     if process in self.processes else 0.0)


@dataclass(frozen=True)
class _Groups:
    """Customers grouped by covariate vector, each group's rows compressed for the model."""

    vectors: np.ndarray
    data: list[Any]
    inverse: np.ndarray
    columns: list[tuple[np.ndarray, ...]]
    """Each group's distinct (x, t_x, T) rows, sorted, and their counts last."""

    def subsample(self, step: int, module: Any) -> _Groups:
        """Every ``step``-th distinct row of each group (with its count)."""
        cols = [tuple(c[::step] for c in group) for group in self.columns]
        return _Groups(self.vectors, [module.Data(*c) for c in cols], self.inverse, cols)


def distinct_rows(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct rows of ``matrix`` in sorted order, each row's index among them): as
    ``np.unique(matrix, axis=0, return_inverse=True)``, by :func:`compress`'s hashing (30
    times faster on 200,000 customers)."""
    comp = compress(tuple(np.asarray(matrix, float).T))
    return np.column_stack(comp.columns), comp.inverse


def _groups(x: np.ndarray, tx: np.ndarray, big_t: np.ndarray, matrix: np.ndarray,
            module: Any = paretonbd) -> _Groups:
    vectors, inverse = distinct_rows(matrix)
    if len(vectors) > MAX_GROUPS:
        raise LtvxlError(
            f"the covariates take {len(vectors):,} distinct combinations (at most {MAX_GROUPS:,}): "
            "bin numeric covariates into a few classes"
        )
    data, columns = [], []
    for g in range(len(vectors)):
        rows = inverse == g
        comp = compress((x[rows], tx[rows], big_t[rows]))
        columns.append((*comp.columns, comp.weights))
        data.append(module.Data(*columns[-1]))
    return _Groups(vectors, data, inverse, columns)


def _shifted(theta: np.ndarray, vec: np.ndarray, k: int, purchase: bool, dropout: bool,
             link: Link) -> np.ndarray:
    """The plain model's log-parameters of the group with covariate vector ``vec``."""
    nb = len(link.module.PARAMS)
    th = theta[:nb].copy()
    at = nb
    for used, pairs in ((purchase, link.purchase), (dropout, link.dropout)):
        if used:
            shift = float(theta[at:at + k] @ vec)
            for i, sign in pairs:
                th[i] += sign * shift
            at += k
    return th


def _negll(theta: np.ndarray, groups: _Groups, k: int, purchase: bool, dropout: bool,
           link: Link = LINKS["pnbd"]):
    """Total negative log-likelihood and gradient in (the model's log-parameters at the
    reference, purchase coefficients, dropout coefficients)."""
    total = 0.0
    grad = np.zeros_like(theta)
    for vec, data in zip(groups.vectors, groups.data, strict=True):
        f, g = link.module.negll(_shifted(theta, vec, k, purchase, dropout, link), data)
        total += f
        grad += _group_jacobian(link, vec, k, purchase, dropout).T @ g
    return total, grad


def _group_jacobian(link: Link, vector: np.ndarray, k: int, purchase: bool, dropout: bool
                    ) -> np.ndarray:
    """d (the plain model's log-parameters at ``vector``) / d (the likelihood's
    coordinates: log-parameters at the reference, then each used process's coefficients)."""
    nb = len(link.module.PARAMS)
    jac = np.zeros((nb, nb + k * (purchase + dropout)))
    jac[:, :nb] = np.eye(nb)
    at = nb
    for used, pairs in ((purchase, link.purchase), (dropout, link.dropout)):
        if used:
            for i, sign in pairs:
                jac[i, at:at + k] = sign * vector
            at += k
    return jac


def _hessian(theta: np.ndarray, groups: _Groups, k: int, purchase: bool, dropout: bool,
             link: Link) -> np.ndarray:
    """The Hessian of :func:`_negll` at ``theta``, from each group's 4 x 4 Hessian of the
    plain model (forward differences of its analytic gradient) by the chain rule: 4
    evaluations per group instead of one per coordinate (4 + 2 x coefficients)."""
    from .base import _hessian as differences

    hess = np.zeros((theta.size, theta.size))
    with np.errstate(all="ignore"):
        for vec, data in zip(groups.vectors, groups.data, strict=True):
            th = _shifted(theta, vec, k, purchase, dropout, link)

            def plain(t: np.ndarray, data: Any = data) -> tuple[float, np.ndarray]:
                return link.module.negll(t, data)

            jac = _group_jacobian(link, vec, k, purchase, dropout)
            hess += jac.T @ differences(plain, th, plain(th)[1]) @ jac
    return hess


def fit(
    frequency: Any,
    recency: Any,
    T: Any,
    covariates: Design,
    *,
    processes: Sequence[str] = (PURCHASE, DROPOUT),
    model: str = "pnbd",
    time_unit: str = DEFAULT_UNIT,
    shared: Sequence[str] = (),
    cache: FitCache | None = None,
) -> CovariateFit:
    """Fit ``model`` ("pnbd": Pareto/NBD, "bgnbd": BG/NBD) with covariates in
    ``processes`` ("purchase", "dropout" or both).

    ``frequency``, ``recency``, ``T``: one value per customer, as for the plain fit, in
    the order of ``covariates.matrix``'s rows. ``shared``: names of ``covariates``
    whose coefficient is one number in both processes (CLVTools' constrained
    covariates; named ``both: <name>``, both processes needed). Returns the fit
    (coefficients with standard errors from the Hessian), the plain fit and the
    likelihood-ratio test of the coefficients against it. ``cache``: where the plain fit
    is looked up (the one CLV_PREDICT made of the same summary, say).
    """
    from . import clv

    x = np.asarray(frequency, float)
    tx = np.asarray(recency, float)
    big_t = np.asarray(T, float)
    matrix = covariates.matrix
    if matrix.shape[0] != x.size:
        raise LtvxlError(f"covariates have {matrix.shape[0]} rows for {x.size} customers")
    procs = tuple(p for p in (PURCHASE, DROPOUT) if p in processes)
    if not procs:
        raise LtvxlError('processes must name "purchase", "dropout" or both')
    if model not in LINKS:
        raise LtvxlError(f'covariates work with {", ".join(LINKS)}; got "{model}"')
    link = LINKS[model]
    groups = _groups(x, tx, big_t, matrix, link.module)
    plain = clv.fit_purchases(model, x, tx, big_t, time_unit=time_unit, cache=cache)
    k = matrix.shape[1]
    purchase, dropout = PURCHASE in procs, DROPOUT in procs
    names, free = _free(link.module.PARAMS, covariates.names, procs, shared)
    coefs = len(names) - 4
    n_rows = sum(d.x.size for d in groups.data)
    args = (groups, k, purchase, dropout, float(x.size), n_rows, time_unit)
    result = None
    if model == "pnbd" and plain.limit and plain["s"] >= paretonbd.COMMON_S:
        result = _at_common_rate(plain, names, free, *args)
    if result is None:
        # a plain fit at a limit has a parameter at 0 (no dropout: s = 0): start just inside
        with np.errstate(divide="ignore"):
            logs = np.clip(np.log(plain.values()), -LOG_BOUND + 1, LOG_BOUND - 1)
        start = np.concatenate([logs, np.zeros(coefs)])
        raw = _fit_coordinates(link, names, free, start, *args)
        # fit_mle reports exp(theta) with delta-method errors: the coefficients are theta
        params, errors = dict(raw.params), dict(raw.std_errors)
        for name in names[4:]:
            value = params[name]
            params[name] = math.log(value)
            errors[name] = errors[name] / value
        result = replace(raw, params=params, std_errors=errors)
        if plain.limit == NBD_LIMIT or not result.converged:
            result = _at_no_dropout(plain, result, names, free, *args) or result
    from scipy.special import chdtrc  # the chi-squared survival function (scipy.stats is slow
    # to import)

    stat = max(2.0 * (result.log_likelihood - plain.log_likelihood), 0.0)
    return CovariateFit(result, plain, covariates, procs, stat, coefs, float(chdtrc(coefs, stat)),
                        model, tuple(shared))


def _fit_coordinates(link: Link, names: list[str], free: np.ndarray, start: np.ndarray,
                     groups: _Groups, k: int, purchase: bool, dropout: bool,
                     n_customers: float, n_rows: int, time_unit: str) -> FitResult:
    """:func:`~ltvxl.models.base.fit_mle` of the covariate model over ``free``'s coordinates
    (exp of every coordinate reported), from a subsample's optimum on many rows
    (:func:`_warm_start`), with the Hessians by groups (:func:`_hessian`)."""

    def negll(theta: np.ndarray) -> tuple[float, np.ndarray]:
        f, g = _negll(free @ theta, groups, k, purchase, dropout, link)
        return f, free.T @ g

    def hessian(theta: np.ndarray, _: Any = None) -> np.ndarray:
        return free.T @ _hessian(free @ theta, groups, k, purchase, dropout, link) @ free

    start, inv = _warm_start(groups, start, free, k, purchase, dropout, link)
    if inv is None:  # the optimiser's first Hessian, by groups as the standard errors'
        with np.errstate(all="ignore"):
            inv = _inverse(hessian(start))
    raw = fit_mle(f"{link.module.NAME} with covariates", names, negll, start, n_customers,
                  n_rows, time_unit=time_unit, inv_hessian=inv, hessian=hessian)
    return replace(raw, time_unit=time_unit)


@dataclass(frozen=True)
class _CommonRate:
    """Pareto/NBD's limit of one dropout rate mu = s/beta (s, beta -> infinity) as a model
    for :class:`Link`: log-parameters (r, alpha, mu)."""

    NAME = paretonbd.NAME
    PARAMS = ("r", "alpha", "mu")
    Data = paretonbd.Data
    negll = staticmethod(paretonbd.common_negll)


COMMON_RATE = Link(_CommonRate(), purchase=((1, -1),), dropout=((2, 1),))
"""Covariates in that limit: alpha_i = alpha_0 exp(-gamma_purchase' x_i) as in the full
model, mu_i = mu_0 exp(gamma_dropout' x_i) (the full model's s / beta_i)."""


def _at_common_rate(plain: FitResult, names: list[str], free: np.ndarray, groups: _Groups,
                    k: int, purchase: bool, dropout: bool, n_customers: float, n_rows: int,
                    time_unit: str) -> FitResult | None:
    """The covariate fit where the plain fit is Pareto/NBD's limit of one dropout rate:
    the same limit in every group (each group's own rate mu_i), reported as that fit is
    (s = COMMON_S, beta_0 = COMMON_S / mu_0); None when the full model with covariates
    is better inside the boundary (at the spreads ``paretonbd.INSIDE_S``), as the plain
    fit tests its own limit. The full model's likelihood there is flat in s and beta
    (its optimiser walks the ridge to the range's edge without converging)."""
    from .base import LIMIT_TOL

    coefs = len(names) - 4
    lim_names = ["r", "alpha", "mu", *names[4:]]
    lim_free = np.delete(np.delete(free, [2], axis=0), [2], axis=1)
    r, alpha, s, beta = plain.values()
    start = np.concatenate([np.log([r, alpha, s / beta]), np.zeros(coefs)])
    raw = _fit_coordinates(COMMON_RATE, lim_names, lim_free, start, groups, k, purchase,
                           dropout, n_customers, n_rows, time_unit)
    theta = np.log(list(raw.params.values()))
    f_lim = -raw.log_likelihood
    for big in paretonbd.INSIDE_S:
        inside = np.concatenate([theta[:2], [math.log(big), math.log(big) - theta[2]],
                                 theta[3:]])
        with np.errstate(all="ignore"):
            f_in = _negll(free @ inside, groups, k, purchase, dropout, LINKS["pnbd"])[0]
        if math.isfinite(f_in) and f_in < f_lim - LIMIT_TOL:
            return None
    mu = raw.params["mu"]
    params = {"r": raw.params["r"], "alpha": raw.params["alpha"], "s": paretonbd.COMMON_S,
              "beta": paretonbd.COMMON_S / mu}
    errors = {"r": raw.std_errors["r"], "alpha": raw.std_errors["alpha"], "s": float("nan"),
              "beta": params["beta"] * raw.std_errors["mu"] / mu}
    for name, value in zip(names[4:], theta[3:], strict=True):
        params[name] = float(value)
        errors[name] = raw.std_errors[name] / raw.params[name]
    covariance = None
    if raw.covariance is not None:  # to the full model's coordinates: log beta = log s - log mu
        to_full = np.insert(np.eye(theta.size), 2, 0.0, axis=0)
        to_full[3, 2] = -1.0
        covariance = to_full @ raw.covariance @ to_full.T
    status = raw.status
    if raw.converged:
        status += (f"; in the plain fit's limit {plain.limit} with each group's own rate (the "
                   f"full model's s and beta grow without bound there; reported as s = "
                   f"{paretonbd.COMMON_S:g})")
    return replace(raw, params=params, std_errors=errors, status=status, covariance=covariance,
                   limit=plain.limit)


@dataclass(frozen=True)
class _NoDropoutData:
    """A group's distinct (x, t_x, T) rows and their counts, for :class:`_NoDropout`."""

    x: np.ndarray
    tx: np.ndarray
    T: np.ndarray
    w: np.ndarray


@dataclass(frozen=True)
class _NoDropout:
    """The limit without dropout (Pareto/NBD's s = 0, BG/NBD's a = 0: the NBD) as a model
    for :class:`Link`: log-parameters (r, alpha)."""

    NAME = NBD_LIMIT
    PARAMS = ("r", "alpha")
    Data = _NoDropoutData

    @staticmethod
    def negll(theta: np.ndarray, d: _NoDropoutData) -> tuple[float, np.ndarray]:
        from .base import nbd_negll

        return nbd_negll(theta, d.x, d.T, d.w)


NO_DROPOUT = Link(_NoDropout(), purchase=((1, -1),), dropout=())
"""Covariates in that limit: alpha_i = alpha_0 exp(-gamma_purchase' x_i) as in the full
models; the dropout coefficients play no part."""


def _at_no_dropout(plain: FitResult, full: FitResult, names: list[str], free: np.ndarray,
                   groups: _Groups, k: int, purchase: bool, dropout: bool,
                   n_customers: float, n_rows: int, time_unit: str) -> FitResult | None:
    """The covariate fit at the limit without dropout (s = 0 or a = 0), with covariates in
    the purchase process only: the full fit ``full`` runs onto that boundary, where its
    Hessian is singular (the dropout coefficients and beta or b play no part). None
    when the limit's fit does not converge or its log-likelihood is below the full fit's
    by more than ``base.LIMIT_TOL`` (the full model's optimum is interior). The dropout
    parameter is reported as 0, the other dropout parameter at the full fit's value and
    the dropout coefficients at 0, all with NaN standard errors (not identified); the
    covariance has zero rows and columns for them."""
    from .base import LIMIT_TOL

    nb = len(free) - k * (purchase + dropout)
    rows = [0, 1, *range(nb, nb + k * purchase)]  # log r, log alpha, purchase coefficients
    kept = [j for j in range(free.shape[1]) if np.any(free[rows, j] != 0)]
    lim_free = free[np.ix_(rows, kept)]
    lim_names = ["r", "alpha", *(names[j] for j in kept[2:])]
    lim_groups = _Groups(groups.vectors, [_NoDropoutData(*c) for c in groups.columns],
                         groups.inverse, groups.columns)
    with np.errstate(divide="ignore"):
        start = np.concatenate([np.log([full.params["r"], full.params["alpha"]]),
                                [full.params[names[j]] for j in kept[2:]]])
    raw = _fit_coordinates(NO_DROPOUT, lim_names, lim_free, start, lim_groups, k, purchase,
                           False, n_customers, n_rows, time_unit)
    if not raw.converged or raw.log_likelihood < full.log_likelihood - LIMIT_TOL:
        return None
    zero, other = names[2], names[3]  # s and beta, a and b
    params = dict.fromkeys(names, 0.0)
    errors = dict.fromkeys(names, float("nan"))
    params.update(r=raw.params["r"], alpha=raw.params["alpha"])
    params[other] = full.params[other]
    errors.update(r=raw.std_errors["r"], alpha=raw.std_errors["alpha"])
    for name in lim_names[2:]:
        params[name] = math.log(raw.params[name])
        errors[name] = raw.std_errors[name] / raw.params[name]
    covariance = None
    if raw.covariance is not None:  # zero rows and columns for what plays no part
        embed = np.zeros((len(names), len(kept)))
        embed[kept, np.arange(len(kept))] = 1.0
        covariance = embed @ raw.covariance @ embed.T
    unused = [n for n in names[4:] if n not in lim_names] + [other]
    status = (f"{raw.status}; at the limit {NBD_LIMIT}, {zero} = 0 (the full model with "
              f"covariates reached log-likelihood {full.log_likelihood:,.3f}, the limit "
              f"{raw.log_likelihood:,.3f}): the data show no sign of dropout, so "
              f"{', '.join(unused)} play no part (not identified: no standard errors)")
    return replace(raw, model=full.model, params=params, std_errors=errors, status=status,
                   covariance=covariance, limit=NBD_LIMIT,
                   iterations=full.iterations + raw.iterations)


def _warm_start(groups: _Groups, start: np.ndarray, free: np.ndarray, k: int, purchase: bool,
                dropout: bool, link: Link) -> tuple[np.ndarray, np.ndarray | None]:
    """(starting coordinates, inverse Hessian or None) of a covariate fit: with more than 5
    :data:`~ltvxl.models.base.WARM_ROWS` distinct rows in all, the optimum of the same fit
    on every k-th distinct row of each group (about WARM_ROWS rows) and its Hessian scaled
    to the full weight, as the plain fits start (:func:`ltvxl.models.base._warm_start`);
    otherwise ``start`` and None (as when the subsample fit runs to the edge of the range)."""
    from .base import LOG_BOUND, WARM_ROWS, _bfgs, _guarded

    rows = sum(d.x.size for d in groups.data)
    if rows <= 5 * WARM_ROWS:
        return start, None
    sub = groups.subsample(rows // WARM_ROWS, link.module)
    scale = (sum(float(c[-1].sum()) for c in groups.columns)
             / sum(float(c[-1].sum()) for c in sub.columns))

    def negll(theta: np.ndarray) -> tuple[float, np.ndarray]:
        f, g = _negll(free @ theta, sub, k, purchase, dropout, link)
        return f, free.T @ g

    safe, best = _guarded(negll)
    x0 = np.clip(start, -LOG_BOUND + 1, LOG_BOUND - 1)
    if safe(x0)[0] >= 1e300:
        return start, None
    with np.errstate(all="ignore"):
        inv = _inverse(free.T @ _hessian(x0, sub, k, purchase, dropout, link) @ free)
    _bfgs(safe, x0, 200, inv)
    x = best["x"]
    if np.any(np.abs(x) >= LOG_BOUND - 1):
        return start, None
    with np.errstate(all="ignore"):
        hess = free.T @ _hessian(x, sub, k, purchase, dropout, link) @ free
    return x, _inverse(hess * scale)


SHARED = "both"
"""The prefix of a coefficient shared by both processes (``both: Gender``)."""


def _free(base: Sequence[str], covariates: Sequence[str], procs: tuple[str, ...],
          shared: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """(the names of the fitted parameters, the matrix from them to the likelihood's
    coordinates: the base log-parameters, then each process's coefficient of every
    covariate): a shared coefficient is one column feeding both processes."""
    unknown = [n for n in shared if n not in covariates]
    if unknown:
        raise LtvxlError(f'shared covariate "{clip(str(unknown[0]), 40)}" is not one of the '
                         f"covariates ({', '.join(covariates)})")
    if shared and len(procs) < 2:
        raise LtvxlError("a shared coefficient needs both processes (purchase and dropout)")
    k, nb = len(covariates), len(base)
    eye = np.eye(nb + k * len(procs))
    names = list(base)
    columns = [eye[:, i] for i in range(nb)]
    for j, proc in enumerate(procs):
        for i, n in enumerate(covariates):
            if n not in shared:
                names.append(f"{proc}: {n}")
                columns.append(eye[:, nb + j * k + i])
    for n in shared:
        i = list(covariates).index(n)
        names.append(f"{SHARED}: {n}")
        columns.append(eye[:, nb + i] + eye[:, nb + k + i])
    return names, np.column_stack(columns)


def group_params(cov: CovariateFit, matrix: np.ndarray) -> list[dict[str, float]]:
    """Per row of ``matrix``: the plain model's parameters at that covariate vector."""
    link = LINKS[cov.model]
    p = cov.fit.params
    names = link.module.PARAMS
    with np.errstate(divide="ignore"):  # s = 0 or a = 0 at the limit without dropout
        logs = np.tile(np.log([p[n] for n in names]), (matrix.shape[0], 1))
    for proc, pairs in ((PURCHASE, link.purchase), (DROPOUT, link.dropout)):
        gamma = np.array([cov.coefficient(proc, n) for n in cov.design.names])
        shift = matrix @ gamma
        for i, sign in pairs:
            logs[:, i] += sign * shift
    return [dict(zip(names, np.exp(row).tolist(), strict=True)) for row in logs]


def p_alive(cov: CovariateFit, frequency: Any, recency: Any, T: Any, matrix: np.ndarray
            ) -> np.ndarray:
    """P(alive) of each customer at her own parameters."""
    x, tx, big_t = (np.asarray(v, float) for v in (frequency, recency, T))
    vectors, inverse = distinct_rows(matrix)
    out = np.empty(x.size)
    module = LINKS[cov.model].module
    for g, params in enumerate(group_params(cov, vectors)):
        rows = inverse == g
        out[rows] = module.p_alive(params, x[rows], tx[rows], big_t[rows])
    return out


def _spend(summary: pd.DataFrame, cov: CovariateFit, options: dict[str, Any]) -> Any:
    """(each customer's expected spend per purchase from one Gamma-Gamma fit on all
    customers, the plain prediction whose fits carry it)."""
    from . import clv

    spend_fit = clv.fit_spend(
        summary["frequency"].to_numpy(float), summary["monetary_value"].to_numpy(float)
    )
    overall = clv.predict(summary, model=cov.model, fits=clv.Fits(cov.plain, *spend_fit),
                          **options)
    return overall.table["expected_spend"].to_numpy(float), overall


def _at(cov: CovariateFit, rows: pd.DataFrame, params: dict[str, float], spend: np.ndarray,
        overall: Any, options: dict[str, Any]) -> pd.DataFrame:
    """The per-customer prediction of ``rows`` at the plain model's ``params``."""
    from . import clv

    fit = FitResult(cov.plain.model, params, {}, cov.fit.log_likelihood, float(len(rows)),
                    len(rows), cov.fit.converged, cov.fit.status, cov.fit.iterations)
    fits = clv.Fits(fit, overall.spend_fit, overall.spend_note)
    part = clv.predict(rows, model=cov.model, fits=fits, **options).table
    own = part["expected_spend"].to_numpy(float)
    return part.assign(expected_spend=spend,
                       clv=part["clv"].to_numpy(float) * spend / own)


def predict(cov: CovariateFit, summary: pd.DataFrame, matrix: np.ndarray, *,
            spend: SpendFit | None = None, **options: Any) -> pd.DataFrame:
    """The per-customer table of :func:`ltvxl.models.clv.predict` (customer, p_alive,
    expected_purchases, expected_spend, clv, churn_risk), each customer at her own
    parameters; spend from one Gamma-Gamma fit on all customers, or with ``spend`` (a
    :func:`fit_spend` on the same customers and covariates) at her own gamma_i.
    ``options`` are those of :func:`ltvxl.models.clv.predict` (horizon, horizon_unit,
    time_unit, annual_discount_rate, gross_margin)."""
    if matrix.shape[0] != len(summary):
        raise LtvxlError(f"covariates have {matrix.shape[0]} rows for {len(summary)} customers")
    per_purchase, overall = _spend(summary, cov, options)
    if spend is not None:
        per_purchase = expected_spend(spend, summary["frequency"], summary["monetary_value"],
                                      matrix)
    vectors, inverse = distinct_rows(matrix)
    parts = []
    for g, params in enumerate(group_params(cov, vectors)):
        rows = np.flatnonzero(inverse == g)
        part = _at(cov, summary.iloc[rows], params, per_purchase[rows], overall, options)
        parts.append(part.set_axis(rows))
    return pd.concat(parts).sort_index().reset_index(drop=True)


def _jacobian(cov: CovariateFit, vector: np.ndarray) -> np.ndarray:
    """d (the plain model's log-parameters at ``vector``) / d (the fit's coordinates:
    log-parameters at the reference, then each process's coefficients)."""
    return _group_jacobian(LINKS[cov.model], vector, len(cov.design.names),
                           PURCHASE in cov.processes, DROPOUT in cov.processes)


LEVEL = 0.9
"""Coverage of :func:`by_group`'s intervals."""
STEP = 1e-4
"""Step in log-parameters of the central differences behind the delta method."""


def by_group(summary: pd.DataFrame, groups: Any, *, model: str = "pnbd",
             time_unit: str = DEFAULT_UNIT, reference: str | None = None,
             level: float = LEVEL, cache: FitCache | None = None, min_customers: int = 1,
             **options: Any) -> tuple[pd.DataFrame, CovariateFit]:
    """Predicted CLV per customer of each group, from the model with the group as a
    categorical covariate in both processes (reference: the largest group, or
    ``reference``), and its ``level`` interval from the standard errors.

    ``summary``: the customer summary (customer, frequency, recency, T, monetary_value);
    ``groups``: each customer's group, in its order (the reference: the largest group
    fitted alone, unless ``reference``); ``options``: those of :func:`predict`. Returns
    one row per group, largest first: group, customers,
    clv_per_customer, clv_low, clv_high (the delta method on the log of the group's mean
    CLV, through the covariance of the fitted coefficients and the reference's
    parameters; the spend model's uncertainty and the customers' own are not in it),
    exp_purchase and exp_dropout (exp of the group's coefficients, 1 for the reference:
    the multiple of the reference's mean purchase rate, and for Pareto/NBD of its mean
    dropout rate; for BG/NBD the factor on both a and b), pooled (the group is one of
    those smaller than ``min_customers``, fitted together as one level, :data:`POOLED`:
    two coefficients need more customers than a handful; its rates are the pooled
    level's, its mean CLV its own customers'); and the fit. ``cache``: as :func:`fit`'s.
    """
    from statistics import NormalDist

    from . import clv
    from .base import dot

    names = pd.Series([str(g) for g in groups], name="group")
    if names.nunique() < 2:
        raise LtvxlError("the model view needs at least two groups; all customers are in "
                         f'"{clip(str(names.iloc[0]) if len(names) else "", 40)}"')
    sizes = names.value_counts()
    small = set(sizes.index[sizes.to_numpy() < min_customers])
    level_of = names.where(~names.isin(small), POOLED) if len(small) > 1 else names
    if level_of.nunique() < 2:
        raise LtvxlError(f"the model view needs two groups of at least {min_customers} "
                         "customers (or one and several smaller ones, pooled); lower "
                         "min_customers")
    if reference is None:  # the largest group fitted alone (design's default: the largest)
        alone = level_of[level_of != POOLED].value_counts()
        reference = str(sorted(alone.index, key=lambda g: (-alone[g], g))[0])
    d = design(level_of.to_frame(), {"group": reference})
    t = summary
    cov = fit(t["frequency"], t["recency"], t["T"], d, model=model, time_unit=time_unit,
              cache=cache)
    horizon, horizon_unit, rate, margin = _prediction_options(options)
    clv.check_options(time_unit, horizon_unit, margin)
    x, tx, big_t, m = (t[c].to_numpy(float) for c in ("frequency", "recency", "T",
                                                      "monetary_value"))
    # the spend fit of the plain prediction (through ``cache``: the one CLV_PREDICT made)
    spend = clv.expected_spend(clv.fit_spend(x, m, cache=cache)[0], x, m)
    z = NormalDist().inv_cdf((1 + level) / 2)
    base = list(LINKS[model].module.PARAMS)
    counts = names.value_counts(sort=False)
    order = sorted(counts.index, key=lambda g: (-counts[g], g))
    out = []
    for g in order:
        rows = np.flatnonzero(names.to_numpy() == g)
        vector = d.matrix[rows[0]]
        params = group_params(cov, vector[None, :])[0]
        # the group's mean CLV: its customers' discounted purchases at the group's rates on
        # their distinct (x, t_x, T), each row weighted by its customers' summed spend
        comp = compress((x[rows], tx[rows], big_t[rows]), spend[rows])

        def mean_clv(logs: np.ndarray, comp: Any = comp, n: int = rows.size) -> float:
            p = dict(zip(base, np.exp(logs).tolist(), strict=True))
            fx, ftx, ft = comp.columns
            disc = clv.alive_discounted(model, p, fx, ftx, ft, horizon,
                                        horizon_unit=horizon_unit, time_unit=time_unit,
                                        annual_discount_rate=rate)[2]
            return margin * dot(disc, comp.weights) / n

        with np.errstate(divide="ignore"):  # s = 0 or a = 0 at the limit without dropout
            logs = np.log([params[n] for n in base])
        value = mean_clv(logs)
        low = high = float("nan")
        if cov.fit.covariance is not None and value > 0:
            jac = _jacobian(cov, vector)
            spread = jac @ cov.fit.covariance @ jac.T
            # a log-parameter without variance (s at the limit of one dropout rate) is skipped
            grad = np.array([(mean_clv(logs + STEP * e) - mean_clv(logs - STEP * e)) / (2 * STEP)
                             if spread[i, i] > 0 else 0.0 for i, e in enumerate(np.eye(4))])
            var = float(grad @ spread @ grad)
            half = z * math.sqrt(max(var, 0.0)) / value
            low, high = value * math.exp(-half), value * math.exp(half)
        coef = {proc: float(np.exp(sum(cov.coefficient(proc, n) * x
                                       for n, x in zip(d.names, vector, strict=True))))
                for proc in (PURCHASE, DROPOUT)}
        out.append((g, len(rows), value, low, high, coef[PURCHASE], coef[DROPOUT],
                    level_of.iloc[rows[0]] == POOLED))
    table = pd.DataFrame(out, columns=["group", "customers", "clv_per_customer", "clv_low",
                                       "clv_high", "exp_purchase", "exp_dropout", "pooled"])
    return table, cov


POOLED = "(small groups, pooled)"
"""The level of :func:`by_group`'s fit that stands for the groups too small to fit alone."""


def _prediction_options(options: dict[str, Any]) -> tuple[float, str, float, float]:
    """(horizon, horizon_unit, annual_discount_rate, gross_margin) from :func:`by_group`'s
    ``options``, with :func:`ltvxl.models.clv.predict`'s defaults."""
    from ltvxl.units import HORIZON_UNIT

    from . import defaults

    known = {"horizon", "horizon_unit", "annual_discount_rate", "gross_margin"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"by_group() got unexpected options: {', '.join(unknown)}")
    return (float(options.get("horizon", defaults.HORIZON)),
            str(options.get("horizon_unit", HORIZON_UNIT)),
            float(options.get("annual_discount_rate", defaults.ANNUAL_DISCOUNT_RATE)),
            float(options.get("gross_margin", defaults.GROSS_MARGIN)))


# ---------------------------------------------------------------- Gamma-Gamma with covariates

SPEND = "spend"
"""The prefix of a spend coefficient (``spend: Channel=Store``)."""


@dataclass(frozen=True)
class SpendFit:
    """Gamma-Gamma with covariates: gamma_i = gamma_0 exp(delta' x_i), so customer i's
    population mean spend p gamma_i / (q - 1) is exp(delta' x_i) times the reference's
    (exp(delta) is a spend ratio); p and q shared. ``fit``: p, q, gamma (gamma_0), then
    the coefficients ``spend: <name>``; ``plain``: Gamma-Gamma without them; the
    likelihood-ratio test against it."""

    fit: FitResult
    plain: FitResult
    design: Design
    lr_statistic: float
    lr_df: int
    lr_p_value: float

    def gammas(self, matrix: np.ndarray) -> np.ndarray:
        """gamma_i of each row of ``matrix`` (a design's columns)."""
        delta = np.array([self.fit.params[f"{SPEND}: {n}"] for n in self.design.names])
        return self.fit.params["gamma"] * np.exp(np.asarray(matrix, float) @ delta)


def _spend_negll(theta: np.ndarray, vectors: np.ndarray, data: list[Any]
                 ) -> tuple[float, np.ndarray]:
    from . import gammagamma

    total, grad = 0.0, np.zeros_like(theta)
    for vec, d in zip(vectors, data, strict=True):
        th = theta[:3].copy()
        th[2] += float(theta[3:] @ vec)
        f, g = gammagamma.negll(th, d)
        total += f
        grad[:3] += g
        grad[3:] += g[2] * vec
    return total, grad


def fit_spend(frequency: Any, avg_spend: Any, covariates: Design) -> SpendFit:
    """Fit Gamma-Gamma with covariates in the mean spend (see :class:`SpendFit`) on the
    customers with repeat purchases and a positive mean repeat spend, as the plain fit;
    ``covariates``: one row per customer, in the order of ``frequency``."""
    from scipy.special import chdtrc

    from . import gammagamma

    x = np.asarray(frequency, float)
    m = np.asarray(avg_spend, float)
    matrix = covariates.matrix
    if matrix.shape[0] != x.size:
        raise LtvxlError(f"covariates have {matrix.shape[0]} rows for {x.size} customers")
    plain = gammagamma.fit(x, m)
    keep = np.isfinite(x) & np.isfinite(m) & (x > 0) & (m > 0)
    vectors, inverse = distinct_rows(matrix[keep])
    if len(vectors) > MAX_GROUPS:
        raise LtvxlError(f"the covariates take {len(vectors):,} distinct combinations (at "
                         f"most {MAX_GROUPS:,}): bin numeric covariates into a few classes")
    data = []
    for g in range(len(vectors)):
        rows = inverse == g
        comp = compress((x[keep][rows], m[keep][rows]))
        xs, ms = comp.columns
        data.append(gammagamma.Data(xs, ms, comp.weights))
    k = matrix.shape[1]
    names = [*gammagamma.PARAMS, *(f"{SPEND}: {n}" for n in covariates.names)]
    start = np.concatenate([np.log(plain.values()), np.zeros(k)])
    raw = fit_mle(f"{gammagamma.NAME} with covariates", names,
                  lambda th: _spend_negll(th, vectors, data), start, float(keep.sum()),
                  sum(d.x.size for d in data), remedy=gammagamma.REMEDY)
    params, errors = dict(raw.params), dict(raw.std_errors)
    for name in names[3:]:
        value = params[name]
        params[name] = math.log(value)
        errors[name] = errors[name] / value
    result = FitResult(
        model=raw.model, params=params, std_errors=errors, log_likelihood=raw.log_likelihood,
        n_customers=raw.n_customers, n_rows=raw.n_rows, converged=raw.converged,
        status=raw.status, iterations=raw.iterations, notes=plain.notes,
        problems=raw.problems, remedy=raw.remedy, covariance=raw.covariance,
    )  # fmt: skip
    stat = max(2.0 * (result.log_likelihood - plain.log_likelihood), 0.0)
    return SpendFit(result, plain, covariates, stat, k, float(chdtrc(k, stat)))


def expected_spend(spend: SpendFit, frequency: Any, avg_spend: Any, matrix: np.ndarray
                   ) -> np.ndarray:
    """Each customer's expected spend per purchase at her own gamma_i (currency):
    Gamma-Gamma's weighted mean of her population mean and her own mean repeat spend."""
    from . import gammagamma

    p, q = spend.fit.params["p"], spend.fit.params["q"]
    gammas = spend.gammas(matrix)
    out = np.empty(gammas.size)
    for g in np.unique(gammas):
        rows = gammas == g
        out[rows] = gammagamma.expected_spend((p, q, g), np.asarray(frequency, float)[rows],
                                              np.asarray(avg_spend, float)[rows])
    return out
