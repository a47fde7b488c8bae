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


def unsteady(value: Any) -> None:
    """Forget one range marked by :func:`steady` (the refresh no longer hands it out)."""
    hit = _STEADY.get(id(value))
    if hit is not None and hit[0] is value:
        del _STEADY[id(value)]


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
    log = _with_extra(ids, dates, amounts, extra, orders) if extra else None
    if log is None:
        log = TransactionLog.from_cells(ids, dates, amounts, extra, orders=orders)
    _LOGS[key] = (args, log)
    while len(_LOGS) > LOG_CACHE_SIZE:
        _LOGS.popitem(last=False)
    return log


def _one_cell_rows(value: Any) -> bool:
    """Whether a range is a column as xlwings passes one: a list of one-cell rows."""
    return isinstance(value, list) and len(value) > 1 and isinstance(value[0], list) and \
        len(value[0]) == 1


def _with_extra(ids: Any, dates: Any, amounts: Any, extra: dict[str, Any],
                orders: Any) -> Any:
    """The log of the same ids, dates and amounts without ``extra`` (kept), given the extra
    columns without parsing the transactions again; None when that log is not kept or when
    its rows might not be the ranges' rows (a blank row skipped, not plain columns): then
    the ranges are parsed. ``from_cells`` only filters extra columns by the rows it keeps,
    after the same checks (lengths, texts of at most 255 characters)."""
    import dataclasses

    from ltvxl.transactions.columns import cells_column, check_text_length

    try:
        base_key = hash((hash(tuple(_cells_hash(v) for v in (ids, dates, amounts, orders))),
                         ()))
    except TypeError:
        return None
    hit = _LOGS.get(base_key)
    if hit is None or hit[0] != (ids, dates, amounts, (), orders):
        return None
    base = hit[1]
    header = len(ids) - len(base) if _one_cell_rows(ids) else -1
    if header not in (0, 1) or base.counts.get("blank rows skipped") or base.extra:
        return None
    columns = {}
    for name, cells in extra.items():
        if not _one_cell_rows(cells) or len(cells) != len(ids):
            return None
        col = cells_column(cells, str(name))
        if len(col) != len(ids):
            return None
        col = col[header:]
        check_text_length(col, str(name), 1 + header)
        columns[str(name)] = col
    return dataclasses.replace(base, extra=columns)


def clear() -> None:
    """Forget every kept log."""
    _LOGS.clear()
