"""Worksheet functions of the buy-till-you-die models (:mod:`ltvxl.models`).

Two kinds:

- flat functions of parameters kept in cells (BGNBD_PALIVE, PNBD_EXPECTED,
  GG_SPEND, SBG_RETENTION, ...): element-wise, every argument a cell or a
  range, ranges broadcast and the result spills in their shape;
- one-shot tables from a transaction log: CLV_PREDICT (per-customer P(alive),
  expected purchases, spend, discounted CLV, churn risk) and CLV_FIT (the
  fitted parameters, standard errors, log-likelihood and status), with
  Pareto/NBD as the default purchase model. Fits are
  cached on the content of the per-customer summary, so recalculating an
  unchanged range does not refit.

Times: ``recency``, ``age`` (T) and ``t`` share one unit (days, weeks or
months), the unit the model's alpha and beta were fitted in.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ltvxl.cells import as_grid, describe, read_numbers
from ltvxl.domains import DISCOUNT_RATE, MAX_BB_PERIODS, NON_NEGATIVE, POSITIVE, Domain
from ltvxl.errors import MAX_NOTE, LtvxlError, cell_error, clip
from ltvxl.models import registry
from ltvxl.models.cache import FitCache
from ltvxl.models.registry import PurchaseModel
from ltvxl.units import DEFAULT_UNIT, HORIZON_UNIT
from ltvxl.worksheet import Arg, Spec, declare, elementwise, vba_name_problem

from . import _args
from ._logs import log_of
from .binding import expose

if TYPE_CHECKING:  # pragma: no cover
    from ltvxl.models.base import FitResult


def _module(name: str) -> Any:
    """A module imported at the first call that needs it: the models load scipy and
    pandas, which Excel should not pay for at its start (``=LTV`` needs numpy alone)."""
    return importlib.import_module(name)


def _model(name: str) -> Any:
    """The model module ``ltvxl.models.<name>`` (imported on first use)."""
    return _module(f"ltvxl.models.{name}")


def _later(model: str, name: str) -> Callable[..., Any]:
    """The function ``ltvxl.models.<model>.<name>``, its module imported at the first call."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(_model(model), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call

__all__ = [
    "BGBB_EXPECTED",
    "BGBB_FIT",
    "BGBB_PALIVE",
    "BTYD_FIT",
    "CLV_BACKTEST",
    "CLV_CHECK",
    "CLV_FIT",
    "CLV_PREDICT",
    "GG_FIT",
    "GG_SPEND",
    "SBG_DERL",
    "SBG_FIT",
    "SBG_RETENTION",
    "SBG_SURVIVAL",
]
"""The worksheet functions of this module; the flat functions of each purchase model
(``PNBD_PALIVE``, ...) are added below as they are made from the registry."""

WHOLE_PERIOD = Domain(low=1)

# ---------------------------------------------------------------- shared arguments


def _p(name: str, what: str) -> Arg:
    return Arg(name, f"Model parameter {name} (> 0): {what}", domain=POSITIVE)


_FREQ = Arg(
    "frequency",
    "Repeat purchases of the customer (purchase days after the first), >= 0.",
    domain=NON_NEGATIVE,
)
_RECENCY = Arg(
    "recency",
    "Time from the first to the last purchase, in the unit of the parameters (e.g. weeks); "
    "0 when frequency is 0.",
    domain=NON_NEGATIVE,
)
_AGE = Arg(
    "age",
    "Customer age T: time from the first purchase to the end of observation, same unit, "
    ">= recency.",
    domain=NON_NEGATIVE,
)
_T = Arg(
    "t",
    "Length of the future period, in the time unit of recency, age and alpha (e.g. 52 for a "
    "year of weeks).",
    domain=NON_NEGATIVE,
)
_N = Arg("n", "Number of purchases, a whole number >= 0.", domain=NON_NEGATIVE)


def _history_problems(x: np.ndarray, tx: np.ndarray, big_t: np.ndarray) -> np.ndarray | None:
    """Per-cell error texts for inconsistent (frequency, recency, age), or None."""
    bad_order = tx > big_t
    bad_zero = (x == 0) & (tx > 0)
    bad_pos = (x > 0) & (tx == 0)
    if not (bad_order.any() or bad_zero.any() or bad_pos.any()):
        return None
    out = np.full(x.shape, None, dtype=object)
    out[bad_pos] = cell_error("#VALUE!", "recency must be > 0 when frequency > 0")
    out[bad_zero] = cell_error("#VALUE!", "recency must be 0 when frequency is 0")
    out[bad_order] = cell_error("#VALUE!", "recency must be <= age")
    return out


def _by_params(
    func: Callable[..., np.ndarray], params: list[np.ndarray], data: list[np.ndarray]
) -> np.ndarray:
    """``func(params_tuple, *data)`` evaluated per distinct combination of parameter cells."""
    arrays = np.broadcast_arrays(*params, *data)
    shape = arrays[0].shape
    flat = [a.reshape(-1) for a in arrays]
    ps, ds = flat[: len(params)], flat[len(params) :]
    out = np.empty(flat[0].size)
    combos = np.stack(ps, axis=1)
    uniq, inv = np.unique(combos, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    for k, combo in enumerate(uniq):
        rows = inv == k
        out[rows] = func(tuple(float(v) for v in combo), *(d[rows] for d in ds))
    return out.reshape(shape)


def _with_history(func: Callable[..., np.ndarray], nparams: int, extra: int = 0):
    """A core over (params..., [extra...], frequency, recency, age) with history checks."""

    def core(*args: np.ndarray) -> np.ndarray:
        arrays = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in args))
        x, tx, big_t = arrays[-3:]
        problems = _history_problems(x, tx, big_t)
        if problems is not None:  # computed on a harmless stand-in, replaced below
            bad = problems != None  # noqa: E711
            x, tx = np.where(bad, 0.0, x), np.where(bad, 0.0, tx)
        value = _by_params(
            func, list(arrays[:nparams]), [*arrays[nparams : nparams + extra], x, tx, big_t]
        )
        if problems is None:
            return value
        out = value.astype(object)
        out[problems != None] = problems[problems != None]  # noqa: E711
        return out

    return core


