"""A1 cell references: column letters, cell and range names, Excel's sheet limits.

The one place that converts between column numbers and letters (the refresh,
the template builder and the worksheet-name checks all use it). It is a few
lines rather than ``openpyxl.utils.cell`` because the core imports it at
start-up, and importing openpyxl costs a tenth of a second.
"""

from __future__ import annotations

import re
from functools import lru_cache

MAX_ROWS, MAX_COLS = 1_048_576, 16_384
"""Rows and columns of an Excel worksheet (Excel 2007 and later)."""


@lru_cache(maxsize=4096)
def col_letters(col: int) -> str:
    """Column letters of a 1-based column number (1 -> A, 27 -> AA)."""
    out = ""
    while col:
        col, rem = divmod(col - 1, 26)
        out = chr(65 + rem) + out
    return out


@lru_cache(maxsize=4096)
def col_number(letters: str) -> int:
    """1-based column number of column letters (case-insensitive: ``ab`` -> 28)."""
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def cell_name(row: int, col: int) -> str:
    """The A1 name of a cell (row and column 1-based): ``cell_name(3, 2)`` -> ``B3``."""
    return f"{col_letters(col)}{row}"


def range_name(r1: int, c1: int, r2: int, c2: int) -> str:
    """The A1 name of a range (``B3:C4``; one cell's name for a single cell)."""
    first = cell_name(r1, c1)
    return first if (r1, c1) == (r2, c2) else f"{first}:{cell_name(r2, c2)}"


_A1 = re.compile(r"([A-Za-z]{1,3})([0-9]+)\Z")


def is_cell_name(name: str) -> bool:
    """Whether ``name`` is the A1 name of a cell within the sheet (``XFD1048576``, not ``XFE1``)."""
    m = _A1.match(name)
    return bool(m) and col_number(m.group(1)) <= MAX_COLS and 1 <= int(m.group(2)) <= MAX_ROWS
