"""Headless refresh on workbooks written here with XlsxWriter."""

from __future__ import annotations

import hashlib
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter

from ltvxl import unit_economics as ue
from ltvxl.cli import main
from ltvxl.workbook.refresh import RefreshError, refresh
from ltvxl.workbook.xlsx import WorkbookError

ROWS = [  # avg purchase value, purchases a year, years, CAC
    (100.0, 3.0, 5.0, 500.0),
    (80.0, 2.0, 4.0, 300.0),
    (250.0, 1.0, 3.0, 900.0),
    (40.0, 12.0, 2.0, 200.0),
    (120.0, 0.5, 10.0, 800.0),
]
INJECTION = ["=HYPERLINK(\"http://x\",\"y\")", "+33123456", "-5", "@SUM(A1:A2)", "=1+1"]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _book(path: Path, stale_spill: bool = False) -> Path:
    wb = xlsxwriter.Workbook(str(path))
    data = wb.add_worksheet("Data")
    data.write_row("A1", ["apv", "freq", "years", "cac", "id"])
    for i, row in enumerate(ROWS, start=1):
        data.write_row(i, 0, row)
        data.write_string(i, 4, INJECTION[i - 1])
    data.add_table("G1:H4", {"name": "Sales", "columns": [{"header": "id"}, {"header": "amount"}],
                             "data": [["a", 10], ["b", 20], ["c", 30]]})
    data.conditional_format("A2:A6", {"type": "3_color_scale"})
    data.data_validation("D2:D6", {"validate": "decimal", "criteria": ">", "value": 0})
    wb.define_name("first_cac", "=Data!$D$2")
    calc = wb.add_worksheet("Calc Sheet")
    calc.write_formula("A1", "=LTV(Data!A2, Data!B2, Data!C2)")
    calc.write_formula("A2", "=LTV_CAC_RATIO(A1, first_cac)")
    calc.write_formula("A3", "=MAX_CAC(A1)")
    calc.write_formula("A4", "=SUM(Data!A2:A6) * 2 + ROUND(AVERAGE(Data!B2:B6), 1)")
    calc.write_formula("A5", "=LTV_CAC_STATUS(A2)")
    calc.write_formula("A6", "=LTV(-1, 3, 5)")
    calc.write_formula("A7", "=1/0")
    calc.write_formula("A8", "=SUM(Sales[amount])")
    calc.write_formula("A9", '=IF(A1 > 1000, "big", "small")')
    calc.write_dynamic_array_formula("B1", "=LTV(Data!A2:A6, Data!B2:B6, Data!C2:C6)")
    calc.write_formula("C1", "=SUM(B1#)")
    calc.write_dynamic_array_formula("D1", "=LTV_CAC_RATIO(B1#, Data!D2:D6)")
    calc.write_dynamic_array_formula("E1", "=SORT(Data!E2:E6)")
    if stale_spill:  # as a file refreshed when there were 9 rows: the spill range is E1:E9
        calc.write_dynamic_array_formula("F1:F9", "=SORT(Data!A2:A6, 1, -1)", None, 0)
        for r in range(1, 9):
            calc.write_number(r, 5, 999)
    chart = wb.add_chart({"type": "column"})
    chart.add_series({"values": "='Calc Sheet'!$B$1:$B$5"})
    calc.insert_chart("H2", chart)
    wb.close()
    return path


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    d = tmp_path_factory.mktemp("refresh")
    src = _book(d / "book.xlsx", stale_spill=True)
    digest = _sha(src)
    out = d / "out.xlsx"
    result = refresh(src, out)
    assert result.formulas == 14
    return src, out, digest


