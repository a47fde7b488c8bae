"""Discounted customer lifetime value over a horizon, from a purchase model and a spend model.

Time units are explicit: the data's times (recency, T) are in ``time_unit``
(days, weeks or months), the horizon in ``horizon_unit``, and the discount
rate is annual (a fraction, 0.1 for 10 % a year), converted to the data's
unit by compounding: ``(1 + annual) ** (days per unit / 365.25) - 1``.

Cash flows are counted month by month: the expected purchases in each month
of the horizon (the last month may be partial) times the expected spend per
purchase and the gross margin, discounted from the end of that month.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ltvxl.errors import LtvxlError
from ltvxl.units import DEFAULT_UNIT, HORIZON_UNIT, convert_time, periodic_rate, unit_days

from . import defaults, registry
from .base import FitResult, compress
from .cache import FitCache, digest
from .registry import PurchaseModel

if TYPE_CHECKING:  # pragma: no cover
    from ltvxl.transactions.summary import CustomerSummary

RISK_BANDS = ((0.3, "high"), (0.7, "medium"))
"""Churn-risk labels by P(alive): below 0.3 high, below 0.7 medium, else low."""

SPEND_FALLBACK = "mean repeat spend used"
"""The end of every note saying that the spend model was not used."""


def _cached(cache: FitCache | None, key: Hashable, make: Callable[[], Any]) -> Any:
    return make() if cache is None else cache.get(key, make)


def fit_purchases(
    model: str | PurchaseModel | None,
    frequency: Any,
    recency: Any,
    T: Any,
    weights: Any = None,
    *,
    time_unit: str = DEFAULT_UNIT,
    cache: FitCache | None = None,
) -> FitResult:
    """Fit a purchase model (any spelling :func:`registry.purchase_model` accepts) to
    per-customer columns, through ``cache`` when one is given."""
    mod = registry.purchase_model(model)
    cols = [np.asarray(c, dtype=float) for c in (frequency, recency, T)]
    if weights is not None:
        cols.append(np.asarray(weights, dtype=float))
    key = (mod.key, time_unit, digest(*cols))
    return _cached(cache, key, lambda: mod.fit(frequency, recency, T, weights, time_unit=time_unit))


def fit_spend(
    frequency: Any, avg_spend: Any, weights: Any = None, *, cache: FitCache | None = None
) -> tuple[FitResult | None, str]:
    """(the spend fit or None, a note): Gamma-Gamma when it can predict, else None and a
    note saying why the mean repeat spend (:func:`mean_repeat_spend`) is used instead.
    ``weights``: customers per row (rows of a histogram)."""
    spend = registry.GAMMA_GAMMA
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(avg_spend, dtype=float)
    cols = (x, m) if weights is None else (x, m, np.asarray(weights, dtype=float))
    try:
        fit = _cached(cache, (spend.key, digest(*cols)), lambda: spend.fit(x, m, weights))
    except LtvxlError as exc:
        return None, f"{spend.name} not fitted ({exc.message}); {SPEND_FALLBACK}"
    why = spend.usable(fit)
    return (None, f"{why}; {SPEND_FALLBACK}") if why else (fit, "")


@dataclass(frozen=True)
class Fits:
    """The fits a CLV prediction uses: purchases, spend (None when the mean repeat spend
    is used instead) and the note saying why (empty when the spend model is used)."""

    purchases: FitResult
    spend: FitResult | None
    spend_note: str = ""


def _table(summary: Any, time_unit: str | None) -> tuple[pd.DataFrame, str]:
    """(the per-customer table, the unit of its times) of a CustomerSummary or a table."""
    if isinstance(summary, pd.DataFrame):
        return summary, time_unit or DEFAULT_UNIT
    return summary.table, time_unit or summary.time_unit


def fit_models(
    summary: CustomerSummary | pd.DataFrame,
    model: str | PurchaseModel | None = None,
    *,
    time_unit: str | None = None,
    cache: FitCache | None = None,
) -> Fits:
    """Fit the purchase model and the spend model to a customer summary: the one fitting
    policy of CLV_PREDICT, CLV_FIT, ``ltvxl clv`` and the report.

    ``model``: any spelling of a registered purchase model (blank: the default,
    Pareto/NBD). ``time_unit``: the unit of the summary's recency and T (default:
    the summary's own; weeks for a bare table). The spend model is Gamma-Gamma; when it cannot
    be fitted (fewer than two repeat buyers with positive spend, identical spends)
    or has no finite mean (q <= 1), every customer's spend is the mean repeat
    purchase value and ``spend_note`` says why. With ``cache`` an unchanged summary
    is not refitted (keys are content digests).
    """
    table, unit = _table(summary, time_unit)
    x = table["frequency"].to_numpy(float)
    purchases = fit_purchases(
        model,
        x,
        table["recency"].to_numpy(float),
        table["T"].to_numpy(float),
        time_unit=unit,
        cache=cache,
    )
    spend, note = fit_spend(x, table["monetary_value"].to_numpy(float), cache=cache)
    return Fits(purchases, spend, note)


def churn_risk(p_alive: Any) -> np.ndarray:
    """ "high", "medium" or "low" churn risk from P(alive) (bands in :data:`RISK_BANDS`)."""
    p = np.asarray(p_alive, dtype=float)
    out = np.full(p.shape, "low", dtype=object)
    for limit, label in reversed(RISK_BANDS):
        out[p < limit] = label
    return out


MAX_HORIZON_MONTHS = 1200
"""Longest horizon the predictions accept (100 years): the discounting runs month by month."""


def month_grid(horizon: float, horizon_unit: str, time_unit: str) -> np.ndarray:
    """Ends of the months of the horizon, in ``time_unit`` (the last may be partial)."""
    if not (horizon >= 0 and math.isfinite(horizon)):
        raise LtvxlError(f"horizon must be a number >= 0, got {horizon:.6g}")
    total = convert_time(horizon, horizon_unit, time_unit)
    month = convert_time(1.0, "months", time_unit)
    if total / month > MAX_HORIZON_MONTHS + 1e-9:
        raise LtvxlError(
            f"horizon must be at most {MAX_HORIZON_MONTHS} months (100 years), got "
            f"{horizon:.6g} {horizon_unit}"
        )
    k = max(math.ceil(total / month - 1e-9), 0)
    ends = np.minimum(np.arange(1, k + 1) * month, total)
    return ends


def discounted_purchases(
    cumulative: Callable[[float], np.ndarray],
    horizon: float,
    *,
    horizon_unit: str,
    time_unit: str,
    annual_discount_rate: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(expected purchases over the horizon, their discounted sum) per customer.

    ``cumulative(t)`` gives each customer's expected purchases in the next t
    (in ``time_unit``).
    """
    ends = month_grid(horizon, horizon_unit, time_unit)
    rate = periodic_rate(annual_discount_rate, time_unit)
    prev = None
    total_disc = None
    for t in ends:
        cur = np.asarray(cumulative(float(t)), dtype=float)
        step = cur if prev is None else cur - prev
        disc = step * (1.0 + rate) ** (-t)
        total_disc = disc if total_disc is None else total_disc + disc
        prev = cur
    if prev is None:  # zero horizon
        zero = np.zeros_like(np.asarray(cumulative(0.0), dtype=float))
        return zero, zero
    assert total_disc is not None  # set with prev
    return prev, total_disc


