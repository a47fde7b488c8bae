"""Worksheet functions of transaction analytics: each reads a transaction log
(a column of customer ids, one of dates, one of amounts, with or without a
header row) and spills a table with a header row.

The core is :mod:`ltvxl.transactions`; see docs/transactions.md for the
definitions, the negative-amount policy and the RFM rule table.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ltvxl import units
from ltvxl.cells import as_grid, describe, numbers, text_option
from ltvxl.domains import Domain
from ltvxl.errors import MAX_NOTE, LtvxlError, cell_error, clip, is_cell_error
from ltvxl.transactions import choices, tiers
from ltvxl.worksheet import Arg, Spec, declare

from . import _args
from ._logs import log_of
from ._tables import cells, table
from .binding import expose

if TYPE_CHECKING:  # pragma: no cover
    pass

__all__ = [
    "COHORT_CURVE",
    "COHORT_TABLE",
    "LTV_BY_GROUP",
    "LTV_CUSTOMERS",
    "LTV_STATS",
    "LTV_TIER",
    "RFM_SEGMENTS",
    "RFM_SUMMARY",
]

_IDS, _DATES, _AMOUNTS, _AS_OF = _args.IDS, _args.DATES, _args.AMOUNTS, _args.AS_OF
_TIME_UNIT = _args.TIME_UNIT

_ORDER_IDS = _args.ORDER_IDS

_RANGE_EXAMPLE = "a table with a header row"
WHOLE_AT_LEAST_ONE = Domain(low=1)


# ---------------------------------------------------------------- helpers


# ---------------------------------------------------------------- LTV_CUSTOMERS


def _customers(ids: Any, dates: Any, amounts: Any, as_of: Any, time_unit: Any,
               order_ids: Any = None) -> Any:
    from ltvxl.transactions import summary

    unit = time_unit
    df = summary.customer_summary(log_of(ids, dates, amounts, None, order_ids), as_of,
                                 unit).table
    header = ["customer", "first purchase", "last purchase", "orders", "revenue",
              "average order value", "repeat purchases", f"recency ({unit})",
              f"age T ({unit})", "average repeat purchase value", "historical value"]
    return table(header, [df[c].to_numpy() for c in summary.SUMMARY_COLUMNS])


LTV_CUSTOMERS = expose(declare(
    Spec(
        "LTV_CUSTOMERS",
        "One row per customer: first and last purchase, orders, revenue, average order value, "
        "repeat purchases, recency, age T, average repeat purchase value and historical value "
        "(the buy-till-you-die summary).",
        (_IDS, _DATES, _AMOUNTS, _AS_OF, _TIME_UNIT, _ORDER_IDS),
        returns="table",
        examples=(("=LTV_CUSTOMERS(A2:A5000, B2:B5000, C2:C5000)", _RANGE_EXAMPLE),
                  ('=LTV_CUSTOMERS(A:A, B:B, C:C, "1997-09-30", "weeks")', _RANGE_EXAMPLE)),
    ),
    _customers,
))


# ---------------------------------------------------------------- LTV_STATS


def _stats(ids: Any, dates: Any, amounts: Any, as_of: Any, lifespan_method: Any,
           order_ids: Any = None) -> Any:
    from ltvxl.transactions import stats

    result = stats.ltv_stats(log_of(ids, dates, amounts, None, order_ids), as_of,
                             lifespan_method)
    rows = [["measure", "value"]]
    for label, value in result.rows():
        if isinstance(value, np.datetime64):
            value = cells(np.array([value]))[0]
        elif isinstance(value, (int, np.integer)):
            value = float(value)
        elif isinstance(value, float) and not np.isfinite(value):
            value = cell_error("#N/A", "not available")
        rows.append([label, value])
    return rows


LTV_STATS = expose(declare(
    Spec(
        "LTV_STATS",
        "The simple LTV from data: customers, purchases, revenue, average purchase value, "
        "purchases per customer per year, lifespan (estimator stated) and their product, "
        "as a labelled two-column block.",
        (_IDS, _DATES, _AMOUNTS, _AS_OF,
         Arg("lifespan_method", "Optional lifespan estimator: censored (customer-years at risk "
             "/ customers a year without purchase, default), churn (1 / yearly churn) or "
             "observed (mean first to last purchase).", kind="text",
             default=choices.LIFESPAN_METHODS[0], choices=choices.LIFESPAN_METHODS),
         _ORDER_IDS),
        returns="table",
        examples=(("=LTV_STATS(A2:A5000, B2:B5000, C2:C5000)", _RANGE_EXAMPLE),),
    ),
    _stats,
))


# ---------------------------------------------------------------- COHORT_TABLE


_PERIOD = Arg("period", "Optional cohort and period length: month (default), quarter or year.",
              kind="text", default="month", choices=choices.PERIODS)


def _cohorts(ids: Any, dates: Any, amounts: Any, period: str, metric: str, as_of: Any,
             order_ids: Any = None) -> Any:
    from ltvxl.transactions import cohorts

    df = cohorts.cohort_table(log_of(ids, dates, amounts, None, order_ids), period, metric,
                              as_of)
    periods = [c for c in df.columns if c != "customers"]
    header = ["cohort", "customers", *(f"{period} {k}" for k in periods)]
    return table(header, [np.asarray(df.index, dtype=object), df["customers"].to_numpy(),
                          *(df[k].to_numpy() for k in periods)])


COHORT_TABLE = expose(declare(
    Spec(
        "COHORT_TABLE",
        "Acquisition cohorts (month, quarter or year of the first purchase) by periods since "
        "acquisition: active customers, retention, revenue or cumulative revenue per customer "
        "(ltv). Future periods are blank.",
        (_IDS, _DATES, _AMOUNTS, _PERIOD,
         Arg("metric", "Optional: retention (share still buying, default), active (customers), "
             "revenue, or ltv (cumulative revenue per acquired customer).", kind="text",
             default="retention", choices=choices.METRICS),
         _AS_OF, _ORDER_IDS),
        returns="table",
        examples=(('=COHORT_TABLE(A2:A5000, B2:B5000, C2:C5000, "quarter", "ltv")',
                   _RANGE_EXAMPLE),),
    ),
    _cohorts,
))


_CURVE_LABELS = {"retention": "retention", "active": "active customers per cohort",
                 "revenue": "revenue per customer", "ltv": "cumulative value per customer"}


def _curve(ids: Any, dates: Any, amounts: Any, period: str, metric: str, as_of: Any,
           order_ids: Any = None) -> Any:
    from ltvxl.transactions import cohorts

    df = cohorts.cohort_curve(log_of(ids, dates, amounts, None, order_ids), period, metric,
                              as_of)
    if not len(df):
        raise LtvxlError(f"no cohort has a complete {period} yet: give a later as_of or a "
                         "shorter period")
    header = [f"{period}s since acquisition", "cohorts", "customers", _CURVE_LABELS[metric]]
    return table(header, [df[c].to_numpy() for c in ("age", "cohorts", "customers", "value")])


COHORT_CURVE = expose(declare(
    Spec(
        "COHORT_CURVE",
        "The cohorts averaged into one curve by periods since acquisition, pooling at each "
        "age only the cohorts observed for all of that period (the period of as_of only if "
        "as_of is its last day).",
        (_IDS, _DATES, _AMOUNTS, _PERIOD,
         Arg("metric", "Optional: ltv (cumulative value per acquired customer, default), "
             "retention, revenue (per acquired customer) or active (customers per cohort).",
             kind="text", default="ltv", choices=choices.METRICS),
         _AS_OF, _ORDER_IDS),
        returns="table",
        examples=(('=COHORT_CURVE(A2:A5000, B2:B5000, C2:C5000)', _RANGE_EXAMPLE),),
    ),
    _curve,
))


# ---------------------------------------------------------------- LTV_TIER


def _as_float(cell: int | float) -> float:
    """``float(cell)``, an integer too large for a float as infinity."""
    try:
        return float(cell)
    except OverflowError:
        return math.inf


def _number_list(value: Any, name: str, *, skip_blank: bool) -> np.ndarray:
    grid = as_grid(value, name)
    out = []
    for i, cell in enumerate(grid.reshape(-1)):
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            if skip_blank:
                continue
            raise LtvxlError(f"{name} cell {i + 1} is blank")
        if isinstance(cell, bool) or not isinstance(cell, (int, float)):
            if is_cell_error(cell):
                raise LtvxlError(f"{name} cell {i + 1} holds the error {cell}")
            raise LtvxlError(f"{name} cell {i + 1}: {describe(cell)} is not a number")
        if not math.isfinite(_as_float(cell)):
            raise LtvxlError(f"{name} cell {i + 1} is not a finite number")
        out.append(float(cell))
    return np.asarray(out, dtype=float)


def _text_list(value: Any, name: str) -> list[str]:
    grid = as_grid(value, name)
    out = []
    for cell in grid.reshape(-1):
        if cell is None:
            continue
        out.append(str(cell).strip() if not isinstance(cell, float) or not cell.is_integer()
                   else str(int(cell)))
    return out


def _tier(values: Any, population: Any, breaks: Any, labels: Any, by: Any) -> Any:
    how = text_option(by, "by", tiers.BY, "share")
    brk = tiers.DEFAULT_BREAKS if breaks is None else tuple(
        _number_list(breaks, "breaks", skip_blank=True))
    if len(brk) == 0:
        brk = tiers.DEFAULT_BREAKS
    lab = tiers.DEFAULT_LABELS if labels is None else tuple(_text_list(labels, "labels"))
    if labels is None and len(brk) != 2:
        raise LtvxlError(f"labels are needed for {len(brk)} breaks ({len(brk) + 1} tiers)")
    if values is None:
        raise LtvxlError("values is missing")
    grid = as_grid(values, "values")
    vals, problems = numbers(grid, "values")
    pop = None
    if population is not None:
        pop = _number_list(population, "population", skip_blank=True)
    elif (problems != None).any() and how == "share":  # noqa: E711
        pop = vals[problems == None]  # noqa: E711
    safe = np.where(problems == None, vals, 0.0)  # noqa: E711
    result = tiers.value_tiers(safe.reshape(-1), pop, brk, lab, how).reshape(grid.shape)
    result = result.astype(object)
    bad = problems != None  # noqa: E711
    result[bad] = problems[bad]
    return result[0, 0] if result.shape == (1, 1) else result.tolist()


LTV_TIER = expose(declare(
    Spec(
        "LTV_TIER",
        "Value tier of each value: by default the top 20% of the population High, the next 30% "
        "Medium, the rest Low; or by value cutoffs. Works on one value against a population or "
        "on a whole column.",
        (Arg("values", "The value(s) to tier: a cell or a column, e.g. each customer's LTV.",
             kind="data"),
         Arg("population", "Optional values to rank against (blanks skipped); blank to rank "
             "the values among themselves.", kind="data", default=None),
         Arg("breaks", "Optional shares from the top (default 0.2, 0.3) or, with by = value, "
             "value cutoffs from the highest down.", kind="data", default=None),
         Arg("labels", "Optional tier names, highest first, one more than breaks (default "
             "High, Medium, Low).", kind="data", default=None),
         Arg("by", "Optional: share (breaks are shares of the population, default) or value "
             "(breaks are value cutoffs).", kind="text", default="share", choices=tiers.BY)),
        returns="array",
        examples=(("=LTV_TIER(950, {1000;950;800;700;600;500;400;300;200;100})", "High"),
                  ("=LTV_TIER(600, {1000;950;800;700;600;500;400;300;200;100})", "Medium"),
                  ('=LTV_TIER(450, , {1000;500}, , "value")', "Low")),
    ),
    _tier,
))


# ---------------------------------------------------------------- RFM


def _rfm(ids: Any, dates: Any, amounts: Any, as_of: Any, order_ids: Any = None) -> Any:
    from ltvxl.transactions import rfm

    df = rfm.rfm_table(log_of(ids, dates, amounts, None, order_ids), as_of)
    header = ["customer", "recency (days)", "orders", "revenue", "R", "F", "M", "RFM", "segment"]
    return table(header, [df[c].to_numpy() for c in
                           ("customer", "recency_days", "orders", "revenue", "R", "F", "M",
                            "RFM", "segment")])


RFM_SEGMENTS = expose(declare(
    Spec(
        "RFM_SEGMENTS",
        "RFM per customer: days since last purchase, orders, revenue, their quintile scores "
        "R, F, M (1 to 5, 5 best) and a named segment (Champions ... Lost) from the documented "
        "rule table.",
        (_IDS, _DATES, _AMOUNTS, _AS_OF, _ORDER_IDS),
        returns="table",
        examples=(("=RFM_SEGMENTS(A2:A5000, B2:B5000, C2:C5000)", _RANGE_EXAMPLE),),
    ),
    _rfm,
))


def _rfm_summary(ids: Any, dates: Any, amounts: Any, as_of: Any, order_ids: Any = None) -> Any:
    from ltvxl.transactions import rfm

    df = rfm.rfm_summary(rfm.rfm_table(log_of(ids, dates, amounts, None, order_ids),
                                       as_of))
    header = ["segment", "customers", "share of customers", "revenue", "share of revenue"]
    return table(header, [df[c].to_numpy() for c in df.columns])


RFM_SUMMARY = expose(declare(
    Spec(
        "RFM_SUMMARY",
        "Customers and revenue per RFM segment, with their shares, for all eleven segments "
        "from Champions to Lost.",
        (_IDS, _DATES, _AMOUNTS, _AS_OF, _ORDER_IDS),
        returns="table",
        examples=(("=RFM_SUMMARY(A2:A5000, B2:B5000, C2:C5000)", _RANGE_EXAMPLE),),
    ),
    _rfm_summary,
))


# ---------------------------------------------------------------- LTV_BY_GROUP


def _cac_table(value: Any) -> dict[str, float] | None:
    from ltvxl.transactions import groups

    if value is None:
        return None
    grid = as_grid(value, "cac_by_group")
    if grid.shape[1] != 2:
        raise LtvxlError(f"cac_by_group must have two columns (group, CAC), got {grid.shape[1]}")
    out: dict[str, float] = {}
    for i, (name, cost) in enumerate(grid.tolist()):
        if name is None and cost is None:
            continue
        if i == 0 and isinstance(cost, str):
            try:
                float(cost)
            except ValueError:
                continue  # a header row
        if isinstance(cost, bool) or not isinstance(cost, (int, float)) or not cost > 0 \
                or not math.isfinite(_as_float(cost)):
            raise LtvxlError(f"cac_by_group row {i + 1}: CAC must be a number > 0, got "
                             f"{describe(cost)}")
        out[groups.group_name(name)] = float(cost)
    return out


VIEWS = ("TABLE", "MODEL")
"""LTV_BY_GROUP's views: the groups' history, or the covariate model's predictions."""
MODEL_LEVEL = 0.9
"""Coverage of the model view's intervals."""


