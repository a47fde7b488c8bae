"""The template workbook: built identically, computed values equal the core library's."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from ltvxl import unit_economics as ue
from ltvxl.sample_data import SAMPLE_PATH
from ltvxl.transactions import read_transactions
from ltvxl.transactions.stats import ltv_stats
from ltvxl.workbook import template
from ltvxl.workbook.template import TEMPLATE_PATH, build_template

SPILLING = {  # sheet: anchors of the dynamic-array formulas
    "Customers": ["A3"],
    "Segments": ["H5", "J5", "A11"],
    "Cohorts": ["A4", "A110"],
    "Channels": ["A3", "A13"],  # the table, the model view (six channels)
    "Dashboard": ["A5", "D19"],
    "Scenarios": ["G4", "A51"],
    "Trend": ["A5"],
    "Validation": ["A4", "D4", "I4"],
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("template") / "t.xlsx"
    build_template(out)
    return out


@pytest.fixture(scope="module")
def values(built: Path) -> openpyxl.Workbook:
    return openpyxl.load_workbook(built, data_only=True)


def _labelled(ws, col: int = 1, first: int = 5) -> dict[str, object]:
    out = {}
    for row in ws.iter_rows(min_row=first, min_col=col, max_col=col + 1, values_only=True):
        if row[0] is None:
            break
        out[row[0]] = row[1]
    return out


def test_building_twice_gives_the_same_bytes(built, tmp_path):
    again = tmp_path / "again.xlsx"
    build_template(again)
    assert again.read_bytes() == built.read_bytes()


def test_no_macros_and_expected_sheets(built):
    names = zipfile.ZipFile(built).namelist()
    assert not any("vbaProject" in n for n in names)
    book = openpyxl.load_workbook(built)
    assert book.sheetnames == ["Dashboard", "Inputs", "Transactions", "Customers",
                               "Predictions", "Segments", "Cohorts", "Channels", "Scenarios",
                               "Trend", "Validation"]


def test_inputs_sheet_has_the_classic_worked_example(values):
    ws = values["Inputs"]
    figures = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(1, 30)}
    ltv = ue.ltv(100, 3, 5)
    assert figures["Lifetime value (LTV)"] == pytest.approx(ltv) == pytest.approx(1500)
    assert figures["LTV:CAC"] == pytest.approx(ue.ltv_cac_ratio(ltv, 500)) == pytest.approx(3)
    assert figures["Maximum CAC at the target ratio"] == pytest.approx(ue.max_cac(ltv, 3))
    assert figures["CAC payback (months)"] == pytest.approx(ue.cac_payback(500, 25))
    assert figures["Status"] == ue.ltv_cac_status(3.0)


def test_named_input_cells(built):
    book = openpyxl.load_workbook(built)
    for name in ("purchase_value", "purchases_per_year", "lifespan", "acquisition_cost",
                 "target_ratio", "as_of", "example_ltv", "example_ltv_cac", "clv_horizon",
                 "clv_margin", "clv_discount", "clv_cac", "clv_model"):
        assert name in book.defined_names, name
    assert book.defined_names["clv_cac"].attr_text == "Inputs!$B$8"
    assert book.defined_names["clv_model"].attr_text == "Inputs!$B$10"
    assert book["Inputs"]["B10"].value == "PNBD"  # the registry's default, a drop-down
    assert book["Inputs"].data_validations.dataValidation[0].formula1 == '"PNBD,BGNBD,MBGNBD,AUTO"'


EXCEL_FUNCTIONS = {
    "ABS", "AND", "AVERAGE", "CHOOSE", "CHOOSECOLS", "COUNT", "COUNTA", "COUNTIF", "DATE", "DAY",
    "DAYS", "DROP", "EXP", "FILTER", "IF", "IFERROR", "INDEX", "INT", "ISNUMBER", "LARGE", "LEFT",
    "LEN", "LET", "LN", "LOG", "MATCH", "MAX", "MIN", "MONTH", "NA", "NOW", "NPV", "OR", "PMT",
    "PV", "RATE", "ROUND", "ROWS", "SEQUENCE", "SORT", "SUM", "SUMIF", "SUMPRODUCT", "TAKE",
    "TEXT", "TODAY", "UNIQUE", "VALUE", "VLOOKUP", "XLOOKUP", "YEAR", "FV", "NPER", "IRR",
}
"""Excel functions a defined name could be mistaken for (those the template uses and the
common financial ones); with the registry's ltvxl functions every name is checked."""


def test_no_defined_name_is_a_function_name(built):
    from ltvxl.udfs import FUNCTIONS

    try:  # the formulas library knows Excel's whole function list
        from formulas.functions import get_functions

        excel = {str(n).upper() for n in get_functions()}
    except ImportError:  # pragma: no cover - formulas is a dependency of the refresh
        excel = set()
    taken = {n.upper() for n in FUNCTIONS} | EXCEL_FUNCTIONS | excel
    book = openpyxl.load_workbook(built)
    names = list(book.defined_names)
    assert len(names) > 10
    clashes = [n for n in names if n.upper() in taken]
    assert not clashes, clashes


