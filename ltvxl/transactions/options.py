"""How to read a transaction file: every choice the readers would otherwise detect.

One :class:`ReadOptions` carries what the user said (``--id-col``,
``--decimal`` ...) from the command line or a Python call down to the readers;
a field left ``None`` is detected from the file, and what was detected is
said in the log's ``columns:`` line.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

from ..errors import LtvxlError, clip

Negative = Literal["net", "drop", "error"]
NEGATIVE_POLICIES: tuple[str, ...] = ("net", "drop", "error")
MissingId = Literal["drop", "error"]
MISSING_ID_POLICIES: tuple[str, ...] = ("drop", "error")
DELIMITERS: dict[str, str] = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
"""The delimiters a CSV file is sniffed for, with their names."""


@dataclass(frozen=True)
class ReadOptions:
    """What to read and how (``None``: detect it from the file).

    id_col, date_col, amount_col, quantity_col, price_col, order_col,
      channel_col: the column of each role (see :mod:`.headers`); the amount is
      quantity x price when there is no amount column.
    extra_cols: further columns to keep (default every other column; ``()`` none).
    sheet: the sheet of a workbook (name or 0-based index; default the first),
      or ``"all"`` for every sheet with the first one's columns, read as one log.
    header_row: the 1-based row of the column names (default: found under any
      title or preamble rows).
    delimiter: ``,`` ``;`` tab or ``|`` (CSV); encoding: a Python codec name.
    decimal, thousands: the decimal mark and thousands separator of amounts
      written as text (``","`` and ``"."`` for ``1.234,56``).
    date_format: strftime codes of dates written as text (``%d.%m.%Y``);
      dayfirst: ``True`` for 31/01/2024, ``False`` for 01/31/2024.
    missing_id: ``"drop"`` rows without a customer id (counted) or ``"error"``.
    drop_duplicates: drop exact duplicate rows (they are always counted).
    negative: returns (negative amounts) ``"net"``, ``"drop"`` or ``"error"``.
    """

    id_col: str | None = None
    date_col: str | None = None
    amount_col: str | None = None
    quantity_col: str | None = None
    price_col: str | None = None
    order_col: str | None = None
    channel_col: str | None = None
    extra_cols: tuple[str, ...] | None = None
    sheet: str | int | None = None
    header_row: int | None = None
    delimiter: str | None = None
    encoding: str | None = None
    decimal: str | None = None
    thousands: str | None = None
    date_format: str | None = None
    dayfirst: bool | None = None
    missing_id: MissingId = "drop"
    drop_duplicates: bool = False
    negative: Negative = "net"

    def __post_init__(self) -> None:
        if self.missing_id not in MISSING_ID_POLICIES:
            raise LtvxlError(f'missing_id must be drop or error; got "{self.missing_id}"')
        if self.negative not in NEGATIVE_POLICIES:
            choices = ", ".join(NEGATIVE_POLICIES)
            got = clip(repr(self.negative), 40)
            raise LtvxlError(f"negative must be one of {choices}; got {got}")
        if self.delimiter is not None and self.delimiter not in DELIMITERS:
            word = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
            if str(self.delimiter).lower() not in word:
                raise LtvxlError(f'delimiter must be one of , ; tab |; got "{self.delimiter}"')
            object.__setattr__(self, "delimiter", word[str(self.delimiter).lower()])
        for name in ("decimal", "thousands"):
            mark = getattr(self, name)
            if mark is not None:
                object.__setattr__(self, name, _mark(mark, name))
        if self.decimal is not None and self.decimal == self.thousands:
            raise LtvxlError("decimal and thousands must be different marks")
        if self.header_row is not None and (int(self.header_row) < 1):
            raise LtvxlError(f"header_row must be 1 or more; got {self.header_row}")
        if self.extra_cols is not None:
            object.__setattr__(self, "extra_cols", tuple(self.extra_cols))

    def roles(self) -> dict[str, str | None]:
        """The columns the user named, by role."""
        return {role: getattr(self, f"{role}_col") for role in
                ("id", "date", "amount", "quantity", "price", "order", "channel")}

    def replace(self, **changes: Any) -> ReadOptions:
        """A copy with ``changes`` (``None`` values leave a field as it is)."""
        known = {f.name for f in fields(self)}
        kept = {k: v for k, v in changes.items() if v is not None and k in known}
        return ReadOptions(**{**{f.name: getattr(self, f.name) for f in fields(self)}, **kept})


_MARKS = {"comma": ",", "point": ".", "dot": ".", "period": ".", "space": " ",
          "apostrophe": "'", "none": "", "": ""}


def _mark(mark: str, name: str) -> str:
    text = str(mark)
    if text.lower() in _MARKS:
        return _MARKS[text.lower()]
    if text in (",", ".", " ", "'", "\u00a0", "\u202f"):
        return " " if text in ("\u00a0", "\u202f") else text
    raise LtvxlError(f'{name} must be "," "." " " or "\'" (or comma, point, space); got "{mark}"')
