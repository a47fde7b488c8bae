"""Closed-form unit economics of customer lifetime value.

All functions accept scalars or array-likes (numpy broadcasting applies) and
return a float or an ndarray. Rates are fractions (5 % is 0.05). Money is in
the user's currency; the period (year, month) is whatever the inputs use,
as long as they agree: a purchase frequency per year goes with a lifespan in
years and a discount rate per year.

Invalid inputs raise :class:`ltvxl.errors.LtvxlError` naming the argument.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # numpy.typing costs Excel's start 5-15 ms
    from numpy.typing import ArrayLike

from .domains import (
    CHURN,
    DENOMINATOR,
    DISCOUNT_RATE,
    FRACTION,
    HORIZON,
    MARGIN_DIVISOR,
    NON_NEGATIVE,
    POSITIVE,
    check,
)

Number = float | np.ndarray


def _out(x: np.ndarray) -> Number:
    return float(x) if np.ndim(x) == 0 else x


def annuity_factor(periods: ArrayLike, discount_rate: ArrayLike) -> Number:
    """Present value of 1 paid at the end of each period for ``periods`` periods.

    A fractional final period of length f pays f at its end (time ``periods``),
    so the factor is continuous in ``periods``:
    ``(1 - v**n) / d + f * v**periods`` with ``v = 1/(1+d)``, ``n = floor(periods)``.
    With ``discount_rate`` 0 the factor is ``periods`` itself.
    """
    n_total = np.asarray(periods, dtype=float)
    d = np.asarray(discount_rate, dtype=float)
    n = np.floor(n_total)
    f = n_total - n
    v = 1.0 / (1.0 + d)
    with np.errstate(divide="ignore", invalid="ignore"):
        whole = np.where(d > 0, -np.expm1(n * np.log1p(d) * -1.0) / np.where(d > 0, d, 1.0), n)
    return _out(whole + f * v**n_total)


def ltv(
    avg_purchase_value: ArrayLike,
    purchase_frequency: ArrayLike,
    lifespan: ArrayLike,
    gross_margin: ArrayLike = 1.0,
    discount_rate: ArrayLike = 0.0,
) -> Number:
    """Classic lifetime value: value per purchase x purchases per period x lifespan.

    ``LTV = APV x F x m x A(L, d)`` where APV is the average purchase value
    (currency), F the purchases per period (usually per year), L the lifespan in
    periods, m the gross margin (fraction; 1 gives a revenue LTV) and A the
    annuity factor of :func:`annuity_factor`: each period's value
    ``APV x F x m`` arrives at the end of the period and is discounted at
    ``d`` per period; a fractional last period contributes its fraction.
    Without discounting ``A = L``.

    >>> ltv(100, 3, 5)
    1500.0
    >>> round(ltv(100, 3, 5, gross_margin=0.6, discount_rate=0.1), 2)
    682.34
    """
    apv = check("avg_purchase_value", avg_purchase_value, NON_NEGATIVE)
    freq = check("purchase_frequency", purchase_frequency, NON_NEGATIVE)
    life = check("lifespan", lifespan, NON_NEGATIVE)
    m = check("gross_margin", gross_margin, FRACTION)
    d = check("discount_rate", discount_rate, DISCOUNT_RATE)
    return _out(np.asarray(apv * freq * m * annuity_factor(life, d)))


def avg_purchase_value(revenue: ArrayLike, purchases: ArrayLike) -> Number:
    """Average purchase value: revenue / number of purchases (currency per purchase).

    >>> avg_purchase_value(30000, 300)
    100.0
    """
    rev = check("revenue", revenue, NON_NEGATIVE)
    n = check("purchases", purchases, DENOMINATOR)
    return _out(rev / n)


def purchase_frequency(purchases: ArrayLike, customers: ArrayLike) -> Number:
    """Purchase frequency: purchases / unique customers over the same period.

    Measured over a year it is purchases per customer per year.

    >>> purchase_frequency(300, 100)
    3.0
    """
    n = check("purchases", purchases, NON_NEGATIVE)
    c = check("customers", customers, DENOMINATOR)
    return _out(n / c)


def customer_lifespan(churn_rate: ArrayLike) -> Number:
    """Expected lifespan in periods from a churn rate per period: 1 / churn.

    Under a constant churn rate c the number of periods a customer stays is
    geometric with mean 1/c. A yearly churn of 0.2 gives 5 years.

    >>> customer_lifespan(0.2)
    5.0
    """
    c = check("churn_rate", churn_rate, CHURN)
    return _out(1.0 / c)


def ltv_churn(
    arpu: ArrayLike,
    churn_rate: ArrayLike,
    gross_margin: ArrayLike = 1.0,
    discount_rate: ArrayLike = 0.0,
) -> Number:
    """Subscription LTV: ARPU x margin / churn, optionally discounted.

    ARPU is the average revenue per user per period (e.g. per month), churn the
    fraction of customers lost per period, the discount rate per period.
    Payments are made at the start of each period while the customer is active
    (a customer pays for period t+1 with probability ``(1-c)**t``), so
    ``LTV = ARPU x m x (1 + d) / (c + d)``, which is the ChartMogul /
    Baremetrics convention ``ARPU x m / c`` when ``d = 0``.

    >>> ltv_churn(50, 0.05)
    1000.0
    >>> round(ltv_churn(50, 0.05, 0.8, 0.01), 2)
    673.33
    """
    a = check("arpu", arpu, NON_NEGATIVE)
    c = check("churn_rate", churn_rate, CHURN)
    m = check("gross_margin", gross_margin, FRACTION)
    d = check("discount_rate", discount_rate, DISCOUNT_RATE)
    return _out(a * m * (1.0 + d) / (c + d))


def clv_retention(
    margin: ArrayLike,
    retention_rate: ArrayLike,
    discount_rate: ArrayLike,
    periods: ArrayLike | None = None,
) -> Number:
    """Gupta & Lehmann customer lifetime value from a constant retention rate.

    ``margin`` is the margin per customer per period (currency), ``r`` the
    fraction retained each period, ``d`` the discount rate per period. The
    margin of period t is earned at its end by the customers retained t times:
    ``CLV = sum_{t=1..T} m r^t / (1+d)^t``; for an infinite horizon
    (``periods`` None or ``inf``) this is ``m r / (1 + d - r)`` (Gupta & Lehmann 2003).
    A fractional ``periods`` is rounded down to whole periods. A retention
    of 1 with no discounting over an infinite horizon has no finite value
    and gives ``inf``.

    >>> round(clv_retention(100, 0.8, 0.1), 2)
    266.67
    >>> round(clv_retention(100, 0.8, 0.1, periods=1), 2)
    72.73
    """
    m = check("margin", margin, NON_NEGATIVE)
    d = check("discount_rate", discount_rate, DISCOUNT_RATE)
    r = check("retention_rate", retention_rate, FRACTION)
    n = np.floor(check("periods", np.inf if periods is None else periods, HORIZON))
    q = r / (1.0 + d)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        infinite = np.where(1.0 + d - r > 0, r / (1.0 + d - r), np.inf)
        finite = np.where(q < 1, q * (1 - q**n) / np.where(q < 1, 1 - q, 1.0), n)
        geometric = np.where(np.isinf(n), infinite, finite)
        return _out(np.where(m == 0, 0.0, m * geometric))  # no margin is worth 0 at any horizon


def cac(acquisition_spend: ArrayLike, new_customers: ArrayLike) -> Number:
    """Customer acquisition cost: sales and marketing spend / new customers.

    >>> cac(50000, 100)
    500.0
    """
    s = check("acquisition_spend", acquisition_spend, NON_NEGATIVE)
    n = check("new_customers", new_customers, DENOMINATOR)
    return _out(s / n)


def ltv_cac_ratio(ltv_value: ArrayLike, cac_value: ArrayLike) -> Number:
    """LTV:CAC ratio; 3 or more is the usual target.

    >>> ltv_cac_ratio(1500, 500)
    3.0
    """
    lv = check("ltv", ltv_value, NON_NEGATIVE)
    c = check("cac", cac_value, DENOMINATOR)
    return _out(lv / c)


def max_cac(ltv_value: ArrayLike, target_ratio: ArrayLike = 3.0) -> Number:
    """Highest acquisition cost that keeps LTV:CAC at the target (3:1 by default).

    >>> max_cac(1500)
    500.0
    """
    lv = check("ltv", ltv_value, NON_NEGATIVE)
    t = check("target_ratio", target_ratio, POSITIVE)
    return _out(lv / t)


def cac_payback(
    cac_value: ArrayLike, revenue_per_period: ArrayLike, gross_margin: ArrayLike = 1.0
) -> Number:
    """Periods of gross profit needed to earn back the acquisition cost.

    ``CAC / (revenue per period x margin)``, in the period of the revenue
    (monthly revenue gives months).

    >>> cac_payback(500, 50, 0.8)
    12.5
    """
    c = check("cac", cac_value, NON_NEGATIVE)
    rev = check("revenue_per_period", revenue_per_period, DENOMINATOR)
    m = check("gross_margin", gross_margin, MARGIN_DIVISOR)
    return _out(c / (rev * m))


STATUS_BANDS: tuple[tuple[float, str], ...] = (
    (1.0, "Losing money"),
    (3.0, "Below target"),
    (5.0, "Healthy"),
)
"""Upper bounds of the LTV:CAC bands: below 1, [1, 3), [3, 5]; above 5 is under-investing."""
UNDER_INVESTING = "Under-investing"


def ltv_cac_status(ratio: ArrayLike) -> str | np.ndarray:
    """Short label for an LTV:CAC ratio.

    Below 1 "Losing money" (each customer costs more than they bring), from 1
    to below 3 "Below target", 3 to 5 inclusive "Healthy", above 5
    "Under-investing" (growth could be bought faster).

    >>> ltv_cac_status(3)
    'Healthy'
    """
    x = check("ratio", ratio, NON_NEGATIVE)
    labels = np.where(
        x < 1.0,
        "Losing money",
        np.where(x < 3.0, "Below target", np.where(x <= 5.0, "Healthy", UNDER_INVESTING)),
    )
    return str(labels) if labels.ndim == 0 else labels.astype(object)
