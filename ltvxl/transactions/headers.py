"""Which columns of a file hold the id, the date and the amount.

Column names are compared loosely (:func:`column_key`): ``Customer ID``,
``customer_id`` and ``CUSTOMER-ID`` are one name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..errors import LtvxlError

_ID_NAMES = ("customer_id", "customerid", "customer", "cust_id", "client_id", "user_id",
             "member_id", "account_id", "buyer_id", "id")
_DATE_NAMES = ("date", "order_date", "transaction_date", "purchase_date", "invoice_date",
               "datetime", "timestamp", "order_datetime", "created_at", "time")
_AMOUNT_NAMES = ("amount", "revenue", "sales", "order_value", "value", "total", "net_amount",
                 "dollar_value", "price", "spend", "monetary_value")
_HINTS = {"id": ("customer", "client", "user", "id"), "date": ("date", "time", "day"),
          "amount": ("amount", "revenue", "value", "sales", "total", "spend")}


def column_key(name: str) -> str:
    """A column name compared loosely: lower case, runs of other characters as ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower()).strip("_")


def detect_columns(
    columns: Sequence[str],
    id_col: str | None = None,
    date_col: str | None = None,
    amount_col: str | None = None,
) -> tuple[str, str, str]:
    """The id, date and amount column names: those given, else detected from the names."""
    names = [str(c) for c in columns]
    normed = {column_key(c): c for c in reversed(names)}
    chosen: dict[str, str] = {}
    for role, given, known in (("id", id_col, _ID_NAMES), ("date", date_col, _DATE_NAMES),
                               ("amount", amount_col, _AMOUNT_NAMES)):
        if given is not None:
            if given not in names:
                raise LtvxlError(
                    f'{role}_col "{given}" is not a column; the columns are {", ".join(names)}'
                )
            chosen[role] = given
            continue
        found = next((normed[k] for k in known if k in normed), None)
        if found is None:
            hits = [c for c in names if any(h in column_key(c) for h in _HINTS[role])
                    and c not in chosen.values()]
            found = hits[0] if len(hits) == 1 else None
        if found is None or found in chosen.values():
            raise LtvxlError(
                f"cannot tell which column holds the {role}; columns are {', '.join(names)}: "
                f"name it with {role}_col= (--{role}-col in the ltvxl command)"
            )
        chosen[role] = found
    return chosen["id"], chosen["date"], chosen["amount"]


def extra_names(columns: Sequence[str], used: Sequence[str],
                 extra_cols: Sequence[str] | None) -> list[str]:
    if extra_cols is None:
        return [c for c in columns if c not in used]
    missing = [c for c in extra_cols if c not in columns]
    if missing:
        raise LtvxlError(f'extra column "{missing[0]}" is not a column; columns are '
                         f'{", ".join(map(str, columns))}')
    return [c for c in extra_cols if c not in used]
