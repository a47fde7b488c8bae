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
- A row without a customer id is an error from worksheet ranges and arrays;
  from a file it is left out and counted (``missing_id="drop"``, the default
  of :class:`~.options.ReadOptions`; ``"error"`` refuses the file).
- Any other missing date, an unparseable date, a non-numeric or
  infinite amount, or columns of different lengths are errors naming the
  first offending row and column, e.g. ``dates row 17: "2024-13-01" is not a
  date``. Row numbers count from 1 at the first row of the range or file,
  header included, so they match what the user sees.
- Negative amounts are returns or refunds. By default (``negative="net"``)
  they are kept: they reduce the customer's revenue but are not purchases
  (they count as neither an order nor a purchase day). ``negative="drop"``
  excludes them (counted); ``negative="error"`` rejects the log at the first.

- Amounts of zero are kept (a purchase of nothing: free samples, adjustments)
  and counted.
- With order ids (``orders``), rows of one order are one purchase: order
  counts and average order values count orders, not rows.

Everything that is skipped, dropped or netted is counted in
:attr:`TransactionLog.counts` and described in :attr:`TransactionLog.notes`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import LtvxlError
from .amounts import parse_amounts
from .columns import (
    as_column,
    blank_mask,
    cells_column,
    check_lengths,
    check_text_length,
    row_teller,
)
from .dates import parse_dates, text_to_day
from .ids import format_id, parse_ids
from .number_text import looks_like_number
from .options import NEGATIVE_POLICIES, Negative, ReadOptions

