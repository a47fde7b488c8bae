"""Transaction analytics: from a log of purchases to per-customer summaries,
the three ingredients of the simple LTV, cohorts, value tiers, RFM segments and
group (channel) comparisons. Plain numpy/pandas, no Excel imports.

Typical use::

    from ltvxl.transactions import read_transactions, customer_summary
    log = read_transactions("orders.csv")          # or TransactionLog.from_arrays(...)
    summary = customer_summary(log, as_of="2024-12-31", time_unit="weeks")
"""

from __future__ import annotations

from .cohorts import cohort_table
from .groups import group_comparison
from .log import TransactionLog
from .readers import read_transactions
from .rfm import rfm_summary, rfm_table
from .stats import LtvStats, ltv_stats
from .summary import TIME_UNITS, customer_summary
from .tiers import value_tiers

__all__ = [
    "TIME_UNITS",
    "LtvStats",
    "TransactionLog",
    "cohort_table",
    "customer_summary",
    "group_comparison",
    "ltv_stats",
    "read_transactions",
    "rfm_summary",
    "rfm_table",
    "value_tiers",
]
