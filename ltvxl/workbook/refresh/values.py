"""Cell values between the file, the engine and ltvxl functions.

Three shapes of one value: as the engine keeps it in a grid (what native
functions of ``formulas`` see: ``float``, ``str``, ``bool``, :class:`ExcelDate`,
``formulas``' error objects, :data:`EMPTY` for a blank cell); as xlwings passes
it to an ltvxl function (``None`` for blanks, ``datetime`` for dates, error
values as their text); and as it is stored in the file (see
:func:`ltvxl.workbook.xlsx.value_xml`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import schedula as sh
from formulas.functions import Error
from formulas.tokens.operand import XlError

from ltvxl.workbook.xlsx import ErrorValue, ExcelDate

EMPTY: Any = sh.EMPTY
"""The engine's blank cell."""


_ERROR_TEXTS = frozenset(Error.errors)
"""The error codes ``formulas`` knows (``#N/A``, ``#VALUE!``...)."""


def xlerror(code: str) -> Any:
    """The engine's error value of an Excel error code (``#N/A``)."""
    return Error.errors.get(code) or XlError(code)


def cell_for_udf(v: Any) -> Any:
    """A value as xlwings passes one cell to a function."""
    t = type(v)
    if t is float or t is str or t is bool:
        return v
    if v is EMPTY or v is None:
        return None
    if t is ExcelDate:
        return v.when
    if isinstance(v, XlError):
        return str(v)
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
    return v


_ARG_CACHE: dict[tuple[int, bool], tuple[Any, Any]] = {}
"""Converted arguments by id of the (cached, unchanging) input object, during one refresh."""


def clear_arg_cache() -> None:
    """Forget the converted arguments (at the start of a refresh)."""
    from ltvxl.udfs._logs import forget_steady

    _ARG_CACHE.clear()
    forget_steady()


def forget_arg(value: Any) -> None:
    """Forget the converted arguments of one input object (no formula reads it again)."""
    from ltvxl.udfs._logs import unsteady

    for is_range in (False, True):
        hit = _ARG_CACHE.get((id(value), is_range))
        if hit is not None and hit[0] is value:
            del _ARG_CACHE[(id(value), is_range)]
            unsteady(hit[1])


POOLED_ROWS = 1000
"""A column of more rows is passed with one row list per distinct value (see :func:`_udf_rows`)."""


def _udf_rows(arr: np.ndarray) -> list[list[Any]]:
    if arr.ndim == 2 and arr.shape[1] == 1 and arr.shape[0] > POOLED_ROWS:
        return _pooled_rows(arr[:, 0].tolist())
    if arr.ndim == 2 and arr.shape[1] == 1:  # a column: the common case, kept fast
        return [[v if (t := type(v)) is float or t is str else
                 (v.when if t is ExcelDate else cell_for_udf(v))] for v in arr[:, 0].tolist()]
    return [[v if (t := type(v)) is float or t is str else cell_for_udf(v) for v in row]
            for row in arr.tolist()]


def _pooled_rows(values: list[Any]) -> list[list[Any]]:
    """A large column as xlwings passes it (one-cell rows), the rows of equal values (same type,
    not zero, blank or empty) one shared list: a million transactions of 730 dates or 6
    channels take a few thousand row lists instead of a million (about 64 MiB each column).
    The refresh's arguments are never changed in place (one converted range serves every
    formula reading it), so sharing rows is safe."""
    pools: dict[type, dict[Any, list[Any]]] = {}
    out = []
    for v in values:
        t = type(v)
        u = v if t is float or t is str else v.when if t is ExcelDate else cell_for_udf(v)
        pool = pools.get(type(u))
        if pool is None:
            pool = pools[type(u)] = {}
        try:
            row, shared = pool.get(u), True
        except TypeError:  # an unhashable value: a row of its own
            row, shared = None, False
        if row is None:
            row = [u]
            if shared and u:  # zeros (0.0 and -0.0 are equal keys), blanks and empty
                pool[u] = row  # texts: a row each
        out.append(row)
    return out


