"""Spills as Excel spills them, and error cells every reader accepts: a refreshed file
refreshes again."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from python_calamine import CalamineWorkbook

from ltvxl.workbook.refresh import refresh
from ltvxl.workbook.xlsx import stored_error


def _sheet_xml(path: Path, n: int = 1) -> str:
    return zipfile.ZipFile(path).read(f"xl/worksheets/sheet{n}.xml").decode()


def _blocked_book(path: Path) -> None:
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("S")
    ws.write_row("B1", [1, 2, 3])
    ws.write("G3", "in the way")
    ws.write_dynamic_array_formula("G1:G1", "=TRANSPOSE(B1:D1)*2")  # 3 rows down: blocked
    ws.write_dynamic_array_formula("I1:I1", "=TRANSPOSE(B1:D1)*10")  # room to spill
    ws.write_formula("E1", "=1/0")
    ws.write_formula("E2", "=SUM(I1:I3)")
    wb.close()


def test_a_spill_error_is_an_error_cell_every_reader_reads_and_refreshes_again(tmp_path):
    src, once, twice = tmp_path / "in.xlsx", tmp_path / "once.xlsx", tmp_path / "twice.xlsx"
    _blocked_book(src)
    first = refresh(src, once)
    assert any("S!G1: #SPILL!" in w for w in first.warnings)
    xml = _sheet_xml(once)
    # Excel stores #SPILL! as #VALUE! in <v> (the kind is rich-value metadata)
    assert re.search(r'<c r="G1" t="e"[^>]*><f[^>]*>[^<]*</f><v>#VALUE!</v></c>', xml)
    assert re.search(r'<c r="E1" t="e"><f>1/0</f><v>#DIV/0!</v></c>', xml)
    sheet = CalamineWorkbook.from_path(str(once)).get_sheet_by_name("S")
    rows, (r0, c0) = sheet.to_python(), sheet.start  # the used area from its first cell
    assert [rows[r - r0][8 - c0] for r in range(3)] == [10.0, 20.0, 30.0]  # I1:I3
    s = openpyxl.load_workbook(once, data_only=True)["S"]
    assert (s["G1"].value, s["E1"].value, s["E2"].value) == ("#VALUE!", "#DIV/0!", 60)
    second = refresh(once, twice)  # python-calamine reads the first refresh's error cells
    assert any("S!G1: #SPILL!" in w for w in second.warnings)
    a = openpyxl.load_workbook(once, data_only=True)["S"]
    b = openpyxl.load_workbook(twice, data_only=True)["S"]
    assert [[c.value for c in r] for r in a.iter_rows()] == \
        [[c.value for c in r] for r in b.iter_rows()]


@pytest.mark.parametrize("code,stored", [("#DIV/0!", "#DIV/0!"), ("#N/A", "#N/A"),
                                         ("#NAME?", "#NAME?"), ("#SPILL!", "#VALUE!"),
                                         ("#CALC!", "#VALUE!"), ("#GETTING_DATA", "#N/A"),
                                         ("#BOGUS", "#VALUE!")])
def test_error_values_are_stored_as_the_seven_of_the_file_format(code, stored):
    assert stored_error(code) == stored


def test_a_whole_row_spills_to_the_last_column_as_in_excel(tmp_path):
    src, out = tmp_path / "in.xlsx", tmp_path / "out.xlsx"
    wb = xlsxwriter.Workbook(str(src))
    ws = wb.add_worksheet("S")
    first = wb.add_worksheet("First")
    first.write_row("A1", [1, "a", True])
    first.write("Z1", 5)
    ws.write_dynamic_array_formula("A5:A5", "=First!1:1")
    ws.write_formula("A1", "=COUNTBLANK(First!1:1)")
    wb.close()
    refresh(src, out)
    xml = _sheet_xml(out)
    assert '<f t="array" ref="A5:XFD5">First!1:1</f>' in xml
    assert len(re.findall(r'<c r="[A-Z]+5"', xml)) == 16384
    sheet = CalamineWorkbook.from_path(str(out)).get_sheet_by_name("S")
    assert sheet.start == (0, 0)
    rows = sheet.to_python()
    assert rows[4][:4] == [1.0, "a", True, 0.0] and rows[4][25] == 5.0
    assert rows[4][16383] == 0.0  # XFD5: blanks spill as 0, as Excel shows them
    assert rows[0][0] == 16384 - 4  # COUNTBLANK sees the whole row too


def test_a_spill_never_overwrites_a_formula_cell(tmp_path):
    """A dynamic array whose spill would cover another formula (even the anchor of an old
    one-cell spill range) is #SPILL!, and the other formula stays (it was deleted)."""
    src, out = tmp_path / "in.xlsx", tmp_path / "out.xlsx"
    wb = xlsxwriter.Workbook(str(src))
    ws = wb.add_worksheet("S")
    ws.write_column("C1", [10, 20])
    ws.write_dynamic_array_formula("A1", "=C1:C2*10")
    ws.write_dynamic_array_formula("A2", "=SUM(C1:C2)")
    wb.close()
    result = refresh(src, out)
    assert any("S!A1: #SPILL!" in w for w in result.warnings)
    xml = _sheet_xml(out)
    assert re.search(r'<c r="A2"[^>]*><f t="array" ref="A2">SUM\(C1:C2\)</f><v>30</v></c>', xml)
    s = openpyxl.load_workbook(out, data_only=True)["S"]
    assert (s["A1"].value, s["A2"].value) == ("#VALUE!", 30)


