"""ltvxl: customer-lifetime-value analytics for Excel, computed in Python.

The core (this package) depends on numpy, pandas and scipy only; the
worksheet functions that Excel calls live in :mod:`ltvxl.udfs`.
"""

from __future__ import annotations

from typing import Any

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


def __getattr__(name: str) -> Any:
    """``__version__`` on first use: importlib.metadata costs more than the rest of the
    package's import, which Excel pays at every start (:mod:`ltvxl.udfs`)."""
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("ltvxl")
        except PackageNotFoundError:  # running from a source tree
            value = "0.0.0+unknown"
        globals()["__version__"] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

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
