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

import hashlib
import importlib
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ltvxl.cells import as_grid, describe, read_numbers, text_option
from ltvxl.domains import (
    DISCOUNT_RATE,
    FRACTION,
    MAX_BB_PERIODS,
    NON_NEGATIVE,
    POSITIVE,
    Domain,
)
from ltvxl.errors import MAX_NOTE, LtvxlError, cell_error, clip
from ltvxl.worksheet import Arg, Spec, declare, elementwise

from ._declare import expose
from ._logs import log_of

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
    "BGNBD_EXPECTED",
    "BGNBD_EXPECTED_NEW",
    "BGNBD_PALIVE",
    "BGNBD_PROB",
    "BTYD_FIT",
    "CLV_CHECK",
    "CLV_FIT",
    "CLV_PREDICT",
    "GG_FIT",
    "GG_SPEND",
    "MBGNBD_EXPECTED",
    "MBGNBD_PALIVE",
    "PNBD_EXPECTED",
    "PNBD_EXPECTED_NEW",
    "PNBD_PALIVE",
    "PNBD_PROB",
    "SBG_DERL",
    "SBG_FIT",
    "SBG_RETENTION",
    "SBG_SURVIVAL",
]

WHOLE_PERIOD = Domain(low=1)

# ---------------------------------------------------------------- shared arguments


def _p(name: str, what: str) -> Arg:
    return Arg(name, f"Model parameter {name} (> 0): {what}", domain=POSITIVE)


_R = Arg(
    "r_shape",
    "Model parameter r (> 0): shape of the purchase-rate distribution (named r_shape because "
    "Excel reads r as a cell address).",
    domain=POSITIVE,
)
_ALPHA = _p("alpha", "scale of the purchase rate, in the time unit of recency and age.")
_A = _p("a", "dropout-probability Beta shape a.")
_B = _p("b", "dropout-probability Beta shape b.")
_S = _p("s", "shape of the dropout-rate distribution.")
_BETA_T = _p("beta", "scale of the dropout rate, in the time unit of recency and age.")
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

CDNOW_BG = "0.2426, 4.4136, 0.7929, 2.4259"
CDNOW_PN = "0.5533, 10.578, 0.6062, 11.669"
CDNOW_MBG = "0.525, 6.183, 0.891, 1.614"


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


# ---------------------------------------------------------------- BG/NBD, Pareto/NBD, MBG/NBD


def _palive_spec(name: str, model: str, params: tuple[Arg, ...], example: str, result: str):
    return Spec(
        name,
        f"{model}: probability that a customer with this purchase history is still alive "
        "(has not dropped out) at the end of observation.",
        (*params, _FREQ, _RECENCY, _AGE),
        examples=((f"={name}({example}, 2, 30.43, 38.86)", result),),
    )


def _expected_spec(name: str, model: str, params: tuple[Arg, ...], example: str, result: str):
    return Spec(
        name,
        f"{model}: expected number of purchases of a customer with this history in the next t "
        "time units (t, recency and age in the unit of the parameters).",
        (*params, _T, _FREQ, _RECENCY, _AGE),
        examples=((f"={name}({example}, 39, 2, 30.43, 38.86)", result),),
    )


_BG_ARGS = (_R, _ALPHA, _A, _B)
_PN_ARGS = (_R, _ALPHA, _S, _BETA_T)


def _palive(name: str, model: str, func: Callable[..., np.ndarray], result: str, *cfg: Any):
    return _flat(_palive_spec(name, model, *cfg, result), _with_history(func, 4), PROBABILITY)


def _expected(name: str, model: str, func: Callable[..., np.ndarray], result: str, *cfg: Any):
    return _flat(_expected_spec(name, model, *cfg, result), _with_history(func, 4, 1))