def test_native_and_ltvxl_formulas_give_the_right_numbers(refreshed):
    _, out, _ = refreshed
    ws = openpyxl.load_workbook(out, data_only=True)["Calc Sheet"]
    apv, freq, years, cac = ROWS[0]
    first = ue.ltv(apv, freq, years)
    assert ws["A1"].value == pytest.approx(first) == pytest.approx(1500)
    assert ws["A2"].value == pytest.approx(ue.ltv_cac_ratio(first, cac)) == pytest.approx(3)
    assert ws["A3"].value == pytest.approx(ue.max_cac(first))
    mean_freq = sum(r[1] for r in ROWS) / len(ROWS)
    assert ws["A4"].value == pytest.approx(sum(r[0] for r in ROWS) * 2 + round(mean_freq, 1))
    assert ws["A5"].value == ue.ltv_cac_status(3.0)
    assert (ws["A6"].value, ws["A6"].data_type) == ("#VALUE!", "e")  # an ltvxl error value
    assert ws["A7"].value == "#DIV/0!"
    assert ws["A8"].value == 60
    assert ws["A9"].value == "big"
    ltvs = [ue.ltv(a, f, y) for a, f, y, _ in ROWS]
    assert [ws.cell(r, 2).value for r in range(1, 6)] == pytest.approx(ltvs)
    assert ws["C1"].value == pytest.approx(sum(ltvs))
    ratios = [v / r[3] for v, r in zip(ltvs, ROWS, strict=True)]
    assert [ws.cell(r, 4).value for r in range(1, 6)] == pytest.approx(ratios)


def test_spill_ranges_grow_and_shrink(refreshed):
    _, out, _ = refreshed
    ws = openpyxl.load_workbook(out, data_only=True)["Calc Sheet"]
    # F1:F9 held 9 stale values; the sort of 5 values now fills F1:F5 only
    assert [ws.cell(r, 6).value for r in range(1, 10)] == sorted(
        (r[0] for r in ROWS), reverse=True) + [None] * 4
    xml = _parts(out)["xl/worksheets/sheet2.xml"].decode()
    assert re.search(r'<c r="F1"[^>]*cm="1"[^>]*><f t="array" ref="F1:F5">', xml)
    assert re.search(r'<c r="B1"[^>]*cm="1"[^>]*><f t="array" ref="B1:B5">', xml)
    assert "xl/metadata.xml" in _parts(out)


def test_text_that_looks_like_a_formula_stays_text(refreshed):
    _, out, _ = refreshed
    ws = openpyxl.load_workbook(out)["Calc Sheet"]
    spilled = [ws.cell(r, 5).value for r in range(2, 6)]  # E1 is the formula itself
    assert set(spilled) < set(INJECTION)
    assert all(ws.cell(r, 5).data_type == "s" for r in range(2, 6))
    xml = _parts(out)["xl/worksheets/sheet2.xml"].decode()
    for r in range(2, 6):
        cell = re.search(rf'<c r="E{r}"[^>]*>.*?</c>', xml).group(0)
        assert "<f" not in cell and "inlineStr" in cell


def test_input_unchanged_and_other_parts_byte_for_byte(refreshed):
    src, out, digest = refreshed
    assert _sha(src) == digest
    before, after = _parts(src), _parts(out)
    # and the custom document properties holding the message of the ltvxl error in A6
    assert set(after) - set(before) == {"docProps/custom.xml"}
    assert "avg_purchase_value must be &gt;= 0" in after["docProps/custom.xml"].decode()
    changed = {n for n in before if before[n] != after[n]}
    # only the sheet with formulas, and the workbook's "recalculate on opening"
    # flag (values are current now), exactly as Excel drops it after calculating; the
    # content types and package relationships list the properties part
    assert changed == {"xl/worksheets/sheet2.xml", "xl/workbook.xml", "[Content_Types].xml",
                       "_rels/.rels"}
    assert b'fullCalcOnLoad="1"' in before["xl/workbook.xml"]
    assert after["xl/workbook.xml"] == before["xl/workbook.xml"].replace(
        b' fullCalcOnLoad="1"', b"")
    names = set(after)
    assert {"xl/charts/chart1.xml", "xl/tables/table1.xml", "xl/metadata.xml"} <= names
    book = openpyxl.load_workbook(out)
    data = book["Data"]
    assert data.conditional_formatting and data.data_validations.dataValidation
    assert "Sales" in data.tables
    assert "first_cac" in book.defined_names


def test_a_workbook_without_the_flag_keeps_its_workbook_part(refreshed, tmp_path):
    _, out, _ = refreshed
    again = tmp_path / "again.xlsx"
    refresh(out, again)
    assert _parts(again)["xl/workbook.xml"] == _parts(out)["xl/workbook.xml"]


