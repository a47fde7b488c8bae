"""Worksheet functions of closed-form unit economics (LTV, churn, CAC).

Each is an element-wise function of the core in :mod:`ltvxl.unit_economics`:
any argument may be a cell or a range, ranges broadcast, and the result
spills in their shape.
"""

from __future__ import annotations

import math

from ltvxl import unit_economics as ue
from ltvxl.domains import (
    CHURN,
    DENOMINATOR,
    DISCOUNT_RATE,
    FRACTION,
    HORIZON,
    MARGIN_DIVISOR,
    NON_NEGATIVE,
    POSITIVE,
)
from ltvxl.worksheet import Arg, Spec, elementwise

from .binding import expose

__all__ = [
    "AVG_PURCHASE_VALUE",
    "CAC",
    "CAC_PAYBACK",
    "CLV_RETENTION",
    "CUSTOMER_LIFESPAN",
    "LTV",
    "LTV_CAC_RATIO",
    "LTV_CAC_STATUS",
    "LTV_CHURN",
    "MAX_CAC",
    "PURCHASE_FREQUENCY",
]

_MARGIN = Arg(
    "gross_margin",
    "Optional gross margin as a fraction (0.6 for 60%); blank for 1, a revenue LTV.",
    default=1.0,
    domain=FRACTION,
)
_MARGIN_PAYBACK = Arg(
    "gross_margin",
    "Optional gross margin as a fraction (0.6 for 60%); blank for 1.",
    default=1.0,
    domain=MARGIN_DIVISOR,
)
_DISCOUNT = Arg(
    "discount_rate",
    "Optional discount rate per period as a fraction (0.1 for 10%); blank for 0, no discounting.",
    default=0.0,
    domain=DISCOUNT_RATE,
)

LTV = expose(
    elementwise(
        Spec(
            "LTV",
            "Lifetime value: average purchase value x purchases per year x lifespan in years, "
            "times an optional gross margin; with a discount rate each year's value is "
            "discounted at the end of the year.",
            (
                Arg("avg_purchase_value", "Average revenue per purchase (currency, >= 0).",
                    domain=NON_NEGATIVE),
                Arg("purchase_frequency", "Purchases per customer per year (>= 0).",
                    domain=NON_NEGATIVE),
                Arg("lifespan", "Customer lifespan in years (>= 0; fractions allowed).",
                    domain=NON_NEGATIVE),
                _MARGIN,
                Arg(
                    "discount_rate",
                    "Optional yearly discount rate as a fraction (0.1 for 10%); blank for 0.",
                    default=0.0,
                    domain=DISCOUNT_RATE,
                ),
            ),
            returns="array",
            examples=(("=LTV(100, 3, 5)", "1500"), ("=LTV(100, 3, 5, 0.6, 0.1)", "682.34")),
        ),
        ue.ltv,
    )
)

AVG_PURCHASE_VALUE = expose(
    elementwise(
        Spec(
            "AVG_PURCHASE_VALUE",
            "Average purchase value: revenue / number of purchases.",
            (
                Arg("revenue", "Total revenue over the period (currency, >= 0).",
                    domain=NON_NEGATIVE),
                Arg("purchases", "Number of purchases in the same period (> 0).",
                    domain=DENOMINATOR),
            ),
            returns="array",
            examples=(("=AVG_PURCHASE_VALUE(30000, 300)", "100"),),
        ),
        ue.avg_purchase_value,
    )
)

PURCHASE_FREQUENCY = expose(
    elementwise(
        Spec(
            "PURCHASE_FREQUENCY",
            "Purchase frequency: purchases / unique customers in the same period "
            "(over a year: purchases per customer per year).",
            (
                Arg("purchases", "Number of purchases in the period (>= 0).",
                    domain=NON_NEGATIVE),
                Arg("customers", "Number of unique customers in the period (> 0).",
                    domain=DENOMINATOR),
            ),
            returns="array",
            examples=(("=PURCHASE_FREQUENCY(300, 100)", "3"),),
        ),
        ue.purchase_frequency,
    )
)

CUSTOMER_LIFESPAN = expose(
    elementwise(
        Spec(
            "CUSTOMER_LIFESPAN",
            "Expected customer lifespan in periods: 1 / churn rate per period "
            "(yearly churn gives years).",
            (
                Arg("churn_rate", "Share of customers lost per period, a fraction in (0, 1].",
                    domain=CHURN),
            ),
            returns="array",
            examples=(("=CUSTOMER_LIFESPAN(0.2)", "5"),),
        ),
        ue.customer_lifespan,
    )
)