def _positional(spec: Spec, core: Callable[..., Any]) -> Callable[..., Any]:
    """``core`` called with the spec's argument names as keywords, in order."""
    names = [a.name for a in spec.args]

    def by_name(**kwargs: Any) -> Any:
        return core(*(kwargs[n] for n in names))

    return by_name


RANGE_NOTE = "outside the range computed to 8 digits (docs/models.md, Numerical range)"
"""How a flat function reports parameters for which no method is accurate (NaN from the core)."""
PROBABILITY = (0.0, 1.0)
EXPECTATION = (0.0, None)


def _in_bounds(core: Callable[..., Any], name: str, bounds: tuple[float, float | None]):
    """``core`` whose results can exist: NaN (no accurate method) and values outside
    ``bounds`` beyond rounding become #NUM! texts, rounding just outside is clipped."""
    low, high = bounds

    def checked(*args: Any) -> Any:
        arr = np.asarray(core(*args))
        if arr.dtype.kind == "f":
            numbers, x = np.ones(arr.shape, dtype=bool), arr
        else:
            flat = arr.reshape(-1)
            numbers = np.fromiter((isinstance(v, float) for v in flat), bool, flat.size)
            numbers = numbers.reshape(arr.shape)
            x = np.where(numbers, arr, 0.0).astype(float)
        tol = 1e-12 * np.maximum(np.abs(x), 1.0)
        bad = numbers & ((x < low - tol) | ((high is not None) & (x > (high or 0.0) + tol)))
        lost = numbers & np.isnan(x)
        x = np.clip(x, low, high)
        if arr.dtype.kind == "f" and not (bad.any() or lost.any()):
            return x
        out = arr.astype(object)
        out[numbers] = x[numbers]
        out[lost] = cell_error("#NUM!", f"{name}: parameters {RANGE_NOTE}")
        out[bad] = cell_error("#NUM!", f"{name}: no valid value here ({RANGE_NOTE})")
        return out

    return checked


def _flat(
    spec: Spec, core: Callable[..., Any], bounds: tuple[float, float | None] = EXPECTATION
) -> Callable[..., Any]:
    return expose(elementwise(spec, _positional(spec, _in_bounds(core, spec.name, bounds))))


# ---------------------------------------------------------------- purchase models (registry)


def _param_args(model: PurchaseModel) -> tuple[Arg, ...]:
    """The worksheet arguments of a model's parameters; a name Excel would read as a cell
    address (r) gets a suffix."""
    out = []
    for name, what in zip(model.params, model.param_help, strict=True):
        if vba_name_problem(name) is None:
            out.append(_p(name, f"{what}."))
        else:
            cell = f"{name}_shape"
            why = f"named {cell} because Excel reads {name} as a cell address"
            out.append(dataclasses.replace(_p(name, f"{what} ({why})."), name=cell))
    return tuple(out)


def _flat_spec(model: PurchaseModel, kind: str) -> Spec:
    """The declaration of one flat function of a purchase model (see registry.FLAT_KINDS)."""
    name = f"{model.choice}_{kind}"
    params = _param_args(model)
    example = ", ".join(str(v) for v in model.example)
    units = " and ".join(model.time_params)
    what, args, tail = {
        "PALIVE": (
            "probability that a customer with this purchase history is still alive (has not "
            "dropped out) at the end of observation.",
            (*params, _FREQ, _RECENCY, _AGE),
            "2, 30.43, 38.86",
        ),
        "EXPECTED": (
            "expected number of purchases of a customer with this history in the next t time "
            "units (t, recency and age in the unit of the parameters).",
            (*params, _T, _FREQ, _RECENCY, _AGE),
            "39, 2, 30.43, 38.86",
        ),
        "EXPECTED_NEW": (
            "expected number of purchases of a newly acquired customer in her first t time "
            f"units after the first purchase (t in the unit of {units}).",
            (*params, _T),
            "39",
        ),
        "PROB": (
            "probability that a newly acquired customer makes exactly n repeat purchases in "
            f"her first t time units (t in the unit of {units}).",
            (*params, _N, _T),
            "0, 39",
        ),
    }[kind]
    call = f"={name}({example}, {tail})"
    examples = ((call, model.example_results[kind]),)
    return Spec(name, f"{model.name}: {what}", args, examples=examples)


def _flat_core(model: PurchaseModel, kind: str) -> Callable[..., Any]:
    """The vectorised core of one flat function: parameters first, then the data."""
    k = len(model.params)
    if kind == "PALIVE":
        return _with_history(model.p_alive, k)
    if kind == "EXPECTED":
        return _with_history(model.conditional_expected, k, 1)
    func = model.expected if kind == "EXPECTED_NEW" else model.prob_purchases
    assert func is not None, f"{model.name} has no {kind}"

    def core(*values: np.ndarray) -> np.ndarray:
        data = list(values[k:])  # [n,] t
        if kind == "PROB":
            data[0] = np.floor(data[0])
        return _by_params(func, list(values[:k]), data)

    return core


for _entry in registry.PURCHASE_MODELS:
    for _kind in _entry.flat_kinds:
        _spec = _flat_spec(_entry, _kind)
        _bounds = PROBABILITY if _kind in ("PALIVE", "PROB") else EXPECTATION
        globals()[_spec.name] = _flat(_spec, _flat_core(_entry, _kind), _bounds)
        __all__.append(_spec.name)
del _entry, _kind, _spec, _bounds


# ---------------------------------------------------------------- Gamma-Gamma


def _gg_core(p, q, gamma, frequency, avg_spend):
    q_arr = np.broadcast_to(np.asarray(q, dtype=float), np.broadcast(p, q, gamma).shape)
    value = _by_params(_model("gammagamma").expected_spend, [p, q, gamma], [frequency, avg_spend])
    if np.all(q_arr > 1):
        return value
    out = value.astype(object)
    out[np.broadcast_to(q_arr <= 1, out.shape)] = cell_error(
        "#NUM!", "q must be > 1 for a finite mean spend"
    )
    return out


