"""A first-purchase value model: what a new customer will be worth, from their first days.

For a one-time buyer the buy-till-you-die models depend only on the customer's age, so
every new customer of a cohort gets the same prediction. This model predicts each
customer's value over the ``horizon`` months that follow their first ``window`` days
from what they did in those days.

**Features** (:func:`customer_features`; each customer's clock starts on the day of
their first purchase, d0; the window is days d0 .. d0 + window - 1): the value of the
first order (with order ids: all rows of the first-numbered order bought on d0,
returns in it netted) and of the first purchase day; the value, orders (distinct order
ids when the log has them, else rows with amount >= 0), purchase days, lines (rows
with a positive amount) and quantity (a column named quantity, qty, items or units,
when the log has one) in the window; days from the first to the second purchase day
(the window length when there is none, with a flag); the acquisition month (as a point
on the year's circle, so December is next to January); the channel (the log's channel
column, the value of the customer's first row) and any covariates given.
**Target**: the value (amounts, returns netted) in the ``horizon`` months (30.4375
days each) after the window. Customers are **trained on** when their window and
horizon both lie inside the data (d0 + window + horizon <= the end, day arithmetic).

**Model** (:func:`fit_two_part`): three families (:data:`FAMILIES`). Two are two-part
models in the spirit of Google's zero-inflated lognormal (Wang, Liu & Miao 2019, "A
deep probabilistic model for customer lifetime value prediction"): the probability of
any later value times the expected value given some, the second fitted on the
logarithm of the value with Duan's smearing estimate to return to the mean, by
regularised GLMs (logistic and ridge regression on standardised features) or by
histogram gradient boosting. The third, the ratio GLM, is a Poisson GLM of the later
value with the window value as exposure, which is the ratio baseline when the features
carry no information and is shrunk toward it by its penalty (P(buys again) from the
logistic regression). All are deterministic (fixed ``seed``, no early stopping, no
subsampling of rows).

**Validation** (:func:`validate`): the trained-on customers are split by acquisition
date (the latest :data:`TEST_SHARE` are the test set; customers acquired on one day
stay together). The family is chosen on the earlier customers by rolling origins
(:data:`INNER_SHARES`: each later slice predicted by a fit to the ones before it),
refitted on all the earlier customers and
compared on the test set with two baselines: (a) each customer's window value times
the training set's ratio of later to window value, (b) the buy-till-you-die
prediction (the registry's default purchase model and Gamma-Gamma, fitted on the
training customers' windows) over the same horizon. Measures (:func:`scores`):
normalized Gini, decile MAPE, Spearman rank correlation, total error.

scikit-learn and pandas are imported by the functions that need them, never when a
face imports this module's names for a declaration.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ltvxl.errors import LtvxlError
from ltvxl.units import convert_time

from .cache import FitCache, digest

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ltvxl.transactions.log import TransactionLog

DEFAULT_WINDOW = 30
"""Days of each customer's first window (the first purchase day is day 1)."""
DEFAULT_HORIZON = 6.0
"""Months (30.4375 days) of later value predicted."""
MAX_WINDOW = 3660
"""Longest window, in days (10 years)."""
MAX_HORIZON = 1200.0
"""Longest horizon, in months (100 years)."""
TEST_SHARE = 0.25
"""Share of the trained-on customers, the latest acquired, in the test set of the split."""
MIN_TRAIN = 40
"""Fewest customers whose window and horizon lie inside the data."""
MIN_POSITIVE = 5
"""Fewest trained-on customers with later value > 0 (the value part needs some)."""
MAX_LEVELS = 20
"""Most levels of a category (channel, covariate) kept; rarer ones are one level, other."""
DECILES = 10
FAMILIES = ("ratio", "glm", "hgb")
"""The model families compared: a Poisson GLM of the ratio of later to window value,
regularised GLMs of the two parts, histogram gradient boosting of the two parts."""
FAMILY_NAMES = {"ratio": "ratio GLM (Poisson, window value exposure)",
                "glm": "GLM (logistic + ridge)", "hgb": "gradient boosting (HGB)"}
"""Short names of the families (logistic regression and ridge regression on log value,
L2-regularised; scikit-learn's histogram gradient boosting)."""
BASELINE_RATIO = "window value x ratio"
BASELINE_BTYD = "BTYD (Pareto/NBD + Gamma-Gamma)"
QUANTITY_NAMES = ("quantity", "qty", "items", "units", "number_of_cds")
"""Column names (any case, spaces as underscores) taken as the quantity of a row."""
SEED = 0

SEASON_DAYS = 365
"""Fewest days of acquisitions the trained-on customers must span for the acquisition
month (a season) to be a feature."""
NUMERIC = ("first_day_value", "window_value", "window_orders", "window_purchase_days",
           "window_lines", "days_to_second", "no_second", "month_sin", "month_cos")
"""The features every log has (quantity, channel and covariates are added when present)."""


def _months(horizon: float) -> str:
    return f"{horizon:g} month" + ("" if horizon == 1 else "s")


def _check_window(window: Any, horizon: Any) -> tuple[int, float]:
    try:
        w, h = float(window), float(horizon)
    except (TypeError, ValueError):
        raise LtvxlError(f"window and horizon must be numbers, got {window!r} and "
                         f"{horizon!r}") from None
    if not (math.isfinite(w) and w >= 1 and w == int(w) and w <= MAX_WINDOW):
        raise LtvxlError(f"window must be a whole number of days from 1 to {MAX_WINDOW}, "
                         f"got {w:g}")
    if not (math.isfinite(h) and 0 < h <= MAX_HORIZON):
        raise LtvxlError(f"horizon must be a number of months > 0 and <= {MAX_HORIZON:g}, "
                         f"got {h:g}")
    return int(w), h


