"""Doubts about a CLV prediction, said out loud: one line per problem, with its remedy.

A prediction deserves caution when

- the purchase model's fit did not converge (``FitResult.converged`` false);
- the likelihood is highest on a boundary, so the predictions are those of a limit
  model (``FitResult.limit``, e.g. the NBD when the data show no dropout: everybody
  is predicted alive; or one dropout rate for all customers);
- the data are too few: fewer than :data:`MIN_CUSTOMERS` customers or fewer than
  :data:`MIN_REPEAT_BUYERS` customers with a repeat purchase (the models' four
  parameters are then barely identified; the thresholds follow the usual advice for
  buy-till-you-die models, whose published fits use hundreds to thousands of
  customers and a calibration period several times the typical time between
  purchases);
- the history is short against the horizon: the longest customer history is below
  :data:`MIN_HISTORY_SHARE` of the horizon;
- the predicted purchase rate is far outside the observed one: the predicted
  purchases per customer per week over the horizon exceed :data:`FAR_FACTOR` times the
  observed repeat purchases per customer-week of observation (or fall below
  1 / :data:`FAR_FACTOR` of it). Customers whose own predicted rate exceeds
  :data:`FAR_FACTOR` times their own observed rate (purchases, the first included,
  per week observed, at least a week) are flagged one by one (:func:`far_flags`).

Nothing here stops a prediction: the words are the point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ltvxl.units import DEFAULT_UNIT, unit_days

from .base import FitResult

MIN_CUSTOMERS = 100
"""Fewer customers than this: too few data for a purchase model."""
MIN_REPEAT_BUYERS = 30
"""Fewer customers with a repeat purchase than this: too few data."""
MIN_HISTORY_SHARE = 0.25
"""A history (the longest customer's T) shorter than this share of the horizon is short."""
FAR_FACTOR = 3.0
"""Predicted purchase rates more than this many times the observed ones are flagged."""
FAR_FLAG = "far outside the history"
"""The per-customer flag of :func:`far_flags`."""


@dataclass(frozen=True)
class Doubt:
    """One problem with a prediction: who it concerns, what it is, what to do."""

    subject: str
    problem: str
    remedy: str
    kind: str
    """not converged, boundary, too few data, short history, far outside the history."""

    def line(self) -> str:
        """One line for the screen or a worksheet cell."""
        return f"{self.subject}: {self.problem}. {self.remedy}"


def fit_state(fit: FitResult) -> str:
    """The fit in a few words for a CSV column: converged, boundary (the limit) or not
    converged."""
    if fit.limit:
        return f"boundary: {fit.limit}"
    return "converged" if fit.converged else "not converged"


def _unit_weeks(unit: str | None) -> float:
    return unit_days(unit or DEFAULT_UNIT) / unit_days("weeks")


def doubts(
    summary: pd.DataFrame,
    fit: FitResult,
    expected_purchases: np.ndarray | None = None,
    horizon_months: float = 12.0,
    weights: np.ndarray | None = None,
) -> list[Doubt]:
    """The doubts about a purchase-model prediction from ``summary`` (frequency, recency,
    T in ``fit.time_unit``), ``fit`` and the predicted purchases per customer over
    ``horizon_months``; ``weights``: customers per row of ``summary`` when it is a
    histogram (an engine's), one each by default."""
    out: list[Doubt] = []
    name = fit.model
    x = summary["frequency"].to_numpy(float)
    big_t = summary["T"].to_numpy(float)
    w = np.ones(x.size) if weights is None else np.asarray(weights, dtype=float)
    n, repeat = round(w.sum()), round(w[x > 0].sum())
    if fit.limit and "no dropout" not in fit.limit:  # e.g. one dropout rate for all
        out.append(Doubt(name, f"the fit is at a boundary ({fit.limit}): the dropout rates "
                         "show no spread between customers, so every customer is given the "
                         "same dropout rate", "Check that the data include customers who "
                         "stopped buying at different times; or compare models with ltvxl "
                         "backtest", "boundary"))
    elif fit.limit:
        out.append(Doubt(name, f"the fit is at a boundary ({fit.limit}): the data show no "
                         "sign of customers leaving, so every customer is predicted active and "
                         "churn risks are low", "Check that the data cover a long enough period "
                         "(at least a year, several purchase cycles) and include customers who "
                         "stopped buying; or compare models with ltvxl backtest", "boundary"))
    elif not fit.converged:
        out.append(Doubt(name, "the fit did not converge, so its predictions are uncertain",
                         "Use more customers or a longer period, or another model (--model); "
                         "the fit status gives the details", "not converged"))
    if n < MIN_CUSTOMERS or repeat < MIN_REPEAT_BUYERS:
        out.append(Doubt("data", f"too few data for a purchase model: {n:,} customers, "
                         f"{repeat:,} with a repeat purchase (at least {MIN_CUSTOMERS} and "
                         f"{MIN_REPEAT_BUYERS} wanted)", "Treat the predictions as rough; add "
                         "customers or a longer period", "too few data"))
    weeks = _unit_weeks(fit.time_unit)
    horizon_weeks = horizon_months * 365.25 / 12 / 7
    span = float(big_t.max()) * weeks if n else 0.0
    if span < MIN_HISTORY_SHARE * horizon_weeks:
        out.append(Doubt("data", f"the history is short: {span / (365.25 / 12 / 7):.1f} months "
                         f"for a {horizon_months:g}-month prediction", "Shorten the horizon "
                         "(--horizon) or wait for more history", "short history"))
    if expected_purchases is not None and n and horizon_weeks > 0:
        observed = float((w * x).sum()) / max(float((w * big_t).sum()) * weeks, 1e-12)
        predicted = float(np.sum(w * np.asarray(expected_purchases, float))) / (n * horizon_weeks)
        if observed > 0 and not (observed / FAR_FACTOR <= predicted <= observed * FAR_FACTOR):
            out.append(Doubt(name, f"predicted purchases per customer ({predicted:.3g} a week) "
                             f"are {predicted / observed:.2g} times the observed repeat rate "
                             f"({observed:.3g} a week): far outside the history", "Check the "
                             "dates and the period; use a longer history", FAR_FLAG))
        elif observed == 0:
            out.append(Doubt(name, "no customer made a repeat purchase, so the prediction rests "
                             "on the model alone", "Use a longer period", FAR_FLAG))
    return out


def far_flags(summary: pd.DataFrame, expected_purchases: np.ndarray, horizon_months: float,
              time_unit: str) -> np.ndarray:
    """Per customer :data:`FAR_FLAG` or "": predicted purchases per week over the horizon
    above :data:`FAR_FACTOR` times the customer's own purchases (the first included) per
    week observed (at least one week)."""
    weeks = _unit_weeks(time_unit)
    x = summary["frequency"].to_numpy(float)
    observed_weeks = np.maximum(summary["T"].to_numpy(float) * weeks, 1.0)
    own = (x + 1.0) / observed_weeks
    horizon_weeks = horizon_months * 365.25 / 12 / 7
    predicted = np.asarray(expected_purchases, float) / max(horizon_weeks, 1e-12)
    return np.where(predicted > FAR_FACTOR * own, FAR_FLAG, "")