_BG, _PN, _MBG = (_BG_ARGS, CDNOW_BG), (_PN_ARGS, CDNOW_PN), (_BG_ARGS, CDNOW_MBG)
BGNBD_PALIVE = _palive("BGNBD_PALIVE", "BG/NBD", _later("bgnbd", "p_alive"), "0.7266", *_BG)
BGNBD_EXPECTED = _expected(
    "BGNBD_EXPECTED", "BG/NBD", _later("bgnbd", "conditional_expected"), "1.226", *_BG
)
PNBD_PALIVE = _palive("PNBD_PALIVE", "Pareto/NBD", _later("paretonbd", "p_alive"), "0.8691", *_PN)
PNBD_EXPECTED = _expected(
    "PNBD_EXPECTED", "Pareto/NBD", _later("paretonbd", "conditional_expected"), "1.4551", *_PN
)
MBGNBD_PALIVE = _palive("MBGNBD_PALIVE", "MBG/NBD", _later("mbgnbd", "p_alive"), "0.7062", *_MBG)
MBGNBD_EXPECTED = _expected(
    "MBGNBD_EXPECTED", "MBG/NBD", _later("mbgnbd", "conditional_expected"), "1.2630", *_MBG
)


_N = Arg("n", "Number of purchases, a whole number >= 0.", domain=NON_NEGATIVE)


def _new_customer(
    name: str,
    func: Callable[..., np.ndarray],
    result: str,
    model: str,
    params: tuple[Arg, ...],
    units: str,
    example: str,
) -> Callable[..., Any]:
    """A flat function of a newly acquired customer: the expected purchases in her first t
    time units (``func(params, t)``), or with ``n`` the probability of exactly n
    (``func(params, n, t)``); ``units`` names the parameters that carry the time unit."""
    prob = name.endswith("_PROB")
    if prob:
        what = "probability that a newly acquired customer makes exactly n repeat purchases "
        what += "in her first t time units"
        args, call = (*params, _N, _T), f"={name}({example}, 0, 39)"
    else:
        what = "expected number of purchases of a newly acquired customer in her first t "
        what += "time units after the first purchase"
        args, call = (*params, _T), f"={name}({example}, 39)"

    def core(*values: np.ndarray) -> np.ndarray:
        data = list(values[len(params) :])  # [n,] t
        if prob:
            data[0] = np.floor(data[0])
        return _by_params(func, list(values[: len(params)]), data)

    spec = Spec(
        name, f"{model}: {what} (t in the unit of {units}).", args, examples=((call, result),)
    )
    return _flat(spec, core, PROBABILITY if prob else EXPECTATION)


_BG_NEW = ("BG/NBD", _BG_ARGS, "alpha", CDNOW_BG)
_PN_NEW = ("Pareto/NBD", _PN_ARGS, "alpha and beta", CDNOW_PN)
BGNBD_EXPECTED_NEW = _new_customer(
    "BGNBD_EXPECTED_NEW", _later("bgnbd", "expected"), "1.195", *_BG_NEW
)
PNBD_EXPECTED_NEW = _new_customer(
    "PNBD_EXPECTED_NEW", _later("paretonbd", "expected"), "1.213", *_PN_NEW
)
BGNBD_PROB = _new_customer("BGNBD_PROB", _later("bgnbd", "prob_purchases"), "0.5743", *_BG_NEW)
PNBD_PROB = _new_customer("PNBD_PROB", _later("paretonbd", "prob_purchases"), "0.5935", *_PN_NEW)


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

_CACHE: OrderedDict[tuple, Any] = OrderedDict()
CACHE_SIZE = 16
TIME_UNIT = "weeks"
"""Unit in which the one-shot functions fit the models (results do not depend on it)."""


def _digest(*arrays: np.ndarray) -> str:
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        a = np.ascontiguousarray(a, dtype=float)
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _cached(key: tuple, make: Callable[[], Any]) -> Any:
    """The cached value for ``key``, made (and an error remembered) on first use."""
    if key in _CACHE:
        _CACHE.move_to_end(key)
        value = _CACHE[key]
    else:
        try:
            value = make()
        except LtvxlError as exc:
            value = exc
        _CACHE[key] = value
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    if isinstance(value, LtvxlError):
        raise value
    return value


