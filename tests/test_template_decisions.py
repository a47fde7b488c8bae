"""The template's Scenarios and Trend sheets and the Dashboard's last period, refreshed
headlessly: the same numbers as the functions and the core."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pytest

import ltvxl.udfs as udfs
from ltvxl import unit_economics as ue
from ltvxl.sample_data import SAMPLE_PATH
from ltvxl.transactions import read_transactions
from ltvxl.transactions.trend import TREND_COLUMNS, trend_table
from ltvxl.workbook import decision_sheets as ds
from ltvxl.workbook.template import LAST_PERIOD_ROW, build_template


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("template") / "t.xlsx"
    build_template(out)
    return out


@pytest.fixture(scope="module")
def values(built: Path) -> openpyxl.Workbook:
    return openpyxl.load_workbook(built, data_only=True)


def _by_label(ws, col: int = 1, value_col: int = 2, last: int = 80) -> dict[str, object]:
    return {ws.cell(r, col).value: ws.cell(r, value_col).value for r in range(1, last)
            if ws.cell(r, col).value is not None}


def test_scenarios_side_by_side_equal_the_core(values):
    ws = values["Scenarios"]
    top = ds.RESULT_ROW
    assert [ws.cell(top, c).value for c in range(1, 5)] == ["Result", "Base", "Scenario",
                                                            "Change"]
    base, scenario = ws.cell(top + 1, 2).value, ws.cell(top + 1, 3).value
    assert base == pytest.approx(ue.ltv(100, 3, 5)) == pytest.approx(1500)
    # the default scenario: retention +5 points, 0.80 -> 0.85, a lifespan of 1 / 0.15 years
    assert scenario == pytest.approx(ue.ltv(100, 3, 1 / 0.15)) == pytest.approx(2000)
    assert ws.cell(top + 2, 3).value == pytest.approx(ue.ltv_cac_ratio(2000, 500))
    assert ws.cell(top + 3, 2).value == ue.ltv_cac_status(3.0)
    assert ws.cell(top + 3, 3).value == ue.ltv_cac_status(4.0)
    assert ws.cell(top + 1, 4).value == pytest.approx(1 / 3)


def test_scenarios_worked_examples_equal_the_functions(values):
    got = _by_label(values["Scenarios"])
    assert got["Customer value"] == pytest.approx(250)
    assert got["Customer value at the changed retention"] == pytest.approx(314.8148, abs=1e-4)
    assert got["RETENTION_IMPACT: value change"] == pytest.approx(
        udfs.RETENTION_IMPACT(100, 0.8, 0.12, 0.05))
    assert got["RETENTION_ELASTICITY: % value per 1% retention"] == pytest.approx(3.5)
    assert got["RETENTION_NEEDED: points for the value change wanted"] == pytest.approx(
        udfs.RETENTION_NEEDED(0.8, 0.12, 0.25))
    assert got["Customer value without the promotion"] == pytest.approx(106.6667, abs=1e-4)
    assert got["PROMO_BREAKEVEN: retention needed to keep it"] == pytest.approx(
        udfs.PROMO_BREAKEVEN(40, 30, 0.8, 0.1))
    ws = values["Scenarios"]
    rows = [[ws.cell(r, c).value for c in range(1, 5)] for r in range(1, 80)]
    start = next(i for i, r in enumerate(rows) if r[0] == "measure")
    table = udfs.PROMO_IMPACT(50, 4, 0.4, 0.1, 0.25, 0, 1000)
    for got_row, want in zip(rows[start:start + len(table)], table, strict=True):
        assert got_row[0] == want[0]
        for a, b in zip(got_row[1:], want[1:], strict=True):
            assert a == b or a == pytest.approx(b) or (a is None and b == "")


def test_sensitivity_spill_and_tornado_chart(built, values):
    ws = values["Scenarios"]
    col, row = ds.SENSITIVITY_CELL[0], int(ds.SENSITIVITY_CELL[1:])
    c0 = ord(col) - ord("A") + 1
    want = udfs.LTV_SENSITIVITY(100, 3, 5, 1, 0)
    assert len(want) == ds.SENSITIVITY_ROWS + 1
    for k, want_row in enumerate(want):
        got = [ws.cell(row + k, c0 + j).value for j in range(len(want_row))]
        assert got[0] == want_row[0]
        assert got[1:] == pytest.approx(want_row[1:])
    with zipfile.ZipFile(built) as z:
        charts = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/chart")]
    tornado = [c for c in charts if "Scenarios!$K$5:$K$9" in c]
    assert tornado and '<c:barDir val="bar"/>' in tornado[0]
    assert "Scenarios!$L$5:$L$9" in tornado[0] and '<c:overlap val="100"/>' in tornado[0]


def _sample_trend(period: str = "quarter"):
    return trend_table(read_transactions(SAMPLE_PATH), period)


def test_trend_sheet_equals_ltv_trend_of_the_transactions(built, values):
    ws = values["Trend"]
    assert ws["B3"].value == "quarter"
    head = int(ds.TREND_CELL[1:])
    df = _sample_trend()
    header = [ws.cell(head, c).value for c in range(1, len(TREND_COLUMNS) + 1)]
    assert header[0] == "period" and header[15] == "trailing LTV"
    for i, want in enumerate(df.to_dict("records")):
        got = [ws.cell(head + 1 + i, c).value for c in range(1, len(TREND_COLUMNS) + 1)]
        assert got[0] == want["period"]
        assert got[4] is bool(want["partial"])
        for j, name in enumerate(TREND_COLUMNS):
            value = want[name]
            if name in ("period", "partial"):
                continue
            if name in ("start", "end"):
                assert got[j].date() == value.date()
            elif np.isnan(float(value)):
                assert got[j] is None, (name, i)
            else:
                assert got[j] == pytest.approx(float(value)), (name, i)
    assert ws.cell(head + 1 + len(df), 1).value is None
    log = read_transactions(SAMPLE_PATH)
    revenue = sum(ws.cell(head + 1 + i, 9).value for i in range(len(df)))
    assert revenue == pytest.approx(float(log.amounts.sum()))
    with zipfile.ZipFile(built) as z:
        charts = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/chart")]
    last = head + len(df)
    trend = [c for c in charts if f"Trend!$P${head + 1}:$P${last}" in c]
    assert trend and f"Trend!$I${head + 1}:$I${last}" in trend[0]
    sheet = openpyxl.load_workbook(built)["Trend"]
    assert sheet.data_validations.dataValidation[0].formula1 == '"month,quarter,year"'


def test_dashboard_shows_the_last_period_and_its_change(values):
    ws = values["Dashboard"]
    df = _sample_trend()
    got = {ws.cell(r, 1).value: ws.cell(r, 2).value
           for r in range(LAST_PERIOD_ROW + 1, LAST_PERIOD_ROW + 1 + len(ds.LAST_PERIOD_ROWS))}
    last = df.iloc[-1]
    assert got["last period: period"] == last["period"]
    assert got["last period: revenue"] == pytest.approx(last["revenue"])
    assert got["last period: revenue vs previous"] == pytest.approx(last["revenue_vs_previous"])
    assert got["last period: trailing LTV"] == pytest.approx(last["trailing_ltv"])
    assert got["last period: LTV vs previous"] == pytest.approx(last["ltv_vs_previous"])


def test_periods_between_counts_calendar_periods():
    day = lambda s: int(np.datetime64(s, "D").astype(np.int64))  # noqa: E731
    assert ds.periods_between(day("2023-01-31"), day("2024-12-01"), "quarter") == 8
    assert ds.periods_between(day("2023-03-31"), day("2023-04-01"), "quarter") == 2
    assert ds.periods_between(day("2023-01-01"), day("2023-01-31"), "month") == 1
    assert ds.periods_between(day("1997-01-01"), day("1998-06-30"), "year") == 2
    assert re.fullmatch(r"[A-Z]", ds.TREND_LETTERS["trailing LTV"])


def test_report_fills_trend_and_scenarios_from_the_data(tmp_path):
    """`ltvxl report` on another log (the CDNOW 1/10th sample, 1997-01 to 1998-06): the Trend
    sheet and its chart follow the data's six quarters, the summary prints the last one."""
    import pandas as pd

    from ltvxl.report import write_report

    raw = pd.read_csv(Path(__file__).parent / "data" / "CDNOW_sample.txt",
                      sep=r"\s+", header=None, names=["master", "id", "date", "cds", "amount"])
    csv = tmp_path / "cdnow.csv"
    pd.DataFrame({"customer_id": raw["id"], "date": pd.to_datetime(raw["date"].astype(str)),
                  "amount": raw["amount"]}).to_csv(csv, index=False)
    out = tmp_path / "report.xlsx"
    summary = write_report(out, csv)
    log = read_transactions(csv)
    df = trend_table(log, "quarter")
    assert list(df["period"]) == ["1997-Q1", "1997-Q2", "1997-Q3", "1997-Q4", "1998-Q1",
                                  "1998-Q2"]
    assert summary.figures["1998-Q2 revenue"] == pytest.approx(df["revenue"].iloc[-1])
    assert summary.figures["1998-Q2 LTV vs previous"] == pytest.approx(
        df["ltv_vs_previous"].iloc[-1])
    book = openpyxl.load_workbook(out, data_only=True)
    ws = book["Trend"]
    head = int(ds.TREND_CELL[1:])
    assert [ws.cell(head + 1 + i, 1).value for i in range(7)] == [*df["period"], None]
    assert [ws.cell(head + 1 + i, 7).value for i in range(6)] == list(df["new"])
    with zipfile.ZipFile(out) as z:
        charts = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/chart")]
    assert any(f"Trend!$P${head + 1}:$P${head + 6}" in c for c in charts)
    assert book["Scenarios"].cell(ds.RESULT_ROW + 1, 2).value == pytest.approx(1500)