GG_SPEND = _flat(
    Spec(
        "GG_SPEND",
        "Gamma-Gamma: expected average spend per transaction of a customer, a weighted mean of "
        "her own average and the population mean p gamma / (q - 1).",
        (
            _p("p", "shape of the transaction values."),
            _p("q", "shape of their rate across customers (> 1 for a finite mean)."),
            _p("gamma", "scale of their rate across customers (currency)."),
            _FREQ,
            Arg(
                "avg_spend",
                "The customer's average repeat-purchase value (currency); ignored when "
                "frequency is 0 (the population mean is returned).",
                domain=NON_NEGATIVE,
            ),
        ),
        examples=(("=GG_SPEND(6.25, 3.74, 15.44, 2, 35)", "35.04"),),
    ),
    _gg_core,
)

# ---------------------------------------------------------------- sBG

_SBG_A = _p("alpha", "churn-probability Beta shape alpha (sBG).")
_SBG_B = _p("beta", "churn-probability Beta shape beta (sBG).")

SBG_RETENTION = _flat(
    Spec(
        "SBG_RETENTION",
        "sBG: retention rate of period t, the share of customers active in period t-1 who "
        "renew: (beta + t - 1) / (alpha + beta + t - 1). Rises with t.",
        (
            _SBG_A,
            _SBG_B,
            Arg(
                "period",
                "Renewal period t, a whole number >= 1 (contract periods: months or years).",
                domain=WHOLE_PERIOD,
            ),
        ),
        examples=(("=SBG_RETENTION(0.704, 1.182, 1)", "0.6267"),),
    ),
    lambda alpha, beta, period: _by_params(
        _model("sbg").retention, [alpha, beta], [np.floor(period)]
    ),
    PROBABILITY,
)

SBG_SURVIVAL = _flat(
    Spec(
        "SBG_SURVIVAL",
        "sBG: share of a new cohort still active after t renewal periods, "
        "B(alpha, beta + t) / B(alpha, beta).",
        (
            _SBG_A,
            _SBG_B,
            Arg(
                "period",
                "Number of periods t >= 0 (contract periods: months or years).",
                domain=NON_NEGATIVE,
            ),
        ),
        examples=(("=SBG_SURVIVAL(0.704, 1.182, 7)", "0.2391"),),
    ),
    lambda alpha, beta, period: _by_params(_model("sbg").survival, [alpha, beta], [period]),
    PROBABILITY,
)

SBG_DERL = _flat(
    Spec(
        "SBG_DERL",
        "sBG: discounted expected residual lifetime, in payments, of a customer who has renewed "
        "period times, the next payment undiscounted (Fader & Hardie 2010). Times margin = "
        "residual value.",
        (
            _SBG_A,
            _SBG_B,
            Arg(
                "discount_rate",
                "Discount rate per contract period as a fraction (0.1 for 10 %; per year for "
                "yearly contracts).",
                domain=DISCOUNT_RATE,
            ),
            Arg(
                "period",
                "Renewals made so far, a whole number >= 0 (0 for a customer in her first period).",
                domain=NON_NEGATIVE,
            ),
        ),
        examples=(("=SBG_DERL(0.704, 1.182, 0.1, 3)", "5.442"),),
    ),
    lambda alpha, beta, discount_rate, period: _by_params(
        lambda p, d, n: _model("sbg").derl(p, d, n),
        [alpha, beta],
        [discount_rate, np.floor(period)],
    ),
)

# ---------------------------------------------------------------- BG/BB

_BB_ARGS = (
    _p("alpha", "transaction-probability Beta shape alpha (BG/BB)."),
    _p("beta", "transaction-probability Beta shape beta (BG/BB)."),
    _p("gamma", "dropout-probability Beta shape gamma (BG/BB)."),
    _p("delta", "dropout-probability Beta shape delta (BG/BB)."),
)
_BB_FREQ = Arg(
    "frequency",
    "Transactions in the opportunities after the first transaction (whole number >= 0).",
    domain=NON_NEGATIVE,
)
_BB_REC = Arg(
    "recency",
    "Opportunity of the last transaction (0 if none), <= periods.",
    domain=NON_NEGATIVE,
)
_BB_N = Arg(
    "periods",
    "Number of opportunities observed after the first transaction (whole number, 0 to 100000).",
    domain=Domain(low=0, high=MAX_BB_PERIODS),
)
DONATION_PARAMS = "1.204, 0.75, 0.657, 2.783"


def _bb_core(func: Callable[..., np.ndarray], extra: int):
    def core(*args: np.ndarray) -> np.ndarray:
        arrays = [np.floor(np.asarray(a, dtype=float)) for a in args[4:]]
        x, tx, n = np.broadcast_arrays(*arrays[-3:])
        bad = (x > tx) | (tx > n) | ((x == 0) & (tx != 0)) | ((x > 0) & (tx == 0))
        x2, tx2 = np.where(bad, 0.0, x), np.where(bad, 0.0, tx)
        value = _by_params(func, list(args[:4]), [*arrays[:extra], x2, tx2, n])
        if not bad.any():
            return value
        out = value.astype(object)
        out[np.broadcast_to(bad, out.shape)] = cell_error(
            "#VALUE!", "need frequency <= recency <= periods, recency 0 exactly when frequency is 0"
        )
        return out

    return core


