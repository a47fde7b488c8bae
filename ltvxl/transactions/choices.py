"""The options of the transaction analyses, importable without pandas.

The worksheet declarations (:mod:`ltvxl.udfs`) list these as the accepted
texts of their arguments when Excel loads them, before any analysis runs.
"""

from __future__ import annotations

from ltvxl.units import TIME_UNITS

__all__ = ["LIFESPAN_METHODS", "METRICS", "MIN_GROUP_CUSTOMERS", "PERIODS", "TIME_UNITS"]

PERIODS = ("month", "quarter", "year")
"""Cohort periods of :func:`ltvxl.transactions.cohorts.cohort_table`."""
METRICS = ("retention", "active", "revenue", "ltv")
"""Cohort metrics of :func:`ltvxl.transactions.cohorts.cohort_table`."""
LIFESPAN_METHODS = ("censored", "churn", "observed")
"""Lifespan estimators of :func:`ltvxl.transactions.stats.ltv_stats`, the default first."""
MIN_GROUP_CUSTOMERS = 30
"""Fewest customers a group of :func:`ltvxl.transactions.groups.group_comparison` needs for
its averages to be compared (a rule of thumb for means of skewed values: below it one
customer moves the mean by several per cent)."""