def test_blocked_spill_gives_spill_error(tmp_path):
    path = tmp_path / "b.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    ws.write_column("A1", [3, 1, 2])
    ws.write_dynamic_array_formula("B1", "=SORT(A1:A3)")
    ws.write("B3", "in the way")
    wb.close()
    result = refresh(path, tmp_path / "o.xlsx")
    assert result.warnings and "#SPILL!" in result.warnings[0]
    ws = openpyxl.load_workbook(tmp_path / "o.xlsx", data_only=True).active
    # stored as Excel stores #SPILL! for older readers: #VALUE! (python-calamine refuses
    # "#SPILL!" in a cell); the warning names the spill
    assert ws["B1"].value == "#VALUE!" and ws["B3"].value == "in the way"


def test_refreshing_twice_gives_the_same_file_content(refreshed, tmp_path):
    _, out, _ = refreshed
    again = tmp_path / "again.xlsx"
    refresh(out, again)
    assert _parts(again) == _parts(out)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "encrypted"),
        (b"id,amount\n1,2\n", "not an .xlsx"),
        (b"PK\x03\x04garbage", "corrupt"),
    ],
)
def test_bad_files_give_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.xlsx"
    path.write_bytes(content)
    with pytest.raises(WorkbookError, match=message):
        refresh(path, tmp_path / "o.xlsx")
    assert not (tmp_path / "o.xlsx").exists()


def test_unknown_function_names_cell_and_function(tmp_path):
    path = tmp_path / "u.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Sheet A")
    ws.write_formula("C4", "=1+NO_SUCH_FUNCTION(2)")
    wb.close()
    with pytest.raises(RefreshError, match=r"Sheet A!C4.*NO_SUCH_FUNCTION"):
        refresh(path, tmp_path / "o.xlsx")


def test_cli_refresh(tmp_path, capsys):
    src = _book(tmp_path / "book.xlsx")
    digest = _sha(src)
    assert main(["refresh", str(src), "-o", str(tmp_path / "r.xlsx")]) == 0
    assert _sha(src) == digest
    assert "13 formulas" in capsys.readouterr().out
    assert main(["refresh", str(src), "-o", str(src)]) == 1
    assert "--in-place" in capsys.readouterr().err
    assert main(["refresh", str(src), "--in-place"]) == 0
    ws = openpyxl.load_workbook(src, data_only=True)["Calc Sheet"]
    assert ws["A1"].value == 1500
    assert main(["refresh", str(tmp_path / "missing.xlsx")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_spilled_rows_keep_other_cells_and_styles():
    """Rows written whole and rows edited cell by cell store the same cells."""
    from ltvxl.workbook.xlsx import SheetXml

    head = ('<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            '<cols><col min="2" max="2" style="7"/></cols><sheetData>')
    body = ('<row r="2"><c r="A2" s="3"><v>1</v></c><c r="B2" s="7"><v>2</v></c></row>'
            '<row r="3"><c r="A3"><v>5</v></c><c r="D3"><v>9</v></c></row>'
            '<row r="4"><c t="s" s="4" r="A4"><v>0</v></c></row>')
    sx = SheetXml("S", (head + body + "</sheetData></worksheet>").encode())
    sx.set_block(2, 1, [[10.0, "x"], [1.5, None], [None, 2.0], [3.0, "a&b"]])
    out = sx.to_bytes().decode()
    assert '<c r="A2" s="3"><v>10</v></c><c r="B2" s="7" t="inlineStr"><is><t>x</t></is>' in out
    assert '<c r="A3"><v>1.5</v></c><c r="B3" s="7"/><c r="D3"><v>9</v></c>' in out  # D3 kept
    assert '<c r="A4" s="4"/><c r="B4" s="7"><v>2</v></c>' in out  # style kept, new: column's
    assert '<row r="5"><c r="A5"><v>3</v></c><c r="B5" s="7" t="inlineStr"><is><t>a&amp;b' in out
    assert '<dimension' not in out or 'ref="A2:D5"' in out
