"""docs/functions.md is generated from the declarations, and every example in it is true."""

from pathlib import Path

import pytest

import ltvxl.udfs
from ltvxl import docs_gen
from ltvxl.worksheet import REGISTRY, spec_of

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS_MD = ROOT / "docs" / "functions.md"



def _literal(formula):
    try:
        docs_gen.parse_formula(formula)
    except ValueError:  # refers to cells: only literal examples are evaluated
        return False
    return True


EXAMPLES = [
    (name, formula, result)
    for name, func in REGISTRY.items()
    for formula, result in spec_of(func).examples
    if _literal(formula)
]


def test_the_udf_registry_is_the_declarations():
    assert ltvxl.udfs.FUNCTIONS is REGISTRY


def test_every_function_is_documented_with_its_arguments():
    text = docs_gen.render()
    for name, func in REGISTRY.items():
        spec = spec_of(func)
        assert f"### {name}\n" in text
        assert f"`={docs_gen.signature(spec)}`" in text
        for arg in spec.args:
            assert f"| `{arg.name}` |" in text


@pytest.mark.parametrize(("name", "formula", "result"), EXAMPLES,
                         ids=[f"{f}" for _, f, _ in EXAMPLES])
def test_example_gives_its_documented_result(name, formula, result):
    called, _ = docs_gen.parse_formula(formula)
    assert called == name, f"an example of {name} calls {called}"
    actual = docs_gen.evaluate_example(formula)
    assert docs_gen.result_matches(actual, result), f"{formula} gives {actual!r}, docs say {result}"


def test_every_elementwise_function_has_an_evaluable_example():
    for name, func in REGISTRY.items():
        if not spec_of(func).elementwise:
            continue
        literal = [f for f, _ in spec_of(func).examples if _literal(f)]
        assert literal, f"{name} has no example with literal arguments"


@pytest.mark.parametrize(
    ("text", "value"),
    [("100", 100.0), ("-2.5", -2.5), ("1e3", 1000.0), ("5%", 0.05), ('"month"', "month"),
     ('"a ""b"""', 'a "b"'), ("TRUE", True), ("", None), ("{1,2;3,4}", [[1.0, 2.0], [3.0, 4.0]])],
)
def test_parse_literal(text, value):
    assert docs_gen.parse_literal(text) == value


def test_parse_formula_rejects_cell_references():
    assert docs_gen.parse_formula("=LTV(100, 3, 5, , 0.1)") == ("LTV", [100.0, 3.0, 5.0, None, 0.1])
    with pytest.raises(ValueError):
        docs_gen.parse_formula("=LTV(A2:A10, 3, 5)")


@pytest.mark.parametrize(
    ("actual", "expected", "ok"),
    [(682.3412, "682.34", True), (682.3512, "682.34", False), (1500.0, "1,500", True),
     ("1500", "1500", False), ("Healthy", "Healthy", True), ("Healthy", '"Healthy"', True),
     (float("nan"), "1", False), ([[1.0], [2.0]], "{1;2}", True), ([[1.0], [2.0]], "{1;3}", False),
     ("#VALUE! churn_rate must be > 0", "#VALUE! churn_rate ...", True)],
)
def test_result_matching_can_fail(actual, expected, ok):
    assert docs_gen.result_matches(actual, expected) is ok


def test_docs_command_writes_and_checks(tmp_path, capsys):
    from ltvxl.cli import main

    out = tmp_path / "functions.md"
    assert main(["docs", "--check", "-o", str(out)]) == 1
    assert "ltvxl docs" in capsys.readouterr().err
    assert main(["docs", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == docs_gen.render()
    assert main(["docs", "--check", "-o", str(out)]) == 0
