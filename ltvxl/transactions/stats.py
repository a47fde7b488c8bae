"""The three ingredients of the simple LTV (value x frequency x lifespan), from a log.

:func:`ltv_stats` measures, up to ``as_of``:

- average purchase value = revenue / purchases (purchases: rows with amount
  >= 0; revenue net of returns);
- purchase frequency, purchases per customer per year = purchases /
  customer-years observed, where each customer is observed from the first
  purchase to ``as_of`` (day of ``as_of`` included; a year is 365.25 days);
- lifespan in years, by one of three estimators:
  ``"censored"`` (default): a constant churn rate fitted with right-censoring.
  A customer has churned when a year (365 days) passes without a purchase
  after their last one, all inside the data; their lifetime is first to last
  purchase. A customer not known to have churned is censored at ``as_of`` - 365
  days: until then churn would have been seen. The rate is churned customers /
  customer-years at risk, the lifespan its inverse: customer-years at risk /
  churned (the maximum-likelihood mean of an exponential lifetime). Every
  customer acquired before ``as_of`` - 365 days counts, with the time each was
  watched, instead of only those of whom the whole year is known;
  ``"churn"``: 1 / yearly churn, where yearly churn is the share of the
  customers acquired at least 365 days before ``as_of`` who made no purchase in
  the last 365 days;
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
CHURN_DAYS = 365
"""Days without a purchase after which a customer counts as churned."""
THIN_CHURNED = 30
"""Fewer churned customers than this make the censored lifespan thin (a caution row)."""

ROW_KINDS = ("date", "date", "count", "count", "money", "money", "years", "per year",
             "count", "count", "fraction", "count", "years", "years", "years", "money", "money")
"""What each fixed row of :meth:`LtvStats.rows` holds, in order (how a sheet formats it):
dates, counts, money in the log's currency, years, purchases per year, a fraction. The
rows after them are a caution (text) and the notes (counts)."""
EXTRA_ROWS = 7
"""At most this many rows follow the fixed ones: the caution and one per note (from cells:
blank rows, rows without an id, zero amounts, returns, rows after as_of, customers with
only returns)."""


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
    years_at_risk: float
    observed_lifespan: float
    lifespan_method: str
    lifespan: float
    simple_ltv: float
    revenue_per_customer: float
    lifespan_problem: str | None
    notes: tuple[str, ...]
    lifespan_caution: str = ""

    @property
    def censored_churned(self) -> int:
        """The churned customers of the censored lifespan: those of :attr:`churned` (a year
        without a purchase after the last one, inside the data)."""
        return self.churned

    def rows(self) -> list[tuple[str, Any]]:
        """(label, value) pairs in display order; labels state units and estimators."""
        problem = self.lifespan_problem
        life_label = {
            "censored": "lifespan (years) = customer-years at risk / churned",
            "churn": "lifespan (years) = 1 / yearly churn",
        }.get(self.lifespan_method, "lifespan (years) = mean time from first to last purchase")
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
            ("churned: a year without a purchase after the last one, inside the data",
             self.censored_churned),
            ("customer-years at risk (first purchase to the last, or to as of - 1 year)",
             self.years_at_risk),
            ("observed lifespan (years), mean first to last purchase", self.observed_lifespan),
            (life_label, self.lifespan if problem is None else problem),
            ("simple LTV = average purchase value x frequency x lifespan",
             self.simple_ltv if problem is None else problem),
            ("historical revenue per customer", self.revenue_per_customer),
        ]
        if self.lifespan_caution:
            rows.append(("caution", self.lifespan_caution))
        rows.extend((note.split(": ")[0], int(note.split(": ")[1])) for note in self.notes)
        return rows


def ltv_stats(log: TransactionLog, as_of: Any = None, lifespan: str = LIFESPAN_METHODS[0]
              ) -> LtvStats:
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
    cutoff = day - CHURN_DAYS
    n_eligible = int((first <= cutoff).sum())
    # no purchase in the year to as_of: churned for both estimators (last <= cutoff implies
    # first <= cutoff, so these are all among the customers acquired a year before)
    gone = last <= cutoff
    churned = int(gone.sum())
    churn = churned / n_eligible if n_eligible else float("nan")
    observed = float(((last - first) / YEAR_DAYS).mean())
    at_risk = np.where(gone, last - first, np.maximum(cutoff - first, 0))
    years_at_risk = float(at_risk.sum() / YEAR_DAYS)
    too_young = f"{NA} no customer acquired a year or more before as_of"
    problem, caution = None, ""
    if method == "censored":
        watched = int((first < cutoff).sum())
        if not watched:
            problem = too_young
            life = float("nan")
        elif churned == 0:
            problem = f"{DIV0} no customer churned (none went a year without a purchase)"
            life = float("nan")
        else:
            life = years_at_risk / churned
            if churned < THIN_CHURNED:
                since = np.datetime64(int(first.min()), "D")
                until = np.datetime64(int(cutoff), "D")
                caution = (f"thin: the lifespan rests on {churned} churned of {watched} customers "
                           f"acquired {since} to {until} ({years_at_risk:,.1f} customer-years)")
    elif method == "churn":
        if not n_eligible:
            problem = too_young
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
        years_at_risk=years_at_risk,
        observed_lifespan=observed,
        lifespan_method=method,
        lifespan=life,
        simple_ltv=apv * frequency * life if problem is None else float("nan"),
        revenue_per_customer=revenue / customers,
        lifespan_problem=problem,
        notes=tuple(t.notes(log)),
        lifespan_caution=caution,
    )
