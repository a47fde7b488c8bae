"""Time units: the one place that says how long a day, week, month and year are.

Recency, customer age T, model rates and horizons are all measured in one of
:data:`TIME_UNITS`: ``weeks`` = days / 7, ``months`` = days / (365.25 / 12),
``years`` = days / 365.25. Plain Python (no numpy), so every layer may use it.
"""

from __future__ import annotations

import math
from typing import Any

from ltvxl.errors import LtvxlError

TIME_UNITS: dict[str, float] = {
    "days": 1.0,
    "weeks": 7.0,
    "months": 365.25 / 12,
    "years": 365.25,
}
"""Length of each time unit in days."""

DEFAULT_UNIT = "weeks"
"""The unit of recency and T unless the user says otherwise, and the unit in which the
one-shot CLV functions fit (their results do not depend on it)."""

HORIZON_UNIT = "months"
"""The unit of a CLV horizon unless the user says otherwise."""


def unit_days(unit: str, name: str = "time_unit") -> float:
    """Days in one ``unit`` (days, weeks, months or years; the singular works too).

    An unknown unit is an error naming the argument ``name``.
    """
    key = str(unit).strip().lower()
    if key in TIME_UNITS:
        return TIME_UNITS[key]
    if key + "s" in TIME_UNITS:
        return TIME_UNITS[key + "s"]
    raise LtvxlError(f'{name} must be one of {", ".join(TIME_UNITS)}; got "{unit}"')


def convert_time(value: Any, from_unit: str, to_unit: str) -> Any:
    """``value`` measured in ``from_unit`` expressed in ``to_unit`` (numbers or arrays)."""
    return value * unit_days(from_unit, "from_unit") / unit_days(to_unit, "to_unit")


def periodic_rate(annual_rate: float, unit: str) -> float:
    """Discount rate per ``unit`` equivalent to ``annual_rate`` per year (compound).

    ``(1 + annual_rate) ** (days in unit / 365.25) - 1``; e.g. 10 % a year is
    0.1835 % a week. Both rates are fractions.
    """
    if not (annual_rate >= 0 and math.isfinite(annual_rate)):
        raise LtvxlError(f"annual_discount_rate must be >= 0, got {annual_rate}")
    return math.expm1(math.log1p(annual_rate) * unit_days(unit) / TIME_UNITS["years"])
