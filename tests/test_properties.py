"""Property tests over the REGISTRY: no input makes a worksheet function raise or show NaN.

Generic over every declared function, so families added later are covered:
- every element-wise function (``Spec.elementwise``, set by
  ``ltvxl.worksheet.elementwise``: returns one value per cell, all arguments
  numbers) never raises for any argument of any type or shape, never returns
  NaN or inf, and a range gives the same cells as calling cell by cell;
- every registered function, tables included, never raises for junk.
"""

import datetime as dt
import math
import os
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ltvxl.udfs  # noqa: F401  (declares every family)
from ltvxl.worksheet import REGISTRY, spec_of

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    derandomize=os.environ.get("CI") == "true",  # reproducible in CI, exploring locally
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture],
)


def _peak_rss():
    """This process's peak resident memory in bytes so far (Linux, macOS), or None."""
    try:
        import resource
    except ImportError:  # not on Linux/macOS
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


MEMORY_GROWTH = 2**30  # bytes of resident memory one property test may add


@pytest.fixture(autouse=True)
def memory_bound():
    """Fail a property test whose calls made the process's peak resident memory grow by
    more than MEMORY_GROWTH: work must be bounded by the size of the ranges, not by a
    number in a cell (issue 13). The peak is read after the test rather than capped
    with RLIMIT_AS: an address-space cap also counts memory that is only reserved
    (malloc arenas, OpenBLAS thread buffers), so on machines with more threads it broke
    the interpreter itself (MemoryError, SystemError, segfaults) in unrelated code."""
    before = _peak_rss()
    yield
    after = _peak_rss()
    if before is not None and after is not None:
        assert after - before <= MEMORY_GROWTH, (
            f"peak resident memory grew by {(after - before) / 2**20:.0f} MiB in one test")


ELEMENTWISE = [name for name, f in REGISTRY.items() if spec_of(f).elementwise]
ALL = list(REGISTRY)

ERROR_TEXTS = ["#N/A", "#DIV/0!", "#VALUE!", "#REF!", "#VALUE! churn_rate must be > 0",
               "#N/A " + "x" * 300]

numbers_st = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-2.0, max_value=2.0),
    st.floats(min_value=0.0, max_value=1e6),
    st.sampled_from([0.0, 1.0, -1.0, 0.5, 1e308, -1e308, 5e-324, 100.0]),
    st.integers(min_value=-(10**400), max_value=10**400),
)
junk_cells = st.one_of(
    numbers_st,
    st.none(),
    st.text(max_size=12),
    st.sampled_from([*ERROR_TEXTS, "", " ", "5", "5%", "weeks", "month", "1e3", "x" * 300]),
    st.booleans(),
    st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1)),
    st.dates(),
    st.just(np.float64(2.5)),
    st.complex_numbers(max_magnitude=10),
)
cells = st.one_of(numbers_st, junk_cells)


@st.composite
def grids(draw, cell=cells):
    """Any argument value: a cell, a flat list, rows (ragged or not, maybe empty), tuples."""
    kind = draw(st.sampled_from(["cell", "flat", "rows", "ragged", "tuple", "nested", "array"]))
    if kind == "cell":
        return draw(cell)
    if kind == "flat":
        return draw(st.lists(cell, max_size=5))
    if kind == "rows":
        width = draw(st.integers(0, 3))
        return draw(st.lists(st.lists(cell, min_size=width, max_size=width), max_size=5))
    if kind == "ragged":
        return draw(st.lists(st.lists(cell, max_size=3), max_size=4))
    if kind == "tuple":
        return tuple(tuple(r) for r in draw(st.lists(st.lists(cell, min_size=2, max_size=2),
                                                     min_size=1, max_size=3)))
    if kind == "array":
        return np.array(draw(st.lists(numbers_st.filter(lambda x: isinstance(x, float)),
                                      min_size=1, max_size=4)))
    return [[draw(st.lists(cell, max_size=2))]]  # a cell that is itself a list


