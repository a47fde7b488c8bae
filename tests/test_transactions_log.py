"""Reading and validating transaction logs: cells as xlwings passes them, arrays, files.

Every bad input of issue 3 section 1 (missing id or date, unparseable date,
non-numeric amount, columns of different lengths) must give a message naming
the first offending row and column, never a traceback, and whatever is left
out must be counted.
"""

import datetime as dt
import hashlib

import numpy as np
import pandas as pd
import pytest

import ltvxl.udfs as udfs
from ltvxl.errors import LtvxlError
from ltvxl.transactions import ReadOptions, TransactionLog, read_transactions
from ltvxl.transactions.headers import find_roles

D = dt.datetime


def col(*values):
    """A one-column range as xlwings passes it with ndim=2."""
    return [[v] for v in values]


def test_ids_numbers_and_text_are_one_customer():
    log = TransactionLog.from_cells(col(1001.0, "1001", " 1001 ", 1002.0, "A7", "007"),
                                    col(*[45000.0] * 6), col(*[1.0] * 6))
    assert list(log.ids) == ["1001", "1001", "1001", "1002", "A7", "007"]
    # ids that read as numbers in numeric order first ("007" is 7), then the others
    assert list(log.customers) == ["007", "1001", "1002", "A7"]


def test_customer_order_is_numeric_then_text():
    log = TransactionLog.from_arrays(np.array(["10", "9", "b", "a", "100"], dtype=object),
                                     np.array(["2024-01-01"] * 5, dtype=object), np.ones(5))
    assert list(log.customers) == ["9", "10", "100", "a", "b"]
    assert list(log.ids) == ["10", "9", "b", "a", "100"]


def test_float_ids_are_canonical_text():
    log = TransactionLog.from_arrays(np.array([1001.0, 1001.5, 1001.0]),
                                     np.array(["2024-01-01"] * 3, dtype=object), np.ones(3))
    assert list(log.customers) == ["1001", "1001.5"]


def test_dates_of_every_kind_give_the_same_day():
    # 45322 is the Excel serial of 2024-01-31
    values = [45322.0, D(2024, 1, 31, 15, 30), dt.date(2024, 1, 31), "2024-01-31",
              "2024-01-31T23:59:00", "2024/01/31", "20240131", 20240131.0,
              pd.Timestamp("2024-01-31 08:00"), np.datetime64("2024-01-31T10:00")]
    log = TransactionLog.from_cells(col(*range(len(values))), col(*values),
                                    col(*[1.0] * len(values)))
    assert (log.dates == np.datetime64("2024-01-31")).all()
    assert log.dates.dtype == np.dtype("datetime64[D]")


def test_date_cells_alone_give_their_calendar_day():
    """A column of only datetime cells (what xlwings passes) takes the fast path: the day as
    typed, with the time of day dropped, the same for time-zone-aware values and far dates."""
    utc, plus14 = dt.UTC, dt.timezone(dt.timedelta(hours=14))
    values = [D(2024, 1, 31), D(2024, 1, 31, 23, 59, 59), D(2024, 1, 31, 0, 30, tzinfo=plus14),
              D(1899, 12, 31), D(9999, 12, 31, 12, tzinfo=utc), D(1, 1, 1)]
    log = TransactionLog.from_cells(col(*range(len(values))), col(*values),
                                    col(*[1.0] * len(values)))
    assert list(log.dates.astype(str)) == ["2024-01-31", "2024-01-31", "2024-01-31",
                                           "1899-12-31", "9999-12-31", "0001-01-01"]
    mixed = TransactionLog.from_cells(col(1.0, 2.0), col(values[2], "2024-01-31"), col(1.0, 1.0))
    assert list(mixed.dates.astype(str)) == ["2024-01-31", "2024-01-31"]


