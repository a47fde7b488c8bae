"""Hold-out validation of a purchase model: fit on a calibration period, predict the
hold-out, compare with what the customers did.

The way the marketing-science literature validates buy-till-you-die models (Fader,
Hardie & Lee 2005, "Counting your customers the easy way", section 4):

1. **Split.** The log is cut at the calibration end (a date, inclusive). The
   calibration customers are those with a purchase on or before it; their
   (frequency, recency, T) are computed from the calibration rows alone. The hold-out
   runs from the day after the calibration end to the hold-out end (inclusive;
   default: the last date in the log). Customers whose first purchase falls in the
   hold-out are not scored (counted in the notes). Default calibration end
   (:data:`DEFAULT_RULE`): the first two thirds of the log's span, so the hold-out is
   the last third (day arithmetic, rounded down).
2. **Fit** the purchase model and the spend model on the calibration summary by the
   one fitting policy (:func:`ltvxl.models.clv.fit_models`).
3. **Predict** each customer's purchases in the hold-out, the conditional expectation
   E[X(T, T + t) | x, t_x, T] with t the hold-out length, and their value: predicted
   purchases x expected spend per purchase (Gamma-Gamma, or the mean repeat spend),
   undiscounted (:func:`ltvxl.models.clv.predict` with no discounting).
4. **Compare** with the actual hold-out purchases, counted as the calibration counts
   them: distinct purchase days (rows with amount >= 0; several on one day are one
   purchase), and the actual hold-out value: the sum of the hold-out amounts, returns
   netted.

Results (:class:`Backtest`): the per-customer table, the aggregate measures
(:class:`Measures`: totals, error %, per-customer MAE and RMSE, Spearman rank
correlation, the naive baseline of each customer's past repeat rate), the
conditional-expectation table by calibration frequency 0, 1, ..., 7+ (FHL 2005,
figure 4) and the weekly cumulative repeat purchases, actual against the model's
unconditional expectation (the tracking plot, FHL 2005 figure 3).

On the CDNOW 1/10th sample, with the BG/NBD, calibration to 1997-09-30 (39 weeks) and
hold-out to 1998-06-30 (weeks 40-78): 1,882 actual repeat purchases, 1,653 predicted
(the paper's figures; tests/test_backtest.py).

Times: recency, T and the hold-out length are in ``time_unit`` (weeks unless given);
the tracking table is always weekly (7 days), counted from the first purchase of the
earliest calibration customer. Money is in the log's currency.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ltvxl.errors import LtvxlError
from ltvxl.units import DEFAULT_UNIT, unit_days

from . import clv, registry
from .base import FitResult
from .cache import FitCache
from .doubts import fit_state
from .early import decile_mape, normalized_gini, spearman
from .registry import PurchaseModel

if TYPE_CHECKING:  # pragma: no cover
    from ltvxl.transactions.log import TransactionLog

CALIBRATION_SHARE = 2 / 3
"""Share of the log's span (first to last date) in the calibration period by default."""
DEFAULT_RULE = "default: the first two thirds of the span, the hold-out the last third"
"""The default calibration end in words."""
TOP_FREQUENCY = 7
"""Calibration frequencies of at least this are one bin ("7+") of the conditional table,
as in Fader, Hardie & Lee (2005), figure 4."""
BASELINE = "past repeat rate"
"""The naive baseline: each customer's calibration repeat purchases per unit of age,
times the hold-out length (0 for a customer of age 0)."""
TRACKING_DAYS = 7
"""The step of the tracking table, in days (weekly, as the literature plots it)."""


def _date(day: int) -> np.datetime64:
    return np.datetime64(int(day), "D")


@dataclass(frozen=True)
class Split:
    """The calibration and hold-out periods (days inclusive, ``datetime64[D]``).

    first: the first date of the log; calibration_end: the last day of the
    calibration; holdout_end: the last day of the hold-out; rule: how the
    calibration end was chosen ("given" or :data:`DEFAULT_RULE`).
    """

    first: np.datetime64
    calibration_end: np.datetime64
    holdout_end: np.datetime64
    rule: str

    @property
    def holdout_days(self) -> int:
        """Length of the hold-out in days."""
        return int((self.holdout_end - self.calibration_end).astype(int))

    def line(self) -> str:
        """The split in one line for a screen or a worksheet."""
        rule = "" if self.rule == "given" else f" ({self.rule})"
        start = self.calibration_end + np.timedelta64(1, "D")
        return (f"calibration {self.first} to {self.calibration_end}{rule}; hold-out "
                f"{start} to {self.holdout_end} ({self.holdout_days} days)")


