"""Which columns of a file hold what: the customer id, the date, the amount (or the
quantity and unit price it is the product of), the order and the channel.

Column names are compared loosely (:func:`column_key`): ``Customer ID``,
``customer_id`` and ``CUSTOMER-ID`` are one name. A column named by the user
(``id_col=``, ``--id-col`` ...) always wins; otherwise the first known name of
each role is taken, then a single column whose name contains a hint of the
role (``order_date`` for the date). A unit price is never the amount while a
quantity column exists: the amount is then quantity x unit price.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ..errors import LtvxlError

ROLES = ("id", "date", "order", "quantity", "price", "amount", "channel")
"""The roles a column can have, in the order they are looked for."""

KNOWN: dict[str, tuple[str, ...]] = {
    "id": ("customer_id", "customerid", "customer", "cust_id", "client_id", "clientid",
           "client", "user_id", "member_id", "account_id", "buyer_id", "customer_number",
           "customer_no", "customer_user_id", "kundennummer", "customer_email", "email",
           "billing_email", "email_billing", "id"),
    "date": ("date", "order_date", "transaction_date", "purchase_date", "invoice_date",
             "invoicedate", "datetime", "timestamp", "order_datetime", "created_at",
             "created_utc", "created", "date_created", "paid_at", "time", "datum"),
    "order": ("invoice", "invoiceno", "invoice_no", "invoice_number", "invoice_id", "order",
              "order_id", "orderid", "order_no", "order_number", "transaction_id",
              "receipt_id", "receipt_no", "bestellnummer", "commande", "numero_de_commande",
              "n_commande", "facture", "numero_de_facture", "rechnungsnummer"),
    "quantity": ("quantity", "qty", "units", "quantity_ordered", "lineitem_quantity",
                 "item_quantity", "menge", "quantite", "cantidad"),
    "price": ("unitprice", "unit_price", "price", "item_price", "lineitem_price", "price_each",
              "unit_cost", "item_cost", "sale_price", "prix_unitaire", "preis"),
    "amount": ("amount", "revenue", "sales", "order_value", "value", "total", "net_amount",
               "dollar_value", "spend", "monetary_value", "order_total", "order_total_amount",
               "total_amount", "grand_total", "net_sales", "line_total", "montant", "betrag",
               "importe"),
    "channel": ("channel", "acquisition_channel", "acquisitionchannel", "source",
                "utm_source", "marketing_channel", "country"),
}
"""Known column names of each role (as :func:`column_key` writes them), best first."""

_HINTS = {"id": ("customer", "client", "user", "id"), "date": ("date", "time", "day"),
          "amount": ("amount", "revenue", "value", "sales", "total", "spend")}
_OPTION = {"id": "--id-col", "date": "--date-col", "amount": "--amount-col",
           "quantity": "--quantity-col", "price": "--price-col", "order": "--order-col",
           "channel": "--channel-col"}


def column_key(name: str) -> str:
    """A column name compared loosely: lower case, runs of other characters as ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower()).strip("_")


def option_name(role: str) -> str:
    """The command-line option that names the column of ``role`` (``--id-col``)."""
    return _OPTION[role]


def _check_given(role: str, given: str, names: Sequence[str]) -> str:
    if given in names:
        return given
    by_key = {column_key(c): c for c in names}
    if column_key(given) in by_key:  # "customer id" for "Customer ID"
        return by_key[column_key(given)]
    raise LtvxlError(
        f'{role}_col "{given}" is not a column; the columns are {", ".join(names)}'
    )


def find_roles(columns: Sequence[str], given: Mapping[str, str | None] | None = None
               ) -> dict[str, str]:
    """Column of each role: ``given`` ones (role -> name), else detected from the names.

    Always has ``id`` and ``date``, and ``amount`` or both ``quantity`` and
    ``price``; ``order``, ``channel`` (and ``quantity``, ``price``) when present.
    """
    names = [str(c) for c in columns]
    given = {r: g for r, g in (given or {}).items() if g is not None}
    chosen = {role: _check_given(role, g, names) for role, g in given.items()}
    keys = {column_key(c): c for c in reversed(names)}
    shopify = any(k.startswith("lineitem_") for k in keys)
    for role in ROLES:
        if role in chosen:
            continue
        free = [c for c in names if c not in chosen.values()]
        known = KNOWN[role]
        if role == "order" and shopify:
            known = ("name", *known)  # Shopify's order number (#1001) is the "Name" column
        if role == "amount" and "quantity" not in chosen:
            known = (*known, "price")  # a price is the amount only without a quantity
        if role == "price" and "quantity" not in chosen:
            continue
        found = next((keys[k] for k in known if k in keys and keys[k] in free), None)
        if found is None and role in _HINTS:
            hits = [c for c in free if any(h in column_key(c) for h in _HINTS[role])]
            if role == "amount":
                hits = [c for c in hits if c not in chosen.values()]
            found = hits[0] if len(hits) == 1 else None
        if found is not None:
            chosen[role] = found
    if "amount" in given or ("amount" in chosen and not {"quantity", "price"} & set(given)):
        chosen.pop("quantity", None)  # an amount column wins over quantity x price
        chosen.pop("price", None)
    elif "quantity" in chosen and "price" in chosen:
        chosen.pop("amount", None)
    else:
        chosen.pop("quantity", None)
        chosen.pop("price", None)
    for role in ("id", "date"):
        if role not in chosen:
            raise LtvxlError(
                f"cannot tell which column holds the {role}; columns are {', '.join(names)}: "
                f"name it with {role}_col= ({_OPTION[role]} in the ltvxl command)"
            )
    if "amount" not in chosen and not ("quantity" in chosen and "price" in chosen):
        raise LtvxlError(
            f"cannot tell which column holds the amount; columns are {', '.join(names)}: "
            "name it with amount_col= (--amount-col in the ltvxl command), or name the "
            "quantity and unit price it is the product of (--quantity-col, --price-col)"
        )
    return chosen


def detect_columns(
    columns: Sequence[str],
    id_col: str | None = None,
    date_col: str | None = None,
    amount_col: str | None = None,
) -> tuple[str, str, str]:
    """The id, date and amount column names (for readers that take an amount column only,
    such as the engines): those given, else detected as :func:`find_roles` does."""
    roles = find_roles(columns, {"id": id_col, "date": date_col, "amount": amount_col})
    if "amount" not in roles:
        raise LtvxlError(
            f"cannot tell which column holds the amount; columns are {', '.join(columns)}: "
            "name it with amount_col= (--amount-col in the ltvxl command)"
        )
    return roles["id"], roles["date"], roles["amount"]


def extra_names(columns: Sequence[str], used: Sequence[str],
                extra_cols: Sequence[str] | None) -> list[str]:
    """The further columns to keep: ``extra_cols`` (checked), or every column not used."""
    if extra_cols is None:
        return [c for c in columns if c not in used]
    missing = [c for c in extra_cols if c not in columns]
    if missing:
        raise LtvxlError(f'extra column "{missing[0]}" is not a column; columns are '
                         f'{", ".join(map(str, columns))}')
    return [c for c in extra_cols if c not in used]