def test_excel_serial_epoch():
    # Excel's 1900 date system: serial 1 is 1900-01-01, 60 is the phantom 1900-02-29,
    # 61 is 1900-03-01; later serials count from 1899-12-30.
    log = TransactionLog.from_cells(col(1.0, 2.0), col(61.0, 43831.0), col(1.0, 1.0))
    assert list(log.dates.astype(str)) == ["1900-03-01", "2020-01-01"]


def test_header_row_detected_and_given():
    log = TransactionLog.from_cells(col("Customer", 1.0), col("Date", 45000.0),
                                    col("Amount", 3.0))
    assert len(log) == 1 and log.amounts[0] == 3.0
    log = TransactionLog.from_cells(col("x", 1.0), col("when", 45000.0), col("amt", 3.0),
                                    header=True)
    assert len(log) == 1
    with pytest.raises(LtvxlError, match=r"dates row 1: \"Date\" is not a date"):
        TransactionLog.from_cells(col("Customer", 1.0), col("Date", 45000.0), col("Amount", 3.0),
                                  header=False)


def test_blank_rows_are_skipped_and_counted():
    log = TransactionLog.from_cells(col("id", 1.0, None, 2.0, None, ""),
                                    col("date", 45000.0, None, 45001.0, None, None),
                                    col("amount", 5.0, None, 6.0, "", None))
    assert len(log) == 2
    assert log.counts["blank rows skipped"] == 3
    assert "blank rows skipped: 3" in log.notes


def test_a_row_flat_list_and_scalar_are_accepted():
    log = TransactionLog.from_cells([[1.0, 2.0]], [[45000.0, 45001.0]], [[3.0, 4.0]])
    assert len(log) == 2
    log = TransactionLog.from_cells([1.0, 2.0], [45000.0, 45001.0], [3.0, 4.0])
    assert len(log) == 2
    log = TransactionLog.from_cells(1.0, 45000.0, 3.0)
    assert len(log) == 1


BAD_CELLS = [
    # (ids, dates, amounts, message)
    (col(1.0, None, 3.0), col(45000.0, 45000.0, 45000.0), col(1.0, 2.0, 3.0),
     "ids row 2: the customer id is missing"),
    (col(1.0, 2.0, True), col(45000.0, 45000.0, 45000.0), col(1.0, 2.0, 3.0),
     "ids row 3: TRUE is not a customer id"),
    (col(1.0, "#N/A"), col(45000.0, 45000.0), col(1.0, 2.0),
     "ids row 2: the cell holds the error #N/A"),
    (col(1.0, 2.0, 3.0), col(45000.0, None, 45000.0), col(1.0, 2.0, 3.0),
     "dates row 2: the date is missing"),
    (col("id", 1.0, 2.0), col("date", 45000.0, "2024-13-01"), col("amount", 1.0, 2.0),
     'dates row 3: "2024-13-01" is not a date'),
    (col(1.0, 2.0), col(45000.0, "31/13/2024"), col(1.0, 2.0),
     'dates row 2: "31/13/2024" is not a date'),
    (col(1.0, 2.0), col(45000.0, -5.0), col(1.0, 2.0),
     "dates row 2: -5 is not a date (a number must be an Excel date serial"),
    (col(1.0, 2.0), col(45000.0, 45000.0), col(1.0, "12,50 apples"),
     'amounts row 2: text "12,50 apples" is not a number'),
    (col(1.0, 2.0), col(45000.0, 45000.0), col("1,234", "2,500"),
     'amounts: "1,234" row 1 could be 1234 or 1.234 and no value of the column decides: '
     "enter the amounts as numbers, not text (Data > Text to Columns converts them), or write "
     'the decimals ("1,234.00" if "," groups thousands)'),
    (col(1.0, 2.0), col(45000.0, 45000.0), col("1.234,50", "1,234.50"),
     'amounts: "1,234.50" row 2 writes "." as a decimal mark and "1.234,50" row 1 as a '
     "thousands separator: enter the amounts as numbers, not text"),
    (col(1.0, 2.0), col(45000.0, 45000.0), col(None, 2.0),
     "amounts row 1: the amount is missing"),
    (col(1.0, 2.0), col(45000.0, 45000.0), col(1.0, False),
     "amounts row 2: FALSE is not a number"),
    (col(1.0, 2.0), col(45000.0, 45000.0), col(1.0, float("inf")),
     "amounts row 2: inf is not a finite number"),
    (col(1.0, 2.0, 3.0), col(45000.0, 45000.0), col(1.0, 2.0, 3.0),
     "ids has 3 rows but dates has 2"),
    ([[1.0, 2.0], [3.0, 4.0]], col(45000.0, 45000.0), col(1.0, 2.0),
     "ids must be a single column, got 2 columns"),
    ([], col(45000.0), col(1.0), "ids is an empty range"),
    ([[1.0], [2.0, 3.0]], col(45000.0, 45000.0), col(1.0, 2.0),
     "ids has rows of different lengths"),
    ([[1.0], 2.0], col(45000.0, 45000.0), col(1.0, 2.0), "ids mixes cells and rows"),
    ([[1.0], [[2.0]]], col(45000.0, 45000.0), col(1.0, 2.0), "ids is nested too deeply"),
    (col(None, None), col(None, None), col(None, None), "ids has no data rows"),
]


