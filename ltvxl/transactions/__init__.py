"""Transaction analytics: from a log of purchases to per-customer summaries,
the three ingredients of the simple LTV, cohorts, value tiers, RFM segments and
group (channel) comparisons. Plain numpy/pandas, no Excel imports.
"""

from __future__ import annotations

from .log import TransactionLog, read_transactions

__all__ = ["TransactionLog", "read_transactions"]
