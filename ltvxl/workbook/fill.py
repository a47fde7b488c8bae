"""Put a transaction log into a copy of a template workbook (its Transactions table).

:class:`Filling` replaces the data rows of the Excel table ``Transactions`` of
any workbook built like the ltvxl template (an analyst's own copy with extra
sheets, formulas and charts included) and resizes the table; every other part
is copied unchanged. A refresh (:mod:`ltvxl.workbook.refresh`) then computes
the formulas over the new data: given the :class:`Filling` itself, it takes the
table's values from memory and streams the sheet into the written workbook,
so that the rows are neither written twice nor read back.

Customer ids and channels are written as inline strings (text stays text,
whatever it looks like), dates as serial numbers and amounts as numbers, each
cell with the style of the template's first data row in its column.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ltvxl.a1 import col_letters, range_name

from .xlsx import (
    Package,
    SheetXml,
    WorkbookError,
    escape_text,
    write_package,
)

ROLES = {"id": ("customer_id", "customer", "id"), "date": ("date",),
         "amount": ("amount",), "channel": ("channel",)}
CHUNK_ROWS = 20_000
"""Rows of the sheet XML built, encoded and written at a time."""


def _role_columns(columns: list[str], table: str) -> dict[str, int]:
    lower = [c.strip().lower() for c in columns]
    found: dict[str, int] = {}
    for role, names in ROLES.items():
        for name in names:
            if name in lower:
                found[role] = lower.index(name)
                break
        else:
            if role != "channel":
                raise WorkbookError(f"table {table} has no {names[0]} column; its columns are "
                                    f"{', '.join(columns)}")
    return found


def _plain_texts(values: list[str]) -> bool:
    """Whether no text of ``values`` needs escaping or ``xml:space``: one test of them all."""
    joined = "".join(values)
    return joined.isprintable() and " " not in joined and "&" not in joined and \
        "<" not in joined and ">" not in joined and "_x" not in joined


def _text_bodies(values: list[str]) -> list[str]:
    """``>text`` (escaped, ``xml:space`` where needed) of each inline string."""
    if _plain_texts(values):
        return [f">{v}" for v in values]
    out = []
    for v in values:
        text = escape_text(v)
        space = ' xml:space="preserve"' if text != text.strip() else ""
        out.append(f"{space}>{text}")
    return out


def _number_texts(values: np.ndarray) -> list[str]:
    """Each number as :func:`~.xlsx.number_text` writes it (``1500`` for 1500.0)."""
    out = []
    for x in values.tolist():
        text = repr(x)
        out.append("0" if x == 0 else text[:-2] if text[-2:] == ".0" else text)
    return out


class Filling:
    """``data`` to go into the table ``table`` of the package ``pkg``.

    Checks the table at once (no totals row, no cells beside it, no formula
    column); :attr:`parts` are the replaced table part, :meth:`sheet_chunks`
    the sheet XML in pieces, :attr:`columns` the values by table column.
    """

    def __init__(self, pkg: Package, data: Any, table: str = "Transactions") -> None:
        t = pkg.tables.get(table.upper())
        if t is None:
            raise WorkbookError(f"{pkg.path}: the template has no Excel table named {table}")
        if t.totals_rows:
            raise WorkbookError(f"{pkg.path}: table {t.name} has a totals row; remove it")
        self.table = t
        sheet = pkg.sheet(t.sheet)
        self.sheet, self.part = sheet.name, sheet.part
        sx = SheetXml(sheet.name, pkg.parts[sheet.part])
        r1, c1, _, c2 = t.ref
        roles = _role_columns(t.columns, t.name)
        p = sx.p
        self.styles: dict[int, str] = {}
        """The style of each column's cells (by sheet column), from the first data row."""
        for r in sx.rows:
            if r <= r1:
                continue
            for c, xml in sx.cells(r).items():
                if c < c1 or c > c2:
                    raise WorkbookError(f"{t.sheet}!{col_letters(c)}{r}: the sheet of table "
                                        f"{t.name} holds cells outside the table; move them")
                if f"<{p}f" in xml:
                    raise WorkbookError(f"{t.sheet}!{col_letters(c)}{r}: table {t.name} has a "
                                        "formula column, which filling would lose")
                if r == r1 + 1:
                    m = re.search(r'\ss="(\d+)"', xml[: xml.find(">")])
                    if m:
                        self.styles[c] = m.group(1)
        for r in [r for r in sx.rows if r > r1]:
            del sx.rows[r]
        self.n = n = len(data)
        self.first_row, self.c1 = r1 + 1, c1
        self.columns: dict[int, tuple[str, Any]] = {}
        """Table column position -> ("text", list of str) or ("number", float array); the
        dates as serial numbers."""
        if n:
            self.columns[roles["id"]] = ("text", [str(v) for v in data.ids])
            days = np.asarray(data.dates, dtype="datetime64[D]").astype(np.int64) + 25569
            self.columns[roles["date"]] = ("number", days.astype(float))
            self.columns[roles["amount"]] = ("number", np.asarray(data.amounts, dtype=float))
            if roles.get("channel") is not None and data.channels is not None:
                self.columns[roles["channel"]] = ("text", list(data.channels))
        self.ref = (r1, c1, r1 + max(n, 1), c2)
        ref = range_name(*self.ref)
        table_xml = pkg.parts[t.part].decode("utf-8")
        table_xml = re.sub(r'(<(?:\w+:)?table\b[^>]*?\sref=")[^"]*"', rf'\g<1>{ref}"',
                           table_xml, count=1)
        table_xml = re.sub(r'(<(?:\w+:)?autoFilter\b[^>]*?\sref=")[^"]*"', rf'\g<1>{ref}"',
                           table_xml, count=1)
        self.parts = {t.part: table_xml.encode("utf-8")}
        """The replaced parts besides the sheet: the table's."""
        order = sorted(self.columns)
        self._span = (c1 + order[0], c1 + order[-1]) if order else None
        if not n:
            sx.rows[r1 + 1] = [f' r="{r1 + 1}"', None, f'<{p}row r="{r1 + 1}"/>']
        self._sx = sx

    def apply(self, pkg: Package) -> None:
        """Give ``pkg`` the table's new size (its part and range), as the filled file has."""
        pkg.parts.update(self.parts)
        self.table.ref = self.ref

    def sheet_chunks(self) -> Iterator[bytes]:
        """The sheet part, UTF-8, in pieces of :data:`CHUNK_ROWS` rows."""
        sx, p = self._sx, self._sx.p
        if self.n and self._span is not None:  # the data rows' span in <dimension>: empty
            last = self.first_row + self.n - 1  # stand-ins for the first and last data rows
            for r in {self.first_row, last}:
                sx.rows[r], sx._spans[r] = [f' r="{r}"', None, ""], self._span
        text = sx.to_bytes().decode("utf-8")
        cut = text.index(f"</{p}sheetData>")
        yield text[:cut].encode("utf-8")
        for start in range(0, self.n, CHUNK_ROWS):
            yield self._rows(start, min(start + CHUNK_ROWS, self.n)).encode("utf-8")
        yield text[cut:].encode("utf-8")

    def _rows(self, start: int, stop: int) -> str:
        """The XML of data rows ``start`` to ``stop`` (0-based), cells in column order."""
        p, r0 = self._sx.p, self.first_row
        numbers = list(range(r0 + start, r0 + stop))
        pieces = []
        for j in sorted(self.columns):
            kind, values = self.columns[j]
            c = self.c1 + j
            style = f' s="{self.styles[c]}"' if c in self.styles else ""
            head = f'<{p}c r="{col_letters(c)}'
            if kind == "text":
                mid, tail = f'"{style} t="inlineStr"><{p}is><{p}t', f"</{p}t></{p}is></{p}c>"
                pieces.append([f"{head}{r}{mid}{body}{tail}" for r, body in
                               zip(numbers, _text_bodies(values[start:stop]), strict=True)])
            else:
                mid, tail = f'"{style}><{p}v>', f"</{p}v></{p}c>"
                pieces.append([f"{head}{r}{mid}{v}{tail}" for r, v in
                               zip(numbers, _number_texts(values[start:stop]), strict=True)])
        row, close = f"<{p}row r=", f"</{p}row>"
        return "".join([f'{row}"{r}">{"".join(cells)}{close}'
                        for r, *cells in zip(numbers, *pieces, strict=True)])


def fill_package(pkg: Package, data: Any, table: str = "Transactions") -> dict[str, bytes]:
    """The replaced parts (sheet and table XML) holding ``data`` in ``table``."""
    filling = Filling(pkg, data, table)
    return {filling.part: b"".join(filling.sheet_chunks()), **filling.parts}


def fill_template(template: str | Path, data: Any, output: str | Path,
                  table: str = "Transactions") -> None:
    """Write a copy of ``template`` with ``data`` in its table (values not yet computed)."""
    from .xlsx import open_package

    pkg = open_package(template)
    filling = Filling(pkg, data, table)
    write_package(pkg, {filling.part: filling.sheet_chunks(), **filling.parts}, output)