@pytest.mark.parametrize(("ids", "dates", "amounts", "message"), BAD_CELLS,
                         ids=[m[:40] for *_, m in BAD_CELLS])
def test_bad_cells_name_the_row_and_column(ids, dates, amounts, message):
    with pytest.raises(LtvxlError) as info:
        TransactionLog.from_cells(ids, dates, amounts)
    assert message in info.value.message
    # and through a worksheet function: the same text in the cell, never a traceback
    out = udfs.LTV_CUSTOMERS(ids, dates, amounts, None, None)
    assert isinstance(out, str) and out.startswith("#VALUE! ") and message in out


AMOUNT_TEXTS = [  # (cells of one amounts range, the amounts they hold)
    (["2\u00a0291,54 €", "12,50 €", 99.0, "-20,00 €", "1\u202f250 €"],
     [2291.54, 12.5, 99.0, -20.0, 1250.0]),
    (["$1,234.50", "(12.00)", 7.25, "£2,291.54", " 3 "], [1234.5, -12.0, 7.25, 2291.54, 3.0]),
    (["1.234,56", "12,5", "1.000.000", 4.0, "0,99"], [1234.56, 12.5, 1e6, 4.0, 0.99]),
]


@pytest.mark.parametrize(("cells", "amounts"), AMOUNT_TEXTS)
def test_amounts_stored_as_text_are_read_by_the_files_rules(cells, amounts):
    ids = col("C1", "C2", "C1", "C1", "C2")
    dates = col(45292.0, 45293.0, 45294.0, 45295.0, 45296.0)
    log = TransactionLog.from_cells(ids, dates, [[v] for v in cells])
    assert log.amounts.tolist() == amounts
    per = {}
    for cid, a in zip(["C1", "C2", "C1", "C1", "C2"], amounts, strict=True):
        per[cid] = per.get(cid, 0.0) + a
    out = udfs.LTV_CUSTOMERS(ids, dates, [[v] for v in cells], None, None)
    assert not isinstance(out, str), out
    head = out[0]
    got = {r[0]: r[head.index("revenue")] for r in out[1:]}
    assert got == pytest.approx(per, abs=1e-9)


def test_a_first_row_of_number_texts_is_data_not_a_header():
    """Day-first date texts and amounts written as text in the first row: data, kept."""
    log = TransactionLog.from_cells(col("C1", "C2"), col("31/01/2024", "13/02/2024"),
                                    col("1 234,50 €", "2,00 €"))
    assert log.amounts.tolist() == [1234.5, 2.0]
    assert [str(d) for d in log.dates] == ["2024-01-31", "2024-02-13"]
    log = TransactionLog.from_cells(col("id", "C1"), col("date", "2024-01-31"),
                                    col("amount", "1 234,50 €"))
    assert log.amounts.tolist() == [1234.5]


