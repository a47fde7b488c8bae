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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ltvxl.errors import LtvxlError

from . import bgnbd, gammagamma, mbgnbd, paretonbd
from .base import TIME_UNITS, FitResult, compress, convert_time, periodic_rate, unit_days

MODELS = {"bgnbd": bgnbd, "pnbd": paretonbd, "mbgnbd": mbgnbd}
"""Purchase models by the short name used in ``model`` arguments."""

MODEL_ALIASES = {
    "bgnbd": "bgnbd", "bg/nbd": "bgnbd", "bg-nbd": "bgnbd",
    "pnbd": "pnbd", "pareto/nbd": "pnbd", "pareto": "pnbd", "paretonbd": "pnbd",
    "mbgnbd": "mbgnbd", "mbg/nbd": "mbgnbd", "mbg-nbd": "mbgnbd",
}  # fmt: skip

DEFAULT_MODEL = "pnbd"
"""The default purchase model, Pareto/NBD: BG/NBD gives every customer without a repeat
purchase P(alive) = 1 however long ago she bought, so it would call one-time buyers of
long ago "low" churn risk (docs/models.md)."""

RISK_BANDS = ((0.3, "high"), (0.7, "medium"))
"""Churn-risk labels by P(alive): below 0.3 high, below 0.7 medium, else low."""


def model_module(name: str) -> Any:
    """The purchase-model module for a name such as "BG/NBD", "pnbd", "MBG/NBD".

    A blank name is the default, Pareto/NBD (:data:`DEFAULT_MODEL`).
    """
    key = str(name or DEFAULT_MODEL).strip().lower().replace(" ", "")
    if key not in MODEL_ALIASES:
        raise LtvxlError(f'model must be one of BGNBD, PNBD, MBGNBD; got "{name}"')
    return MODELS[MODEL_ALIASES[key]]


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


@dataclass(frozen=True)
class Prediction:
    """Per-customer predictions and the fits they came from."""

    table: pd.DataFrame
    purchases_fit: FitResult
    spend_fit: FitResult | None
    spend_note: str


def predict(
    summary: pd.DataFrame,
    *,
    model: str = DEFAULT_MODEL,
    horizon: float = 1.0,
    horizon_unit: str = "years",
    time_unit: str = "weeks",
    annual_discount_rate: float = 0.1,
    gross_margin: float = 1.0,
    purchases_fit: FitResult | None = None,
    spend_fit: FitResult | None = None,
    spend_fallback: bool = False,
) -> Prediction:
    """Fit (unless fits are given) and predict for each customer of a summary.

    ``model`` is the purchase model: "pnbd" (Pareto/NBD, the default), "bgnbd" or "mbgnbd".

    ``summary`` is a table (e.g. ``CustomerSummary.table``) with columns customer,
    frequency, recency, T (in ``time_unit``)
    and monetary_value (mean of the repeat purchases, 0 without repeats).
    Returns a table with columns customer, p_alive, expected_purchases (over
    the horizon), expected_spend (per purchase), clv (discounted, times the
    margin) and churn_risk. When Gamma-Gamma cannot be fitted (fewer than two
    repeat buyers with positive spend, or identical spends) every customer's
    expected spend is the mean repeat-purchase value, and ``spend_note`` says so;
    ``spend_fallback=True`` asks for that fallback without trying the fit.
    """
    unit_days(time_unit)
    unit_days(horizon_unit, "horizon_unit")
    if not (0 <= gross_margin <= 1):
        raise LtvxlError(f"gross_margin must be a fraction in [0, 1], got {gross_margin}")
    mod = model_module(model)
    x = summary["frequency"].to_numpy(float)
    tx = summary["recency"].to_numpy(float)
    big_t = summary["T"].to_numpy(float)
    m = summary["monetary_value"].to_numpy(float)
    if purchases_fit is None:
        purchases_fit = mod.fit(x, tx, big_t, time_unit=time_unit)
    note = "mean repeat spend used" if spend_fallback else ""
    if spend_fit is None and not spend_fallback:
        try:
            spend_fit = gammagamma.fit(x, m)
        except LtvxlError as exc:
            spend_fit = None
            note = f"Gamma-Gamma not fitted ({exc.message}); mean repeat spend used"
    if spend_fit is not None and spend_fit.params["q"] <= 1:
        note = "Gamma-Gamma q <= 1 (mean spend undefined); mean repeat spend used"
        spend_fit = None
    if spend_fit is not None:
        spend = gammagamma.expected_spend(spend_fit, x, m)
    else:
        rep = (x > 0) & (m > 0)
        if not rep.any():
            raise LtvxlError("no repeat purchase with a positive amount: spend cannot be predicted")
        spend = np.full(x.size, float(np.average(m[rep], weights=x[rep])))
    p_alive = mod.p_alive(purchases_fit, x, tx, big_t)
    # E[purchases | history] = E[purchases | alive, x, T] P(alive): the first factor,
    # evaluated at every month end, depends on (x, T) only, so once per distinct pair
    pairs = compress((x, big_t))
    ux, ut = pairs.columns
    purchases, disc = discounted_purchases(
        lambda t: mod.alive_expected(purchases_fit, t, ux, ut),
        horizon,
        horizon_unit=horizon_unit,
        time_unit=time_unit,
        annual_discount_rate=annual_discount_rate,
    )
    purchases = purchases.take(pairs.inverse) * p_alive
    disc = disc.take(pairs.inverse) * p_alive
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
    return Prediction(table, purchases_fit, spend_fit, note)


__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "RISK_BANDS",
    "TIME_UNITS",
    "Prediction",
    "churn_risk",
    "discounted_purchases",
    "model_module",
    "month_grid",
    "predict",
]
