"""ltvxl report: transactions in, refreshed workbook out; text stays text."""

from __future__ import annotations

import csv
import hashlib
import re
import shutil
import subprocess
import zipfile

import numpy as np
import openpyxl
import pandas as pd
import pytest

from ltvxl.cli import main
from ltvxl.report import Progress, write_report
from ltvxl.transactions import read_transactions
from ltvxl.transactions.stats import ltv_stats
from ltvxl.workbook.refresh import refresh

INJECTION = ['=HYPERLINK("http://evil.example","click")', "+33612345678", "-5",
             "@SUM(A1:A9)", "=1+1", "'quoted"]


def _simulated(seed: int = 7, customers: int = 60) -> pd.DataFrame:
    """Transactions from known parameters: Poisson purchase counts, gamma order values."""
    rng = np.random.default_rng(seed)
    rows = []
    start = np.datetime64("2022-01-01")
    ids = INJECTION + [f"K{i:03d}" for i in range(customers - len(INJECTION))]
    for k, cid in enumerate(ids):
        first = start + rng.integers(0, 500)
        n = 1 + rng.poisson(3)
        days = np.sort(rng.integers(0, 700, size=n))
        days[0] = 0
        for d in days:
            rows.append((cid, first + d, round(float(rng.gamma(2.0, 30.0)), 2),
                         ("Web", "Shop", "Partner")[k % 3]))
    return pd.DataFrame(rows, columns=["Client", "Order day", "Net sales", "Source"])


@pytest.fixture(scope="module")
def csv_report(tmp_path_factory: pytest.TempPathFactory):
    d = tmp_path_factory.mktemp("report")
    frame = _simulated()
    src = d / "tx.csv"
    frame.to_csv(src, index=False)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    out = d / "report.xlsx"
    code = main(["report", str(src), "-o", str(out), "--id-col", "Client",
                 "--date-col", "Order day", "--amount-col", "Net sales",
                 "--channel-col", "Source"])
    assert code == 0
    assert hashlib.sha256(src.read_bytes()).hexdigest() == digest  # input untouched
    return src, out, frame


def test_sample_report_figures_equal_the_core(tmp_path, capsys):
    from ltvxl.sample_data import SAMPLE_PATH

    out = tmp_path / "report.xlsx"
    assert main(["report", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    stats = ltv_stats(read_transactions(SAMPLE_PATH))
    assert f"{stats.customers:,}" in printed and f"{stats.simple_ltv:,.2f}" in printed
    assert "Largest segments by revenue" in printed
    ws = openpyxl.load_workbook(out, data_only=True)["Dashboard"]
    labels = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(6, 22)}
    assert labels["customers"] == stats.customers
    assert labels["revenue (returns netted)"] == pytest.approx(stats.revenue)
    assert ws["E16"].value == pytest.approx(stats.simple_ltv / 500)


def test_csv_report_with_named_columns_equals_the_core(csv_report):
    src, out, frame = csv_report
    log = read_transactions(src, "Client", "Order day", "Net sales")
    stats = ltv_stats(log)
    book = openpyxl.load_workbook(out, data_only=True)
    ws = book["Dashboard"]
    labels = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(6, 22)}
    assert labels["customers"] == frame["Client"].nunique() == stats.customers
    assert labels["revenue (returns netted)"] == pytest.approx(frame["Net sales"].sum())
    ch = book["Channels"]
    got = {ch.cell(r, 1).value: ch.cell(r, 2).value for r in range(4, 7)}
    first = frame.sort_values("Order day", kind="stable").groupby("Client")["Source"].first()
    assert got == first.value_counts().to_dict()


