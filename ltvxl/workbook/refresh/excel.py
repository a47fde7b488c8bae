"""Excel functions the refresh computes itself: those ``formulas`` lacks or computes
differently from Excel, and those that need the workbook's cell model.

- SUBTOTAL and AGGREGATE (every function code): cells holding SUBTOTAL or AGGREGATE are
  left out (nested subtotals are not counted twice, as in a table's total row), and so are
  hidden rows for codes 101-111 and AGGREGATE's options 1, 3, 5, 7, and rows hidden by a
  filter always.
- TODAY and NOW: the time the refresh started (one time for the whole book).

They read the cell model through :data:`CONTEXT`, which the engine fills for each refresh.
The functions receive their reference arguments as ``formulas`` ``Ranges``; the engine
records which cells each one covers.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from formulas.tokens.operand import XlError

from ltvxl.workbook.xlsx import ExcelDate

from .values import EMPTY, xlerror


@dataclass
class Context:
    """What the functions of this module know about the workbook being refreshed."""

    now: dt.datetime = field(default_factory=dt.datetime.now)
    refs: dict[int, tuple[str, int, int]] = field(default_factory=dict)
    """id of an input ``Ranges`` -> (sheet, first row, first column) of the cells it holds."""
    subtotal_cells: set[tuple[str, int, int]] = field(default_factory=set)
    """Cells whose formula calls SUBTOTAL or AGGREGATE."""
    hidden_rows: dict[str, set[int]] = field(default_factory=dict)
    filtered_rows: dict[str, set[int]] = field(default_factory=dict)
    """Hidden rows of a sheet with an AutoFilter (rows a filter hides)."""
    used_now: bool = False
    formula_cells: set[tuple[str, int, int]] = field(default_factory=set)
    """Cells holding a formula."""
    array_ranges: dict[str, list[tuple[int, int, int, int]]] = field(default_factory=dict)
    """The ranges of legacy array formulas."""
    spill_ranges: dict[str, list[tuple[int, int, int, int]]] = field(default_factory=dict)
    """The spill ranges of dynamic arrays (filled as the anchors spill)."""
    error_texts: bool = False
    """Keep the error texts of ltvxl functions as texts (the workbook name
    ``LTVXL_ERROR_TEXT`` is TRUE) instead of turning them into error values."""
    pending: list[dict[tuple[int, int], str]] = field(default_factory=list)
    """The error texts of each ltvxl call of the formula being evaluated, by position in the
    call's result (filled by the calls, read and cleared by the engine)."""
    messages: dict[tuple[str, int, int], str] = field(default_factory=dict)
    """The message of each cell holding an error value that an ltvxl function returned."""
    current: tuple[str, int, int] | None = None
    """The formula cell being evaluated."""
    reader: Callable[[str, int, int, int, int], Any] | None = None
    """The engine's reader of a range computed by OFFSET or INDIRECT (see :mod:`.dynamic`)."""
    not_ready: list[tuple[str, int, int]] = field(default_factory=list)
    """Formula cells a computed reference of the cell being evaluated reads before they are
    computed (the cell waits for them)."""
    sheets: dict[str, str] | None = None
    """Upper-case sheet name -> sheet name (for INDIRECT)."""
    names: Callable[[str], str | None] | None = None
    """The text of a defined name as seen from the current cell (for INDIRECT)."""


CONTEXT = Context()


def _cells(arg: Any) -> tuple[np.ndarray, tuple[str, int, int] | None]:
    """The values of an argument as a 2-D array, and where its cells are (None: an array)."""
    where = CONTEXT.refs.get(id(arg))
    value = arg.value if hasattr(arg, "ranges") and hasattr(arg, "value") else arg
    arr = np.asarray(value, dtype=object)
    if arr.ndim == 0:
        arr = arr.reshape(1, 1)
    elif arr.ndim == 1:
        arr = arr.reshape(1, -1)
    return arr, where


def _kept(arg: Any, skip_hidden: bool, skip_nested: bool) -> list[Any]:
    """The values of ``arg`` a subtotal counts: without nested subtotals and hidden rows."""
    arr, where = _cells(arg)
    if where is None:
        return [v for v in arr.reshape(-1).tolist()]
    sheet, r0, c0 = where
    hidden = CONTEXT.hidden_rows.get(sheet, set()) if skip_hidden else \
        CONTEXT.filtered_rows.get(sheet, set())
    nested = CONTEXT.subtotal_cells if skip_nested else set()
    out = []
    for i, row in enumerate(arr.tolist()):
        if r0 + i in hidden:
            continue
        for j, v in enumerate(row):
            if (sheet, r0 + i, c0 + j) not in nested:
                out.append(v)
    return out


