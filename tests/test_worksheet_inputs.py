"""Unit-economics worksheet functions called with cell values exactly as xlwings passes them.

Ranges are declared ``ndim=2``: a range arrives as a list of row lists, a single
cell as a scalar (or ``[[x]]``), a blank cell as None, every number as float,
text as str, booleans as bool, dates as datetime. Expected numbers are hand
computations, not our own output.
"""

import datetime as dt
import math

import numpy as np
import pytest

import ltvxl.udfs.unit_economics as family
from ltvxl.docs_gen import parse_formula
from ltvxl.worksheet import spec_of

FUNCS = {name: getattr(family, name) for name in family.__all__}


def valid_args(name):
    """Good scalar cell values for every argument, from the first documented example."""
    func = FUNCS[name]
    _, args = parse_formula(spec_of(func).examples[0][0])
    return args + [None] * (len(spec_of(func).args) - len(args))


def arg_cases(keep=lambda arg: True):
    cases = [
        pytest.param(name, i, arg, id=f"{name}-{arg.name}")
        for name, func in FUNCS.items()
        for i, arg in enumerate(spec_of(func).args)
        if keep(arg)
    ]
    assert cases
    return cases


def is_error(value, code="#"):
    return isinstance(value, str) and value.startswith(code)


# ------------------------------------------------------------------ shapes


def test_scalar_cells_give_a_plain_float():
    out = FUNCS["LTV"](100.0, 3.0, 5.0, None, None)
    assert out == 1500.0 and type(out) is float


def test_single_cell_as_ndim2_gives_a_scalar():
    out = FUNCS["LTV"]([[100.0]], [[3.0]], [[5.0]], [[None]], [[None]])
    assert out == 1500.0 and type(out) is float


def test_column_against_scalars_spills_a_column():
    out = FUNCS["LTV"]([[100.0], [200.0], [50.0]], 3.0, 5.0, None, None)
    assert out == [[1500.0], [3000.0], [750.0]]
    assert all(type(row[0]) is float for row in out)


def test_flat_list_is_a_column():
    assert FUNCS["CAC"]([50000.0, 10000.0], 100.0) == [[500.0], [100.0]]


def test_row_spills_a_row():
    assert FUNCS["CAC"]([[50000.0, 10000.0]], [[100.0]]) == [[500.0, 100.0]]


def test_two_columns_of_equal_length_pair_cell_by_cell():
    out = FUNCS["LTV_CAC_RATIO"]([[1500.0], [900.0]], [[500.0], [300.0]])
    assert out == [[3.0], [3.0]]


def test_two_dimensional_ranges():
    out = FUNCS["MAX_CAC"]([[1500.0, 300.0], [900.0, 60.0]], [[3.0, 3.0], [3.0, 4.0]])
    assert out == [[500.0, 100.0], [300.0, 15.0]]


def test_row_against_column_gives_the_table_as_excel_does():
    out = FUNCS["MAX_CAC"]([[1200.0], [2400.0]], [[3.0, 4.0]])
    assert out == [[400.0, 300.0], [800.0, 600.0]]


def test_tuples_and_numpy_arrays_are_ranges_too():
    assert FUNCS["CAC"](((50000.0,), (10000.0,)), 100.0) == [[500.0], [100.0]]
    assert FUNCS["CAC"](np.array([[50000.0], [10000.0]]), 100.0) == [[500.0], [100.0]]


def test_text_results_spill_too():
    out = FUNCS["LTV_CAC_STATUS"]([[0.5], [2.0], [3.0], [5.0], [7.0]])
    assert out == [["Losing money"], ["Below target"], ["Healthy"], ["Healthy"],
                   ["Under-investing"]]


def test_integers_are_accepted_like_floats():
    assert FUNCS["LTV"](100, 3, 5) == 1500.0


@pytest.mark.parametrize(
    ("left", "right"),
    [([[1.0], [2.0], [3.0]], [[1.0], [2.0]]), ([[1.0, 2.0, 3.0]], [[1.0, 2.0]]),
     ([[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0, 3.0]])],
)
def test_mismatched_shapes_name_both_arguments(left, right):
    out = FUNCS["LTV_CAC_RATIO"](left, right)
    assert isinstance(out, str) and out.startswith("#VALUE! ltv (")
    assert " and cac (" in out and "different shapes" in out


def test_mismatch_names_the_two_ranges_that_disagree_not_a_single_cell():
    out = FUNCS["LTV"]([[100.0], [200.0]], 3.0, [[5.0], [5.0], [5.0]], None, None)
    assert out.startswith("#VALUE! avg_purchase_value (2 rows x 1 column) and lifespan "
                          "(3 rows x 1 column)")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [([], "is an empty range"), ([[]], "has an empty row"),
     ([[1.0, 2.0], [3.0]], "rows of different lengths: row 1 has 2 cells, row 2 has 1"),
     ([[1.0], 2.0], "mixes single cells and rows"), (np.zeros((1, 1, 1)), "3-D")],
)
def test_malformed_ranges_are_named(value, fragment):
    out = FUNCS["CAC"](value, 100.0)
    assert out.startswith("#VALUE! acquisition_spend") and fragment in out


