"""Reading cell values as xlwings passes them to a worksheet function.

xlwings hands a function a scalar for one cell, a list for a row or column
(a list of lists when the argument is declared with ``ndim=2``, as every ltvxl
range argument is), ``None`` for a blank cell, ``float`` for every number
(whole numbers too), ``str`` for text, ``bool`` and ``datetime``. These
helpers turn such values into numpy grids and say precisely what is wrong
with a bad cell.
"""

from __future__ import annotations

import datetime as dt
import numbers as numbers_abc
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import LtvxlError, clip, is_cell_error


def as_grid(value: Any, name: str) -> np.ndarray:
    """A 2-D object array of the cells in ``value``.

    A scalar is a 1x1 grid, a flat list a column (n x 1), a list of lists the
    rows of a range. Ragged rows are an error naming ``name`` and the row.
    """
    if isinstance(value, np.ndarray):
        arr = value.astype(object)
        if arr.ndim == 0:
            return arr.reshape(1, 1)
        if arr.ndim == 1:
            arr = arr.reshape(-1, 1)
        if arr.ndim != 2:
            raise LtvxlError(f"{name} must be a cell or a range, got a {arr.ndim}-D array")
        if arr.size == 0:
            raise LtvxlError(f"{name} is an empty range")
        return arr
    if isinstance(value, (list, tuple)):
        if len(value) == 0:
            raise LtvxlError(f"{name} is an empty range")
        if isinstance(value[0], (list, tuple)):
            # Fast path for what xlwings passes (rows of equal length, plain cells):
            # numpy builds the grid in C. Anything else takes the checked path.
            try:
                arr = np.array(value, dtype=object)
            except (ValueError, TypeError):
                arr = None
            if arr is not None and arr.ndim == 2 and arr.shape[1] > 0:
                return arr
            return _rows(value, name)
        if any(isinstance(v, (list, tuple)) for v in value):
            raise LtvxlError(f"{name} mixes single cells and rows")
        out = np.empty((len(value), 1), dtype=object)
        for i, cell in enumerate(value):
            out[i, 0] = cell
        return out
    out = np.empty((1, 1), dtype=object)
    out[0, 0] = value
    return out


def _rows(value: Sequence[Any], name: str) -> np.ndarray:
    """The checked, cell-by-cell path of :func:`as_grid` for a list of rows."""
    width = -1
    for i, row in enumerate(value):
        if not isinstance(row, (list, tuple)):
            raise LtvxlError(f"{name} mixes single cells and rows (row {i + 1})")
        if len(row) == 0:
            raise LtvxlError(f"{name} has an empty row (row {i + 1})")
        if width < 0:
            width = len(row)
        elif len(row) != width:
            raise LtvxlError(
                f"{name} has rows of different lengths: row 1 has {width} cells, "
                f"row {i + 1} has {len(row)}"
            )
    out = np.empty((len(value), width), dtype=object)
    for i, row in enumerate(value):
        for j, cell in enumerate(row):
            out[i, j] = cell
    return out


def describe(value: Any) -> str:
    """How a cell value is named in a message: ``text "abc"``, ``TRUE``, ``a blank cell``."""
    if value is None:
        return "a blank cell"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        shown = value if len(value) <= 30 else value[:27] + "..."
        return f'text "{shown}"'
    if isinstance(value, (dt.datetime, dt.date)):
        return f"a date ({value.isoformat()[:10]})"
    return clip(repr(value), 40)


def number_or_problem(value: Any, name: str) -> tuple[float, str | None]:
    """(number, None) for a numeric cell, else (nan, cell error text)."""
    if isinstance(value, bool | np.bool_):
        return np.nan, f"#VALUE! {name} must be a number, got {describe(bool(value))}"
    if isinstance(value, numbers_abc.Real):
        try:
            x = float(value)
        except (OverflowError, ValueError, TypeError):
            return np.nan, f"#NUM! {name} is too large to be a number"
        return x, None
    if value is None:
        return np.nan, f"#VALUE! {name} is blank"
    if is_cell_error(value):
        return np.nan, clip(value)  # an error in an input cell propagates, as in Excel
    if isinstance(value, str):
        hint = ""
        if not value.strip():
            return np.nan, f"#VALUE! {name} must be a number, got an empty text"
        try:
            float(value.strip().rstrip("%"))
            hint = " (a number stored as text? enter it as a number)"
        except ValueError:
            pass
        return np.nan, f"#VALUE! {name} must be a number, got {describe(value)}{hint}"
    return np.nan, f"#VALUE! {name} must be a number, got {describe(value)}"


def read_numbers(
    grid: np.ndarray, name: str, default: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Like :func:`numbers`, also returning the mask of blank cells that took ``default``."""
    flat = grid.reshape(-1)
    n = flat.size
    values = np.full(n, np.nan)
    problems = np.full(n, None, dtype=object)
    defaulted = np.zeros(n, dtype=bool)
    # xlwings passes every number as a float: convert those in one step and
    # look at the other cells one by one.
    is_float = np.fromiter((type(c) is float for c in flat), dtype=bool, count=n)
    if is_float.any():
        values[is_float] = flat[is_float].astype(float)
    for i in np.flatnonzero(~is_float):
        cell = flat[i]
        if cell is None and default is not None:
            values[i] = default
            defaulted[i] = True
            continue
        values[i], problems[i] = number_or_problem(cell, name)
    return (
        values.reshape(grid.shape),
        problems.reshape(grid.shape),
        defaulted.reshape(grid.shape),
    )


def numbers(
    grid: np.ndarray, name: str, default: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Parse a grid of cells into floats and per-cell problems.

    Returns ``(values, problems)``: a float array and an object array holding
    ``None`` for good cells and the cell error text for bad ones. Blank cells
    take ``default`` when it is given (optional arguments). Numbers are not
    checked against a range here (see :class:`ltvxl.domains.Domain`).
    """
    values, problems, _ = read_numbers(grid, name, default)
    return values, problems


def text_option(value: Any, name: str, choices: Sequence[str], default: str) -> str:
    """A text option such as a time unit, matched case-insensitively to ``choices``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if isinstance(value, (list, tuple)):
        grid = as_grid(value, name)
        if grid.size != 1:
            raise LtvxlError(f"{name} must be a single cell, got a range of {grid.size} cells")
        return text_option(grid[0, 0], name, choices, default)
    if not isinstance(value, str):
        raise LtvxlError(f"{name} must be one of {', '.join(choices)}; got {describe(value)}")
    key = value.strip().lower()
    for choice in choices:
        if key == choice.lower():
            return choice
    raise LtvxlError(f'{name} must be one of {", ".join(choices)}; got {describe(value)}')
