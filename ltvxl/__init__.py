"""ltvxl: customer-lifetime-value analytics for Excel, computed in Python.

The core (this package) depends on numpy, pandas and scipy only; the
worksheet functions that Excel calls live in :mod:`ltvxl.udfs`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .errors import LtvxlError
from .unit_economics import (
    avg_purchase_value,
    cac,
    cac_payback,
    clv_retention,
    customer_lifespan,
    ltv,
    ltv_cac_ratio,
    ltv_cac_status,
    ltv_churn,
    max_cac,
    purchase_frequency,
)

try:
    __version__ = version("ltvxl")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = [
    "LtvxlError",
    "__version__",
    "avg_purchase_value",
    "cac",
    "cac_payback",
    "clv_retention",
    "customer_lifespan",
    "ltv",
    "ltv_cac_ratio",
    "ltv_cac_status",
    "ltv_churn",
    "max_cac",
    "purchase_frequency",
]