def expected_spend(spend: FitResult | None, frequency: Any, avg_spend: Any) -> np.ndarray:
    """Each customer's expected spend per purchase (currency): Gamma-Gamma's from ``spend``,
    or without it (None: see :func:`fit_spend`) the mean repeat spend for everyone."""
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(avg_spend, dtype=float)
    if spend is not None:
        return registry.GAMMA_GAMMA.expected_spend(spend, x, m)
    return np.full(x.size, mean_repeat_spend(x, m))


def alive_discounted(
    model: str | PurchaseModel | None,
    fit: Any,
    frequency: np.ndarray,
    recency: np.ndarray,
    T: np.ndarray,
    horizon: float,
    *,
    horizon_unit: str,
    time_unit: str,
    annual_discount_rate: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(P(alive), expected purchases over the horizon, their discounted sum) per customer
    from the purchase model's ``fit`` (a FitResult or its parameters): :func:`predict`'s
    purchases, without the spend."""
    mod = registry.purchase_model(model)
    p_alive = mod.p_alive(fit, frequency, recency, T)
    # E[purchases | history] = E[purchases | alive, x, T] P(alive): the first factor,
    # evaluated at every month end, depends on (x, T) only, so once per distinct pair
    pairs = compress((frequency, T))
    ux, ut = pairs.columns
    purchases, disc = discounted_purchases(
        lambda t: mod.alive_expected(fit, t, ux, ut),
        horizon,
        horizon_unit=horizon_unit,
        time_unit=time_unit,
        annual_discount_rate=annual_discount_rate,
    )
    return p_alive, purchases.take(pairs.inverse) * p_alive, disc.take(pairs.inverse) * p_alive


def check_options(time_unit: str, horizon_unit: str, gross_margin: float) -> None:
    """Refuse an unknown time or horizon unit, or a gross margin outside [0, 1]."""
    unit_days(time_unit)
    unit_days(horizon_unit, "horizon_unit")
    if not (0 <= gross_margin <= 1):
        raise LtvxlError(f"gross_margin must be a fraction in [0, 1], got {gross_margin}")


@dataclass(frozen=True)
class Prediction:
    """Per-customer predictions and the fits they came from."""

    table: pd.DataFrame
    purchases_fit: FitResult
    spend_fit: FitResult | None
    spend_note: str


def mean_repeat_spend(frequency: Any, avg_spend: Any, weights: Any = None) -> float:
    """The mean value of all repeat purchases with a positive amount (the spend fallback);
    ``weights``: customers per row (rows of a histogram)."""
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(avg_spend, dtype=float)
    rep = (x > 0) & (m > 0)
    if not rep.any():
        raise LtvxlError("no repeat purchase with a positive amount: spend cannot be predicted")
    w = x if weights is None else x * np.asarray(weights, dtype=float)
    return float(np.average(m[rep], weights=w[rep]))


def predict(
    summary: CustomerSummary | pd.DataFrame,
    *,
    model: str | PurchaseModel | None = None,
    horizon: float = defaults.HORIZON,
    horizon_unit: str = HORIZON_UNIT,
    time_unit: str | None = None,
    annual_discount_rate: float = defaults.ANNUAL_DISCOUNT_RATE,
    gross_margin: float = defaults.GROSS_MARGIN,
    fits: Fits | None = None,
    cache: FitCache | None = None,
) -> Prediction:
    """Fit (by :func:`fit_models`, unless ``fits`` are given) and predict for each customer.

    ``model`` is the purchase model (any spelling the registry accepts; blank:
    Pareto/NBD). ``summary`` is a :class:`~ltvxl.transactions.summary.CustomerSummary`
    or its table, with columns customer, frequency, recency, T (in ``time_unit``,
    default the summary's own, else weeks) and monetary_value (mean of the repeat
    purchases, 0 without repeats). The horizon is in ``horizon_unit``; the
    discount rate is per year, the margin a fraction.
    Returns a table with columns customer, p_alive, expected_purchases (over
    the horizon), expected_spend (per purchase), clv (discounted, times the
    margin) and churn_risk; ``spend_note`` says when the mean repeat spend
    stands in for the spend model (``fits.spend`` None).
    """
    summary, unit = _table(summary, time_unit)
    check_options(unit, horizon_unit, gross_margin)
    mod = registry.purchase_model(model)
    if fits is None:
        fits = fit_models(summary, mod, time_unit=unit, cache=cache)
    purchases_fit = fits.purchases
    x = summary["frequency"].to_numpy(float)
    tx = summary["recency"].to_numpy(float)
    big_t = summary["T"].to_numpy(float)
    spend = expected_spend(fits.spend, x, summary["monetary_value"].to_numpy(float))
    p_alive, purchases, disc = alive_discounted(
        mod, purchases_fit, x, tx, big_t, horizon, horizon_unit=horizon_unit, time_unit=unit,
        annual_discount_rate=annual_discount_rate,
    )  # fmt: skip
    table = pd.DataFrame(
        {
            "customer": summary["customer"].to_numpy()
            if "customer" in summary
            else np.arange(x.size) + 1,
            "p_alive": p_alive,
            "expected_purchases": purchases,
            "expected_spend": spend,
            "clv": disc * spend * gross_margin,
            "churn_risk": churn_risk(p_alive),
        }
    )
    return Prediction(table, purchases_fit, fits.spend, fits.spend_note)


__all__ = [
    "RISK_BANDS",
    "SPEND_FALLBACK",
    "FitCache",
    "Fits",
    "Prediction",
    "alive_discounted",
    "check_options",
    "churn_risk",
    "digest",
    "discounted_purchases",
    "expected_spend",
    "fit_models",
    "fit_purchases",
    "fit_spend",
    "mean_repeat_spend",
    "month_grid",
    "predict",
]
