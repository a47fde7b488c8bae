"""Allowed ranges of numeric inputs, checked element by element.

A :class:`Domain` says which numbers an argument accepts and how a bad one is
worded. Core functions use :func:`check` to raise :class:`~ltvxl.errors.LtvxlError`;
the worksheet layer uses :meth:`Domain.problems` to put a message in each bad
cell of a range while the good cells are still computed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import DIV0, LtvxlError, clip


def _fmt(x: float) -> str:
    if np.isnan(x):
        return "NaN"
    if np.isinf(x):
        return "infinity" if x > 0 else "-infinity"
    if float(x).is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.10g}"


@dataclass(frozen=True)
class Domain:
    """The numbers an argument accepts.

    low, high: bounds (``None`` for none); low_open, high_open: whether the
    bound itself is excluded. zero_divides: a zero is reported as ``#DIV/0!``
    rather than ``#VALUE!`` (for denominators). is_rate: the value is a
    fraction, so a value above 1 gets a hint about percentages. allow_inf:
    ``+inf`` is accepted (e.g. an infinite horizon); NaN never is.
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    zero_divides: bool = False
    is_rate: bool = False
    allow_inf: bool = False

    def describe(self) -> str:
        """The rule in words, e.g. ``"> 0 and <= 1"``."""
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {_fmt(self.low)}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {_fmt(self.high)}")
        return " and ".join(parts) if parts else "a number"

    def bad_mask(self, x: np.ndarray | float) -> np.ndarray:
        """Boolean mask of the elements outside the domain (NaN and inf are outside)."""
        x = np.asarray(x, dtype=float)
        bad = np.isnan(x) if self.allow_inf else ~np.isfinite(x)
        if self.allow_inf:
            bad |= np.isneginf(x)
        with np.errstate(invalid="ignore"):
            if self.low is not None:
                bad |= (x <= self.low) if self.low_open else (x < self.low)
            if self.high is not None:
                bad |= (x >= self.high) if self.high_open else (x > self.high)
        return bad

    def contains(self, x: float) -> bool:
        """Whether the single number ``x`` is inside the domain (fast, no numpy)."""
        if x != x or (x in (math.inf, -math.inf) and not (self.allow_inf and x > 0)):
            return False
        if self.low is not None and (x <= self.low if self.low_open else x < self.low):
            return False
        return not (self.high is not None and (x >= self.high if self.high_open
                                               else x > self.high))

    def message(self, name: str, value: float) -> tuple[str, str]:
        """(Excel code, message) for one bad value of argument ``name``."""
        if self.zero_divides and value == 0:
            return DIV0, f"{name} is 0"
        if np.isnan(value) or (np.isinf(value) and not self.allow_inf):
            return "#VALUE!", f"{name} must be a finite number, got {_fmt(value)}"
        text = f"{name} must be {self.describe()}, got {_fmt(value)}"
        if self.is_rate and value > 1 and value <= 100:
            text += f" (rates are fractions: enter {_fmt(value)}% or {_fmt(value / 100)})"
        return "#VALUE!", text


ANY = Domain()
NON_NEGATIVE = Domain(low=0)
POSITIVE = Domain(low=0, low_open=True)
DENOMINATOR = Domain(low=0, low_open=True, zero_divides=True)
FRACTION = Domain(low=0, high=1, is_rate=True)
"""A fraction in [0, 1], e.g. a gross margin."""
OPEN_FRACTION = Domain(low=0, high=1, low_open=True, is_rate=True)
"""A fraction in (0, 1]."""
CHURN = Domain(low=0, high=1, low_open=True, zero_divides=True, is_rate=True)
"""A churn rate in (0, 1] that divides: 0 (an infinite lifetime) is a ``#DIV/0!``."""
MARGIN_DIVISOR = Domain(low=0, high=1, low_open=True, zero_divides=True, is_rate=True)
"""A gross margin that divides (0 would mean an infinite payback)."""
DISCOUNT_RATE = Domain(low=0, high=1, is_rate=True)
"""A discount rate per period, as a fraction in [0, 1]."""
HORIZON = Domain(low=0, allow_inf=True)
"""A number of periods >= 0, where ``inf`` stands for an infinite horizon."""
MAX_BB_PERIODS = 100_000
"""Most opportunities per customer BG/BB's predictions accept (memory grows with it);
here so that the worksheet declarations read it without loading the model."""


def check(name: str, value: object, domain: Domain) -> np.ndarray:
    """Return ``value`` as a float array, or raise naming the first bad element."""
    try:
        x = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise LtvxlError(f"{name} must be a number, got {clip(repr(value), 40)}") from None
    bad = domain.bad_mask(x)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0]) if x.ndim else ()
        code, text = domain.message(name, float(x[idx]))
        where = f" (element {idx[0] + 1})" if len(idx) == 1 else ""
        if len(idx) == 2:
            where = f" (row {idx[0] + 1}, column {idx[1] + 1})"
        raise LtvxlError(text + where, code)
    return x
