"""The declaration machinery itself: declare, guard, elementwise (with throwaway functions)."""

import math

import numpy as np
import pytest

from ltvxl.domains import DENOMINATOR, NON_NEGATIVE
from ltvxl.errors import DIV0, LtvxlError
from ltvxl.worksheet import REGISTRY, Arg, Spec, declare, elementwise, spec_of


@pytest.fixture
def scratch():
    """Declare throwaway functions; they leave the REGISTRY when the test ends."""
    before = set(REGISTRY)
    yield
    for name in set(REGISTRY) - before:
        del REGISTRY[name]


def _spec(name, *args, **kw):
    return Spec(name, "A test function.", args or (Arg("x", "A number."),), **kw)


def test_declared_function_carries_name_doc_signature_and_spec(scratch):
    spec = _spec("T_ONE", Arg("x", "A number."), Arg("y", "Optional.", default=2.0))
    f = declare(spec, lambda x, y: 1.0)
    assert f.__name__ == "T_ONE" and f.__doc__ == "A test function."
    assert str(__import__("inspect").signature(f)) == "(x, y=None)"
    assert spec_of(f) is spec and REGISTRY["T_ONE"] is f
    assert not hasattr(f, "__wrapped__") and f.__annotations__ == {}


def test_declaring_a_name_twice_is_refused(scratch):
    declare(_spec("T_TWICE"), lambda x: 1.0)
    with pytest.raises(ValueError, match="declared twice"):
        declare(_spec("T_TWICE"), lambda x: 2.0)


def test_guard_turns_every_exception_into_cell_text(scratch):
    def boom(x):
        if x == 1:
            raise LtvxlError("x is odd", DIV0)
        if x == 2:
            return 1 / 0
        if x == 3:
            return boom(x)  # RecursionError
        return x

    f = declare(_spec("T_BOOM"), boom)
    assert f(1.0) == "#DIV/0! x is odd"
    assert f(2.0).startswith("#VALUE! T_BOOM: unexpected ZeroDivisionError")
    assert f(3.0) == "#VALUE! T_BOOM: input is too deeply nested"
    assert f(4.0) == 4.0


def test_guard_cleans_numpy_and_non_finite_results(scratch):
    # a data argument reaches the function as given: what comes back is cleaned
    f = declare(_spec("T_NUMPY", Arg("x", "Anything.", kind="data")), lambda x: x)
    assert f(math.nan) == "#NUM! T_NUMPY has no finite value here"
    assert f(math.inf).startswith("#NUM!")
    out = f(np.float64(2.5))
    assert out == 2.5 and type(out) is float
    assert f(np.array([[1.0, np.nan]])) == [[1.0, "#NUM! T_NUMPY has no finite value here"]]
    assert f(np.array([1, 2])) == [[1.0], [2.0]]
    assert f(np.array("label")) == "label"


def test_keywords_and_arity(scratch):
    spec = _spec("T_KW", Arg("x", "h"), Arg("y", "h", default=1.0))
    f = declare(spec, lambda x, y: (x, y))
    assert f(1.0) == (1.0, 1.0)  # an omitted optional argument arrives as its default
    assert f(y=3.0, x=2.0) == (2.0, 3.0)
    assert f() == "#VALUE! T_KW: missing a required argument: 'x'"
    assert f(1.0, 2.0, 3.0).startswith("#VALUE! T_KW: too many")


def test_arguments_arrive_read_from_the_spec(scratch):
    spec = _spec(
        "T_READ",
        Arg("n", "h", kind="value", default=12.0, domain=NON_NEGATIVE),
        Arg("unit", "h", kind="text", default="weeks", choices=("days", "weeks")),
        Arg(
            "model",
            "h",
            kind="text",
            default="PNBD",
            choices=("PNBD", "BGNBD"),
            read=lambda v: {"pnbd": "PNBD", "pareto/nbd": "PNBD"}[str(v).lower()],
        ),
        Arg("when", "h", kind="value", default=None),
    )
    f = declare(spec, lambda *a: list(a))
    assert f() == [12.0, "weeks", "PNBD", None]
    assert f([[3]], " DAYS ", "Pareto/NBD", [["2024-01-31"]]) == [3.0, "days", "PNBD", "2024-01-31"]
    assert f("", [[""]], None, "  ") == [12.0, "weeks", "PNBD", None]
    assert f(-1.0) == "#VALUE! n must be >= 0, got -1"
    assert f("x") == '#VALUE! n must be a number, got text "x"'
    assert f(None, "months") == '#VALUE! unit must be one of days, weeks; got text "months"'
    assert f(None, 5.0) == "#VALUE! unit must be one of days, weeks; got 5.0"
    assert f([[1.0, 2.0]]) == "#VALUE! n must be a single cell, got a range of 2 cells"


def test_elementwise_marks_the_spec_and_checks_the_core(scratch):
    def ratio(a, b):
        return a / b

    spec = _spec("T_RATIO", Arg("a", "h", domain=NON_NEGATIVE), Arg("b", "h", domain=DENOMINATOR))
    f = elementwise(spec, ratio)
    assert spec_of(f).elementwise and spec_of(f).returns == "array"
    assert f([[1.0], [3.0]], [[2.0], [0.0]]) == [[0.5], ["#DIV/0! b is 0"]]
    with pytest.raises(ValueError, match="takes no argument"):
        elementwise(_spec("T_BAD_KW", Arg("a", "h"), Arg("c", "h")), ratio)
    with pytest.raises(ValueError, match="must be numbers"):
        elementwise(_spec("T_TEXT", Arg("a", "h", kind="text", default="x")), ratio)
    assert "T_BAD_KW" not in REGISTRY and "T_TEXT" not in REGISTRY


def test_elementwise_core_kwargs_rename(scratch):
    f = elementwise(
        _spec("T_RENAME", Arg("value", "h")), lambda v: v * 2, core_kwargs={"value": "v"}
    )
    assert f(2.0) == 4.0 and f([[1.0, 2.0]]) == [[2.0, 4.0]]


def test_elementwise_optional_without_default_is_left_out(scratch):
    def core(x, n=None):
        return x if n is None else x * n

    f = elementwise(_spec("T_OPT", Arg("x", "h"), Arg("n", "h", default=None)), core)
    assert f(3.0) == 3.0 and f(3.0, 2.0) == 6.0
    assert f([[3.0], [4.0]], None) == [[3.0], [4.0]]


def test_scalar_and_range_paths_agree_on_bad_cells(scratch):
    f = elementwise(
        _spec("T_SAME", Arg("a", "h", domain=NON_NEGATIVE), Arg("b", "h", domain=DENOMINATOR)),
        lambda a, b: a / b,
    )
    cells = [(-1.0, 0.0), ("x", 1.0), (None, 1.0), (1.0, None), (True, 2.0), (1e308, 1e-308)]
    column = f([[a] for a, _ in cells], [[b] for _, b in cells])
    assert column == [[f(a, b)] for a, b in cells]