BGBB_PALIVE = _flat(
    Spec(
        "BGBB_PALIVE",
        "BG/BB: probability that a customer with this history over discrete opportunities is "
        "still alive at the next opportunity.",
        (*_BB_ARGS, _BB_FREQ, _BB_REC, _BB_N),
        examples=((f"=BGBB_PALIVE({DONATION_PARAMS}, 3, 4, 6)", "0.4395"),),
    ),
    _bb_core(_later("bgbb", "p_alive"), 0),
    PROBABILITY,
)
BGBB_EXPECTED = _flat(
    Spec(
        "BGBB_EXPECTED",
        "BG/BB: expected transactions of a customer with this history in the next horizon "
        "opportunities.",
        (
            *_BB_ARGS,
            Arg("horizon", "Number of future opportunities (>= 0).", domain=NON_NEGATIVE),
            _BB_FREQ,
            _BB_REC,
            _BB_N,
        ),
        examples=((f"=BGBB_EXPECTED({DONATION_PARAMS}, 5, 3, 4, 6)", "1.034"),),
    ),
    _bb_core(_later("bgbb", "conditional_expected"), 1),
)

# ---------------------------------------------------------------- CLV_PREDICT, CLV_FIT

FIT_CACHE = FitCache(16)
"""The fits of every model function, keyed on the content of the data they were fitted to:
recalculating an unchanged range does not refit."""


def _summary(ids: Any, dates: Any, amounts: Any, as_of: Any, order_ids: Any = None) -> Any:
    from ltvxl.transactions import summary as tx_summary

    log = log_of(ids, dates, amounts, None, order_ids)
    return tx_summary.customer_summary(log, as_of, DEFAULT_UNIT)


def _resolved(ids: Any, dates: Any, amounts: Any, summary: Any, model: str,
              order_ids: Any = None) -> tuple[str, str]:
    """(the worksheet choice of the model, "" or the words saying AUTO chose it): AUTO is
    the registered model with the lowest hold-out error on the log up to the summary's
    as_of (:func:`ltvxl.models.backtest.auto_model`)."""
    if model != _args.AUTO:
        return model, ""
    from ltvxl.models.backtest import auto_model

    choice = auto_model(log_of(ids, dates, amounts, None, order_ids), summary.as_of,
                        cache=FIT_CACHE)
    return choice.model.choice, f"{choice.model.name}, chosen by hold-out error"


_AUTO_WITH_COVARIATES = ("model AUTO chooses among the models without covariates: name the "
                         "model (PNBD or BGNBD) to use covariates")


def _covariate_table(value: Any) -> Any:
    """A covariates range as a table: the header row's names, the customer id first; a
    column whose cells are all numbers is numeric, any other one is a category."""
    import pandas as pd

    from ltvxl.transactions.columns import is_blank

    grid = as_grid(value, "covariates")
    blank = np.vectorize(is_blank, otypes=[bool])(grid)
    grid = grid[~blank.all(axis=1)]  # whole-column ranges end in blank rows
    if grid.shape[0] < 2 or grid.shape[1] < 2:
        raise LtvxlError("covariates must have a header row, the customer id in its first "
                         "column and at least one covariate column")
    names = []
    for j, head in enumerate(grid[0, 1:], start=2):
        if not isinstance(head, str) or not head.strip():
            raise LtvxlError(f"covariates: column {j} of the header row must name the covariate")
        names.append(clip(head.strip(), 40))
    columns: dict[str, Any] = {"customer": grid[1:, 0]}
    for j, name in enumerate(names, start=1):
        cells = [None if is_blank(v) else v for v in grid[1:, j]]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool)
                      for v in cells if v is not None)
        columns[name] = (np.array([np.nan if v is None else float(v) for v in cells])
                         if numeric else pd.array(cells, dtype=object))
    return pd.DataFrame(columns)


def shared_names(value: Any) -> tuple[str, ...]:
    """The ``shared_covariates`` argument's names: text separated by commas (blank: none)."""
    if value is None:
        return ()
    if not isinstance(value, str):
        raise LtvxlError("shared_covariates must be text: covariate names (or NAME=LEVEL) "
                         f"separated by commas, got {describe(value)}")
    return tuple(n.strip() for n in value.split(",") if n.strip())


def _uses_covariates(covariates: Any, spend: str, shared: tuple[str, ...]) -> None:
    """Refuse spend COVARIATES or shared names without a covariates range."""
    if covariates is None and (spend != _args.SPEND_CHOICES[0] or shared):
        what = "shared_covariates" if shared else f"spend {spend}"
        raise LtvxlError(f"{what} uses the covariates argument: give the covariates range")


def _covariate_fit(summary: Any, value: Any, model: str, shared: tuple[str, ...] = ()
                   ) -> Any:
    """(the covariate fit, the customers' design), fitted once per content; ``shared``:
    the covariates with one coefficient in both processes."""
    from ltvxl.models import covariates
    from ltvxl.models.cache import digest

    entry = registry.purchase_model(model)
    if entry.key not in covariates.LINKS:
        takes = " and ".join(registry.purchase_model(k).name for k in covariates.LINKS)
        raise LtvxlError(f"covariates work with {takes}, not {entry.name}")
    t = summary.table
    rows, _ = covariates.for_customers(_covariate_table(value), t["customer"].to_numpy())
    design = covariates.design(rows)
    cols = [t[c].to_numpy(float) for c in ("frequency", "recency", "T")]
    key = ("covariates", entry.key, summary.time_unit, design.names, shared,
           digest(*cols, design.matrix))
    cov = FIT_CACHE.get(key, lambda: covariates.fit(*cols, design, model=entry.key,
                                                    time_unit=summary.time_unit,
                                                    shared=shared, cache=FIT_CACHE))
    return cov, design


def _spend_fit(summary: Any, design: Any) -> Any:
    """Gamma-Gamma with the covariates in the mean spend, fitted once per content."""
    from ltvxl.models import covariates
    from ltvxl.models.cache import digest

    t = summary.table
    cols = [t[c].to_numpy(float) for c in ("frequency", "monetary_value")]
    key = ("spend covariates", design.names, digest(*cols, design.matrix))
    return FIT_CACHE.get(key, lambda: covariates.fit_spend(*cols, design))


