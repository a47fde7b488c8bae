"""Headless refresh: references and formula kinds as Excel stores them."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter

from ltvxl import unit_economics as ue
from ltvxl.workbook.refresh import RefreshError, refresh


def _values(path: Path, sheet: str) -> openpyxl.worksheet.worksheet.Worksheet:
    return openpyxl.load_workbook(path, data_only=True)[sheet]


def _rewrite_part(path: Path, name: str, edit) -> None:
    with zipfile.ZipFile(path) as zf:
        parts = [(i, zf.read(i)) for i in zf.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in parts:
            zf.writestr(info, edit(data.decode()).encode() if info.filename == name else data)


def test_shared_formulas_names_tables_and_whole_columns(tmp_path):
    path = tmp_path / "b.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("S")
    ws.write_row("A1", ["apv", "freq", "years", "ltv"])
    rows = [(100, 3, 5), (80, 2, 4), (50, 6, 1.5), (20, 12, 3)]
    for i, r in enumerate(rows, start=2):
        ws.write_row(i - 1, 0, r)
        ws.write_formula(i - 1, 3, f"=LTV(A{i},B{i},C{i})")
    wb.define_name("margin", "=0.25")
    wb.define_name("S!local_rate", "=0.1")
    wb.define_name("double_margin", "=margin*2")
    wb.define_name("S!rate2", "=S!$B$2")
    ws.write_formula("F6", "=S!rate2 * 10 + rate2")
    ws.write_formula("F7", "=LTV(100, 3, 5, , 0.1)")  # an omitted argument: the default
    ws.write_formula("F8", "=ROUND(LTV(100, 3, 5, , 0.1), 0)")  # the same, inside a native
    ws.write_formula("F9", "=ROUND(LTV(100, 3, 5, , ), 0)")  # two omitted arguments
    ws.write_formula("F1", "=LTV(A2, B2, C2, margin)")
    ws.write_formula("F2", "=double_margin + local_rate")
    ws.write_formula("F3", "=SUM(A:A)")
    ws.write_formula("F4", "=SUM(D:D)")
    ws.add_table("H1:J4", {"name": "T", "columns": [
        {"header": "id"}, {"header": "amount"},
        {"header": "double", "formula": "=[@amount]*2"}]})
    ws.write_column("H2", ["a", "b", "c"])
    ws.write_column("I2", [1.5, 2.5, 4.0])
    ws.write_formula("F5", "=SUM(T[double]) + ROWS(T[#All])")
    ws.write_array_formula("L1:L3", "{=I2:I4*10}")
    wb.close()
    # store D3:D5 as a shared formula of D2, as Excel does
    def share(xml: str) -> str:
        xml = xml.replace("<f>LTV(A2,B2,C2)</f>", '<f t="shared" ref="D2:D5" si="0">'
                          "LTV(A2,B2,C2)</f>")
        return re.sub(r"<f>LTV\(A([345]),B\1,C\1\)</f>", '<f t="shared" si="0"/>', xml)

    _rewrite_part(path, "xl/worksheets/sheet1.xml", share)
    assert 'si="0"/>' in zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode()
    out = tmp_path / "o.xlsx"
    refresh(path, out)
    s = _values(out, "S")
    expected = [ue.ltv(*r) for r in rows]
    assert [s.cell(r, 4).value for r in range(2, 6)] == pytest.approx(expected)
    assert s["F1"].value == pytest.approx(ue.ltv(100, 3, 5, 0.25)) == pytest.approx(375)
    assert s["F2"].value == pytest.approx(0.6)
    assert s["F3"].value == pytest.approx(sum(r[0] for r in rows))
    assert s["F4"].value == pytest.approx(sum(expected))
    assert [s.cell(r, 10).value for r in range(2, 5)] == [3, 5, 8]  # #This Row
    assert s["F5"].value == pytest.approx(16 + 4)
    assert s["F6"].value == pytest.approx(rows[0][1] * 11)
    assert s["F7"].value == pytest.approx(ue.ltv(100, 3, 5, 1.0, 0.1))
    assert s["F8"].value == round(ue.ltv(100, 3, 5, 1.0, 0.1))
    assert s["F9"].value == 1500
    assert [s.cell(r, 12).value for r in range(1, 4)] == [15, 25, 40]


def test_dates_reach_ltvxl_functions_as_dates(tmp_path):
    path = tmp_path / "d.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Log")
    date = wb.add_format({"num_format": "yyyy-mm-dd"})
    log = [("a", dt.date(2024, 1, 5), 10.0), ("b", dt.date(2024, 2, 1), 20.0),
           ("a", dt.date(2024, 3, 9), 30.0)]
    for i, (cid, day, amount) in enumerate(log, start=1):
        ws.write_string(i, 0, cid)
        ws.write_datetime(i, 1, dt.datetime.combine(day, dt.time()), date)
        ws.write_number(i, 2, amount)
    ws.write_formula("E1", "=MAX(B2:B4) - MIN(B2:B4)")
    ws.write_dynamic_array_formula("E3", "=LTV_CUSTOMERS(A2:A4, B2:B4, C2:C4)")
    wb.close()
    out = tmp_path / "o.xlsx"
    refresh(path, out)
    s = _values(out, "Log")
    assert s["E1"].value == (log[2][1] - log[0][1]).days
    header = [c.value for c in s[3][4:8]]
    assert header[:4] == ["customer", "first purchase", "last purchase", "orders"]
    first_a = s.cell(4, 6)  # a date result in an unformatted cell gets a date format
    assert first_a.is_date and first_a.value == dt.datetime(2024, 1, 5)
    assert s.cell(5, 7).is_date and s.cell(5, 7).value == dt.datetime(2024, 2, 1)
    assert s.cell(4, 8).value == 2 and not s.cell(4, 8).is_date  # customer a: two orders
    assert not s["E1"].is_date  # a number of days
    again = tmp_path / "again.xlsx"
    refresh(out, again)  # the date styles are there now: nothing more is added
    with zipfile.ZipFile(out) as a, zipfile.ZipFile(again) as b:
        assert a.read("xl/styles.xml") == b.read("xl/styles.xml")
    with zipfile.ZipFile(path) as a, zipfile.ZipFile(out) as b:
        assert a.read("xl/styles.xml").count(b"<xf ") < b.read("xl/styles.xml").count(b"<xf ")


def test_circular_reference_is_named(tmp_path):
    path = tmp_path / "c.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Loop")
    ws.write_formula("A1", "=B1+1")
    ws.write_formula("B1", "=A1+1")
    wb.close()
    with pytest.raises(RefreshError, match=r"Loop!A1 =B1\+1: a circular reference: Loop!A1, "
                       "Loop!B1 refer to each other"):
        refresh(path, tmp_path / "o.xlsx")


@pytest.mark.parametrize(("formula", "name"), [
    ("=CELL(\"row\", A1)", "CELL"), ("=RAND()", "RAND"),
])
def test_functions_the_engine_cannot_provide_are_named(tmp_path, formula, name):
    path = tmp_path / "x.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    wb.add_worksheet("W").write_formula("D7", formula)
    wb.close()
    with pytest.raises(RefreshError, match=rf"W!D7 =.*: function {name}"):
        refresh(path, tmp_path / "o.xlsx")
    assert not (tmp_path / "o.xlsx").exists()


def test_batched_formulas_equal_cell_by_cell(tmp_path, monkeypatch):
    import ltvxl.workbook.refresh.engine as engine

    path = tmp_path / "rows.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Rows")
    for i in range(2, 42):
        if i % 7:
            ws.write_number(f"A{i}", (i % 5) - 1)  # includes 0 and negatives; some blank
        ws.write_string(f"C{i}", "x" * (i % 4))
        ws.write_formula(f"D{i}", f'=IF(A{i}>1, A{i}*2, "small")')
        ws.write_formula(f"E{i}", f'=IFERROR(1/A{i}, "div0")')
        ws.write_formula(f"F{i}", f"=ROUND(A{i}/3, 2) + LEN(C{i})")
        ws.write_formula(f"G{i}", f'=UPPER(C{i}) & "-" & A{i}')
        ws.write_formula(f"H{i}", f"=LTV(ABS(A{i}) + 1, 3, 5)")  # an ltvxl call inside
        ws.write_formula(f"I{i}", f"=A{i}")
    wb.close()
    batched, single = tmp_path / "b.xlsx", tmp_path / "s.xlsx"
    refresh(path, batched)
    monkeypatch.setattr(engine, "BATCH_MIN", 10**9)
    refresh(path, single)
    a, b = _values(batched, "Rows"), _values(single, "Rows")
    rows_a = [[c.value for c in row] for row in a.iter_rows()]
    assert rows_a == [[c.value for c in row] for row in b.iter_rows()]
    assert a["D3"].value == 4 and a["D2"].value == "small" and a["E6"].value == "div0"
    assert a["H2"].value == pytest.approx(ue.ltv(2, 3, 5)) and a["I7"].value == 0


def test_error_cells_of_data_sheets_reach_functions_as_error_text(tmp_path):
    """An error value typed in a data sheet is the error, not a blank (xlwings err_to_str)."""
    path = tmp_path / "e.xlsx"
    wb = openpyxl.Workbook()
    data = wb.active
    data.title = "D"
    data["A1"] = "#DIV/0!"  # openpyxl stores these as error cells (t="e")
    data["A2"] = "#N/A"
    data["A3"] = 100.0
    assert data["A1"].data_type == "e"
    calc = wb.create_sheet("C")
    calc["A1"] = "=LTV(D!A1, 3, 5)"
    calc["A2"] = "=ISERROR(D!A2)"
    calc["A3"] = '=IFERROR(D!A2, "caught")'
    calc["A4"] = "=LTV(D!A3, 3, 5)"
    calc["A5"] = "=ISBLANK(D!A1)"
    wb.save(path)
    out = tmp_path / "out.xlsx"
    refresh(path, out)
    s = _values(out, "C")
    assert s["A1"].value == "#DIV/0!"  # a blank would give "#VALUE! ... is blank"
    assert s["A2"].value is True
    assert s["A3"].value == "caught"
    assert s["A4"].value == pytest.approx(ue.ltv(100.0, 3, 5))
    assert s["A5"].value is False


def test_date_results_get_a_date_format_in_a_book_without_number_formats(tmp_path):
    path = tmp_path / "d.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Log")
    builtin_date = wb.add_format({"num_format": 14})  # m/d/yyyy: no <numFmts> written
    ws.write_datetime("A1", dt.datetime(2024, 3, 1), builtin_date)
    ws.write_datetime("A2", dt.datetime(2024, 4, 1), builtin_date)
    ws.write_column("B1", ["x", "y"])
    ws.write_column("C1", [5.0, 7.0])
    ws.write_dynamic_array_formula("E1", "=LTV_CUSTOMERS(B1:B2, A1:A2, C1:C2)")
    wb.close()
    with zipfile.ZipFile(path) as zf:
        assert b"<numFmts" not in zf.read("xl/styles.xml")
    out = tmp_path / "o.xlsx"
    refresh(path, out)
    s = openpyxl.load_workbook(out, data_only=True)["Log"]
    assert s["F2"].is_date and s["F2"].value == dt.datetime(2024, 3, 1)
    assert s["G3"].is_date and s["G3"].value == dt.datetime(2024, 4, 1)
    assert not s["H2"].is_date and s["H2"].value == 1


def test_whole_columns_below_a_spill_see_new_results_and_data_only(tmp_path):
    """Old spilled values are not data; a value below the old spill range still is."""
    path = tmp_path / "w.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    d = wb.add_worksheet("D")
    date = wb.add_format({"num_format": "yyyy-mm-dd"})
    for i, (cid, day, amount) in enumerate([("a", 5, 10.0), ("b", 9, 20.0), ("c", 12, 5.0)],
                                           start=1):
        d.write_string(i, 0, cid)
        d.write_datetime(i, 1, dt.datetime(2024, 1, day), date)
        d.write_number(i, 2, amount)
    s = wb.add_worksheet("S")
    # stored as if an earlier refresh had spilled 10 rows: A5:K10 hold old results
    s.write_dynamic_array_formula("A1:K10", "=LTV_CUSTOMERS(D!A2:A4, D!B2:B4, D!C2:C4)")
    for r in range(4, 10):
        s.write_row(r, 0, [f"old{r}", 1.0, 2.0])
    s.write_string("A12", "typed below")
    s.write_formula("M1", "=COUNTA(A2:A1048576)")
    s.write_formula("M2", "=COUNTA(B2:B1048576)")
    s.write_formula("M3", "=SUM(D2:D1048576)")
    wb.close()
    out = tmp_path / "o.xlsx"
    refresh(path, out)
    v = _values(out, "S")
    assert [v.cell(r, 1).value for r in range(2, 5)] == ["a", "b", "c"]
    assert v["A5"].value is None and v["A10"].value is None  # the old results are cleared
    assert v["M1"].value == 4  # three customers and the typed value
    assert v["M2"].value == 3
    assert v["M3"].value == 3  # one order each


def test_offset_and_indirect_read_the_cells_they_compute(tmp_path):
    path, out = tmp_path / "x.xlsx", tmp_path / "o.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("S")
    other = wb.add_worksheet("My Other")
    ws.write_column("A1", [1, 2, 3, 4, 5])
    other.write("A1", 42)
    ws.write_formula("B1", "=SUM(OFFSET(A1,1,0,3,1))")  # A2:A4
    ws.write_formula("B2", "=SUM(OFFSET($A$1,0,0,COUNTA($A:$A),1))")  # a range as long as A
    ws.write_formula("B4", "=A4*10")
    ws.write_formula("B5", "=OFFSET(B5,-1,0)+1")  # the row above: no circular reference
    ws.write_formula("C1", "=OFFSET(A1,0,3)")  # D1, a formula it waits for
    ws.write_formula("D1", "=SUM(E1:E3)")
    ws.write_column("E1", [1, 2, 4])
    ws.write_formula("C2", '=INDIRECT("A"&3)')
    ws.write_formula("C3", "=INDIRECT(\"'My Other'!A1\")")
    ws.write_formula("C4", '=INDIRECT("R2C1",FALSE)')
    ws.write_formula("C5", '=INDIRECT("R[-1]C[-2]",FALSE)')  # relative to C5: A4
    ws.write_formula("C6", "=OFFSET(A1,-1,0)")  # above the sheet
    ws.write_formula("C7", '=INDIRECT("no such!A1")')
    ws.write_formula("C8", '=SUM(INDIRECT("A1:A5"))')
    ws.write_formula("F1", "=OFFSET(F1,0,1)+1")  # G1, which reads F1: a real cycle
    ws.write_formula("G1", "=F1")
    wb.close()
    result = refresh(path, out, keep_going=True)
    assert {c for c, _ in result.stale} == {"S!F1", "S!G1"}
    assert all("circular reference" in why for _, why in result.stale)
    s = openpyxl.load_workbook(out, data_only=True)["S"]
    got = [s[c].value for c in ("B1", "B2", "B5", "C1", "C2", "C3", "C4", "C5", "C6", "C7",
                                "C8")]
    assert got == [2 + 3 + 4, 15, 41, 7, 3, 42, 2, 4, "#REF!", "#REF!", 15]