# ------------------------------------------------------------------ values of every type


@pytest.mark.parametrize(("name", "i", "arg"), arg_cases())
def test_text_in_any_argument_names_it(name, i, arg):
    args = valid_args(name)
    args[i] = "abc"
    out = FUNCS[name](*args)
    assert out == f'#VALUE! {arg.name} must be a number, got text "abc"'


@pytest.mark.parametrize(("name", "i", "arg"), arg_cases())
def test_bool_and_date_in_any_argument_name_it(name, i, arg):
    args = valid_args(name)
    args[i] = True
    assert FUNCS[name](*args) == f"#VALUE! {arg.name} must be a number, got TRUE"
    args[i] = dt.datetime(2024, 3, 1)
    assert FUNCS[name](*args) == f"#VALUE! {arg.name} must be a number, got a date (2024-03-01)"


@pytest.mark.parametrize(("name", "i", "arg"), arg_cases())
def test_blank_cell(name, i, arg):
    args = valid_args(name)
    args[i] = None
    out = FUNCS[name](*args)
    if arg.optional:  # a blank optional argument takes its default
        expected = FUNCS[name](*args[:i])  # the same call with the argument left out
        assert out == expected and not is_error(out)
        args[i] = [[None]]  # a blank cell referenced with ndim=2
        assert FUNCS[name](*args) == expected
    else:
        assert out == f"#VALUE! {arg.name} is blank"


@pytest.mark.parametrize(("name", "i", "arg"), arg_cases())
def test_error_in_an_input_cell_propagates(name, i, arg):
    args = valid_args(name)
    for error in ("#N/A", "#DIV/0!", "#VALUE! churn_rate must be > 0 and <= 1, got 1.5"):
        args[i] = error
        assert FUNCS[name](*args) == error


@pytest.mark.parametrize(("name", "i", "arg"), arg_cases())
def test_number_stored_as_text_gets_a_hint(name, i, arg):
    args = valid_args(name)
    args[i] = "0.5"
    assert FUNCS[name](*args).endswith("(a number stored as text? enter it as a number)")


@pytest.mark.parametrize(("name", "i", "arg"),
                         arg_cases(lambda a: a.domain is not None and a.domain.low is not None))
def test_out_of_range_numbers_name_the_argument_and_the_rule(name, i, arg):
    domain = arg.domain
    args = valid_args(name)
    args[i] = domain.low - 1.0
    out = FUNCS[name](*args)
    assert out == f"#VALUE! {arg.name} must be {domain.describe()}, got {int(domain.low - 1)}"


@pytest.mark.parametrize(("name", "i", "arg"),
                         arg_cases(lambda a: a.domain is not None and a.domain.is_rate))
def test_rates_above_one_get_the_percentage_hint(name, i, arg):
    args = valid_args(name)
    args[i] = 15.0
    out = FUNCS[name](*args)
    assert out.startswith(f"#VALUE! {arg.name} must be")
    assert out.endswith("got 15 (rates are fractions: enter 15% or 0.15)")


def test_every_rate_argument_is_declared_as_a_rate():
    for func in FUNCS.values():
        for arg in spec_of(func).args:
            if "rate" in arg.name or ("margin" in arg.name and arg.name != "margin"):
                assert arg.domain is not None and arg.domain.is_rate, arg.name


@pytest.mark.parametrize(("name", "i", "arg"),
                         arg_cases(lambda a: a.domain is not None and a.domain.zero_divides))
def test_zero_denominators_are_div0(name, i, arg):
    args = valid_args(name)
    args[i] = 0.0
    assert FUNCS[name](*args) == f"#DIV/0! {arg.name} is 0"


def test_division_by_zero_cases_from_the_issue():
    assert FUNCS["AVG_PURCHASE_VALUE"](30000.0, 0.0) == "#DIV/0! purchases is 0"
    assert FUNCS["CUSTOMER_LIFESPAN"](0.0) == "#DIV/0! churn_rate is 0"
    assert FUNCS["CAC"](100.0, 0.0) == "#DIV/0! new_customers is 0"
    assert FUNCS["LTV_CAC_RATIO"](1500.0, 0.0) == "#DIV/0! cac is 0"


def test_the_issue_example_message():
    assert FUNCS["CUSTOMER_LIFESPAN"](1.5) == (
        "#VALUE! churn_rate must be > 0 and <= 1, got 1.5 (rates are fractions: enter 1.5% "
        "or 0.015)"
    )


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_inputs_are_errors(value):
    assert FUNCS["LTV"](value, 3.0, 5.0).startswith(
        "#VALUE! avg_purchase_value must be a finite number"
    )


def test_huge_numbers():
    too_large = "#NUM! avg_purchase_value is too large to be a number"
    assert FUNCS["LTV"](10**400, 3.0, 5.0) == too_large
    assert FUNCS["LTV"](1e300, 1e300, 5.0) == "#NUM! LTV has no finite value here"


# ------------------------------------------------------------------ ranges with bad cells


