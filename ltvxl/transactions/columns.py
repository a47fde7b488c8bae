"""The columns of a log as 1-D arrays, whatever they came from.

Worksheet ranges as xlwings passes them (a column of one-cell rows, a row, a
flat list or one cell), numpy arrays, pandas Series and lists all become one
1-D array per column: float64 when every cell is a number (or blank),
``datetime64[D]`` when every cell is a datetime, objects otherwise. Also here:
what counts as blank, and the first offending row of a check.
"""

from __future__ import annotations

import datetime as dt
import math
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import MAX_CELL_TEXT, LtvxlError, clip

_ORDINAL_1970 = dt.date(1970, 1, 1).toordinal()

# The distinct values of text columns a reader already knows (from Arrow's dictionary
# encoding), by the column's array, so that checking and parsing it needs no hashing of
# every cell: (codes, uniques) exactly as pd.factorize(values) gives them.
_DISTINCT: dict[int, tuple[weakref.ref, np.ndarray, np.ndarray]] = {}


def remember_distinct(values: np.ndarray, codes: np.ndarray, uniques: np.ndarray) -> None:
    """Record ``pd.factorize(values)`` (codes in order of first appearance, -1 for a
    missing value; the distinct values) for a read-only column."""
    if values.flags.writeable:
        raise ValueError("only a read-only column's distinct values can be recorded")
    key = id(values)
    _DISTINCT[key] = (weakref.ref(values, lambda _r, k=key: _DISTINCT.pop(k, None)), codes,
                      uniques)


def factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(values, use_na_sentinel=True)`` of an object column: known for the
    readers' text columns, computed otherwise."""
    hit = _DISTINCT.get(id(values))
    if hit is not None and hit[0]() is values:
        return hit[1], hit[2]
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes, np.asarray(uniques, dtype=object)


def known_distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The recorded (codes, uniques) of ``values`` (:func:`remember_distinct`), or None."""
    hit = _DISTINCT.get(id(values))
    return (hit[1], hit[2]) if hit is not None and hit[0]() is values else None


def as_column(value: Any, label: str) -> np.ndarray:
    """A 1-D array of ``value`` (array, Series, list or scalar)."""
    if isinstance(value, (pd.Series, pd.Index)):
        value = value.to_numpy()
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return value.reshape(1)
        if value.ndim == 2 and 1 in value.shape:
            return value.reshape(-1)
        if value.ndim != 1:
            raise LtvxlError(
                f"{label} must be a single column, got an array of shape {value.shape}"
            )
        return value
    if isinstance(value, (list, tuple)):
        return cells_column(value, label)
    return object_array([value])


def object_array(values: Sequence[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def cells_column(value: Any, label: str) -> np.ndarray:
    """The cells of a one-column (or one-row) range as a 1-D object array."""
    if isinstance(value, (np.ndarray, pd.Series, pd.Index)):
        return as_column(value, label)
    if value is None:
        raise LtvxlError(f"{label} is missing: give a range of cells")
    if not isinstance(value, (list, tuple)):
        return object_array([value])
    if len(value) == 0:
        raise LtvxlError(f"{label} is an empty range")
    first = value[0]
    if isinstance(first, (list, tuple)):
        try:  # the usual column of one-cell rows: flattened and checked in one pass
            flat = [cell for (cell,) in value]
        except (TypeError, ValueError):  # a row, or a mistake: the checks below say which
            flat = None
        if flat is not None:
            return _tighten(flat, label)
        if len(value) == 1:
            flat = list(first)
        else:
            try:
                widths = set(map(len, value))
            except TypeError:
                raise LtvxlError(f"{label} mixes cells and rows") from None
            if len(widths) != 1:
                raise LtvxlError(f"{label} has rows of different lengths")
            width = widths.pop()
            if width != 1:
                raise LtvxlError(
                    f"{label} must be a single column, got {width} columns; "
                    "select one column of the table"
                )
            flat = [row[0] for row in value]
        if not flat:
            raise LtvxlError(f"{label} is an empty range")
        return _tighten(flat, label)
    return _tighten(list(value), label)


def _tighten(flat: list[Any], label: str) -> np.ndarray:
    """A column of cells as an array: only numbers (and blanks) as float64, only
    datetimes as datetime64 (the fast paths for what xlwings passes), else objects."""
    types = set(map(type, flat))
    if any(issubclass(t, (list, tuple)) for t in types):
        raise LtvxlError(f"{label} is nested too deeply")
    odd = [t for t in types if issubclass(t, (dict, set, frozenset)) or t is object]
    if odd:  # not a value a worksheet cell can hold (and not hashable for grouping)
        i = next(i for i, v in enumerate(flat) if type(v) in odd)
        raise LtvxlError(f"{label} row {i + 1}: a {odd[0].__name__} is not a cell value")
    if types <= {float, int, type(None)} and types & {float, int}:
        try:
            out = np.array(flat, dtype=np.float64)  # None -> NaN, reported as missing
        except OverflowError:  # an integer beyond 1e308: kept, and reported by the reader
            return object_array(flat)
        if int not in types or not (np.abs(out) >= 2**53).any():  # ints exact as floats
            return out
    if types == {dt.datetime}:  # the calendar day of each (as typed, a time of day dropped)
        days = np.fromiter(map(dt.datetime.toordinal, flat), np.int64, len(flat))
        days -= _ORDINAL_1970
        return days.view("datetime64[D]")
    if types == {pd.Timestamp}:
        try:
            idx = pd.DatetimeIndex(flat)
        except (ValueError, TypeError, OverflowError):
            return object_array(flat)
        if idx.tz is None:
            return idx.to_numpy()
    return object_array(flat)


def check_lengths(columns: Mapping[str, np.ndarray]) -> None:
    items = list(columns.items())
    name0, col0 = items[0]
    for name, col in items[1:]:
        if len(col) != len(col0):
            raise LtvxlError(
                f"{name0} has {len(col0)} rows but {name} has {len(col)}; "
                "give columns of the same length"
            )


def is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, float):
        return value != value  # NaN
    return False


_blank_text = np.frompyfunc(lambda v: isinstance(v, str) and not v.strip(), 1, 1)


def _blank_texts(values: np.ndarray) -> np.ndarray:
    """Which cells are texts of only spaces: by pyarrow's string kernels when every cell
    is a text (the readers' text columns), else cell by cell."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:  # pragma: no cover - Pyodide
        return _blank_text(values).astype(bool)
    try:
        arr = pa.array(values, type=pa.string())
    except (TypeError, ValueError, OverflowError, pa.ArrowException):  # numbers among texts
        return _blank_text(values).astype(bool)
    return pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(arr)), 0).to_numpy(
        zero_copy_only=False).astype(bool)


