"""Native Excel functions that ``formulas`` computes differently from Excel, computed as Excel
does (Microsoft's function reference, checked against Excel's cached values in
``tests/data/excel/`` and the examples of the reference in ``tests/test_refresh_natives.py``).

Each override keeps ``formulas``' handling of the arguments where that already agrees with
Excel (errors, ranges, text to number) and changes only what differs:

- YEARFRAC: Excel's day counts (30/360 with its February rules, actual/actual with a 365- or
  366-day year for spans of up to a year), not ``formulas``' averaged year.
- SWITCH: text compares without regard to case; a number never equals a logical value.
- ISNUMBER: text is not a number, even ``"1"``; N: TRUE is 1 and FALSE 0.
- CHOOSE: only the chosen argument is evaluated into the result (the others no longer widen a
  spill); a chosen range stays a reference (``SUM(CHOOSE(2, A1:A3, B1:B3))``).
- TRUNC: the number is first rounded to Excel's 15 significant digits.
- VDB: declining balance with Excel's switch to straight line, fractional periods prorated.
- TEXT: elapsed times (``[h]:mm``, ``[m]``, ``[s]``), 12-hour clocks (``h:mm AM/PM``) and
  fractions (``# ?/?``), which ``formulas`` refuses or prints as 24-hour times.
- BESSELI, BESSELJ, BESSELK, BESSELY: Excel's approximations (:mod:`.bessel`), not scipy's
  exact values (they differ in the 8th digit).
- PPMT: the closed form of the principal part, -rate (pv + fv) (1 + rate)^(per - 1) /
  ((1 + rate)^nper - 1) (one period less when due at the start), not the payment minus the
  interest, whose cancellation leaves noise where the principal is tiny (Excel: -3.8E-20,
  the difference: 3E-10).
- TRIMRANGE: with an array of trim modes, an array of #VALUE! (Excel lifts the function
  over the array, and a range in an array cell is #VALUE!); ``formulas`` gave one value.
- IF: a single condition gives the chosen value as it is (``IF(TRUE, 1, {1,2,3})`` is 1);
  ``formulas`` broadcast both values over each other, so the branch not taken widened the
  result into a spill Excel does not make.
- IFS: element by element over arrays of any number of arguments (``formulas`` broadcasts
  through a numpy ufunc, which takes at most 64: a longer IFS gave one value for a range).
- IRR: the blank cells of a range are left out (``formulas`` counted them as cash flows of 0).
- XIRR: Excel's search, read from its cached results: the guess doubled and halved until
  the net present value changes sign, then bisection of that bracket until half its width
  is under 1E-08 (0.000001 percent), the midpoint returned; not Newton's method.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import math
import re
from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import schedula as sh
from formulas.functions import (
    Array,
    Error,
    flatten,
    get_error,
    wrap_func,
    wrap_ranges_func,
    wrap_ufunc,
)
from formulas.functions.date import xdate, xday
from formulas.functions.info import FalseArray, iserror
from formulas.tokens.operand import XlError

from . import bessel

_ORIGINAL: dict[str, Any] = {}


def _original(name: str) -> Callable[..., Any]:
    """``formulas``' own function (as first registered), for the arguments it gets right."""
    f = _ORIGINAL[name]
    return f["function"] if isinstance(f, dict) else f


def _scalar(v: Any) -> Any:
    """The single value of a 1x1 array or ``Ranges``, else ``v``."""
    if hasattr(v, "ranges") and hasattr(v, "value"):
        v = v.value
    if isinstance(v, np.ndarray):
        return v.reshape(-1)[0] if v.size == 1 else v
    return v


def _number(v: Any) -> float | None:
    v = _scalar(v)
    if isinstance(v, (bool, np.bool_, XlError, str, np.ndarray)):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------- YEARFRAC

def _ymd(value: Any) -> tuple[int, int, int]:
    d = tuple(flatten(value, None))
    return tuple(xday(*d, slice(0, 3)))  # type: ignore[return-value]


def _last_of_month(y: int, m: int, d: int) -> bool:
    return d == calendar.monthrange(y, m)[1]


def yearfrac_days(start: tuple[int, int, int], end: tuple[int, int, int], basis: int) -> float:
    """Excel's YEARFRAC of two dates (year, month, day), start <= end, in years."""
    (y1, m1, d1), (y2, m2, d2) = start, end
    days = xdate(y2, m2, d2) - xdate(y1, m1, d1)
    if basis == 2:
        return days / 360
    if basis == 3:
        return days / 365
    if basis in (0, 4):
        if basis == 4:
            d1, d2 = min(d1, 30), min(d2, 30)
        elif d1 == 31:
            d1, d2 = 30, (30 if d2 == 31 else d2)
        elif d1 == 30 and d2 == 31:
            d2 = 30
        elif m1 == 2 and _last_of_month(y1, m1, d1):
            d1 = 30
            if m2 == 2 and _last_of_month(y2, m2, d2):
                d2 = 30
        return ((y2 - y1) * 360 + (m2 - m1) * 30 + (d2 - d1)) / 360
    # basis 1, actual/actual: up to a year apart, a 365- or 366-day year (366 when a 29
    # February lies in the span); longer spans, the average length of the years touched
    if y1 == y2 or (y2 == y1 + 1 and (m1, d1) >= (m2, d2)):
        leap = (y1 == y2 and calendar.isleap(y1)) or \
            (calendar.isleap(y1) and (m1, d1) <= (2, 29)) or \
            (calendar.isleap(y2) and (m2, d2) >= (3, 1)) or (m2, d2) == (2, 29)
        return days / (366 if leap else 365)
    # the calendar's years (Excel's serials count a 29 February 1900 that the average does not)
    average = sum(366 if calendar.isleap(y) else 365 for y in range(y1, y2 + 1)) / (y2 - y1 + 1)
    return days / average


