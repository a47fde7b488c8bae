"""Fits on an engine's histograms and scores for each distinct (frequency, recency, T) row.

The engine returns two small tables: the distinct (frequency, recency, T)
rows with their customer counts, and the distinct (frequency,
monetary_value) rows of repeat buyers. The models are fitted on them with
the counts as weights, which is the same likelihood as a fit on every
customer (the in-memory fits compress identical rows the same way). The
predictions of a purchase model depend only on (frequency, recency, T), so
they are computed once per distinct row and joined back by the engine; the
expected spend is a closed-form expression of the Gamma-Gamma parameters
that the engine evaluates per customer (:func:`spend_sql`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ltvxl.models import clv, registry
from ltvxl.models.base import FitResult, compress
from ltvxl.units import DEFAULT_UNIT


@dataclass(frozen=True)
class Fits:
    """The purchase-model fit, the spend fit (None when the mean repeat spend is used),
    the mean repeat spend, and a note on the spend model."""

    purchases: FitResult
    spend: FitResult | None
    mean_spend: float
    spend_note: str = ""
    notes: list[str] = field(default_factory=list)


def fit(
    histogram: pd.DataFrame,
    spend_histogram: pd.DataFrame,
    model: str | None = None,
    time_unit: str = DEFAULT_UNIT,
) -> Fits:
    """Fit the purchase model and Gamma-Gamma on the engine's histograms.

    ``histogram``: columns frequency, recency, T, n; ``spend_histogram``:
    frequency, monetary_value, n (repeat buyers). The spend policy is the
    in-memory one (:func:`ltvxl.models.clv.predict`): Gamma-Gamma, or the mean
    repeat spend when it cannot be fitted or q <= 1.
    """
    h = histogram
    purchases = clv.fit_purchases(
        model,
        h["frequency"].to_numpy(float),
        h["recency"].to_numpy(float),
        h["T"].to_numpy(float),
        h["n"].to_numpy(float),
        time_unit=time_unit,
    )
    x = spend_histogram["frequency"].to_numpy(float)
    m = spend_histogram["monetary_value"].to_numpy(float)
    w = spend_histogram["n"].to_numpy(float)
    mean_spend = clv.mean_repeat_spend(x, m, w)
    spend, note = clv.fit_spend(x, m, w)
    return Fits(purchases, spend, mean_spend, note)


def spend_sql(fits: Fits, frequency: str = "s.frequency", value: str = "s.monetary_value") -> str:
    """SQL of each customer's expected spend per purchase: Gamma-Gamma's conditional mean
    ``(gamma + x zbar) p / (p x + q - 1)`` (zbar taken as 0 when x = 0), or the mean
    repeat spend (:func:`ltvxl.models.gammagamma.expected_spend`)."""
    if fits.spend is None:
        return repr(fits.mean_spend)
    p, q, g = (float(fits.spend.params[k]) for k in ("p", "q", "gamma"))
    zbar = f"CASE WHEN {frequency} > 0 THEN {value} ELSE 0.0 END"
    return f"(({g!r} + {frequency} * {zbar}) * {p!r} / ({p!r} * {frequency} + {q - 1.0!r}))"


def scores(
    fits: Fits,
    histogram: pd.DataFrame,
    *,
    horizon: float,
    horizon_unit: str,
    time_unit: str,
    annual_discount_rate: float,
) -> pd.DataFrame:
    """P(alive), expected purchases over the horizon and their discounted sum (per unit of
    spend) for each distinct (frequency, recency, T) row of ``histogram``."""
    mod = registry.purchase_model(fits.purchases.model)
    x = histogram["frequency"].to_numpy(float)
    tx = histogram["recency"].to_numpy(float)
    big_t = histogram["T"].to_numpy(float)
    p_alive = mod.p_alive(fits.purchases, x, tx, big_t)
    pairs = compress((x, big_t))
    ux, ut = pairs.columns
    purchases, disc = clv.discounted_purchases(
        lambda t: mod.alive_expected(fits.purchases, t, ux, ut),
        horizon,
        horizon_unit=horizon_unit,
        time_unit=time_unit,
        annual_discount_rate=annual_discount_rate,
    )
    return pd.DataFrame(
        {
            "frequency": histogram["frequency"].to_numpy(),
            "recency": tx,
            "T": big_t,
            "p_alive": p_alive,
            "expected_purchases": purchases.take(pairs.inverse) * p_alive,
            "discounted_purchases": disc.take(pairs.inverse) * p_alive,
        }
    )
