"""Errors Excel understands in the headless refresh (issue 13, item 6): an error text that an
ltvxl function returns ("#VALUE! avg_purchase_value must be ...") is written as an Excel
error value (``t="e"``), so that native formulas over it behave as in Excel (SUM over it is
the error, IFERROR catches it), and its message stays reachable (the refresh's ``errors``,
the output's custom document properties, ``LTV_ERROR(cell)``)."""

from __future__ import annotations

import csv
import shutil
import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from python_calamine import CalamineWorkbook

from ltvxl import unit_economics as ue
from ltvxl.errors import ERROR_TEXT_NAME, NO_MESSAGE
from ltvxl.workbook.refresh import ERROR_COUNT_PROPERTY, ERROR_PROPERTY, refresh

FORMULAS = {
    "B1": "=SUM(LTV(A1:A3,3,5))",
    "B2": '=IFERROR(SUM(LTV(A1:A3,3,5)),"fallback")',
    "B3": "=ISERROR(LTV(A2,3,5))",
    "B4": "=LTV(A2,3,5)",
    "B5": "=ISNA(LTV(A2,3,5))",
    "B6": "=LTV_ERROR(B4)",
    "B7": "=LTV_ERROR(B8)",
    "B8": "=LTV(A1,3,5)",
    "B9": "=B4",
    "B10": "=LTV_ERROR(B9)",
    "B11": "=ISERROR(B4)",
    "B12": '=IF(ISTEXT(B4),"text","no text")',
}


def _book(path: Path, a2: object = "n/a", text_convention: bool = False) -> Path:
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("S")
    ws.write_column("A1", [100, a2, 50])
    for cell, formula in FORMULAS.items():
        ws.write_formula(cell, formula)
    ws.write_dynamic_array_formula("C1:C1", "=LTV(A1:A3,3,5)")
    if text_convention:
        wb.define_name(ERROR_TEXT_NAME, "=TRUE")
    wb.close()
    return path


def _values(path: Path) -> dict[str, tuple[object, str]]:
    ws = openpyxl.load_workbook(path, data_only=True)["S"]
    return {c.coordinate: (c.value, c.data_type) for row in ws.iter_rows() for c in row}


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory: pytest.TempPathFactory):
    d = tmp_path_factory.mktemp("errors")
    out = d / "out.xlsx"
    result = refresh(_book(d / "in.xlsx"), out)
    return out, result


def test_an_ltvxl_error_is_an_error_value_native_formulas_see(refreshed):
    out, _ = refreshed
    v = _values(out)
    assert v["B1"] == ("#VALUE!", "e")  # SUM over the error is the error, not 2,250
    assert v["B2"][0] == "fallback"  # IFERROR catches it
    assert v["B3"][0] is True and v["B5"][0] is False  # ISERROR; ISNA only for #N/A
    assert v["B4"] == ("#VALUE!", "e") and v["B9"] == ("#VALUE!", "e")
    assert v["B8"][0] == pytest.approx(ue.ltv(100, 3, 5)) == pytest.approx(1500)
    assert v["B11"][0] is True and v["B12"][0] == "no text"
    # the spilled call: only the bad cell is an error, the others are computed
    assert [v[f"C{r}"] for r in (1, 2, 3)] == [(1500, "n"), ("#VALUE!", "e"), (750, "n")]


def test_the_messages_stay_reachable(refreshed):
    out, result = refreshed
    errors = dict(result.errors)
    message = '#VALUE! avg_purchase_value must be a number, got text "n/a"'
    # the formula that is the call itself, a spilled cell of it, and SUM over the call
    assert errors == {"S!B1": message, "S!B4": message, "S!C2": message}
    v = _values(out)
    assert v["B6"][0] == message  # LTV_ERROR, as the add-in's VBA function
    assert v["B7"][0] in ("", None)  # a cell without an error (openpyxl reads "" as None)
    assert v["B10"][0] == f"#VALUE! {NO_MESSAGE}"  # an error no ltvxl function returned
    props = zipfile.ZipFile(out).read("docProps/custom.xml").decode()
    assert f'name="{ERROR_COUNT_PROPERTY}"><vt:i4>3</vt:i4>' in props
    assert f'name="{ERROR_PROPERTY}S!C2"><vt:lpwstr>{message.replace(chr(34), "&quot;")}' \
        in props or f'name="{ERROR_PROPERTY}S!C2"><vt:lpwstr>{message}' in props