def fits_for(summary: Any, model: str) -> tuple[FitResult, FitResult | None, str]:
    """(purchase fit, spend fit or None, spend note) for a customer summary.

    Cached on the content of the summary's columns: an unchanged range is not refitted.
    """
    mod = _model("clv").model_module(model)
    x = summary["frequency"].to_numpy(float)
    tx = summary["recency"].to_numpy(float)
    big_t = summary["T"].to_numpy(float)
    m = summary["monetary_value"].to_numpy(float)
    key_rfm = _digest(x, tx, big_t)
    purchases = _cached(
        (mod.NAME, TIME_UNIT, key_rfm), lambda: mod.fit(x, tx, big_t, time_unit=TIME_UNIT)
    )
    try:
        spend = _cached(("gg", _digest(x, m)), lambda: _model("gammagamma").fit(x, m))
        note = "" if spend.params["q"] > 1 else "Gamma-Gamma q <= 1: mean repeat spend used"
        if note:
            spend = None
    except LtvxlError as exc:
        spend, note = None, f"Gamma-Gamma not fitted ({exc.message}); mean repeat spend used"
    return purchases, spend, note


_MODEL_ARG = Arg(
    "model",
    "Optional purchase model: PNBD (Pareto/NBD, default), BGNBD or MBGNBD; spend per purchase "
    "always by Gamma-Gamma. BGNBD gives one-time buyers P(alive) = 1 however long ago they "
    "bought.",
    kind="text",
    default="PNBD",
    choices=("PNBD", "BGNBD", "MBGNBD"),
)
"""The purchase model of CLV_PREDICT and CLV_FIT: Pareto/NBD by default, because BG/NBD's
P(alive) of a customer without repeat purchases is 1 (docs/models.md)."""
_BTYD_MODEL_ARG = Arg(
    "model",
    "Optional model: BGNBD (default), PNBD (Pareto/NBD) or MBGNBD.",
    kind="text",
    default="BGNBD",
    choices=("BGNBD", "PNBD", "MBGNBD"),
)
_IDS = Arg(
    "ids",
    "Customer id of each transaction: a column of text or numbers; may start with a header row.",
    kind="data",
)
_DATES = Arg(
    "dates",
    "Date of each transaction (date cells, Excel serial numbers or 2024-01-31 text), same rows "
    "as ids.",
    kind="data",
)
_AMOUNTS = Arg(
    "amounts",
    "Amount of each transaction (currency); negative amounts are returns.",
    kind="data",
)
_AS_OF = Arg(
    "as_of",
    "Optional end of observation (a date); later transactions are left out. Blank for the last "
    "date in the log.",
    kind="value",
    default=None,
)


