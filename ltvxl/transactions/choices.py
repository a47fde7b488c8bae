"""The options of the transaction analyses, importable without pandas.

The worksheet declarations (:mod:`ltvxl.udfs`) list these as the accepted
texts of their arguments when Excel loads them, before any analysis runs.
"""

from __future__ import annotations

from ltvxl.units import TIME_UNITS

__all__ = ["LIFESPAN_METHODS", "METRICS", "PERIODS", "TIME_UNITS"]

PERIODS = ("month", "quarter", "year")
"""Cohort periods of :func:`ltvxl.transactions.cohorts.cohort_table`."""
METRICS = ("retention", "active", "revenue", "ltv")
"""Cohort metrics of :func:`ltvxl.transactions.cohorts.cohort_table`."""
LIFESPAN_METHODS = ("churn", "observed")
"""Lifespan estimators of :func:`ltvxl.transactions.stats.ltv_stats`."""