def test_date_results_display_as_dates(csv_report):
    """Dates computed by the refresh (first transaction, as of, first/last purchase) carry
    a date number format, so Excel and viewers show dates, not serial numbers."""
    _, out, frame = csv_report
    book = openpyxl.load_workbook(out)
    ws = book["Dashboard"]
    cells = {ws.cell(r, 1).value: ws.cell(r, 2) for r in range(6, 22)}
    dates = pd.to_datetime(frame["Order day"])
    dated = [c for c in cells.values() if c.is_date]
    assert len(dated) >= 2, {k: (c.value, c.number_format) for k, c in cells.items()}
    assert min(c.value for c in dated) == dates.min().to_pydatetime()
    assert max(c.value for c in dated) == dates.max().to_pydatetime()
    customers = book["Customers"]
    head = [c.value for c in customers[3]]
    for col, name in enumerate(head, start=1):
        if name and ("first" in str(name) or "last" in str(name)):
            column = [customers.cell(r, col) for r in range(4, customers.max_row + 1)]
            assert all(c.is_date for c in column), name
            assert {c.value for c in column} <= set(dates.dt.to_pydatetime())
    assert not any(c.is_date for c in customers["D"][3:])  # numbers stay numbers


def test_ids_that_look_like_formulas_stay_text(csv_report):
    _, out, _ = csv_report
    book = openpyxl.load_workbook(out)
    tx = book["Transactions"]
    ids = {tx.cell(r, 1).value for r in range(2, tx.max_row + 1)}
    assert set(INJECTION) <= ids
    assert all(tx.cell(r, 1).data_type == "s" for r in range(2, tx.max_row + 1))
    customers = book["Customers"]
    spilled = {customers.cell(r, 1).value: customers.cell(r, 1).data_type
               for r in range(4, customers.max_row + 1)}
    assert set(INJECTION) <= set(spilled)
    assert {spilled[i] for i in INJECTION} == {"s"}
    with zipfile.ZipFile(out) as zf:
        for name in zf.namelist():
            if name.startswith("xl/worksheets/sheet"):
                xml = zf.read(name).decode()
                formulas = re.findall(r"<f[^>]*>([^<]*)</f>", xml)
                assert not any("HYPERLINK" in f or "evil" in f for f in formulas), name


def test_refreshing_a_report_keeps_everything_and_the_input(csv_report, tmp_path):
    _, out, _ = csv_report
    before = hashlib.sha256(out.read_bytes()).hexdigest()
    again = tmp_path / "again.xlsx"
    refresh(out, again)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == before
    with zipfile.ZipFile(out) as a, zipfile.ZipFile(again) as b:
        assert a.namelist() == b.namelist()
        for name in a.namelist():  # already computed: refreshing changes nothing
            assert a.read(name) == b.read(name), name
    book = openpyxl.load_workbook(again)
    assert "Transactions" in book["Transactions"].tables
    assert book["Cohorts"].conditional_formatting
    with zipfile.ZipFile(again) as zf:
        assert len([n for n in zf.namelist() if n.startswith("xl/charts/")]) >= 4
    ids = {c.value for c in book["Customers"]["A"][3:]}
    assert set(INJECTION) <= ids


@pytest.mark.parametrize("kind", ["parquet", "xlsx"])
def test_parquet_and_xlsx_inputs(tmp_path, kind):
    frame = _simulated(seed=3, customers=20)
    frame.columns = ["customer_id", "date", "amount", "channel"]
    src = tmp_path / f"tx.{kind}"
    if kind == "parquet":
        frame.to_parquet(src)
    else:
        frame.to_excel(src, index=False, engine="xlsxwriter",  # ids written as text
                       engine_kwargs={"options": {"strings_to_formulas": False}})
    summary = write_report(tmp_path / "r.xlsx", src)
    assert summary.figures["customers"] == frame["customer_id"].nunique()
    assert summary.figures["revenue"] == pytest.approx(frame["amount"].sum())


