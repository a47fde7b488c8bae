"""Readers on files in the shapes users export (issue 10): each test writes the file from
known rows and checks customers, orders and revenue computed independently from those rows
(plain Python), and the ``columns:`` line that says how the file was read."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ltvxl.errors import LtvxlError
from ltvxl.transactions import ReadOptions, customer_summary, read_transactions

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
RETAIL = SHARED / "online_retail_ii" / "online_retail_II_sample.xlsx"

# (customer, order, day, amount): the truth every export below is written from
ROWS = [
    ("C-101", "1001", dt.date(2024, 1, 31), 2291.54),
    ("C-101", "1002", dt.date(2024, 2, 3), 12.5),
    ("C-205", "1003", dt.date(2024, 2, 13), 99.0),
    ("C-205", "1004", dt.date(2024, 3, 1), -20.0),  # a refund
    ("C-310", "1005", dt.date(2024, 3, 14), 1250.0),
    ("C-101", "1006", dt.date(2024, 3, 30), 7.25),
]


def truth(rows=ROWS):
    """(customers, purchases, revenue) as the readers must find them."""
    customers = {r[0] for r in rows}
    orders = {(r[0], r[1]) for r in rows if r[3] >= 0}
    return len(customers), len(orders), round(sum(r[3] for r in rows), 2)


def figures(log):
    s = customer_summary(log)
    return len(log.customers), int(s.table["orders"].sum()), round(float(log.amounts.sum()), 2)


def fr_amount(x: float) -> str:
    """French Excel: no-break space thousands, decimal comma, euro after."""
    text = f"{abs(x):,.2f}".replace(",", "\u00a0").replace(".", ",") + " €"
    return f"-{text}" if x < 0 else text


def test_french_excel_csv_windows_1252(tmp_path):
    path = tmp_path / "ventes.csv"
    lines = ["N° client;Date;Commande;Montant"]
    lines += [f"{c};{d:%d/%m/%Y};{o};{fr_amount(a)}" for c, o, d, a in ROWS]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    log = read_transactions(path)
    assert figures(log) == truth()
    assert log.columns_line == (
        "columns: id=N° client, date=Date (day-first), amount=Montant (decimal ',', thousands "
        "' ', currency €), order=Commande [Windows-1252, semicolon-delimited]")
    assert str(log.dates[0]) == "2024-01-31"


def test_german_csv_dot_thousands_comma_decimal(tmp_path):
    path = tmp_path / "umsatz.csv"
    lines = ["Kundennummer;Datum;Bestellnummer;Betrag"]
    for c, o, d, a in ROWS:
        amount = f"{a:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")
        lines.append(f"{c};{d:%d.%m.%Y} 14:05:33;{o};{amount}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    log = read_transactions(path)
    assert figures(log) == truth()
    assert "amount=Betrag (decimal ',', thousands '.')" in log.columns_line
    assert "date=Datum (day-first)" in log.columns_line


def test_utf16_tab_file_with_currency_symbols(tmp_path):
    path = tmp_path / "export.txt"
    lines = ["customer_id\tdate\torder_id\tamount"]
    for c, o, d, a in ROWS:
        amount = f"(£{-a:,.2f})" if a < 0 else f"£{a:,.2f}"
        lines.append(f"{c}\t{d:%Y-%m-%d}\t{o}\t{amount}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-16")
    log = read_transactions(path)
    assert figures(log) == truth()
    assert log.columns_line.endswith("[UTF-16, tab-delimited]")
    assert "negatives in parentheses" in log.columns_line


def test_shopify_orders_export_one_row_per_line_item(tmp_path):
    # order-level fields (Total, Created at) on the first line of each order only
    header = ("Name,Email,Financial Status,Paid at,Currency,Subtotal,Total,Created at,"
              "Lineitem quantity,Lineitem name,Lineitem price")
    lines = [header]
    expected_rows = []
    for n, (c, _, d, a) in enumerate(ROWS):
        if a < 0:
            continue  # Shopify writes refunds elsewhere
        order, email = f"#{1001 + n}", f"{c.lower()}@example.com"
        created = f"{d:%Y-%m-%d} 09:50:26 +0200"
        lines.append(f"{order},{email},paid,{created},EUR,{a:.2f},{a:.2f},{created},1,Item A,"
                     f"{a - 1:.2f}")
        lines.append(f"{order},{email},,,,,,,1,Item B,1.00")  # a second line item
        expected_rows.append((c, order, d, a))
    path = tmp_path / "orders_export.csv"
    path.write_text("\n".join(lines) + "\n")
    log = read_transactions(path)
    assert figures(log) == truth(expected_rows)
    assert log.columns_line == ("columns: id=Email, date=Created at, amount=Total (once per "
                                "order), order=Name")


def test_woocommerce_orders_csv(tmp_path):
    lines = ['"Order ID","Order Date","Order Status","Customer User ID","Billing Email",'
             '"Order Total Amount"']
    for c, o, d, a in ROWS:
        status = "refunded" if a < 0 else "completed"
        lines.append(f'"{o}","{d:%Y-%m-%d} 10:00:00","{status}","{c}","{c}@x.org","{a:.2f}"')
    path = tmp_path / "woo.csv"
    path.write_text("\n".join(lines) + "\n")
    log = read_transactions(path)
    assert figures(log) == truth()
    assert log.columns_line == ("columns: id=Customer User ID, date=Order Date, "
                                "amount=Order Total Amount, order=Order ID")


def test_stripe_payments_export(tmp_path):
    lines = ["id,Created (UTC),Amount,Amount Refunded,Currency,Status,Customer ID,"
             "Customer Email"]
    for n, (c, _, d, a) in enumerate(ROWS):
        lines.append(f"ch_{n:04d},{d:%Y-%m-%d} 12:00:00,{a:.2f},0.00,eur,Paid,{c},{c}@x.org")
    path = tmp_path / "unified_payments.csv"
    path.write_text("\n".join(lines) + "\n")
    log = read_transactions(path)
    assert figures(log) == truth()
    assert log.columns.get("id") == "Customer ID" and log.columns["date"] == "Created (UTC)"


def test_csv_with_preamble_and_month_first_times(tmp_path):
    lines = ["Sales export FY2024", "Generated 2024-05-01 by ERP", "",
             "InvoiceNo,CustomerID,InvoiceDate,Quantity,UnitPrice"]
    expected = []
    for c, o, d, a in ROWS:
        lines.append(f"{o},{c},{d.month}/{d.day}/{d.year} 8:26,2,{a / 2:.3f}")
        if a > 0:
            lines.append(f"{o},{c},{d.month}/{d.day}/{d.year} 8:26,1,0.000")  # a free line
        expected.append((c, o, d, round(a / 2, 3) * 2))
    path = tmp_path / "preamble.csv"
    path.write_text("\n".join(lines) + "\n")
    log = read_transactions(path)
    c, n, revenue = figures(log)
    want = truth(expected)
    assert (c, n) == want[:2] and revenue == pytest.approx(want[2], abs=0.01)
    assert log.columns_line == (
        "columns: id=CustomerID, date=InvoiceDate (month-first), amount=Quantity x UnitPrice, "
        "order=InvoiceNo [header on line 4]")
    assert "zero-amount rows: 5" in log.notes
    path.write_text(path.read_text().replace("1003,C-205", "1003,"))  # both lines of an order
    assert read_transactions(path).counts["rows without a customer id left out"] == 2
    with pytest.raises(LtvxlError, match='column "CustomerID" row 9: the customer id is missing'):
        read_transactions(path, options=ReadOptions(missing_id="error"))


def test_xlsx_with_a_title_row(tmp_path):
    xlsxwriter = pytest.importorskip("xlsxwriter")
    path = tmp_path / "title.xlsx"
    book = xlsxwriter.Workbook(str(path))
    ws = book.add_worksheet("Export")
    ws.write(0, 0, "Sales export FY2024")
    for j, name in enumerate(["Customer", "Order Number", "Order Date", "Revenue"]):
        ws.write(2, j, name)
    datefmt = book.add_format({"num_format": "yyyy-mm-dd"})
    for i, (c, o, d, a) in enumerate(ROWS):
        ws.write(3 + i, 0, c)
        ws.write(3 + i, 1, int(o))
        ws.write_datetime(3 + i, 2, dt.datetime(d.year, d.month, d.day), datefmt)
        ws.write(3 + i, 3, a)
    book.close()
    log = read_transactions(path)
    assert figures(log) == truth()
    assert log.columns_line.endswith("[header on row 3]")


def two_sheet_book(path, second, *, title_rows=0):
    """A workbook of two monthly sheets (customer, date text, quantity, price); ``second``:
    the rows of the second sheet, under ``title_rows`` title lines."""
    xlsxwriter = pytest.importorskip("xlsxwriter")
    book = xlsxwriter.Workbook(str(path))
    first = [("A", "2024-01-03", 2, 5.0), ("B", "2024-01-05", 1, 7.5)]
    for name, rows, top in (("January", first, 0), ("February", second, title_rows)):
        ws = book.add_worksheet(name)
        for t in range(top):
            ws.write(t, 0, f"Sales export {name} ({t + 1})")
        ws.write_row(top, 0, ["customer_id", "date", "Quantity", "UnitPrice"])
        for i, row in enumerate(rows):
            for j, v in enumerate(row):
                if v is not None:
                    ws.write(top + 1 + i, j, v)
    book.close()
    return path


def test_every_sheet_read_as_one_log_and_messages_name_the_sheet(tmp_path):
    all_sheets = ReadOptions(sheet="all")
    good = [("A", "2024-02-03", 3, 2.0), ("C", "2024-02-09", 1, 10.0)]
    log = read_transactions(two_sheet_book(tmp_path / "ok.xlsx", good), options=all_sheets)
    assert (len(log.customers), round(float(log.amounts.sum()), 2)) == (3, 2 * 5 + 7.5 + 6 + 10)
    cases = [  # second sheet's rows (the bad one is its second data row: sheet row 3)
        ([good[0], ("C", "9 February", 1, 10.0)],
         r'column "date" row 3 of sheet "February": "9 February" is not a date'),
        ([good[0], ("C", "2024-02-09", "one", 10.0)],
         r'column "Quantity" row 3 of sheet "February": text "one" is not a number'),
        ([good[0], ("C", "2024-02-09", 1, "10,000")],
         r'column "UnitPrice": "10,000" row 3 of sheet "February" could be 10000 or 10.000'),
        ([good[0], ("C", "2024-02-09", 1, -10.0)],
         r'column "Quantity" x column "UnitPrice" row 3 of sheet "February": -10 is negative'),
    ]
    for second, message in cases:
        book = two_sheet_book(tmp_path / "bad.xlsx", second)
        with pytest.raises(LtvxlError, match=r"^bad\.xlsx: " + message):
            read_transactions(book, options=ReadOptions(sheet="all", negative="error"))
    # under two title lines the sheet's own row numbers are named
    book = two_sheet_book(tmp_path / "title.xlsx", [good[0], (None, "2024-02-09", 1, 10.0)],
                          title_rows=2)
    with pytest.raises(LtvxlError, match=r'^title\.xlsx: column "customer_id" row 5 of sheet '
                       '"February": '
                       "the customer id is missing"):
        read_transactions(book, options=ReadOptions(sheet="all", missing_id="error"))
    # day-first on one sheet, month-first on the other
    book = two_sheet_book(tmp_path / "days.xlsx", [("C", "02/13/2024", 1, 10.0)])
    wb = __import__("openpyxl").load_workbook(book)
    wb["January"]["B2"] = "13/01/2024"
    wb.save(book)
    with pytest.raises(LtvxlError, match=r'"13/01/2024" \(row 2 of sheet "January"\) is '
                       r'day-first and "02/13/2024" \(row 2 of sheet "February"\) month-first'):
        read_transactions(book, options=all_sheets)
    # one sheet read: messages as before, without a sheet
    book = two_sheet_book(tmp_path / "one.xlsx", good)
    wb = __import__("openpyxl").load_workbook(book)
    wb["January"]["C3"] = "two"
    wb.save(book)
    with pytest.raises(LtvxlError, match=r'^one\.xlsx: column "Quantity" row 3: text "two"'):
        read_transactions(book)


def test_messages_name_the_file(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("customer_id,date,amount\nA,2024-01-01,5\nB,2024-13-01,3\n")
    with pytest.raises(LtvxlError, match=r'^export\.csv: column "date" row 3: "2024-13-01" is '
                       "not a date"):
        read_transactions(path)
    path.write_text("customer_id,date,colour\nA,2024-01-01,red\n")
    with pytest.raises(LtvxlError, match=r"^export\.csv: cannot tell which column holds the "
                       "amount"):
        read_transactions(path)


def test_ambiguous_columns_ask_for_the_option(tmp_path):
    path = tmp_path / "amb.csv"
    path.write_text('customer_id,date,amount\nA,03/04/2024,"1,234"\nB,05/06/2024,"2,500"\n')
    with pytest.raises(LtvxlError, match=r'column "date": "03/04/2024" \(row 2\) could be '
                       "day-first or month-first.*--dayfirst or --monthfirst"):
        read_transactions(path)
    with pytest.raises(LtvxlError, match=r'column "amount": "1,234" row 2 could be 1234 or '
                       r"1.234 .*--decimal"):
        read_transactions(path, options=ReadOptions(dayfirst=True))
    log = read_transactions(path, options=ReadOptions(dayfirst=True, decimal="."))
    assert log.amounts.tolist() == [1234.0, 2500.0]
    assert [str(d) for d in log.dates] == ["2024-04-03", "2024-06-05"]
    log = read_transactions(path, options=ReadOptions(date_format="%m/%d/%Y", thousands="."))
    assert log.amounts.tolist() == [1.234, 2.5]
    assert [str(d) for d in log.dates] == ["2024-03-04", "2024-05-06"]
    path.write_text("customer_id,date,amount\nA,13/04/2024,1\nB,05/26/2024,2\n")
    with pytest.raises(LtvxlError, match=r'"13/04/2024" \(row 2\) is day-first and "05/26/2024" '
                       r"\(row 3\) month-first"):
        read_transactions(path)


def test_duplicates_counted_and_dropped(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("customer_id,date,amount\nA,2024-01-01,5\nA,2024-01-01,5\nB,2024-01-02,0\n")
    log = read_transactions(path)
    assert log.amounts.sum() == 10 and "zero-amount rows: 1" in log.notes
    assert "duplicate rows (kept; --drop-duplicates drops them): 1" in log.notes
    log = read_transactions(path, options=ReadOptions(drop_duplicates=True))
    assert log.amounts.sum() == 5 and "duplicate rows dropped: 1" in log.notes


def test_notes_count_the_rows_used_up_to_as_of(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("customer_id,date,amount\nA,2024-01-01,50\nA,2024-01-05,-10\n"
                    "A,2024-02-01,20\nA,2024-02-03,-5\nA,2024-02-04,-5\n")
    log = read_transactions(path)
    assert "returns netted (negative amounts): 3" in log.notes
    notes = customer_summary(log, as_of="2024-01-31").notes
    assert "returns netted (negative amounts): 1" in notes
    assert "transactions after as_of excluded: 3" in notes


@pytest.mark.skipif(not RETAIL.exists(), reason="shared Online Retail II sample not present")
def test_online_retail_ii_both_sheets():
    frames = pd.read_excel(RETAIL, sheet_name=None, engine="calamine")
    assert list(frames) == ["Year 2009-2010", "Year 2010-2011"]
    df = pd.concat(frames.values(), ignore_index=True)
    known = df.dropna(subset=["Customer ID"])
    amount = known["Quantity"] * known["Price"]
    invoice = known["Invoice"].astype(str)
    buys = known[~invoice.str.startswith("C") & (amount >= 0)]
    per_customer_orders = buys.groupby("Customer ID")["Invoice"].nunique()
    log = read_transactions(RETAIL, options=ReadOptions(sheet="all"))
    assert len(log.customers) == known["Customer ID"].nunique()
    assert float(log.amounts.sum()) == pytest.approx(float(amount.sum()), abs=1e-6)
    assert round(float(log.amounts.sum()), 2) == 1_226_324.08  # issue 10's figure
    s = customer_summary(log)
    assert int(s.table["orders"].sum()) == int(per_customer_orders.sum())
    counts = log.counts
    assert counts["rows without a customer id left out"] == int(df["Customer ID"].isna().sum())
    assert counts["duplicate rows (kept; --drop-duplicates drops them)"] == int(
        df.duplicated().sum())
    assert log.columns_line == (
        "columns: id=Customer ID, date=InvoiceDate, amount=Quantity x Price, order=Invoice, "
        'channel=Country [sheets "Year 2009-2010" + "Year 2010-2011"]')
    first = read_transactions(RETAIL)  # one sheet by default, and the line says so
    assert len(first) < len(log)
    assert '--sheet all also reads "Year 2010-2011"' in first.columns_line
    per = defaultdict(float)
    for cid, a in zip(known["Customer ID"], amount, strict=True):
        per[str(int(cid))] += a
    got = dict(zip(log.customers, np.bincount(log.codes, weights=log.amounts), strict=True))
    assert max(abs(got[k] - v) for k, v in per.items()) < 1e-6


def test_worksheet_functions_take_an_optional_range_of_order_ids():
    from ltvxl import udfs

    def col(*values):
        return [[v] for v in values]

    ids = col("customer", "A", "A", "A", "B")
    dates = col("date", 45000.0, 45000.0, 45010.0, 45001.0)
    amounts = col("amount", 10.0, 5.0, 20.0, 7.0)
    orders = col("order", "1", "1", "2", "3")  # A's first two lines are one order
    stats = dict(map(tuple, udfs.LTV_STATS(ids, dates, amounts, None, None, orders)[1:]))
    assert stats["purchases"] == 3 and stats["revenue (returns netted)"] == 42
    assert dict(map(tuple, udfs.LTV_STATS(ids, dates, amounts)[1:]))["purchases"] == 4
    table = udfs.LTV_CUSTOMERS(ids, dates, amounts, None, None, orders)
    assert [r[3] for r in table[1:]] == [2.0, 1.0]  # orders of A and B
    rfm = udfs.RFM_SEGMENTS(ids, dates, amounts, None, orders)
    assert [r[2] for r in rfm[1:]] == [2.0, 1.0]
    groups = udfs.LTV_BY_GROUP(col("g", "x", "x", "x", "y"), ids, dates, amounts, None, None,
                               orders)
    assert [r[2] for r in groups[1:]] == [2.0, 1.0, 3.0]
    out = udfs.LTV_STATS(ids, dates, amounts, None, None, col("order", "1", "1"))
    assert isinstance(out, str) and out.startswith("#VALUE!")


def test_report_prints_and_places_the_columns_line(tmp_path, capsys):
    from python_calamine import CalamineWorkbook

    from ltvxl.cli import main

    path = tmp_path / "lines.csv"
    lines = ["InvoiceNo;CustomerID;InvoiceDate;Quantity;UnitPrice"]
    for c, o, d, a in ROWS:
        lines.append(f"{o};{c};{d:%d.%m.%Y};2;{a / 2:.3f}")
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "r.xlsx"
    assert main(["report", str(path), "-o", str(out), "--dayfirst"]) == 0
    printed = capsys.readouterr().out
    line = ("columns: id=CustomerID, date=InvoiceDate (day-first), amount=Quantity x UnitPrice, "
            "order=InvoiceNo [semicolon-delimited]")
    assert line in printed.splitlines()
    dash = CalamineWorkbook.from_path(str(out)).get_sheet_by_name("Dashboard").to_python()
    assert dash[2][0] == line


def test_report_counts_orders_as_purchases(tmp_path):
    """Line items of one invoice are one purchase in the report's tables (its Transactions
    table holds one row per order), as in the log: orders per customer by hand."""
    from python_calamine import CalamineWorkbook

    from ltvxl.report import write_report

    path = tmp_path / "lines.csv"
    lines = ["InvoiceNo,CustomerID,InvoiceDate,Quantity,UnitPrice"]
    for c, o, d, a in ROWS:  # each order as lines 2 x a/4, 1 x a/2 (and a free item)
        lines += [f"{o},{c},{d:%Y-%m-%d},2,{a / 4}", f"{o},{c},{d:%Y-%m-%d},1,{a / 2}"]
        lines += [f"{o},{c},{d:%Y-%m-%d},1,0"] if a > 0 else []
    path.write_text("\n".join(lines) + "\n")
    summary = write_report(tmp_path / "r.xlsx", path)
    book = CalamineWorkbook.from_path(str(tmp_path / "r.xlsx"))
    table = book.get_sheet_by_name("Transactions").to_python()
    assert len(table) - 1 == len(ROWS)  # one row per order
    rows = book.get_sheet_by_name("Customers").to_python()
    head = rows[2]
    got = {r[0]: (r[head.index("orders")], r[head.index("revenue")]) for r in rows[3:] if r[0]}
    orders, revenue = defaultdict(int), defaultdict(float)
    for c, _o, _d, a in ROWS:
        orders[c] += a >= 0
        revenue[c] += a
    assert got == {c: (orders[c], pytest.approx(revenue[c])) for c in orders}
    assert "order lines summed into one row per order: 11" in summary.notes