def _numbers(values: list[Any], skip_errors: bool) -> list[float] | XlError:
    """The numbers among referenced values (text, logical values and blanks left out, as
    Excel's statistical functions treat references); the first error unless skipped."""
    out = []
    for v in values:
        if isinstance(v, XlError):
            if skip_errors:
                continue
            return v
        if isinstance(v, bool) or v is EMPTY or v is None or isinstance(v, str):
            continue
        out.append(float(v))
    return out


def _stdev(xs: list[float], sample: bool) -> float | XlError:
    if len(xs) < (2 if sample else 1):
        return xlerror("#DIV/0!")
    return statistics.stdev(xs) if sample else statistics.pstdev(xs)


def _var(xs: list[float], sample: bool) -> float | XlError:
    if len(xs) < (2 if sample else 1):
        return xlerror("#DIV/0!")
    return statistics.variance(xs) if sample else statistics.pvariance(xs)


def _mode(xs: list[float]) -> float | XlError:
    counts: dict[float, int] = {}
    for x in xs:
        counts[x] = counts.get(x, 0) + 1
    best = max(counts.values(), default=0)
    if best < 2:
        return xlerror("#N/A")
    return next(x for x in xs if counts[x] == best)  # the first of the most frequent


_REDUCE: dict[int, Callable[[list[float]], Any]] = {
    1: lambda xs: sum(xs) / len(xs) if xs else xlerror("#DIV/0!"),
    4: lambda xs: max(xs) if xs else 0.0,
    5: lambda xs: min(xs) if xs else 0.0,
    6: lambda xs: math.prod(xs) if xs else 0.0,
    7: lambda xs: _stdev(xs, True),
    8: lambda xs: _stdev(xs, False),
    9: lambda xs: math.fsum(xs),
    10: lambda xs: _var(xs, True),
    11: lambda xs: _var(xs, False),
    12: lambda xs: statistics.median(xs) if xs else xlerror("#NUM!"),
    13: _mode,
}
"""Function codes 1-13 (SUBTOTAL's 1-11 and AGGREGATE's 1-13) on the numbers; 2 and 3 count."""


def _number_arg(v: Any) -> float | XlError:
    arr, _ = _cells(v)
    x = arr.reshape(-1)[0]
    if isinstance(x, XlError):
        return x
    if x is EMPTY or x is None:
        return 0.0
    if isinstance(x, str):
        try:
            return float(x)
        except ValueError:
            return xlerror("#VALUE!")
    return float(x)


def _aggregate(code: int, refs: tuple[Any, ...], skip_hidden: bool, skip_nested: bool,
               skip_errors: bool) -> Any:
    values = [v for ref in refs for v in _kept(ref, skip_hidden, skip_nested)]
    if code == 2:  # COUNT
        return float(sum(1 for v in values if not isinstance(v, (bool, str, XlError))
                         and v is not EMPTY and v is not None))
    if code == 3:  # COUNTA
        return float(sum(1 for v in values if v is not EMPTY and v is not None and
                         not (skip_errors and isinstance(v, XlError))))
    xs = _numbers(values, skip_errors)
    if isinstance(xs, XlError):
        return xs
    return _REDUCE[code](xs)


def subtotal(function_num: Any, *refs: Any) -> Any:
    """SUBTOTAL(function_num, ref1, ...) as Excel computes it."""
    code = _number_arg(function_num)
    if isinstance(code, XlError):
        return code
    n = int(code)
    base = n - 100 if n > 100 else n
    if not refs or not 1 <= base <= 11:
        return xlerror("#VALUE!")
    return _aggregate(base, refs, skip_hidden=n > 100, skip_nested=True, skip_errors=False)


