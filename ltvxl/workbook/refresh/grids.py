"""The cell values of each sheet during a refresh: the file's values overlaid
with the results computed so far."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from ltvxl.a1 import MAX_COLS, MAX_ROWS
from ltvxl.workbook.xlsx import ExcelDate, Package, SheetXml, WorkbookError

from .values import EMPTY, from_calamine, xlerror

Rect = tuple[int, int, int, int]
"""(r1, c1, r2, c2) of a range, 1-based, inclusive."""


WHOLE_ROWS_CELLS = 1 << 22
"""Whole rows (``1:1``, ``A2:XFD3``) are read to the last column, as Excel sees them (a
spill of ``=First!1:1`` fills the row, blanks as 0), up to this many cells; whole columns
and larger row ranges are clipped to the sheet's used area."""


def overlap(a: Rect, b: Rect) -> bool:
    """Whether two ranges share a cell."""
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def inside(r: int, c: int, rect: Rect) -> bool:
    """Whether cell (r, c) lies in ``rect``."""
    return rect[0] <= r <= rect[2] and rect[1] <= c <= rect[3]


_NO_CELLS = np.empty((0, 0), dtype=object)


class Grids:
    """Cell values of each sheet: the file's values overlaid with computed results."""

    def __init__(self, pkg: Package) -> None:
        self.pkg = pkg
        self._book: Any = None
        self.base: dict[str, np.ndarray] = {}
        self.blocks: dict[str, list[tuple[int, int, np.ndarray]]] = {}
        self.blanked: dict[str, list[tuple[int, int, int, int]]] = {}
        self.singles: dict[str, dict[tuple[int, int], Any]] = {}
        self.single_extent: dict[str, tuple[int, int]] = {}
        self._empty: set[str] | None = None
        self.covered: Callable[[str, int, int, int, int], bool] | None = None
        """Whether a range of a sheet holds only formula results (see Engine._covered)."""

    def _load(self, sheet: str) -> np.ndarray:
        if sheet not in self.base:
            if self._book is None:
                from python_calamine import CalamineWorkbook

                try:
                    self._book = CalamineWorkbook.from_path(str(self.pkg.path))
                except Exception as exc:
                    raise WorkbookError(f"{self.pkg.path}: cannot read cell values ({exc})") \
                        from None
            rows = self._book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
            blanked = self.blanked.pop(sheet, [])
            arr = self._grid(rows, blanked)
            for r, c, code in self._errors(sheet):  # calamine reads error cells as ""
                if r <= arr.shape[0] and c <= arr.shape[1] and \
                        not any(inside(r, c, b) for b in blanked):
                    arr[r - 1, c - 1] = xlerror(code)
            for r, c in self._empty_texts(sheet):  # and text of no characters as a blank
                if r <= arr.shape[0] and c <= arr.shape[1] and \
                        not any(inside(r, c, b) for b in blanked):
                    arr[r - 1, c - 1] = ""
            self.base[sheet] = arr
        return self.base[sheet]

    def _errors(self, sheet: str) -> list[tuple[int, int, str]]:
        """(row, col, code) of the cells holding an error value (``t="e"``), not formulas."""
        data = self.pkg.parts[self.pkg.sheet(sheet).part]
        if b't="e"' not in data and b"t='e'" not in data:
            return []
        sx = SheetXml(sheet, data)
        out = []
        for r, rec in sx.rows.items():
            if 't="e"' not in rec[2] and "t='e'" not in rec[2]:
                continue
            for c, xml in sx.cells(r).items():
                head = xml[: xml.find(">") + 1]
                if not re.search(r"""\bt=["']e["']""", head) or f"<{sx.p}f" in xml:
                    continue
                m = re.search(r"<(?:\w+:)?v>([^<]*)</", xml)
                if m:
                    out.append((r, c, m.group(1).strip()))
        return out

    def _empty_shared(self) -> set[str]:
        """The indexes (as text) of the shared strings of no characters."""
        if self._empty is None:
            data = self.pkg.parts.get("xl/sharedStrings.xml", b"")
            self._empty = set()
            if data:
                items = re.findall(rb"<(?:\w+:)?si\b(?:/>|.*?</(?:\w+:)?si>)", data, re.S)
                for i, si in enumerate(items):
                    if not re.sub(rb"<(?:\w+:)?rPh\b.*?</(?:\w+:)?rPh>|<[^>]*>", b"", si,
                                  flags=re.S):
                        self._empty.add(str(i))
        return self._empty

    def _empty_texts(self, sheet: str) -> list[tuple[int, int]]:
        """(row, col) of the cells holding text of no characters (not formulas): Excel keeps
        them apart from blanks (COUNTA counts them, ARRAYTOTEXT shows ``""``)."""
        empty = self._empty_shared()
        if not empty:
            return []
        data = self.pkg.parts[self.pkg.sheet(sheet).part]
        if b't="s"' not in data:
            return []
        sx = SheetXml(sheet, data)
        out = []
        for r, rec in sx.rows.items():
            if 't="s"' not in rec[2]:
                continue
            for c, xml in sx.cells(r).items():
                head = xml[: xml.find(">") + 1]
                if 't="s"' not in head or f"<{sx.p}f" in xml:
                    continue
                m = re.search(r"<(?:\w+:)?v>\s*(\d+)\s*</", xml)
                if m and m.group(1) in empty:
                    out.append((r, c))
        return out

    @staticmethod
    def _grid(rows: list[list[Any]], blanked: list[tuple[int, int, int, int]]) -> np.ndarray:
        """Calamine's rows as a grid of engine values, column by column.

        Cells of ``blanked`` ranges (old spill ranges) are emptied before conversion.
        """
        width = max((len(r) for r in rows), default=0)
        arr = np.empty((len(rows), width), dtype=object)
        if rows and all(len(r) == width for r in rows):
            arr[:] = rows
        else:
            arr[:] = EMPTY
            for i, r in enumerate(rows):
                arr[i, : len(r)] = r
        for r1, c1, r2, c2 in blanked:
            arr[r1 - 1: r2, c1 - 1: c2] = EMPTY
        for j in range(width):
            col = arr[:, j]
            kinds = set(map(type, col))
            if kinds <= {float, type(EMPTY)}:
                continue
            if str in kinds:
                col[col == ""] = EMPTY
            if kinds - {float, str, type(EMPTY)}:
                date = dt.date
                col[:] = [v if (t := type(v)) is float or t is str else
                          ExcelDate(v) if t is date else from_calamine(v) for v in col.tolist()]
        return arr

    def given(self, sheet: str, first_row: int, c1: int, columns: dict[int, tuple[str, Any]],
              rows: int, date_style: Callable[[int], bool]) -> None:
        """The values of a sheet whose table rows from ``first_row`` are given in memory
        (:class:`ltvxl.workbook.fill.Filling`'s columns by table position from column ``c1``):
        the file's rows above them, then the given rows, as python-calamine would read them
        once written (a number in a column whose first data row shows a date, or whose style
        ``date_style(column)`` does, is a date; text of no characters is a blank)."""
        above = self._load(sheet)
        first = above[first_row - 1] if above.shape[0] >= first_row else None
        width = max(above.shape[1], c1 + max(columns, default=0))
        arr = np.empty((first_row - 1 + rows, width), dtype=object)
        arr[:] = EMPTY
        arr[: first_row - 1, : above.shape[1]] = above[: first_row - 1]
        for j, (kind, values) in columns.items():
            c = c1 + j
            if kind == "text":
                col = np.array(values, dtype=object)
                col[col == ""] = EMPTY
            elif self._shows_date(first, c, date_style):
                days, at = np.unique(values, return_inverse=True)
                epoch = dt.datetime(1899, 12, 30)  # one date object per day, shared
                col = np.array([ExcelDate(epoch + dt.timedelta(days=d)) for d in days.tolist()],
                               dtype=object)[at]
            else:
                col = np.array(values.tolist(), dtype=object)
            arr[first_row - 1:, c - 1] = col
        self.base[sheet] = arr

    @staticmethod
    def _shows_date(first: Any, c: int, date_style: Callable[[int], bool]) -> bool:
        """Whether python-calamine reads the numbers written in column ``c`` as dates: as it
        read the template's first data row there (the cells take its style), or, when that
        cell holds no number, as its style says."""
        value = first[c - 1] if first is not None and c <= len(first) else None
        if isinstance(value, ExcelDate):
            return True
        if isinstance(value, float):
            return False
        return date_style(c)

    def blank(self, sheet: str, r1: int, c1: int, r2: int, c2: int) -> None:
        """Forget the stored values of a range (an old spill range) when the sheet is read."""
        if sheet in self.base:
            self.base[sheet][r1 - 1: r2, c1 - 1: c2] = EMPTY
        else:
            self.blanked.setdefault(sheet, []).append((r1, c1, r2, c2))

    def extent(self, sheet: str, base: np.ndarray | None = None) -> tuple[int, int]:
        base = self._load(sheet) if base is None else base
        rows, cols = base.shape
        for r, c, arr in self.blocks.get(sheet, ()):
            rows = max(rows, r + arr.shape[0] - 1)
            cols = max(cols, c + arr.shape[1] - 1)
        lo_hi = self.single_extent.get(sheet)
        if lo_hi:
            rows, cols = max(rows, lo_hi[0]), max(cols, lo_hi[1])
        return rows, cols

    def put(self, sheet: str, r: int, c: int, arr: np.ndarray) -> None:
        if arr.shape == (1, 1):  # one cell: kept in a dict, so that reads stay fast
            self.singles.setdefault(sheet, {})[(r, c)] = arr[0, 0]
            ext = self.single_extent.get(sheet, (0, 0))
            self.single_extent[sheet] = (max(ext[0], r), max(ext[1], c))
            return
        self.blocks.setdefault(sheet, []).append((r, c, arr))

    def cell(self, sheet: str, r: int, c: int) -> Any:
        """The current value of one cell."""
        singles = self.singles.get(sheet)
        if singles and (r, c) in singles:
            return singles[(r, c)]
        return self.read(sheet, r, c, r, c)[0, 0]

    def read(self, sheet: str, r1: int, c1: int, r2: int, c2: int) -> np.ndarray:
        singles = self.singles.get(sheet, {})
        if r1 == r2 and c1 == c2 and (r1, c1) in singles:
            out = np.empty((1, 1), dtype=object)
            out[0, 0] = singles[(r1, c1)]
            return out
        if r2 != MAX_ROWS and c2 != MAX_COLS:  # within one computed block (a spill): no file read
            for br, bc, arr in reversed(self.blocks.get(sheet, ())):
                if br <= r1 and bc <= c1 and r2 < br + arr.shape[0] and c2 < bc + arr.shape[1]:
                    return arr[r1 - br: r2 - br + 1, c1 - bc: c2 - bc + 1].copy()
        if c2 != MAX_COLS and sheet not in self.base and self.covered is not None and \
                self.covered(sheet, r1, c1, r2, c2):
            base = _NO_CELLS  # whole columns holding only results: the file need not be read
        else:
            base = self._load(sheet)
        if r2 == MAX_ROWS or c2 == MAX_COLS:
            rows, cols = self.extent(sheet, base)
            if r2 == MAX_ROWS:
                r2 = max(r1, rows)
            if c2 == MAX_COLS and (r2 - r1 + 1) * (c2 - c1 + 1) > WHOLE_ROWS_CELLS:
                c2 = max(c1, cols)
        out = np.empty((r2 - r1 + 1, c2 - c1 + 1), dtype=object)
        out[:] = EMPTY
        part = base[r1 - 1: r2, c1 - 1: c2]
        out[: part.shape[0], : part.shape[1]] = part
        for br, bc, arr in self.blocks.get(sheet, ()):
            er, ec = br + arr.shape[0] - 1, bc + arr.shape[1] - 1
            if er < r1 or br > r2 or ec < c1 or bc > c2:
                continue
            ir1, ic1 = max(r1, br), max(c1, bc)
            ir2, ic2 = min(r2, er), min(c2, ec)
            out[ir1 - r1: ir2 - r1 + 1, ic1 - c1: ic2 - c1 + 1] = \
                arr[ir1 - br: ir2 - br + 1, ic1 - bc: ic2 - bc + 1]
        if singles:
            if (r2 - r1 + 1) * (c2 - c1 + 1) <= len(singles):
                get = singles.get
                for r in range(r1, r2 + 1):
                    for c in range(c1, c2 + 1):
                        v = get((r, c), out)
                        if v is not out:
                            out[r - r1, c - c1] = v
            else:
                for (r, c), v in singles.items():
                    if r1 <= r <= r2 and c1 <= c <= c2:
                        out[r - r1, c - c1] = v
        return out

