"""Transaction analytics: from a log of purchases to per-customer summaries,
the three ingredients of the simple LTV, cohorts, value tiers, RFM segments and
group (channel) comparisons. Plain numpy/pandas, no Excel imports.

Typical use::

    from ltvxl.transactions import read_transactions, customer_summary
    log = read_transactions("orders.csv")          # or TransactionLog.from_arrays(...)
    summary = customer_summary(log, as_of="2024-12-31", time_unit="weeks")

The names below load on first use (module ``__getattr__``), so that importing
one light submodule (:mod:`.choices`, :mod:`.tiers`) does not load pandas:
Excel imports the worksheet declarations at every start.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "cohort_curve": "cohorts",
    "cohort_table": "cohorts",
    "group_comparison": "groups",
    "TransactionLog": "log",
    "read_transactions": "readers",
    "rfm_summary": "rfm",
    "rfm_table": "rfm",
    "LtvStats": "stats",
    "ReadOptions": "options",
    "ltv_stats": "stats",
    "one_row_per_order": "orders",
    "TIME_UNITS": "choices",
    "customer_summary": "summary",
    "value_tiers": "tiers",
}


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        return getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_NAMES)
