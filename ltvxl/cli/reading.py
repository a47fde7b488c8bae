"""The options of every command that reads a transaction file (``report``, ``clv``).

Declared once here and turned into one :class:`~ltvxl.transactions.ReadOptions`;
each is a choice the readers otherwise detect and say in the ``columns:`` line.
"""

from __future__ import annotations

import argparse

from ..transactions import ReadOptions


def add_read_arguments(parser: argparse.ArgumentParser, *, channel: bool = False) -> None:
    """Add the column, dialect and policy options of a transaction file to ``parser``."""
    cols = parser.add_argument_group(
        "columns (detected from the names unless given)")
    cols.add_argument("--id-col", help="column of customer ids")
    cols.add_argument("--date-col", help="column of transaction dates")
    cols.add_argument("--amount-col", help="column of amounts (wins over quantity x price)")
    cols.add_argument("--quantity-col",
                      help="column of quantities: the amount is quantity x unit price")
    cols.add_argument("--price-col", help="column of unit prices (with --quantity-col)")
    cols.add_argument("--order-col", help="column of order or invoice ids: the lines of one "
                      "order are one purchase")
    if channel:
        cols.add_argument("--channel-col", help="column of acquisition channels (optional)")
    fmt = parser.add_argument_group("file format (detected unless given)")
    fmt.add_argument("--sheet", help='sheet of a workbook (default: the first), or "all" for '
                     "every sheet with the first one's columns, read as one log")
    fmt.add_argument("--header-row", type=int, metavar="N",
                     help="row of the column names, from 1 (default: found under titles)")
    fmt.add_argument("--delimiter", help="CSV delimiter: , ; tab or |")
    fmt.add_argument("--encoding", help="text encoding, e.g. utf-8, cp1252, utf-16")
    fmt.add_argument("--decimal", help="decimal mark of amounts written as text: . or ,")
    fmt.add_argument("--thousands",
                     help="thousands separator of amounts written as text: , . space or '")
    fmt.add_argument("--date-format", help="format of dates written as text, strftime codes "
                     "(e.g. %%d.%%m.%%Y)")
    order = fmt.add_mutually_exclusive_group()
    order.add_argument("--dayfirst", dest="dayfirst", action="store_const", const=True,
                       help="dates such as 03/04/2024 are day-first (3 April)")
    order.add_argument("--monthfirst", dest="dayfirst", action="store_const", const=False,
                       help="dates such as 03/04/2024 are month-first (March 4)")
    rows = parser.add_argument_group("rows")
    rows.add_argument("--missing-id", choices=("drop", "error"), default="drop",
                      help="rows without a customer id: left out and counted (drop, the "
                      "default) or refused (error)")
    rows.add_argument("--drop-duplicates", action="store_true",
                      help="drop exact duplicate rows (they are counted either way)")


def read_options(args: argparse.Namespace) -> ReadOptions:
    """The :class:`ReadOptions` of parsed arguments."""
    sheet = args.sheet
    if isinstance(sheet, str) and sheet.strip().lower() == "all":
        sheet = "all"
    return ReadOptions(
        id_col=args.id_col, date_col=args.date_col, amount_col=args.amount_col,
        quantity_col=args.quantity_col, price_col=args.price_col, order_col=args.order_col,
        channel_col=getattr(args, "channel_col", None), sheet=sheet,
        header_row=args.header_row, delimiter=args.delimiter, encoding=args.encoding,
        decimal=args.decimal, thousands=args.thousands, date_format=args.date_format,
        dayfirst=args.dayfirst, missing_id=args.missing_id,
        drop_duplicates=args.drop_duplicates)
