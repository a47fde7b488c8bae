"""Numbers written as text the way exports write them, in any locale.

``1,234.56``, ``1.234,56``, ``1 234,56`` (ordinary, no-break or narrow
no-break spaces), ``1'234.56``, currency symbols and codes before or after
the number (``€ £ $ ¥ CHF EUR``), negatives as ``-12``, ``(12.00)`` or
``12-``. Which mark is the decimal one is decided from the whole column:
``12,5`` or ``1.234,56`` say the comma is decimal, ``1,234,567`` says it
groups thousands; a column whose every separator could be either (only
``1,234``-like values) is an error asking for ``--decimal`` or
``--thousands``, and so is a column that says both.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import LtvxlError

_CURRENCY = (r"(?:R\$|US\$|C\$|A\$|[€£$¥₹₽¢₩]|CHF|EUR|USD|GBP|JPY|CAD|AUD|NZD|SEK|NOK|DKK|"
             r"PLN|CZK|HUF|INR|CNY|RMB|BRL|MXN|ZAR|HKD|SGD|TRY|Fr\.|kr\.?|zł|Kč|Ft)")
_GROUP_MARKS = " \u00a0\u202f\u2009'’"
_SPACES = str.maketrans("", "", _GROUP_MARKS)
_CORE = re.compile(r"^\d[\d.,]*$")
_SCIENTIFIC = re.compile(r"^\d+(?:\.\d+)?[eE][+-]?\d+$")
_GROUPED = re.compile(r"^\d{1,3}(?:[ \u00a0\u202f\u2009'’]\d{3})+(?:[.,]\d*)?$")


@dataclass
class _Text:
    """One text taken apart: sign, digits and marks, and what its marks say."""

    negative: bool
    core: str
    currency: str
    grouped: bool  # thousands written with spaces or apostrophes
    decimal: str | None = None  # the mark this text shows to be decimal
    thousands: str | None = None  # the mark this text shows to group thousands
    ambiguous: str | None = None  # a single mark that could be either


_WHOLE = re.compile(
    r"^\s*(?P<open>\()?\s*(?P<s1>[-−+])?\s*(?P<c1>" + _CURRENCY + r")?\s*(?P<s2>[-−+])?\s*"
    r"(?P<num>\d[\d.,'’ \u00a0\u202f\u2009]*?(?:[eE][+-]?\d+)?)"
    r"\s*(?P<c2>" + _CURRENCY + r")?\s*(?P<s3>[-−])?\s*(?P<close>\))?\s*"
    r"(?P<c3>" + _CURRENCY + r")?\s*$")


def _split(text: str) -> _Text | None:
    m = _WHOLE.match(text)
    if m is None or bool(m.group("open")) != bool(m.group("close")):
        return None
    signs = [m.group(k) for k in ("s1", "s2", "s3") if m.group(k)]
    if len(signs) > 1:
        return None
    negative = bool(m.group("open")) or (bool(signs) and signs[0] in ("-", "−"))
    currency = m.group("c1") or m.group("c2") or m.group("c3") or ""
    s = m.group("num")
    s = s.strip()
    grouped = any(ch in s for ch in _GROUP_MARKS) and bool(_GROUPED.match(s))
    core = s.translate(_SPACES) if grouped else s
    if ("e" in core or "E" in core) and _SCIENTIFIC.match(core):
        return _Text(negative, core, currency, False, decimal=".")
    if not core.isdigit() and not _CORE.match(core):
        return None
    t = _Text(negative, core, currency, grouped)
    dots, commas = core.count("."), core.count(",")
    if dots and commas:
        last = "." if core.rfind(".") > core.rfind(",") else ","
        other = "," if last == "." else "."
        if core.count(last) > 1 or core.rfind(other) > core.rfind(last):
            return None
        t.decimal, t.thousands = last, other
    elif dots + commas:
        mark = "." if dots else ","
        head, _, tail = core.partition(mark)
        if dots + commas > 1:
            t.thousands = mark
        elif grouped or len(tail) != 3 or len(head) > 3 or head == "0":
            t.decimal = mark
        else:
            t.ambiguous = mark
    return t


@dataclass
class Dialect:
    """How a column writes its numbers: the decimal and thousands marks it uses."""

    decimal: str
    thousands: str | None
    currencies: tuple[str, ...] = ()
    parentheses: bool = False

    def describe(self) -> str:
        """``decimal ','; thousands ' '; currency €``, as the columns line says it."""
        parts = [f"decimal '{self.decimal}'"]
        if self.thousands:
            parts.append(f"thousands '{self.thousands}'")
        if self.currencies:
            parts.append("currency " + " ".join(self.currencies))
        if self.parentheses:
            parts.append("negatives in parentheses")
        return ", ".join(parts)


def _row_text(example_row: object, i: int) -> str:
    return f" row {example_row(i)}" if callable(example_row) else ""


CELLS_REMEDY = "enter the amounts as numbers, not text (Data > Text to Columns converts them)"
"""What a worksheet user does about a column of number texts whose marks cannot be told
apart (there is no --decimal option in a cell)."""


def looks_like_number(text: str) -> bool:
    """Whether a text is written like a number (in any of the module's forms)."""
    return _split(text) is not None


def _column_marks(shown: dict[str, int], texts: Sequence[str], label: str, example_row: object,
                  decimal: str | None, thousands: str | None,
                  cells: bool = False) -> tuple[str, str]:
    """(decimal mark, thousands mark) of a column from what its texts show (``shown``: the
    first text index showing each mark, as ``decimal,``, ``thousands.``, ``ambiguous,``);
    ``cells``: messages give the worksheet's remedy instead of the options'."""
    def row(i: int) -> str:
        return _row_text(example_row, i)

    for bad in (".", ","):
        if f"decimal{bad}" in shown and f"thousands{bad}" in shown and decimal is None \
                and thousands is None:
            a, b = shown[f"decimal{bad}"], shown[f"thousands{bad}"]
            raise LtvxlError(
                f'{label}: "{texts[a]}"{row(a)} writes "{bad}" as a decimal mark and '
                f'"{texts[b]}"{row(b)} as a thousands separator: ' +
                (CELLS_REMEDY if cells else "say which with --decimal or --thousands")
            )
    if decimal is None:
        if thousands in (",", "."):
            decimal = "," if thousands == "." else "."
        else:
            said = {m for m in ".," if f"decimal{m}" in shown} | \
                   {("," if m == "." else ".") for m in ".," if f"thousands{m}" in shown}
            if len(said) > 1:
                a = shown.get("decimal.", shown.get("thousands,"))
                b = shown.get("decimal,", shown.get("thousands."))
                raise LtvxlError(
                    f'{label}: "{texts[a]}"{row(a)} has a decimal point and "{texts[b]}"'
                    f"{row(b)} a decimal comma: " +
                    (CELLS_REMEDY if cells else "say which with --decimal . or --decimal ,")
                )
            if said:
                decimal = said.pop()
            else:
                amb = [shown[k] for k in ("ambiguous,", "ambiguous.") if k in shown]
                if amb:
                    i = amb[0]
                    part = _split(texts[i])
                    mark = part.ambiguous
                    whole = texts[i].strip()
                    other = "." if mark == "," else ","
                    remedy = (
                        f"{CELLS_REMEDY}, or write the decimals "
                        f'("{part.core}{other}00" if "{mark}" groups thousands)' if cells else
                        f"say which with --decimal {other} (then \"{mark}\" groups thousands) "
                        f"or --decimal {mark}")
                    raise LtvxlError(
                        f'{label}: "{whole}"{row(i)} could be '
                        f'{part.core.replace(mark, "")} or {part.core.replace(mark, ".")}'
                        f" and no value of the column decides: {remedy}"
                    )
                decimal = "."
    group = thousands if thousands is not None else ("," if decimal == "." else ".")
    return decimal, group


def _marks_shown(parts: Sequence[_Text | None], first: Sequence[int]) -> dict[str, int]:
    """The first text index showing each mark; ``first[k]``: the first index of part k."""
    shown: dict[str, int] = {}
    for p, i in zip(parts, first, strict=True):
        if p is None:
            continue
        for key in ("decimal", "thousands", "ambiguous"):
            mark = getattr(p, key)
            if mark is not None:
                shown[f"{key}{mark}"] = min(shown.get(f"{key}{mark}", i), i)
    return shown


def _checked_core(p: _Text, decimal: str, group: str) -> tuple[str | None, bool]:
    """(the text's core in Python's float syntax, or None when the column's marks refuse
    it; whether its thousands mark grouped it)."""
    core = p.core
    grouped_here = False
    if group and group in core:
        head, *groups = core.split(group)
        if not (1 <= len(head) <= 3 and all(len(g) == 3 for g in groups[:-1]) and
                len(groups[-1].split(decimal)[0]) == 3):
            return None, False
        core = core.replace(group, "")
        grouped_here = True
    if core.count(decimal) > 1 or (decimal != "." and "." in core) or \
            (decimal != "," and "," in core):
        return None, grouped_here
    return core.replace(decimal, "."), grouped_here


def _dialect(decimal: str, group: str, used_group: bool, space_group: bool,
             currencies: dict[str, None], parens: bool) -> Dialect:
    return Dialect(decimal, (" " if space_group else group) if used_group else None,
                   tuple(currencies)[:3], parens)


def parse_number_texts_each(
    texts: Sequence[str],
    label: str,
    example_row: object = None,
    *,
    decimal: str | None = None,
    thousands: str | None = None,
    cells: bool = False,
) -> tuple[np.ndarray, Dialect | None]:
    """:func:`parse_number_texts` text by text: the plain reference the fast path is
    tested against (and the path for a few texts)."""
    parts = [_split(t) for t in texts]
    shown = _marks_shown(parts, range(len(parts)))
    decimal, group = _column_marks(shown, texts, label, example_row, decimal, thousands,
                                   cells)
    out = np.full(len(texts), np.nan)
    used_group = False
    currencies: dict[str, None] = {}
    parens = False
    for i, p in enumerate(parts):
        if p is None:
            continue
        core, grouped_here = _checked_core(p, decimal, group)
        used_group |= grouped_here
        if core is None:
            continue
        try:
            value = float(core)
        except ValueError:
            continue
        out[i] = -value if p.negative else value
        used_group |= p.grouped
        if p.currency:
            currencies[p.currency] = None
        parens |= p.negative and texts[i].strip().startswith("(")
    space_group = any(p is not None and p.grouped for p in parts)
    return out, _dialect(decimal, group, used_group, space_group, currencies, parens)


# Texts that differ only in which digits 1-9 they hold are taken apart the same way (the
# marks, lengths and groups are what decide; a lone "0" before a mark is kept apart):
# each distinct shape is taken apart once, and the digits of all its texts are read at
# once as integers (exactly: a float of at most 15 digits, divided by a power of ten,
# is the correctly rounded value that float() gives).
_SHAPE = str.maketrans("23456789", "11111111")
_EXACT_DIGITS = 15
_FEW = 64  # below this many texts, text by text is as quick


def parse_number_texts(
    texts: Sequence[str],
    label: str,
    example_row: object = None,
    *,
    decimal: str | None = None,
    thousands: str | None = None,
    cells: bool = False,
) -> tuple[np.ndarray, Dialect | None]:
    """(float64 value of each text, NaN where it is not a number; the column's dialect).

    ``example_row(i)``: the row number of text ``i`` for messages; ``cells``: the texts
    are worksheet cells (messages give a worksheet's remedy, not options). The same values
    and messages as :func:`parse_number_texts_each`, each distinct shape of text
    (digits 1-9 alike) taken apart once.
    """
    if len(texts) < _FEW:
        return parse_number_texts_each(texts, label, example_row, decimal=decimal,
                                       thousands=thousands, cells=cells)
    codes, shapes = pd.factorize(np.asarray([t.translate(_SHAPE) for t in texts],
                                            dtype=object))
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(shapes) + 1))
    members = [order[bounds[k]:bounds[k + 1]] for k in range(len(shapes))]
    first = [int(m[0]) for m in members]  # shapes are numbered in order of appearance
    parts = [_split(sh) for sh in shapes]
    shown = _marks_shown(parts, first)
    decimal, group = _column_marks(shown, texts, label, example_row, decimal, thousands,
                                   cells)
    out = np.full(len(texts), np.nan)
    used_group = False
    currencies: dict[str, None] = {}
    parens = False
    for shape, p, rows in zip(shapes, parts, members, strict=True):
        if p is None:
            continue
        core, grouped_here = _checked_core(p, decimal, group)
        used_group |= grouped_here
        if core is None:
            continue
        values = _shape_values(shape, core, [texts[i] for i in rows], decimal, group)
        ok = ~np.isnan(values)
        if not ok.any():
            continue
        out[rows] = -values if p.negative else values
        used_group |= p.grouped
        if p.currency:
            currencies[p.currency] = None
        parens |= p.negative and shape.strip().startswith("(")
    space_group = any(p is not None and p.grouped for p in parts)
    return out, _dialect(decimal, group, used_group, space_group, currencies, parens)


def _shape_values(shape: str, core: str, texts: list[str], decimal: str,
                  group: str) -> np.ndarray:
    """The values of texts of one shape whose core (in float syntax) is ``core``."""
    m = _WHOLE.match(shape)
    lo, hi = m.start("num"), m.end("num")
    digits = [j for j in range(lo, hi) if shape[j] in "01"]
    fast = len(digits) <= _EXACT_DIGITS and "e" not in core and "E" not in core and \
        sum(ch.isdigit() for ch in shape[lo:hi]) == len(digits)
    if not fast:  # exponents, other scripts' digits, long numbers: float() text by text
        out = np.full(len(texts), np.nan)
        for k, t in enumerate(texts):
            p = _split(t)
            c = None if p is None else _checked_core(p, decimal, group)[0]
            with contextlib.suppress(ValueError, TypeError):
                out[k] = float(c)
        return out
    point = core.find(".")
    after = 0 if point < 0 else len(core) - point - 1
    codes = np.array(texts, dtype=f"<U{len(shape)}").view(np.uint32).reshape(len(texts), -1)
    d = codes[:, digits].astype(np.int64) - 48
    whole = d @ (10 ** np.arange(len(digits) - 1, -1, -1, dtype=np.int64))
    return whole / 10.0 ** after
