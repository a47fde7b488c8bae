"""Transaction ranges parsed once: the logs worksheet functions read, kept by content.

A workbook points many formulas at the same transaction columns (the template:
customers, cohorts, segments, channels, predicted CLV); parsing 100,000 cells
into a :class:`~ltvxl.transactions.log.TransactionLog` costs far more than
any of those formulas' own work. :func:`log_of` parses a set of ranges once
and hands the same log to every later call with equal contents, in Excel as
in the headless refresh. The key is Python's hash of the cell values; a hit
is confirmed by comparing the cells themselves (identical lists compare in
one pass), so a hash collision costs a parse, never a wrong log.
"""

from __future__ import annotations

from collections import OrderedDict
from itertools import chain
from typing import Any

LOG_CACHE_SIZE = 4
"""Logs kept (the least recently used is dropped first)."""

_LOGS: OrderedDict[int, tuple[tuple[Any, ...], Any]] = OrderedDict()
_STEADY: dict[int, list[Any]] = {}
"""Ranges that do not change until :func:`forget_steady`, by id: [the range, its hash or
None until needed]."""


def steady(value: Any) -> None:
    """Mark a range (a list of rows) as unchanging until :func:`forget_steady`: its hash is
    then computed once. The headless refresh hands one converted range to every formula
    that reads it, and never changes it; Excel's lists are never marked."""
    if isinstance(value, list):
        _STEADY[id(value)] = [value, None]


def forget_steady() -> None:
    """Forget the ranges marked by :func:`steady` (at the start and end of a refresh)."""
    _STEADY.clear()


def _cells_hash(value: Any) -> int:
    """The hash of a range's values (see :func:`_content_hash`), once for a steady range."""
    hit = _STEADY.get(id(value))
    if hit is None or hit[0] is not value:
        return _content_hash(value)
    if hit[1] is None:
        hit[1] = _content_hash(value)
    return hit[1]


def _content_hash(value: Any) -> int:
    """A hash of a range's values (a list of rows, a flat list or one cell).

    The rows' cells are chained into one tuple (no Python step per cell, no
    tuple per row): a column of 100,000 cells hashes in a few milliseconds. Any
    function of the contents would do, since a hit is confirmed by comparing the
    cells.
    """
    if isinstance(value, list):
        try:
            return hash(tuple(chain.from_iterable(value)))
        except TypeError:  # a flat list of cells (or unhashable cells: raised again)
            return hash(tuple(value))
    return hash(value)


def log_of(ids: Any, dates: Any, amounts: Any, extra: dict[str, Any] | None = None,
           orders: Any = None) -> Any:
    """``TransactionLog.from_cells(ids, dates, amounts, extra, orders=orders)``, parsed once
    per content.

    The log is shared: callers must not change its arrays in place.
    """
    from ltvxl.transactions.log import TransactionLog

    args = (ids, dates, amounts, tuple(sorted((extra or {}).items())), orders)
    try:  # by content, never by identity: a caller may change its lists in place
        key = hash(tuple(_cells_hash(v) for v in (*args[:3], *(v for _, v in args[3]),
                                                 orders)))
        key = hash((key, tuple(name for name, _ in args[3])))
    except TypeError:  # an unhashable cell value: parse without keeping
        return TransactionLog.from_cells(ids, dates, amounts, extra, orders=orders)
    hit = _LOGS.get(key)
    if hit is not None and hit[0] == args:
        _LOGS.move_to_end(key)
        return hit[1]
    log = TransactionLog.from_cells(ids, dates, amounts, extra, orders=orders)
    _LOGS[key] = (args, log)
    while len(_LOGS) > LOG_CACHE_SIZE:
        _LOGS.popitem(last=False)
    return log


def clear() -> None:
    """Forget every kept log."""
    _LOGS.clear()