@pytest.mark.parametrize("func", ["LTV_CUSTOMERS", "LTV_STATS", "RFM_SEGMENTS", "RFM_SUMMARY"])
def test_every_log_function_reports_bad_cells(func):
    out = getattr(udfs, func)(col(1.0, 2.0), col(45000.0, "soon"), col(1.0, 2.0), None,
                              *([None] * (len(udfs.FUNCTIONS[func].__ltvxl__.args) - 4)))
    assert out == ('#VALUE! dates row 2: "soon" is not a date (use a date cell or year-month-day '
                   "text such as 2024-01-31)")


def test_negative_amount_policies():
    ids, dates, amounts = col(1.0, 1.0, 2.0), col(45000.0, 45001.0, 45002.0), col(10.0, -4.0, 3.0)
    net = TransactionLog.from_cells(ids, dates, amounts)
    assert len(net) == 3 and net.counts["returns netted (negative amounts)"] == 1
    drop = TransactionLog.from_cells(ids, dates, amounts, negative="drop")
    assert len(drop) == 2 and drop.counts["returns dropped (negative amounts)"] == 1
    with pytest.raises(LtvxlError, match="amounts row 2: -4 is negative"):
        TransactionLog.from_cells(ids, dates, amounts, negative="error")


def test_extra_columns_follow_the_rows():
    log = TransactionLog.from_cells(col("id", 1.0, None, 2.0), col("d", 45000.0, None, 45001.0),
                                    col("a", 1.0, None, 2.0),
                                    extra={"channel": col("ch", "Email", None, "Ads")})
    assert list(log.extra["channel"]) == ["Email", "Ads"]
    with pytest.raises(LtvxlError, match="ids has 4 rows but channel has 3"):
        TransactionLog.from_cells(col("id", 1.0, None, 2.0), col("d", 45000.0, None, 45001.0),
                                  col("a", 1.0, None, 2.0), extra={"channel": col("ch", "E", "A")})


# ------------------------------------------------------------------ files


def _frame():
    return pd.DataFrame({
        "Customer ID": ["c1", "c2", "c1", "c3"],
        "Order Date": ["2024-01-05", "2024-01-06", "2024-02-01", "2024-02-03"],
        "Revenue": [10.0, 20.0, 30.0, -5.0],
        "channel": ["Email", "Ads", "Email", "Ads"],
    })


def _write(df, path):
    if path.suffix == ".csv":
        df.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        df.to_parquet(path, index=False)
    else:
        import openpyxl

        wb = openpyxl.Workbook()
        ws = wb.active
        ws.append(list(df.columns))
        for row in df.itertuples(index=False):
            row = list(row)
            row[1] = dt.datetime.fromisoformat(row[1])  # a real date cell
            ws.append(row)
        wb.save(path)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xlsx"])
def test_read_files_detects_columns_and_keeps_extras(tmp_path, suffix):
    path = tmp_path / f"log{suffix}"
    _write(_frame(), path)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    log = read_transactions(path)
    assert list(log.ids) == ["c1", "c2", "c1", "c3"]
    assert list(log.dates.astype(str)) == ["2024-01-05", "2024-01-06", "2024-02-01", "2024-02-03"]
    assert list(log.amounts) == [10.0, 20.0, 30.0, -5.0]
    assert list(log.extra["channel"]) == ["Email", "Ads", "Email", "Ads"]
    assert log.counts["returns netted (negative amounts)"] == 1
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before  # never modified


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xlsx"])
def test_bad_file_rows_name_column_and_line(tmp_path, suffix):
    df = _frame()
    df.loc[2, "Order Date"] = "2024-02-30"
    path = tmp_path / f"bad{suffix}"
    if suffix == ".xlsx":
        import openpyxl

        wb = openpyxl.Workbook()
        ws = wb.active
        ws.append(list(df.columns))
        for row in df.itertuples(index=False):
            ws.append(list(row))
        wb.save(path)
    else:
        _write(df, path)
    with pytest.raises(LtvxlError) as info:
        read_transactions(path)
    # the header is row 1, so the third data row is row 4
    assert 'column "Order Date" row 4: "2024-02-30" is not a date' in info.value.message


