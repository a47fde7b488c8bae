"""Core unit economics: worked examples from the literature and by hand."""

import math

import numpy as np
import pytest

from ltvxl import unit_economics as ue
from ltvxl.errors import LtvxlError


def test_classic_ltv_example():
    assert ue.ltv(100, 3, 5) == 1500.0


def test_profit_ltv_applies_margin():
    assert ue.ltv(100, 3, 5, gross_margin=0.6) == pytest.approx(900.0)


def test_discounted_ltv_end_of_year_cash_flows():
    # 300 a year for 5 years, each at the end of its year, at 10 %
    expected = sum(300 / 1.1**t for t in range(1, 6))
    assert ue.ltv(100, 3, 5, discount_rate=0.1) == pytest.approx(expected)


def test_fractional_lifespan_pays_the_fraction_at_its_end():
    expected = sum(300 / 1.1**t for t in range(1, 5)) + 0.5 * 300 / 1.1**4.5
    assert ue.ltv(100, 3, 4.5, discount_rate=0.1) == pytest.approx(expected)
    assert ue.ltv(100, 3, 4.5) == pytest.approx(1350.0)


def test_annuity_factor_is_continuous_in_periods():
    lo = ue.annuity_factor(3 - 1e-9, 0.07)
    hi = ue.annuity_factor(3 + 1e-9, 0.07)
    assert lo == pytest.approx(hi, abs=1e-7)


def test_ratios_and_lifespan():
    assert ue.avg_purchase_value(30000, 300) == 100.0
    assert ue.purchase_frequency(300, 100) == 3.0
    assert ue.customer_lifespan(0.2) == pytest.approx(5.0)


def test_ltv_churn_matches_chartmogul_convention_without_discount():
    assert ue.ltv_churn(50, 0.05) == pytest.approx(1000.0)
    assert ue.ltv_churn(50, 0.05, gross_margin=0.8) == pytest.approx(800.0)


def test_ltv_churn_discounted_equals_series_paid_in_advance():
    arpu, c, m, d = 50.0, 0.05, 0.8, 0.01
    series = sum(arpu * m * (1 - c) ** t / (1 + d) ** t for t in range(5000))
    assert ue.ltv_churn(arpu, c, m, d) == pytest.approx(series)


def test_gupta_lehmann_infinite_horizon():
    # m = 100, r = 0.8, d = 0.1 gives 266.67 (Gupta & Lehmann 2003)
    assert ue.clv_retention(100, 0.8, 0.1) == pytest.approx(266.6667, abs=1e-4)


def test_gupta_lehmann_finite_sum():
    expected = sum(100 * 0.8**t / 1.1**t for t in range(1, 11))
    assert ue.clv_retention(100, 0.8, 0.1, periods=10) == pytest.approx(expected)
    assert ue.clv_retention(100, 0.8, 0.1, periods=0) == 0.0
    assert ue.clv_retention(100, 1.0, 0.0, periods=5) == pytest.approx(500.0)


def test_finite_sum_tends_to_the_infinite_horizon():
    assert ue.clv_retention(100, 0.8, 0.1, periods=2000) == pytest.approx(
        ue.clv_retention(100, 0.8, 0.1)
    )


def test_retention_one_without_discount_is_infinite():
    assert math.isinf(ue.clv_retention(100, 1.0, 0.0))
    assert ue.clv_retention(100, 1.0, 0.1) == pytest.approx(1000.0)


def test_cac_family():
    assert ue.cac(50000, 100) == 500.0
    assert ue.ltv_cac_ratio(1500, 500) == 3.0
    assert ue.max_cac(1500) == 500.0
    assert ue.max_cac(1500, 4) == 375.0
    assert ue.cac_payback(500, 50, 0.8) == 12.5


@pytest.mark.parametrize(
    ("ratio", "label"),
    [(0, "Losing money"), (0.99, "Losing money"), (1, "Below target"), (2.99, "Below target"),
     (3, "Healthy"), (5, "Healthy"), (5.01, "Under-investing")],
)
def test_status_bands(ratio, label):
    assert ue.ltv_cac_status(ratio) == label


def test_vectorised_inputs_broadcast():
    out = ue.ltv(np.array([100.0, 200.0]), 3, 5)
    np.testing.assert_allclose(out, [1500.0, 3000.0])


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: ue.customer_lifespan(1.5), "churn_rate must be > 0 and <= 1, got 1.5"),
        (lambda: ue.customer_lifespan(0), "churn_rate is 0"),
        (lambda: ue.ltv(-1, 3, 5), "avg_purchase_value must be >= 0, got -1"),
        (lambda: ue.ltv(100, 3, 5, gross_margin=60), "enter 60% or 0.6"),
        (lambda: ue.avg_purchase_value(100, 0), "purchases is 0"),
        (lambda: ue.ltv(100, "x", 5), "purchase_frequency must be a number"),
        (lambda: ue.ltv([100, -2], 3, 5), "(element 2)"),
    ],
)
def test_bad_input_names_the_argument(call, fragment):
    with pytest.raises(LtvxlError) as info:
        call()
    assert fragment in str(info.value)


def test_zero_denominator_is_div0():
    with pytest.raises(LtvxlError) as info:
        ue.cac(100, 0)
    assert info.value.code == "#DIV/0!"