@dataclass(frozen=True)
class Features:
    """Per-customer features of a log (see the module).

    table: one row per customer with a purchase: customer, acquired (d0,
    ``datetime64[D]``), observed_days (days of the window inside the data), the
    features (:attr:`numeric`, :attr:`categorical`), later_value (value in the
    horizon after the window; NaN when it is not all inside the data) and eligible
    (window and horizon inside the data). window: days; horizon: months; end: the
    last day of the data used; notes: what was left out.
    """

    table: pd.DataFrame
    window: int
    horizon: float
    end: np.datetime64
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    notes: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        """The feature columns used, numeric then categorical."""
        return (*self.numeric, *self.categorical)

    @property
    def training(self) -> pd.DataFrame:
        """The rows whose window and horizon lie inside the data."""
        return self.table[self.table["eligible"].to_numpy()].reset_index(drop=True)

    @property
    def recent(self) -> pd.DataFrame:
        """The customers still inside their window at the end of the data."""
        t = self.table
        return t[t["observed_days"].to_numpy() < self.window].reset_index(drop=True)


def _quantity_column(log: TransactionLog) -> str | None:
    for name in log.extra:
        if str(name).strip().lower().replace(" ", "_") in QUANTITY_NAMES:
            return name
    return None


def customer_features(
    log: TransactionLog,
    window: int = DEFAULT_WINDOW,
    horizon: float = DEFAULT_HORIZON,
    *,
    end: Any = None,
    covariates: pd.DataFrame | None = None,
    channel: bool = True,
    end_name: str = "as_of",
    new_from: Any = None,
    new_from_name: str = "new_from",
) -> Features:
    """The features and target of each customer of ``log`` (module docstring).

    window: days; horizon: months; end: the last day of data used (a date; default the
    last date of the log; later rows are left out). covariates: one row per customer of
    ``log.customers``, in that order (numbers, or texts taken as categories).
    channel: use the log's channel column when it has one. end_name: how ``end`` is
    called in messages. new_from: a date; customers first seen before it are left out
    (a log that begins in the middle of its customers' histories, like Online Retail
    II's, shows existing customers as new ones at its start: their "first window" is
    not one); new_from_name: how it is called in messages.
    """
    import pandas as pd

    from ltvxl.transactions.dates import parse_day

    window, horizon = _check_window(window, horizon)
    if len(log) == 0:
        raise LtvxlError("the transaction log is empty")
    days_all = log.days
    last = int(days_all.max())
    end_day = last if end is None else parse_day(end, end_name)
    if end_day < int(days_all.min()):
        raise LtvxlError(f"{end_name} {np.datetime64(end_day, 'D')} is before the first "
                         f"transaction ({np.datetime64(int(days_all.min()), 'D')})")
    inside = days_all <= end_day
    notes = []
    if not inside.all():
        notes.append(f"transactions after {np.datetime64(end_day, 'D')} left out: "
                     f"{int((~inside).sum()):,}")
    days = days_all[inside].astype(np.int64)
    codes = log.codes[inside].astype(np.int64)
    amounts = np.asarray(log.amounts[inside], dtype=float)
    k = len(log.customers)
    buy = amounts >= 0
    big = np.iinfo(np.int64).max
    d0 = np.full(k, big, dtype=np.int64)
    np.minimum.at(d0, codes[buy], days[buy])
    has = d0 < big
    if not has.any():
        raise LtvxlError("no purchase (amount >= 0) in the transaction log")
    dropped = int(np.count_nonzero(~has & (np.bincount(codes, minlength=k) > 0)))
    if dropped:
        notes.append(f"customers with returns only, left out: {dropped:,}")
    rel = days - np.where(has, d0, 0)[codes]
    hdays = float(convert_time(horizon, "months", "days"))
    in_w = (rel >= 0) & (rel < window)
    later = (rel >= window) & (rel < window + hdays)
    wbuy = in_w & buy

    def per(mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        w = None if weights is None else weights[mask]
        return np.bincount(codes[mask], weights=w, minlength=k).astype(float)

    first_day_value = per(rel == 0, amounts)
    window_value = per(in_w, amounts)
    later_value = per(later, amounts)
    lines = per(wbuy & (amounts > 0))
    first_order_value = None
    if log.orders is not None:
        orders = np.asarray(log.orders)[inside].astype(np.int64)
        pairs = np.unique(np.stack([codes[wbuy], orders[wbuy]]), axis=1)
        window_orders = np.bincount(pairs[0], minlength=k).astype(float)
        # the first order: the first-numbered order bought on the first day, all its rows
        first_order = np.full(k, np.iinfo(np.int64).max)
        day0 = buy & (rel == 0)
        np.minimum.at(first_order, codes[day0], orders[day0])
        first_order_value = per(orders == first_order[codes], amounts)
    else:
        window_orders = per(wbuy)
    cd = np.unique(np.stack([codes[wbuy], rel[wbuy]]), axis=1)  # (customer, day) pairs
    purchase_days = np.bincount(cd[0], minlength=k).astype(float)
    second = np.full(k, np.inf)
    rep = cd[1] > 0
    np.minimum.at(second, cd[0][rep], cd[1][rep].astype(float))
    no_second = ~np.isfinite(second)
    days_to_second = np.where(no_second, float(window), second)
    month = (np.where(has, d0, 0).astype("datetime64[D]").astype("datetime64[M]")
             .astype(np.int64) % 12)
    angle = 2 * np.pi * month / 12
    cols: dict[str, Any] = {
        "customer": log.customers,
        "acquired": np.where(has, d0, 0).astype("datetime64[D]"),
        "observed_days": np.minimum(window, end_day - np.where(has, d0, end_day) + 1),
        "first_day_value": first_day_value,
        "window_value": window_value,
        "window_orders": window_orders,
        "window_purchase_days": purchase_days,
        "window_lines": lines,
        "days_to_second": days_to_second,
        "no_second": no_second.astype(float),
        "month_sin": np.round(np.sin(angle), 12),
        "month_cos": np.round(np.cos(angle), 12),
    }
    numeric = list(NUMERIC)
    if first_order_value is not None:
        cols["first_order_value"] = first_order_value
        numeric.insert(0, "first_order_value")
    qname = _quantity_column(log)
    if qname is not None:
        q = pd.to_numeric(pd.Series(np.asarray(log.extra[qname])[inside]), errors="coerce")
        qv = q.to_numpy(float)
        if np.isfinite(qv).mean() >= 0.5:
            cols["window_quantity"] = per(wbuy & np.isfinite(qv), np.nan_to_num(qv))
            numeric.append("window_quantity")
    categorical: list[str] = []
    cname = log.columns.get("channel")
    if channel and cname in log.extra:
        ch = np.asarray(log.extra[cname])[inside]
        order = np.lexsort((rel, codes))  # each customer's earliest row first
        firsts = np.unique(codes[order], return_index=True)
        value = np.full(k, "", dtype=object)
        value[firsts[0]] = [str(v) for v in ch[order][firsts[1]]]
        cols["channel"] = value
        categorical.append("channel")
    if covariates is not None:
        if len(covariates) != k:
            raise LtvxlError(f"covariates have {len(covariates):,} rows; give one per "
                             f"customer ({k:,})")
        for name in covariates.columns:
            col = covariates[name]
            key = f"cov_{name}"
            num = pd.to_numeric(col, errors="coerce")
            if num.notna().sum() == col.notna().sum() and col.notna().any():
                cols[key] = num.to_numpy(float)
                numeric.append(key)
            else:
                cols[key] = np.asarray([("" if v is None or v != v else str(v))
                                        for v in col], dtype=object)
                categorical.append(key)
    cols["later_value"] = np.where(
        d0 + window + hdays <= end_day + 1, later_value, np.nan)
    keep = has
    if new_from is not None:
        start = parse_day(new_from, new_from_name)
        old = has & (d0 < start)
        keep = has & ~old
        if old.any():
            notes.append(f"customers first seen before {new_from_name} "
                         f"{np.datetime64(start, 'D')} (not new), left out: "
                         f"{int(old.sum()):,}")
        if not keep.any():
            raise LtvxlError(f"no customer is first seen on or after {new_from_name} "
                             f"{np.datetime64(start, 'D')}: give an earlier date")
    table = pd.DataFrame(cols)[keep].reset_index(drop=True)
    table["eligible"] = table["later_value"].notna()
    return Features(table, window, horizon, np.datetime64(end_day, "D"), tuple(numeric),
                    tuple(categorical), tuple(notes))


# ---------------------------------------------------------------- the two-part model


@dataclass(frozen=True)
class Encoder:
    """How a feature table becomes a matrix: numeric columns (money and counts as
    sign(x) log(1 + |x|)), then one column per kept level of each category."""

    numeric: tuple[str, ...]
    levels: tuple[tuple[str, tuple[str, ...]], ...]
    fill: tuple[float, ...]

    @classmethod
    def of(cls, table: pd.DataFrame, numeric: Sequence[str],
           categorical: Sequence[str]) -> Encoder:
        """The encoder of ``table``'s customers. The acquisition month is left out when
        they were acquired over less than :data:`SEASON_DAYS`: a month not seen in
        training would be an extrapolation of a trend, not a season."""
        acq = table["acquired"].to_numpy().astype("datetime64[D]").astype(np.int64) \
            if "acquired" in table and len(table) else np.zeros(1, dtype=np.int64)
        if int(np.max(acq)) - int(np.min(acq)) < SEASON_DAYS:
            numeric = [c for c in numeric if c not in ("month_sin", "month_cos")]
        levels = []
        for name in categorical:
            counts = table[name].astype(str).value_counts(sort=False)
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            levels.append((name, tuple(v for v, _ in ranked[:MAX_LEVELS])))
        fill = tuple(float(np.nanmedian(table[c].to_numpy(float)))
                     if np.isfinite(table[c].to_numpy(float)).any() else 0.0
                     for c in numeric)
        return cls(tuple(numeric), tuple(levels), fill)

    def names(self) -> list[str]:
        out = list(self.numeric)
        for name, lv in self.levels:
            out += [f"{name}={v}" for v in lv[1:]]  # the most frequent level: reference
            out.append(f"{name}=other")
        return out

    def matrix(self, table: pd.DataFrame) -> np.ndarray:
        parts = []
        for c, f in zip(self.numeric, self.fill, strict=True):
            v = table[c].to_numpy(float)
            v = np.where(np.isfinite(v), v, f)
            parts.append(np.sign(v) * np.log1p(np.abs(v)) if c not in
                         ("month_sin", "month_cos", "no_second") else v)
        for name, lv in self.levels:
            v = table[name].astype(str).to_numpy()
            known = np.isin(v, np.asarray(lv, dtype=object))
            parts += [(v == level).astype(float) for level in lv[1:]]
            parts.append((~known).astype(float))
        return np.column_stack(parts) if parts else np.zeros((len(table), 0))


@dataclass(frozen=True)
class TwoPart:
    """A fitted two-part model: P(later value > 0) x E[later value | > 0].

    family: a key of :data:`FAMILIES`; classifier, regressor: the scikit-learn
    estimators (the regressor on log value, None when every positive value is one
    number: ``constant`` stands for it); smear: Duan's smearing factor, the mean of
    exp(residual) on the training positives; log_range: the training positives'
    smallest and largest log value, to which predictions of the log are clipped (a GLM
    extrapolates exponentially beyond them).
    """

    family: str
    encoder: Encoder
    classifier: Any
    regressor: Any
    smear: float
    constant: float
    p_constant: float | None = None
    log_range: tuple[float, float] = (-np.inf, np.inf)
    exposure_floor: float = 0.0
    """The ratio family's smallest exposure (see :func:`exposure`); unused by the others."""

    def predict(self, table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(probability of later value > 0, expected later value) per row of ``table``."""
        x = self.encoder.matrix(table)
        if not len(x):
            return np.zeros(0), np.zeros(0)
        with _one_thread():
            p, v = self._predict(x)
        if self.family == "ratio":  # rates clipped to the training range, like the logs
            lo, hi = self.log_range
            rate = np.clip(self.regressor.predict(x), np.exp(lo), np.exp(hi))
            v = exposure(table, self.exposure_floor) * rate
        return p, v

    def _predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.p_constant is not None:
            p = np.full(len(x), self.p_constant)
        else:
            p = self.classifier.predict_proba(x)[:, 1]
        if self.family == "ratio":
            return p, p  # the value is the exposure times the rate (predict)
        if self.regressor is None:
            m = np.full(len(x), self.constant)
        else:
            lo, hi = self.log_range
            m = np.exp(np.clip(self.regressor.predict(x), lo, hi)) * self.smear
        return p, p * m


def _one_thread() -> Any:
    """One OpenMP/BLAS thread for scikit-learn: gradient boosting's threads spin against
    each other on a busy machine (10x slower on 2 shared cores), and one thread gives
    the same numbers everywhere."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn requires it
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


EXPOSURE_FLOOR = 0.1
"""The ratio family's exposure is the window value, at least this share of the training
customers' median positive window value (a customer whose window value is 0 or a net
return still has an exposure)."""


def exposure(table: pd.DataFrame, floor: float) -> np.ndarray:
    """The ratio family's exposure of each row: its window value, at least ``floor``."""
    return np.maximum(table["window_value"].to_numpy(float), floor)


def _estimators(family: str, seed: int) -> tuple[Any, Any]:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise LtvxlError("the first-purchase value model needs scikit-learn, which is not "
                         "installed here: pip install scikit-learn (or reinstall ltvxl, "
                         "which depends on it)") from None
    if family == "glm":
        from sklearn.linear_model import LogisticRegression, Ridge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return (make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000)),
                make_pipeline(StandardScaler(), Ridge(alpha=1.0)))
    if family == "ratio":
        from sklearn.linear_model import LogisticRegression, PoissonRegressor
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return (make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000)),
                make_pipeline(StandardScaler(), PoissonRegressor(max_iter=1000)))
    if family == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier as Hgbc
        from sklearn.ensemble import HistGradientBoostingRegressor as Hgbr

        common = dict(learning_rate=0.05, max_iter=150, max_leaf_nodes=15,
                      min_samples_leaf=20, l2_regularization=1.0, early_stopping=False,
                      random_state=seed)
        return Hgbc(**common), Hgbr(**common)
    raise LtvxlError(f"model family must be one of {', '.join(FAMILIES)}; got {family!r}")