def test_csv_missing_amount_and_id(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("customer_id,date,amount\n1,2024-01-01,5\n2,2024-01-02,\n")
    with pytest.raises(LtvxlError, match='column "amount" row 3: the amount is missing'):
        read_transactions(path)
    path.write_text("customer_id,date,amount\n1,2024-01-01,5\n,2024-01-02,3\n7,2024-01-03,4\n")
    log = read_transactions(path)  # a row without a customer id is left out and counted
    assert list(log.ids) == ["1", "7"] and log.amounts.sum() == 9
    assert "rows without a customer id left out: 1" in log.notes
    with pytest.raises(LtvxlError, match='column "customer_id" row 3: the customer id is missing '
                       r"\(rows without one are left out with --missing-id drop\)"):
        read_transactions(path, options=ReadOptions(missing_id="error"))
    path.write_text("customer_id,date,amount\n1,2024-01-01,5\n2,2024-01-02,abc\n")
    with pytest.raises(LtvxlError, match='column "amount" row 3: text "abc" is not a number'):
        read_transactions(path)


def test_csv_blank_lines_and_explicit_columns(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("who,when,paid,other\nA,20240101,5,x\n,,,y\nB,20240102,6,z\n")
    log = read_transactions(path, id_col="who", date_col="when", amount_col="paid",
                            extra_cols=[])
    assert list(log.ids) == ["A", "B"] and log.extra == {}
    assert log.counts["blank rows skipped"] == 1
    assert list(log.dates.astype(str)) == ["2024-01-01", "2024-01-02"]


def test_column_detection_messages():
    assert find_roles(["CustomerID", "InvoiceDate", "Sales"]) == {
        "id": "CustomerID", "date": "InvoiceDate", "amount": "Sales"}
    with pytest.raises(LtvxlError, match=r"cannot tell which column holds the amount.*"
                       "--quantity-col, --price-col"):
        find_roles(["customer_id", "date", "qty"])
    with pytest.raises(LtvxlError, match='amount_col "x" is not a column'):
        find_roles(["customer_id", "date", "amount"], {"amount": "x"})


@pytest.mark.parametrize(("columns", "expected"), [
    # UCI Online Retail and Online Retail II: amount = quantity x unit price, by invoice
    (["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
      "CustomerID", "Country"],
     {"id": "CustomerID", "date": "InvoiceDate", "order": "InvoiceNo", "quantity": "Quantity",
      "price": "UnitPrice", "channel": "Country"}),
    (["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID",
      "Country"],
     {"id": "Customer ID", "date": "InvoiceDate", "order": "Invoice", "quantity": "Quantity",
      "price": "Price", "channel": "Country"}),
    # a price without a quantity is the amount, as before
    (["customer_id", "date", "price"], {"id": "customer_id", "date": "date", "amount": "price"}),
    # Shopify: the order is "Name", the order total wins over the line items
    (["Name", "Email", "Financial Status", "Total", "Created at", "Lineitem quantity",
      "Lineitem name", "Lineitem price"],
     {"id": "Email", "date": "Created at", "order": "Name", "amount": "Total"}),
    # Stripe payments: "id" is the payment, "Customer ID" the customer
    (["id", "Created (UTC)", "Amount", "Currency", "Status", "Customer ID", "Customer Email"],
     {"id": "Customer ID", "date": "Created (UTC)", "amount": "Amount"}),
])
def test_column_roles_of_common_exports(columns, expected):
    assert find_roles(columns) == expected


def test_named_columns_win():
    cols = ["Invoice", "Quantity", "InvoiceDate", "Price", "Customer ID", "Total"]
    assert find_roles(cols)["amount"] == "Total"
    roles = find_roles(cols, {"quantity": "Quantity", "price": "Price"})
    assert "amount" not in roles and roles["price"] == "Price"
    assert find_roles(cols, {"amount": "Price"})["amount"] == "Price"
    assert find_roles(cols, {"id": "customer id"})["id"] == "Customer ID"


def test_file_problems(tmp_path):
    with pytest.raises(LtvxlError, match="transaction file not found"):
        read_transactions(tmp_path / "none.csv")
    with pytest.raises(LtvxlError, match="is a directory; give a CSV, Parquet or XLSX file"):
        read_transactions(tmp_path)
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    with pytest.raises(LtvxlError, match="unknown file type"):
        read_transactions(bad)
    broken = tmp_path / "b.parquet"
    broken.write_bytes(b"not parquet")
    with pytest.raises(LtvxlError, match="cannot read as Parquet"):
        read_transactions(broken)


def test_csv_read_block_by_block_with_types_changing_further_down(tmp_path, monkeypatch):
    from ltvxl.transactions import readers as readers_module

    monkeypatch.setattr(readers_module, "_CSV_BLOCK", 256)  # many small blocks
    lines = ["customer_id,date,amount"]
    lines += [f"{1000 + i},2024-01-{1 + i % 28:02d},{i}.5" for i in range(300)]
    lines += ["A1,2024-03-01,7", "A2,2024-03-02,8"]  # text ids after numbers
    path = tmp_path / "long.csv"
    path.write_text("\n".join(lines) + "\n")
    log = read_transactions(path)
    assert len(log) == 302 and len(log.customers) == 302
    assert log.ids[0] == "1000" and log.ids[-1] == "A2"
    assert log.amounts[:3].tolist() == [0.5, 1.5, 2.5]
    assert str(log.dates[-1]) == "2024-03-02"
    lines[250] = "1249,2024-02-30,1"  # a bad date deep in the file: line 251
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(LtvxlError, match='column "date" row 251: "2024-02-30" is not a date'):
        read_transactions(path)


def test_whole_numbers_as_int_cells_and_huge_ids():
    # xlwings Lite may pass whole numbers as int; ids beyond 2**53 must stay exact
    log = TransactionLog.from_cells([1001, 1001.0, 2**60], [45000, 45001.0, 45002], [1, 2.5, 3])
    assert list(log.ids) == ["1001", "1001", str(2**60)]
    assert log.amounts.tolist() == [1.0, 2.5, 3.0]
    assert str(log.dates[0]) == "2023-03-15"


def test_parquet_read_column_by_column_over_row_groups(tmp_path):
    """Parquet is read one column and one row group at a time: the parts must join in order
    (timestamps to days, text ids), and a missing value in a later group is named by its row."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = 250
    ids = pa.array([str(5000 + i % 40) for i in range(n)])
    stamps = pa.array([np.datetime64("2024-01-01T10:00", "ms") + np.timedelta64(i, "D")
                       for i in range(n)], type=pa.timestamp("ms"))
    amounts = pa.array([float(i) for i in range(n)])
    path = tmp_path / "groups.parquet"
    pq.write_table(pa.table({"customer_id": ids, "date": stamps, "amount": amounts}), path,
                   row_group_size=60)
    assert pq.ParquetFile(path).num_row_groups == 5
    log = read_transactions(path)
    assert len(log) == n and len(log.customers) == 40
    assert log.ids[:3].tolist() == ["5000", "5001", "5002"] and log.ids[-1] == "5009"
    assert str(log.dates[0]) == "2024-01-01" and str(log.dates[-1]) == "2024-09-06"
    assert log.amounts.tolist() == [float(i) for i in range(n)]
    with_gap = pa.array([float(i) if i != 200 else None for i in range(n)])
    pq.write_table(pa.table({"customer_id": ids, "date": stamps, "amount": with_gap}), path,
                   row_group_size=60)
    with pytest.raises(LtvxlError, match='column "amount" row 202: the amount is missing'):
        read_transactions(path)
