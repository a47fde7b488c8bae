"""The three ingredients of the simple LTV (value x frequency x lifespan), from a log.

:func:`ltv_stats` measures, up to ``as_of``:

- average purchase value = revenue / purchases (purchases: rows with amount
  >= 0; revenue net of returns);
- purchase frequency, purchases per customer per year = purchases /
  customer-years observed, where each customer is observed from the first
  purchase to ``as_of`` (day of ``as_of`` included; a year is 365.25 days);
- lifespan in years, by one of two estimators:
  ``"churn"`` (default): 1 / yearly churn, where yearly churn is the share of
  the customers acquired at least 365 days before ``as_of`` who made no
  purchase in the last 365 days;
  ``"observed"``: the mean time from first to last purchase, a lower bound
  while customers are still active;
- simple LTV = average purchase value x purchase frequency x lifespan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import DIV0, NA, LtvxlError
from .choices import LIFESPAN_METHODS
from .log import TransactionLog
from .summary import CustomerTotals, resolve_as_of

YEAR_DAYS = 365.25


@dataclass(frozen=True)
class LtvStats:
    """Measured ingredients of the simple LTV. Money in the log's currency, times in years.

    ``lifespan`` and ``simple_ltv`` are NaN when they cannot be estimated;
    ``lifespan_problem`` then says why (as cell error text).
    """

    first_date: np.datetime64
    as_of: np.datetime64
    customers: int
    purchases: int
    revenue: float
    avg_purchase_value: float
    customer_years: float
    purchase_frequency: float
    churn_eligible: int
    churned: int
    yearly_churn: float
    observed_lifespan: float
    lifespan_method: str
    lifespan: float
    simple_ltv: float
    revenue_per_customer: float
    lifespan_problem: str | None
    notes: tuple[str, ...]

    def rows(self) -> list[tuple[str, Any]]:
        """(label, value) pairs in display order; labels state units and estimators."""
        problem = self.lifespan_problem
        life_label = (
            "lifespan (years) = 1 / yearly churn" if self.lifespan_method == "churn"
            else "lifespan (years) = mean time from first to last purchase"
        )
        churn: Any = self.yearly_churn if np.isfinite(self.yearly_churn) else (
            f"{NA} no customer acquired a year or more before as_of")
        rows: list[tuple[str, Any]] = [
            ("first transaction", self.first_date),
            ("as of", self.as_of),
            ("customers", self.customers),
            ("purchases", self.purchases),
            ("revenue (returns netted)", self.revenue),
            ("average purchase value = revenue / purchases", self.avg_purchase_value),
            ("customer-years observed (first purchase to as of)", self.customer_years),
            ("purchase frequency (per customer per year) = purchases / customer-years",
             self.purchase_frequency),
            ("customers acquired 1+ year before as of", self.churn_eligible),
            ("of those, no purchase in the last year", self.churned),
            ("yearly churn = no purchase in last year / acquired 1+ year before", churn),
            ("observed lifespan (years), mean first to last purchase", self.observed_lifespan),
            (life_label, self.lifespan if problem is None else problem),
            ("simple LTV = average purchase value x frequency x lifespan",
             self.simple_ltv if problem is None else problem),
            ("historical revenue per customer", self.revenue_per_customer),
        ]
        rows.extend((note.split(": ")[0], int(note.split(": ")[1])) for note in self.notes)
        return rows


def ltv_stats(log: TransactionLog, as_of: Any = None, lifespan: str = "churn") -> LtvStats:
    """Measure the simple-LTV ingredients of ``log`` up to ``as_of`` (see the module)."""
    method = str(lifespan).strip().lower()
    if method not in LIFESPAN_METHODS:
        raise LtvxlError(f'lifespan must be one of {", ".join(LIFESPAN_METHODS)}; got "{lifespan}"')
    day = resolve_as_of(log, as_of)
    t = CustomerTotals(log, day)
    keep = t.has_purchase
    customers = int(keep.sum())
    if customers == 0:
        raise LtvxlError("no purchases on or before as_of")
    first, last = t.first[keep], t.last[keep]
    purchases = int(t.orders[keep].sum())
    revenue = float(t.revenue[keep].sum())
    apv = revenue / purchases
    customer_years = float(((day - first + 1) / YEAR_DAYS).sum())
    frequency = purchases / customer_years
    eligible = first <= day - 365
    n_eligible = int(eligible.sum())
    churned = int((eligible & (last <= day - 365)).sum())
    churn = churned / n_eligible if n_eligible else float("nan")
    observed = float(((last - first) / YEAR_DAYS).mean())
    problem = None
    if method == "churn":
        if not n_eligible:
            problem = f"{NA} no customer acquired a year or more before as_of"
            life = float("nan")
        elif churned == 0:
            problem = f"{DIV0} no customer churned (all bought in the last year)"
            life = float("nan")
        else:
            life = 1.0 / churn
    else:
        life = observed
    return LtvStats(
        first_date=np.datetime64(int(log.days.min()), "D"),
        as_of=np.datetime64(day, "D"),
        customers=customers,
        purchases=purchases,
        revenue=revenue,
        avg_purchase_value=apv,
        customer_years=customer_years,
        purchase_frequency=frequency,
        churn_eligible=n_eligible,
        churned=churned,
        yearly_churn=churn,
        observed_lifespan=observed,
        lifespan_method=method,
        lifespan=life,
        simple_ltv=apv * frequency * life if problem is None else float("nan"),
        revenue_per_customer=revenue / customers,
        lifespan_problem=problem,
        notes=tuple(t.notes(log)),
    )