def test_clear_errors(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "r.xlsx")]) == 1
    assert "not found" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,date,amount\nA,2024-01-01,10\nB,2024-13-45,5\n")
    assert main(["report", str(bad), "-o", str(tmp_path / "r.xlsx")]) == 1
    err = capsys.readouterr().err
    assert "row 3" in err and "2024-13-45" in err
    cols = tmp_path / "cols.csv"
    cols.write_text("who,when,howmuch\nA,2024-01-01,10\n")
    assert main(["report", str(cols), "-o", str(tmp_path / "r.xlsx")]) == 1
    assert "cannot tell which column" in capsys.readouterr().err
    good = tmp_path / "good.csv"
    good.write_text("customer_id,date,amount\nA,2024-01-01,10\n")
    assert main(["report", str(good), "--channel-col", "src", "-o",
                 str(tmp_path / "r.xlsx")]) == 1
    assert 'channel_col "src" is not a column' in capsys.readouterr().err
    assert not (tmp_path / "r.xlsx").exists()
    before = good.read_bytes()
    assert main(["report", str(good), "-o", str(good)]) == 1
    assert "input of the report" in capsys.readouterr().err and good.read_bytes() == before


def test_progress_messages_go_to_stderr(tmp_path, capsys):
    write_report(tmp_path / "r.xlsx", progress=Progress(eager=True))
    captured = capsys.readouterr()
    assert "reading" in captured.err and "computing the formulas" in captured.err
    assert captured.out == ""


def test_report_fills_a_copy_of_a_given_template(csv_report, tmp_path):
    from ltvxl.workbook.template import TEMPLATE_PATH

    src, built, _ = csv_report
    out = tmp_path / "filled.xlsx"
    assert main(["report", str(src), "--template", str(TEMPLATE_PATH), "-o", str(out),
                 "--id-col", "Client", "--date-col", "Order day", "--amount-col", "Net sales",
                 "--channel-col", "Source"]) == 0
    a = openpyxl.load_workbook(built, data_only=True)
    b = openpyxl.load_workbook(out, data_only=True)
    for sheet in ("Customers", "Segments", "Cohorts", "Transactions"):
        va = [[c.value for c in row] for row in a[sheet].iter_rows()]
        vb = [[c.value for c in row] for row in b[sheet].iter_rows()]
        assert va == vb, sheet
    for r in range(5, 22):
        assert a["Dashboard"].cell(r, 2).value == b["Dashboard"].cell(r, 2).value
    with zipfile.ZipFile(TEMPLATE_PATH) as zt, zipfile.ZipFile(out) as zo:
        for name in ("xl/styles.xml", "xl/charts/chart1.xml", "xl/workbook.xml",
                     "xl/metadata.xml"):
            assert zt.read(name) == zo.read(name), name


def test_template_without_transactions_table(tmp_path, capsys):
    import xlsxwriter

    bare = tmp_path / "bare.xlsx"
    wb = xlsxwriter.Workbook(str(bare))
    wb.add_worksheet().write("A1", "nothing here")
    wb.close()
    assert main(["report", "--template", str(bare), "-o", str(tmp_path / "r.xlsx")]) == 1
    assert "no Excel table named Transactions" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed")
def test_libreoffice_shows_the_same_numbers(tmp_path):
    out = tmp_path / "report.xlsx"
    write_report(out)
    subprocess.run(["soffice", "--headless", "--convert-to", "csv", "--outdir", str(tmp_path),
                    str(out)], check=True, capture_output=True, timeout=120)
    rows = list(csv.reader((tmp_path / "report.csv").open(encoding="utf-8", errors="replace")))
    ws = openpyxl.load_workbook(out, data_only=True)["Dashboard"]  # the first sheet
    cells = [(r, 5) for r in (5, 6, 7, 9, 10, 14, 16)] + [(r, 2) for r in range(25, 28)] + [
        (r, c) for r in (20, 21, 22) for c in (4, 5, 6, 7)] + [(r, 2) for r in range(30, 35)]
    for r, c in cells:
        value, shown = ws.cell(r, c).value, rows[r - 1][c - 1]
        if isinstance(value, str):
            assert shown == value, (r, c)
        else:
            number = float(shown.replace(",", "").rstrip("%")) / (100 if "%" in shown else 1)
            assert number == pytest.approx(value, rel=1e-6), (r, c)
