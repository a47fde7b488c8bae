"""Per-cell scheduling, cycles, cells that cannot be computed, and the functions ltvxl
computes itself (SUBTOTAL, AGGREGATE, TODAY, NOW, ROW(), COLUMN())."""

from __future__ import annotations

import datetime as dt
import zipfile
from decimal import ROUND_HALF_UP, Decimal

import openpyxl
import pytest
import xlsxwriter

from ltvxl.workbook.refresh import STALE_COUNT_PROPERTY, STALE_PROPERTY, RefreshError, refresh


def _loan_book(path, months=24, principal=10_000.0, rate=0.06 / 12):
    """A loan amortisation schedule as analysts write it: filled-down formulas where each
    row's balance reads the row above and interest reads the balance."""
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Loan")
    ws.write_row("A1", ["rate", rate, "payment"])
    ws.write_formula("D1", f"=ROUND(-PMT(B1,{months},{principal}),2)")
    ws.write_row("A3", ["month", "interest", "principal", "balance"])
    ws.write_row("A4", [0, None, None, principal])
    for i in range(5, 5 + months):
        ws.write_formula(f"A{i}", f"=A{i - 1}+1")
        ws.write_formula(f"B{i}", f"=ROUND(D{i - 1}*$B$1,2)")
        ws.write_formula(f"C{i}", f"=$D$1-B{i}")
        ws.write_formula(f"D{i}", f"=D{i - 1}-C{i}")
    wb.close()