def _predict(
    ids: Any,
    dates: Any,
    amounts: Any,
    horizon: float,
    annual_discount_rate: float,
    gross_margin: float,
    as_of: Any,
    model: str,
    horizon_unit: str,
    covariates: Any = None,
    order_ids: Any = None,
    spend: str = _args.SPEND_CHOICES[0],
    shared_covariates: Any = None,
) -> list[list[Any]]:
    from ltvxl.models import clv

    clv.month_grid(horizon, horizon_unit, DEFAULT_UNIT)  # the horizon's limit, before any fit
    names = shared_names(shared_covariates)
    _uses_covariates(covariates, spend, names)
    summary = _summary(ids, dates, amounts, as_of, order_ids)
    if covariates is not None and model == _args.AUTO:
        raise LtvxlError(_AUTO_WITH_COVARIATES)
    model, chosen = _resolved(ids, dates, amounts, summary, model, order_ids)
    chosen = f" ({chosen})" if chosen else ""
    fits = clv.fit_models(summary, model, cache=FIT_CACHE)
    options = dict(horizon=horizon, horizon_unit=horizon_unit, time_unit=summary.time_unit,
                   annual_discount_rate=annual_discount_rate, gross_margin=gross_margin)
    if covariates is None:
        t = clv.predict(summary, model=model, fits=fits, **options).table
    else:
        from ltvxl.models import covariates as cv

        cov, design = _covariate_fit(summary, covariates, model, names)
        spend_fit = _spend_fit(summary, design) if spend == "COVARIATES" else None
        t = cv.predict(cov, summary.table, design.matrix, spend=spend_fit, **options)
        fits, chosen = clv.Fits(cov.fit, fits.spend, fits.spend_note), " (with covariates)"
    span = f"{horizon:g} {horizon_unit}"
    header = [
        "customer",
        "P(alive)" + chosen
        + ("" if fits.purchases.converged else " (fit not converged: see CLV_FIT)"),
        f"expected purchases (next {span})",
        "expected spend per purchase" + (" (with covariates)" if spend == "COVARIATES" else
                                          " (mean repeat spend)" if fits.spend_note else ""),
        f"predicted CLV ({span}, {annual_discount_rate:.4g} a year, margin {gross_margin:.4g})",
        "churn risk",
    ]
    ids = t["customer"]
    customers = ids.tolist()  # Python scalars, except from an object column
    if ids.dtype == object:
        customers = [v.item() if isinstance(v, np.generic) else v for v in customers]
    cols = [
        t["p_alive"].to_numpy(float),
        t["expected_purchases"].to_numpy(float),
        t["expected_spend"].to_numpy(float),
        t["clv"].to_numpy(float),
    ]
    for c, label in zip(cols, header[1:5], strict=True):
        if not np.all(np.isfinite(c)):
            raise LtvxlError(f"{label} is not finite for some customers", "#NUM!")
    grid = np.empty((len(customers), 6), dtype=object)
    grid[:, 0] = customers
    for j, c in enumerate(cols, start=1):
        grid[:, j] = c.tolist()
    grid[:, 5] = t["churn_risk"].tolist()
    return [header, *grid.tolist()]


CLV_PREDICT = expose(
    declare(
        Spec(
            "CLV_PREDICT",
            "Per customer from a transaction log: P(alive), expected purchases and spend over "
            "the horizon, discounted CLV and a churn-risk label "
            f"({registry.in_words()}, or AUTO: the lowest hold-out error; with Gamma-Gamma; "
            "fits cached).",
            (
                _args.IDS,
                _args.DATES,
                _args.AMOUNTS,
                _args.HORIZON,
                _args.ANNUAL_DISCOUNT_RATE,
                _args.GROSS_MARGIN,
                _args.AS_OF,
                _args.MODEL_OR_AUTO,
                _args.HORIZON_UNIT,
                _args.COVARIATES,
                _args.ORDER_IDS,
                _args.SPEND,
                _args.SHARED,
            ),
            returns="table",
            examples=(
                ("=CLV_PREDICT(A2:A5000, B2:B5000, C2:C5000)", "a table with a header row"),
                (
                    '=CLV_PREDICT(A:A, B:B, C:C, 24, 0.08, 0.3, "1997-09-30", "PNBD")',
                    "a table with a header row",
                ),
                ('=CLV_PREDICT(A:A, B:B, C:C, , , , , "AUTO")',
                 "a table whose P(alive) header names the model chosen"),
            ),
        ),
        _predict,
    )
)


def _fit(ids: Any, dates: Any, amounts: Any, as_of: Any, model: str,
         covariates: Any = None, order_ids: Any = None, spend: str = _args.SPEND_CHOICES[0],
         shared_covariates: Any = None) -> list[list[Any]]:
    from ltvxl.models import clv

    names = shared_names(shared_covariates)
    _uses_covariates(covariates, spend, names)
    if covariates is not None and model == _args.AUTO:
        raise LtvxlError(_AUTO_WITH_COVARIATES)
    summary = _summary(ids, dates, amounts, as_of, order_ids)
    model, chosen = _resolved(ids, dates, amounts, summary, model, order_ids)
    fits = clv.fit_models(summary, model, cache=FIT_CACHE)
    rows: list[list[Any]] = [["model", "parameter", "estimate", "std_error"]]
    spend_fit = None
    if covariates is not None:
        cov, design = _covariate_fit(summary, covariates, model, names)
        fits = clv.Fits(cov.fit, fits.spend, fits.spend_note)
        if spend == "COVARIATES":
            spend_fit = _spend_fit(summary, design)

    def add(fit: FitResult) -> None:
        for k, v in fit.params.items():
            se = fit.std_errors.get(k, float("nan"))
            rows.append([fit.model, k, v, se if np.isfinite(se) else "#N/A no standard error"])
        rows.append([fit.model, "log-likelihood", fit.log_likelihood, None])
        rows.append([fit.model, "customers", fit.n_customers, None])
        for label, text in fit.status_rows():
            rows.append([fit.model, label, text, None])
        for n in fit.notes:
            rows.append([fit.model, "note", clip(n, MAX_NOTE), None])

    add(fits.purchases)
    rows.append([fits.purchases.model, "time unit", fits.purchases.time_unit, None])
    if chosen:
        rows.append([fits.purchases.model, "model", chosen, None])
    if covariates is not None:
        name = fits.purchases.model
        for covariate, level in design.references.items():
            rows.append([name, f"reference level of {clip(covariate, 40)}", clip(level, 60), None])
        rows.append([name, "LR test against no covariates: statistic", cov.lr_statistic, None])
        rows.append([name, "LR test: degrees of freedom", float(cov.lr_df), None])
        rows.append([name, "LR test: p-value", cov.lr_p_value, None])
    if spend_fit is not None:
        add(spend_fit.fit)
        name = spend_fit.fit.model
        rows.append([name, "LR test against no covariates: statistic", spend_fit.lr_statistic,
                     None])
        rows.append([name, "LR test: degrees of freedom", float(spend_fit.lr_df), None])
        rows.append([name, "LR test: p-value", spend_fit.lr_p_value, None])
    elif fits.spend is not None:
        add(fits.spend)
    else:
        rows.append([registry.GAMMA_GAMMA.name, "status", clip(fits.spend_note, MAX_NOTE), None])
    for n in summary.notes:
        rows.append(["data", "note", clip(str(n), MAX_NOTE), None])
    return rows


