"""Put a transaction log into a copy of a template workbook (its Transactions table).

:func:`fill_template` replaces the data rows of the Excel table
``Transactions`` of any workbook built like the ltvxl template (an analyst's
own copy with extra sheets, formulas and charts included) and resizes the
table; every other part is copied unchanged. A refresh
(:mod:`ltvxl.workbook.refresh`) then computes the formulas over the new data.

Customer ids and channels are written as inline strings (text stays text,
whatever it looks like), dates as serial numbers and amounts as numbers, each
cell with the style of the template's first data row in its column.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from ltvxl.a1 import col_letters, range_name

from .xlsx import (
    Package,
    SheetXml,
    WorkbookError,
    escape_text,
    number_text,
    write_package,
)

ROLES = {"id": ("customer_id", "customer", "id"), "date": ("date",),
         "amount": ("amount",), "channel": ("channel",)}


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


def fill_package(pkg: Package, data: Any, table: str = "Transactions") -> dict[str, bytes]:
    """The replaced parts (sheet and table XML) holding ``data`` in ``table``."""
    t = pkg.tables.get(table.upper())
    if t is None:
        raise WorkbookError(f"{pkg.path}: the template has no Excel table named {table}")
    if t.totals_rows:
        raise WorkbookError(f"{pkg.path}: table {t.name} has a totals row; remove it")
    sheet = pkg.sheet(t.sheet)
    sx = SheetXml(sheet.name, pkg.parts[sheet.part])
    r1, c1, _, c2 = t.ref
    roles = _role_columns(t.columns, t.name)
    p = sx.p
    styles: dict[int, str] = {}
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
                    styles[c] = m.group(1)
    for r in [r for r in sx.rows if r > r1]:
        del sx.rows[r]
    n = len(data)
    ids = [str(v) for v in data.ids]
    days = (np.asarray(data.dates, dtype="datetime64[D]").astype(np.int64) + 25569).tolist()
    amounts = np.asarray(data.amounts, dtype=float).tolist()
    channels = data.channels
    width = c2 - c1 + 1
    letters = [col_letters(c1 + j) for j in range(width)]
    s_attr = [f' s="{styles[c1 + j]}"' if (c1 + j) in styles else "" for j in range(width)]
    cid, cdate, camount = roles["id"], roles["date"], roles["amount"]
    cchannel = roles.get("channel")

    escaped: dict[str, str] = {}

    def texts(j: int, values: Any) -> list[str]:
        """The cells of one text column, built column-wise (labels escaped once)."""
        head, tail = f'"{s_attr[j]} t="inlineStr"><{p}is><{p}t', f"</{p}t></{p}is></{p}c>"
        out = []
        for r, v in enumerate(values, start=r1 + 1):
            body = escaped.get(v)
            if body is None:
                text = escape_text(v)
                space = ' xml:space="preserve"' if text != text.strip() else ""
                body = f"{space}>{text}"
                if len(escaped) < 10_000:
                    escaped[v] = body
            out.append(f'<{p}c r="{letters[j]}{r}{head}{body}{tail}')
        return out

    def numbers(j: int, values: list[Any]) -> list[str]:
        head, tail = f'"{s_attr[j]}><{p}v>', f"</{p}v></{p}c>"
        return [f'<{p}c r="{letters[j]}{r}{head}{number_text(v)}{tail}'
                for r, v in enumerate(values, start=r1 + 1)]

    columns: dict[int, list[str]] = {}
    if n:  # keys: positions in the table
        columns[cid] = texts(cid, ids)
        columns[cdate] = numbers(cdate, days)
        columns[camount] = numbers(camount, amounts)
        if cchannel is not None and channels is not None:
            columns[cchannel] = texts(cchannel, channels)
    order = sorted(columns)
    span = (c1 + order[0], c1 + order[-1]) if order else None
    for r, cells in enumerate(zip(*[columns[j] for j in order], strict=True), start=r1 + 1):
        sx.rows[r] = [f' r="{r}"', None, f'<{p}row r="{r}">{"".join(cells)}</{p}row>']
        sx._spans[r] = span
    if not n:
        sx.rows[r1 + 1] = [f' r="{r1 + 1}"', None, f'<{p}row r="{r1 + 1}"/>']
    del columns
    ref = range_name(r1, c1, r1 + max(n, 1), c2)
    table_xml = pkg.parts[t.part].decode("utf-8")
    table_xml = re.sub(r'(<(?:\w+:)?table\b[^>]*?\sref=")[^"]*"', rf'\g<1>{ref}"', table_xml,
                       count=1)
    table_xml = re.sub(r'(<(?:\w+:)?autoFilter\b[^>]*?\sref=")[^"]*"', rf'\g<1>{ref}"',
                       table_xml, count=1)
    return {sheet.part: sx.to_bytes(), t.part: table_xml.encode("utf-8")}


def fill_template(template: str | Path, data: Any, output: str | Path,
                  table: str = "Transactions") -> None:
    """Write a copy of ``template`` with ``data`` in its table (values not yet computed)."""
    from .xlsx import open_package

    pkg = open_package(template)
    write_package(pkg, fill_package(pkg, data, table), output)