__all__ = ["NEGATIVE_POLICIES", "Negative", "TransactionLog", "build"]


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
    orders: int64 order number of each row (rows of one order share it), or
      ``None`` when every row is its own purchase.
    columns: for a log read from a file, the column of each role and how it
      was read, e.g. ``{"id": "CustomerID", "date": "InvoiceDate (month-first)"}``.
    source: how the file itself was read (``"';'-delimited"``, ``"Windows-1252"``).

    Arrays read from a file may be read-only views of the reader's buffers (no copy):
    copy one before changing it in place.
    """

    codes: np.ndarray
    customers: np.ndarray
    dates: np.ndarray
    amounts: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    orders: np.ndarray | None = None
    columns: dict[str, str] = field(default_factory=dict)
    source: tuple[str, ...] = ()

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
        return [f"{kind}: {n:,}" for kind, n in self.counts.items() if n]

    @property
    def columns_line(self) -> str:
        """``columns: id=CustomerID, date=InvoiceDate (month-first), ...`` ("" for arrays)."""
        if not self.columns:
            return ""
        line = "columns: " + ", ".join(f"{role}={how}" for role, how in self.columns.items())
        return line + (f" [{', '.join(self.source)}]" if self.source else "")

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
            orders=None if self.orders is None else self.orders[rows],
            columns=dict(self.columns),
            source=self.source,
        )

    @classmethod
    def from_arrays(
        cls,
        ids: Any,
        dates: Any,
        amounts: Any,
        extra: Mapping[str, Any] | None = None,
        *,
        orders: Any = None,
        negative: Negative = "net",
        labels: Sequence[str] = ("ids", "dates", "amounts"),
        first_row: int = 1,
    ) -> TransactionLog:
        """Validate columns given as arrays, lists or pandas Series.

        orders: the order id of each row (optional: rows of one order are one
        purchase). labels: how the three columns are named in messages.
        first_row: the row number of the first element in messages (2 for a
        file with a header line).
        """
        cols = [as_column(v, lab) for v, lab in zip((ids, dates, amounts), labels, strict=True)]
        extras = {str(k): as_column(v, str(k)) for k, v in (extra or {}).items()}
        order_col = None if orders is None else as_column(orders, "orders")
        check_lengths(dict(zip(labels, cols, strict=True)) | extras
                      | ({} if order_col is None else {"orders": order_col}))
        return build(cols, extras, labels=labels, first_row=first_row, orders=order_col,
                     options=ReadOptions(negative=negative, missing_id="error"))

    @classmethod
    def from_cells(
        cls,
        ids: Any,
        dates: Any,
        amounts: Any,
        extra: Mapping[str, Any] | None = None,
        header: bool | None = None,
        *,
        orders: Any = None,
        negative: Negative = "net",
        labels: Sequence[str] = ("ids", "dates", "amounts"),
    ) -> TransactionLog:
        """Validate three worksheet ranges as xlwings passes them.

        Each range is a column (a list of one-cell rows), a row, a flat list
        or a single cell. ``header``: ``True`` when the first row holds
        column names, ``False`` when it holds data, ``None`` to detect it (a
        first row whose date and amount cells are texts that are not a date
        and not a number). ``extra``: further ranges of the same length by
        name (e.g. ``{"channel": range}``), with the same header row;
        ``orders``: an optional range of order ids, likewise. Amounts stored
        as text (``"1,234.50"``, ``"1 234,50 €"``) are read by the same rules
        as files (:mod:`.number_text`), the column deciding the decimal mark.
        Messages name the argument and the row within its range.
        """
        cols = [cells_column(v, lab) for v, lab in zip((ids, dates, amounts), labels, strict=True)]
        extras = {str(k): cells_column(v, str(k)) for k, v in (extra or {}).items()}
        order_col = None if orders is None else cells_column(orders, "orders")
        check_lengths(dict(zip(labels, cols, strict=True)) | extras
                      | ({} if order_col is None else {"orders": order_col}))
        if header is None:
            header = _looks_like_header(cols[1][0], cols[2][0])
        first_row = 1
        if header:
            cols = [c[1:] for c in cols]
            extras = {k: v[1:] for k, v in extras.items()}
            order_col = None if order_col is None else order_col[1:]
            first_row = 2
            if len(cols[0]) == 0:
                raise LtvxlError(f"{labels[0]} has a header row but no data")
        orders_named = {} if order_col is None else {"order_ids": order_col}
        for label, col in [*zip(labels, cols, strict=True), *extras.items(),
                           *orders_named.items()]:
            check_text_length(col, label, first_row)
        # amounts stored as text (1,234.50, 1 234,50 €) are read by the files' rules
        return build(cols, extras, labels=labels, first_row=first_row, orders=order_col,
                     options=ReadOptions(negative=negative, missing_id="error"),
                     text_numbers=True, cells=True)


def _looks_like_header(date_cell: Any, amount_cell: Any) -> bool:
    """A first row whose date and amount cells are texts that are neither a date nor a number
    (a number in any written form, ``1 234,50 €`` too)."""
    if not (isinstance(date_cell, str) and isinstance(amount_cell, str)):
        return False
    if text_to_day(date_cell) is not None:
        return False
    return not looks_like_number(amount_cell)


def order_codes(values: np.ndarray) -> np.ndarray:
    """int64 order number of each row: equal ids (as :func:`~.ids.format_id` writes them)
    share one; a row without an order id is an order of its own."""
    if values.dtype.kind in "iu":
        return pd.factorize(values)[0].astype(np.int64)
    raw, uniq = pd.factorize(values.astype(object) if values.dtype.kind != "f" else values)
    keys = pd.factorize(np.asarray([format_id(u) for u in uniq], dtype=object))[0]
    if not len(keys):  # every order id blank: each row an order of its own
        return np.arange(len(raw), dtype=np.int64)
    codes = np.where(raw >= 0, keys[np.maximum(raw, 0)], -1).astype(np.int64)
    lone = codes < 0
    if lone.any():
        codes[lone] = codes.max(initial=-1) + 1 + np.arange(int(lone.sum()))
    return codes


def build(
    cols: Sequence[np.ndarray],
    extras: dict[str, np.ndarray],
    *,
    labels: Sequence[str],
    first_row: int = 1,
    rows: np.ndarray | None = None,
    counts: dict[str, int] | None = None,
    orders: np.ndarray | None = None,
    options: ReadOptions | None = None,
    text_numbers: bool = False,
    cells: bool = False,
    columns: Mapping[str, str] | None = None,
    source: Sequence[str] = (),
    sheets: Sequence[str] | None = None,
) -> TransactionLog:
    """A log from its id, date and amount columns as 1-D arrays, by the module's policy.

    rows: the row number of each element for messages (default ``first_row``
    onwards); counts: what the caller already left out; text_numbers: amounts
    written as text are numbers; cells: the columns are worksheet ranges (for
    messages);
    columns, source: how a file was read, completed with how dates and
    amounts were read; sheets: the sheets of a log read from several (``rows``
    then say which, see :data:`~.columns.SHEET_ROWS`), named in messages.
    """
    opts = options or ReadOptions()
    counts = dict(counts or {})
    ids, dates, amounts = cols
    blank = blank_mask([ids, dates, amounts])
    if blank.any():
        keep = ~blank
        ids, dates, amounts = ids[keep], dates[keep], amounts[keep]
        extras = {k: v[keep] for k, v in extras.items()}
        orders = None if orders is None else orders[keep]
        counts["blank rows skipped"] = counts.get("blank rows skipped", 0) + int(blank.sum())
        rows = (np.arange(len(blank)) + first_row if rows is None else rows)[keep]
    if len(ids) == 0:
        raise LtvxlError(f"{labels[0]} has no data rows")

    row_of = row_teller(rows, first_row, sheets)

    no_id = blank_mask([ids])
    if no_id.any():
        if opts.missing_id == "error":
            hint = " (rows without one are left out with --missing-id drop)" if columns else ""
            raise LtvxlError(
                f"{labels[0]} row {row_of(int(np.argmax(no_id)))}: the customer id is missing"
                + hint)
        keep = ~no_id
        ids, dates, amounts = ids[keep], dates[keep], amounts[keep]
        extras = {k: v[keep] for k, v in extras.items()}
        orders = None if orders is None else orders[keep]
        rows = (np.arange(len(no_id)) + first_row if rows is None else rows)[keep]
        counts["rows without a customer id left out"] = int(no_id.sum())
        if len(ids) == 0:
            raise LtvxlError(f"{labels[0]}: no row has a customer id")
    codes, customers = parse_ids(ids, labels[0], row_of)
    days, date_how = parse_dates(dates, labels[1], row_of, dayfirst=opts.dayfirst,
                                 date_format=opts.date_format)
    amounts, amount_how = parse_amounts(amounts, labels[2], row_of, text=text_numbers,
                                        decimal=opts.decimal, thousands=opts.thousands,
                                        cells=cells)
    described = dict(columns or {})
    for role, how in (("date", date_how), ("amount", amount_how)):
        if how and role in described:
            described[role] = f"{described[role]} ({how})"
    zero = int(np.count_nonzero(amounts == 0))
    if zero:
        counts["zero-amount rows"] = zero
    order_of = None if orders is None else order_codes(orders)
    neg = amounts < 0
    n_neg = int(neg.sum())
    if n_neg:
        if opts.negative == "error":
            i = int(np.argmax(neg))
            raise LtvxlError(
                f"{labels[2]} row {row_of(i)}: {amounts[i]:g} is negative "
                "(returns are not accepted here)"
            )
        if opts.negative == "drop":
            keep = ~neg
            codes, days, amounts = codes[keep], days[keep], amounts[keep]
            extras = {k: v[keep] for k, v in extras.items()}
            order_of = None if order_of is None else order_of[keep]
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
        orders=order_of,
        columns=described,
        source=tuple(source),
    )
