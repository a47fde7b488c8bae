"""Worksheet functions of the decisions LTV is computed for: retention and promotion
what-ifs, the sensitivity of LTV to its drivers, and LTV period by period.

The retention functions use the margin multiple CLV = m r / (1 + i - r)
(Gupta, Lehmann & Stuart 2004); the core is :mod:`ltvxl.decisions`,
:func:`ltvxl.models.sbg.retention_elasticity` and
:mod:`ltvxl.transactions.trend`; docs/decisions.md has the definitions and
worked examples.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ltvxl import decisions as dec
from ltvxl.cells import as_grid, number_or_problem, text_option
from ltvxl.domains import (
    DENOMINATOR,
    DISCOUNT_RATE,
    FRACTION,
    NON_NEGATIVE,
    OPEN_FRACTION,
    POSITIVE,
    Domain,
)
from ltvxl.errors import NUM, VALUE, LtvxlError, cell_error
from ltvxl.transactions import choices
from ltvxl.worksheet import Arg, Spec, declare, elementwise

from . import _args
from ._logs import log_of
from ._tables import table
from .binding import expose

__all__ = [
    "LTV_SENSITIVITY",
    "LTV_TREND",
    "PROMO_BREAKEVEN",
    "PROMO_IMPACT",
    "RETENTION_ELASTICITY",
    "RETENTION_IMPACT",
    "RETENTION_NEEDED",
    "SBG_ELASTICITY",
]

Rule = tuple[Callable[..., np.ndarray], str, str]


def _sbg_elasticity(alpha: Any, beta: Any, discount_rate: Any, period: Any) -> Any:
    """:func:`ltvxl.models.sbg.elasticity_of`, imported at the first call (scipy)."""
    from ltvxl.models import sbg

    return sbg.elasticity_of(alpha, beta, discount_rate, period)


def _explained(core: Callable[..., Any], rules: tuple[Rule, ...], safe: dict[str, float],
               result_rules: tuple[Rule, ...] = ()) -> Callable[..., Any]:
    """``core`` applied where the arguments go together; elsewhere the rule's message.

    Each rule is (test of the broadcast arguments, code, text); cells where a
    test is true get that error text (the first rule that applies) and
    ``safe`` stands in for their arguments while the other cells are
    computed. ``result_rules`` test the result (keyword ``value``) too.
    """

    def run(**kwargs: Any) -> Any:
        arrays = dict(zip(kwargs, np.broadcast_arrays(
            *(np.asarray(v, dtype=float) for v in kwargs.values())), strict=True))
        shape = next(iter(arrays.values())).shape
        problems = np.full(shape, None, dtype=object)

        def apply(rule_set: tuple[Rule, ...], **values: Any) -> None:
            for test, code, text in rule_set:
                with np.errstate(all="ignore"):
                    bad = np.broadcast_to(test(**values), shape)
                problems[bad & np.equal(problems, None)] = cell_error(code, text)

        apply(rules, **arrays)
        has = np.not_equal(problems, None)
        if has.any():
            arrays = {k: np.where(has, safe.get(k, v), v) for k, v in arrays.items()}
        value = np.broadcast_to(np.asarray(core(**arrays), dtype=float), shape)
        apply(result_rules, value=value, **arrays)
        has = np.not_equal(problems, None)
        if not has.any():
            return value
        out = value.astype(object)
        out[has] = problems[has]
        return out

    return run


_NO_LIMIT = (lambda retention, discount_rate, **_: (retention >= 1) & (discount_rate == 0),
             NUM, "a retention of 1 without discounting has no finite value; use a "
             "discount rate > 0")
_RETENTION = Arg("retention", "Share of customers retained each period, a fraction in (0, 1] "
                 "(0.8 for 80%).", domain=OPEN_FRACTION)
_DISCOUNT = Arg("discount_rate", "Discount rate per period as a fraction (0.12 for 12%).",
                domain=DISCOUNT_RATE)
_MARGIN = Arg("margin", "Margin per customer per period (currency, > 0).", domain=POSITIVE)
_CHANGE = dec.CHANGE
_RELATIVE = dec.RELATIVE_CHANGE


RETENTION_IMPACT = expose(elementwise(
    Spec(
        "RETENTION_IMPACT",
        "Relative change of the customer value m r / (1 + i - r) when retention rises by "
        "retention_change points: CLV(r + change) / CLV(r) - 1 (Gupta, Lehmann & Stuart 2004).",
        (_MARGIN, _RETENTION, _DISCOUNT,
         Arg("retention_change", "Change of the retention rate in points, as a fraction "
             "(0.05 = five points, 0.80 -> 0.85; negative for a fall).", domain=_CHANGE)),
        examples=(("=RETENTION_IMPACT(100, 0.8, 0.12, 0.05)", "0.2593"),
                  ("=RETENTION_IMPACT(100, 0.8, 0.12, -0.05)", "-0.1892")),
    ),
    _explained(
        dec.retention_impact,
        ((lambda retention, retention_change, **_: (retention + retention_change < 0)
          | (retention + retention_change > 1), VALUE,
          "retention + retention_change must be between 0 and 1"),
         (lambda retention, retention_change, discount_rate, **_:
          (retention + retention_change >= 1) & (discount_rate == 0), NUM,
          "a retention of 1 without discounting has no finite value; use a discount rate > 0")),
        {"retention_change": 0.0, "discount_rate": 0.1},
    ),
))

RETENTION_NEEDED = expose(elementwise(
    Spec(
        "RETENTION_NEEDED",
        "Retention change in points (a fraction) that raises the customer value m r / (1 + i - r) "
        "by value_change: the inverse of RETENTION_IMPACT.",
        (_RETENTION, _DISCOUNT,
         Arg("value_change", "Relative change of the customer value wanted, > -1 (0.25 for "
             "+25%).", domain=_RELATIVE)),
        examples=(("=RETENTION_NEEDED(0.8, 0.12, 0.25)", "0.0485"),),
    ),
    _explained(
        dec.retention_needed,
        (_NO_LIMIT,),
        {"retention": 0.5},
        ((lambda retention, value, **_: retention + value > 1 + 1e-12, NUM,
          "no retention up to 1 gives this value change"),),
    ),
))

RETENTION_ELASTICITY = expose(elementwise(
    Spec(
        "RETENTION_ELASTICITY",
        "Per cent change of the customer value m r / (1 + i - r) for a 1% change of retention: "
        "(1 + i) / (1 + i - r).",
        (Arg("retention", "Share of customers retained each period, a fraction in [0, 1].",
             domain=FRACTION), _DISCOUNT),
        examples=(("=RETENTION_ELASTICITY(0.8, 0.12)", "3.5"),),
    ),
    _explained(dec.retention_elasticity, (_NO_LIMIT,), {"retention": 0.5}),
))

PROMO_BREAKEVEN = expose(elementwise(
    Spec(
        "PROMO_BREAKEVEN",
        "Retention a promotion must reach to keep the customer value when it cuts the margin "
        "per period to promo_margin: r* = K (1 + i) / (1 + K), K = CLV0 / promo_margin.",
        (Arg("margin", "Margin per customer per period without the promotion (currency, >= 0).",
             domain=NON_NEGATIVE),
         Arg("promo_margin", "Margin per customer per period with the promotion (currency, > 0).",
             domain=DENOMINATOR),
         Arg("retention", "Retention rate per period without the promotion, a fraction in "
             "[0, 1].", domain=FRACTION),
         _DISCOUNT),
        examples=(("=PROMO_BREAKEVEN(40, 30, 0.8, 0.1)", "0.8585"),),
    ),
    _explained(
        dec.promo_breakeven,
        (_NO_LIMIT,),
        {"retention": 0.5},
        ((lambda value, **_: value > 1 + 1e-12, NUM,
          "no retention up to 1 makes up for the lower margin"),),
    ),
))

SBG_ELASTICITY = expose(elementwise(
    Spec(
        "SBG_ELASTICITY",
        "sBG: retention elasticity of DERL (Fader & Hardie 2010), the % change of SBG_DERL when "
        "every future retention rate rises by 1%: 2F1(2, b+n+1; a+b+n+1; 1/(1+d)) / "
        "2F1(1, b+n+1; a+b+n+1; 1/(1+d)).",
        (Arg("alpha", "Model parameter alpha (> 0): churn-probability Beta shape alpha (sBG).",
             domain=POSITIVE),
         Arg("beta", "Model parameter beta (> 0): churn-probability Beta shape beta (sBG).",
             domain=POSITIVE),
         Arg("discount_rate", "Discount rate per contract period as a fraction (0.1 for 10%).",
             domain=DISCOUNT_RATE),
         Arg("period", "Renewals made so far, a whole number >= 0 (0 for a customer in her "
             "first period).", domain=NON_NEGATIVE)),
        examples=(("=SBG_ELASTICITY(0.668, 3.806, 0.1, 7)", "8.632"),
                  ("=SBG_ELASTICITY(0.668, 3.806, 0.1, 0)", "7.578")),
    ),
    _explained(
        lambda alpha, beta, discount_rate, period: _sbg_elasticity(
            alpha, beta, discount_rate, np.floor(period)),
        ((lambda alpha, discount_rate, **_: (discount_rate == 0) & (alpha <= 2), NUM,
          "without discounting the elasticity is infinite for alpha <= 2; use a discount "
          "rate > 0"),),
        {"discount_rate": 0.1},
    ),
))


# ---------------------------------------------------------------- tables of one-cell inputs


def _number(value: Any, arg: Arg) -> float | None:
    """One numeric cell (``x`` or ``[[x]]``): its default when blank, else an error naming it."""
    if isinstance(value, (list, tuple)):
        grid = as_grid(value, arg.name)
        if grid.size != 1:
            raise LtvxlError(f"{arg.name} must be a single cell, got a range of {grid.size} cells")
        value = grid[0, 0]
    if value is None and arg.optional:
        return arg.default
    x, problem = number_or_problem(value, arg.name)
    if problem is not None:
        code, _, text = problem.partition(" ")
        raise LtvxlError(text or problem, code)
    domain = arg.domain or Domain()
    if not domain.contains(x):
        code, text = domain.message(arg.name, x)
        raise LtvxlError(text, code)
    return x


def _numbers(args: tuple[Arg, ...], values: tuple[Any, ...]) -> list[Any]:
    return [_number(v, a) for a, v in zip(args, values, strict=True)]


_PROMO_ARGS = (
    Arg("avg_order_value", "Average order value at list price, without the promotion "
        "(currency, >= 0).", domain=NON_NEGATIVE),
    Arg("purchase_frequency", "Orders per customer in the period, without the promotion (>= 0).",
        domain=NON_NEGATIVE),
    Arg("gross_margin", "Gross margin as a fraction of the list price (0.4 for 40%).",
        domain=FRACTION),
    Arg("discount", "Price cut of the promotion as a fraction of the list price (0.1 for 10%).",
        domain=FRACTION),
    Arg("frequency_uplift", "Optional rise of orders per customer the promotion brings, a "
        "fraction (0.25 for +25%); blank for 0.", default=0.0, domain=_RELATIVE),
    Arg("value_uplift", "Optional rise of the order value at list price, a fraction; blank "
        "for 0.", default=0.0, domain=_RELATIVE),
    Arg("customers", "Optional number of customers for the totals (>= 0); blank for 1.",
        default=1.0, domain=NON_NEGATIVE),
)


def _promo(*values: Any) -> Any:
    result = dec.promo_impact(*_numbers(_PROMO_ARGS, values))
    rows: list[list[Any]] = [["measure", "without promotion", "with promotion", "change"]]
    rows += [[label, a, b, c] for label, a, b, c in result.rows()]
    uplift = result.breakeven_uplift
    rows.append(["break-even uplift of orders x order value", "",
                 uplift if np.isfinite(uplift) else cell_error(
                     NUM, "none: the discount takes the whole margin"), ""])
    return rows


PROMO_IMPACT = expose(declare(
    Spec(
        "PROMO_IMPACT",
        "A price promotion per customer and in total: orders, order value, revenue, discount "
        "cost and gross profit without and with it, and the break-even uplift "
        "discount / (margin - discount).",
        _PROMO_ARGS,
        returns="table",
        examples=((
            "=PROMO_IMPACT(50, 4, 0.4, 0.1, 0.25, , 1000)",
            '{"measure","without promotion","with promotion","change";'
            '"orders per customer",4,5,1;"order value paid",50,45,-5;'
            '"revenue per customer",200,225,25;"discount cost per customer",0,25,25;'
            '"gross profit per customer",80,75,-5;"revenue, all customers",200000,225000,25000;'
            '"discount cost, all customers",0,25000,25000;'
            '"gross profit, all customers",80000,75000,-5000;'
            '"break-even uplift of orders x order value","",0.3333,""}'),),
    ),
    _promo,
))


_SENS_ARGS = (
    Arg("avg_purchase_value", "Average revenue per purchase (currency, >= 0).",
        domain=NON_NEGATIVE),
    Arg("purchase_frequency", "Purchases per customer per year (>= 0).", domain=NON_NEGATIVE),
    Arg("lifespan", "Customer lifespan in years (>= 0).", domain=NON_NEGATIVE),
    Arg("gross_margin", "Optional gross margin as a fraction; blank for 1 and no margin row.",
        default=None, domain=FRACTION),
    Arg("discount_rate", "Optional yearly discount rate as a fraction; blank for 0 and no "
        "discount row.", default=None, domain=DISCOUNT_RATE),
    Arg("change", "Optional relative move of each driver, a fraction in (0, 1] (0.1 for "
        "+/-10%); blank for 0.1.", default=0.1,
        domain=Domain(low=0, high=1, low_open=True, is_rate=True)),
)


def _pct(step: float) -> str:
    return f"{step * 100:g}%"


def _sensitivity(*values: Any) -> Any:
    apv, freq, life, margin, disc, step = _numbers(_SENS_ARGS, values)
    df = dec.ltv_sensitivity(apv, freq, life, margin, disc, step)
    s = _pct(df.attrs["step"])
    header = ["driver", "value", f"LTV at -{s}", f"LTV at +{s}", f"change at -{s}",
              f"change at +{s}"]
    return table(header, [df[c].to_numpy() for c in ("driver", "value", "ltv_low", "ltv_high",
                                                      "change_low", "change_high")])


LTV_SENSITIVITY = expose(declare(
    Spec(
        "LTV_SENSITIVITY",
        "LTV (as LTV computes it) with each driver moved down and up by step, the others fixed: "
        "one row per driver with both LTVs and their change from the base, largest first "
        "(tornado chart data).",
        _SENS_ARGS,
        returns="table",
        examples=((
            "=LTV_SENSITIVITY(100, 3, 5)",
            '{"driver","value","LTV at -10%","LTV at +10%","change at -10%","change at +10%";'
            '"average purchase value",100,1350,1650,-150,150;'
            '"purchase frequency",3,1350,1650,-150,150;"lifespan",5,1350,1650,-150,150}'),),
    ),
    _sensitivity,
))


# ---------------------------------------------------------------- LTV_TREND

_TREND_HEADER = (
    "period", "start", "end", "days covered", "partial", "active customers", "new customers",
    "orders", "revenue", "average order value", "orders per active customer", "retention",
    "churn", "revenue per active customer", "trailing churn", "trailing LTV",
    "revenue vs previous", "revenue vs a year earlier", "LTV vs previous",
    "LTV vs a year earlier",
)


def _trend(ids: Any, dates: Any, amounts: Any, period: Any, as_of: Any, margin: Any,
           order_ids: Any) -> Any:
    from ltvxl.transactions import trend

    per = text_option(period, "period", choices.PERIODS, "quarter")
    m = _number(margin, _TREND_ARGS[5])
    df = trend.trend_table(log_of(ids, dates, amounts, None, order_ids), per, as_of, m)
    columns = [df[c].to_numpy() for c in trend.TREND_COLUMNS]
    columns[trend.TREND_COLUMNS.index("partial")] = df["partial"].to_numpy().astype(object)
    return table(_TREND_HEADER, columns)


_TREND_ARGS = (
    _args.IDS, _args.DATES, _args.AMOUNTS,
    Arg("period", "Optional period: month, quarter (default) or year (calendar periods).",
        kind="text", default="quarter", choices=choices.PERIODS),
    _args.AS_OF,
    Arg("margin", "Optional gross margin as a fraction for the trailing LTV; blank for 1 "
        "(a revenue LTV).", default=1.0, domain=FRACTION),
    _args.ORDER_IDS,
)

LTV_TREND = expose(declare(
    Spec(
        "LTV_TREND",
        "One row per month, quarter or year: active and new customers, orders, revenue, AOV, "
        "retention, churn, trailing LTV (ARPU x margin / 6-month churn) and changes vs the "
        "previous period and a year earlier.",
        _TREND_ARGS,
        returns="table",
        examples=(('=LTV_TREND(A2:A5000, B2:B5000, C2:C5000, "quarter")',
                   "a table with a header row"),),
    ),
    _trend,
))