def _model_view(log: Any, costs: dict[str, float] | None, as_of: Any, least: int,
                horizon: float, annual_discount_rate: float, gross_margin: float,
                model: str) -> Any:
    """Per group: predicted CLV per customer from the model with the group as a covariate
    (ltvxl.models.covariates.by_group), its interval, the coefficients' exp."""
    from ltvxl.models import covariates
    from ltvxl.models.cache import digest
    from ltvxl.models.registry import purchase_model
    from ltvxl.transactions import groups, summary

    from .models import FIT_CACHE

    entry = purchase_model(model)
    if entry.key not in covariates.LINKS:
        takes = " and ".join(purchase_model(k).name for k in covariates.LINKS)
        raise LtvxlError(f"the model view works with {takes}, not {entry.name}")
    s = summary.customer_summary(log, as_of, units.DEFAULT_UNIT)
    t = s.table
    day = int(np.datetime64(s.as_of, "D").astype(np.int64))
    summarised = set(t["customer"].tolist())  # np.isin of object ids compares each with each
    kept = np.flatnonzero(np.fromiter((c in summarised for c in log.customers.tolist()), bool,
                                      len(log.customers)))
    names = groups.customer_groups(log, log.extra["groups"], day)[kept]
    names = np.where(names == "", groups.BLANK_GROUP, names)
    options = dict(horizon=horizon, horizon_unit=units.HORIZON_UNIT,
                   annual_discount_rate=annual_discount_rate, gross_margin=gross_margin)
    cols = [t[c].to_numpy(float) for c in ("frequency", "recency", "T", "monetary_value")]
    key = ("by_group", entry.key, tuple(sorted(options.items())),
           digest(*cols), hash(tuple(names)))
    df, fit = FIT_CACHE.get((*key, least), lambda: covariates.by_group(
        t, names, model=entry.key, time_unit=units.DEFAULT_UNIT, level=MODEL_LEVEL,
        cache=FIT_CACHE, min_customers=least, **options))
    pct = f"{MODEL_LEVEL:.0%}"
    header = ["group", "customers", f"predicted CLV per customer ({horizon:g} months, "
              f"{entry.name} with the group)", f"{pct} low", f"{pct} high",
              "exp(purchase coef.)", "exp(dropout coef.)"]
    values = [df[c].to_numpy() for c in ("group", "customers", "clv_per_customer",
                                         "clv_low", "clv_high", "exp_purchase",
                                         "exp_dropout")]
    if costs is not None:
        cac = np.array([costs.get(g, np.nan) for g in df["group"]])
        header += ["CAC", "predicted CLV:CAC"]
        values += [cac, df["clv_per_customer"].to_numpy(float) / cac]
    ref = fit.design.references["group"]
    problem = fit.fit.problems[0] if fit.fit.problems else fit.fit.status
    notes = []
    for g, n, low, pooled in zip(df["group"], df["customers"], df["clv_low"], df["pooled"],
                                 strict=True):
        words = ["reference"] if g == ref else []
        if pooled:
            words.append(f"fewer than {least} customers: rates of the small groups pooled")
        elif n < least:
            words.append(f"fewer than {least} customers: too few to compare")
        if not fit.fit.converged:
            words.append(f"fit not converged: {problem}")
        elif low != low:
            words.append("no interval: the fit has no standard errors")
        notes.append(clip("; ".join(words), MAX_NOTE))
    return table([*header, "caution"], [*values, np.asarray(notes, dtype=object)])