CLV_FIT = expose(
    declare(
        Spec(
            "CLV_FIT",
            f"Fit the purchase model ({registry.DEFAULT.name} by default) and Gamma-Gamma to a "
            "transaction log: parameters with standard errors, log-likelihood, customers and "
            f"fit status (rates per {DEFAULT_UNIT[:-1]}).",
            (_args.IDS, _args.DATES, _args.AMOUNTS, _args.AS_OF, _args.MODEL_OR_AUTO,
             _args.COVARIATES, _args.ORDER_IDS, _args.SPEND, _args.SHARED),
            returns="table",
            examples=(("=CLV_FIT(A2:A5000, B2:B5000, C2:C5000)", "a table with a header row"),
                      ('=CLV_FIT(A2:A5000, B2:B5000, C2:C5000, , "PNBD", F1:H800)',
                       "the covariates' coefficients as rows like 'purchase: Channel=Instagram' "
                       "and the LR test"),
                      ('=CLV_FIT(A2:A5000, B2:B5000, C2:C5000, , "PNBD", F1:H800, , '
                       '"COVARIATES", "Gender")',
                       "Gender's one coefficient in both processes ('both: Gender') and "
                       "Gamma-Gamma with the covariates in the mean spend ('spend: Channel', "
                       "its LR test)")),
        ),
        _fit,
    )
)


NO_DOUBTS = "no doubts found: the fit converged on enough data"
"""CLV_CHECK's only line when nothing calls for caution."""


def _check(
    ids: Any, dates: Any, amounts: Any, horizon: float, as_of: Any, model: str
) -> list[list[Any]]:
    from ltvxl.models import clv
    from ltvxl.models.doubts import doubts

    clv.month_grid(horizon, HORIZON_UNIT, DEFAULT_UNIT)  # the horizon's limit, before any fit
    summary = _summary(ids, dates, amounts, as_of)
    model, chosen = _resolved(ids, dates, amounts, summary, model)
    fits = clv.fit_models(summary, model, cache=FIT_CACHE)
    pred = clv.predict(summary, model=model, horizon=horizon, horizon_unit=HORIZON_UNIT,
                       fits=fits)  # fmt: skip
    expected = pred.table["expected_purchases"].to_numpy(float)
    lines = [d.line() for d in doubts(summary.table, fits.purchases, expected, horizon)]
    if fits.spend_note:
        lines.append(f"{registry.GAMMA_GAMMA.name}: {fits.spend_note}.")
    if chosen and lines:
        lines.append(f"model: {chosen} (CLV_BACKTEST shows the comparison).")
    return [["checks"], *([clip(line, MAX_NOTE)] for line in (lines or [NO_DOUBTS]))]


CLV_CHECK = expose(
    declare(
        Spec(
            "CLV_CHECK",
            "Doubts about the CLV prediction of a transaction log, one line each with its "
            "remedy: fit not converged or at a boundary, too few data, short history, "
            "predictions far outside the history.",
            (
                _args.IDS,
                _args.DATES,
                _args.AMOUNTS,
                _args.CHECK_HORIZON,
                _args.AS_OF,
                _args.MODEL_OR_AUTO,
            ),
            returns="table",
            examples=(("=CLV_CHECK(A2:A5000, B2:B5000, C2:C5000)", "a column of lines"),),
        ),
        _check,
    )
)

# ---------------------------------------------------------------- CLV_BACKTEST

AUTO = _args.AUTO
BACKTEST_TABLES = ("SUMMARY", "MODELS", "FREQUENCY", "TRACKING", "CUSTOMERS")
"""What CLV_BACKTEST returns: the measures, one row per model, the table by calibration
frequency, the weekly tracking data, one row per customer."""


_CAL_END = Arg(
    "calibration_end",
    "Optional last day of the calibration period (a date); the hold-out starts the day after. "
    "Blank for the first two thirds of the log's span.",
    kind="value",
    default=None,
)
_HOLDOUT_END = Arg(
    "holdout_end",
    "Optional last day of the hold-out (a date, at most the last date of the log); blank for "
    "the last date.",
    kind="value",
    default=None,
)
_BT_TABLE = Arg(
    "table",
    "Optional result: SUMMARY (measures, default), MODELS (one row per model and the "
    "baseline), FREQUENCY (by calibration frequency 0..7+), TRACKING (weekly), CUSTOMERS.",
    kind="text",
    default="SUMMARY",
    choices=BACKTEST_TABLES,
)


def _cell(value: Any) -> Any:
    """A result value as a cell: floats, texts, datetimes; NaN as #N/A."""
    if isinstance(value, np.datetime64):
        return value.astype("datetime64[s]").item()
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        x = float(value)
        return x if np.isfinite(x) else cell_error("#N/A", "not available")
    if isinstance(value, np.generic):
        return value.item()
    return value


