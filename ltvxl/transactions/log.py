"""A validated transaction log: customer id, date and amount of each purchase.

A :class:`TransactionLog` is built from in-memory arrays
(:meth:`TransactionLog.from_arrays`), from worksheet ranges as xlwings passes
them (:meth:`TransactionLog.from_cells`) or from a CSV, Parquet or XLSX file
(:func:`~ltvxl.transactions.readers.read_transactions`). Whatever the source, the
log holds customer ids as text (:mod:`.ids`), dates as ``numpy.datetime64[D]``
(:mod:`.dates`: the log is by day, a time of day is dropped) and amounts as
float64 in the user's currency (:mod:`.amounts`). This module holds the log
and its policy.

Rules (the documented policy):

- A row whose id, date and amount are all blank is skipped and counted.
- Any other missing id or date, an unparseable date, a non-numeric or
  infinite amount, or columns of different lengths are errors naming the
  first offending row and column, e.g. ``dates row 17: "2024-13-01" is not a
  date``. Row numbers count from 1 at the first row of the range or file,
  header included, so they match what the user sees.
- Negative amounts are returns or refunds. By default (``negative="net"``)
  they are kept: they reduce the customer's revenue but are not purchases
  (they count as neither an order nor a purchase day). ``negative="drop"``
  excludes them (counted); ``negative="error"`` rejects the log at the first.

Everything that is skipped, dropped or netted is counted in
:attr:`TransactionLog.counts` and described in :attr:`TransactionLog.notes`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..errors import LtvxlError, clip
from .amounts import parse_amounts
from .columns import as_column, blank_mask, cells_column, check_lengths, check_text_length
from .dates import parse_dates, text_to_day
from .ids import parse_ids

Negative = Literal["net", "drop", "error"]
NEGATIVE_POLICIES: tuple[str, ...] = ("net", "drop", "error")


@dataclass(eq=False)
class TransactionLog:
    """A validated transaction log, one entry per transaction row.

    codes: integer (int32 or int64) index of each row's customer into :attr:`customers`.
    customers: the distinct customer ids (str), numbers in numeric order
      first, then texts in text order.
    dates: ``datetime64[D]`` date of each row.
    amounts: float64 amount of each row (negative: a return, see the module).
    extra: further columns by name (e.g. ``"channel"``), one value per row.
    counts: what was excluded or treated specially, by kind, e.g.
      ``{"blank rows skipped": 3, "returns netted": 12}``.

    Arrays read from a file may be read-only views of the reader's buffers (no copy):
    copy one before changing it in place.
    """

    codes: np.ndarray
    customers: np.ndarray
    dates: np.ndarray
    amounts: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    @property
    def ids(self) -> np.ndarray:
        """The customer id (str) of each row."""
        return self.customers[self.codes]

    @property
    def days(self) -> np.ndarray:
        """Dates as int64 days since 1970-01-01 (a view, no copy)."""
        return self.dates.view(np.int64)

    @property
    def notes(self) -> list[str]:
        """One sentence per kind of excluded or specially treated row."""
        return [f"{kind}: {n}" for kind, n in self.counts.items() if n]

    def take(self, rows: np.ndarray) -> TransactionLog:
        """A new log of the selected rows (a boolean mask or indices); counts are kept."""
        codes = self.codes[rows]
        used, new_codes = np.unique(codes, return_inverse=True)
        return TransactionLog(
            codes=new_codes.astype(self.codes.dtype).reshape(-1),
            customers=self.customers[used],
            dates=self.dates[rows],
            amounts=self.amounts[rows],
            extra={k: v[rows] for k, v in self.extra.items()},
            counts=dict(self.counts),
        )

    @classmethod
    def from_arrays(
        cls,
        ids: Any,
        dates: Any,
        amounts: Any,
        extra: Mapping[str, Any] | None = None,
        *,
        negative: Negative = "net",
        labels: Sequence[str] = ("ids", "dates", "amounts"),
        first_row: int = 1,
    ) -> TransactionLog:
        """Validate columns given as arrays, lists or pandas Series.

        labels: how the three columns are named in messages. first_row: the
        row number of the first element in messages (2 for a file with a
        header line).
        """
        cols = [as_column(v, lab) for v, lab in zip((ids, dates, amounts), labels, strict=True)]
        extras = {str(k): as_column(v, str(k)) for k, v in (extra or {}).items()}
        check_lengths(dict(zip(labels, cols, strict=True)) | extras)
        blank = blank_mask(cols)
        counts: dict[str, int] = {}
        if blank.any():
            keep = ~blank
            cols = [c[keep] for c in cols]
            extras = {k: v[keep] for k, v in extras.items()}
            counts["blank rows skipped"] = int(blank.sum())
            rows = np.flatnonzero(keep) + first_row
        else:
            rows = None
        return _build(cols, extras, labels, first_row, rows, negative, counts)

    @classmethod
    def from_cells(
        cls,
        ids: Any,
        dates: Any,
        amounts: Any,
        extra: Mapping[str, Any] | None = None,
        header: bool | None = None,
        *,
        negative: Negative = "net",
        labels: Sequence[str] = ("ids", "dates", "amounts"),
    ) -> TransactionLog:
        """Validate three worksheet ranges as xlwings passes them.

        Each range is a column (a list of one-cell rows), a row, a flat list
        or a single cell. ``header``: ``True`` when the first row holds
        column names, ``False`` when it holds data, ``None`` to detect it (a
        first row whose date and amount cells are texts that are not a date
        and not a number). ``extra``: further ranges of the same length by
        name (e.g. ``{"channel": range}``), with the same header row.
        Messages name the argument and the row within its range.
        """
        cols = [cells_column(v, lab) for v, lab in zip((ids, dates, amounts), labels, strict=True)]
        extras = {str(k): cells_column(v, str(k)) for k, v in (extra or {}).items()}
        check_lengths(dict(zip(labels, cols, strict=True)) | extras)
        if header is None:
            header = _looks_like_header(cols[1][0], cols[2][0])
        first_row = 1
        if header:
            cols = [c[1:] for c in cols]
            extras = {k: v[1:] for k, v in extras.items()}
            first_row = 2
            if len(cols[0]) == 0:
                raise LtvxlError(f"{labels[0]} has a header row but no data")
        for label, col in [(labels[0], cols[0]), *extras.items()]:
            check_text_length(col, label, first_row)
        return cls.from_arrays(
            cols[0], cols[1], cols[2], extras, negative=negative, labels=labels,
            first_row=first_row,
        )


def _looks_like_header(date_cell: Any, amount_cell: Any) -> bool:
    """A first row whose date and amount cells are texts that are neither a date nor a number."""
    if not (isinstance(date_cell, str) and isinstance(amount_cell, str)):
        return False
    if text_to_day(date_cell) is not None:
        return False
    try:
        float(amount_cell.strip())
    except ValueError:
        return True
    return False


def _build(
    cols: list[np.ndarray],
    extras: dict[str, np.ndarray],
    labels: Sequence[str],
    first_row: int,
    rows: np.ndarray | None,
    negative: str,
    counts: dict[str, int],
) -> TransactionLog:
    if negative not in NEGATIVE_POLICIES:
        choices = ", ".join(NEGATIVE_POLICIES)
        raise LtvxlError(f"negative must be one of {choices}; got {clip(repr(negative), 40)}")
    if len(cols[0]) == 0:
        raise LtvxlError(f"{labels[0]} has no data rows")

    def row_of(i: int) -> int:
        return int(rows[i]) if rows is not None else i + first_row

    codes, customers = parse_ids(cols[0], labels[0], row_of)
    days = parse_dates(cols[1], labels[1], row_of)
    amounts = parse_amounts(cols[2], labels[2], row_of)
    neg = amounts < 0
    n_neg = int(neg.sum())
    if n_neg:
        if negative == "error":
            i = int(np.argmax(neg))
            raise LtvxlError(
                f"{labels[2]} row {row_of(i)}: {amounts[i]:g} is negative "
                "(returns are not accepted here)"
            )
        if negative == "drop":
            keep = ~neg
            codes, days, amounts = codes[keep], days[keep], amounts[keep]
            extras = {k: v[keep] for k, v in extras.items()}
            used, codes = np.unique(codes, return_inverse=True)
            customers = customers[used]
            counts["returns dropped (negative amounts)"] = n_neg
        else:
            counts["returns netted (negative amounts)"] = n_neg
    return TransactionLog(
        codes=np.asarray(codes).reshape(-1),
        customers=customers,
        dates=np.ascontiguousarray(days, dtype=np.int64).view("datetime64[D]"),
        amounts=amounts,
        extra=extras,
        counts=counts,
    )