def check_cell_output(out, name):
    """A value xlwings can write: a scalar or a rectangular list of lists, nothing non-finite,
    no text over 255 characters (classic Excel shows #VALUE! for the whole spill), no note
    over 200, and never the "(please report this)" guard of an internal error."""
    rows = out if isinstance(out, list) else [[out]]
    assert all(isinstance(r, list) for r in rows), f"{name}: {out!r:.200}"
    assert len({len(r) for r in rows}) <= 1, f"{name}: ragged result"
    for row in rows:
        for v in row:
            assert not isinstance(v, (list, tuple, dict, np.ndarray)), f"{name}: {v!r}"
            if isinstance(v, (float, np.floating)):
                assert math.isfinite(v), f"{name} returned {v}"
            if isinstance(v, str):
                assert len(v) <= 255, f"{name}: a text of {len(v)} characters: {v[:80]}..."
                assert v.startswith("#") or len(v) <= 200, f"{name}: a note of {len(v)}: {v}"
                assert "(please report this)" not in v, f"{name}: {v}"


@pytest.mark.parametrize("name", ELEMENTWISE)
@SETTINGS
@given(data=st.data())
def test_elementwise_never_raises_and_is_finite(name, data):
    func = REGISTRY[name]
    args = [data.draw(grids(), label=a.name) for a in spec_of(func).args]
    out = func(*args)  # an exception here fails the test
    check_cell_output(out, name)
    values = out if isinstance(out, list) else [[out]]
    for row in values:
        for v in row:
            assert type(v) in (float, str), f"{name}: {type(v)} in the result"


@pytest.mark.parametrize("name", ELEMENTWISE)
@SETTINGS
@given(data=st.data())
def test_a_range_gives_the_same_cells_as_calls_cell_by_cell(name, data):
    func = REGISTRY[name]
    spec = spec_of(func)
    rows, cols = data.draw(st.integers(1, 4), label="rows"), data.draw(st.integers(1, 3))
    mostly_valid = st.one_of(
        st.floats(min_value=0.0, max_value=1.0), st.floats(min_value=0.0, max_value=1e4),
        st.sampled_from([0.0, 1.0, 3.0, 0.05, 2.0]), cells,
    )
    args, shapes = [], []
    for arg in spec.args:
        shape = data.draw(st.sampled_from([(1, 1), (rows, 1), (1, cols), (rows, cols), None]
                                          if arg.optional else
                                          [(1, 1), (rows, 1), (1, cols), (rows, cols)]),
                          label=f"shape of {arg.name}")
        shapes.append(shape)
        if shape is None:
            args.append(None)
        else:
            args.append([[data.draw(mostly_valid) for _ in range(shape[1])]
                         for _ in range(shape[0])])
    out = func(*args)
    full = np.broadcast_shapes(*[s for s in shapes if s is not None])
    grid = out if isinstance(out, list) else [[out]]
    assert (len(grid), len(grid[0])) == full, out
    for i in range(full[0]):
        for j in range(full[1]):
            cell_args = [None if s is None else a[i if s[0] > 1 else 0][j if s[1] > 1 else 0]
                         for a, s in zip(args, shapes, strict=True)]
            single = func(*cell_args)
            got = grid[i][j]
            if isinstance(single, float) and isinstance(got, float):
                assert got == pytest.approx(single, rel=1e-12, abs=1e-300), (i, j, cell_args)
            else:
                assert got == single, (i, j, cell_args)


@pytest.mark.parametrize("name", ALL)
@SETTINGS
@given(data=st.data())
def test_every_function_never_raises_on_junk(name, data):
    func = REGISTRY[name]
    n = len(spec_of(func).args)
    count = data.draw(st.integers(max(0, n - 2), n), label="number of arguments")
    args = [data.draw(grids(), label=f"arg {i}") for i in range(count)]
    out = func(*args)
    check_cell_output(out, name)


@pytest.mark.parametrize("name", ALL)
def test_every_function_never_raises_on_classic_junk(name):
    """Hand-picked nasty inputs, every one tried in every argument position."""
    func = REGISTRY[name]
    n = len(spec_of(func).args)
    nasty = [None, [], [[]], [[None]], "", "#N/A", math.nan, -math.inf, 10**400, True,
             dt.datetime(2024, 1, 1), [[1.0, 2.0], [3.0]], [[[1.0]]], {"a": 1}, object(),
             np.zeros((2, 2, 2)), "x" * 10_000]
    for i in range(n):
        for value in nasty:
            args = [1.0] * n
            args[i] = value
            check_cell_output(func(*args), name)
