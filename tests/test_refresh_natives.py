"""Native Excel functions the refresh computes as Excel does where ``formulas`` does not
(``ltvxl/workbook/refresh/natives.py``), against the examples of Microsoft's function
reference (support.microsoft.com, the function's page) and Excel's documented rules."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
import xlsxwriter

from ltvxl.workbook.refresh import refresh


def _refresh(tmp_path: Path, formulas: list[str], data: dict[str, object] | None = None,
             dynamic: tuple[str, ...] = ()) -> list[object]:
    """The refreshed values of formulas written to A1, A2, ... (``dynamic``: spilling ones)."""
    src, out = tmp_path / "in.xlsx", tmp_path / "out.xlsx"
    wb = xlsxwriter.Workbook(str(src))
    ws = wb.add_worksheet("S")
    for cell, value in (data or {}).items():
        ws.write(cell, value)
    for i, f in enumerate(formulas):
        if f in dynamic:
            ws.write_dynamic_array_formula(i, 0, i, 0, f)
        else:
            ws.write_formula(i, 0, f)
    wb.close()
    refresh(src, out)
    s = openpyxl.load_workbook(out, data_only=True)["S"]
    return [s.cell(i + 1, 1).value for i in range(len(formulas))]


# YEARFRAC's page: 1/1/2012 to 7/30/2012 is 0.58055556 (basis 0), 0.57650273 (1), 0.57808219 (3)
YEARFRAC_DOCS = [
    ("=YEARFRAC(DATE(2012,1,1),DATE(2012,7,30))", 0.58055556),
    ("=YEARFRAC(DATE(2012,1,1),DATE(2012,7,30),1)", 0.57650273),
    ("=YEARFRAC(DATE(2012,1,1),DATE(2012,7,30),3)", 0.57808219),
]
# Excel's rules: actual/actual over at most a year divides by 365, or 366 when the span holds
# a 29 February; 30/360 (US) counts the last day of February as the 30th when both dates are
# February's last; out-of-range basis or a negative date is #NUM!
YEARFRAC_RULES = [
    ("=YEARFRAC(DATE(2011,1,1),DATE(2012,1,1),1)", 1.0),  # formulas: 0.99863 (365.5 days)
    ("=YEARFRAC(DATE(2012,1,1),DATE(2013,1,1),1)", 1.0),  # formulas: 1.00137
    ("=YEARFRAC(DATE(2011,3,1),DATE(2012,3,1),1)", 1.0),
    ("=YEARFRAC(DATE(2012,2,29),DATE(2013,2,28),0)", 1.0),  # formulas: 0.99444 (358/360)
    ("=YEARFRAC(DATE(2012,7,30),DATE(2012,1,1),1)", 0.57650273),  # dates in either order
    ("=YEARFRAC(DATE(2012,4,1),DATE(2014,4,30),1)", 759 / (1096 / 3)),
    ("=YEARFRAC(DATE(2012,1,31),DATE(2012,3,31),4)", 60 / 360),
    ("=YEARFRAC(DATE(2012,1,1),DATE(2012,7,30),5)", "#NUM!"),
    ("=YEARFRAC(-1,DATE(2012,7,30))", "#NUM!"),
]


@pytest.mark.parametrize("formula,expected", YEARFRAC_DOCS + YEARFRAC_RULES)
def test_yearfrac_as_excel(tmp_path, formula, expected):
    got = _refresh(tmp_path, [formula])[0]
    if isinstance(expected, str):
        assert got == expected
    else:
        assert got == pytest.approx(expected, abs=5e-9)


def test_vdb_as_the_reference(tmp_path):
    """VDB's page: cost 2,400, salvage 300, a life of 10 years; and the whole life (with the
    switch to straight line) depreciates cost - salvage, which formulas refused (#VALUE!)."""
    cases = [("=VDB(2400,300,10*365,0,1)", 1.32), ("=VDB(2400,300,10*12,0,1)", 40.00),
             ("=VDB(2400,300,10,0,1)", 480.00), ("=VDB(2400,300,10*12,6,18)", 396.31),
             ("=VDB(2400,300,10*12,6,18,1.5)", 311.81),
             ("=VDB(2400,300,10,0,0.875,1.5)", 315.00),
             ("=VDB(2400,300,10,0,10,1.5)", 2100.0), ("=VDB(2400,300,10,0,10)", 2100.0),
             ("=VDB(2400,300,10,5,10,2,TRUE)", 2400 * 0.8 ** 5 - 300)]
    got = _refresh(tmp_path, [f for f, _ in cases])
    for (formula, expected), value in zip(cases, got, strict=True):
        assert value == pytest.approx(expected, abs=0.005), formula
    bad = _refresh(tmp_path, ["=VDB(2400,300,10,3,2)", "=VDB(-1,300,10,0,1)"])
    assert bad == ["#NUM!", "#NUM!"]


def test_text_formats_of_the_reference(tmp_path):
    """TEXT's page, and elapsed hours/minutes/seconds (``[h]``: hours beyond 24)."""
    cases = [('=TEXT(1234.567,"$#,##0.00")', "$1,234.57"), ('=TEXT(0.285,"0.0%")', "28.5%"),
             ('=TEXT(4.34,"# ?/?")', "4 1/3"), ('=TRIM(TEXT(0.34,"# ?/?"))', "1/3"),
             ('=TEXT(12200000,"0.00E+00")', "1.22E+07"), ('=TEXT(1234,"0000000")', "0001234"),
             ('=TEXT(TIME(13,29,0),"h:mm AM/PM")', "1:29 PM"),
             ('=TEXT(DATE(2012,1,9)+TIME(17,15,0),"mm/dd/yyyy h:mm AM/PM")',
              "01/09/2012 5:15 PM"),
             ('=TEXT(28.25/24,"[h]:mm")', "28:15"), ('=TEXT(1.5,"[h]")', "36"),
             ('=TEXT(1.75,"[hh]:mm:ss")', "42:00:00"), ('=TEXT(0.0625,"[mm]:ss")', "90:00"),
             ('=TEXT(TIME(0,1,30),"[s]")', "90"), ('=TEXT(TIME(9,5,0),"h:mm a/p")', "9:05 a"),
             ('=TEXT(DATE(2012,1,9),"dddd, mmmm d")', "Monday, January 9")]
    got = _refresh(tmp_path, [f for f, _ in cases])
    assert got == [e for _, e in cases]


def test_switch_compares_text_without_case_and_never_a_number_with_a_logical(tmp_path):
    got = _refresh(tmp_path, ['=SWITCH("b","A",1,"B",2)', '=SWITCH(1,TRUE,"t","n")',
                              '=SWITCH(WEEKDAY(DATE(2018,2,22)),1,"Sunday",2,"Monday",'
                              '3,"Tuesday","No match")', '=SWITCH(2,1,"a",2,"b")'])
    assert got == [2, "n", "No match", "b"]


def test_type_rules_of_is_functions_n_and_double_negation(tmp_path):
    """IS functions' page: ``ISNUMBER("19")`` is FALSE (the value is not converted); N's
    page: TRUE is 1; Excel's unary minus makes a number of a logical value or numeric text
    (``--`` is the usual way to count conditions with SUMPRODUCT)."""
    data = {"B1": "x", "B2": "y", "B3": "x", "B4": 3, "B5": 1, "B6": 2, "B7": 3}
    formulas = ['=ISNUMBER("19")', "=ISNUMBER(B4)", "=N(TRUE)", "=N(FALSE)", '=N("7")',
                '=--("A"="B")', "=--TRUE", '=--"1"', "=---TRUE", "=--B1",
                '=SUMPRODUCT(--(B1:B3="x"))', '=SUMPRODUCT(--(B1:B3="x"),--(B5:B7>1))',
                "=2^--B4", "=--B4^2", "=1--B4", "=-+-B4", "=--B4%", "=+TRUE"]
    got = _refresh(tmp_path, formulas, data)
    assert got == [False, True, 1, 0, 0, 0, 1, 1, -1, "#VALUE!", 2, 1, 8, 9, 4, 3, 0.03, True]


def test_choose_takes_only_the_chosen_argument(tmp_path):
    """CHOOSE's page: the chosen value may be a range (``SUM(CHOOSE(2, A, B))`` sums B); a
    range the index does not choose does not widen the result into a spill."""
    data = {"B1": 1, "B2": 2, "B3": 3, "C1": 10, "C2": 20, "C3": 30}
    got = _refresh(tmp_path, ["=SUM(CHOOSE(2,B1:B3,C1:C3))", "=CHOOSE(3,1,2)",
                              '=CHOOSE("2",7,8)', "=CHOOSE(1,5,B1:B3)"], data,
                   dynamic=("=CHOOSE(1,5,B1:B3)",))
    assert got == [60, "#VALUE!", 8, 5]
    s = openpyxl.load_workbook(tmp_path / "out.xlsx", data_only=True)["S"]
    assert s["A5"].value is None  # the dynamic CHOOSE in A4 did not spill


def test_trunc_rounds_to_fifteen_digits_first(tmp_path):
    """TRUNC's page (8.9 -> 8, -8.9 -> -8, 0.45 -> 0); a difference such as 0.1 - 0.9 is
    -0.8 to Excel's 15 digits, so TRUNC(..., 1) is -0.8 (the corpus' EXTRA!C24), not -0.7."""
    got = _refresh(tmp_path, ["=TRUNC(8.9)", "=TRUNC(-8.9)", "=TRUNC(0.45)",
                              "=TRUNC(0.1-0.9,1)", "=TRUNC(1234.5678,-2)", "=TRUNC(0.99999,2)"])
    assert got == [8, -8, 0, -0.8, 1200, 0.99]


def test_let_lambda_and_functions_passed_by_name(tmp_path):
    """LET's page: ``LET(x, 1, x + 1)`` is 2; LAMBDA helpers (BYROW, MAP) and a function passed
    by name (GROUPBY's ``SUM``, stored as ``_xleta.SUM``) as ``formulas`` evaluates them; a
    LAMBDA called where it is written is refused with the reason."""
    from ltvxl.workbook.refresh import RefreshError

    src, out = tmp_path / "in.xlsx", tmp_path / "out.xlsx"
    wb = xlsxwriter.Workbook(str(src))
    ws = wb.add_worksheet("S")
    for cell, value in {"B1": 1, "B2": 2, "B3": 2, "C1": 10, "C2": 20, "C3": 30}.items():
        ws.write(cell, value)
    ws.write_formula("E1", "=_xlfn.LET(_xlpm.x,1,_xlpm.x+1)")
    ws.write_formula("E2", "=_xlfn.LET(_xlpm.v,C1:C3,SUM(_xlpm.v)*2)")
    ws.write_dynamic_array_formula("F1", "=_xlfn.BYROW(B1:C2,_xlfn.LAMBDA(_xlpm.r,SUM(_xlpm.r)))")
    ws.write_dynamic_array_formula("G1", "=_xlfn.MAP(C1:C2,_xlfn.LAMBDA(_xlpm.q,_xlpm.q*10))")
    ws.write_dynamic_array_formula("H1", "=_xlfn.GROUPBY(B1:B3,C1:C3,_xleta.SUM)")
    wb.close()
    refresh(src, out)
    s = openpyxl.load_workbook(out, data_only=True)["S"]
    assert (s["E1"].value, s["E2"].value) == (2, 120)
    assert [[c.value for c in r] for r in s["F1:I3"]] == \
        [[11, 100, 1, 10], [22, 200, 2, 50], [None, None, "Total", 60]]
    with pytest.raises(RefreshError, match="LAMBDA called where it is written"):
        _refresh(tmp_path, ["=_xlfn.LAMBDA(_xlpm.a,_xlpm.a+1)(4)"])


def test_intersection_operator_and_isformula(tmp_path):
    """The reference operators' page: a space intersects two references
    (``SUM(B5:B15 A7:D7)`` is B7); ISFORMULA's page: TRUE for a cell holding a formula,
    FALSE for a value, and TRUE in an array formula's range."""
    src, out = tmp_path / "in.xlsx", tmp_path / "out.xlsx"
    wb = xlsxwriter.Workbook(str(src))
    ws = wb.add_worksheet("S")
    for r in range(1, 16):
        ws.write_row(f"A{r}", [r, r * 10, r * 100, r * 1000])
    ws.write_formula("F1", "=SUM(B5:B15 A7:D7)")
    ws.write_formula("F2", "=SUM(A1:B2 B2:C3)")
    ws.write_formula("F3", "=AREAS((A1:B2,B2:C3) B1:B9)")
    ws.write_formula("F4", "=ISFORMULA(F1)")
    ws.write_formula("F5", "=ISFORMULA(A1)")
    ws.write_array_formula("H1:H2", "{=A1:A2*2}")
    ws.write_formula("F6", "=ISFORMULA(H2)")
    wb.close()
    refresh(src, out)
    s = openpyxl.load_workbook(out, data_only=True)["S"]
    assert [s[f"F{r}"].value for r in range(1, 7)] == [70, 20, 2, True, False, True]


def test_datevalue_timevalue_and_sequence(tmp_path):
    """DATEVALUE's and TIMEVALUE's pages (``"8/22/2011"`` is 40777, ``"22-MAY-2011"`` 40685,
    ``"2011/02/23"`` 40597; ``"2:24 AM"`` is 0.1, ``"22-Aug-2011 6:35 AM"`` 0.274305556);
    a plain number or a word is no date or time (#VALUE!); SEQUENCE's page: SEQUENCE(4, 5)
    counts 1 to 20 along the rows."""
    formulas = ['=DATEVALUE("8/22/2011")', '=DATEVALUE("22-MAY-2011")',
                '=DATEVALUE("2011/02/23")', '=TIMEVALUE("2:24 AM")',
                '=TIMEVALUE("22-Aug-2011 6:35 AM")', '=TIMEVALUE("2")', '=DATEVALUE("2")',
                '=TIMEVALUE("March")', "=SUM(_xlfn.SEQUENCE(4,5))",
                "=_xlfn.SEQUENCE(4,5)"]
    got = _refresh(tmp_path, formulas, dynamic=("=_xlfn.SEQUENCE(4,5)",))
    assert got[:3] == [40777, 40685, 40597]
    assert got[3:5] == pytest.approx([0.1, 0.274305556])
    assert got[5:] == ["#VALUE!", "#VALUE!", "#VALUE!", 210, 1]
    s = openpyxl.load_workbook(tmp_path / "out.xlsx", data_only=True)["S"]
    assert [[c.value for c in r] for r in s["A10:E13"]] == \
        [[5 * i + j + 1 for j in range(5)] for i in range(4)]


def test_bahttext_and_mode_mult_as_the_reference(tmp_path):
    """BAHTTEXT's page: 1234 is หนึ่งพันสองร้อยสามสิบสี่บาทถ้วน; satang, a negative amount and
    zero as in the corpus' TEXT sheet; MODE.MULT's page: the modes of
    {1,2,3,4,3,2,1,2,3,5,6,1} are 1, 2 and 3, a column in the order they first appear."""
    data = {f"B{i + 1}": v for i, v in enumerate([1, 2, 3, 4, 3, 2, 1, 2, 3, 5, 6, 1])}
    got = _refresh(tmp_path, ["=BAHTTEXT(1234)", "=BAHTTEXT(65.8)", "=BAHTTEXT(-1)",
                              "=BAHTTEXT(0)", "=BAHTTEXT(21)", "=BAHTTEXT(0.5)",
                              '=BAHTTEXT("x")', "=_xlfn.MODE.MULT(B1:B12)"], data,
                   dynamic=("=_xlfn.MODE.MULT(B1:B12)",))
    assert got[:7] == ["หนึ่งพันสองร้อยสามสิบสี่บาทถ้วน", "หกสิบห้าบาทแปดสิบสตางค์", "ลบหนึ่งบาทถ้วน",
                       "ศูนย์บาทถ้วน", "ยี่สิบเอ็ดบาทถ้วน", "ห้าสิบสตางค์", "#VALUE!"]
    s = openpyxl.load_workbook(tmp_path / "out.xlsx", data_only=True)["S"]
    assert [s[f"A{r}"].value for r in (8, 9, 10, 11)] == [1, 2, 3, None]


def test_a_formula_of_a_blank_cell_is_zero_to_the_cells_that_read_it(tmp_path):
    """``=C10`` of a blank cell is 0 in Excel, so AVERAGE over it counts it (the corpus'
    CORE!H30: AVERAGE(H26:H29) with H26 ``=VAL1``, a blank cell, is 1.5, not 2)."""
    got = _refresh(tmp_path, ["=C10", "=AVERAGE(A1,B5:B6)", "=COUNT(A1)"], {"B5": 1, "B6": 3})
    assert got == [0, pytest.approx(4 / 3), 1]


def test_xirr_of_the_reference_and_excels_search(tmp_path):
    # XIRR's page: -10,000 on 1/1/2008, then 2,750, 4,250, 3,250, 2,750 on 3/1/2008,
    # 10/30/2008, 2/15/2009, 4/1/2009: 0.373362535 (37.34%)
    data = {"B1": -10000, "B2": 2750, "B3": 4250, "B4": 3250, "B5": 2750}
    dates = ["DATE(2008,1,1)", "DATE(2008,3,1)", "DATE(2008,10,30)", "DATE(2009,2,15)",
             "DATE(2009,4,1)"]
    for r, d in enumerate(dates, start=1):
        data[f"C{r}"] = f"={d}"
    src = tmp_path / "x.xlsx"
    wb = xlsxwriter.Workbook(str(src))
    ws = wb.add_worksheet("S")
    for cell, value in data.items():
        (ws.write_formula if isinstance(value, str) else ws.write)(cell, value)
    ws.write_formula("A1", "=XIRR(B1:B5,C1:C5)")
    ws.write_formula("A2", "=XIRR(B1:B5,C1:C5,1)")
    ws.write_formula("A3", "=XIRR(B1:B5,C1:C5,4)")  # 4 halved twice is 1: the same search
    ws.write_formula("A4", "=XIRR({-100,90},{39448,39813},-0.5)")  # a year at -10 %
    wb.close()
    out = tmp_path / "out.xlsx"
    refresh(src, out)
    s = openpyxl.load_workbook(out, data_only=True)["S"]
    got = [s[f"A{r}"].value for r in range(1, 5)]
    assert got[0] == pytest.approx(0.373362535, abs=1e-8)
    assert got[1] == got[2] == pytest.approx(0.373362535, abs=1e-8)
    # the bisection stops within 1E-08 of the root, not at it (Excel's cached values in
    # tests/data/excel/formulas__test.xlsx, FINANCIAL!R54:X55, are such midpoints)
    assert got[1] != got[0]
    assert got[3] == pytest.approx(-0.1, abs=1e-8)


def test_implicit_intersection_of_a_formula_that_is_a_range(tmp_path):
    # Excel's implicit intersection (the @ operator's page): a formula saved without
    # dynamic-array metadata that is a reference to several cells gives the cell in its own
    # row (a column of cells) or column (a row of cells), #VALUE! when there is none
    src, out = tmp_path / "in.xlsx", tmp_path / "out.xlsx"
    wb = xlsxwriter.Workbook(str(src))
    ws = wb.add_worksheet("S")
    ws.write_column("A1", [10, 20, 30, 40, 50])
    ws.write_row("C8", [1, 2, 3])
    ws.write_formula("B3", "=A1:A5")  # row 3: A3
    ws.write_formula("B7", "=A1:A5")  # row 7 is outside A1:A5
    ws.write_formula("D9", "=C8:E8")  # column D: D8
    ws.write_formula("F10", "=A1:B2")  # two rows and two columns, F10 in neither
    ws.write_formula("G1", "=SUM(A1:A5)")  # a function of a range: no intersection
    wb.close()
    refresh(src, out)
    s = openpyxl.load_workbook(out, data_only=True)["S"]
    assert [s[c].value for c in ("B3", "B7", "D9", "F10", "G1")] == \
        [30, "#VALUE!", 2, "#VALUE!", 150]


def test_ifs_element_by_element_with_many_arguments(tmp_path):
    # IFS's page: =IFS(A2>89,"A",A2>79,"B",A2>69,"C",A2>59,"D",TRUE,"F") is "A" for 93
    grade = '=IFS(A1>89,"A",A1>79,"B",A1>69,"C",A1>59,"D",TRUE,"F")'
    # 33 pairs (66 arguments, more than numpy's ufuncs take) over a column of 2 cells
    many = "=IFS(" + ",".join(["B1:B2>5,1"] * 32) + ",TRUE,C1:C2)"
    src, out = tmp_path / "in.xlsx", tmp_path / "out.xlsx"
    wb = xlsxwriter.Workbook(str(src))
    ws = wb.add_worksheet("S")
    ws.write("A1", 93)
    ws.write_column("B1", [9, 0])
    ws.write_column("C1", [7, 8])
    ws.write_formula("D1", grade)
    ws.write_array_formula("E1:E2", "{" + many + "}")
    ws.write_formula("F1", '=IFS(FALSE,1,"text",2)')
    ws.write_formula("G1", "=IFS(FALSE,1)")
    wb.close()
    refresh(src, out)
    s = openpyxl.load_workbook(out, data_only=True)["S"]
    assert [s[c].value for c in ("D1", "E1", "E2", "F1", "G1")] == ["A", 1, 8, "#VALUE!", "#N/A"]


def test_bessel_functions_of_the_reference(tmp_path):
    # the functions' pages: BESSELI(1.5, 1) 0.981666428, BESSELJ(1.9, 2) 0.329925829,
    # BESSELK(1.5, 1) 0.277387804, BESSELY(2.5, 1) 0.145918138; a negative order and, for
    # K and Y, an argument <= 0 are #NUM!
    got = _refresh(tmp_path, ["=BESSELI(1.5,1)", "=BESSELJ(1.9,2)", "=BESSELK(1.5,1)",
                              "=BESSELY(2.5,1)", "=BESSELI(1,-1)", "=BESSELK(0,1)",
                              "=BESSELJ(30,3)", "=BESSELI(20,5)"])
    assert got[:4] == pytest.approx([0.981666428, 0.329925829, 0.277387804, 0.145918138],
                                    abs=1e-9)
    assert got[4:6] == ["#NUM!", "#NUM!"]
    import scipy.special

    # beyond the reference's examples: within the approximations' 1e-8 of the exact values
    assert got[6] == pytest.approx(float(scipy.special.jv(3, 30)), abs=1e-8)
    assert got[7] == pytest.approx(float(scipy.special.iv(5, 20)), rel=1e-7)


def test_ppmt_of_the_reference_and_a_tiny_principal(tmp_path):
    # PPMT's page: PPMT(10%/12, 1, 2*12, 2000) is -75.62 and PPMT(8%, 10, 10, 200000)
    # -27,598.05; at 500 % a year the third principal of 33 is -5 x 10,001 x 6^2 / (6^33 - 1)
    got = _refresh(tmp_path, ["=PPMT(10%/12,1,2*12,2000)", "=PPMT(8%,10,10,200000)",
                              '=PPMT(5,"3","33","10000","1")', "=PPMT(0.1,1,10,1000,0,1)",
                              "=PPMT(0.1,11,10,1000)"])
    assert got[0] == pytest.approx(-75.62, abs=0.005)
    assert got[1] == pytest.approx(-27598.05, abs=0.005)
    assert got[2] == pytest.approx(-5 * 10001 * 36 / (6 ** 33 - 1), rel=1e-12)
    # due at the start: the first payment is all principal, PMT(0.1, 10, 1000, 0, 1)
    assert got[3] == pytest.approx(-0.1 * 1000 * 1.1 ** 10 / ((1.1 ** 10 - 1) * 1.1), rel=1e-12)
    assert got[4] == "#NUM!"


def test_index_of_an_array_of_rows_and_trimrange_of_an_array_of_modes(tmp_path):
    src, out = tmp_path / "in.xlsx", tmp_path / "out.xlsx"
    wb = xlsxwriter.Workbook(str(src))
    ws = wb.add_worksheet("S")
    ws.write_column("A1", [10, 20, 30])
    ws.write_column("B1", [2, 1])
    ws.write_array_formula("D1:D2", "{=INDEX(A1:A3,B1:B2,1)}")  # the cells A2 and A1
    ws.write("F2", 5)
    # trim modes {1,1}: Excel lifts TRIMRANGE over them, and a range in a cell is #VALUE!
    ws.write_dynamic_array_formula("H1:I1", "=_xlfn.TRIMRANGE(F1:G3,{1,1},2)")
    wb.close()
    refresh(src, out)
    s = openpyxl.load_workbook(out, data_only=True)["S"]
    assert [s[c].value for c in ("D1", "D2", "H1", "I1")] == [20, 10, "#VALUE!", "#VALUE!"]


def test_irr_leaves_the_blank_cells_of_a_range_out(tmp_path):
    """Excel ignores blank cells in IRR's values: -10 then 12 is 20 % whether a blank lies
    between them or not (as a cash flow of 0 it would be sqrt(1.2) - 1 = 9.5 %); cash flows
    of one sign are #NUM!, blank or not."""
    got = _refresh(tmp_path, ["=IRR(B1:B3)", "=IRR(C1:C3)", "=IRR(D1:D3)"],
                   {"B1": -10, "B3": 12, "C1": -10, "C2": 12, "D1": 4, "D2": 5})
    assert got[0] == pytest.approx(0.2, rel=1e-9)
    assert got[1] == pytest.approx(0.2, rel=1e-9)
    assert got[2] == "#NUM!"


def test_if_of_a_single_condition_gives_the_chosen_value_as_it_is(tmp_path):
    # Excel evaluates only the chosen value: IF(TRUE, 1, {1,2,3}) is 1, not a row of three
    src, out = tmp_path / "in.xlsx", tmp_path / "out.xlsx"
    wb = xlsxwriter.Workbook(str(src))
    ws = wb.add_worksheet("S")
    ws.write_column("A1", [1, 0, 3])
    ws.write_dynamic_array_formula("C1:C1", "=IF(TRUE,1,{1,2,3})")
    ws.write_dynamic_array_formula("E1:E1", '=IF(A1:A3>0,"y","n")')  # element by element
    ws.write_formula("G1", "=IF(A2,1,2)")
    ws.write_formula("G2", '=IF("x",1,2)')
    ws.write_formula("G3", "=SUM(IF(TRUE,A1:A3))")
    ws.write_formula("G4", "=IF(FALSE,1)")
    wb.close()
    refresh(src, out)
    s = openpyxl.load_workbook(out, data_only=True)["S"]
    assert [s[c].value for c in ("C1", "D1", "E1", "E2", "E3", "G1", "G2", "G3", "G4")] == \
        [1, None, "y", "n", "y", 2, "#VALUE!", 4, False]