def split_dates(
    log: TransactionLog,
    calibration_end: Any = None,
    holdout_end: Any = None,
    *,
    names: tuple[str, str] = ("calibration_end", "holdout_end"),
) -> Split:
    """The periods of a backtest of ``log``; a date outside the data is an error naming
    its argument (``names``: how the two arguments are called in messages).

    ``calibration_end`` (a date; default :data:`DEFAULT_RULE`) must be on or after the
    first date of the log and before the hold-out end; ``holdout_end`` (default: the
    last date) after the calibration end and not after the last date (purchases
    beyond the data would count as none).
    """
    if len(log) == 0:
        raise LtvxlError("the transaction log is empty")
    days = log.days
    return split_days(int(days.min()), int(days.max()), calibration_end, holdout_end,
                      names=names)


def split_days(
    first: int,
    last: int,
    calibration_end: Any = None,
    holdout_end: Any = None,
    *,
    names: tuple[str, str] = ("calibration_end", "holdout_end"),
) -> Split:
    """:func:`split_dates` of a log whose first and last days (days since 1970-01-01) are
    ``first`` and ``last`` (an engine's source, :mod:`ltvxl.engines.holdout`)."""
    from ltvxl.transactions.dates import parse_day

    cal_name, end_name = names
    end = last if holdout_end is None else parse_day(holdout_end, end_name)
    if end > last:
        raise LtvxlError(f"{end_name} {_date(end)} is after the last transaction "
                         f"({_date(last)}): the hold-out would count purchases the data do "
                         f"not cover; give a date up to {_date(last)}")
    if end <= first:
        raise LtvxlError(f"the transactions span one day ({_date(first)}): a hold-out check "
                         "needs a calibration period and a later hold-out period")
    if calibration_end is None:
        cal, rule = first + int((end - first) * CALIBRATION_SHARE), DEFAULT_RULE
    else:
        cal, rule = parse_day(calibration_end, cal_name), "given"
    if cal < first:
        raise LtvxlError(f"{cal_name} {_date(cal)} is before the first transaction "
                         f"({_date(first)}); give a date from {_date(first)} to "
                         f"{_date(end - 1)}")
    if cal >= end:
        where = "the last transaction" if holdout_end is None else end_name
        raise LtvxlError(f"{cal_name} {_date(cal)} leaves no hold-out: it must be before "
                         f"{where} ({_date(end)}); give a date from {_date(first)} to "
                         f"{_date(end - 1)}")
    return Split(_date(first), _date(cal), _date(end), rule)


@dataclass(frozen=True)
class Measures:
    """Aggregate measures of a backtest (purchases are repeat purchases in the hold-out,
    values in the log's currency, undiscounted).

    customers: calibration customers scored. predicted, actual: total hold-out
    purchases; error: (predicted - actual) / actual (a fraction; NaN when actual is
    0). mae, rmse: per-customer mean absolute and root-mean-square error of the
    purchases. spearman: rank correlation of predicted and actual purchases (NaN
    when either is constant). gini: the normalized Gini coefficient of the ranking by
    predicted purchases (1: ranked as well as by the actual purchases, 0: no better than
    chance; as in Google's lifetime_value metrics). decile_mape: customers ranked by
    predicted purchases in ten near-equal groups, the mean absolute percentage error of
    each group's predicted against actual total (groups without actual purchases left
    out; a fraction). The three are :mod:`ltvxl.models.early`'s (equal predictions
    share the deciles their rank positions fall in: :func:`ltvxl.models.early.decile_sums`).
    predicted_value, actual_value: total hold-out value;
    value_mae: its per-customer MAE. baseline, baseline_mae, baseline_rmse,
    baseline_spearman, baseline_gini, baseline_decile_mape: the total and the same
    measures of the naive :data:`BASELINE` (its ranking can rival the model's).
    """

    customers: int
    predicted: float
    actual: float
    error: float
    mae: float
    rmse: float
    spearman: float
    gini: float
    decile_mape: float
    predicted_value: float
    actual_value: float
    value_mae: float
    baseline: float
    baseline_mae: float
    baseline_rmse: float
    baseline_spearman: float
    baseline_gini: float
    baseline_decile_mape: float

    def rows(self) -> list[tuple[str, float]]:
        """(label, value) rows for a screen or a worksheet, in the order of MEASURES."""
        return [(label, float(getattr(self, name))) for label, name, _ in MEASURES]