def to_udf_arg(value: Any, is_range: bool) -> Any:
    key = (id(value), is_range)
    hit = _ARG_CACHE.get(key)
    if hit is not None and hit[0] is value:
        return hit[1]
    original = value
    if hasattr(value, "ranges") and hasattr(value, "value"):  # formulas.Ranges
        value = value.value
    if isinstance(value, np.ndarray):
        rows = _udf_rows(value if value.ndim == 2 else np.atleast_2d(value))
        single = not is_range and len(rows) == 1 and len(rows[0]) == 1
        out = rows[0][0] if single else rows
        if original is not value:  # a Ranges object: worth remembering
            _ARG_CACHE[key] = (original, out)
            if len(rows) > 1000:  # handed to every formula reading it, unchanged:
                from ltvxl.udfs._logs import steady  # hashed once for the logs' cache

                steady(out)
        return out
    cell = cell_for_udf(value)
    return [[cell]] if is_range else cell


def grid_value(v: Any) -> Any:
    """A value as the engine keeps it in a grid (what native functions see)."""
    t = type(v)
    if t is float or t is str or t is bool or t is ExcelDate:
        return v
    if v is None or v is EMPTY:
        return EMPTY
    if isinstance(v, ErrorValue):
        return xlerror(v.code)
    if isinstance(v, XlError):
        return v
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (dt.datetime, dt.date)):
        return ExcelDate(v)
    if isinstance(v, np.datetime64):
        import pandas as pd

        return ExcelDate(pd.Timestamp(v).to_pydatetime())
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
    if isinstance(v, dt.time):
        return (v.hour * 3600 + v.minute * 60 + v.second) / 86400.0
    if isinstance(v, dt.timedelta):
        return v.total_seconds() / 86400.0
    if callable(v):  # a LAMBDA (or a function passed by name) left uncalled: Excel's #VALUE!
        return xlerror("#VALUE!")
    if hasattr(v, "ranges") and hasattr(v, "value"):  # a reference in an array (INDEX over
        inner = np.asarray(v.value, dtype=object)  # an array of rows): the cell's value
        return grid_value(inner.reshape(-1)[0]) if inner.size == 1 else xlerror("#VALUE!")
    return str(v)


def grid_values(values: list[Any]) -> list[Any]:
    """Cell values as grid values; the list itself when they already are (checked in bulk)."""
    if set(map(type, values)) <= {float, str, bool, ExcelDate, type(EMPTY)}:
        return values
    return fast_grid_values(values)


def fast_grid_values(values: list[Any]) -> list[Any]:
    f64 = np.float64
    return [v if (t := type(v)) is float or t is str or t is ExcelDate else
            (float(v) if t is f64 else grid_value(v)) for v in values]


def write_value(v: Any, anchor: bool) -> Any:
    """A grid value as it is stored in the file."""
    if v is EMPTY or v is None:
        return 0.0 if anchor and v is EMPTY else None
    if isinstance(v, XlError):
        return ErrorValue(str(v))
    if isinstance(v, float) and not np.isfinite(v):
        return ErrorValue("#NUM!")
    return v


def as_grid(out: Any) -> np.ndarray:
    """The result of a compiled formula as a 2-D object array of grid values."""
    if hasattr(out, "ranges") and hasattr(out, "value"):
        out = out.value
    arr = np.asarray(out, dtype=object) if isinstance(out, np.ndarray) else None
    if arr is not None and out.dtype.kind == "U":  # an array of text: formulas' errors in
        flat = np.empty(arr.size, dtype=object)  # it (SCAN, MAP over errors) lost their type
        flat[:] = [xlerror(v) if v in _ERROR_TEXTS else v for v in arr.reshape(-1).tolist()]
        arr = flat.reshape(arr.shape)
    if arr is None:
        arr = np.empty((1, 1), dtype=object)
        arr[0, 0] = out
    elif arr.ndim == 0:
        arr = arr.reshape(1, 1)
    elif arr.ndim == 1:
        arr = arr.reshape(1, -1)
    values = arr.reshape(-1).tolist()
    converted = grid_values(values)
    if converted is values and arr.dtype == object:
        return arr
    flat = np.empty(arr.size, dtype=object)
    flat[:] = converted
    return flat.reshape(arr.shape)



def from_calamine(v: Any) -> Any:
    """A value as python-calamine reads it, as a grid value."""
    t = type(v)
    if t is float:
        return v
    if t is str:
        return EMPTY if v == "" else v
    if t is int:
        return float(v)
    return grid_value(v)
