"""OFFSET and INDIRECT: references computed when the formula is evaluated.

Their target is known only then, so the cells they read cannot be ordered in advance: the
engine evaluates such a formula when its other inputs are ready, and when the target holds
formula cells not computed yet, the formula waits for them (:class:`CellsNotReadyError`) and is
evaluated again after them; a target that leads back to the formula is a circular
reference. OFFSET's first argument is only a position: it is no input of the formula
(``=OFFSET(B5, -1, 0)`` in B5 reads B4 and is no circular reference).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
from formulas.tokens.operand import XlError

from ltvxl.a1 import MAX_COLS, MAX_ROWS, col_number

from .excel import CONTEXT, _cells
from .values import EMPTY, xlerror

DYNAMIC = ("OFFSET", "INDIRECT")
"""The functions whose references are computed at evaluation."""
INDIRECT_ALIAS = "_LTVXL_INDIRECT"
"""The name INDIRECT is written under in prepared formulas: ``formulas``' grammar reads
``INDIRECT(...)`` itself, as a reference to resolve when the formula is compiled."""


class CellsNotReadyError(Exception):
    """The target of OFFSET or INDIRECT holds formula cells not computed yet."""

    def __init__(self, cells: list[tuple[str, int, int]]) -> None:
        super().__init__(f"{len(cells)} cells not computed yet")
        self.cells = cells


Reader = Callable[[str, int, int, int, int], Any]
"""The engine's reader of a range as an input (a ``Ranges`` whose place is known), which
records in ``CONTEXT.not_ready`` the formula cells of the range not computed yet."""


def _scalar(v: Any) -> Any:
    arr, _ = _cells(v)
    return arr[0, 0] if arr.size == 1 else None


def _integer(v: Any, default: int | None = None) -> int | None:
    """A whole number argument (truncated, as Excel does); None when it is not one."""
    v = _scalar(v) if v is not None else None
    if v is None or v is EMPTY:
        return default if v is None else 0
    if isinstance(v, XlError):
        raise _Error(v)
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    if isinstance(v, str):
        try:
            v = float(v)
        except ValueError:
            raise _Error(xlerror("#VALUE!")) from None
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise _Error(xlerror("#VALUE!")) from None
    if not math.isfinite(f):
        raise _Error(xlerror("#NUM!"))
    return math.trunc(f)


class _Error(Exception):
    def __init__(self, err: Any) -> None:
        super().__init__(str(err))
        self.err = err


def _read(sheet: str, r1: int, c1: int, r2: int, c2: int) -> Any:
    if r1 < 1 or c1 < 1 or r2 > MAX_ROWS or c2 > MAX_COLS or r1 > r2 or c1 > c2:
        return xlerror("#REF!")
    reader = CONTEXT.reader
    if reader is None:
        return xlerror("#REF!")
    return reader(sheet, r1, c1, r2, c2)


def offset(reference: Any, rows: Any, cols: Any, height: Any = None, width: Any = None) -> Any:
    """OFFSET(reference, rows, cols, [height], [width]): the range ``rows`` below and ``cols``
    right of the reference's first cell, of the reference's size or the one given (at least
    1); #REF! beyond the sheet, #VALUE! for a reference that is not one."""
    arr, where = _cells(reference)
    if where is None:
        return xlerror("#VALUE!")
    sheet, r0, c0 = where
    try:
        dr, dc = _integer(rows, 0), _integer(cols, 0)
        h = _integer(height, arr.shape[0])
        w = _integer(width, arr.shape[1])
    except _Error as exc:
        return exc.err
    assert dr is not None and dc is not None and h is not None and w is not None
    if h < 1 or w < 1:
        return xlerror("#REF!")
    r1, c1 = r0 + dr, c0 + dc
    return _read(sheet, r1, c1, r1 + h - 1, c1 + w - 1)


_A1 = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d+)$")
_COLS = re.compile(r"^\$?([A-Za-z]{1,3}):\$?([A-Za-z]{1,3})$")
_ROWS = re.compile(r"^\$?(\d+):\$?(\d+)$")
_R1C1 = re.compile(r"^R(\[-?\d+\]|\d+)?C(\[-?\d+\]|\d+)?$", re.IGNORECASE)