MEASURES = (
    ("customers", "customers", "count"),
    ("predicted hold-out purchases", "predicted", "number"),
    ("actual hold-out purchases", "actual", "number"),
    ("error (predicted / actual - 1)", "error", "fraction"),
    ("MAE per customer (purchases)", "mae", "number"),
    ("RMSE per customer (purchases)", "rmse", "number"),
    ("Spearman rank correlation", "spearman", "number"),
    ("normalized Gini of the ranking", "gini", "number"),
    ("decile MAPE (fraction)", "decile_mape", "fraction"),
    ("predicted hold-out value", "predicted_value", "money"),
    ("actual hold-out value", "actual_value", "money"),
    ("MAE per customer (value)", "value_mae", "money"),
    (f"baseline ({BASELINE}) purchases", "baseline", "number"),
    (f"baseline ({BASELINE}) MAE", "baseline_mae", "number"),
    (f"baseline ({BASELINE}) RMSE", "baseline_rmse", "number"),
    (f"baseline ({BASELINE}) Spearman", "baseline_spearman", "number"),
    (f"baseline ({BASELINE}) normalized Gini", "baseline_gini", "number"),
    (f"baseline ({BASELINE}) decile MAPE", "baseline_decile_mape", "fraction"),
)
"""The hold-out measures: (label, attribute of :class:`Measures`, what it holds: a count,
a number, a fraction or money in the log's currency), in display order."""


@dataclass(frozen=True)
class Backtest:
    """A hold-out validation of one purchase model.

    model: the registry entry; split: the periods; time_unit: the unit of recency,
    T and holdout_length (the hold-out in that unit). customers: one row per
    calibration customer: customer, frequency, recency, T (calibration),
    predicted_purchases, actual_purchases, baseline_purchases, predicted_value,
    actual_value. by_frequency: calibration frequency bin ("0" ... "7+"), customers,
    mean actual and mean predicted hold-out purchases per customer. tracking: one row
    per week: week (1, 2, ...), week_end (date), period (calibration or hold-out),
    actual and predicted repeat purchases that week and cumulated. fit: the purchase
    fit; spend_note: why the mean repeat spend stood in for Gamma-Gamma ("" when it
    did not); notes: the data's notes and what the split left out.
    """

    model: PurchaseModel
    split: Split
    time_unit: str
    holdout_length: float
    customers: pd.DataFrame
    by_frequency: pd.DataFrame
    tracking: pd.DataFrame
    fit: FitResult
    measures: Measures
    spend_note: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def fit_status(self) -> str:
        """The fit in a few words (converged, boundary, not converged)."""
        return fit_state(self.fit)

    @property
    def aic(self) -> float:
        """Akaike's criterion of the calibration fit: 2 k - 2 log-likelihood (k parameters)."""
        return 2 * len(self.fit.params) - 2 * self.fit.log_likelihood

    @property
    def bic(self) -> float:
        """The Bayesian criterion of the calibration fit: k ln(customers) - 2 log-likelihood."""
        return float(len(self.fit.params) * np.log(self.fit.n_customers)
                     - 2 * self.fit.log_likelihood)