def _yearfrac(start_date: Any, end_date: Any, basis: Any = 0) -> Any:
    out = _original("YEARFRAC")(start_date, end_date, basis)
    if _number(out) is None:  # an error, or an array formulas refuses: its answer stands
        return out
    b = _scalar(basis.value if hasattr(basis, "value") else basis)
    b = 0 if b is sh.EMPTY or b is None else int(float(b))
    s, e = (_scalar(x.value if hasattr(x, "value") else x) for x in (start_date, end_date))
    for v in (s, e):
        if not isinstance(v, str) and float(v) < 0:
            return Error.errors["#NUM!"]
    dates = sorted(_ymd(v) for v in (s, e))
    return yearfrac_days(dates[0], dates[1], b)


# ---------------------------------------------------------------------------- SWITCH

def _same(a: Any, b: Any) -> bool:
    """Excel's ``=`` for SWITCH: same type only; text without regard to case."""
    if isinstance(a, (bool, np.bool_)) or isinstance(b, (bool, np.bool_)):
        return isinstance(a, (bool, np.bool_)) and isinstance(b, (bool, np.bool_)) and \
            bool(a) == bool(b)
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a.casefold() == b.casefold()
    if a is sh.EMPTY:
        a = 0.0
    if b is sh.EMPTY:
        b = 0.0
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return False


def _switch(val: Any, *args: Any) -> Any:
    for k, v in zip(args[::2], args[1::2], strict=False):
        if isinstance(k, XlError):
            return k
        if _same(val, k):
            return v
    return args[-1] if len(args) % 2 else Error.errors["#N/A"]


# ---------------------------------------------------------------------------- N, CHOOSE, TRUNC

def _n(val: Any) -> Any:
    v = np.asarray(val, object).ravel()[0]
    if isinstance(v, XlError):
        return v
    if isinstance(v, (bool, np.bool_)):
        return float(bool(v))
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
    return 0.0


def _choose(index: Any, *values: Any) -> Any:
    i = _scalar(index)
    if isinstance(i, np.ndarray) or not values:  # an array of indexes: formulas' spreading
        return _original("CHOOSE")(index, *values)
    if isinstance(i, XlError):
        return i
    if isinstance(i, str):
        try:
            i = float(i)
        except ValueError:
            return Error.errors["#VALUE!"]
    if i is sh.EMPTY or i is None:
        i = 0.0
    k = int(float(i))
    if not 1 <= k <= len(values):
        return Error.errors["#VALUE!"]
    chosen = values[k - 1]
    return chosen


def _trunc(x: Any, digits: Any = 0) -> Any:
    def one(v: Any, d: Any) -> Any:
        for a in (v, d):
            if isinstance(a, XlError):
                return a
        try:
            v = 0.0 if v is sh.EMPTY else float(v)
            d = 0 if d is sh.EMPTY else math.trunc(float(d))
        except (TypeError, ValueError):
            return Error.errors["#VALUE!"]
        if not math.isfinite(v) or v == 0:
            return v
        exact = Decimal(f"{v:.15g}")  # Excel's 15 significant digits first
        return float(exact.quantize(Decimal(1).scaleb(-d), rounding=ROUND_DOWN))

    return _elementwise(one, x, digits)


def _elementwise(func: Callable[..., Any], *args: Any) -> Any:
    arrays = [np.asarray(_ranges_value(a), object) for a in args]
    if all(a.size == 1 for a in arrays):
        return func(*(a.reshape(-1)[0] for a in arrays))
    try:
        shaped = np.broadcast_arrays(*[a if a.ndim == 2 else a.reshape(1, -1) for a in arrays])
    except ValueError:
        return Error.errors["#VALUE!"]
    out = np.empty(shaped[0].shape, dtype=object)
    for idx in np.ndindex(out.shape):
        out[idx] = func(*(s[idx] for s in shaped))
    return out.view(Array)


def _ranges_value(v: Any) -> Any:
    return v.value if hasattr(v, "ranges") and hasattr(v, "value") else v


# ---------------------------------------------------------------------------- VDB