def fit_two_part(table: pd.DataFrame, encoder: Encoder, family: str, *,
                 seed: int = SEED) -> TwoPart:
    """Fit the two parts of ``family`` on the rows of ``table`` (their later_value)."""
    y = table["later_value"].to_numpy(float)
    x = encoder.matrix(table)
    pos = y > 0
    if int(pos.sum()) < 2:
        raise LtvxlError(f"only {int(pos.sum())} customers have later value > 0: the value "
                         "part cannot be fitted; use more data or a longer horizon")
    with _one_thread():
        if family == "ratio":
            return _fit_ratio(table, x, y, pos, encoder, seed)
        return _fit_two_part(x, y, pos, encoder, family, seed)


def _fit_ratio(table: pd.DataFrame, x: np.ndarray, y: np.ndarray, pos: np.ndarray,
               encoder: Encoder, seed: int) -> TwoPart:
    """The ratio family: a Poisson GLM (log link, L2) of the later value with the window
    value as exposure, i.e. of the rate later / window value weighted by the window
    value; with no features it is the ratio baseline exactly (its intercept is the
    training ratio), and the penalty shrinks it toward that baseline."""
    classifier, regressor = _estimators("ratio", seed)
    wv = table["window_value"].to_numpy(float)
    floor = EXPOSURE_FLOOR * float(np.median(wv[wv > 0])) if (wv > 0).any() else 1.0
    e = exposure(table, floor)
    p_constant = None
    if pos.all():
        p_constant = 1.0
    else:
        classifier.fit(x, pos.astype(int))
    # weights summing to n and alpha 1 / n: the penalty is 1/2 ||w||^2 against the sum of
    # the half deviances, as in the GLM family's ridge and logistic regressions, whatever
    # the currency (sklearn's alpha multiplies the mean deviance)
    regressor.set_params(poissonregressor__alpha=1.0 / len(y))
    regressor.fit(x, np.clip(y, 0, None) / e, poissonregressor__sample_weight=e / e.mean())
    rate = regressor.predict(x)
    return TwoPart("ratio", encoder, classifier, regressor, 1.0, 0.0, p_constant,
                   (float(np.log(rate.min())), float(np.log(rate.max()))), floor)