def _a1_part(text: str) -> tuple[int, int, int, int] | None:
    m = _A1.match(text)
    if m:
        r, c = int(m.group(2)), col_number(m.group(1).upper())
        return r, c, r, c
    return None


def _r1c1_part(text: str, here: tuple[int, int]) -> tuple[int, int] | None:
    m = _R1C1.match(text)
    if not m:
        return None
    out = []
    for part, base in ((m.group(1), here[0]), (m.group(2), here[1])):
        if part is None:
            out.append(base)
        elif part.startswith("["):
            out.append(base + int(part[1:-1]))
        else:
            out.append(int(part))
    return out[0], out[1]


def parse_reference(text: str, a1: bool, sheet: str, here: tuple[int, int],
                    sheets: dict[str, str], names: Callable[[str], str | None]
                    ) -> tuple[str, int, int, int, int] | None:
    """(sheet, r1, c1, r2, c2) of a reference written as text (``B2``, ``'My Sheet'!$A$1:B3``,
    ``A:A``, ``2:2``, ``R2C3``, ``R[-1]C``, a defined name of a range); None when the text is
    no reference. ``sheets``: upper-case name -> name; ``here``: the formula's cell."""
    text = text.strip()
    if "!" in text:
        sname, text = text.rsplit("!", 1)
        if sname.startswith("'") and sname.endswith("'"):
            sname = sname[1:-1].replace("''", "'")
        target = sheets.get(sname.upper())
        if target is None:
            return None
        sheet = target
    elif names(text) is not None:
        value = names(text) or ""
        found = parse_reference(value.lstrip("="), True, sheet, here, sheets, lambda _: None)
        return found
    parts = text.split(":")
    if len(parts) > 2:
        return None
    if a1:
        if len(parts) == 2:
            m = _COLS.match(text)
            if m:
                a, b = sorted((col_number(m.group(1).upper()), col_number(m.group(2).upper())))
                return sheet, 1, a, MAX_ROWS, b
            m = _ROWS.match(text)
            if m:
                a, b = sorted((int(m.group(1)), int(m.group(2))))
                return sheet, a, 1, b, MAX_COLS
        cells = [_a1_part(p) for p in parts]
    else:
        found = [_r1c1_part(p, here) for p in parts]
        cells = [(f[0], f[1], f[0], f[1]) if f else None for f in found]
    if any(c is None for c in cells):
        return None
    rs = [c[0] for c in cells if c] + [c[2] for c in cells if c]
    cs = [c[1] for c in cells if c] + [c[3] for c in cells if c]
    return sheet, min(rs), min(cs), max(rs), max(cs)


def indirect(_placeholder: Any, ref_text: Any, a1: Any = True) -> Any:
    """INDIRECT(ref_text, [a1]): the reference a text names (A1 style, or R1C1 when ``a1``
    is FALSE, relative to the formula's cell); #REF! for a text that names none. The first
    parameter is the prepared formula's placeholder (:data:`INDIRECT_ALIAS`)."""
    text = _scalar(ref_text)
    if isinstance(text, XlError):
        return text
    if not isinstance(text, str) or text is EMPTY:
        return xlerror("#REF!")
    style = _scalar(a1) if a1 is not None else True
    if isinstance(style, XlError):
        return style
    a1_style = True if style is EMPTY else bool(style)
    where = CONTEXT.current
    if where is None or CONTEXT.sheets is None or CONTEXT.names is None:
        return xlerror("#REF!")
    found = parse_reference(text, a1_style, where[0], (where[1], where[2]), CONTEXT.sheets,
                            CONTEXT.names)
    if found is None:
        return xlerror("#REF!")
    return _read(*found)


OVERRIDES: dict[str, tuple[Callable[..., Any], str]] = {
    "OFFSET": (offset, "ltvxl: the reference computed at evaluation, its cells waited for"),
    "INDIRECT": (indirect, "ltvxl: A1 and R1C1 texts, sheets and defined names"),
    INDIRECT_ALIAS: (indirect, ""),  # as prepared formulas call it (INDIRECT is never called)
}