def vdb(cost: float, salvage: float, life: float, start: float, end: float,
        factor: float = 2.0, no_switch: bool = False) -> float:
    """Excel's VDB: depreciation from period ``start`` to ``end`` (in the units of ``life``)
    by the declining balance at ``factor`` / ``life`` a period, switching to straight line
    over the remaining life when that gives more (unless ``no_switch``); a fractional period
    counts the same fraction of that period's depreciation."""
    per: list[float] = []
    book = cost
    for i in range(math.ceil(life)):
        left = max(book - salvage, 0.0)
        amount = min(book * factor / life, left)
        if not no_switch:  # straight line over the remaining life, once that gives more
            remaining = life - i
            amount = max(amount, left / remaining if remaining > 1 else left)
        per.append(amount)
        book -= amount

    def cumulative(t: float) -> float:
        whole = min(math.floor(t), len(per))
        total = math.fsum(per[:whole])
        if whole < len(per):
            total += (t - whole) * per[whole]
        return total

    return cumulative(end) - cumulative(start)


def _vdb(cost: Any, salvage: Any, life: Any, start: Any, end: Any, factor: Any = 2,
         no_switch: Any = False) -> Any:
    def one(c: Any, s: Any, n: Any, a: Any, b: Any, f: Any, ns: Any) -> Any:
        vals = []
        for v, default in ((c, None), (s, None), (n, None), (a, None), (b, None), (f, 2.0),
                           (ns, 0.0)):
            if isinstance(v, XlError):
                return v
            if v is sh.EMPTY:
                v = 0.0 if default is None else default
            if isinstance(v, (bool, np.bool_)):
                v = float(bool(v))
            try:
                vals.append(float(v))
            except (TypeError, ValueError):
                return Error.errors["#VALUE!"]
        c, s, n, a, b, f, ns = vals
        if c < 0 or s < 0 or n <= 0 or a < 0 or b < a or b > n or f <= 0:
            return Error.errors["#NUM!"]
        return vdb(c, s, n, a, b, f, bool(ns))

    return _elementwise(one, cost, salvage, life, start, end, factor, no_switch)


# ---------------------------------------------------------------------------- TEXT

_MONTHS = [calendar.month_name[i] for i in range(13)]
_DAYS = [calendar.day_name[i] for i in range(7)]
_DATE_TOKEN = re.compile(
    r'"[^"]*"|\\.|\[(?:h+|m+|s+)\]|am/pm|a/p|y+|m+|d+|h+|s+(?:\.0+)?|\.0+|[^"\\]',
    re.IGNORECASE)
_ELAPSED_OR_12H = re.compile(r"\[(?:h+|m+|s+)\]|am/pm|a/p", re.IGNORECASE)
"""Date/time codes ``formulas`` refuses or prints wrongly: the other dates are its own."""
_SECTION_COLOR = re.compile(r"^\[(?:\$[^\]]*|[A-Za-z]+\d*)\]")


def _sections(code: str) -> list[str]:
    out, cur, quoted, i = [], [], False, 0
    while i < len(code):
        ch = code[i]
        if ch == '"':
            quoted = not quoted
        elif ch == "\\" and not quoted and i + 1 < len(code):
            cur.append(code[i: i + 2])
            i += 2
            continue
        elif ch == ";" and not quoted:
            out.append("".join(cur))
            cur = []
            i += 1
            continue
        cur.append(ch)
        i += 1
    out.append("".join(cur))
    return out


def _strip_brackets(section: str) -> str:
    """Without leading colour and locale codes (``[Red]``, ``[$-409]``)."""
    while True:
        m = _SECTION_COLOR.match(section)
        if not m or re.fullmatch(r"\[(?:h+|m+|s+)\]", m.group(0), re.IGNORECASE):
            return section
        section = section[m.end():]


def _is_datetime(section: str) -> bool:
    bare = re.sub(r'"[^"]*"|\\.', "", section)
    return bool(re.search(r"\[(?:h+|m+|s+)\]|[ymdhs]|am/pm|a/p", bare, re.IGNORECASE))