def test_every_reader_reads_the_error_cells_and_the_file_refreshes_again(refreshed, tmp_path):
    out, first = refreshed
    rows = CalamineWorkbook.from_path(str(out)).get_sheet_by_name("S").to_python()
    assert rows[0][2] == 1500.0 and rows[2][2] == 750.0  # no CalamineError on the error cells
    again = tmp_path / "again.xlsx"
    second = refresh(out, again)
    assert second.errors == first.errors
    assert _values(again) == _values(out)
    assert zipfile.ZipFile(again).read("docProps/custom.xml") == \
        zipfile.ZipFile(out).read("docProps/custom.xml")


def test_a_later_refresh_without_errors_removes_their_record(refreshed, tmp_path):
    out, _ = refreshed
    fixed = tmp_path / "fixed.xlsx"
    wb = openpyxl.load_workbook(out)
    wb["S"]["A2"] = 200
    wb.save(fixed)
    assert ERROR_PROPERTY in zipfile.ZipFile(fixed).read("docProps/custom.xml").decode()
    done = tmp_path / "done.xlsx"
    result = refresh(fixed, done)
    assert result.errors == []
    v = _values(done)
    assert v["B1"][0] == pytest.approx(ue.ltv(100, 3, 5) + ue.ltv(200, 3, 5) + ue.ltv(50, 3, 5))
    assert v["B6"][0] in ("", None)
    names = zipfile.ZipFile(done).namelist()
    props = zipfile.ZipFile(done).read("docProps/custom.xml").decode() \
        if "docProps/custom.xml" in names else ""
    assert ERROR_PROPERTY not in props and ERROR_COUNT_PROPERTY not in props


def test_the_text_convention_keeps_the_texts(tmp_path):
    out = tmp_path / "out.xlsx"
    result = refresh(_book(tmp_path / "in.xlsx", text_convention=True), out)
    assert result.errors == []
    v = _values(out)
    # as ltvxl did before error values, and as xlwings Lite shows: SUM skips the text
    assert v["B1"][0] == pytest.approx(ue.ltv(100, 3, 5) + ue.ltv(50, 3, 5)) == 2250
    assert v["B4"] == ('#VALUE! avg_purchase_value must be a number, got text "n/a"', "s")
    assert v["B3"][0] is False and v["B12"][0] == "text"


def test_the_command_lists_the_error_cells(tmp_path, capsys):
    from ltvxl.cli import main

    src = _book(tmp_path / "in.xlsx")
    assert main(["refresh", str(src), "-o", str(tmp_path / "out.xlsx")]) == 0
    err = capsys.readouterr().err
    assert "3 cells hold an error value from an ltvxl function" in err
    assert 'S!C2: #VALUE! avg_purchase_value must be a number, got text "n/a"' in err


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed")
def test_libreoffice_reads_the_error_cells(refreshed, tmp_path):
    out, _ = refreshed
    subprocess.run(["soffice", "--headless", "--convert-to", "csv", "--outdir", str(tmp_path),
                    str(out)], check=True, capture_output=True, timeout=180)
    rows = list(csv.reader((tmp_path / "out.csv").open(encoding="utf-8", errors="replace")))
    # LibreOffice recalculates every formula cell whose stored value is an error (a cell of
    # =1+1 stored as #N/A shows 2, one stored as 7 shows 7), and it lacks the ltvxl
    # functions: the error cells show #NAME?, still errors; the stored values stay
    assert rows[0][1] == rows[3][1] == "#NAME?"
    assert (rows[1][1], rows[2][1], rows[7][1], rows[11][1]) == ("fallback", "TRUE", "1500",
                                                                 "no text")


def test_an_error_that_iteration_resolves_leaves_no_message(tmp_path):
    """A cell of a circular reference that is an ltvxl error in one iteration and a number
    in the last has no error recorded."""
    import re

    src, out = tmp_path / "in.xlsx", tmp_path / "out.xlsx"
    wb = xlsxwriter.Workbook(str(src))
    ws = wb.add_worksheet("S")
    # the first iteration: B1 blank, A1 = LTV("n/a", 1, 1), an error; B1 = 2; then A1 = 2
    ws.write_formula("A1", '=LTV(IF(B1="","n/a",B1),1,1)')
    ws.write_formula("B1", "=IFERROR(A1*0+2,2)")
    ws.write_formula("C1", "=LTV(A1,3,5)")
    wb.close()
    with zipfile.ZipFile(src) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    parts["xl/workbook.xml"] = re.sub(rb"<calcPr[^>]*/>", b'<calcPr calcId="124519" iterate="1"/>',
                                      parts["xl/workbook.xml"])
    with zipfile.ZipFile(src, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
    result = refresh(src, out)
    v = _values(out)
    assert v["A1"][0] == 2 and v["C1"][0] == pytest.approx(ue.ltv(2, 3, 5))
    assert result.errors == []
