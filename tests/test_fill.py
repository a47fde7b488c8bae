"""Filling a template's Transactions table: from memory in the refresh (issue 14, one log per
workbook) as from the filled file, byte for byte; a table sheet with formulas still works."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import xlsxwriter
from python_calamine import CalamineWorkbook

from ltvxl.workbook.fill import fill_template
from ltvxl.workbook.refresh import refresh
from ltvxl.workbook.template import TABLE, TransactionsData, _layout_rows, build_workbook


def _data(n: int = 400) -> TransactionsData:
    rng = np.random.default_rng(3)
    ids = [f"C{i % 60:03d}" for i in range(n)]
    ids[1], ids[2], ids[3] = "a & <b> ", " lead", "007"  # escaped, spaces kept, text digits
    dates = np.datetime64("2023-01-01") + rng.integers(0, 500, n).astype("timedelta64[D]")
    amounts = np.round(rng.gamma(2.0, 30.0, n), 2)
    amounts[4] = 0.0
    channels = [["Email", "Paid Search", ""][i % 3] for i in range(n)]  # "" is a blank
    return TransactionsData(ids, dates, amounts, channels)


def _cells(path: Path) -> dict[str, list[list[object]]]:
    book = CalamineWorkbook.from_path(str(path))
    return {s: book.get_sheet_by_name(s).to_python(skip_empty_area=False)
            for s in book.sheet_names}


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TransactionsData]:
    data = _data()
    path = tmp_path_factory.mktemp("fill") / "layout.xlsx"
    build_workbook(path, _layout_rows(data))
    return path, data


def test_the_refresh_fills_from_memory_as_from_the_filled_file(layout, tmp_path):
    path, data = layout
    filled, via_file, in_memory = (tmp_path / n for n in ("f.xlsx", "a.xlsx", "b.xlsx"))
    fill_template(path, data, filled, TABLE)
    refresh(filled, via_file)
    refresh(path, in_memory, fill=(data, TABLE))
    a, b = zipfile.ZipFile(via_file), zipfile.ZipFile(in_memory)
    assert a.namelist() == b.namelist()
    assert [n for n in a.namelist() if a.read(n) != b.read(n)] == []
    rows = _cells(in_memory)["Transactions"]
    assert len(rows) == len(data) + 1
    assert rows[2][0] == "a & <b> " and rows[3][0] == " lead" and rows[4][0] == "007"


def _own_template(path: Path, formula_on_table_sheet: bool, text_date: bool = False) -> None:
    """A table below two rows (a formula above it or not) and a summary sheet; its first row's
    date is a number, or a text in a date style."""
    book = xlsxwriter.Workbook(str(path))
    ws = book.add_worksheet("Data")
    date = book.add_format({"num_format": "yyyy-mm-dd"})
    if formula_on_table_sheet:
        ws.write_formula("A1", "=COUNTA(Transactions[customer_id])")
    else:
        ws.write_string("A1", "my transactions")
    ws.add_table(2, 0, 3, 2, {"name": "Transactions", "columns": [
        {"header": "customer_id"}, {"header": "date"}, {"header": "amount"}]})
    ws.write_row(3, 0, ["X1"])
    if text_date:
        ws.write_string(3, 1, "2023-03-14", date)
    else:
        ws.write_number(3, 1, 45000, date)
    ws.write_number(3, 2, 1.0)
    other = book.add_worksheet("Sums")
    other.write_formula("A1", "=SUM(Transactions[amount])")
    other.write_formula("A2", "=MAX(Transactions[date])")
    book.close()


@pytest.mark.parametrize("formula_on_table_sheet", [False, True])
def test_own_template_filled_in_the_refresh(tmp_path, formula_on_table_sheet):
    data = _data(50)
    template, out = tmp_path / "own.xlsx", tmp_path / "out.xlsx"
    _own_template(template, formula_on_table_sheet)
    refresh(template, out, fill=(data, "Transactions"))
    cells = _cells(out)
    assert cells["Sums"][0][0] == pytest.approx(float(np.sum(data.amounts)), rel=1e-12)
    last = np.asarray(data.dates).max().astype("datetime64[D]").item()
    assert cells["Sums"][1][0] == last
    assert len(cells["Data"]) == 3 + len(data)
    if formula_on_table_sheet:  # the sheet is read from a filled file, then rewritten
        assert cells["Data"][0][0] == len(data)
    else:
        assert cells["Data"][0][0] == "my transactions"


def test_large_columns_reach_the_functions_with_shared_rows():
    # a column of many rows: one row list per distinct value, the values as xlwings passes them
    import datetime as dt

    from ltvxl.workbook.refresh.values import POOLED_ROWS, _udf_rows
    from ltvxl.workbook.xlsx import ExcelDate

    day = ExcelDate(dt.date(2024, 1, 2))
    copies = POOLED_ROWS // 6 + 1
    column = np.empty((6 * copies, 1), dtype=object)
    column[:, 0] = [1.5, 0.0, -0.0, True, "a", day] * copies
    rows = _udf_rows(column)
    assert rows[:6] == [[1.5], [0.0], [-0.0], [True], ["a"], [dt.datetime(2024, 1, 2)]]
    assert type(rows[3][0]) is bool and str(rows[2][0]) == "-0.0"  # not taken for 1.0, 0.0
    assert rows[0] is rows[6] and rows[5] is rows[11]  # equal values: one row
    assert rows[1] is not rows[7]  # zeros keep their own rows (-0.0 equals 0.0)
    assert len({id(r) for r in rows}) == 4 + 2 * copies


@pytest.mark.parametrize("text_date", [False, True])
def test_own_template_in_memory_as_from_the_filled_file(tmp_path, text_date):
    # the dates are dates to the formulas as python-calamine reads the written cells
    data = _data(80)
    template = tmp_path / "own.xlsx"
    _own_template(template, False, text_date)
    filled, a, b = tmp_path / "f.xlsx", tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    fill_template(template, data, filled)
    refresh(filled, a)
    refresh(template, b, fill=(data, "Transactions"))
    za, zb = zipfile.ZipFile(a), zipfile.ZipFile(b)
    assert [n for n in za.namelist() if za.read(n) != zb.read(n)] == []
