"""Transaction tables in workbooks (XLSX, XLSM, XLS, XLSB, ODS), read by python-calamine.

The header row is the first row, among the first 50, as wide as the table
below it whose cells are all names (text that is not a number), so titles
and notes above it (``Sales export FY2024``) are passed over; ``--header-row
N`` names it. One sheet is read (the first, or ``--sheet NAME``); ``--sheet
all`` reads every sheet whose header has the first sheet's columns as one
log (Online Retail II keeps one log in two yearly sheets), and sheets with
other columns are left out and named in the notes; its messages name the sheet
of the row (``column "Price" row 17 of sheet "Year 2010-2011"``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import LtvxlError
from ..fileio import workbook_problem
from .columns import SHEET_ROWS, object_array
from .options import ReadOptions
from .readers import Table

ALL_SHEETS = "all"


def _rows_of(p: Path, sheet: str | int | None) -> tuple[list[str], dict[str, list[list[Any]]]]:
    """(sheet names, rows of the wanted sheets by name)."""
    try:
        from python_calamine import CalamineWorkbook
    except ImportError:  # pragma: no cover - Pyodide
        book = pd.read_excel(p, sheet_name=None, header=None, dtype=object)
        names = list(book)
        return names, {n: [list(r) for r in df.itertuples(index=False, name=None)]
                       for n, df in book.items() if _wanted(n, names, sheet)}
    try:
        wb = CalamineWorkbook.from_path(str(p))
        names = list(wb.sheet_names)
        if isinstance(sheet, str) and sheet != ALL_SHEETS and sheet not in names:
            raise LtvxlError(f'{p.name}: no sheet named "{sheet}"; the sheets are '
                             f'{", ".join(names)} (or --sheet all)')
        if isinstance(sheet, int) and not 0 <= sheet < len(names):
            raise LtvxlError(f"{p.name}: no sheet {sheet}; it has {len(names)} sheets")
        return names, {n: wb.get_sheet_by_name(n).to_python(skip_empty_area=True)
                       for n in names if _wanted(n, names, sheet)}
    except LtvxlError:
        raise
    except Exception as exc:
        raise LtvxlError(f"{p.name}: {workbook_problem(p, str(exc))}") from None


def _wanted(name: str, names: list[str], sheet: str | int | None) -> bool:
    if sheet == ALL_SHEETS:
        return True
    if sheet is None:
        return name == names[0] or len(names) > 1  # the others only to tell of them
    return name == sheet if isinstance(sheet, str) else names.index(name) == sheet


def _is_name(cell: Any) -> bool:
    if not isinstance(cell, str) or not cell.strip():
        return False
    try:
        float(cell.strip())
    except ValueError:
        return True
    return False


def header_index(rows: list[list[Any]]) -> int:
    """The 0-based index of the header row (see the module); 0 when none is clear."""
    def filled(r: list[Any]) -> int:
        return sum(1 for c in r if c not in (None, "") and not (isinstance(c, str)
                                                                   and not c.strip()))
    below = [filled(r) for r in rows[:200]]
    if not below:
        return 0
    width = max(below)
    for i, r in enumerate(rows[:50]):
        cells = [c for c in r if c not in (None, "") and not (isinstance(c, str)
                                                                and not c.strip())]
        if len(cells) >= max(2, width - 1) and all(map(_is_name, cells)):
            return i
    return 0


def excel_table(p: Path, opts: ReadOptions) -> Table:
    """The transaction table of a workbook (see the module)."""
    sheet = opts.sheet
    names, by_sheet = _rows_of(p, sheet)
    first = names[0] if sheet in (None, ALL_SHEETS) else (
        sheet if isinstance(sheet, str) else names[sheet])
    said: list[str] = []
    parts: list[tuple[str, list[list[Any]], int]] = []
    header: list[str] | None = None
    counts: dict[str, int] = {}
    others: list[str] = []
    for name in names:
        if name not in by_sheet:
            continue
        rows = by_sheet[name]
        if not rows:
            if name == first:
                raise LtvxlError(f'{p.name}: sheet "{name}" is empty')
            continue
        h = opts.header_row - 1 if opts.header_row else header_index(rows)
        if h >= len(rows):
            raise LtvxlError(f'{p.name}: header_row {opts.header_row} is past the end of '
                             f'sheet "{name}"')
        names_here = [("" if c is None else str(c)).strip() for c in rows[h]]
        while names_here and not names_here[-1]:
            names_here.pop()
        if name == first:
            header = names_here
            parts.append((name, rows, h))
            if h:
                said.append(f"header on row {h + 1}")
        elif header is not None and names_here == header and sheet == ALL_SHEETS:
            parts.append((name, rows, h))
        elif header is not None and names_here == header:
            others.append(name)
        elif sheet == ALL_SHEETS:
            counts[f'sheet "{name}" left out (other columns)'] = 1
    if header is None:
        raise LtvxlError(f"{p.name}: the sheet is empty")
    if len(set(header)) != len(header):
        dup = next(n for n in header if header.count(n) > 1)
        raise LtvxlError(f'{p.name}: two columns are named "{dup}"; rename one')
    if sheet == ALL_SHEETS:
        said.append("sheets " + " + ".join(f'"{n}"' for n, _, _ in parts))
    elif others:
        said.append(f'sheet "{first}" only; --sheet all also reads '
                    + ", ".join(f'"{n}"' for n in others) + " (same columns)")
    elif len(names) > 1:
        said.append(f'sheet "{first}"')
    if others:
        counts["sheets with the same columns not read (--sheet all reads them)"] = len(others)
    width = len(header)
    bodies = [(rows[h + 1:], h) for _, rows, h in parts]
    if not any(b for b, _ in bodies):
        raise LtvxlError(f"{p.name}: no data rows under the header")
    sheets = [n for n, _, _ in parts] if sheet == ALL_SHEETS else None
    row_numbers = np.concatenate([np.arange(len(b), dtype=np.int64) + h + 2 +
                                  (k * SHEET_ROWS if sheets else 0)
                                  for k, (b, h) in enumerate(bodies)])

    def column(j: int) -> np.ndarray:
        out = object_array([r[j] if j < len(r) else None for b, _ in bodies for r in b])
        blank = np.array([isinstance(x, str) and not x.strip() for x in out], dtype=bool)
        out[blank] = None  # calamine gives "" for empty cells
        return out

    def load(cols: list[str]) -> dict[str, np.ndarray]:
        return {c: column(header.index(c)) for c in cols}

    return Table(header[:width], load, first_row=bodies[0][1] + 2, said=said, counts=counts,
                 row_numbers=row_numbers, sheets=sheets)