def measures_of(table: pd.DataFrame) -> Measures:
    """The :class:`Measures` of a per-customer table (columns of :class:`Backtest`)."""
    pred = table["predicted_purchases"].to_numpy(float)
    act = table["actual_purchases"].to_numpy(float)
    base = table["baseline_purchases"].to_numpy(float)
    pv = table["predicted_value"].to_numpy(float)
    av = table["actual_value"].to_numpy(float)
    n = pred.size
    total = float(act.sum())

    def mean(v: np.ndarray) -> float:
        return float(v.mean()) if n else float("nan")

    return Measures(
        customers=n,
        predicted=float(pred.sum()),
        actual=total,
        error=float(pred.sum()) / total - 1.0 if total > 0 else float("nan"),
        mae=mean(np.abs(pred - act)),
        rmse=float(np.sqrt(mean((pred - act) ** 2))),
        spearman=spearman(act, pred),
        gini=normalized_gini(act, pred),
        decile_mape=decile_mape(act, pred)[0],
        predicted_value=float(pv.sum()),
        actual_value=float(av.sum()),
        value_mae=mean(np.abs(pv - av)),
        baseline=float(base.sum()),
        baseline_mae=mean(np.abs(base - act)),
        baseline_rmse=float(np.sqrt(mean((base - act) ** 2))),
        baseline_spearman=spearman(act, base),
        baseline_gini=normalized_gini(act, base),
        baseline_decile_mape=decile_mape(act, base)[0],
    )


def frequency_table(table: pd.DataFrame, top: int = TOP_FREQUENCY,
                    weights: Any = None) -> pd.DataFrame:
    """Mean actual and predicted hold-out purchases per customer by calibration
    frequency 0, 1, ..., ``top``+ (the conditional-expectation table); ``weights``:
    customers per row (rows of an engine's counts), one each by default."""
    x = table["frequency"].to_numpy(float)
    w = np.ones(x.size) if weights is None else np.asarray(weights, dtype=float)
    binned = np.minimum(x, top).astype(int)
    actual = table["actual_purchases"].to_numpy(float)
    predicted = table["predicted_purchases"].to_numpy(float)
    rows = []
    for k in range(top + 1):
        inside = binned == k
        n = float(w[inside].sum())
        rows.append({
            "frequency": f"{k}+" if k == top else str(k),
            "customers": round(n),
            "actual": float(np.average(actual[inside], weights=w[inside])) if n
            else float("nan"),
            "predicted": float(np.average(predicted[inside], weights=w[inside])) if n
            else float("nan"),
        })
    return pd.DataFrame(rows)


def _tracking(
    model: PurchaseModel,
    fit: FitResult,
    first: np.ndarray,
    repeat_days: np.ndarray,
    split: Split,
    per: float,
    groups: tuple[np.ndarray, list[FitResult]] | None = None,
) -> pd.DataFrame:
    """Weekly actual and expected repeat purchases of the calibration customers.

    ``first``: each customer's first purchase day; ``repeat_days``: the days of their
    repeat purchases (distinct days after the first), calibration and hold-out. The
    expectation is the model's for a new customer, E[X(t)], t the time since each
    customer's first purchase, summed over customers (grouped by first day); with
    ``groups`` (each customer's covariate group, each group's fit) summed over the
    groups at their own parameters.
    """
    d0 = int(first.min())
    weekly = np.bincount((repeat_days - d0) // TRACKING_DAYS,
                         minlength=tracking_weeks(d0, split))
    cohort, where, size = np.unique(first, return_inverse=True, return_counts=True)
    out = tracking_table(model, fit, cohort, size, weekly, split, per)
    if groups is not None:
        member, fits = groups
        predicted = sum(
            tracking_table(model, f, cohort, np.bincount(where[member == g],
                                                         minlength=cohort.size),
                           weekly, split, per)["predicted_cumulative"].to_numpy()
            for g, f in enumerate(fits))
        out["predicted_cumulative"] = predicted
        out["predicted"] = np.diff(predicted, prepend=0.0)
    return out