def format_datetime(value: float, section: str) -> str | None:
    """``value`` (a serial date-time) in an Excel date/time format section; None when the
    value cannot be shown (negative, or beyond 9999-12-31)."""
    if value < 0 or value >= 2958466:
        return None
    tokens = _DATE_TOKEN.findall(section)
    low = [t.lower() for t in tokens]
    digits = max((len(t) - 1 for t in low if t.startswith(".0") or
                  re.fullmatch(r"s+\.0+", t)), default=0)
    digits = max((len(t.split(".")[1]) for t in low if re.fullmatch(r"s+\.0+", t)),
                 default=digits)
    twelve = any(t in ("am/pm", "a/p") for t in low)
    # the value rounded to the smallest unit shown (a second, or its decimals)
    unit = 86400 * 10 ** digits
    ticks = round(value * unit)
    days, rest = divmod(ticks, unit)
    secs_total, frac_ticks = divmod(rest, 10 ** digits)
    hour, rem = divmod(secs_total, 3600)
    minute, second = divmod(rem, 60)
    total_seconds = ticks / 10 ** digits
    serial = int(days)
    if serial == 60:
        y, mo, d = 1900, 2, 29
    elif serial == 0:
        y, mo, d = 1900, 1, 0
    else:
        day = dt.date(1899, 12, 31) + dt.timedelta(days=serial - (1 if serial > 60 else 0))
        y, mo, d = day.year, day.month, day.day
    weekday = (serial + 6) % 7  # 0 = Sunday... as calendar.day_name wants Monday = 0
    weekday = (weekday - 1) % 7
    out: list[str] = []
    kinds = []  # which of the m tokens are minutes: after an h, or before an s
    for t in low:
        if t.startswith("h") or t.startswith("[h"):
            kinds.append("h")
        elif t.startswith("s") or t.startswith("[s"):
            kinds.append("s")
        elif t.startswith("m") or t.startswith("[m"):
            kinds.append("m")
        elif t[0] in "yd":
            kinds.append("d")
        else:
            kinds.append("")
    minutes = set()
    last = ""
    for i, k in enumerate(kinds):
        if k == "m" and last == "h":
            minutes.add(i)
        if k in ("h", "s", "d", "m"):
            last = k
    nxt = ""
    for i in range(len(kinds) - 1, -1, -1):
        if kinds[i] == "m" and nxt == "s":
            minutes.add(i)
        if kinds[i] in ("h", "s", "d", "m"):
            nxt = kinds[i]
    for i, (t, raw) in enumerate(zip(low, tokens, strict=True)):
        if t.startswith('"'):
            out.append(raw[1:-1])
        elif t.startswith("\\"):
            out.append(raw[1:])
        elif t.startswith("[h"):
            out.append(str(int(total_seconds // 3600)).zfill(len(t) - 2))
        elif t.startswith("[m"):
            out.append(str(int(total_seconds // 60)).zfill(len(t) - 2))
        elif t.startswith("[s"):
            out.append(str(int(total_seconds)).zfill(len(t) - 2))
        elif t in ("am/pm", "a/p"):
            pm = hour >= 12
            text = ("PM" if pm else "AM") if t == "am/pm" else ("P" if pm else "A")
            out.append(text if raw[0].isupper() else text.lower())
        elif t[0] == "y":
            out.append(f"{y % 100:02d}" if len(t) <= 2 else f"{y:04d}")
        elif t[0] == "d":
            n = len(t)
            out.append(str(d) if n == 1 else f"{d:02d}" if n == 2 else
                       _DAYS[weekday][:3] if n == 3 else _DAYS[weekday])
        elif t[0] == "h":
            h = hour % 12 or 12 if twelve else hour
            out.append(str(h) if len(t) == 1 else f"{h:02d}")
        elif t[0] == "m" and i in minutes:
            out.append(str(minute) if len(t) == 1 else f"{minute:02d}")
        elif t[0] == "m":
            n = len(t)
            out.append(str(mo) if n == 1 else f"{mo:02d}" if n == 2 else
                       _MONTHS[mo][:3] if n == 3 else _MONTHS[mo][0] if n == 5 else
                       _MONTHS[mo])
        elif t[0] == "s":
            whole = str(second) if t.split(".")[0] == "s" else f"{second:02d}"
            if "." in t:
                places = len(t.split(".")[1])
                frac = str(frac_ticks).zfill(digits)[:places]
                whole += "." + frac
            out.append(whole)
        elif t.startswith(".0"):
            out.append("." + str(frac_ticks).zfill(digits)[: len(t) - 1])
        else:
            out.append(raw)
    return "".join(out)


_FRACTION = re.compile(r"^(?P<int>[#0?,]*\s+)?(?P<num>[#0?]+)/(?P<den>[#0?]+|\d+)$")


def format_fraction(value: float, section: str) -> str | None:
    """``value`` in a fraction format (``# ?/?``, ``?/8``, ``# ??/??``); None for others."""
    m = _FRACTION.match(section.strip())
    if not m:
        return None
    sign = "-" if value < 0 else ""
    x = abs(value)
    den_code = m.group("den")
    whole = int(x) if m.group("int") else 0
    rest = x - whole
    if den_code.isdigit():
        den = int(den_code)
        num = round(rest * den)
    else:
        f = Fraction(rest).limit_denominator(10 ** len(den_code) - 1)
        num, den = f.numerator, f.denominator
    if num == den and m.group("int"):
        whole, num = whole + 1, 0
    width_n, width_d = len(m.group("num")), len(den_code)
    if num == 0:
        if m.group("int"):
            # the fraction's places shown as spaces, as Excel aligns them
            return sign + str(whole) + " " * (width_n + width_d + 2)
        return sign + "0/" + str(den).ljust(width_d)
    frac = f"{str(num).rjust(width_n)}/{str(den).ljust(width_d)}"
    if m.group("int"):
        head = str(whole) if whole else ("0" if "0" in m.group("int") else "")
        return sign + (f"{head} {frac}" if head else f"{' ' * (len(m.group('int')))}{frac}")
    return sign + frac


def _text(value: Any, format_text: Any) -> Any:
    def one(v: Any, f: Any) -> Any:
        if isinstance(v, XlError):
            return v
        if isinstance(f, XlError):
            return f
        if isinstance(v, (bool, np.bool_)) or isinstance(f, (bool, np.bool_)):
            return None
        code = "" if f is sh.EMPTY else (f if isinstance(f, str) else None)
        if code is None or v is sh.EMPTY:
            return None
        x = v
        if isinstance(x, str):
            try:
                x = float(x)
            except ValueError:
                return None
        x = float(x)
        sections = _sections(code)
        if len(sections) > 1 and any(s.lstrip().startswith("[") and
                                     re.match(r"\[[<>=]", s) for s in sections):
            return None  # conditional sections: formulas' own handling
        if x < 0 and len(sections) > 1:
            section, x = _strip_brackets(sections[1]), -x
        elif x == 0 and len(sections) > 2:
            section = _strip_brackets(sections[2])
        else:
            section = _strip_brackets(sections[0])
        if _is_datetime(section) and _ELAPSED_OR_12H.search(re.sub(r'"[^"]*"|\\.', "", section)):
            out = format_datetime(x, section)
            return Error.errors["#VALUE!"] if out is None else out
        if ("/" in section and "?" in section) or re.search(r"/\d+$", section.strip()):
            return format_fraction(x, section)
        return None

    def combined(v: Any, f: Any) -> Any:
        mine = one(v, f)
        if mine is not None:
            return mine
        return _scalar(_original("TEXT")(v, f))

    return _elementwise(combined, value, format_text)


# ---------------------------------------------------------------------------- DATEVALUE, SEQUENCE

_PLAIN_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def _date_text(name: str) -> Callable[..., Any]:
    """DATEVALUE and TIMEVALUE: a text that is a plain number (``"2"``, ``"1.5"``) or holds
    no digit (``"March"``) is no date or time to Excel (#VALUE!); ``formulas``' date parser
    reads them as a day of the current month."""
    def one(v: Any) -> Any:
        if isinstance(v, XlError):  # an error (also a str to formulas) passes through
            return v
        if isinstance(v, str) and (_PLAIN_NUMBER.fullmatch(v) or
                                   not any(ch.isdigit() for ch in v)):
            return Error.errors["#VALUE!"]
        return _scalar(_original(name)(v))

    def call(text: Any) -> Any:
        return _elementwise(one, text)

    return call


def _sequence(rows: Any, columns: Any = 1, start: Any = 1, step: Any = 1) -> Any:
    """SEQUENCE(rows, [columns], [start], [step]): a rows x columns array counting from
    ``start`` by ``step`` along each row; #CALC! for no rows or columns."""
    vals = []
    for v, default in ((rows, None), (columns, 1.0), (start, 1.0), (step, 1.0)):
        v = _scalar(_ranges_value(v))
        if isinstance(v, np.ndarray):
            return Error.errors["#VALUE!"]
        if isinstance(v, XlError):
            return v
        if v is sh.EMPTY or v is None:
            v = default if default is not None else 0.0
        try:
            vals.append(float(bool(v)) if isinstance(v, (bool, np.bool_)) else float(v))
        except (TypeError, ValueError):
            return Error.errors["#VALUE!"]
    n, m, first, by = vals
    n, m = math.trunc(n), math.trunc(m)
    if n < 1 or m < 1:
        return Error.errors.get("#CALC!") or XlError("#CALC!")
    if n * m > 1_048_576 * 16_384:
        return Error.errors["#NUM!"]
    out = np.empty((n, m), dtype=object)
    out[:] = (first + by * np.arange(n * m, dtype=float)).reshape(n, m).tolist()
    return out.view(Array)


# ---------------------------------------------------------------------------- BAHTTEXT

_THAI_DIGITS = ["ศูนย์", "หนึ่ง", "สอง", "สาม", "สี่", "ห้า", "หก", "เจ็ด", "แปด", "เก้า"]
_THAI_PLACES = ["", "สิบ", "ร้อย", "พัน", "หมื่น", "แสน"]


def thai_number(n: int) -> str:
    """A whole number >= 1 in Thai words: ล้าน (a million) repeats; 1 in the tens is สิบ,
    2 there ยี่สิบ; a final 1 after higher digits of its million is เอ็ด."""
    if n >= 1_000_000:
        high, low = divmod(n, 1_000_000)
        return thai_number(high) + "ล้าน" + (thai_number(low) if low else "")
    digits = [int(ch) for ch in str(n)][::-1]
    out = []
    for place in range(len(digits) - 1, -1, -1):
        d = digits[place]
        if d == 0:
            continue
        if place == 1:
            out.append({1: "", 2: "ยี่"}.get(d, _THAI_DIGITS[d]) + "สิบ")
        elif place == 0:
            out.append("เอ็ด" if d == 1 and n > 9 else _THAI_DIGITS[d])
        else:
            out.append(_THAI_DIGITS[d] + _THAI_PLACES[place])
    return "".join(out)


def bahttext(x: float) -> str:
    """BAHTTEXT: an amount in Thai words with บาท (baht) and สตางค์ (satang, hundredths),
    ถ้วน (exactly) when there are none, ลบ before a negative amount."""
    cents = round(abs(x) * 100)
    baht, satang = divmod(cents, 100)
    if cents == 0:
        return "ศูนย์บาทถ้วน"
    text = (thai_number(baht) + "บาท" if baht else "") + \
        (thai_number(satang) + "สตางค์" if satang else "ถ้วน")
    return ("ลบ" if x < 0 else "") + text


def _bahttext(number: Any) -> Any:
    def one(v: Any) -> Any:
        if isinstance(v, XlError):
            return v
        if v is sh.EMPTY:
            v = 0.0
        try:
            x = float(bool(v)) if isinstance(v, (bool, np.bool_)) else float(v)
        except (TypeError, ValueError):
            return Error.errors["#VALUE!"]
        if not math.isfinite(x):
            return Error.errors["#NUM!"]
        return bahttext(x)

    return _elementwise(one, number)


# ---------------------------------------------------------------------------- MODE.MULT

def _mode_mult(*args: Any) -> Any:
    """MODE.MULT: the most frequent numbers (each at least twice) as a column, in the order
    they first appear; numbers of references only (text, logical values and blanks left
    out), literal text read as a number or date where it is one; #N/A when none repeats."""
    values: list[float] = []
    for a in args:
        is_ref = hasattr(a, "ranges") and hasattr(a, "value")
        v = _ranges_value(a)
        items = np.asarray(v, dtype=object).reshape(-1).tolist()
        for x in items:
            if isinstance(x, XlError):
                return x
            if x is sh.EMPTY:
                if not is_ref:
                    return Error.errors["#VALUE!"]  # an omitted argument
                continue
            if isinstance(x, (bool, np.bool_)):
                if not is_ref:
                    values.append(float(bool(x)))
                continue
            if isinstance(x, str):
                if is_ref:
                    continue
                number = _scalar(_original_value("VALUE", x))
                if isinstance(number, (int, float)) and not isinstance(number, bool):
                    values.append(float(number))
                continue
            values.append(float(x))
    counts: dict[float, int] = {}
    for x in values:
        counts[x] = counts.get(x, 0) + 1
    best = max(counts.values(), default=0)
    if best < 2:
        return Error.errors["#N/A"]
    modes = [x for x in dict.fromkeys(values) if counts[x] == best]
    out = np.empty((len(modes), 1), dtype=object)
    out[:, 0] = modes
    return out.view(Array)


def _original_value(name: str, *args: Any) -> Any:
    from formulas.functions import get_functions

    f = get_functions()[name]
    return (f["function"] if isinstance(f, dict) else f)(*args)


# ---------------------------------------------------------------------------- GROUPBY, PIVOTBY

def _error_texts_to_errors(name: str) -> Callable[..., Any]:
    """``formulas``' GROUPBY and PIVOTBY write the errors of their aggregations as text
    (``"#VALUE!"``); a label is a cell value, so an error's text there was an error."""
    def call(*args: Any, **kwargs: Any) -> Any:
        out = _original(name)(*args, **kwargs)
        if isinstance(out, np.ndarray) and out.dtype == object:
            for idx in np.ndindex(out.shape):
                v = out[idx]
                if type(v) is str and v in Error.errors:
                    out[idx] = Error.errors[v]
        return out

    return call


# ---------------------------------------------------------------------------- registration

def _isnumber_check(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and \
        not isinstance(x, (bool, np.bool_))


def _switch_entry() -> dict[str, Any]:
    return {"function": wrap_ufunc(_switch, input_parser=lambda *a: a,
                                   check_error=lambda first, *a: get_error(first))}


def _grid(v: Any) -> np.ndarray:
    """An argument's values as a 2-D object array."""
    if hasattr(v, "ranges") and hasattr(v, "value"):
        v = v.value
    arr = np.asarray(v, dtype=object)
    return arr.reshape(1, 1) if arr.ndim == 0 else arr.reshape(1, -1) if arr.ndim == 1 else arr


def _ppmt(rate: float, per: float, nper: float, pv: float, fv: float = 0,
          when: float = 0) -> Any:
    """PPMT(rate, per, nper, pv, [fv], [type]) in closed form; #NUM! for a period outside
    1..nper, as ``formulas`` checks it."""
    if per < 1 or per >= nper + 1:
        return Error.errors["#NUM!"]
    if rate == 0:
        return -(pv + fv) / nper
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        grown = np.power(1.0 + rate, nper) - 1.0
        if when == 0:
            return -rate * (pv + fv) * np.power(1.0 + rate, per - 1) / grown
        if per < 2:  # due at the start: the first payment is all principal
            return -rate * (pv * (grown + 1.0) + fv) / (grown * (1.0 + rate))
        return -rate * (pv + fv) * np.power(1.0 + rate, per - 2) / grown


def _trimrange(range_: Any, rows: Any = 3, cols: Any = 3) -> Any:
    """TRIMRANGE(range, [trim_rows], [trim_cols]): ``formulas``' own unless a trim mode is
    an array of several values, which gives #VALUE! in each place of their broadcast."""
    shapes = [_grid(a).shape for a in (rows, cols) if _grid(a).size > 1]
    if not shapes:
        return _original("TRIMRANGE")(range_, rows, cols)
    h, w = max(s[0] for s in shapes), max(s[1] for s in shapes)
    out = np.empty((h, w), dtype=object)
    out[:] = Error.errors["#VALUE!"]
    return out.view(Array)


def _if_entry() -> dict[str, Any]:
    """IF as ``formulas`` registers it (a dict, for its cycle solver), a single condition
    answered before ``formulas``' element-by-element version."""
    entry = _ORIGINAL["IF"]
    original = _original("IF")

    def xif(condition: Any, *values: Any) -> Any:
        c = condition  # a single value: not an array, a list or a range (GROUPBY passes those)
        if isinstance(c, (np.ndarray, list, tuple)) or hasattr(c, "ranges") or not values:
            return original(condition, *values)
        if isinstance(c, XlError):
            return c
        if isinstance(c, str) and c is not sh.EMPTY:
            return Error.errors["#VALUE!"]
        if c is not sh.EMPTY and c:
            return values[0]
        return values[1] if len(values) > 1 else False

    return {**entry, "function": xif} if isinstance(entry, dict) else {"function": xif}


def _ifs(*args: Any) -> Any:
    """IFS(condition1, value1, ...): for each element, the value of the first condition that
    is TRUE (a number other than 0; a blank is FALSE); an error condition gives its error, a
    text one #VALUE!; none TRUE: #N/A. Arrays broadcast as Excel's do (a single row or
    column widens, a cell beyond a smaller array is #N/A)."""
    if not args or len(args) % 2:
        return Error.errors["#N/A"]
    grids = [_grid(a) for a in args]
    h = max(g.shape[0] for g in grids)
    w = max(g.shape[1] for g in grids)
    na = Error.errors["#N/A"]

    def at(g: np.ndarray, i: int, j: int) -> Any:
        gi, gj = (0 if g.shape[0] == 1 else i), (0 if g.shape[1] == 1 else j)
        return g[gi, gj] if gi < g.shape[0] and gj < g.shape[1] else na

    out = np.empty((h, w), dtype=object)
    for i in range(h):
        for j in range(w):
            result = na
            for cond, value in zip(grids[::2], grids[1::2], strict=True):
                c = at(cond, i, j)
                if isinstance(c, XlError):
                    result = c
                    break
                if isinstance(c, str) and c is not sh.EMPTY:
                    result = Error.errors["#VALUE!"]
                    break
                if c is not sh.EMPTY and c:
                    result = at(value, i, j)
                    break
            out[i, j] = sh.EMPTY if result is None else result
    return out[0, 0] if out.size == 1 else out.view(Array)


def _financial_kw() -> dict[str, Any]:
    """``formulas``' reading of the arguments of its payment functions (numbers, text
    numbers, errors)."""
    from formulas.functions.financial import _kw

    return dict(_kw)


XIRR_TOLERANCE = 1e-8
"""Excel's XIRR is "accurate within 0.000001 percent": half the final bracket is under this."""
XIRR_TRIES = 100
"""Excel's XIRR gives up after 100 tries (#NUM!): doublings or halvings, and bisections."""
XIRR_ZERO_START = 1e-5
"""Where the search starts from a guess of 0 (it cannot double or halve 0): Excel's result
for a guess of 0 is the midpoint of a bisection of [1E-05 x 2^15, 1E-05 x 2^16]."""


def _xirr_bracket(f: Callable[[float], Any], guess: float) -> tuple[float, float] | None:
    """Two rates on either side of the root, found as Excel does: from the guess, one point
    doubled and one halved each try (both keep the guess's sign), until the net present value
    at one of them has the other sign than at the point before it; None when none does
    within :data:`XIRR_TRIES` tries (or a rate reaches -100 %)."""
    up = down = guess if guess != 0 else XIRR_ZERO_START
    down = down if guess != 0 else -XIRR_ZERO_START
    f_up = f_down = f(guess)
    if not _finite(f_up):
        return None
    for _ in range(XIRR_TRIES):
        nxt = up * 2
        if nxt > -1:
            v = f(nxt)
            if _finite(v) and (v > 0) != (f_up > 0):
                return (min(up, nxt), max(up, nxt))
            up, f_up = nxt, v if _finite(v) else f_up
        nxt = down / 2 if guess != 0 else down * 2
        if nxt > -1:
            v = f(nxt)
            if _finite(v) and (v > 0) != (f_down > 0):
                return (min(down, nxt), max(down, nxt))
            down, f_down = nxt, v if _finite(v) else f_down
    return None


def _finite(v: Any) -> bool:
    return isinstance(v, (float, np.floating)) and math.isfinite(v)


def _xirr_bisect(f: Callable[[float], Any], lo: float, hi: float) -> float | None:
    """The midpoint at which half the bracket [lo, hi] is under :data:`XIRR_TOLERANCE`."""
    f_lo = f(lo)
    for _ in range(XIRR_TRIES):
        mid = (lo + hi) / 2
        if (hi - lo) / 2 < XIRR_TOLERANCE:
            return mid
        f_mid = f(mid)
        if f_mid == 0:
            return mid
        if (f_mid > 0) == (f_lo > 0):
            lo, f_lo = mid, f_mid
        else:
            hi = mid
    return None


def _xirr(values: Any, dates: Any, guess: Any = 0.1) -> Any:
    """XIRR(values, dates, [guess]) by Excel's search (:func:`_xirr_bracket`,
    :func:`_xirr_bisect`); arguments checked as ``formulas`` checks them; where the search
    finds no bracket, ``formulas``' Newton iteration (#NUM! for a negative guess)."""
    from formulas.functions import _text2num, raise_errors, replace_empty
    from formulas.functions.financial import _newton, _xnpv

    x = np.asarray(guess, object)
    if x.size > 1:
        return Error.errors["#VALUE!"]
    raise_errors(x)
    x = _text2num(replace_empty(x).ravel()[0])
    if isinstance(x, (bool, str)):
        return Error.errors["#VALUE!"]
    f, df = _xnpv(values, dates, min_date=-1)
    if df is None:
        return f(x)
    x = float(x)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        bracket = _xirr_bracket(f, x)
        root = _xirr_bisect(f, *bracket) if bracket is not None else None
        if root is not None:
            return root
        return Error.errors["#NUM!"] if x < 0 else _newton(f, df, x)


def _irr(values: Any, guess: Any = 0.1) -> Any:
    """IRR(values, [guess]) with the blank cells of a range left out, as Excel leaves them
    out: ``formulas`` counts a blank as a cash flow of 0, which moves the roots (with
    numpy-financial 1.1, IRR(4, 5, blank) was -100 % where Excel says #NUM!); the rest is
    ``formulas``' own IRR."""
    from formulas.functions.financial import xirr

    cells = np.asarray(values, dtype=object).ravel()
    return xirr(cells[cells != np.array(sh.EMPTY, dtype=object)], guess)


OVERRIDES: dict[str, tuple[Any, str]] = {
    "IRR": (wrap_func(_irr), "ltvxl: the blank cells of a range left out"),
    "YEARFRAC": (wrap_func(_yearfrac, ranges=True),
                 "ltvxl: Excel's day counts for bases 0-4"),
    "SWITCH": (None, "ltvxl: text compared without regard to case"),
    "ISNUMBER": (wrap_ranges_func(functools.partial(
        iserror, check=_isnumber_check, array=FalseArray)),
        "ltvxl: text is never a number"),
    "N": (wrap_func(_n), "ltvxl: TRUE is 1, FALSE 0"),
    "CHOOSE": (wrap_func(_choose, ranges=True),
               "ltvxl: only the chosen argument, a range kept as a reference"),
    "TRUNC": (wrap_func(_trunc, ranges=True), "ltvxl: Excel's 15 digits first"),
    "VDB": (wrap_func(_vdb, ranges=True), "ltvxl: Excel's switch to straight line"),
    "TEXT": (wrap_func(_text, ranges=True),
             "ltvxl: elapsed times, 12-hour clocks and fractions as Excel"),
    "DATEVALUE": (wrap_func(_date_text("DATEVALUE"), ranges=True),
                  "ltvxl: a plain number or a word is no date (#VALUE!)"),
    "TIMEVALUE": (wrap_func(_date_text("TIMEVALUE"), ranges=True),
                  "ltvxl: a plain number or a word is no time (#VALUE!)"),
    "SEQUENCE": (wrap_func(_sequence, ranges=True), "ltvxl: formulas lacks it"),
    "MODE.MULT": (wrap_func(_mode_mult, ranges=True), "ltvxl: the modes as a column"),
    "BAHTTEXT": (wrap_func(_bahttext, ranges=True), "ltvxl: Thai words of baht and satang"),
    **{name: (wrap_func(getattr(bessel, name)),
              "ltvxl: Excel's approximations (A&S, Numerical Recipes), to the last bit")
       for name in ("BESSELI", "BESSELJ", "BESSELK", "BESSELY")},
    "PPMT": (wrap_ufunc(_ppmt, **_financial_kw()),
             "ltvxl: the closed form of the principal part"),
    "TRIMRANGE": (wrap_func(_trimrange, ranges=True),
                  "ltvxl: an array of trim modes gives an array of #VALUE!"),
    "IF": (None, "ltvxl: a single condition gives the chosen value as it is"),
    "IFS": (wrap_func(_ifs), "ltvxl: element by element, any number of arguments"),
    "XIRR": (wrap_func(_xirr), "ltvxl: Excel's doubling and halving of the guess, then bisection"),
    "GROUPBY": (_error_texts_to_errors("GROUPBY"), "ltvxl: errors of the aggregation as errors"),
    "PIVOTBY": (_error_texts_to_errors("PIVOTBY"), "ltvxl: errors of the aggregation as errors"),
}
"""Native functions computed by ltvxl: name -> (function, note). SWITCH is filled in
:func:`install`, which also keeps ``formulas``' own functions for the arguments they get
right."""


def install(registry: dict[str, Any]) -> None:
    """Register the overrides in ``formulas``' function table (once per process)."""
    for name in OVERRIDES:
        if name not in _ORIGINAL and name in registry:
            _ORIGINAL[name] = registry[name]
    for name, (func, _) in OVERRIDES.items():
        entry = _switch_entry() if name == "SWITCH" else _if_entry() if name == "IF" else func
        registry[name] = entry
        if name in ("SWITCH", "SEQUENCE", "MODE.MULT", "IFS", "TRIMRANGE"):
            registry["_XLFN." + name] = entry