def _one(value: Any, name: str) -> Any:
    if isinstance(value, (list, tuple)):
        flat = [v for row in value for v in (row if isinstance(row, (list, tuple)) else [row])]
        if len(flat) != 1:
            raise LtvxlError(f"{name} must be a single cell, got a range of {len(flat)} cells")
        value = flat[0]
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _number(value: Any, name: str, default: float, domain: Domain) -> float:
    value = _one(value, name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LtvxlError(f"{name} must be a number, got {describe(value)}")
    try:
        value = float(value)
    except OverflowError:
        raise LtvxlError(f"{name} is too large to be a number", "#NUM!") from None
    bad = domain.bad_mask(np.asarray(value))
    if bad.any():
        code, text = domain.message(name, float(value))
        raise LtvxlError(text, code)
    return float(value)


def _summary(ids: Any, dates: Any, amounts: Any, as_of: Any) -> Any:
    log = log_of(ids, dates, amounts)
    summary = _module("ltvxl.transactions.summary")
    return summary.customer_summary(log, _one(as_of, "as_of"), TIME_UNIT)


def _predict(
    ids: Any,
    dates: Any,
    amounts: Any,
    horizon: Any,
    annual_discount_rate: Any,
    gross_margin: Any,
    as_of: Any,
    model: Any,
    horizon_unit: Any,
) -> list[list[Any]]:
    h = _number(horizon, "horizon", 12.0, NON_NEGATIVE)
    unit = text_option(horizon_unit, "horizon_unit", ("days", "weeks", "months", "years"), "months")
    _module("ltvxl.models.base").unit_days(unit, "horizon_unit")
    _module("ltvxl.models.clv").month_grid(h, unit, TIME_UNIT)  # the limit, before any fit
    d = _number(annual_discount_rate, "annual_discount_rate", 0.1, DISCOUNT_RATE)
    m = _number(gross_margin, "gross_margin", 1.0, FRACTION)
    name = text_option(model, "model", _MODEL_ARG.choices, _MODEL_ARG.default)
    summary = _summary(ids, dates, amounts, as_of)
    purchases, spend, note = fits_for(summary.table, name)
    pred = _model("clv").predict(
        summary.table,
        model=name,
        horizon=h,
        horizon_unit=unit,
        time_unit=TIME_UNIT,
        annual_discount_rate=d,
        gross_margin=m,
        purchases_fit=purchases,
        spend_fit=spend,
        spend_fallback=bool(note),
    )
    t = pred.table
    span = f"{h:g} {unit}"
    header = [
        "customer",
        "P(alive)" + ("" if purchases.converged else " (fit not converged: see CLV_FIT)"),
        f"expected purchases (next {span})",
        "expected spend per purchase" + (" (mean repeat spend)" if note else ""),
        f"predicted CLV ({span}, {d:.4g} a year, margin {m:.4g})",
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
            "the horizon, discounted CLV and a churn-risk label (Pareto/NBD by default, or "
            "BG/NBD, MBG/NBD; with Gamma-Gamma; fits cached).",
            (
                _IDS,
                _DATES,
                _AMOUNTS,
                Arg(
                    "horizon",
                    "Optional prediction horizon, in horizon_unit (months unless given); blank "
                    "for 12.",
                    kind="value",
                    default=12.0,
                ),
                Arg(
                    "annual_discount_rate",
                    "Optional discount rate per YEAR as a fraction (0.1 for 10 %), applied month "
                    "by month; blank for 0.1.",
                    kind="value",
                    default=0.1,
                ),
                Arg(
                    "gross_margin",
                    "Optional gross margin as a fraction (0.3 for 30 %); blank for 1, a revenue "
                    "CLV.",
                    kind="value",
                    default=1.0,
                ),
                _AS_OF,
                _MODEL_ARG,
                Arg(
                    "horizon_unit",
                    "Optional unit of horizon: days, weeks, months (default) or years.",
                    kind="text",
                    default="months",
                    choices=("days", "weeks", "months", "years"),
                ),
            ),
            returns="table",
            examples=(
                ("=CLV_PREDICT(A2:A5000, B2:B5000, C2:C5000)", "a table with a header row"),
                (
                    '=CLV_PREDICT(A:A, B:B, C:C, 24, 0.08, 0.3, "1997-09-30", "PNBD")',
                    "a table with a header row",
                ),
            ),
        ),
        _predict,
    )
)


def _fit(ids: Any, dates: Any, amounts: Any, as_of: Any, model: Any) -> list[list[Any]]:
    name = text_option(model, "model", _MODEL_ARG.choices, _MODEL_ARG.default)
    summary = _summary(ids, dates, amounts, as_of)
    purchases, spend, note = fits_for(summary.table, name)
    rows: list[list[Any]] = [["model", "parameter", "estimate", "std_error"]]

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

    add(purchases)
    rows.append([purchases.model, "time unit", TIME_UNIT, None])
    if spend is not None:
        add(spend)
    else:
        rows.append(["Gamma-Gamma", "status", clip(note, MAX_NOTE), None])
    for n in summary.notes:
        rows.append(["data", "note", clip(str(n), MAX_NOTE), None])
    return rows


CLV_FIT = expose(
    declare(
        Spec(
            "CLV_FIT",
            "Fit the purchase model (Pareto/NBD by default) and Gamma-Gamma to a transaction log: "
            "parameters with standard errors, log-likelihood, customers and fit status (rates "
            "per week).",
            (_IDS, _DATES, _AMOUNTS, _AS_OF, _MODEL_ARG),
            returns="table",
            examples=(("=CLV_FIT(A2:A5000, B2:B5000, C2:C5000)", "a table with a header row"),),
        ),
        _fit,
    )
)


