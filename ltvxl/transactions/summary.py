"""Per-customer summary of a transaction log (the buy-till-you-die inputs).

For each customer with at least one purchase on or before ``as_of``:

- ``first_purchase``, ``last_purchase``: dates of the first and last purchase;
- ``orders``: purchases (rows with amount >= 0; with order ids, distinct
  orders); ``revenue``: the sum of all amounts,
  returns (negative amounts) netted; ``avg_order_value`` = revenue / orders;
- ``frequency``: repeat purchases, counted as the buy-till-you-die literature
  does: the number of distinct purchase days after the first (purchases on
  the same day are one purchase);
- ``recency``: time from the first to the last purchase day, in ``time_unit``;
- ``T``: the customer's age, time from the first purchase to ``as_of``;
- ``monetary_value``: the mean value of the repeat purchase days, same-day
  purchases merged, returns not included (0 when frequency is 0): the
  ``zbar`` of the CDNOW data, the input of the Gamma-Gamma spend model;
- ``historical_value``: revenue so far (same as ``revenue``).

Time units: ``days``; ``weeks`` = days / 7; ``months`` = days / (365.25 / 12);
``years`` = days / 365.25. ``as_of`` (default: the last date in the log) is the
end of the observation: later transactions are excluded and counted in the
notes.

:func:`customer_summary` returns a :class:`CustomerSummary`: the table and the
facts that belong with it (``as_of``, the time unit, the notes), typed fields
rather than ``DataFrame.attrs``, which pandas marks experimental and drops in
many operations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import LtvxlError
from ..units import DEFAULT_UNIT, unit_days
from .dates import parse_day
from .log import TransactionLog

SUMMARY_COLUMNS = (
    "customer", "first_purchase", "last_purchase", "orders", "revenue", "avg_order_value",
    "frequency", "recency", "T", "monetary_value", "historical_value",
)


def resolve_as_of(log: TransactionLog, as_of: Any = None) -> int:
    """``as_of`` as a day number: the given date or the last date in the log."""
    if len(log) == 0:
        raise LtvxlError("the transaction log is empty")
    if as_of is None:
        return int(log.days.max())
    day = parse_day(as_of, "as_of")
    first = int(log.days.min())
    if day < first:
        raise LtvxlError(
            f"as_of {np.datetime64(day, 'D')} is before the first transaction "
            f"({np.datetime64(first, 'D')})"
        )
    return day


@dataclass(frozen=True)
class CustomerSummary:
    """The per-customer summary of a log and what it was computed with.

    table: one row per customer, the columns of :data:`SUMMARY_COLUMNS`.
    as_of: the end of the observation (``datetime64[D]``).
    time_unit: the unit of ``recency`` and ``T`` (days, weeks, months, years).
    notes: one sentence per kind of row left out or treated specially.
    """

    table: pd.DataFrame
    as_of: np.datetime64
    time_unit: str
    notes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.table)


_CHUNK = 1 << 16


def _day_keys(codes: np.ndarray, days: np.ndarray, k: int) -> tuple[int, int, np.ndarray]:
    """(d0, span, keys): one sorted key per row, customer-major and day-minor,
    ``code * span + day - d0``; int32 when it fits (half the memory of int64)."""
    d0 = int(days.min())
    span = int(days.max()) - d0 + 1
    kind = np.int32 if k * span < 2**31 else np.int64
    key = codes.astype(kind)
    key *= span
    for lo in range(0, len(key), _CHUNK):  # + day - d0, block by block: no second array
        block = key[lo:lo + _CHUNK]
        block += (days[lo:lo + _CHUNK] - d0).astype(kind)
    if not bool(np.all(key[1:] >= key[:-1])):
        key.sort()
    return d0, span, key


class CustomerTotals:
    """Per-customer aggregates of a log up to a day, as arrays indexed by customer code.

    Shared by the summary, the statistics, RFM and the group comparison so
    that they agree to the cent. Customers without a purchase up to ``as_of``
    have ``orders == 0`` and are dropped by the users of this class.
    """

    def __init__(self, log: TransactionLog, as_of_day: int) -> None:
        days, codes, amounts = log.days, log.codes, log.amounts
        k = len(log.customers)
        inside = days <= as_of_day
        self.after_as_of = int(len(days) - np.count_nonzero(inside))
        if self.after_as_of:
            days, codes, amounts = days[inside], codes[inside], amounts[inside]
        del inside
        self.as_of_day = as_of_day
        self.revenue = np.bincount(codes, weights=amounts, minlength=k)
        self.zero = int(np.count_nonzero(amounts == 0))
        buy = amounts >= 0
        self.returns = int(len(amounts) - np.count_nonzero(buy))
        orders = log.orders
        if orders is not None and self.after_as_of:
            orders = orders[log.days <= as_of_day]
        if self.returns:
            codes, days, amounts = codes[buy], days[buy], amounts[buy]
            orders = None if orders is None else orders[buy]
        del buy
        self.orders = np.zeros(k, dtype=np.int64)
        big = np.iinfo(np.int64).max
        first = np.full(k, big, dtype=np.int64)
        last = np.full(k, -big, dtype=np.int64)
        self.purchase_days = np.zeros(k, dtype=np.int64)
        if len(days):
            d0, span, key = _day_keys(codes, days, k)
            # orders: each customer's keys are a run of the sorted keys; binary searches
            # for the run bounds read the keys in order (a bincount of the codes would
            # scatter at random, slow once the customers' table outgrows the cache)
            bounds = np.searchsorted(key, np.arange(k + 1, dtype=key.dtype) * span)
            self.orders = np.diff(bounds)
            del bounds
            if orders is not None:  # purchases are orders: distinct (customer, order) pairs
                pairs = np.unique(codes.astype(np.int64) * (int(orders.max()) + 1) + orders)
                self.orders = np.bincount(pairs // (int(orders.max()) + 1), minlength=k)
                del pairs
            # distinct keys: compacted in place, block by block (no second key array)
            m, prev = 0, None
            for lo in range(0, len(key), _CHUNK):
                block = key[lo:lo + _CHUNK]
                new = np.empty(len(block), dtype=bool)
                new[0] = prev is None or block[0] != prev
                np.not_equal(block[1:], block[:-1], out=new[1:])
                prev = block[-1]
                kept = block[new]
                key[m:m + len(kept)] = kept
                m += len(kept)
            key = key[:m]
            # each customer's run of keys: first and last purchase day, purchase days
            starts = np.empty(m, dtype=bool)
            starts[0] = True
            for lo in range(1, m, _CHUNK):
                hi = min(lo + _CHUNK, m)
                np.not_equal(key[lo:hi] // span, key[lo - 1:hi - 1] // span, out=starts[lo:hi])
            at = np.flatnonzero(starts)
            del starts
            ends = np.empty(len(at), dtype=np.int64)
            ends[:-1] = at[1:] - 1
            ends[-1] = m - 1
            cust = key[at] // span
            self.purchase_days[cust] = ends - at + 1
            first[cust] = key[at] - cust * span + d0
            last[cust] = key[ends] - cust * span + d0
            del key, at, ends, cust
        self.first, self.last = first, last
        self.repeat_value = np.zeros(k)
        if len(days):
            # each row looks up its customer's first day in random order: as a day offset
            # (int16 for logs spanning < 32768 days) the table is 4x smaller than int64 days,
            # which counts once the customers' tables outgrow the CPU cache
            small = np.int16 if span < 2**15 else np.int32
            first_off = np.zeros(k, dtype=small)
            bought = self.orders > 0
            first_off[bought] = first[bought] - d0
            step = max(_CHUNK, k // 2)  # chunks bound the temporary memory; each costs O(k)
            for lo in range(0, len(codes), step):
                c = codes[lo:lo + step]
                off = np.subtract(days[lo:lo + step], d0, out=np.empty(len(c), dtype=small),
                                  casting="unsafe")
                value = np.where(off != first_off[c], amounts[lo:lo + step], 0.0)
                self.repeat_value += np.bincount(c, weights=value, minlength=k)
        self.has_purchase = self.orders > 0
        self.only_returns = int(np.count_nonzero((~self.has_purchase) & (self.revenue != 0)))

    def notes(self, log: TransactionLog) -> list[str]:
        """The log's notes, counts of rows by amount taken among the rows up to as_of,
        then what the as_of cut and the summary left out."""
        inside = {"returns netted (negative amounts)": self.returns,
                  "zero-amount rows": self.zero}
        out = [f"{kind}: {inside.get(kind, n):,}" for kind, n in log.counts.items()
               if inside.get(kind, n)]
        if self.after_as_of:
            out.append(f"transactions after as_of excluded: {self.after_as_of}")
        if self.only_returns:
            out.append(f"customers with returns but no purchase excluded: {self.only_returns}")
        return out


def customer_summary(
    log: TransactionLog, as_of: Any = None, time_unit: str = DEFAULT_UNIT
) -> CustomerSummary:
    """One row per customer: first/last purchase, orders, revenue, frequency, recency, T.

    ``as_of``: end of observation (a date, ISO text or Excel serial; default
    the last date in the log). ``time_unit``: unit of recency and T (days,
    weeks, months, years; weeks = days / 7). See the module docstring for the
    definitions. Rows are in customer order (numeric ids numerically, then
    text ids) in ``result.table``; ``result.notes`` count the rows left out.
    """
    per = unit_days(time_unit)
    day = resolve_as_of(log, as_of)
    t = CustomerTotals(log, day)
    # each column made once, in place where possible (t is not used after): small peak
    keep = slice(None) if t.has_purchase.all() else np.flatnonzero(t.has_purchase)
    first, last = t.first[keep], t.last[keep]
    orders = t.orders[keep]
    revenue = t.revenue[keep]
    frequency = t.purchase_days[keep]
    frequency -= 1
    # the repeat value is 0 without repeat purchases, so dividing by max(frequency, 1) is 0
    monetary = t.repeat_value[keep]
    monetary /= np.maximum(frequency, 1)
    recency = last.astype(np.float64)
    recency -= first
    recency /= per
    age = first.astype(np.float64)
    np.subtract(day, age, out=age)
    age /= per
    first *= 86400  # days -> seconds, as datetime64[s]
    last *= 86400
    df = pd.DataFrame(
        {
            "customer": pd.Series(log.customers[keep].copy(), dtype=object, copy=False),
            "first_purchase": first.view("datetime64[s]"),
            "last_purchase": last.view("datetime64[s]"),
            "orders": orders,
            "revenue": revenue,
            "avg_order_value": revenue / orders,
            "frequency": frequency,
            "recency": recency,
            "T": age,
            "monetary_value": monetary,
            "historical_value": revenue,
        },
        copy=False,
    )
    return CustomerSummary(df, np.datetime64(day, "D"), time_unit, tuple(t.notes(log)))