def test_only_the_bad_cells_of_a_range_show_an_error():
    out = FUNCS["CUSTOMER_LIFESPAN"]([[0.2], [1.5], [None], ["x"], [0.0], [0.5], [True]])
    assert out[0] == [5.0] and out[5] == [2.0]
    assert out[1][0].startswith("#VALUE! churn_rate must be > 0 and <= 1, got 1.5")
    assert out[2] == ["#VALUE! churn_rate is blank"]
    assert out[3] == ['#VALUE! churn_rate must be a number, got text "x"']
    assert out[4] == ["#DIV/0! churn_rate is 0"]
    assert out[6] == ["#VALUE! churn_rate must be a number, got TRUE"]


def test_blank_cells_in_an_optional_range_take_the_default():
    out = FUNCS["LTV"](100.0, 3.0, 5.0, [[0.5], [None], [1.0]], None)
    assert out == [[750.0], [1500.0], [1500.0]]


def test_blank_periods_mean_an_infinite_horizon_cell_by_cell():
    out = FUNCS["CLV_RETENTION"](100.0, 0.8, 0.1, [[None], [1.0], [0.0]])
    assert out[0][0] == pytest.approx(100 * 0.8 / (1 + 0.1 - 0.8))
    assert out[1][0] == pytest.approx(100 * 0.8 / 1.1)
    assert out[2][0] == 0.0


def test_first_bad_argument_wins_in_a_cell():
    out = FUNCS["LTV_CAC_RATIO"]([["x"], [1500.0]], [[0.0], [0.0]])
    assert out == [['#VALUE! ltv must be a number, got text "x"'], ["#DIV/0! cac is 0"]]


def test_undefined_results_are_num_errors_not_nan():
    # retention 1 without discounting over an infinite horizon has no finite value
    assert FUNCS["CLV_RETENTION"](100.0, 1.0, 0.0, None) == (
        "#NUM! CLV_RETENTION has no finite value here"
    )
    out = FUNCS["CLV_RETENTION"](100.0, [[1.0], [0.8]], 0.0, None)
    assert out[0][0].startswith("#NUM!") and out[1][0] == pytest.approx(400.0)


# ------------------------------------------------------------------ calling conventions


def test_omitted_optional_arguments_and_keywords():
    assert FUNCS["MAX_CAC"](1500.0) == 500.0
    assert FUNCS["MAX_CAC"](1500.0, None) == 500.0
    assert FUNCS["LTV"](100.0, 3.0, 5.0, discount_rate=0.1) == pytest.approx(
        sum(300 / 1.1**t for t in range(1, 6))
    )


def test_wrong_number_of_arguments_is_error_text():
    assert FUNCS["LTV"](100.0, 3.0) == "#VALUE! LTV: missing a required argument: 'lifespan'"
    assert FUNCS["MAX_CAC"](1.0, 2.0, 3.0).startswith("#VALUE! MAX_CAC: too many")
    assert FUNCS["MAX_CAC"](1.0, bogus=2.0).startswith("#VALUE! MAX_CAC:")


def test_hand_computed_values_of_every_function():
    f = FUNCS
    assert f["LTV"](100.0, 3.0, 4.5, 0.6, None) == pytest.approx(100 * 3 * 4.5 * 0.6)
    assert f["AVG_PURCHASE_VALUE"](30000.0, 300.0) == 100.0
    assert f["PURCHASE_FREQUENCY"](300.0, 100.0) == 3.0
    assert f["CUSTOMER_LIFESPAN"](0.25) == 4.0
    assert f["LTV_CHURN"](50.0, 0.05, 0.8, None) == pytest.approx(800.0)
    assert f["CLV_RETENTION"](100.0, 0.8, 0.1, 2.0) == pytest.approx(80 / 1.1 + 64 / 1.21)
    assert f["CAC"](50000.0, 100.0) == 500.0
    assert f["LTV_CAC_RATIO"](1500.0, 500.0) == 3.0
    assert f["MAX_CAC"](1500.0, None) == 500.0
    assert f["CAC_PAYBACK"](500.0, 50.0, None) == 10.0
    assert f["LTV_CAC_STATUS"](4.0) == "Healthy"


SHAPES = {
    "flat list": lambda v: [v, v, v],
    "column": lambda v: [[v], [v], [v]],
    "row": lambda v: [[v, v, v]],
    "2-D": lambda v: [[v, v, v], [v, v, v]],
    "[[cell]]": lambda v: [[v]],
}


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize(("name", "i", "arg"), arg_cases())
def test_every_argument_takes_every_range_shape(name, i, arg, shape):
    args = valid_args(name)
    if args[i] is None:  # an optional argument left out by the example: use its default
        args[i] = 1.0 if arg.default in (None, math.inf) else float(arg.default)
    expected = FUNCS[name](*args)
    assert not is_error(expected)
    args[i] = SHAPES[shape](args[i])
    out = FUNCS[name](*args)
    dims = {"flat list": (3, 1), "column": (3, 1), "row": (1, 3), "2-D": (2, 3)}.get(shape)
    if dims is None:
        assert out == expected
    else:
        assert out == [[expected] * dims[1] for _ in range(dims[0])]