def test_dashboard_headline_figures_equal_the_core(values):
    stats = ltv_stats(read_transactions(SAMPLE_PATH))
    got = _labelled(values["Dashboard"])
    assert got["customers"] == stats.customers
    assert got["purchases"] == stats.purchases
    assert got["revenue (returns netted)"] == pytest.approx(stats.revenue)
    assert got["simple LTV = average purchase value x frequency x lifespan"] == pytest.approx(
        stats.simple_ltv)
    ws = values["Dashboard"]
    head = {ws.cell(r, 4).value: ws.cell(r, 5).value for r in range(5, 17)}
    assert head["customers"] == stats.customers  # the data's figures, not the Inputs example
    assert head["revenue (returns netted)"] == pytest.approx(stats.revenue)
    assert head["CAC (acquisition cost per new customer)"] == "not given"
    assert 1500 not in head.values()


def test_predicted_clv_equals_the_declared_function(values):
    from ltvxl.udfs import FUNCTIONS

    if "CLV_PREDICT" not in FUNCTIONS:
        pytest.skip("CLV_PREDICT is not declared in this version")
    raw = pd.read_csv(SAMPLE_PATH, dtype={"customer_id": str})
    ids = [[v] for v in raw["customer_id"]]
    dates = [[v] for v in raw["date"]]
    amounts = [[float(v)] for v in raw["amount"]]
    table = FUNCTIONS["CLV_PREDICT"](ids, dates, amounts, 12.0, 0.1, 1.0)
    clv = [row[4] for row in table[1:]]
    ws = values["Dashboard"]
    top = template.PREDICTED_ROW
    assert ws[f"B{top + 1}"].value == pytest.approx(sum(clv) / len(clv))
    assert ws[f"B{top + 3}"].value == sum(1 for row in table[1:] if row[1] > 0.5)
    pred = values["Predictions"]
    assert pred["A3"].value == table[0][0] and pred.cell(4 + 10, 5).value == pytest.approx(
        table[11][4])


def test_validation_sheet_equals_the_core_backtest(built, values):
    """The Validation sheet's measures and table by calibration frequency are those of
    ltvxl.models.backtest on the sample (default split, Pareto/NBD), and its two charts
    read the cells where the tables spill."""
    from ltvxl.models import backtest

    result = backtest.backtest(read_transactions(SAMPLE_PATH))
    ws = values["Validation"]
    measures = _labelled(ws, first=5)
    assert measures["model"] == result.model.name
    assert measures["actual hold-out purchases"] == result.measures.actual
    assert measures["predicted hold-out purchases"] == pytest.approx(result.measures.predicted,
                                                                     rel=1e-6)
    table = [[ws.cell(r, c).value for c in range(4, 8)] for r in range(5, 13)]
    assert [row[0] for row in table] == list(result.by_frequency["frequency"])
    assert [row[1] for row in table] == list(result.by_frequency["customers"])
    assert [row[3] for row in table] == pytest.approx(list(result.by_frequency["predicted"]),
                                                      rel=1e-6)
    weeks = len(result.tracking)
    assert ws.cell(4 + weeks, 9).value == weeks and ws.cell(5 + weeks, 9).value is None
    assert ws.cell(4 + weeks, 14).value == result.tracking["actual_cumulative"].iloc[-1]
    charts = openpyxl.load_workbook(built)["Validation"]._charts
    refs = [s.val.numRef.f for chart in charts for s in chart.series]
    assert refs == ["Validation!$F$5:$F$12", "Validation!$G$5:$G$12",
                    f"Validation!$N$5:$N${4 + weeks}", f"Validation!$O$5:$O${4 + weeks}"]


def test_transactions_table_and_channels_match_the_sample_file(built, values):
    raw = pd.read_csv(SAMPLE_PATH, dtype={"customer_id": str, "channel": str})
    ws = openpyxl.load_workbook(built)["Transactions"]
    table = ws.tables["Transactions"]
    assert table.ref == f"A1:D{len(raw) + 1}"
    assert [c.name for c in table.tableColumns] == ["customer_id", "date", "amount", "channel"]
    # channel of each customer's first purchase, revenue by that channel (independent of ltvxl)
    raw["date"] = pd.to_datetime(raw["date"])
    first = raw.sort_values(["date"], kind="stable").groupby("customer_id")["channel"].first()
    revenue = raw.groupby(raw["customer_id"].map(first))["amount"].sum()
    ch = values["Channels"]
    got = {ch.cell(r, 1).value: ch.cell(r, 4).value for r in range(4, 4 + len(revenue))}
    assert got == pytest.approx(revenue.to_dict())


