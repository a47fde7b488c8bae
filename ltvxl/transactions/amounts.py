"""Amounts of a log as float64, in the user's currency."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..cells import describe
from ..errors import LtvxlError, clip, is_cell_error
from .columns import first_bad, float_or_inf, is_blank, show_number


def _why_not_amount(value: Any) -> str:
    if is_blank(value):
        return "the amount is missing"
    if is_cell_error(value):
        return f"the cell holds the error {clip(value, 40)}"
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return f"{show_number(value)} is not a finite number"
    if isinstance(value, int) and not isinstance(value, bool):  # beyond 1e308
        return f"{show_number(value)} is too large to be an amount"
    hint = ""
    if isinstance(value, str):
        try:
            float(value.strip())
            hint = " (a number stored as text? enter it as a number)"
        except ValueError:
            pass
    return f"{describe(value)} is not a number{hint}"


def parse_amounts(values: np.ndarray, label: str, row_of: Any = None) -> np.ndarray:
    """float64 amounts; errors name the first missing, non-numeric or infinite value."""
    row_of = row_of or (lambda i: i + 1)
    kind = values.dtype.kind
    if kind in "iuf":
        out = values.astype(np.float64, copy=False)
    elif kind == "b":
        raise LtvxlError(f"{label} row {row_of(0)}: {describe(bool(values[0]))} is not a number")
    else:
        obj = values.astype(object)
        if set(map(type, obj)) <= {float}:
            out = obj.astype(np.float64)
        else:
            out = np.empty(len(obj), dtype=np.float64)
            for i, v in enumerate(obj):
                if isinstance(v, (bool, np.bool_)) or not isinstance(
                    v, (int, float, np.integer, np.floating)
                ):
                    raise LtvxlError(f"{label} row {row_of(i)}: {_why_not_amount(v)}")
                out[i] = float_or_inf(v)
    bad = first_bad(~np.isfinite(out))
    if bad is not None:
        raise LtvxlError(f"{label} row {row_of(bad)}: {_why_not_amount(values[bad])}")
    return out


def numeric_text(values: np.ndarray) -> np.ndarray:
    """In a file, amounts written as text ("12.50") are numbers; other texts stay for the error."""
    if values.dtype != object:
        return values
    out = values.copy()
    for i, v in enumerate(values):
        if isinstance(v, str):
            try:
                out[i] = float(v.strip())
            except ValueError:
                if v.strip():
                    break
                out[i] = None
    return out