def tracking_weeks(d0: int, split: Split) -> int:
    """Weeks of the tracking table from day ``d0`` to the hold-out end (the last partial)."""
    return -(-(int(split.holdout_end.astype(int)) - d0 + 1) // TRACKING_DAYS)


def tracking_table(
    model: PurchaseModel,
    fit: FitResult,
    cohort: np.ndarray,
    size: np.ndarray,
    weekly: np.ndarray,
    split: Split,
    per: float,
) -> pd.DataFrame:
    """The tracking table from the cohorts (``cohort``: distinct first purchase days,
    ``size``: customers of each) and ``weekly``: the actual repeat purchases in each week
    counted from the first cohort's day (week 0 first; days after the hold-out end not
    counted)."""
    d0 = int(np.min(cohort))
    end = int(split.holdout_end.astype(int))
    cal = int(split.calibration_end.astype(int))
    weeks = tracking_weeks(d0, split)
    ends = np.minimum(d0 + TRACKING_DAYS * np.arange(1, weeks + 1) - 1, end)
    actual = np.cumsum(np.asarray(weekly, dtype=float)[:weeks])
    t = np.maximum(ends[:, None] - cohort[None, :], 0) / per
    expected = np.asarray(model.expected(fit, t), dtype=float)
    predicted = (np.where(ends[:, None] >= cohort[None, :], expected, 0.0) * size).sum(axis=1)
    return pd.DataFrame({
        "week": np.arange(1, weeks + 1),
        "week_end": ends.astype("datetime64[D]"),
        "period": np.where(ends <= cal, "calibration", "hold-out"),
        "actual": np.diff(actual, prepend=0.0),
        "predicted": np.diff(predicted, prepend=0.0),
        "actual_cumulative": actual,
        "predicted_cumulative": predicted,
    })


def backtest(
    log: TransactionLog,
    calibration_end: Any = None,
    holdout_end: Any = None,
    model: str | PurchaseModel | None = None,
    *,
    time_unit: str = DEFAULT_UNIT,
    cache: FitCache | None = None,
    names: tuple[str, str] = ("calibration_end", "holdout_end"),
    covariates: pd.DataFrame | None = None,
    covariates_name: str = "covariates",
) -> Backtest:
    """Fit ``model`` (any spelling of a registered purchase model; blank: the default) on
    the calibration period of ``log`` and compare its hold-out predictions with the
    hold-out (see the module docstring; dates and ``names`` as :func:`split_dates`).

    ``time_unit``: the unit of recency, T and the fitted rates (weeks by default).
    ``covariates``: the customer id in the first column, one column per covariate
    (:func:`ltvxl.models.covariates.for_customers`; every calibration customer needs a
    row): the model is fitted with them in both processes and each customer predicted
    at her own rates; ``fit`` is then the covariate fit (its coefficients among the
    parameters). ``covariates_name`` names the table in messages.
    """
    from ltvxl.transactions.summary import customer_summary

    mod = registry.purchase_model(model)
    per = unit_days(time_unit)
    split = split_dates(log, calibration_end, holdout_end, names=names)
    cal = int(split.calibration_end.astype(int))
    end = int(split.holdout_end.astype(int))
    summary = customer_summary(log, split.calibration_end, time_unit)
    table = summary.table
    if not len(table):
        raise LtvxlError(f"{names[0]} {split.calibration_end}: no customer bought in the "
                         "calibration period")
    try:
        fits = clv.fit_models(summary, mod, cache=cache)
    except LtvxlError as exc:
        raise LtvxlError(f"calibration period to {split.calibration_end}: {exc.message}",
                         exc.code) from None
    length = split.holdout_days / per
    options: dict[str, Any] = dict(horizon=length, horizon_unit=time_unit,
                                   annual_discount_rate=0.0, gross_margin=1.0)
    groups = None
    if covariates is None:
        predicted = clv.predict(summary, model=mod, fits=fits, **options).table
        fit = fits.purchases
    else:
        predicted, fit, groups = _with_covariates(table, covariates, covariates_name, mod,
                                                  time_unit, options, split, names)

    # the hold-out, counted as the summary counts the calibration: purchase days with
    # amount >= 0, all amounts (returns netted) for the value
    days, codes, amounts = log.days, log.codes, log.amounts
    k = len(log.customers)
    inside = days <= end
    buy = inside & (amounts >= 0)
    lo = int(days.min())
    span = end + 1 - lo
    key = np.unique(codes[buy].astype(np.int64) * span + (days[buy] - lo))  # (customer, day)
    kc, kd = key // span, key % span + lo
    first = np.full(k, np.iinfo(np.int64).max)
    np.minimum.at(first, kc, kd)
    scored = np.flatnonzero(first <= cal)
    if list(log.customers[scored]) != list(table["customer"]):  # pragma: no cover
        raise AssertionError("the backtest's customers differ from the summary's")
    repeat = kd != first[kc]
    in_holdout = kd > cal
    actual_purchases = np.bincount(kc[in_holdout], minlength=k)[scored].astype(float)
    hold_rows = inside & (days > cal)
    actual_value = np.bincount(codes[hold_rows], weights=amounts[hold_rows], minlength=k)[scored]
    on_time = first[kc] <= cal
    tracking = _tracking(mod, fits.purchases, first[scored], kd[repeat & on_time], split, per,
                         groups)

    x = table["frequency"].to_numpy(float)
    big_t = table["T"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        baseline = np.where(big_t > 0, x / big_t, 0.0) * length
    out = pd.DataFrame({
        "customer": table["customer"].to_numpy(),
        "frequency": x,
        "recency": table["recency"].to_numpy(float),
        "T": big_t,
        "predicted_purchases": predicted["expected_purchases"].to_numpy(float),
        "actual_purchases": actual_purchases,
        "baseline_purchases": baseline,
        "predicted_value": predicted["clv"].to_numpy(float),
        "actual_value": actual_value,
    })
    notes = list(summary.notes)
    late = int(np.count_nonzero((first > cal) & (first <= end)))
    if late:
        notes.append(f"customers first buying in the hold-out, not scored: {late:,}")
    after = int(np.count_nonzero(~inside))
    if after:
        notes.append(f"transactions after the hold-out end excluded: {after:,}")
    notes = [n for n in notes if not n.startswith("transactions after as_of")]
    return Backtest(mod, split, time_unit, length, out, frequency_table(out), tracking,
                    fit, measures_of(out), fits.spend_note, tuple(notes))


def _with_covariates(table: pd.DataFrame, covariates: pd.DataFrame, source: str,
                     mod: PurchaseModel, time_unit: str, options: dict[str, Any],
                     split: Split, names: tuple[str, str]
                     ) -> tuple[pd.DataFrame, FitResult, tuple[np.ndarray, list[FitResult]]]:
    """(the per-customer prediction of the covariate model fitted on the calibration
    summary ``table``, its fit, (each customer's covariate group, each group's plain
    fit) for the tracking)."""
    from . import covariates as cv

    if mod.key not in cv.LINKS:
        takes = " and ".join(registry.purchase_model(k).name for k in cv.LINKS)
        raise LtvxlError(f"{source}: covariates work with {takes}, not {mod.name}")
    rows, _ = cv.for_customers(covariates, table["customer"].to_numpy(), source)
    design = cv.design(rows)
    try:
        cov = cv.fit(table["frequency"], table["recency"], table["T"], design,
                     model=mod.key, time_unit=time_unit)
    except LtvxlError as exc:
        raise LtvxlError(f"calibration period to {split.calibration_end}: {exc.message}",
                         exc.code) from None
    predicted = cv.predict(cov, table, design.matrix, time_unit=time_unit, **options)
    vectors, inverse = cv.distinct_rows(design.matrix)
    fits = [FitResult(cov.plain.model, params, {}, cov.fit.log_likelihood, 0.0, 0,
                      cov.fit.converged, cov.fit.status, cov.fit.iterations, time_unit)
            for params in cv.group_params(cov, vectors)]
    return predicted, cov.fit, (inverse.ravel(), fits)


def compare(
    log: TransactionLog,
    calibration_end: Any = None,
    holdout_end: Any = None,
    models: Sequence[str | PurchaseModel] | None = None,
    *,
    time_unit: str = DEFAULT_UNIT,
    cache: FitCache | None = None,
    names: tuple[str, str] = ("calibration_end", "holdout_end"),
) -> tuple[list[Backtest], dict[str, str]]:
    """(the backtests, {model name: why it could not be fitted}) of ``models`` (default:
    every registered purchase model, :data:`registry.PURCHASE_MODELS`) on one split."""
    split_dates(log, calibration_end, holdout_end, names=names)  # a bad split: one error
    done: list[Backtest] = []
    failed: dict[str, str] = {}
    for each in models or registry.PURCHASE_MODELS:
        mod = registry.purchase_model(each)
        try:
            done.append(backtest(log, calibration_end, holdout_end, mod, time_unit=time_unit,
                                 cache=cache, names=names))
        except LtvxlError as exc:
            failed[mod.name] = exc.message
    return done, failed


@dataclass(frozen=True)
class Choice:
    """The purchase model with the lowest hold-out error, and why."""

    model: PurchaseModel
    reason: str
    backtests: tuple[Backtest, ...]


def choose(
    log: TransactionLog,
    calibration_end: Any = None,
    holdout_end: Any = None,
    *,
    time_unit: str = DEFAULT_UNIT,
    cache: FitCache | None = None,
    names: tuple[str, str] = ("calibration_end", "holdout_end"),
) -> Choice:
    """The registered purchase model whose hold-out predictions have the lowest
    per-customer MAE (ties: the registry's order, the default first); models whose fit
    did not converge are chosen only when none converged. The reason names the
    measures of every model."""
    done, failed = compare(log, calibration_end, holdout_end, time_unit=time_unit,
                           cache=cache, names=names)
    return pick(done, failed)


def pick(done: Sequence[Any], failed: dict[str, str]) -> Choice:
    """The :class:`Choice` among backtests of one split (``done``, :class:`Backtest` or an
    engine's, with ``model``, ``fit``, ``measures`` and ``split``; ``failed``: the models
    not fitted and why), by the rule of :func:`choose`."""
    if not done:
        raise LtvxlError("no purchase model could be fitted on the calibration period: "
                         + "; ".join(f"{k}: {v}" for k, v in failed.items()))
    pool = [b for b in done if b.fit.converged] or done
    best = min(pool, key=lambda b: b.measures.mae)
    others = ", ".join(f"{b.model.name} {b.measures.mae:.4g}" for b in done if b is not best)
    why = (f"{best.model.name}: lowest hold-out error, MAE {best.measures.mae:.4g} purchases "
           f"per customer" + (f" (against {others})" if others else "")
           + f"; {best.split.line()}")
    if failed:
        why += "; not fitted: " + ", ".join(failed)
    return Choice(best.model, why, tuple(done))


AUTO = "auto"
"""The model name that asks for the registered model with the lowest hold-out error on
an internal split (:func:`auto_model`)."""


def is_auto(name: Any) -> bool:
    """Whether ``name`` asks for the automatic choice ("auto", any case or punctuation)."""
    return isinstance(name, str) and registry.normal(name) == AUTO


def auto_model(
    log: TransactionLog,
    as_of: Any = None,
    *,
    time_unit: str = DEFAULT_UNIT,
    cache: FitCache | None = None,
) -> Choice:
    """``model="auto"``: the registered purchase model with the lowest hold-out error when
    the log up to ``as_of`` (default: its last date) is split by :data:`DEFAULT_RULE`
    (:func:`choose`). When no split can be fitted (too short a log, no repeat buyer in the
    calibration), the registry's default, with the reason why."""
    from ltvxl.transactions.dates import parse_day

    end = None
    if as_of is not None and len(log):  # an end of observation after the last purchase:
        end = _date(min(parse_day(as_of, "as_of"), int(log.days.max())))  # the data's end
    try:
        return choose(log, None, end, time_unit=time_unit, cache=cache,
                      names=("calibration_end", "as_of"))
    except LtvxlError as exc:
        why = (f"{registry.DEFAULT.name} (the default): no hold-out comparison was possible "
               f"({exc.message})")
        return Choice(registry.DEFAULT, why, ())


__all__ = [
    "AUTO",
    "BASELINE",
    "CALIBRATION_SHARE",
    "DEFAULT_RULE",
    "TOP_FREQUENCY",
    "TRACKING_DAYS",
    "Backtest",
    "Choice",
    "Measures",
    "Split",
    "auto_model",
    "backtest",
    "choose",
    "compare",
    "frequency_table",
    "is_auto",
    "measures_of",
    "pick",
    "split_dates",
    "split_days",
    "tracking_table",
    "tracking_weeks",
]
