"""Amounts of a log as float64, in the user's currency."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..cells import describe
from ..errors import LtvxlError, clip, is_cell_error
from .columns import factorize, first_bad, float_or_inf, is_blank, known_distinct, show_number
from .number_text import parse_number_texts


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


def parse_amounts(
    values: np.ndarray,
    label: str,
    row_of: Any = None,
    *,
    text: bool = False,
    decimal: str | None = None,
    thousands: str | None = None,
    cells: bool = False,
) -> tuple[np.ndarray, str]:
    """(float64 amounts, how texts were read or ""); errors name the first missing,
    non-numeric or infinite value.

    ``text``: numbers written as text are numbers, in the column's dialect
    (:mod:`.number_text`; ``decimal``, ``thousands`` override); else a text is
    refused. ``cells``: the values are worksheet cells (messages then give a
    worksheet's remedy, not the readers' options).
    """
    row_of = row_of or (lambda i: i + 1)
    kind = values.dtype.kind
    how = ""
    if kind in "iuf":
        out = values.astype(np.float64, copy=False)
    elif kind == "b":
        raise LtvxlError(f"{label} row {row_of(0)}: {describe(bool(values[0]))} is not a number")
    else:
        obj = values.astype(object, copy=False)
        known = known_distinct(obj)
        types = set(map(type, obj)) if known is None else \
            set(map(type, known[1])) | ({type(None)} if (known[0] < 0).any() else set())
        if types <= {float}:
            out = obj.astype(np.float64)
        elif str not in types or not text:
            out = np.empty(len(obj), dtype=np.float64)
            for i, v in enumerate(obj):
                if isinstance(v, (bool, np.bool_)) or not isinstance(
                    v, (int, float, np.integer, np.floating)
                ):
                    raise LtvxlError(f"{label} row {row_of(i)}: {_why_not_amount(v)}")
                out[i] = float_or_inf(v)
        else:
            out, how = _from_texts(obj, label, row_of, decimal, thousands, cells)
    bad = first_bad(~np.isfinite(out))
    if bad is not None:
        raise LtvxlError(f"{label} row {row_of(bad)}: {_why_not_amount(values[bad])}")
    return out, how


def _from_texts(obj: np.ndarray, label: str, row_of: Any, decimal: str | None,
                thousands: str | None, cells: bool = False) -> tuple[np.ndarray, str]:
    """Amounts of a column holding texts (and maybe numbers), each distinct text read once."""
    codes, uniq = factorize(obj)
    values = np.full(len(uniq), np.nan)
    is_text = np.array([isinstance(u, str) for u in uniq], dtype=bool)
    for j in np.flatnonzero(~is_text):
        u = uniq[j]
        if isinstance(u, (int, float, np.integer, np.floating)) and not isinstance(
                u, (bool, np.bool_)):
            values[j] = float(u)
    text_at = [j for j in np.flatnonzero(is_text) if uniq[j].strip() and not is_cell_error(uniq[j])]
    how = ""
    if text_at:
        def first_row(k: int) -> int:  # codes number the distinct values in order of appearance
            firsts = np.flatnonzero(np.diff(np.maximum.accumulate(codes), prepend=-1) > 0)
            return row_of(int(firsts[text_at[k]]))

        parsed, dialect = parse_number_texts(
            [uniq[j] for j in text_at], label, first_row, decimal=decimal, thousands=thousands,
            cells=cells)
        values[text_at] = parsed
        how = dialect.describe() if dialect is not None else ""
    out = np.where(codes >= 0, values[np.maximum(codes, 0)], np.nan)
    return out, how
