"""Comparison of customer groups, e.g. acquisition channels.

A customer belongs to the group of their first purchase (the earliest
purchase on or before ``as_of``; on a tie the first such row of the log):
for an acquisition channel column that is the channel that acquired them.
Per group: customers, orders, revenue (returns netted), revenue per customer
(the observed value of a customer so far), share of all revenue and, when
an acquisition cost per customer is given for the group, LTV:CAC = revenue
per customer / CAC. Groups are in name order, ``(blank)`` (no group on the
first purchase) after them, and a last row ``Total`` covers all customers.
Groups of fewer than ``min_customers`` customers (default
:data:`MIN_GROUP_CUSTOMERS`) are marked ``small``: their averages rest on too
few customers to compare (3 customers can show an LTV:CAC of 167).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..errors import LtvxlError
from .choices import MIN_GROUP_CUSTOMERS
from .ids import format_id, natural_order
from .log import TransactionLog
from .summary import CustomerTotals, resolve_as_of

BLANK_GROUP = "(blank)"
TOTAL = "Total"


def group_name(value: Any) -> str:
    """The text a group value is shown as: ids' rules, blanks as ``(blank)``."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    name = format_id(value)
    return BLANK_GROUP if name is None else name


def customer_groups(log: TransactionLog, groups: np.ndarray, as_of_day: int) -> np.ndarray:
    """The group (text) of each customer's first purchase; '' for customers without one."""
    t = CustomerTotals(log, as_of_day)
    days, codes = log.days, log.codes
    first_rows = (days <= as_of_day) & (log.amounts >= 0) & (days == t.first[codes])
    idx = np.flatnonzero(first_rows)
    uc, pos = np.unique(codes[idx], return_index=True)
    out = np.full(len(log.customers), "", dtype=object)
    raw = np.asarray(groups, dtype=object)[idx[pos]]
    out[uc] = [group_name(v) for v in raw]
    return out


def group_comparison(
    log: TransactionLog,
    groups: np.ndarray | str,
    cac: Mapping[str, float] | None = None,
    as_of: Any = None,
    min_customers: int = MIN_GROUP_CUSTOMERS,
) -> pd.DataFrame:
    """Per-group customers, revenue, revenue per customer, share and LTV:CAC.

    ``groups``: one group value per row of the log, or the name of an extra
    column of the log (e.g. ``"channel"``). ``cac``: acquisition cost per
    customer by group name (> 0); groups without one get NaN. ``small``: the
    group has fewer than ``min_customers`` customers.
    """
    if isinstance(groups, str):
        if groups not in log.extra:
            raise LtvxlError(f'the log has no column "{groups}"; it has {", ".join(log.extra)}')
        groups = log.extra[groups]
    groups = np.asarray(groups, dtype=object).reshape(-1)
    if len(groups) != len(log):
        raise LtvxlError(f"groups has {len(groups)} rows but the log has {len(log)}")
    day = resolve_as_of(log, as_of)
    t = CustomerTotals(log, day)
    has = t.has_purchase
    cust_group = customer_groups(log, groups, day)[has]
    df = pd.DataFrame({"group": cust_group, "orders": t.orders[has], "revenue": t.revenue[has]})
    g = df.groupby("group", sort=False).agg(customers=("group", "size"),
                                            orders=("orders", "sum"), revenue=("revenue", "sum"))
    names = np.asarray(g.index, dtype=object)
    order = natural_order(names)
    order = np.concatenate([order[names[order] != BLANK_GROUP], order[names[order] == BLANK_GROUP]])
    g = g.iloc[order]
    total = pd.DataFrame({"customers": [int(g["customers"].sum())],
                          "orders": [int(g["orders"].sum())],
                          "revenue": [float(g["revenue"].sum())]}, index=[TOTAL])
    g = pd.concat([g, total])
    out = pd.DataFrame({
        "group": list(g.index),
        "customers": g["customers"].to_numpy(np.int64),
        "orders": g["orders"].to_numpy(np.int64),
        "revenue": g["revenue"].to_numpy(float),
    })
    out["revenue_per_customer"] = out["revenue"] / out["customers"]
    total_rev = float(total["revenue"].iloc[0])
    out["share_of_revenue"] = out["revenue"] / total_rev if total_rev else np.nan
    if cac is not None:
        costs = {group_name(k): float(v) for k, v in cac.items()}
        for k, v in costs.items():
            if not np.isfinite(v) or v <= 0:
                raise LtvxlError(f'CAC of group "{k}" must be > 0, got {v:g}')
        out["cac"] = [costs.get(name, np.nan) for name in out["group"]]
        out["ltv_cac"] = out["revenue_per_customer"] / out["cac"]
    out["small"] = out["customers"].to_numpy() < min_customers
    out.attrs.update(as_of=np.datetime64(day, "D"), notes=t.notes(log), min_customers=min_customers,
                     unmatched_cac=sorted(set(costs) - set(out["group"])) if cac else [])
    return out