def _fit_two_part(x: np.ndarray, y: np.ndarray, pos: np.ndarray, encoder: Encoder,
                  family: str, seed: int) -> TwoPart:
    classifier, regressor = _estimators(family, seed)
    p_constant = None
    if pos.all():
        p_constant = 1.0
    else:
        classifier.fit(x, pos.astype(int))
    ly = np.log(y[pos])
    if np.ptp(ly) == 0:
        return TwoPart(family, encoder, classifier, None, 1.0, float(y[pos][0]), p_constant)
    regressor.fit(x[pos], ly)
    resid = ly - regressor.predict(x[pos])
    smear = float(np.mean(np.exp(resid)))
    return TwoPart(family, encoder, classifier, regressor, smear, 0.0, p_constant,
                   (float(ly.min()), float(ly.max())))


# ---------------------------------------------------------------- measures


def _tie_mean(actual: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(actual, predicted) sorted by predicted, highest first, each run of equal
    predictions' actual values replaced by their mean (a ranking cannot tell them apart)."""
    order = np.argsort(-predicted, kind="stable")
    a, p = actual[order], predicted[order]
    _, start, counts = np.unique(-p, return_index=True, return_counts=True)
    sums = np.add.reduceat(a, start) if a.size else a
    return np.repeat(sums / counts, counts), p


def gini(actual: Any, predicted: Any) -> float:
    """The Gini coefficient of ``actual`` ranked by ``predicted``: 2 x the area under the
    cumulative share of actual value against the share of customers, highest predicted
    first, minus 1 (0 for a random ranking; ties are one block, the curve straight
    across it)."""
    a = np.asarray(actual, dtype=float)
    p = np.asarray(predicted, dtype=float)
    total = a.sum()
    if a.size == 0 or total == 0:
        return float("nan")
    a, _ = _tie_mean(a, p)
    y = np.concatenate([[0.0], np.cumsum(a) / total])
    area = float(np.sum((y[1:] + y[:-1]) / 2) / a.size)
    return 2 * area - 1


def normalized_gini(actual: Any, predicted: Any) -> float:
    """:func:`gini` of the prediction over that of the perfect ranking (1: perfect)."""
    best = gini(actual, actual)
    return gini(actual, predicted) / best if best and math.isfinite(best) else float("nan")


def rank_blocks(actual: Any, predicted: Any,
            weights: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(customers, actual total, prediction) of each distinct prediction, highest first;
    ``weights``: customers of each row (default 1)."""
    a = np.asarray(actual, dtype=float)
    p = np.asarray(predicted, dtype=float)
    w = np.ones(a.size) if weights is None else np.asarray(weights, dtype=float)
    keys, inverse = np.unique(-p, return_inverse=True)
    count = np.bincount(inverse, weights=w, minlength=keys.size)
    total = np.bincount(inverse, weights=a * w, minlength=keys.size)
    return count, total, -keys


def decile_sums(actual: Any, predicted: Any, weights: Any = None,
                groups: int = DECILES) -> tuple[np.ndarray, np.ndarray]:
    """(predicted, actual) totals of the ``groups`` groups of customers ranked by
    prediction, highest first, in groups of sizes differing by at most one (the larger
    first, as ``np.array_split``); ``weights``: customers of each row (default 1).

    **Ties** (the one rule, used by every decile MAPE of ltvxl): the customers of a run
    of equal predictions fill rank positions s+1 .. s+c, and each of them belongs to
    each group by the share of those c positions that fall in it. A group's totals are
    therefore the expectation of its totals when the ties are broken at random, and do
    not depend on row order. Without ties this is the plain definition (each customer
    in one group). Empty arrays when there are fewer customers than groups.
    """
    count, total, pred = rank_blocks(actual, predicted, weights)
    n = round(float(count.sum()))
    if n < groups:
        return np.zeros(0), np.zeros(0)
    size, extra = divmod(n, groups)
    cuts = np.concatenate([[0], np.cumsum([size + (g < extra) for g in range(groups)])])
    ends = np.cumsum(count)
    starts = ends - count

    def cumulative(block_total: np.ndarray) -> np.ndarray:
        """Total of the first k rank positions at each cut k (a block's share of
        positions x its total): piecewise linear across each block."""
        b = np.minimum(np.searchsorted(ends, cuts, side="right"), count.size - 1)
        before = np.concatenate([[0.0], np.cumsum(block_total)[:-1]])
        inside = np.clip(cuts - starts[b], 0.0, count[b])
        share = np.divide(inside, count[b], out=np.zeros(b.size), where=count[b] > 0)
        return before[b] + share * block_total[b]

    return np.diff(cumulative(pred * count)), np.diff(cumulative(total))


def decile_mape(actual: Any, predicted: Any, groups: int = DECILES,
                weights: Any = None) -> tuple[float, int]:
    """(mean over the deciles of |predicted - actual| / actual, deciles used), the
    deciles' totals from :func:`decile_sums` (ties: each tied customer shares the
    deciles her block's rank positions fall in); a decile whose actual value is 0 has
    no percentage error and is left out (the count says how many were used); NaN and 0
    with fewer customers than ``groups``. ``weights``: customers of each row."""
    gp, ga = decile_sums(actual, predicted, weights, groups)
    used = ga != 0
    errs = np.abs(gp[used] - ga[used]) / np.abs(ga[used])
    return (float(np.mean(errs)) if errs.size else float("nan")), int(errs.size)


def spearman(actual: Any, predicted: Any) -> float:
    """Spearman rank correlation (average ranks for ties; NaN when either is constant)."""
    import pandas as pd

    a = np.asarray(actual, dtype=float)
    p = np.asarray(predicted, dtype=float)
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(p) == 0:
        return float("nan")
    ra = pd.Series(a).rank().to_numpy()
    rp = pd.Series(p).rank().to_numpy()
    return float(np.corrcoef(ra, rp)[0, 1])


@dataclass(frozen=True)
class Scores:
    """How one prediction does on the test customers (values in the log's currency).

    name; customers; gini: normalized Gini; decile_mape: a fraction, and deciles its
    count; spearman; total_error: predicted / actual total - 1; predicted, actual:
    totals; note: why a baseline has no figures ("" otherwise).
    """

    name: str
    customers: int
    gini: float
    decile_mape: float
    deciles: int
    spearman: float
    total_error: float
    predicted: float
    actual: float
    note: str = ""


def scores(name: str, actual: Any, predicted: Any, note: str = "") -> Scores:
    """The :class:`Scores` of ``predicted`` against ``actual``."""
    a = np.asarray(actual, dtype=float)
    p = np.asarray(predicted, dtype=float)
    mape, used = decile_mape(a, p)
    total = float(a.sum())
    return Scores(name, int(a.size), normalized_gini(a, p), mape, used, spearman(a, p),
                  float(p.sum()) / total - 1 if total else float("nan"), float(p.sum()),
                  total, note)


def _nan_scores(name: str, n: int, actual: float, note: str) -> Scores:
    nan = float("nan")
    return Scores(name, n, nan, nan, 0, nan, nan, nan, actual, note)


# ---------------------------------------------------------------- baselines


def _window_summary(features: Features, rows: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    t = rows
    return pd.DataFrame({
        "customer": t["customer"].to_numpy(),
        "frequency": t["window_purchase_days"].to_numpy(float) - 1,
        "recency": t["_recency_days"].to_numpy(float) / 7,
        "T": np.full(len(t), (features.window - 1) / 7),
        "monetary_value": t["_repeat_value"].to_numpy(float),
    })


def _btyd_columns(log: TransactionLog, features: Features) -> pd.DataFrame:
    """Each customer's last purchase day in the window (days after d0) and mean repeat
    purchase-day value (positive amounts, same-day merged), for the BTYD baseline."""
    import pandas as pd

    t = features.table
    end = int(features.end.astype(np.int64))
    idx = pd.Index(log.customers).get_indexer(t["customer"].to_numpy())
    k = len(log.customers)
    d0 = np.full(k, np.iinfo(np.int64).max)
    d0[idx] = t["acquired"].to_numpy().astype("datetime64[D]").astype(np.int64)
    days, codes, amounts = log.days, log.codes.astype(np.int64), np.asarray(log.amounts, float)
    rel = days - d0[codes]
    keep = (days <= end) & (rel >= 0) & (rel < features.window) & (amounts >= 0)
    c, r, a = codes[keep], rel[keep], amounts[keep]
    key = np.unique(c * (features.window + 1) + r, return_inverse=True)
    uk, inv = key
    val = np.bincount(inv, weights=a)
    kc, kr = uk // (features.window + 1), uk % (features.window + 1)
    last = np.zeros(k)
    np.maximum.at(last, kc, kr.astype(float))
    rep = kr > 0
    rsum = np.bincount(kc[rep], weights=val[rep], minlength=k)
    rn = np.bincount(kc[rep], minlength=k)
    mean = np.where(rn > 0, rsum / np.maximum(rn, 1), 0.0)
    return pd.DataFrame({"_recency_days": last[idx], "_repeat_value": mean[idx]})


def btyd_baseline(
    features: Features, train: pd.DataFrame, test: pd.DataFrame, *,
    cache: FitCache | None = None,
) -> tuple[np.ndarray | None, str]:
    """(each test customer's predicted later value by the registry's default purchase
    model and Gamma-Gamma fitted on the training customers' windows, or None; a note)."""
    import pandas as pd

    from . import clv, registry

    tr = _window_summary(features, train)
    te = _window_summary(features, test)
    try:
        fits = clv.fit_models(tr, time_unit="weeks", cache=cache)
        both = pd.concat([tr, te], ignore_index=True)
        # the window ends on day window - 1; the horizon starts the day after
        pred = clv.predict(both, horizon=features.horizon, horizon_unit="months",
                           time_unit="weeks", annual_discount_rate=0.0, gross_margin=1.0,
                           fits=fits)
    except LtvxlError as exc:
        return None, f"{registry.DEFAULT.name} not fitted on the windows: {exc.message}"
    value = pred.table["clv"].to_numpy(float)[len(tr):]
    note = fits.spend_note
    return value, note


# ---------------------------------------------------------------- validation and fit


def acquisition_split(table: pd.DataFrame, share: float = TEST_SHARE
                      ) -> tuple[np.ndarray, np.datetime64]:
    """(a mask of the test rows: the latest acquired, about ``share`` of them, whole days
    together; the first day of the test set)."""
    acq = table["acquired"].to_numpy().astype("datetime64[D]").astype(np.int64)
    ordered = np.sort(acq)
    cut = int(ordered[min(int(len(acq) * (1 - share)), len(acq) - 1)])
    test = acq >= cut
    if test.all():  # one acquisition day for all: nothing earlier to train on
        test = np.zeros(len(acq), dtype=bool)
    return test, np.datetime64(cut, "D")


def _score_of(s: Scores) -> float:
    """The family choice's criterion: normalized Gini minus decile MAPE (higher is better)."""
    g = s.gini if math.isfinite(s.gini) else -1.0
    m = s.decile_mape if math.isfinite(s.decile_mape) else 1.0
    return g - m


@dataclass(frozen=True)
class Validation:
    """The split by acquisition date and how the model and the baselines did on it.

    test_from: the first acquisition day of the test set; train, test: customers;
    choice: the chosen family and why; families: each family's scores on the inner
    split; rows: the model's and the baselines' :class:`Scores` on the test set;
    ratio: baseline (a)'s ratio of later to window value (training set); intervals: for
    each baseline with figures, the 90 % bootstrap intervals of :meth:`beats`
    (:func:`bootstrap`).
    """

    test_from: np.datetime64
    train: int
    test: int
    family: str
    why: str
    families: tuple[Scores, ...]
    rows: tuple[Scores, ...]
    ratio: float
    intervals: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)

    def beats(self) -> dict[str, dict[str, float]]:
        """For each baseline: the model's normalized Gini minus the baseline's, and the
        baseline's decile MAPE minus the model's (positive: the model is better)."""
        model, *bases = self.rows
        return {b.name: {"gini": model.gini - b.gini,
                         "decile_mape": b.decile_mape - model.decile_mape} for b in bases}


INNER_SHARES = (0.45, 0.30, 0.15)
"""The family choice's rolling origins: each checks the training customers acquired from
the latest ``share`` up to the next origin on a fit to the ones acquired before."""


def _choose(features: Features, train: pd.DataFrame, seed: int
            ) -> tuple[str, str, tuple[Scores, ...]]:
    acq = train["acquired"].to_numpy().astype("datetime64[D]").astype(np.int64)
    y = train["later_value"].to_numpy(float)
    folds = []
    for k, share in enumerate(INNER_SHARES):
        start = acquisition_split(train, share)[1].astype(np.int64)
        stop = (acquisition_split(train, INNER_SHARES[k + 1])[1].astype(np.int64)
                if k + 1 < len(INNER_SHARES) else np.iinfo(np.int64).max)
        before, check = acq < start, (acq >= start) & (acq < stop)
        if before.sum() >= MIN_TRAIN // 2 and check.any() and (y[before] > 0).sum() >= 2:
            folds.append((before, check))
    checked = np.zeros(len(train), dtype=bool)
    for _, check in folds:
        checked |= check
    if checked.sum() >= DECILES:
        first = np.datetime64(int(acq[checked].min()), "D")
        fam_scores = []
        for fam in FAMILIES:
            pred = np.full(len(train), np.nan)
            for before, check in folds:
                part = train[before]
                enc = Encoder.of(part, features.numeric, features.categorical)
                pred[check] = fit_two_part(part, enc, fam, seed=seed).predict(train[check])[1]
            fam_scores.append(scores(FAMILY_NAMES[fam], y[checked], pred[checked]))
        best = max(range(len(FAMILIES)), key=lambda i: (_score_of(fam_scores[i]), -i))
        others = "; ".join(f"{s.name}: Gini {s.gini:.3f}, decile MAPE {s.decile_mape:.1%}"
                           for s in fam_scores)
        why = (f"best normalized Gini minus decile MAPE on the training customers acquired "
               f"from {first}, each predicted by a fit to those acquired before it "
               f"({len(folds)} rolling origins; {others})")
        return FAMILIES[best], why, tuple(fam_scores)
    return "ratio", "too few training customers for the rolling origins: the ratio GLM (it " \
        "shrinks to the ratio baseline) is used", ()


def validate(log: TransactionLog, features: Features, *, seed: int = SEED,
             cache: FitCache | None = None) -> Validation:
    """Split the trained-on customers by acquisition date, choose the family on the
    earlier ones, and score it and the two baselines on the later ones."""
    import pandas as pd

    data = features.training
    _enough(features, data)
    data = pd.concat([data, _btyd_columns(log, _with(features, data))], axis=1)
    test_mask, cut = acquisition_split(data)
    train, test = data[~test_mask].reset_index(drop=True), data[test_mask].reset_index(drop=True)
    if len(test) < DECILES or len(train) < MIN_TRAIN // 2:
        raise LtvxlError(
            f"the split by acquisition date leaves {len(train):,} training and {len(test):,} "
            f"test customers (need {MIN_TRAIN // 2} and {DECILES}): the customers were "
            "acquired on too few days; use a longer file")
    family, why, fam_scores = _choose(features, train, seed)
    enc = Encoder.of(train, features.numeric, features.categorical)
    model = fit_two_part(train, enc, family, seed=seed)
    y = test["later_value"].to_numpy(float)
    predicted = model.predict(test)[1]
    rows = [scores(f"model: {FAMILY_NAMES[family]}", y, predicted)]
    base_values: list[np.ndarray | None] = []
    wv = train["window_value"].to_numpy(float).sum()
    ratio = float(train["later_value"].to_numpy(float).sum() / wv) if wv > 0 else float("nan")
    if math.isfinite(ratio):
        base_values.append(ratio * test["window_value"].to_numpy(float))
        rows.append(scores(BASELINE_RATIO, y, base_values[-1]))
    else:
        base_values.append(None)
        rows.append(_nan_scores(BASELINE_RATIO, len(y), float(y.sum()),
                                "no window value in the training set"))
    btyd, note = btyd_baseline(features, train, test, cache=cache)
    base_values.append(btyd)
    if btyd is None:
        rows.append(_nan_scores(BASELINE_BTYD, len(y), float(y.sum()), note))
    else:
        rows.append(scores(BASELINE_BTYD, y, btyd, note))
    intervals = {r.name: bootstrap(y, predicted, b, seed=seed)
                 for r, b in zip(rows[1:], base_values, strict=True) if b is not None}
    return Validation(cut, len(train), len(test), family, why, tuple(fam_scores),
                      tuple(rows), ratio, intervals)


BOOTSTRAP = 200
"""Resamples of the test customers behind the intervals of the model's advantage."""
LEVEL = 0.9
"""The intervals' coverage (5th to 95th percentile of the resamples)."""


def bootstrap(actual: np.ndarray, model: np.ndarray, baseline: np.ndarray, *,
              seed: int = SEED, n: int = BOOTSTRAP) -> dict[str, tuple[float, float]]:
    """90 % intervals of the model's advantage over a baseline, from ``n`` resamples of
    the test customers (with replacement, seeded): ``gini``, the model's normalized Gini
    minus the baseline's; ``decile_mape``, the baseline's decile MAPE minus the model's
    (positive: the model is better)."""
    rng = np.random.default_rng(seed)
    g, m = [], []
    for _ in range(n):
        i = rng.integers(0, actual.size, actual.size)
        a = actual[i]
        best = gini(a, a)  # the perfect ranking's, shared by both
        g.append((gini(a, model[i]) - gini(a, baseline[i])) / best if best else float("nan"))
        m.append(decile_mape(a, baseline[i])[0] - decile_mape(a, model[i])[0])
    lo, hi = (1 - LEVEL) / 2 * 100, (1 + LEVEL) / 2 * 100

    def interval(v: list[float]) -> tuple[float, float]:
        x = np.asarray(v, dtype=float)
        x = x[np.isfinite(x)]
        if not x.size:
            return float("nan"), float("nan")
        return float(np.percentile(x, lo)), float(np.percentile(x, hi))

    return {"gini": interval(g), "decile_mape": interval(m)}


def _with(features: Features, table: pd.DataFrame) -> Features:
    return Features(table, features.window, features.horizon, features.end,
                    features.numeric, features.categorical, features.notes)


def _enough(features: Features, data: pd.DataFrame) -> None:
    n = len(data)
    if n < MIN_TRAIN:
        t = features.table
        first = (np.datetime64(t["acquired"].min(), "D") if len(t) else features.end)
        raise LtvxlError(
            f"{n:,} customers have their {features.window}-day window and {features.horizon:g}"
            f"-month horizon inside the data ({first} to {features.end}); at least "
            f"{MIN_TRAIN} are needed: shorten the window or the horizon, or give more data")
    pos = int((data["later_value"].to_numpy(float) > 0).sum())
    if pos < MIN_POSITIVE:
        raise LtvxlError(
            f"only {pos} of the {n:,} trained-on customers bought again within "
            f"{_months(features.horizon)} of their window (at least {MIN_POSITIVE} needed): "
            "lengthen the horizon or give more data")


@dataclass(frozen=True)
class EarlyModel:
    """A fitted first-purchase value model and its validation.

    model: the two-part model refitted on every trained-on customer; validation: the
    split's figures; window (days), horizon (months), customers: trained on; columns:
    the features the model uses; notes: the features' notes and what was left out.
    """

    model: TwoPart
    validation: Validation
    window: int
    horizon: float
    customers: int
    columns: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())

    def predict(self, features: Features) -> pd.DataFrame:
        """customer, acquired, observed_days (days of the window inside the data: fewer
        than the window for a customer acquired less than a window before its last date,
        whose window features are then partial), p_repeat (probability of later value > 0
        in the horizon), predicted_value (over the horizon, the log's currency)."""
        import pandas as pd

        t = features.table
        p, v = self.model.predict(t)
        return pd.DataFrame({"customer": t["customer"].to_numpy(),
                             "acquired": t["acquired"].to_numpy(),
                             "observed_days": t["observed_days"].to_numpy(),
                             "p_repeat": p, "predicted_value": v})


def _key(features: Features, seed: int) -> Hashable:
    t = features.training
    num = [t[c].to_numpy(float) for c in (*features.numeric, "later_value")]
    cat = tuple(tuple(t[c].astype(str)) for c in features.categorical)
    acq = t["acquired"].to_numpy().astype("datetime64[D]").astype(np.int64)
    return ("early", features.window, features.horizon, seed, features.columns,
            digest(acq, *num), hash(cat))


def fit(log: TransactionLog, features: Features, *, seed: int = SEED,
        cache: FitCache | None = None) -> EarlyModel:
    """Validate (:func:`validate`), then refit the chosen family on every trained-on
    customer of ``features`` (from ``log``). With ``cache`` an unchanged training set is
    not refitted (the key is the content of the features and targets)."""

    def make() -> EarlyModel:  # the BTYD baseline's fits need no cache of their own
        val = validate(log, features, seed=seed)
        data = features.training
        enc = Encoder.of(data, features.numeric, features.categorical)
        model = fit_two_part(data, enc, val.family, seed=seed)
        used = (*enc.numeric, *features.categorical)
        left = [c for c in features.columns if c not in used]
        notes = features.notes + ((
            f"left out of the model: {', '.join(left)} (the trained-on customers were "
            f"acquired over fewer than {SEASON_DAYS} days, so the month is not a season)",)
            if left else ())
        return EarlyModel(model, val, features.window, features.horizon, len(data),
                          used, notes)

    return make() if cache is None else cache.get(_key(features, seed), make)


__all__ = [
    "BASELINE_BTYD",
    "BASELINE_RATIO",
    "DEFAULT_HORIZON",
    "DEFAULT_WINDOW",
    "FAMILIES",
    "EarlyModel",
    "Encoder",
    "Features",
    "Scores",
    "TwoPart",
    "Validation",
    "acquisition_split",
    "bootstrap",
    "customer_features",
    "decile_mape",
    "fit",
    "fit_two_part",
    "gini",
    "normalized_gini",
    "scores",
    "spearman",
    "validate",
]