def _by_group(group_cells: Any, ids: Any, dates: Any, amounts: Any, cac_by_group: Any,
              as_of: Any, order_ids: Any, min_customers: float, view: str, horizon: float,
              annual_discount_rate: float, gross_margin: float, model: str) -> Any:
    from ltvxl.transactions import groups

    costs = _cac_table(cac_by_group)
    log = log_of(ids, dates, amounts, {"groups": group_cells}, order_ids)
    least = int(min_customers)
    if view == "MODEL":
        return _model_view(log, costs, as_of, least, horizon, annual_discount_rate,
                           gross_margin, model)
    df = groups.group_comparison(log, "groups", costs, as_of, least)
    header = ["group", "customers", "orders", "revenue", "revenue per customer",
              "share of revenue"]
    cols = ["group", "customers", "orders", "revenue", "revenue_per_customer", "share_of_revenue"]
    if costs is not None:
        header += ["CAC", "LTV:CAC"]
        cols += ["cac", "ltv_cac"]
    notes = np.where(df["small"].to_numpy(), f"fewer than {least} customers: too few to "
                     "compare", "")
    return table([*header, "caution"], [*(df[c].to_numpy() for c in cols), notes])


LTV_BY_GROUP = expose(declare(
    Spec(
        "LTV_BY_GROUP",
        "Compare customer groups (e.g. acquisition channel of the first purchase): customers, "
        "orders, revenue, revenue per customer, share of revenue and, given CAC per group, "
        "LTV:CAC; groups too small to compare are marked.",
        (Arg("groups", "Group of each transaction (e.g. acquisition channel), in the same rows "
             "as ids; a customer belongs to the group of their first purchase.", kind="data"),
         _IDS, _DATES, _AMOUNTS,
         Arg("cac_by_group", "Optional two-column range: group name and acquisition cost per "
             "customer (> 0); adds CAC and LTV:CAC columns.", kind="data", default=None),
         _AS_OF, _ORDER_IDS,
         Arg("min_customers", "Optional fewest customers a group needs to be compared; smaller "
             f"groups get a caution. Blank for {choices.MIN_GROUP_CUSTOMERS}.", kind="value",
             default=float(choices.MIN_GROUP_CUSTOMERS), domain=WHOLE_AT_LEAST_ONE),
         Arg("view", "Optional TABLE (blank: the groups' history) or MODEL: predicted CLV per "
             "customer of each group from Pareto/NBD (or BG/NBD) with the group as a covariate, "
             f"with a {MODEL_LEVEL:.0%} interval from the standard errors.", kind="text",
             default="TABLE", choices=VIEWS),
         Arg("horizon", f"Optional horizon of the MODEL view, in {units.HORIZON_UNIT}; blank for "
             f"{_args.HORIZON.default:g}.", kind="value", default=_args.HORIZON.default,
             domain=_args.HORIZON.domain),
         _args.ANNUAL_DISCOUNT_RATE, _args.GROSS_MARGIN, _args.MODEL),
        returns="table",
        examples=(("=LTV_BY_GROUP(D2:D5000, A2:A5000, B2:B5000, C2:C5000, F2:G7)",
                   _RANGE_EXAMPLE),
                  ('=LTV_BY_GROUP(D2:D5000, A2:A5000, B2:B5000, C2:C5000, , , , , "MODEL", 12)',
                   "per group: predicted CLV per customer over 12 months with its 90% "
                   "interval, the reference group first")),
    ),
    _by_group,
))