LTV_CHURN = expose(
    elementwise(
        Spec(
            "LTV_CHURN",
            "Subscription LTV: ARPU x gross margin / churn rate, with payments at the start of "
            "each period; with a discount rate d: ARPU x margin x (1 + d) / (churn + d).",
            (
                Arg("arpu", "Average revenue per user per period, e.g. per month (currency).",
                    domain=NON_NEGATIVE),
                Arg("churn_rate", "Share of customers lost per period, a fraction in (0, 1].",
                    domain=CHURN),
                _MARGIN,
                _DISCOUNT,
            ),
            returns="array",
            examples=(("=LTV_CHURN(50, 0.05)", "1000"), ("=LTV_CHURN(50, 0.05, 0.8, 0.01)",
                                                        "673.33")),
        ),
        ue.ltv_churn,
    )
)

CLV_RETENTION = expose(
    elementwise(
        Spec(
            "CLV_RETENTION",
            "Customer lifetime value from a retention rate (Gupta & Lehmann): "
            "margin x r / (1 + d - r) for an infinite horizon, or the sum over a number "
            "of periods, each period's margin earned at its end.",
            (
                Arg("margin", "Margin per customer per period (currency, >= 0).",
                    domain=NON_NEGATIVE),
                Arg("retention_rate", "Share of customers retained each period, a fraction "
                    "in [0, 1) (up to 1 with periods).", domain=FRACTION),
                Arg("discount_rate", "Discount rate per period as a fraction (0.1 for 10%).",
                    domain=DISCOUNT_RATE),
                Arg("periods", "Optional number of periods (>= 0, whole periods count); "
                    "blank for an infinite horizon.", default=math.inf, domain=HORIZON),
            ),
            returns="array",
            examples=(("=CLV_RETENTION(100, 0.8, 0.1)", "266.67"),
                      ("=CLV_RETENTION(100, 0.8, 0.1, 1)", "72.73")),
        ),
        ue.clv_retention,
    )
)

CAC = expose(
    elementwise(
        Spec(
            "CAC",
            "Customer acquisition cost: sales and marketing spend / new customers acquired.",
            (
                Arg("acquisition_spend", "Sales and marketing spend in the period (currency).",
                    domain=NON_NEGATIVE),
                Arg("new_customers", "New customers acquired in the same period (> 0).",
                    domain=DENOMINATOR),
            ),
            returns="array",
            examples=(("=CAC(50000, 100)", "500"),),
        ),
        ue.cac,
    )
)

LTV_CAC_RATIO = expose(
    elementwise(
        Spec(
            "LTV_CAC_RATIO",
            "LTV:CAC ratio: lifetime value / acquisition cost; 3 or more is the usual target.",
            (
                Arg("ltv", "Lifetime value per customer (currency, >= 0).", domain=NON_NEGATIVE),
                Arg("cac", "Acquisition cost per customer (currency, > 0).", domain=DENOMINATOR),
            ),
            returns="array",
            examples=(("=LTV_CAC_RATIO(1500, 500)", "3"),),
        ),
        ue.ltv_cac_ratio,
        core_kwargs={"ltv": "ltv_value", "cac": "cac_value"},
    )
)

MAX_CAC = expose(
    elementwise(
        Spec(
            "MAX_CAC",
            "Highest acquisition cost that keeps LTV:CAC at the target ratio (3:1 by default): "
            "LTV / target.",
            (
                Arg("ltv", "Lifetime value per customer (currency, >= 0).", domain=NON_NEGATIVE),
                Arg("target_ratio", "Optional target LTV:CAC ratio (> 0); blank for 3.",
                    default=3.0, domain=POSITIVE),
            ),
            returns="array",
            examples=(("=MAX_CAC(1500)", "500"), ("=MAX_CAC(1500, 4)", "375")),
        ),
        ue.max_cac,
        core_kwargs={"ltv": "ltv_value"},
    )
)

CAC_PAYBACK = expose(
    elementwise(
        Spec(
            "CAC_PAYBACK",
            "Periods of gross profit needed to earn back the acquisition cost: "
            "CAC / (revenue per period x gross margin); monthly revenue gives months.",
            (
                Arg("cac", "Acquisition cost per customer (currency, >= 0).", domain=NON_NEGATIVE),
                Arg("revenue_per_period", "Revenue per customer per period, e.g. per month (> 0).",
                    domain=DENOMINATOR),
                _MARGIN_PAYBACK,
            ),
            returns="array",
            examples=(("=CAC_PAYBACK(500, 50, 0.8)", "12.5"),),
        ),
        ue.cac_payback,
        core_kwargs={"cac": "cac_value"},
    )
)

LTV_CAC_STATUS = expose(
    elementwise(
        Spec(
            "LTV_CAC_STATUS",
            "Band label of an LTV:CAC ratio: Losing money (below 1), Below target (1 to under 3), "
            "Healthy (3 to 5), Under-investing (above 5).",
            (Arg("ratio", "LTV:CAC ratio (>= 0).", domain=NON_NEGATIVE),),
            returns="array",
            examples=(("=LTV_CAC_STATUS(3)", "Healthy"), ("=LTV_CAC_STATUS(0.8)", "Losing money")),
        ),
        ue.ltv_cac_status,
    )
)