def _half_up(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def test_a_loan_schedule_refreshes_row_by_row(tmp_path):
    path, out = tmp_path / "loan.xlsx", tmp_path / "out.xlsx"
    months, principal, rate = 24, Decimal(10_000), Decimal("0.005")
    _loan_book(path, months, float(principal), float(rate))
    refresh(path, out)
    ws = openpyxl.load_workbook(out, data_only=True)["Loan"]
    # independently: PMT = P r / (1 - (1 + r)^-n), rounded to cents as the sheet does
    payment = _half_up(principal * rate / (1 - (1 + rate) ** -months))
    assert ws["D1"].value == pytest.approx(float(payment))
    balance = principal
    for i in range(5, 5 + months):
        interest = _half_up(balance * rate)
        balance = balance - (payment - interest)
        assert ws[f"B{i}"].value == pytest.approx(float(interest), abs=1e-9)
        assert ws[f"D{i}"].value == pytest.approx(float(balance), abs=1e-6)
    assert abs(ws[f"D{4 + months}"].value) < 1.0  # paid off to within the cents rounding


def test_a_self_reference_is_a_circular_reference(tmp_path):
    path = tmp_path / "self.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    wb.add_worksheet("S").write_formula("A1", "=A1+1")
    wb.close()
    with pytest.raises(RefreshError, match=r"S!A1 =A1\+1: a circular reference: it refers to "
                                           "itself"):
        refresh(path, tmp_path / "o.xlsx")
    assert not (tmp_path / "o.xlsx").exists()


def test_only_the_cells_of_a_cycle_are_named_and_keep_going_writes_the_rest(tmp_path):
    path, out = tmp_path / "c.xlsx", tmp_path / "out.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("C")
    ws.write_formula("A1", "=B1+1", None, 7)
    ws.write_formula("B1", "=A1+1", None, 6)
    ws.write_formula("C1", "=A1*2", None, 14)  # after the cycle: cannot be computed either
    ws.write("D1", 5)
    ws.write_formula("E1", "=D1*2", None, 0)  # independent: computed
    ws.write_formula("F1", "=NOSUCHFUNC(D1)", None, 3)
    wb.close()
    with pytest.raises(RefreshError) as err:
        refresh(path, out)
    text = str(err.value)
    assert "C!A1 =B1+1: a circular reference: C!A1, C!B1 refer to each other" in text
    assert "C!F1 =NOSUCHFUNC(D1): function NOSUCHFUNC is not known" in text
    assert "and 1 cell that depend on them" in text and "E1" not in text
    result = refresh(path, out, keep_going=True)
    assert {c for c, _ in result.stale} == {"C!A1", "C!B1", "C!C1", "C!F1"}
    ws = openpyxl.load_workbook(out, data_only=True)["C"]
    assert [ws[c].value for c in ("A1", "B1", "C1", "E1", "F1")] == [7, 6, 14, 10, 3]
    props = zipfile.ZipFile(out).read("docProps/custom.xml").decode()
    assert STALE_PROPERTY in props and "C!A1 C!B1 C!C1 C!F1" in props
    assert STALE_COUNT_PROPERTY in props and "<vt:i4>4</vt:i4>" in props
    # a book that refreshes cleanly afterwards loses the record
    fixed = tmp_path / "fixed.xlsx"
    wb = openpyxl.load_workbook(out)
    for c in ("A1", "B1", "C1", "F1"):
        wb["C"][c] = 1
    wb.save(fixed)
    again = refresh(fixed, tmp_path / "again.xlsx")
    assert again.stale == []


def test_an_unknown_name_is_name_error_in_that_cell_only(tmp_path):
    path, out = tmp_path / "n.xlsx", tmp_path / "out.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("N")
    ws.write("A1", 2)
    ws.write_formula("B1", "=na")
    ws.write_formula("C1", "=A1*3")
    ws.write_formula("D1", "=IFERROR(na, -1)")
    wb.close()
    refresh(path, out)
    ws = openpyxl.load_workbook(out, data_only=True)["N"]
    assert [ws[c].value for c in ("B1", "C1", "D1")] == ["#NAME?", 6, -1]


def test_filled_down_independent_formulas_still_batch(tmp_path):
    import ltvxl.workbook.refresh.engine as engine

    path = tmp_path / "b.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("B")
    for i in range(1, 101):
        ws.write(f"A{i}", i)
        ws.write_formula(f"B{i}", f"=ROUND(A{i}/3,2)")
    wb.close()
    calls = []
    original = engine.Engine._evaluate_group

    def spy(self, members):
        calls.append(len(members))
        return original(self, members)

    engine.Engine._evaluate_group = spy
    try:
        refresh(path, tmp_path / "o.xlsx")
    finally:
        engine.Engine._evaluate_group = original
    assert calls == [100]


def _table_book(path, hidden_row=None):
    """A table with a total row, as Excel writes one (SUBTOTAL 109 ignores nested subtotals
    and, for codes over 100, hidden rows)."""
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("T")
    data = [["a", 10, 1.5], ["b", 20, 2.5], ["c", 30, 3.5], ["d", 40, 4.5]]
    ws.add_table("A1:C6", {"data": data, "total_row": True, "columns": [
        {"header": "name", "total_string": "Total"},
        {"header": "amount", "total_function": "sum"},
        {"header": "rate", "total_function": "average"}]})
    ws.write_formula("E1", "=SUBTOTAL(9,B2:B6)")  # the total row's own SUBTOTAL is left out
    ws.write_formula("E2", "=SUBTOTAL(2,A2:C5)")
    ws.write_formula("E3", "=AGGREGATE(9,4,B2:B6)")  # option 4: counts the nested total too
    ws.write_formula("E4", "=AGGREGATE(14,6,B2:B5,2)")  # LARGE(,2)
    ws.write_formula("E5", "=AGGREGATE(16,0,B2:B5,0.25)")  # PERCENTILE.INC
    ws.write_formula("E6", "=SUBTOTAL(1,B2:B5)")
    ws.write_formula("E7", "=SUBTOTAL(101,B2:B5)")
    if hidden_row:
        ws.set_row(hidden_row - 1, None, None, {"hidden": True})
    wb.close()


def test_subtotal_and_aggregate_as_excel(tmp_path):
    path, out = tmp_path / "t.xlsx", tmp_path / "out.xlsx"
    _table_book(path, hidden_row=3)
    refresh(path, out)
    ws = openpyxl.load_workbook(out, data_only=True)["T"]
    # the total row: SUBTOTAL(109,...) and SUBTOTAL(101,...) leave the hidden row 3 out
    assert ws["B6"].value == 80 and ws["C6"].value == pytest.approx(9.5 / 3)
    assert ws["E1"].value == 100
    assert ws["E2"].value == 8
    assert ws["E3"].value == 180
    assert ws["E4"].value == 30
    assert ws["E5"].value == pytest.approx(17.5)  # Excel: PERCENTILE.INC({10,20,30,40},0.25)
    assert ws["E6"].value == 25  # code 1 counts the hidden row 3
    assert ws["E7"].value == pytest.approx(80 / 3)  # code 101 leaves it out


def test_row_and_column_without_arguments_and_today(tmp_path):
    path, out = tmp_path / "r.xlsx", tmp_path / "out.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("R")
    ws.write_formula("C5", "=ROW()*100+COLUMN()")
    ws.write_formula("A1", "=TODAY()")
    ws.write_formula("A2", "=NOW()-TODAY()")
    wb.close()
    before = dt.date.today()
    result = refresh(path, out)
    ws = openpyxl.load_workbook(out, data_only=True)["R"]
    assert ws["C5"].value == 503
    assert ws["A1"].value.date() in (before, dt.date.today())
    assert 0 <= ws["A2"].value < 1
    assert sum("TODAY() and NOW() are the time of this refresh" in w for w in result.warnings) == 1


def _small_book(path):
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("S")
    ws.write("A1", 2)
    ws.write_formula("B1", "=A1*2")
    wb.close()


def _without(src, dst, drop=(), replace=None):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename in drop:
                continue
            data = zin.read(info)
            if replace and info.filename in replace:
                data = replace[info.filename](data)
            zout.writestr(info.filename, data)


@pytest.mark.parametrize(("drop", "message"), [
    ("[Content_Types].xml", r"no \[Content_Types\].xml"),
    ("xl/_rels/workbook.xml.rels", r"no workbook relationships, xl/_rels/workbook.xml.rels"),
])
def test_incomplete_packages_are_refused(tmp_path, drop, message):
    from ltvxl.workbook.xlsx import WorkbookError

    good, bad = tmp_path / "good.xlsx", tmp_path / "bad.xlsx"
    _small_book(good)
    _without(good, bad, drop=(drop,))
    with pytest.raises(WorkbookError, match=message):
        refresh(bad, tmp_path / "o.xlsx")
    assert not (tmp_path / "o.xlsx").exists()


def test_a_truncated_sheet_and_a_zip_bomb_are_messages(tmp_path):
    from ltvxl.workbook.xlsx import WorkbookError

    good = tmp_path / "good.xlsx"
    _small_book(good)
    cut = tmp_path / "cut.xlsx"
    _without(good, cut, replace={"xl/worksheets/sheet1.xml": lambda d: d[: d.find(b"</row>")]})
    with pytest.raises(WorkbookError, match=r"sheet S: .*(not closed|truncated)"):
        refresh(cut, tmp_path / "o.xlsx")
    bomb = tmp_path / "bomb.xlsx"
    _without(good, bomb, replace={"docProps/core.xml": lambda d: d + b" " * (60 << 20)})
    with pytest.raises(WorkbookError, match=r"part docProps/core.xml inflates to 60 MiB .* "
                                            "refused unread"):
        refresh(bomb, tmp_path / "o.xlsx")


def _iterative_book(path, calc_pr: str) -> None:
    """Interest on the average balance (a circular reference) and a self-reference, in a
    book whose ``<calcPr>`` is ``calc_pr``."""
    import re

    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("S")
    ws.write_formula("A1", "=100+0.1*B1")  # A = 100 + 0.1 B, B = A / 2: A = 100 / 0.95
    ws.write_formula("B1", "=A1/2")
    ws.write_formula("C1", "=A1+B1")  # after the cycle
    ws.write_formula("D1", "=D1+1")  # never converges: +1 per iteration
    wb.close()
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    parts["xl/workbook.xml"] = re.sub(rb"<calcPr[^>]*/>", calc_pr.encode(),
                                      parts["xl/workbook.xml"])
    with zipfile.ZipFile(path, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)


def test_a_book_asking_for_iteration_is_iterated_as_excel_does(tmp_path):
    src, out = tmp_path / "in.xlsx", tmp_path / "out.xlsx"
    _iterative_book(src, '<calcPr calcId="124519" iterate="1"/>')  # Excel's 100 and 0.001
    result = refresh(src, out)
    assert result.stale == []
    s = openpyxl.load_workbook(out, data_only=True)["S"]
    a, b = s["A1"].value, s["B1"].value
    assert a == pytest.approx(100 / 0.95, abs=0.001) and b == pytest.approx(a / 2, abs=0.001)
    assert a != 100 / 0.95  # stopped once the change was under 0.001, as Excel stops
    assert s["C1"].value == pytest.approx(a + b)
    assert s["D1"].value == 100  # the maximum of 100 iterations, from blank
    assert any("S!A1, S!B1: a circular reference computed by iterative calculation" in w
               and "converged" in w for w in result.warnings)
    assert any("S!D1" in w and "maximum of 100 iterations" in w for w in result.warnings)


def test_iteration_follows_the_books_count_and_change(tmp_path):
    src, out = tmp_path / "in.xlsx", tmp_path / "out.xlsx"
    _iterative_book(src, '<calcPr calcId="124519" iterate="1" iterateCount="2" '
                         'iterateDelta="0.5"/>')
    refresh(src, out)
    s = openpyxl.load_workbook(out, data_only=True)["S"]
    # from blanks, in row order: A1 = 100, B1 = 50; then A1 = 105, B1 = 52.5 (2 iterations)
    assert [s[c].value for c in ("A1", "B1", "C1", "D1")] == [105, 52.5, 157.5, 2]


def test_without_iteration_a_cycle_is_refused(tmp_path):
    src = tmp_path / "in.xlsx"
    _iterative_book(src, '<calcPr calcId="124519"/>')
    with pytest.raises(RefreshError, match="S!A1, S!B1 refer to each other"):
        refresh(src, tmp_path / "out.xlsx")