def _frame_rows(header: list[str], frame: Any) -> list[list[Any]]:
    return [header, *([_cell(v) for v in row] for row in frame.itertuples(index=False))]


_BACKTESTS: list[tuple[Any, tuple[Any, ...], Any]] = []
"""The last backtests (log, key, result): CLV_BACKTEST's tables of one hold-out (measures,
by frequency, tracking, customers) come from one backtest, not one each."""


def _kept(log: Any, calibration_end: Any, holdout_end: Any, model: str,
          run: Callable[[], Any]) -> Any:
    """``run()``, or its result kept from a call on the same log (the logs' cache hands the
    same object for equal ranges) and the same dates and model."""
    key = (calibration_end, holdout_end, model)
    for kept_log, kept_key, result in _BACKTESTS:
        if kept_log is log and kept_key == key:
            return result
    result = run()
    _BACKTESTS.insert(0, (log, key, result))
    del _BACKTESTS[4:]
    return result


def _backtest(ids: Any, dates: Any, amounts: Any, calibration_end: Any, holdout_end: Any,
              model: str, table: str) -> list[list[Any]]:
    from ltvxl.models import backtest as bt

    log = log_of(ids, dates, amounts)
    reason = ""
    if model == AUTO or table == "MODELS":
        choice = _kept(log, calibration_end, holdout_end, AUTO,
                       lambda: bt.choose(log, calibration_end, holdout_end, cache=FIT_CACHE))
        tests = list(choice.backtests)
        result = next(b for b in tests if b.model is choice.model) if model == AUTO else \
            next((b for b in tests if b.model.choice == model), None)
        reason = choice.reason if model == AUTO else ""
        if result is None:  # the model asked for could not be fitted: say why
            result = bt.backtest(log, calibration_end, holdout_end, model, cache=FIT_CACHE)
    else:
        result = _kept(log, calibration_end, holdout_end, model, lambda: bt.backtest(
            log, calibration_end, holdout_end, model, cache=FIT_CACHE))
        tests = [result]
    unit = result.time_unit
    if table == "MODELS":
        rows: list[list[Any]] = [["model", "predicted hold-out purchases",
                                  "actual hold-out purchases", "error", "MAE per customer",
                                  "RMSE per customer", "Spearman", "normalized Gini",
                                  "decile MAPE", "log-likelihood (calibration)", "AIC", "BIC",
                                  "fit status"]]
        for b in tests:
            m = b.measures
            values = (m.predicted, m.actual, m.error, m.mae, m.rmse, m.spearman, m.gini,
                      m.decile_mape, b.fit.log_likelihood, b.aic, b.bic)
            rows.append([b.model.name, *(_cell(v) for v in values), b.fit_status])
        m = result.measures
        base_error = m.baseline / m.actual - 1 if m.actual else float("nan")
        rows.append([f"baseline ({bt.BASELINE})", *(_cell(v) for v in (
            m.baseline, m.actual, base_error, m.baseline_mae, m.baseline_rmse,
            m.baseline_spearman, m.baseline_gini, m.baseline_decile_mape)), *([None] * 3),
            "no fit"])
        return rows
    if table == "FREQUENCY":
        return _frame_rows(["calibration repeat purchases", "customers",
                            "actual hold-out purchases per customer",
                            f"predicted ({result.model.name})"], result.by_frequency)
    if table == "TRACKING":
        return _frame_rows(["week", "week end", "period", "actual repeat purchases",
                            f"predicted ({result.model.name})", "actual cumulative",
                            "predicted cumulative"], result.tracking)
    if table == "CUSTOMERS":
        return _frame_rows(["customer", "calibration repeat purchases", f"recency ({unit})",
                            f"age T ({unit})", "predicted hold-out purchases",
                            "actual hold-out purchases", f"baseline ({bt.BASELINE})",
                            "predicted hold-out value", "actual hold-out value"],
                           result.customers)
    split = result.split
    rows = [["measure", "value"], ["model", result.model.name],
            ["calibration", f"{split.first} to {split.calibration_end}"],
            ["hold-out", f"{split.calibration_end + np.timedelta64(1, 'D')} to "
             f"{split.holdout_end} ({result.holdout_length:.4g} {unit})"],
            ["fit status", result.fit_status]]
    if split.rule != "given":
        rows.append(["split rule", split.rule])
    rows += [[label, _cell(value)] for label, value in result.measures.rows()]
    if reason:
        rows.append(["chosen because", clip(reason, MAX_NOTE)])
    if result.spend_note:
        rows.append(["spend", clip(result.spend_note, MAX_NOTE)])
    rows += [["note", clip(n, MAX_NOTE)] for n in result.notes]
    return rows


CLV_BACKTEST = expose(
    declare(
        Spec(
            "CLV_BACKTEST",
            "Hold-out validation: fit the purchase model up to calibration_end, predict each "
            "customer's purchases and value in the hold-out, compare with what they did "
            "(totals, MAE, by frequency, weekly tracking).",
            (_args.IDS, _args.DATES, _args.AMOUNTS, _CAL_END, _HOLDOUT_END, _args.MODEL_OR_AUTO,
             _BT_TABLE),
            returns="table",
            examples=(
                ('=CLV_BACKTEST(A2:A6920, B2:B6920, C2:C6920, "1997-09-30", , "BGNBD")',
                 "a table of measures: 1,882 actual and 1,653 predicted hold-out purchases"),
                ('=CLV_BACKTEST(A:A, B:B, C:C, , , "AUTO", "FREQUENCY")',
                 "a table with a header row"),
            ),
        ),
        _backtest,
    )
)


# ---------------------------------------------------------------- fits from summary columns