def test_period_selector_respills_the_trend(built, tmp_path):
    """Typing month into the selector (B3) and refreshing headlessly gives the monthly table."""
    from ltvxl.workbook.refresh import refresh

    changed = tmp_path / "month.xlsx"
    with zipfile.ZipFile(built) as src, zipfile.ZipFile(changed, "w",
                                                        zipfile.ZIP_DEFLATED) as dst:
        order = re.findall(r'<sheet name="([^"]+)"', src.read("xl/workbook.xml").decode())
        trend_xml = f"xl/worksheets/sheet{order.index('Trend') + 1}.xml"
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == trend_xml:
                data, n = re.subn(rb'<c r="B3"([^>]*?) t="s"><v>\d+</v></c>',
                                  rb'<c r="B3"\1 t="inlineStr"><is><t>month</t></is></c>', data)
                assert n == 1
            dst.writestr(item, data)
    out = tmp_path / "month-refreshed.xlsx"
    refresh(changed, out)
    ws = openpyxl.load_workbook(out, data_only=True)["Trend"]
    df = _sample_trend("month")
    head = int(ds.TREND_CELL[1:])
    assert len(df) == 24
    assert [ws.cell(head + 1 + i, 1).value for i in range(len(df) + 1)] == [*df["period"], None]
    assert [ws.cell(head + 1 + i, 16).value for i in range(2, len(df))] == pytest.approx(
        list(df["trailing_ltv"].iloc[2:]))