def test_channels_model_view_is_the_core_s(values):
    """The Channels sheet's MODEL view (A13) against ltvxl.models.covariates.by_group on
    the sample, at the Inputs' 12-month horizon, discount and margin."""
    from ltvxl.assumptions import Assumptions
    from ltvxl.models import covariates
    from ltvxl.transactions import groups
    from ltvxl.transactions.summary import customer_summary

    log = read_transactions(SAMPLE_PATH)
    s = customer_summary(log, None, "weeks")
    day = int(np.datetime64(s.as_of, "D").astype(np.int64))
    names = groups.customer_groups(log, log.extra["channel"], day)
    a = Assumptions()
    want, _ = covariates.by_group(s.table, names, time_unit="weeks", horizon=a.horizon_months,
                                  horizon_unit="months",
                                  annual_discount_rate=a.annual_discount_rate,
                                  gross_margin=a.gross_margin)
    ws = values["Channels"]
    assert str(ws["C13"].value).startswith("predicted CLV per customer")
    for r, (_, w) in enumerate(want.iterrows(), start=14):
        assert ws.cell(r, 1).value == w["group"]
        got = [ws.cell(r, c).value for c in range(2, 8)]
        assert got == pytest.approx([w["customers"], w["clv_per_customer"], w["clv_low"],
                                     w["clv_high"], w["exp_purchase"], w["exp_dropout"]],
                                    rel=1e-6)


def test_tiers_split_customers_20_30_50(values):
    ws = values["Segments"]
    counts = [ws.cell(r, 2).value for r in range(5, 8)]
    n = sum(counts)
    assert n == read_transactions(SAMPLE_PATH).customers.size
    assert counts == [round(0.2 * n), round(0.3 * n), n - round(0.2 * n) - round(0.3 * n)]
    shares = [ws.cell(r, 5).value for r in range(5, 8)]
    assert sum(shares) == pytest.approx(1) and shares[0] > 0.2  # the top 20% hold more than 20%


def test_spilling_formulas_are_dynamic_arrays(built):
    parts = zipfile.ZipFile(built)
    book = openpyxl.load_workbook(built)
    rels = parts.read("xl/workbook.xml").decode()
    assert "xl/metadata.xml" in parts.namelist()
    assert "fDynamic=\"1\"" in parts.read("xl/metadata.xml").decode()
    order = re.findall(r'<sheet name="([^"]+)"', rels)
    for sheet, anchors in SPILLING.items():
        xml = parts.read(f"xl/worksheets/sheet{order.index(sheet) + 1}.xml").decode()
        for anchor in anchors:
            m = re.search(rf'<c r="{anchor}"[^>]*\bcm="1"[^>]*><f t="array" ref="([A-Z]+\d+:'
                          rf'[A-Z]+\d+)"', xml)
            assert m, f"{sheet}!{anchor} is not a spilled dynamic array"
            assert book[sheet][anchor].value is not None


def test_charts_tables_and_conditional_formats(built):
    names = zipfile.ZipFile(built).namelist()
    assert len([n for n in names if n.startswith("xl/charts/chart")]) >= 4
    book = openpyxl.load_workbook(built)
    assert book["Cohorts"].conditional_formatting
    assert book["Dashboard"].conditional_formatting  # the 3:1 benchmark colours
    assert "Transactions" in book["Transactions"].tables


def test_opened_without_the_add_in_excel_keeps_the_values():
    """No full recalculation on opening: calcId of the current engine, no fullCalcOnLoad."""
    with zipfile.ZipFile(TEMPLATE_PATH) as z:
        calc = re.search(rb"<calcPr\b[^>]*>", z.read("xl/workbook.xml")).group(0)
    assert b"fullCalcOnLoad" not in calc
    assert int(re.search(rb'calcId="(\d+)"', calc).group(1)) >= 191029


def test_every_table_sheet_prints_one_page_wide_with_its_header(built: Path):
    """Read from the sheet XML itself (openpyxl does not parse whole-column print areas,
    which Excel writes for a print area of columns)."""
    import re
    import zipfile

    from ltvxl.workbook.template import TABLE_PAGES

    with zipfile.ZipFile(built) as z:
        book = z.read("xl/workbook.xml").decode()
        names = re.findall(r'<sheet name="([^"]+)" sheetId="\d+" r:id="rId(\d+)"', book)
        areas = dict(re.findall(r'<definedName name="_xlnm.Print_Area" localSheetId="\d+">'
                                r"'?([^'!]+)'?!([^<]+)</definedName>", book))
        titles = dict(re.findall(r'<definedName name="_xlnm.Print_Titles" localSheetId="\d+">'
                                 r"'?([^'!]+)'?!([^<]+)</definedName>", book))
        for name, rid in names:
            if name not in TABLE_PAGES:
                continue
            columns, header = TABLE_PAGES[name]
            sheet = z.read(f"xl/worksheets/sheet{rid}.xml").decode()
            assert 'orientation="landscape"' in sheet and 'fitToHeight="0"' in sheet, name
            assert '<pageSetUpPr fitToPage="1"/>' in sheet, name
            first, last = columns.split(":")
            assert areas[name] == f"${first}:${last}", name
            if header:
                assert titles[name] == f"${header}:${header}", name
                assert f'topLeftCell="B{header + 1}"' in sheet, name
