"""A validated transaction log: customer id, date and amount of each purchase.

A :class:`TransactionLog` is built from in-memory arrays
(:meth:`TransactionLog.from_arrays`), from worksheet ranges as xlwings passes
them (:meth:`TransactionLog.from_cells`) or from a CSV, Parquet or XLSX file
(:func:`read_transactions`). Whatever the source, the log holds:

- customer ids as text: the number 1001, the number 1001.0 and the text
  ``"1001"`` (spaces around it ignored) are the same customer ``"1001"``;
  text ids are otherwise kept as typed (``"007"`` is not ``"7"``);
- dates as ``numpy.datetime64[D]``: the log is by day, a time of day is
  dropped. Accepted: dates and datetimes, Excel serial numbers (1 to
  2958465, the 1900 date system), ISO texts ``2024-01-31`` (a time after it is
  ignored; ``/`` or ``.`` may separate year, month and day) and 8-digit
  numbers or texts ``20240131``;
- amounts as float64 in the user's currency.

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

import csv
import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..cells import describe
from ..errors import MAX_CELL_TEXT, LtvxlError, clip, is_cell_error

Negative = Literal["net", "drop", "error"]
NEGATIVE_POLICIES: tuple[str, ...] = ("net", "drop", "error")

EXCEL_EPOCH_DAY = int(np.datetime64("1899-12-30", "D").astype(np.int64))
"""Day number (days since 1970-01-01) of Excel serial 0 in the 1900 date system."""
MAX_SERIAL = 2958465  # 9999-12-31
_ORDINAL_1970 = dt.date(1970, 1, 1).toordinal()
_YMD_LOW, _YMD_HIGH = 10000101, 99991231
_DATE_TEXT = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ].*)?$")
_COMPACT_TEXT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


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

    def to_frame(self) -> pd.DataFrame:
        """The log as a DataFrame with columns customer, date, amount and the extras."""
        data: dict[str, Any] = {"customer": self.ids, "date": self.dates, "amount": self.amounts}
        data.update(self.extra)
        return pd.DataFrame(data)

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
        cols = [_as_1d(v, lab) for v, lab in zip((ids, dates, amounts), labels, strict=True)]
        extras = {str(k): _as_1d(v, str(k)) for k, v in (extra or {}).items()}
        _check_lengths(dict(zip(labels, cols, strict=True)) | extras)
        blank = _blank_mask(cols)
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
        cols = [_cells_column(v, lab) for v, lab in zip((ids, dates, amounts), labels, strict=True)]
        extras = {str(k): _cells_column(v, str(k)) for k, v in (extra or {}).items()}
        _check_lengths(dict(zip(labels, cols, strict=True)) | extras)
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
            _check_text_length(col, label, first_row)
        return cls.from_arrays(
            cols[0], cols[1], cols[2], extras, negative=negative, labels=labels,
            first_row=first_row,
        )


def _check_text_length(col: np.ndarray, label: str, first_row: int) -> None:
    """Refuse ids and group names longer than an Excel cell result may be (255 characters):
    returned inside a table, one of them would turn the whole table into #VALUE!."""
    if col.dtype != object:
        return
    for i, v in enumerate(col):
        if isinstance(v, str) and len(v) > MAX_CELL_TEXT:
            raise LtvxlError(
                f"{label}: row {i + first_row} holds a text of {len(v):,} characters; "
                f"ids and names may have at most {MAX_CELL_TEXT}: shorten it"
            )


# ---------------------------------------------------------------- shapes


def _as_1d(value: Any, label: str) -> np.ndarray:
    """A 1-D array of ``value`` (array, Series, list or scalar)."""
    if isinstance(value, (pd.Series, pd.Index)):
        value = value.to_numpy()
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return value.reshape(1)
        if value.ndim == 2 and 1 in value.shape:
            return value.reshape(-1)
        if value.ndim != 1:
            raise LtvxlError(
                f"{label} must be a single column, got an array of shape {value.shape}"
            )
        return value
    if isinstance(value, (list, tuple)):
        return _cells_column(value, label)
    return _object_array([value])


