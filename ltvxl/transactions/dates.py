"""Dates of a log as day numbers (int64 days since 1970-01-01).

Accepted: dates and datetimes (a time of day dropped), Excel serial numbers (1
to 2958465, the 1900 date system), ISO texts ``2024-01-31`` (a time after it
is ignored; ``/`` or ``.`` may separate year, month and day), 8-digit
numbers or texts ``20240131``, and the day-first or month-first texts of
exports: ``31/01/2024``, ``1/31/24``, ``31.01.2024 14:05:33``,
``12/1/2010 8:26`` (``/``, ``-`` or ``.``; two- or four-digit years, 00-68
being 2000-2068 as strftime's ``%y`` reads them; with or without a time).
Day-first or month-first is decided from the whole column: a first field
above 12 says day-first, a second above 12 month-first; a column that says
both, or neither while its values differ, is an error asking for
``--dayfirst``/``--monthfirst`` or ``--date-format`` (strftime codes).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import numpy as np
import pandas as pd

from ..cells import describe
from ..errors import LtvxlError, clip, is_cell_error
from .columns import (
    cells_column,
    factorize,
    first_bad,
    first_bool,
    float_or_inf,
    is_blank,
    object_array,
    show_number,
)

EXCEL_EPOCH_DAY = int(np.datetime64("1899-12-30", "D").astype(np.int64))
"""Day number (days since 1970-01-01) of Excel serial 0 in the 1900 date system."""
MAX_SERIAL = 2958465  # 9999-12-31
_YMD_LOW, _YMD_HIGH = 10000101, 99991231
_DATE_TEXT = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ].*)?$")
_COMPACT_TEXT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_DMY_TEXT = re.compile(
    r"^(\d{1,2})([-/.])(\d{1,2})\2(\d{4}|\d{2})"
    r"(?:[T ,]+\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:\s*[AaPp]\.?[Mm]\.?)?)?"
    r"(?:\s*(?:Z|UTC|GMT|[+-]\d{2}:?\d{2}))?$")


def _ymd_to_day(y: int, m: int, d: int) -> int | None:
    try:
        return (dt.date(y, m, d) - dt.date(1970, 1, 1)).days
    except ValueError:
        return None


def text_to_day(text: str) -> int | None:
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


def _why_not_date(value: Any) -> str:
    if is_blank(value):
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
            f"{show_number(value)} is not a date (a number must be an Excel date serial from 1 to "
            f"{MAX_SERIAL} or a YYYYMMDD number)"
        )
    return f"{describe(value)} is not a date"


def parse_dates(
    values: np.ndarray,
    label: str,
    row_of: Any = None,
    *,
    dayfirst: bool | None = None,
    date_format: str | None = None,
) -> tuple[np.ndarray, str]:
    """(int64 day numbers, days since 1970-01-01, of each value; how texts were read,
    "day-first", "month-first", "format %d.%m.%Y" or ""); errors name the first bad row."""
    row_of = row_of or (lambda i: i + 1)
    kind = values.dtype.kind
    if kind == "M":
        bad = first_bad(np.isnat(values))
        if bad is not None:
            raise LtvxlError(f"{label} row {row_of(bad)}: the date is missing")
        if values.dtype != np.dtype("datetime64[D]"):
            values = values.astype("datetime64[D]")
        return values.view(np.int64), ""
    if kind in "iuf":
        days, bad_mask = _numbers_to_days(values)
        bad = first_bad(bad_mask)
        if bad is not None:
            raise LtvxlError(f"{label} row {row_of(bad)}: {_why_not_date(values[bad])}")
        return days, ""
    obj = values.astype(object, copy=False)
    flag = first_bool(obj)
    if flag is not None:
        raise LtvxlError(f"{label} row {row_of(flag)}: {_why_not_date(obj[flag])}")
    codes, uniq = factorize(obj)
    udays = np.zeros(len(uniq), dtype=np.int64)
    ubad = np.zeros(len(uniq), dtype=bool)
    types = np.array([_date_kind(u) for u in uniq], dtype=object)
    how = ""

    def first_row(j: int) -> int:  # codes number the distinct values in order of appearance
        return row_of(int(np.flatnonzero(codes == j)[0]))

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
            d, b = _numbers_to_days(np.array([float_or_inf(v) for v in sub], dtype=float))
            udays[sel], ubad[sel] = d, b
        elif tkind == "text":
            d, b, how = _texts_to_days(list(sub), label, lambda k, s=sel: first_row(int(s[k])),
                                       dayfirst, date_format)
            udays[sel], ubad[sel] = d, b
        else:
            ubad[sel] = True
    bad_rows = (codes < 0) | (ubad[np.maximum(codes, 0)] if len(uniq) else True)
    bad = first_bad(bad_rows)
    if bad is not None:
        raise LtvxlError(f"{label} row {row_of(bad)}: {_why_not_date(obj[bad])}")
    return udays[codes], how


def date_order(
    label: str,
    day_first: tuple[str, str] | None,
    month_first: tuple[str, str] | None,
    differing: tuple[str, str] | None,
) -> bool:
    """Whether a column's d/m/y texts are day-first, from one text of each kind: a first
    field above 12 and a second not (``day_first``), the reverse (``month_first``), two
    fields that differ (``differing``), each (text, where: e.g. " (row 12)" or "") or None.
    Both orders, or neither while values differ, is an error asking for the option."""
    if day_first and month_first:
        raise LtvxlError(
            f'{label}: "{day_first[0]}"{day_first[1]} is day-first and "{month_first[0]}"'
            f"{month_first[1]} month-first: give the order with --dayfirst or --monthfirst, "
            "or --date-format"
        )
    if day_first or month_first:
        return day_first is not None
    if differing:
        raise LtvxlError(
            f'{label}: "{differing[0]}"{differing[1]} could be day-first or month-first and no '
            "value of the column decides: say which with --dayfirst or --monthfirst, or give "
            "--date-format (e.g. %d/%m/%Y)"
        )
    return True  # every day equals its month: both readings agree


def _texts_to_days(texts: list[str], label: str, row: Any, dayfirst: bool | None,
                   date_format: str | None) -> tuple[np.ndarray, np.ndarray, str]:
    """(days, bad, how) of distinct date texts; day-first or month-first from all of them."""
    n = len(texts)
    days = np.zeros(n, dtype=np.int64)
    bad = np.ones(n, dtype=bool)
    if date_format:
        parsed = pd.to_datetime(pd.Series([t.strip() for t in texts], dtype=object),
                                format=date_format, errors="coerce")
        ok = ~parsed.isna().to_numpy()
        days[ok] = parsed[ok].to_numpy().astype("datetime64[D]").astype(np.int64)
        return days, ~ok, f"format {date_format}"
    fields: list[tuple[int, int, int, int]] = []  # (index, first, second, year)
    for i, text in enumerate(texts):
        t = text.strip()
        m = _DMY_TEXT.match(t)
        if m:
            year = int(m.group(4))
            if len(m.group(4)) == 2:
                year += 2000 if year < 69 else 1900
            a, b = int(m.group(1)), int(m.group(3))
            if a <= 12 or b <= 12:  # else neither can be the month: not a date
                fields.append((i, a, b, year))
            continue
        day = text_to_day(t)
        if day is not None:
            days[i], bad[i] = day, False
    if not fields:
        return days, bad, ""
    order = dayfirst
    if order is None:
        def example(f: tuple[int, int, int, int] | None) -> tuple[str, str] | None:
            return None if f is None else (texts[f[0]].strip(), f" (row {row(f[0])})")

        order = date_order(
            label,
            example(next((f for f in fields if f[1] > 12 >= f[2]), None)),
            example(next((f for f in fields if f[2] > 12 >= f[1]), None)),
            example(next((f for f in fields if f[1] != f[2]), None)))
    idx = np.array([f[0] for f in fields])
    a, b, y = (np.array([f[k] for f in fields]) for k in (1, 2, 3))
    d, m = (a, b) if order else (b, a)
    s = pd.to_datetime(pd.DataFrame({"year": y, "month": m, "day": d}), errors="coerce")
    ok = ~s.isna().to_numpy()
    days[idx[ok]] = s[ok].to_numpy().astype("datetime64[D]").astype(np.int64)
    bad[idx[ok]] = False
    return days, bad, "day-first" if order else "month-first"


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
        col = cells_column(value, label)
        if len(col) != 1:
            raise LtvxlError(f"{label} must be a single date, got {len(col)} cells")
        value = col[0]
    if is_blank(value):
        raise LtvxlError(f"{label} is missing")
    if isinstance(value, (dict, set, frozenset, np.ndarray)) or type(value) is object:
        raise LtvxlError(f"{label} must be a single date, got a {type(value).__name__}")
    try:
        return int(parse_dates(object_array([value]), label)[0][0])
    except LtvxlError as exc:
        raise LtvxlError(exc.message.replace(f"{label} row 1: ", f"{label}: ")) from None
