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

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

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


def parse_number_texts(
    texts: Sequence[str],
    label: str,
    example_row: object = None,
    *,
    decimal: str | None = None,
    thousands: str | None = None,
) -> tuple[np.ndarray, Dialect | None]:
    """(float64 value of each text, NaN where it is not a number; the column's dialect).

    ``example_row(i)``: the row number of text ``i`` for messages.
    """
    def row(i: int) -> str:
        return f" row {example_row(i)}" if callable(example_row) else ""

    parts = [_split(t) for t in texts]
    shown: dict[str, int] = {}
    for i, p in enumerate(parts):
        if p is None:
            continue
        for key in ("decimal", "thousands", "ambiguous"):
            mark = getattr(p, key)
            if mark is not None:
                shown.setdefault(f"{key}{mark}", i)
    for bad in (".", ","):
        if f"decimal{bad}" in shown and f"thousands{bad}" in shown and decimal is None \
                and thousands is None:
            a, b = shown[f"decimal{bad}"], shown[f"thousands{bad}"]
            raise LtvxlError(
                f'{label}: "{texts[a]}"{row(a)} writes "{bad}" as a decimal mark and '
                f'"{texts[b]}"{row(b)} as a thousands separator: say which with --decimal or '
                "--thousands"
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
                    f"{row(b)} a decimal comma: say which with --decimal . or --decimal ,"
                )
            if said:
                decimal = said.pop()
            else:
                amb = [shown[k] for k in ("ambiguous,", "ambiguous.") if k in shown]
                if amb:
                    i = amb[0]
                    mark = parts[i].ambiguous
                    whole = texts[i].strip()
                    raise LtvxlError(
                        f'{label}: "{whole}"{row(i)} could be '
                        f'{parts[i].core.replace(mark, "")} or {parts[i].core.replace(mark, ".")}'
                        f" and no value of the column decides: say which with --decimal "
                        f"{'.' if mark == ',' else ','} (then \"{mark}\" groups thousands) or "
                        f"--decimal {mark}"
                    )
                decimal = "."
    group = thousands if thousands is not None else ("," if decimal == "." else ".")
    out = np.full(len(texts), np.nan)
    used_group = False
    currencies: dict[str, None] = {}
    parens = False
    for i, p in enumerate(parts):
        if p is None:
            continue
        core = p.core
        if group and group in core:
            head, *groups = core.split(group)
            if not (1 <= len(head) <= 3 and all(len(g) == 3 for g in groups[:-1]) and
                    len(groups[-1].split(decimal)[0]) == 3):
                continue
            core = core.replace(group, "")
            used_group = True
        if core.count(decimal) > 1 or (decimal != "." and "." in core) or \
                (decimal != "," and "," in core):
            continue
        try:
            value = float(core.replace(decimal, "."))
        except ValueError:
            continue
        out[i] = -value if p.negative else value
        used_group |= p.grouped
        if p.currency:
            currencies[p.currency] = None
        parens |= p.negative and texts[i].strip().startswith("(")
    space_group = any(p is not None and p.grouped for p in parts)
    dialect = Dialect(decimal, (" " if space_group else group) if used_group else None,
                      tuple(currencies)[:3], parens)
    return out, dialect