def _k_form(code: int, values: list[Any], k: Any, skip_errors: bool) -> Any:
    xs = _numbers(values, skip_errors)
    if isinstance(xs, XlError):
        return xs
    kk = _number_arg(k)
    if isinstance(kk, XlError):
        return kk
    xs = sorted(xs)
    n = len(xs)
    if code in (14, 15):  # LARGE, SMALL
        i = math.ceil(kk)
        if not xs or not 1 <= i <= n:
            return xlerror("#NUM!")
        return xs[n - i] if code == 14 else xs[i - 1]
    if code in (17, 19):  # QUARTILE: k in 0..4 -> percentile k/4
        quart = math.floor(kk)
        if not 0 <= quart <= 4 or (code == 19 and quart in (0, 4)):
            return xlerror("#NUM!")
        p, exclusive = quart / 4, code == 19
    else:  # PERCENTILE.INC (16), PERCENTILE.EXC (18)
        p, exclusive = kk, code == 18
    if not xs:
        return xlerror("#NUM!")
    if exclusive:
        h = p * (n + 1)
        if not 1 <= h <= n:
            return xlerror("#NUM!")
    else:
        if not 0 <= p <= 1:
            return xlerror("#NUM!")
        h = p * (n - 1) + 1
    lo = math.floor(h)
    frac = h - lo
    if lo >= n:
        return xs[-1]
    return xs[lo - 1] + frac * (xs[lo] - xs[lo - 1])


def aggregate(function_num: Any, options: Any, *args: Any) -> Any:
    """AGGREGATE(function_num, options, ref1, ...) and AGGREGATE(function_num, options,
    array, k) as Excel computes them."""
    code, opt = _number_arg(function_num), _number_arg(options)
    for v in (code, opt):
        if isinstance(v, XlError):
            return v
    n, o = int(code), int(opt)
    if not 1 <= n <= 19 or not 0 <= o <= 7 or not args:
        return xlerror("#VALUE!")
    skip_nested = o <= 3
    skip_hidden = o in (1, 3, 5, 7)
    skip_errors = o in (2, 3, 6, 7)
    if n <= 13:
        return _aggregate(n, args, skip_hidden, skip_nested, skip_errors)
    if len(args) < 2:
        return xlerror("#VALUE!")
    values = _kept(args[0], skip_hidden, skip_nested)
    return _k_form(n, values, args[1], skip_errors)


def isformula(reference: Any) -> Any:
    """ISFORMULA(reference): whether each referenced cell holds a formula (a cell of a spill
    range too, as Excel answers for it); #VALUE! for a value that is not a reference."""
    arr, where = _cells(reference)
    if where is None:
        return xlerror("#VALUE!")
    sheet, r0, c0 = where
    spills = CONTEXT.array_ranges.get(sheet, []) + CONTEXT.spill_ranges.get(sheet, [])
    out = np.empty(arr.shape, dtype=object)
    for i in range(arr.shape[0]):
        for j in range(arr.shape[1]):
            r, c = r0 + i, c0 + j
            out[i, j] = (sheet, r, c) in CONTEXT.formula_cells or \
                any(a <= r <= b and x <= c <= y for a, x, b, y in spills)
    return out if out.size > 1 else out[0, 0]


def today() -> Any:
    """TODAY(): the date the refresh started."""
    CONTEXT.used_now = True
    return ExcelDate(CONTEXT.now.date())


def now() -> Any:
    """NOW(): the time the refresh started (local time, to the second)."""
    CONTEXT.used_now = True
    return ExcelDate(CONTEXT.now.replace(microsecond=0))


def ltv_error(cell: Any) -> Any:
    """LTV_ERROR(cell), as the add-in's VBA function: the message of the ltvxl error shown in
    the cell's first cell, "" when it shows no error, the error and :data:`NO_MESSAGE` for an
    error that no ltvxl function returned; #VALUE! for a value that is not a reference."""
    from ltvxl.errors import NO_MESSAGE

    arr, where = _cells(cell)
    if where is None:
        return xlerror("#VALUE!")
    first = arr[0, 0] if arr.size else EMPTY
    if not isinstance(first, XlError):
        return ""
    return CONTEXT.messages.get(where) or f"{first} {NO_MESSAGE}"


OVERRIDES: dict[str, tuple[Callable[..., Any], str]] = {
    "SUBTOTAL": (subtotal, "ltvxl: nested subtotals and hidden rows as Excel"),
    "AGGREGATE": (aggregate, "ltvxl: all 19 functions and 8 options"),
    "ISFORMULA": (isformula, "ltvxl: the workbook's formula cells and spill ranges"),
    "TODAY": (today, "ltvxl: the date the refresh started"),
    "NOW": (now, "ltvxl: the time the refresh started"),
    "LTV_ERROR": (ltv_error, "ltvxl: the message of an ltvxl error value, as the add-in's"),
}
"""Excel functions computed by ltvxl rather than ``formulas``: name -> (function, note)."""