def test_a_legacy_array_beyond_its_result_is_the_function_of_na(tmp_path):
    """Excel pads a legacy array formula's arguments with #N/A to the size of its range, so
    ISNA(A1:A3) entered over five cells ends in TRUE and ISNUMBER in FALSE (the corpus'
    INFORMATION sheet); other formulas end in #N/A."""
    src, out = tmp_path / "in.xlsx", tmp_path / "out.xlsx"
    wb = xlsxwriter.Workbook(str(src))
    ws = wb.add_worksheet("S")
    ws.write_column("A1", [1, "x", 3])
    ws.write_array_formula("B1:B5", "{=ISNA(A1:A3)}")
    ws.write_array_formula("C1:C5", "{=ISNUMBER(A1:A3)}")
    ws.write_array_formula("D1:D5", "{=A1:A3}")
    wb.close()
    refresh(src, out)
    s = openpyxl.load_workbook(out, data_only=True)["S"]
    assert [s[f"B{r}"].value for r in range(1, 6)] == [False, False, False, True, True]
    assert [s[f"C{r}"].value for r in range(1, 6)] == [True, False, True, False, False]
    assert [s[f"D{r}"].value for r in range(1, 6)] == [1, "x", 3, "#N/A", "#N/A"]


def test_text_results_keep_spaces_and_carriage_returns_as_excel_writes_them(tmp_path):
    """Excel writes ``<v xml:space="preserve">`` for text with outer spaces and a carriage
    return as ``_x000D_`` (a raw one would read back as a line feed)."""
    src, out = tmp_path / "in.xlsx", tmp_path / "out.xlsx"
    wb = xlsxwriter.Workbook(str(src))
    ws = wb.add_worksheet("S")
    ws.write_formula("A1", '=" x "')
    ws.write_formula("A2", '="a"&CHAR(13)&"b"')
    ws.write_formula("A3", "=CHAR(9)")
    wb.close()
    refresh(src, out)
    xml = _sheet_xml(out)
    assert '<v xml:space="preserve"> x </v>' in xml and "<v>a_x000D_b</v>" in xml
    assert '<v xml:space="preserve">\t</v>' in xml
    s = openpyxl.load_workbook(out, data_only=True)["S"]
    assert (s["A1"].value, s["A3"].value) == (" x ", "\t")