def _object_array(values: Sequence[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _cells_column(value: Any, label: str) -> np.ndarray:
    """The cells of a one-column (or one-row) range as a 1-D object array."""
    if isinstance(value, (np.ndarray, pd.Series, pd.Index)):
        return _as_1d(value, label)
    if value is None:
        raise LtvxlError(f"{label} is missing: give a range of cells")
    if not isinstance(value, (list, tuple)):
        return _object_array([value])
    if len(value) == 0:
        raise LtvxlError(f"{label} is an empty range")
    first = value[0]
    if isinstance(first, (list, tuple)):
        try:  # the usual column of one-cell rows: flattened and checked in one pass
            flat = [cell for (cell,) in value]
        except (TypeError, ValueError):  # a row, or a mistake: the checks below say which
            flat = None
        if flat is not None:
            return _tighten(flat, label)
        if len(value) == 1:
            flat = list(first)
        else:
            try:
                widths = set(map(len, value))
            except TypeError:
                raise LtvxlError(f"{label} mixes cells and rows") from None
            if len(widths) != 1:
                raise LtvxlError(f"{label} has rows of different lengths")
            width = widths.pop()
            if width != 1:
                raise LtvxlError(
                    f"{label} must be a single column, got {width} columns; "
                    "select one column of the table"
                )
            flat = [row[0] for row in value]
        if not flat:
            raise LtvxlError(f"{label} is an empty range")
        return _tighten(flat, label)
    return _tighten(list(value), label)


def _tighten(flat: list[Any], label: str) -> np.ndarray:
    """A column of cells as an array: only numbers (and blanks) as float64, only
    datetimes as datetime64 (the fast paths for what xlwings passes), else objects."""
    types = set(map(type, flat))
    if any(issubclass(t, (list, tuple)) for t in types):
        raise LtvxlError(f"{label} is nested too deeply")
    if types <= {float, int, type(None)} and types & {float, int}:
        try:
            out = np.array(flat, dtype=np.float64)  # None -> NaN, reported as missing
        except OverflowError:  # an integer beyond 1e308: kept, and reported by the reader
            return _object_array(flat)
        if int not in types or not (np.abs(out) >= 2**53).any():  # ints exact as floats
            return out
    if types == {dt.datetime}:  # the calendar day of each (as typed, a time of day dropped)
        days = np.fromiter(map(dt.datetime.toordinal, flat), np.int64, len(flat))
        days -= _ORDINAL_1970
        return days.view("datetime64[D]")
    if types == {pd.Timestamp}:
        try:
            idx = pd.DatetimeIndex(flat)
        except (ValueError, TypeError, OverflowError):
            return _object_array(flat)
        if idx.tz is None:
            return idx.to_numpy()
    return _object_array(flat)


def _check_lengths(columns: Mapping[str, np.ndarray]) -> None:
    items = list(columns.items())
    name0, col0 = items[0]
    for name, col in items[1:]:
        if len(col) != len(col0):
            raise LtvxlError(
                f"{name0} has {len(col0)} rows but {name} has {len(col)}; "
                "give columns of the same length"
            )


def _is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, float):
        return value != value  # NaN
    return False


def _blank_mask(cols: Sequence[np.ndarray]) -> np.ndarray:
    """Rows whose every column is blank (None, NaN, NaT or empty text)."""
    mask = np.ones(len(cols[0]), dtype=bool)
    for col in reversed(cols):  # amounts first: usually numbers, so few candidates remain
        if col.dtype.kind in "iub":
            return np.zeros(len(col), dtype=bool)
        if col.dtype.kind == "f":
            mask &= np.isnan(col)
        elif col.dtype.kind in "mM":
            mask &= np.isnat(col)
        else:
            isna = pd.isna(col)
            blank = isna.copy()
            has_text = str in set(map(type, col))
            for i in np.flatnonzero(mask & ~isna) if has_text else ():
                v = col[i]
                if isinstance(v, str) and not v.strip():
                    blank[i] = True
            mask &= blank
        if not mask.any():
            break
    return mask


def _looks_like_header(date_cell: Any, amount_cell: Any) -> bool:
    """A first row whose date and amount cells are texts that are neither a date nor a number."""
    if not (isinstance(date_cell, str) and isinstance(amount_cell, str)):
        return False
    if _text_to_day(date_cell) is not None:
        return False
    try:
        float(amount_cell.strip())
    except ValueError:
        return True
    return False


# ---------------------------------------------------------------- building


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


def _first_bad(mask: np.ndarray) -> int | None:
    return int(np.argmax(mask)) if mask.any() else None


def _first_bool(values: np.ndarray) -> int | None:
    """Row index of the first TRUE/FALSE cell (hashing would merge TRUE with 1)."""
    types = set(map(type, values))
    if bool not in types and np.bool_ not in types:
        return None
    return next(i for i, v in enumerate(values) if isinstance(v, (bool, np.bool_)))


# ---------------------------------------------------------------- ids


def format_id(value: Any) -> str | None:
    """The canonical text of one id value; ``None`` when it cannot be an id."""
    if isinstance(value, str):
        text = value.strip()
        return text if text and not is_cell_error(text) else None
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        x = float(value)
        if not np.isfinite(x):
            return None
        if x.is_integer() and abs(x) < 1e15:
            return str(int(x))
        return repr(x)
    return None


def _factorize_ints(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, sorted distinct values) of integer ids; by direct addressing when the ids
    span a moderate range (less memory and time than hashing), else by pandas."""
    lo, hi = int(values.min()), int(values.max())
    span = hi - lo + 1
    if span > max(2 * len(values), 1 << 22):
        codes, uniq = pd.factorize(values, sort=True)
        return codes.astype(np.int64, copy=False), np.asarray(uniq)
    kind = np.int32 if span < 2**31 else np.int64  # int32 codes: half the memory
    codes = np.subtract(values, lo, out=np.empty(len(values), dtype=kind), casting="unsafe")
    present = np.zeros(span, dtype=bool)
    present[codes] = True
    rank = np.cumsum(present, dtype=kind)
    rank -= 1
    for i in range(0, len(codes), 1 << 16):  # in place, block by block: no second array
        block = codes[i:i + (1 << 16)]
        np.take(rank, block, out=block, mode="clip")
    return codes, np.flatnonzero(present) + lo


def _float_id_texts(uniq: np.ndarray) -> np.ndarray:
    """Canonical id texts of distinct float ids: whole numbers without ".0"."""
    whole = (uniq == np.floor(uniq)) & (np.abs(uniq) < 1e15)
    out = np.empty(len(uniq), dtype=object)
    out[whole] = uniq[whole].astype(np.int64).astype(str).tolist()
    out[~whole] = [format_id(u) for u in uniq[~whole]]
    return out


def _int_id_texts(uniq: np.ndarray) -> np.ndarray:
    """Id texts of distinct integer ids, straight from Python ints (no wide unicode array)."""
    out = np.empty(len(uniq), dtype=object)
    for i in range(0, len(uniq), 1 << 14):  # block by block: no list of the whole column
        out[i:i + (1 << 14)] = list(map(str, uniq[i:i + (1 << 14)].tolist()))
    return out


def _natural_order(keys: np.ndarray) -> np.ndarray:
    """Order of id texts: those that read as numbers numerically first, then the rest."""
    as_num = pd.to_numeric(pd.Series(keys, dtype=object), errors="coerce").to_numpy(float)
    text_order = np.argsort(keys.astype(str), kind="stable")
    return text_order[np.argsort(as_num[text_order], kind="stable")]


def parse_ids(values: np.ndarray, label: str, row_of: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """(codes, customers): the customer index of each row and the distinct ids as text."""
    row_of = row_of or (lambda i: i + 1)
    kind = values.dtype.kind
    if kind in "iu":
        codes, uniq = _factorize_ints(values)
        return codes, _int_id_texts(uniq)
    if kind == "f":
        bad = _first_bad(~np.isfinite(values))
        if bad is not None:
            raise LtvxlError(f"{label} row {row_of(bad)}: the customer id is missing")
        if bool(np.all(values == np.floor(values))) and float(np.abs(values).max()) < 2**53:
            codes, uniq = _factorize_ints(values.astype(np.int64))
            return codes, _int_id_texts(uniq)
        codes, uniq = pd.factorize(values, sort=True)
        return codes.astype(np.int64), _float_id_texts(np.asarray(uniq, dtype=np.float64))
    if kind not in "OUS":
        raise LtvxlError(f"{label} must hold customer ids (text or numbers), got {values.dtype}")
    values = values.astype(object)
    flag = _first_bool(values)
    if flag is not None:
        raise LtvxlError(
            f"{label} row {row_of(flag)}: {describe(values[flag])} is not a customer id"
        )
    raw_codes, raw_uniq = pd.factorize(values, use_na_sentinel=True)
    keys = [format_id(u) for u in raw_uniq]
    bad_uniq = np.array([k is None for k in keys], dtype=bool)
    bad_rows = raw_codes < 0
    if bad_uniq.any():
        bad_rows |= bad_uniq[np.maximum(raw_codes, 0)] & (raw_codes >= 0)
    bad = _first_bad(bad_rows)
    if bad is not None:
        v = values[bad]
        if _is_blank(v):
            raise LtvxlError(f"{label} row {row_of(bad)}: the customer id is missing")
        if is_cell_error(v):
            raise LtvxlError(f"{label} row {row_of(bad)}: the cell holds the error {v}")
        raise LtvxlError(
            f"{label} row {row_of(bad)}: {describe(v)} is not a customer id (use text or a number)"
        )
    key_arr = _object_array(keys)
    key_codes, key_uniq = pd.factorize(key_arr)
    order = _natural_order(np.asarray(key_uniq, dtype=object))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    codes = rank[key_codes][raw_codes]
    return codes, _object_array(list(np.asarray(key_uniq, dtype=object)[order]))


# ---------------------------------------------------------------- dates


def _ymd_to_day(y: int, m: int, d: int) -> int | None:
    try:
        return (dt.date(y, m, d) - dt.date(1970, 1, 1)).days
    except ValueError:
        return None


def _text_to_day(text: str) -> int | None:
    t = text.strip()
    m = _DATE_TEXT.match(t) or _COMPACT_TEXT.match(t)
    if not m:
        return None
    return _ymd_to_day(int(m.group(1)), int(m.group(2)), int(m.group(3)))


def _numbers_to_days(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(days, bad) for numbers: Excel serials (1..2958465) or YYYYMMDD integers."""
    x = np.asarray(x, dtype=float)
    days = np.zeros(x.shape, dtype=np.int64)
    finite = np.isfinite(x)
    serial = finite & (x >= 1) & (x < MAX_SERIAL + 1)
    days[serial] = np.floor(x[serial]).astype(np.int64) + EXCEL_EPOCH_DAY
    ymd = finite & (x >= _YMD_LOW) & (x <= _YMD_HIGH) & (x == np.floor(x))
    bad = ~(serial | ymd)
    if ymd.any():
        v = x[ymd].astype(np.int64)
        y, m, d = v // 10000, (v // 100) % 100, v % 100
        ok = (m >= 1) & (m <= 12) & (d >= 1) & (d <= 31)
        parsed = np.full(v.shape, 0, dtype=np.int64)
        if ok.any():
            s = pd.to_datetime(
                pd.DataFrame({"year": y[ok], "month": m[ok], "day": d[ok]}), errors="coerce"
            )
            good = ~s.isna().to_numpy()
            vals = np.zeros(int(ok.sum()), dtype=np.int64)
            vals[good] = s[good].to_numpy().astype("datetime64[D]").astype(np.int64)
            ok_idx = np.flatnonzero(ok)
            ok[ok_idx[~good]] = False
            parsed[ok_idx[good]] = vals[good]
        days[ymd] = parsed
        bad_ymd = np.zeros(x.shape, dtype=bool)
        bad_ymd[np.flatnonzero(ymd)[~ok]] = True
        bad |= bad_ymd
    return days, bad


def _show(value: Any) -> str:
    """A number as a message shows it: 5, 2.5, inf (an integer beyond 1e308 as 1e+308...)."""
    x = _float_or_inf(value)
    if math.isinf(x) and isinstance(value, int):
        return clip(str(value), 12)
    if np.isfinite(x) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def _why_not_date(value: Any) -> str:
    if _is_blank(value):
        return "the date is missing"
    if is_cell_error(value):
        return f"the cell holds the error {clip(value, 40)}"
    if isinstance(value, str):
        shown = value if len(value) <= 30 else value[:27] + "..."
        return (
            f'"{shown}" is not a date '
            "(use a date cell or year-month-day text such as 2024-01-31)"
        )
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return (
            f"{_show(value)} is not a date (a number must be an Excel date serial from 1 to "
            f"{MAX_SERIAL} or a YYYYMMDD number)"
        )
    return f"{describe(value)} is not a date"


def parse_dates(values: np.ndarray, label: str, row_of: Any = None) -> np.ndarray:
    """int64 day numbers (days since 1970-01-01) of each value; errors name the first bad row."""
    row_of = row_of or (lambda i: i + 1)
    kind = values.dtype.kind
    if kind == "M":
        bad = _first_bad(np.isnat(values))
        if bad is not None:
            raise LtvxlError(f"{label} row {row_of(bad)}: the date is missing")
        if values.dtype != np.dtype("datetime64[D]"):
            values = values.astype("datetime64[D]")
        return values.view(np.int64)
    if kind in "iuf":
        days, bad_mask = _numbers_to_days(values)
        bad = _first_bad(bad_mask)
        if bad is not None:
            raise LtvxlError(f"{label} row {row_of(bad)}: {_why_not_date(values[bad])}")
        return days
    obj = values.astype(object)
    flag = _first_bool(obj)
    if flag is not None:
        raise LtvxlError(f"{label} row {row_of(flag)}: {_why_not_date(obj[flag])}")
    codes, uniq = pd.factorize(obj, use_na_sentinel=True)
    uniq = np.asarray(uniq, dtype=object)
    udays = np.zeros(len(uniq), dtype=np.int64)
    ubad = np.zeros(len(uniq), dtype=bool)
    types = np.array([_date_kind(u) for u in uniq], dtype=object)
    for tkind in set(types.tolist()):
        sel = np.flatnonzero(types == tkind)
        sub = uniq[sel]
        if tkind == "datetime":
            try:
                idx = pd.DatetimeIndex([pd.Timestamp(v).tz_localize(None) if getattr(
                    v, "tzinfo", None) else v for v in sub])
                udays[sel] = idx.to_numpy().astype("datetime64[D]").astype(np.int64)
            except (ValueError, TypeError, OverflowError):
                for j, v in zip(sel, sub, strict=True):
                    try:
                        udays[j] = np.datetime64(pd.Timestamp(v).tz_localize(None), "D").astype(
                            np.int64)
                    except (ValueError, TypeError, OverflowError):
                        ubad[j] = True
        elif tkind == "date":
            udays[sel] = np.array(list(sub), dtype="datetime64[D]").astype(np.int64)
        elif tkind == "number":
            d, b = _numbers_to_days(np.array([_float_or_inf(v) for v in sub], dtype=float))
            udays[sel], ubad[sel] = d, b
        elif tkind == "text":
            for j, v in zip(sel, sub, strict=True):
                day = _text_to_day(v)
                if day is None:
                    ubad[j] = True
                else:
                    udays[j] = day
        else:
            ubad[sel] = True
    bad_rows = (codes < 0) | (ubad[np.maximum(codes, 0)] if len(uniq) else True)
    bad = _first_bad(bad_rows)
    if bad is not None:
        raise LtvxlError(f"{label} row {row_of(bad)}: {_why_not_date(obj[bad])}")
    return udays[codes]


def _float_or_inf(v: Any) -> float:
    """``float(v)``, an integer too large for a float as infinity (then reported as bad)."""
    try:
        return float(v)
    except OverflowError:
        return math.inf


def _date_kind(v: Any) -> str:
    if isinstance(v, (dt.datetime, pd.Timestamp, np.datetime64)):
        return "datetime"
    if isinstance(v, dt.date):
        return "date"
    if isinstance(v, (bool, np.bool_)):
        return "other"
    if isinstance(v, (int, float, np.integer, np.floating)):
        return "number"
    if isinstance(v, str):
        return "text" if not is_cell_error(v) else "other"
    return "other"


def parse_day(value: Any, label: str) -> int:
    """One date (a cell or a Python value) as a day number; an error naming ``label``."""
    if isinstance(value, (list, tuple)):
        col = _cells_column(value, label)
        if len(col) != 1:
            raise LtvxlError(f"{label} must be a single date, got {len(col)} cells")
        value = col[0]
    if _is_blank(value):
        raise LtvxlError(f"{label} is missing")
    try:
        return int(parse_dates(_object_array([value]), label)[0])
    except LtvxlError as exc:
        raise LtvxlError(exc.message.replace(f"{label} row 1: ", f"{label}: ")) from None


# ---------------------------------------------------------------- amounts


def _why_not_amount(value: Any) -> str:
    if _is_blank(value):
        return "the amount is missing"
    if is_cell_error(value):
        return f"the cell holds the error {clip(value, 40)}"
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return f"{_show(value)} is not a finite number"
    if isinstance(value, int) and not isinstance(value, bool):  # beyond 1e308
        return f"{_show(value)} is too large to be an amount"
    hint = ""
    if isinstance(value, str):
        try:
            float(value.strip())
            hint = " (a number stored as text? enter it as a number)"
        except ValueError:
            pass
    return f"{describe(value)} is not a number{hint}"


def parse_amounts(values: np.ndarray, label: str, row_of: Any = None) -> np.ndarray:
    """float64 amounts; errors name the first missing, non-numeric or infinite value."""
    row_of = row_of or (lambda i: i + 1)
    kind = values.dtype.kind
    if kind in "iuf":
        out = values.astype(np.float64, copy=False)
    elif kind == "b":
        raise LtvxlError(f"{label} row {row_of(0)}: {describe(bool(values[0]))} is not a number")
    else:
        obj = values.astype(object)
        if set(map(type, obj)) <= {float}:
            out = obj.astype(np.float64)
        else:
            out = np.empty(len(obj), dtype=np.float64)
            for i, v in enumerate(obj):
                if isinstance(v, (bool, np.bool_)) or not isinstance(
                    v, (int, float, np.integer, np.floating)
                ):
                    raise LtvxlError(f"{label} row {row_of(i)}: {_why_not_amount(v)}")
                out[i] = _float_or_inf(v)
    bad = _first_bad(~np.isfinite(out))
    if bad is not None:
        raise LtvxlError(f"{label} row {row_of(bad)}: {_why_not_amount(values[bad])}")
    return out


# ---------------------------------------------------------------- files

_ID_NAMES = ("customer_id", "customerid", "customer", "cust_id", "client_id", "user_id",
             "member_id", "account_id", "buyer_id", "id")
_DATE_NAMES = ("date", "order_date", "transaction_date", "purchase_date", "invoice_date",
               "datetime", "timestamp", "order_datetime", "created_at", "time")
_AMOUNT_NAMES = ("amount", "revenue", "sales", "order_value", "value", "total", "net_amount",
                 "dollar_value", "price", "spend", "monetary_value")
_HINTS = {"id": ("customer", "client", "user", "id"), "date": ("date", "time", "day"),
          "amount": ("amount", "revenue", "value", "sales", "total", "spend")}


def column_key(name: str) -> str:
    """A column name compared loosely: lower case, runs of other characters as ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower()).strip("_")


def detect_columns(
    columns: Sequence[str],
    id_col: str | None = None,
    date_col: str | None = None,
    amount_col: str | None = None,
) -> tuple[str, str, str]:
    """The id, date and amount column names: those given, else detected from the names."""
    names = [str(c) for c in columns]
    normed = {column_key(c): c for c in reversed(names)}
    chosen: dict[str, str] = {}
    for role, given, known in (("id", id_col, _ID_NAMES), ("date", date_col, _DATE_NAMES),
                               ("amount", amount_col, _AMOUNT_NAMES)):
        if given is not None:
            if given not in names:
                raise LtvxlError(
                    f'{role}_col "{given}" is not a column; the columns are {", ".join(names)}'
                )
            chosen[role] = given
            continue
        found = next((normed[k] for k in known if k in normed), None)
        if found is None:
            hits = [c for c in names if any(h in column_key(c) for h in _HINTS[role])
                    and c not in chosen.values()]
            found = hits[0] if len(hits) == 1 else None
        if found is None or found in chosen.values():
            raise LtvxlError(
                f"cannot tell which column holds the {role}; columns are {', '.join(names)}: "
                f"name it with {role}_col= (--{role}-col in the ltvxl command)"
            )
        chosen[role] = found
    return chosen["id"], chosen["date"], chosen["amount"]


def read_transactions(
    path: str | Path,
    id_col: str | None = None,
    date_col: str | None = None,
    amount_col: str | None = None,
    extra_cols: Sequence[str] | None = None,
    *,
    sheet: str | int | None = None,
    negative: Negative = "net",
) -> TransactionLog:
    """Read a transaction log from a CSV, Parquet or XLSX file (never modified).

    The file has a header row. Column names are detected when not given
    (e.g. ``customer_id``, ``date``, ``amount``); ``extra_cols``: further
    columns to keep (default: every other column; ``[]`` for none). CSV and
    Parquet are read by pyarrow (pandas where pyarrow is not available),
    XLSX by python-calamine (first sheet unless ``sheet``). Messages name
    the column and the row (the header is row 1).
    """
    p = Path(path)
    if p.is_dir():
        raise LtvxlError(f"{p} is a directory; give a CSV, Parquet or XLSX file")
    if not p.is_file():
        raise LtvxlError(f"transaction file not found: {p}")
    suffix = p.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"):
        return _read_excel(p, id_col, date_col, amount_col, extra_cols, sheet, negative)
    if suffix in (".parquet", ".pq"):
        names, load = _parquet_source(p)
    elif suffix in (".csv", ".txt", ".tsv"):
        names, load = _csv_source(p)
    else:
        raise LtvxlError(f"{p.name}: unknown file type {suffix!r}; use .csv, .parquet or .xlsx")
    idc, datec, amountc = detect_columns(names, id_col, date_col, amount_col)
    extra_names = _extra_names(names, (idc, datec, amountc), extra_cols)
    labels = tuple(f'column "{c}"' for c in (idc, datec, amountc))
    columns = load([idc, datec, amountc, *extra_names])
    arrays = [columns.pop(c) for c in (idc, datec, amountc)]
    arrays[2] = _numeric_text(arrays[2])
    extras = {c: columns.pop(c) for c in extra_names}
    return TransactionLog.from_arrays(
        arrays[0], arrays[1], arrays[2], extras, negative=negative, labels=labels, first_row=2
    )


Loader = Any  # Callable[[list[str]], dict[str, np.ndarray]]


class _Column:
    """A column filled block by block into one preallocated array (grown when the first
    guess of the row count was short), so that each block's buffers are freed at once."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.data: np.ndarray | None = None
        self.n = 0

    def add(self, part: np.ndarray) -> None:
        if self.data is None and len(part) == self.capacity:
            self.data, self.n = part, len(part)  # the whole column at once: no copy
            return
        if self.data is None:
            self.data = np.empty(self.capacity, dtype=part.dtype)
        elif part.dtype != self.data.dtype:
            kinds = {part.dtype.kind, self.data.dtype.kind}
            dtype = np.result_type(part.dtype, self.data.dtype) if kinds <= set("iuf") \
                else np.dtype(object)
            self.data = self.data.astype(dtype)
        if self.n + len(part) > len(self.data):
            grown = np.empty(max(int(len(self.data) * 1.5), self.n + len(part)),
                             dtype=self.data.dtype)
            grown[:self.n] = self.data[:self.n]
            self.data = grown
        self.data[self.n:self.n + len(part)] = part
        self.n += len(part)

    def result(self) -> np.ndarray:
        if self.data is None:
            return np.empty(0, dtype=object)
        out = self.data[:self.n]
        return out.copy() if self.n < len(self.data) // 2 else out  # drop a large surplus

_CSV_BLOCK = 1 << 16


def _parquet_source(p: Path) -> tuple[list[str], Loader]:
    """Column names and a loader that reads and converts one column at a time."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - Pyodide
        df = pd.read_parquet(p)
        return [str(c) for c in df.columns], lambda cols: {c: df[c].to_numpy() for c in cols}
    try:
        pf = pq.ParquetFile(p)
        names = list(pf.schema_arrow.names)
    except Exception as exc:  # pyarrow.lib.ArrowInvalid and friends
        raise LtvxlError(f"{p.name}: cannot read as Parquet: {exc}") from None

    def load(cols: list[str]) -> dict[str, np.ndarray]:
        default = pa.default_memory_pool()
        pa.set_memory_pool(_arrow_pool())  # the reader takes its pool when opened
        try:
            reader = pq.ParquetFile(p)
            n = reader.metadata.num_rows
            if n == 0:
                return {c: np.empty(0, dtype=object) for c in cols}
            out = {}
            for c in cols:  # column by column, row group by row group: one part in memory
                column = _Column(n)
                for i in range(reader.num_row_groups):
                    part = reader.read_row_group(i, columns=[c], use_threads=False).column(0)
                    for chunk in part.chunks:
                        column.add(_chunk_array(chunk))
                    del part
                out[c] = column.result()
            return out
        except LtvxlError:
            raise
        except Exception as exc:
            raise LtvxlError(f"{p.name}: cannot read as Parquet: {exc}") from None
        finally:
            pa.set_memory_pool(default)

    return names, load


def _csv_source(p: Path) -> tuple[list[str], Loader]:
    """Column names and a loader that streams the file block by block, converting only
    the wanted columns; a column whose type changes further down is read as text."""
    delimiter = "\t" if p.suffix.lower() == ".tsv" else ","
    try:
        from pyarrow import csv as pacsv
    except ImportError:  # pragma: no cover - Pyodide
        df = pd.read_csv(p, sep=delimiter)
        return [str(c) for c in df.columns], lambda cols: {c: df[c].to_numpy() for c in cols}
    import pyarrow as pa

    parse = pacsv.ParseOptions(delimiter=delimiter)
    try:
        with p.open(newline="", encoding="utf-8-sig") as fh:  # the header line only
            names = next(csv.reader(fh, delimiter=delimiter))
    except StopIteration:
        raise LtvxlError(f"{p.name}: the file is empty") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LtvxlError(f"{p.name}: cannot read as CSV: {exc}") from None

    def stream(cols: list[str], as_text: bool) -> dict[str, np.ndarray]:
        convert = pacsv.ConvertOptions(
            include_columns=cols, strings_can_be_null=True,
            column_types={c: pa.string() for c in cols} if as_text else None)
        size = p.stat().st_size
        columns: dict[str, _Column] = {}
        read = pacsv.ReadOptions(block_size=_CSV_BLOCK, use_threads=False)
        with pacsv.open_csv(p, parse_options=parse, convert_options=convert, read_options=read,
                            memory_pool=_arrow_pool()) as reader:
            done = 0
            for batch in reader:
                if not columns:  # expected rows from the first block's bytes per row
                    guess = int(size / max(_CSV_BLOCK, 1) * batch.num_rows * 1.05) + 1024
                    columns = {c: _Column(guess) for c in cols}
                for c in cols:
                    columns[c].add(_chunk_array(batch.column(c)))
                done += batch.num_rows
        return {c: (columns[c].result() if columns else np.empty(0, dtype=object))
                for c in cols}

    def load(cols: list[str]) -> dict[str, np.ndarray]:
        default = pa.default_memory_pool()
        pa.set_memory_pool(_arrow_pool())  # the parser's own buffers too
        try:
            try:
                return stream(cols, as_text=False)
            except pa.ArrowInvalid:
                pass  # e.g. numbers in the first block, text further down: read as text
            except Exception as exc:
                raise LtvxlError(f"{p.name}: cannot read as CSV: {exc}") from None
            try:
                return stream(cols, as_text=True)
            except Exception as exc:
                raise LtvxlError(f"{p.name}: cannot read as CSV: {exc}") from None
        finally:
            pa.set_memory_pool(default)

    return names, load


def _extra_names(columns: Sequence[str], used: Sequence[str],
                 extra_cols: Sequence[str] | None) -> list[str]:
    if extra_cols is None:
        return [c for c in columns if c not in used]
    missing = [c for c in extra_cols if c not in columns]
    if missing:
        raise LtvxlError(f'extra column "{missing[0]}" is not a column; columns are '
                         f'{", ".join(map(str, columns))}')
    return [c for c in extra_cols if c not in used]


def _numeric_text(values: np.ndarray) -> np.ndarray:
    """In a file, amounts written as text ("12.50") are numbers; other texts stay for the error."""
    if values.dtype != object:
        return values
    out = values.copy()
    for i, v in enumerate(values):
        if isinstance(v, str):
            try:
                out[i] = float(v.strip())
            except ValueError:
                if v.strip():
                    break
                out[i] = None
    return out


def _arrow_pool() -> Any:
    """The system allocator: memory freed after conversion goes back to the OS at once."""
    import pyarrow as pa

    return pa.system_memory_pool()


def _column_array(column: Any) -> np.ndarray:
    """One column (a pandas Series or an Arrow ChunkedArray) as a numpy array, chunk by
    chunk, without per-row Python objects where possible."""
    if isinstance(column, pd.Series):
        return column.to_numpy()
    if column.num_chunks == 1:
        return _chunk_array(column.chunk(0))
    if column.num_chunks == 0:
        return np.empty(0, dtype=object)
    parts = [_chunk_array(column.chunk(i)) for i in range(column.num_chunks)]
    if len({p.dtype for p in parts}) > 1:
        parts = [p.astype(object) for p in parts]
    return np.concatenate(parts)


def _chunk_array(col: Any) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    pool = _arrow_pool()
    t = col.type
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        if col.null_count:
            return col.to_numpy(zero_copy_only=False)
        if pa.types.is_timestamp(t) and t.tz is not None:  # the local calendar day
            col = pc.local_timestamp(col, memory_pool=pool)
            t = col.type
        if pa.types.is_timestamp(t):
            # days since 1970, floor-divided straight from Arrow's buffer: one int64 array
            per_day = 86400 * {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[t.unit]
            ticks = col.to_numpy(zero_copy_only=False).view(np.int64)
            return np.floor_divide(ticks, per_day).view("datetime64[D]")
        return col.to_numpy(zero_copy_only=False).astype("datetime64[D]")
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        if col.null_count:
            return pc.cast(col, pa.float64(), memory_pool=pool).to_numpy(zero_copy_only=False)
        return col.to_numpy(zero_copy_only=False)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t):
        # dictionary-encode so each distinct text becomes one Python object
        enc = col if pa.types.is_dictionary(t) else pc.dictionary_encode(col, memory_pool=pool)
        idx = enc.indices.to_numpy(zero_copy_only=False)
        dictionary = np.asarray(enc.dictionary.to_pylist(), dtype=object)
        out = np.empty(len(idx), dtype=object)
        valid = ~pd.isna(idx) if enc.indices.null_count else None
        if valid is None:
            out[:] = dictionary[idx.astype(np.int64)]
        else:
            out[valid] = dictionary[idx[valid].astype(np.int64)]
            out[~valid] = None
        return out
    return np.asarray(col.to_pylist(), dtype=object)


def _read_excel(p: Path, id_col: str | None, date_col: str | None, amount_col: str | None,
                extra_cols: Sequence[str] | None, sheet: str | int | None,
                negative: Negative) -> TransactionLog:
    try:
        from python_calamine import CalamineWorkbook
    except ImportError:  # pragma: no cover - Pyodide
        df = pd.read_excel(p, sheet_name=sheet or 0, dtype=object)
        rows = [list(df.columns), *df.itertuples(index=False, name=None)]
    else:
        try:
            wb = CalamineWorkbook.from_path(str(p))
            ws = wb.get_sheet_by_name(sheet) if isinstance(sheet, str) else \
                wb.get_sheet_by_index(sheet or 0)
            rows = ws.to_python(skip_empty_area=True)
        except Exception as exc:
            raise LtvxlError(f"{p.name}: cannot read as a workbook: {exc}") from None
    if not rows:
        raise LtvxlError(f"{p.name}: the sheet is empty")
    header = ["" if h is None else str(h) for h in rows[0]]
    width = len(header)
    idc, datec, amountc = detect_columns(header, id_col, date_col, amount_col)
    extra_names = _extra_names(header, (idc, datec, amountc), extra_cols)
    body = rows[1:]
    if not body:
        raise LtvxlError(f"{p.name}: no data rows under the header")

    def col(name: str) -> np.ndarray:
        j = header.index(name)
        return _object_array([(r[j] if j < len(r) else None) if len(r) == width or j < len(r)
                              else None for r in body])

    values = [col(c) for c in (idc, datec, amountc)]
    for v in values:  # calamine gives "" for empty cells
        v[np.array([isinstance(x, str) and not x.strip() for x in v], dtype=bool)] = None
    values[2] = _numeric_text(values[2])
    labels = tuple(f'column "{c}"' for c in (idc, datec, amountc))
    return TransactionLog.from_arrays(
        values[0], values[1], values[2], {c: col(c) for c in extra_names},
        negative=negative, labels=labels, first_row=2,
    )
