"""The worksheet functions called through xlwings' own argument conversion (classic UDFs).

``xl_call`` (tests/conftest.py) passes raw values as pywin32 hands them to
xlwings (a scalar for one cell, a tuple of row tuples for a range, "" or None
for a blank, COM error codes for error cells, an omitted optional argument as
DISP_E_PARAMNOTFOUND) through xlwings' conversion pipeline with the options
our declarations set, then calls the function: what Excel on Windows does.
"""

import datetime as dt

import pytest
from conftest import MISSING

import ltvxl.udfs.unit_economics as family
from ltvxl.docs_gen import parse_formula, result_matches
from ltvxl.worksheet import spec_of

FUNCS = {name: getattr(family, name) for name in family.__all__}
EXAMPLES = [
    pytest.param(name, formula, result, id=formula)
    for name, func in FUNCS.items()
    for formula, result in spec_of(func).examples
]


@pytest.mark.parametrize(("name", "formula", "result"), EXAMPLES)
def test_examples_through_xlwings(xl_call, name, formula, result):
    _, args = parse_formula(formula)
    raw = args + [MISSING] * (len(spec_of(FUNCS[name]).args) - len(args))
    assert result_matches(xl_call(FUNCS[name], *raw), result)


def test_single_cell_range_arrives_as_list_of_lists_and_returns_a_scalar(xl_call):
    out = xl_call(FUNCS["LTV"], 100.0, 3.0, 5.0, MISSING, MISSING)
    assert out == 1500.0 and type(out) is float


def test_column_range_spills_a_column(xl_call):
    out = xl_call(FUNCS["LTV"], ((100.0,), (200.0,)), 3.0, 5.0, MISSING, MISSING)
    assert out == [[1500.0], [3000.0]]


def test_row_and_block_ranges(xl_call):
    assert xl_call(FUNCS["CAC"], ((50000.0, 10000.0),), 100.0) == [[500.0, 100.0]]
    out = xl_call(FUNCS["MAX_CAC"], ((1500.0, 300.0), (900.0, 60.0)), 3.0)
    assert out == [[500.0, 100.0], [300.0, 20.0]]


def test_blank_cells_arrive_as_none(xl_call):
    # an optional argument pointing at a blank cell takes its default
    assert xl_call(FUNCS["MAX_CAC"], 1500.0, "") == 500.0
    assert xl_call(FUNCS["MAX_CAC"], 1500.0, None) == 500.0
    assert xl_call(FUNCS["MAX_CAC"], ((1500.0,), ("",)), 3.0) == [[500.0], ["#VALUE! ltv is blank"]]


def test_error_cells_propagate_as_their_text(xl_call, com_error_codes):
    assert set(com_error_codes) >= {"#N/A", "#DIV/0!", "#VALUE!", "#REF!", "#NUM!", "#NAME?"}
    for text, code in com_error_codes.items():
        out = xl_call(FUNCS["CAC"], ((50000.0,), (code,)), 100.0)
        assert out == [[500.0], [text]]
        assert xl_call(FUNCS["MAX_CAC"], 1500.0, code) == text  # optional argument too


def test_without_err_to_str_an_error_cell_would_look_blank(xl_call, com_error_codes):
    """Why expose() sets err_to_str: xlwings' default turns an error cell into None."""
    from xlwings import conversion

    code = com_error_codes["#N/A"]
    assert conversion.read(None, ((code,),), {"ndim": 2}) == [[None]]
    assert conversion.read(None, ((code,),), {"ndim": 2, "err_to_str": True}) == [["#N/A"]]


def test_text_bool_and_dates(xl_call):
    assert xl_call(FUNCS["CUSTOMER_LIFESPAN"], "abc") == (
        '#VALUE! churn_rate must be a number, got text "abc"'
    )
    assert xl_call(FUNCS["CUSTOMER_LIFESPAN"], True) == (
        "#VALUE! churn_rate must be a number, got TRUE"
    )
    assert xl_call(FUNCS["CUSTOMER_LIFESPAN"], dt.datetime(2024, 5, 17)) == (
        "#VALUE! churn_rate must be a number, got a date (2024-05-17)"
    )


def test_percent_formatted_rate_arrives_as_a_fraction(xl_call):
    # a cell showing 20% holds 0.2
    assert xl_call(FUNCS["CUSTOMER_LIFESPAN"], 0.2) == pytest.approx(5.0)
    assert xl_call(FUNCS["CUSTOMER_LIFESPAN"], 20.0).endswith("(rates are fractions: "
                                                               "enter 20% or 0.2)")


def test_mismatched_ranges(xl_call):
    out = xl_call(FUNCS["LTV_CAC_RATIO"], ((1.0,), (2.0,), (3.0,)), ((1.0,), (2.0,)))
    assert out == ("#VALUE! ltv (3 rows x 1 column) and cac (2 rows x 1 column) have "
                   "different shapes; use ranges of the same size or single cells")


def test_same_results_as_a_direct_call(xl_call):
    column = ((100.0,), (None,), ("x",), (250.0,), (-1.0,))
    direct = FUNCS["LTV"]([list(r) for r in column], 3.0, 5.0, 0.6, 0.1)
    assert xl_call(FUNCS["LTV"], column, 3.0, 5.0, 0.6, 0.1) == direct