def _numbers_column(value: Any, name: str) -> np.ndarray:
    """A column of numbers (an optional text header row is skipped); errors name the row."""
    grid = as_grid(value, name)
    if grid.shape[1] != 1 and grid.shape[0] != 1:
        raise LtvxlError(f"{name} must be one column, got {grid.shape[0]}x{grid.shape[1]} cells")
    cells = grid.reshape(-1)
    start = 1 if cells.size > 1 and isinstance(cells[0], str) else 0
    values, problems, _ = read_numbers(cells[start:].reshape(-1, 1), name)
    bad = np.flatnonzero(problems.reshape(-1) != None)  # noqa: E711
    if bad.size:
        i = int(bad[0])
        code, _, text = str(problems.reshape(-1)[i]).partition(" ")
        raise LtvxlError(f"{text} (row {i + 1 + start} of {name})", code)
    return values.reshape(-1)


def _fit_table(fit: FitResult) -> list[list[Any]]:
    rows = fit.table()
    for row in rows[1:]:
        if isinstance(row[2], float) and not np.isfinite(row[2]):
            row[2] = "#N/A no standard error"
    if fit.time_unit:
        rows.append(["time unit", fit.time_unit, None])
    for note in fit.notes:
        rows.append(["note", clip(note, MAX_NOTE), None])
    return rows


def _cached_fit(kind: str, make: Callable[[], FitResult], *cols: np.ndarray) -> FitResult:
    from ltvxl.models.cache import digest

    return FIT_CACHE.get((kind, digest(*cols)), make)


def _btyd_fit(
    frequency: Any, recency: Any, age: Any, model: str, weights: Any, time_unit: str
) -> Any:
    from ltvxl.models import clv

    x = _numbers_column(frequency, "frequency")
    tx = _numbers_column(recency, "recency")
    big_t = _numbers_column(age, "age")
    w = None if weights is None else _numbers_column(weights, "weights")
    fit = clv.fit_purchases(model, x, tx, big_t, w, time_unit=time_unit, cache=FIT_CACHE)
    return _fit_table(fit)


BTYD_FIT = expose(
    declare(
        Spec(
            "BTYD_FIT",
            f"Fit {registry.in_words()} to per-customer columns: parameters with "
            "standard errors, log-likelihood, customers and status. alpha and beta are in the "
            "unit of recency and age.",
            (
                Arg(
                    "frequency",
                    "Repeat purchases per customer: a column of whole numbers.",
                    kind="data",
                ),
                Arg(
                    "recency",
                    "Time from first to last purchase per customer (e.g. weeks), "
                    "same rows; 0 without repeat purchases.",
                    kind="data",
                ),
                Arg(
                    "age",
                    "Time from first purchase to the end of observation (T), same unit and rows.",
                    kind="data",
                ),
                _args.MODEL,
                _args.WEIGHTS,
                _args.FIT_TIME_UNIT,
            ),
            returns="table",
            examples=(("=BTYD_FIT(B2:B2358, C2:C2358, D2:D2358)", "a table with a header row"),),
        ),
        _btyd_fit,
    )
)


def _gg_fit(frequency: Any, avg_spend: Any) -> Any:
    x = _numbers_column(frequency, "frequency")
    m = _numbers_column(avg_spend, "avg_spend")
    return _fit_table(_cached_fit("gg", lambda: _model("gammagamma").fit(x, m), x, m))


GG_FIT = expose(
    declare(
        Spec(
            "GG_FIT",
            "Fit the Gamma-Gamma spend model to per-customer columns: p, q, gamma with standard "
            "errors, log-likelihood and status; customers without repeat purchases or with "
            "spend <= 0 are excluded and counted.",
            (
                Arg(
                    "frequency",
                    "Repeat purchases per customer: a column of whole numbers.",
                    kind="data",
                ),
                Arg(
                    "avg_spend",
                    "Average repeat-purchase value per customer (currency), same rows.",
                    kind="data",
                ),
            ),
            returns="table",
            examples=(("=GG_FIT(B2:B2358, E2:E2358)", "a table with a header row"),),
        ),
        _gg_fit,
    )
)


def _sbg_fit(alive: Any) -> Any:
    n = _numbers_column(alive, "alive")
    return _fit_table(_cached_fit("sbg", lambda: _model("sbg").fit(n), n))


SBG_FIT = expose(
    declare(
        Spec(
            "SBG_FIT",
            "Fit the shifted-beta-geometric model to one cohort: customers still active at the "
            "start of periods 0, 1, 2, ... (first = cohort size); alpha, beta with standard "
            "errors and status.",
            (
                Arg(
                    "alive",
                    "Customers of one cohort still active at the start of each period, "
                    "from period 0 (the cohort size) on; percentages work too.",
                    kind="data",
                ),
            ),
            returns="table",
            examples=(("=SBG_FIT(B2:B9)", "a table with a header row"),),
        ),
        _sbg_fit,
    )
)


def _bgbb_fit(frequency: Any, recency: Any, periods: Any, weights: Any) -> Any:
    x = _numbers_column(frequency, "frequency")
    tx = _numbers_column(recency, "recency")
    n = _numbers_column(periods, "periods")
    w = None if weights is None else _numbers_column(weights, "weights")
    cols = (x, tx, n) if w is None else (x, tx, n, w)
    return _fit_table(_cached_fit("bgbb", lambda: _model("bgbb").fit(x, tx, n, w), *cols))


BGBB_FIT = expose(
    declare(
        Spec(
            "BGBB_FIT",
            "Fit BG/BB to discrete-opportunity histories (one row per customer or per pattern "
            "with weights): alpha, beta, gamma, delta with standard errors, log-likelihood and "
            "status.",
            (
                Arg(
                    "frequency",
                    "Transactions after the first, per row (whole numbers).",
                    kind="data",
                ),
                Arg(
                    "recency",
                    "Opportunity of the last transaction (0 if none), same rows.",
                    kind="data",
                ),
                Arg(
                    "periods",
                    "Opportunities observed after the first transaction, same rows.",
                    kind="data",
                ),
                _args.WEIGHTS,
            ),
            returns="table",
            examples=(("=BGBB_FIT(A2:A23, B2:B23, C2:C23, D2:D23)", "a table with a header row"),),
        ),
        _bgbb_fit,
    )
)
