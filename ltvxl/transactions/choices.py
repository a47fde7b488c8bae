"""The options of the transaction analyses, importable without pandas.

The worksheet declarations (:mod:`ltvxl.udfs`) list these as the accepted
texts of their arguments when Excel loads them, before any analysis runs.
"""

from __future__ import annotations

PERIODS = ("month", "quarter", "year")
"""Cohort periods of :func:`ltvxl.transactions.cohorts.cohort_table`."""
METRICS = ("retention", "active", "revenue", "ltv")
"""Cohort metrics of :func:`ltvxl.transactions.cohorts.cohort_table`."""
LIFESPAN_METHODS = ("churn", "observed")
"""Lifespan estimators of :func:`ltvxl.transactions.stats.ltv_stats`."""
TIME_UNITS: dict[str, float] = {
    "days": 1.0,
    "weeks": 7.0,
    "months": 365.25 / 12,
    "years": 365.25,
}
"""Length of each time unit in days (recency, T and ages of the customer summary)."""