NO_DOUBTS = "no doubts found: the fit converged on enough data"
"""CLV_CHECK's only line when nothing calls for caution."""


def _check(ids: Any, dates: Any, amounts: Any, horizon: Any, as_of: Any,
           model: Any) -> list[list[Any]]:
    from ltvxl.models.doubts import doubts

    h = _number(horizon, "horizon", 12.0, POSITIVE)
    name = text_option(model, "model", _MODEL_ARG.choices, _MODEL_ARG.default)
    summary = _summary(ids, dates, amounts, as_of)
    purchases, spend, note = fits_for(summary.table, name)
    pred = _model("clv").predict(summary.table, model=name, horizon=h, horizon_unit="months",
                       time_unit=TIME_UNIT, purchases_fit=purchases, spend_fit=spend,
                       spend_fallback=bool(note))
    found = doubts(summary.table, purchases, pred.table["expected_purchases"].to_numpy(float), h)
    lines = [d.line() for d in found]
    if note:
        lines.append(f"Gamma-Gamma: {note}.")
    return [["checks"], *([line] for line in (lines or [NO_DOUBTS]))]


CLV_CHECK = expose(
    declare(
        Spec(
            "CLV_CHECK",
            "Doubts about the CLV prediction of a transaction log, one line each with its "
            "remedy: fit not converged or at a boundary, too few data, short history, "
            "predictions far outside the history.",
            (
                _IDS,
                _DATES,
                _AMOUNTS,
                Arg("horizon", "Optional prediction horizon in months; blank for 12.",
                    kind="value", default=12.0),
                _AS_OF,
                _MODEL_ARG,
            ),
            returns="table",
            examples=(("=CLV_CHECK(A2:A5000, B2:B5000, C2:C5000)", "a column of lines"),),
        ),
        _check,
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
    return _cached((kind, _digest(*cols)), make)


_WEIGHTS = Arg(
    "weights",
    "Optional number of customers each row stands for (a column like frequency); blank for 1 each.",
    kind="data",
    default=None,
)


def _btyd_fit(
    frequency: Any, recency: Any, age: Any, model: Any, weights: Any, time_unit: Any
) -> Any:
    name = text_option(model, "model", _BTYD_MODEL_ARG.choices, _BTYD_MODEL_ARG.default)
    unit = text_option(time_unit, "time_unit", ("days", "weeks", "months", "years"), "weeks")
    mod = _model("clv").model_module(name)
    x = _numbers_column(frequency, "frequency")
    tx = _numbers_column(recency, "recency")
    big_t = _numbers_column(age, "age")
    w = None if weights is None else _numbers_column(weights, "weights")
    cols = (x, tx, big_t) if w is None else (x, tx, big_t, w)
    fit = _cached_fit(f"{mod.NAME} {unit}", lambda: mod.fit(x, tx, big_t, w, time_unit=unit), *cols)
    return _fit_table(fit)


BTYD_FIT = expose(
    declare(
        Spec(
            "BTYD_FIT",
            "Fit BG/NBD (default), Pareto/NBD or MBG/NBD to per-customer columns: parameters "
            "with standard errors, log-likelihood, customers and status. alpha and beta are "
            "in the unit of recency and age.",
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
                _BTYD_MODEL_ARG,
                _WEIGHTS,
                Arg(
                    "time_unit",
                    "Optional unit of recency and age: days, weeks (default), "
                    "months or years; alpha and beta are rates per this unit.",
                    kind="text",
                    default="weeks",
                    choices=("days", "weeks", "months", "years"),
                ),
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
                _WEIGHTS,
            ),
            returns="table",
            examples=(("=BGBB_FIT(A2:A23, B2:B23, C2:C23, D2:D23)", "a table with a header row"),),
        ),
        _bgbb_fit,
    )
)