def blank_mask(cols: Sequence[np.ndarray]) -> np.ndarray:
    """Rows whose every column is blank (None, NaN, NaT or empty text)."""
    mask = np.ones(len(cols[0]), dtype=bool)
    for col in reversed(cols):  # amounts first: usually numbers, so few candidates remain
        if col.dtype.kind in "iub":
            return np.zeros(len(col), dtype=bool)
        if col.dtype.kind == "f":
            mask &= np.isnan(col)
        elif col.dtype.kind in "mM":
            mask &= np.isnat(col)
        elif (known := known_distinct(col)) is not None:  # by its distinct texts
            codes, uniques = known
            blank_u = _blank_texts(uniques) if len(uniques) else np.zeros(0, dtype=bool)
            mask &= (codes < 0) | (blank_u[np.maximum(codes, 0)] if len(uniques) else True)
        else:
            isna = pd.isna(col)
            blank = isna.copy()
            open_rows = np.flatnonzero(mask & ~isna)
            if len(open_rows):  # texts that are only spaces
                blank[open_rows] = _blank_texts(col[open_rows])
            mask &= blank
        if not mask.any():
            break
    return mask

SHEET_ROWS = 1 << 32
"""Row numbers of a log read from several sheets are ``sheet index * SHEET_ROWS + row``."""


def row_teller(rows: np.ndarray | None, first_row: int,
               sheets: Sequence[str] | None = None) -> Any:
    """``row_of(i)``: how messages name the row of element ``i`` (``17``; with ``sheets``,
    ``17 of sheet "Year 2010-2011"``)."""
    if sheets is None:
        return lambda i: int(rows[i]) if rows is not None else i + first_row

    def row_of(i: int) -> str:
        sheet, row = divmod(int(rows[i]) if rows is not None else i + first_row, SHEET_ROWS)
        return f'{row} of sheet "{sheets[sheet]}"'

    return row_of


def first_bad(mask: np.ndarray) -> int | None:
    return int(np.argmax(mask)) if mask.any() else None


def first_bool(values: np.ndarray) -> int | None:
    """Row index of the first TRUE/FALSE cell (hashing would merge TRUE with 1)."""
    known = known_distinct(values)
    types = set(map(type, values if known is None else known[1]))
    if bool not in types and np.bool_ not in types:
        return None
    return next(i for i, v in enumerate(values) if isinstance(v, (bool, np.bool_)))

def float_or_inf(v: Any) -> float:
    """``float(v)``, an integer too large for a float as infinity (then reported as bad)."""
    try:
        return float(v)
    except OverflowError:
        return math.inf


def show_number(value: Any) -> str:
    """A number as a message shows it: 5, 2.5, inf (an integer beyond 1e308 cut short)."""
    x = float_or_inf(value)
    if math.isinf(x) and isinstance(value, int):
        return clip(str(value), 12)
    if np.isfinite(x) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


_PLAIN_CELLS = frozenset({float, bool, type(None), dt.datetime, dt.date})
"""Cell types that are never too long and never a mistake (texts are measured)."""


def check_text_length(col: np.ndarray, label: str, first_row: int) -> None:
    """Refuse ids and group names longer than an Excel cell result may be (255 characters):
    returned inside a table, one of them would turn the whole table into #VALUE!."""
    if col.dtype != object:
        return
    values = col.tolist()
    kinds = set(map(type, values))
    if kinds <= _PLAIN_CELLS:  # the usual column: one pass in C, no step per cell
        return
    texts = values if kinds == {str} else [v for v in values if type(v) is str]
    if kinds <= _PLAIN_CELLS | {str} and max(map(len, texts), default=0) <= MAX_CELL_TEXT:
        return
    for i, v in enumerate(col):
        if isinstance(v, (dict, set, frozenset)) or type(v) is object:
            raise LtvxlError(f"{label} row {i + first_row}: a {type(v).__name__} is not a "
                             "cell value")
        if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 10**MAX_CELL_TEXT:
            raise LtvxlError(f"{label} row {i + first_row}: a number of {len(str(abs(v))):,} "
                             "digits is not a cell value")
        if isinstance(v, str) and len(v) > MAX_CELL_TEXT:
            raise LtvxlError(
                f"{label}: row {i + first_row} holds a text of {len(v):,} characters; "
                f"ids and names may have at most {MAX_CELL_TEXT}: shorten it"
            )
