"""What-if arithmetic of the decisions LTV is computed for: retention, promotions, drivers.

The retention functions use the margin multiple of Gupta, Lehmann & Stuart
(2004): a customer retained with probability r each period, who brings a
margin m at the end of every period retained, is worth, discounted at i per
period, ``CLV = m r / (1 + i - r)`` (:func:`ltvxl.unit_economics.clv_retention`
with an infinite horizon). Rates are fractions per period (0.8, not 80);
margins and values are in the user's currency per period.

All functions accept scalars or array-likes (numpy broadcasting) and return a
float or an ndarray; :func:`promo_impact` and :func:`ltv_sensitivity` return
tables. Invalid inputs raise :class:`~ltvxl.errors.LtvxlError` naming the argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .domains import (
    DENOMINATOR,
    DISCOUNT_RATE,
    FRACTION,
    NON_NEGATIVE,
    OPEN_FRACTION,
    POSITIVE,
    Domain,
    check,
)
from .errors import NUM, LtvxlError
from .unit_economics import clv_retention, ltv

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from numpy.typing import ArrayLike  # costs Excel's start 5-15 ms

Number = float | np.ndarray

CHANGE = Domain(low=-1, high=1, is_rate=True)
"""A change of a rate in points, as a fraction in [-1, 1] (0.05 = five points)."""
RELATIVE_CHANGE = Domain(low=-1, low_open=True)
"""A relative change > -1 (0.25 = +25 %)."""


def _out(x: np.ndarray) -> Number:
    return float(x) if np.ndim(x) == 0 else x


def _require(bad: np.ndarray, text: str, code: str = NUM) -> None:
    if np.any(bad):
        raise LtvxlError(text, code)


def margin_multiple(retention: ArrayLike, discount_rate: ArrayLike) -> Number:
    """``r / (1 + i - r)``: the customer value per unit of margin per period."""
    return clv_retention(1.0, retention, discount_rate)


def retention_impact(
    margin: ArrayLike, retention: ArrayLike, discount_rate: ArrayLike,
    retention_change: ArrayLike,
) -> Number:
    """Relative change of the customer value when retention moves by ``retention_change``.

    ``CLV(r + dr) / CLV(r) - 1`` with ``CLV = m r / (1 + i - r)``; ``dr`` is in
    points as a fraction (0.05 = five points). The margin cancels out of the
    ratio (it is an argument so that the formula reads as the model), but
    must be positive for the value to be.

    >>> round(retention_impact(100, 0.8, 0.12, 0.05), 4)
    0.2593
    """
    check("margin", margin, POSITIVE)
    r = check("retention", retention, OPEN_FRACTION)
    i = check("discount_rate", discount_rate, DISCOUNT_RATE)
    dr = check("retention_change", retention_change, CHANGE)
    new = r + dr
    _require((new < 0) | (new > 1), "retention + retention_change must be between 0 and 1",
             "#VALUE!")
    _require((new >= 1) & (i == 0), "a retention of 1 without discounting has no finite value")
    return _out(np.asarray(margin_multiple(new, i) / margin_multiple(r, i) - 1.0))


def retention_needed(
    retention: ArrayLike, discount_rate: ArrayLike, value_change: ArrayLike
) -> Number:
    """The retention change (points, a fraction) that moves the customer value by ``value_change``.

    Solves ``CLV(r + dr) = (1 + g) CLV(r)``: with ``Q = (1 + g) r / (1 + i - r)``,
    ``r + dr = Q (1 + i) / (1 + Q)``. A result that takes retention above 1
    means no retention reaches that value.

    >>> round(retention_needed(0.8, 0.12, 0.25), 4)
    0.0485
    """
    r = check("retention", retention, OPEN_FRACTION)
    i = check("discount_rate", discount_rate, DISCOUNT_RATE)
    g = check("value_change", value_change, RELATIVE_CHANGE)
    _require((r >= 1) & (i == 0), "a retention of 1 without discounting has no finite value")
    q = (1.0 + g) * np.asarray(margin_multiple(r, i))
    return _out(q * (1.0 + i) / (1.0 + q) - r)


def retention_elasticity(retention: ArrayLike, discount_rate: ArrayLike) -> Number:
    """Per cent change of ``CLV = m r / (1 + i - r)`` for a 1 % change of retention.

    ``d ln CLV / d ln r = (1 + i) / (1 + i - r)`` (Pfeifer & Farris 2004 for
    this margin multiple): at r = 0.8, i = 0.12 a 1 % higher retention
    (0.808) raises the value by about 3.5 %.

    >>> round(retention_elasticity(0.8, 0.12), 4)
    3.5
    """
    r = check("retention", retention, FRACTION)
    i = check("discount_rate", discount_rate, DISCOUNT_RATE)
    _require((r >= 1) & (i == 0), "a retention of 1 without discounting has no finite value")
    return _out((1.0 + i) / (1.0 + i - r))


def promo_breakeven(
    margin: ArrayLike, promo_margin: ArrayLike, retention: ArrayLike, discount_rate: ArrayLike
) -> Number:
    """The retention a promotion must reach to keep the customer value.

    A promotion cuts the margin per period from ``margin`` to ``promo_margin``;
    the customer value stays at ``CLV0 = m r / (1 + i - r)`` when
    ``promo_margin r* / (1 + i - r*) = CLV0``, i.e. ``r* = K (1 + i) / (1 + K)``
    with ``K = CLV0 / promo_margin``. A result above 1 means no retention
    makes up for the lower margin.

    >>> round(promo_breakeven(40, 30, 0.8, 0.1), 4)
    0.8585
    """
    m = check("margin", margin, NON_NEGATIVE)
    pm = check("promo_margin", promo_margin, DENOMINATOR)
    r = check("retention", retention, FRACTION)
    i = check("discount_rate", discount_rate, DISCOUNT_RATE)
    _require((r >= 1) & (i == 0), "a retention of 1 without discounting has no finite value")
    k = np.asarray(clv_retention(m, r, i)) / pm
    return _out(k * (1.0 + i) / (1.0 + k))


def breakeven_uplift(gross_margin: ArrayLike, discount: ArrayLike) -> Number:
    """The sales uplift (a fraction) that keeps gross profit when prices are cut by ``discount``.

    Each unit sold at list price p earns ``m p``; with the discount it earns
    ``(m - discount) p``, so volume must rise by ``discount / (m - discount)``.
    Infinite when the discount takes the whole margin.

    >>> round(breakeven_uplift(0.4, 0.1), 4)
    0.3333
    """
    m = check("gross_margin", gross_margin, FRACTION)
    dsc = check("discount", discount, FRACTION)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _out(np.where(dsc < m, dsc / np.where(dsc < m, m - dsc, 1.0), np.inf))


@dataclass(frozen=True)
class PromoImpact:
    """A promotion in the transaction view, per customer and in total (see :func:`promo_impact`).

    Per customer, over the period of ``purchase_frequency``: ``orders``,
    ``order_value`` (paid, after the discount), ``revenue``, ``discount_cost``
    (list price minus price paid) and ``gross_profit``, each as (without, with)
    the promotion; ``customers`` multiplies them into totals.
    ``breakeven_uplift``: the rise of orders x list order value that keeps the
    gross profit (:func:`breakeven_uplift`).
    """

    orders: tuple[float, float]
    order_value: tuple[float, float]
    revenue: tuple[float, float]
    discount_cost: tuple[float, float]
    gross_profit: tuple[float, float]
    customers: float
    breakeven_uplift: float

    def rows(self) -> list[tuple[str, float, float, float]]:
        """(measure, without, with, change) rows, per customer then in total."""
        n = self.customers
        per = [
            ("orders per customer", self.orders),
            ("order value paid", self.order_value),
            ("revenue per customer", self.revenue),
            ("discount cost per customer", self.discount_cost),
            ("gross profit per customer", self.gross_profit),
        ]
        total = [
            ("revenue, all customers", self.revenue),
            ("discount cost, all customers", self.discount_cost),
            ("gross profit, all customers", self.gross_profit),
        ]
        out = [(label, a, b, b - a) for label, (a, b) in per]
        out += [(label, a * n, b * n, (b - a) * n) for label, (a, b) in total]
        return out


def promo_impact(
    avg_order_value: float, purchase_frequency: float, gross_margin: float, discount: float,
    frequency_uplift: float = 0.0, value_uplift: float = 0.0, customers: float = 1.0,
) -> PromoImpact:
    """A price promotion against the extra purchases it brings.

    Without it a customer places ``F`` orders of list value ``AOV`` (currency)
    at gross margin ``m`` (a fraction of the list price): gross profit
    ``AOV F m``. With it, prices are cut by ``discount`` (a fraction of the
    list price) and the customer places ``F (1 + frequency_uplift)`` orders of
    list value ``AOV (1 + value_uplift)``, each earning ``m - discount`` of
    its list value; the discount costs ``discount`` of it. The break-even
    uplift is ``discount / (m - discount)`` of orders x list order value.

    50 per order, 4 orders, 40 % margin, 10 % off, 25 % more orders: gross
    profit 80 -> 75 per customer; the promotion needs 33.3 % more to pay.
    """
    aov = float(check("avg_order_value", avg_order_value, NON_NEGATIVE))
    f = float(check("purchase_frequency", purchase_frequency, NON_NEGATIVE))
    m = float(check("gross_margin", gross_margin, FRACTION))
    dsc = float(check("discount", discount, FRACTION))
    fu = float(check("frequency_uplift", frequency_uplift, RELATIVE_CHANGE))
    vu = float(check("value_uplift", value_uplift, RELATIVE_CHANGE))
    n = float(check("customers", customers, NON_NEGATIVE))
    orders = (f, f * (1.0 + fu))
    list_value = aov * (1.0 + vu)
    paid = (aov, list_value * (1.0 - dsc))
    revenue = (aov * f, orders[1] * paid[1])
    cost = (0.0, orders[1] * list_value * dsc)
    profit = (aov * f * m, orders[1] * list_value * (m - dsc))
    return PromoImpact(orders, paid, revenue, cost, profit, n,
                       float(breakeven_uplift(m, dsc)))


DRIVERS = (
    ("avg_purchase_value", "average purchase value"),
    ("purchase_frequency", "purchase frequency"),
    ("lifespan", "lifespan"),
    ("gross_margin", "gross margin"),
    ("discount_rate", "discount rate"),
)
"""The drivers of :func:`ltvxl.unit_economics.ltv` that :func:`ltv_sensitivity` moves."""

SENSITIVITY_COLUMNS = ("driver", "value", "ltv_low", "ltv_high", "change_low", "change_high")


def ltv_sensitivity(
    avg_purchase_value: float, purchase_frequency: float, lifespan: float,
    gross_margin: float | None = None, discount_rate: float | None = None, step: float = 0.1,
) -> pd.DataFrame:
    """LTV with each driver moved down and up by ``step`` (0.1 = 10 %), the others fixed.

    One row per driver (average purchase value, purchase frequency, lifespan,
    and the gross margin and discount rate when given) with its value, the
    LTV of :func:`ltvxl.unit_economics.ltv` at ``value x (1 - step)`` and
    ``value x (1 + step)``, and the change of each from the base LTV; rows
    sorted by the larger absolute change, largest first (ties, to a
    millionth, keep this order): the input of a tornado chart. A gross margin moved above 1 is
    capped at 1 (the row's ``value_high`` says so). ``attrs["base"]`` is the
    base LTV.
    """
    import pandas as pd  # here only: importing the worksheet functions stays light

    s = float(check("step", step, Domain(low=0, high=1, low_open=True, is_rate=True)))
    values = {
        "avg_purchase_value": float(check("avg_purchase_value", avg_purchase_value, NON_NEGATIVE)),
        "purchase_frequency": float(check("purchase_frequency", purchase_frequency, NON_NEGATIVE)),
        "lifespan": float(check("lifespan", lifespan, NON_NEGATIVE)),
        "gross_margin": None if gross_margin is None
        else float(check("gross_margin", gross_margin, FRACTION)),
        "discount_rate": None if discount_rate is None
        else float(check("discount_rate", discount_rate, DISCOUNT_RATE)),
    }
    base_args = {k: (1.0 if k == "gross_margin" else 0.0) if v is None else v
                 for k, v in values.items()}
    base = float(ltv(**base_args))
    rows = []
    for key, label in DRIVERS:
        v = values[key]
        if v is None:
            continue
        low, high = v * (1.0 - s), v * (1.0 + s)
        if key in ("gross_margin", "discount_rate"):
            high = min(high, 1.0)
        lo_ltv = float(ltv(**{**base_args, key: low}))
        hi_ltv = float(ltv(**{**base_args, key: high}))
        rows.append((label, v, low, high, lo_ltv, hi_ltv, lo_ltv - base, hi_ltv - base))
    df = pd.DataFrame(rows, columns=["driver", "value", "value_low", "value_high", "ltv_low",
                                     "ltv_high", "change_low", "change_high"])
    impact = np.maximum(df["change_low"].abs(), df["change_high"].abs())
    order = np.argsort(-np.round(impact.to_numpy(), 6), kind="stable")  # float noise is a tie
    df = df.iloc[order].reset_index(drop=True)
    df.attrs.update(base=base, step=s)
    return df

