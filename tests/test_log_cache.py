"""Transaction ranges are parsed once per content (ltvxl.udfs._logs)."""

from __future__ import annotations

import copy

import pytest

from ltvxl import udfs
from ltvxl.errors import LtvxlError
from ltvxl.transactions.log import TransactionLog
from ltvxl.udfs import _logs


def _cells():
    rows = [("a", "2024-01-01", 10.0), ("b", "2024-01-05", 20.0), ("a", "2024-02-01", 5.0)]
    return ([[r[0]] for r in rows], [[r[1]] for r in rows], [[r[2]] for r in rows])


@pytest.fixture
def parses(monkeypatch):
    _logs.clear()
    calls = []
    real = TransactionLog.from_cells.__func__

    def counted(cls, *args, **kwargs):
        calls.append(args)
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(TransactionLog, "from_cells", classmethod(counted))
    yield calls
    _logs.clear()


def test_equal_ranges_in_new_lists_are_parsed_once_and_shared(parses):
    ids, dates, amounts = _cells()
    first = udfs.LTV_STATS(ids, dates, amounts, None, None)
    # Excel passes new lists at every call: equal contents are enough
    again = udfs.LTV_STATS(*copy.deepcopy((ids, dates, amounts)), None, None)
    udfs.LTV_CUSTOMERS(*copy.deepcopy((ids, dates, amounts)), None, None)
    assert first == again
    assert len(parses) == 1
    assert _logs.log_of(ids, dates, amounts) is _logs.log_of(*copy.deepcopy((ids, dates, amounts)))


def test_a_changed_cell_is_parsed_again(parses):
    ids, dates, amounts = _cells()
    before = udfs.LTV_STATS(ids, dates, amounts, None, None)
    amounts = copy.deepcopy(amounts)
    amounts[1][0] = 200.0
    after = udfs.LTV_STATS(ids, dates, amounts, None, None)
    assert len(parses) == 2
    assert before != after


def test_extra_ranges_are_part_of_the_key(parses):
    ids, dates, amounts = _cells()
    plain = _logs.log_of(ids, dates, amounts)
    with_channel = _logs.log_of(ids, dates, amounts, {"channel": [["x"], ["y"], ["x"]]})
    assert with_channel is not plain and not plain.extra  # another log (the kept one's
    assert len(parses) == 1  # rows: see test_extra_columns_join_the_kept_log_...)
    assert list(with_channel.extra) == ["channel"]
    assert _logs.log_of(ids, dates, amounts, {"channel": [["x"], ["y"], ["x"]]}) is with_channel


def test_unhashable_cells_are_parsed_without_being_kept(parses):
    ids, dates, amounts = _cells()
    ids[0] = [["nested"]]  # a list inside a cell: the reader's message, every time
    for _ in range(2):
        with pytest.raises(LtvxlError, match="ids"):
            _logs.log_of(ids, dates, amounts)
    assert len(parses) == 2 and not _logs._LOGS


def test_only_the_most_recent_logs_are_kept(parses):
    ids, dates, _ = _cells()
    for k in range(_logs.LOG_CACHE_SIZE + 2):
        _logs.log_of(ids, dates, [[float(k + 1)]] * 3)
    assert len(_logs._LOGS) == _logs.LOG_CACHE_SIZE
    _logs.log_of(ids, dates, [[1.0]] * 3)  # the oldest was dropped: parsed again
    assert len(parses) == _logs.LOG_CACHE_SIZE + 3


def test_a_range_changed_in_place_is_parsed_again(parses):
    # the same list objects with other contents: the key is the content, not the object
    ids, dates, amounts = _cells()
    before = udfs.LTV_STATS(ids, dates, amounts, None, None)
    amounts[1][0] = 200.0
    after = udfs.LTV_STATS(ids, dates, amounts, None, None)
    assert len(parses) == 2
    assert before != after


def test_a_steady_range_is_hashed_once_and_forgotten(parses, monkeypatch):
    # the refresh marks the ranges it hands to every formula: hashed once, until forgotten
    ids, dates, amounts = _cells()
    hashed = []
    real = _logs._content_hash
    monkeypatch.setattr(_logs, "_content_hash",
                        lambda v: (isinstance(v, list) and hashed.append(1)) or real(v))
    for v in (ids, dates, amounts):
        _logs.steady(v)
    for _ in range(3):
        _logs.log_of(ids, dates, amounts)
    assert len(hashed) == 3 and len(parses) == 1
    _logs.forget_steady()
    amounts[1][0] = 200.0  # no longer steady: its content counts again
    _logs.log_of(ids, dates, amounts)
    assert len(hashed) == 6 and len(parses) == 2


def test_extra_columns_join_the_kept_log_without_a_second_parse(parses):
    # the same transactions with a group column: the kept log's rows, the column added
    ids, dates, amounts = _cells()
    channel = [["x"], [None], ["x"]]
    base = _logs.log_of(ids, dates, amounts)
    got = _logs.log_of(ids, dates, amounts, {"channel": channel})
    assert len(parses) == 1 and got.codes is base.codes
    want = TransactionLog.from_cells(ids, dates, amounts, {"channel": channel})
    assert list(got.extra["channel"]) == list(want.extra["channel"]) == ["x", None, "x"]
    assert got.counts == want.counts and list(got.ids) == list(want.ids)
    with pytest.raises(LtvxlError, match="channel"):  # the same checks as a parse
        _logs.log_of(ids, dates, amounts, {"channel": [["x"], ["y" * 300], ["x"]]})


def test_extra_columns_after_a_skipped_blank_row_are_parsed(parses):
    ids, dates, amounts = _cells()
    ids, dates, amounts = [*ids, [None]], [*dates, [None]], [*amounts, [None]]
    _logs.log_of(ids, dates, amounts)
    got = _logs.log_of(ids, dates, amounts, {"channel": [["x"], ["y"], ["x"], ["z"]]})
    assert len(parses) == 2 and list(got.extra["channel"]) == ["x", "y", "x"]
