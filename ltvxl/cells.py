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
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import LtvxlError, is_cell_error


def as_grid(value: Any, name: str) -> np.ndarray:
    """A 2-D object array of the cells in ``value``.

    A scalar is a 1x1 grid, a flat list a column (n x 1), a list of lists the
    rows of a range. Ragged rows are an error naming ``name``.
    """
    if isinstance(value, np.ndarray):
        arr = value.astype(object)
        if arr.ndim == 0:
            return arr.reshape(1, 1)
        if arr.ndim == 1:
            return arr.reshape(-1, 1)
        if arr.ndim == 2:
            return arr
        raise LtvxlError(f"{name} must be a cell or a range, got a {arr.ndim}-D array")
    if isinstance(value, (list, tuple)):
        if len(value) == 0:
            raise LtvxlError(f"{name} is an empty range")
        if all(isinstance(row, (list, tuple)) for row in value):
            widths = {len(row) for row in value}
            if len(widths) != 1 or 0 in widths:
                raise LtvxlError(f"{name} has rows of different lengths")
            out = np.empty((len(value), widths.pop()), dtype=object)
            for i, row in enumerate(value):
                out[i, :] = list(row)
            return out
        if any(isinstance(v, (list, tuple)) for v in value):
            raise LtvxlError(f"{name} mixes cells and rows")
        out = np.empty((len(value), 1), dtype=object)
        out[:, 0] = list(value)
        return out
    out = np.empty((1, 1), dtype=object)
    out[0, 0] = value
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
    return repr(value)


def number_or_problem(value: Any, name: str) -> tuple[float, str | None]:
    """(number, None) for a numeric cell, else (nan, cell error text)."""
    if isinstance(value, bool):
        return np.nan, f"#VALUE! {name} must be a number, got {describe(value)}"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value), None
    if value is None:
        return np.nan, f"#VALUE! {name} is blank"
    if is_cell_error(value):
        return np.nan, str(value)  # an error in an input cell propagates, as in Excel
    if isinstance(value, str):
        hint = ""
        try:
            float(value.strip().rstrip("%"))
            hint = " (a number stored as text? enter it as a number)"
        except ValueError:
            pass
        return np.nan, f"#VALUE! {name} must be a number, got {describe(value)}{hint}"
    return np.nan, f"#VALUE! {name} must be a number, got {describe(value)}"


def numbers(
    grid: np.ndarray, name: str, default: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Parse a grid of cells into floats and per-cell problems.

    Returns ``(values, problems)``: a float array and an object array holding
    ``None`` for good cells and the cell error text for bad ones. Blank cells
    take ``default`` when it is given (optional arguments).
    """
    values = np.empty(grid.shape, dtype=float)
    problems = np.full(grid.shape, None, dtype=object)
    flat_v, flat_p = values.reshape(-1), problems.reshape(-1)
    for i, cell in enumerate(grid.reshape(-1)):
        if type(cell) is float:  # fast path: xlwings passes numbers as float
            flat_v[i] = cell
            continue
        if cell is None and default is not None:
            flat_v[i] = default
            continue
        flat_v[i], flat_p[i] = number_or_problem(cell, name)
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
    raise LtvxlError(f'{name} must be one of {", ".join(choices)}; got "{value}"')