def test_a_text_cell_of_no_characters_is_not_a_blank(tmp_path):
    """Excel stores an empty text as a shared string of no characters; python-calamine reads
    it as a blank, but Excel's COUNTA counts it and ISBLANK is FALSE (the corpus' STATISTICAL
    and TEXT sheets)."""
    src, out = tmp_path / "in.xlsx", tmp_path / "out.xlsx"
    wb = xlsxwriter.Workbook(str(src))
    ws = wb.add_worksheet("S")
    ws.write("B1", "EMPTY_ME")
    ws.write("B2", 5)
    ws.write_formula("A1", "=COUNTA(B1:B3)")
    ws.write_formula("A2", "=ISBLANK(B1)")
    ws.write_formula("A3", "=ISBLANK(B3)")
    ws.write_formula("A4", '=B1=""')
    wb.close()
    with zipfile.ZipFile(src) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    parts["xl/sharedStrings.xml"] = parts["xl/sharedStrings.xml"].replace(
        b"<t>EMPTY_ME</t>", b"<t/>")
    with zipfile.ZipFile(src, "w") as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    refresh(src, out)
    s = openpyxl.load_workbook(out, data_only=True)["S"]
    assert [s[f"A{r}"].value for r in range(1, 5)] == [2, False, True, True]


def test_a_range_to_the_last_row_spills_to_the_last_row_as_in_excel(tmp_path):
    # =Data!A:A spills 1,048,576 rows as in Excel (blanks as 0); the same code on ranges
    # that end at the last row, kept short here: from row 1,048,000 (577 rows)
    src, out = tmp_path / "in.xlsx", tmp_path / "out.xlsx"
    wb = xlsxwriter.Workbook(str(src))
    ws = wb.add_worksheet("S")
    data = wb.add_worksheet("Data")
    data.write_column("A1048000", [1, 2, 3])
    ws.write_dynamic_array_formula("A1:A1", "=Data!A1048000:A1048576")
    ws.write_dynamic_array_formula("E2:E2", "=Data!A:A")  # from row 2: past the last row
    wb.close()
    result = refresh(src, out)
    assert any("S!E2: #SPILL!" in w and "past the sheet's last row" in w
               for w in result.warnings)
    xml = _sheet_xml(out)
    assert '<f t="array" ref="A1:A577">Data!A1048000:A1048576</f>' in xml
    assert re.search(r'<c r="E2"[^>]*t="e"[^>]*>.*?<v>#VALUE!</v>', xml)
    rows = CalamineWorkbook.from_path(str(out)).get_sheet_by_name("S").to_python()
    assert [r[0] for r in rows[:4]] == [1.0, 2.0, 3.0, 0.0] and rows[576][0] == 0.0
    assert len(rows) == 577  # the spill ends at the range's size


def test_excels_metadata_of_an_error_stays_with_the_same_error(tmp_path):
    """A spilled error cell keeps Excel's value metadata (``vm``: the error's kind in rich
    values) when the refresh writes the same error there, and loses it otherwise."""
    src, out = tmp_path / "in.xlsx", tmp_path / "out.xlsx"
    wb = xlsxwriter.Workbook(str(src))
    ws = wb.add_worksheet("S")
    ws.write_column("A1", [1, 0, 2])
    ws.write_dynamic_array_formula("B1:B3", "=1/A1:A3")  # B2 is #DIV/0!
    ws.write_dynamic_array_formula("D1:D3", "=A1:A3*1")
    wb.close()
    with zipfile.ZipFile(src) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    xml = parts["xl/worksheets/sheet1.xml"].decode()
    for cell, value in (("B2", "#DIV/0!"), ("D2", "#N/A")):  # as Excel would have saved them
        xml = re.sub(rf'<c r="{cell}"[^>]*?(/>|>.*?</c>)',
                     f'<c r="{cell}" t="e" vm="1"><v>{value}</v></c>', xml, count=1)
    parts["xl/worksheets/sheet1.xml"] = xml.encode()
    with zipfile.ZipFile(src, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
    refresh(src, out)
    got = _sheet_xml(out)
    assert re.search(r'<c r="B2"[^>]*t="e" vm="1"><v>#DIV/0!</v></c>', got)  # the same error
    assert re.search(r'<c r="D2"[^>]*><v>0</v></c>', got) and 'r="D2" t="e"' not in got
