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
from ltvxl.workbook import template
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


def _headline(ws) -> dict:
    return {ws.cell(r, 4).value: ws.cell(r, 5).value for r in range(5, 17)}


def test_sample_report_figures_equal_the_core(tmp_path, capsys):
    from ltvxl.models import clv
    from ltvxl.sample_data import SAMPLE_PATH
    from ltvxl.transactions.summary import customer_summary

    out = tmp_path / "report.xlsx"
    assert main(["report", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    log = read_transactions(SAMPLE_PATH)
    stats = ltv_stats(log)
    assert f"{stats.customers:,}" in printed and "Largest segments by revenue" in printed
    assert "horizon 12 months (default); discount rate 10.0% a year (default)" in printed
    ws = openpyxl.load_workbook(out, data_only=True)["Dashboard"]
    labels = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(6, 22)}
    assert labels["customers"] == stats.customers
    head = _headline(ws)
    assert head["customers"] == stats.customers
    assert head["revenue (returns netted)"] == pytest.approx(stats.revenue)
    assert head["historical revenue per customer"] == pytest.approx(stats.revenue / stats.customers)
    # the same defaults as ltvxl clv: 12 months, 10 % a year, margin 1, Pareto/NBD
    pred = clv.predict(customer_summary(log, None, "weeks").table, horizon=12,
                       horizon_unit="months", annual_discount_rate=0.1, gross_margin=1.0)
    per_customer = pred.table["clv"].mean()
    assert head["predicted CLV per customer, next 12 months"] == pytest.approx(per_customer)
    assert head["CAC (acquisition cost per new customer)"] == "not given"
    assert head["LTV:CAC (predicted CLV per customer / CAC)"] == "not given"
    assert 1500 not in head.values() and 500 not in head.values()  # the Inputs example stays
    inputs = openpyxl.load_workbook(out, data_only=True)["Inputs"]
    example = {inputs.cell(r, 1).value: inputs.cell(r, 2).value for r in range(1, 40)}
    assert example["Lifetime value (LTV)"] == pytest.approx(1500)


def test_report_options_reach_the_dashboard(tmp_path, capsys):
    out = tmp_path / "report.xlsx"
    args = ["report", "-o", str(out), "--cac", "40", "--margin", "0.3", "--discount", "0.05",
            "--horizon", "24", "--currency", "EUR"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "CAC 40.00 per new customer" in printed and "gross margin 30%" in printed
    book = openpyxl.load_workbook(out, data_only=True)
    head = _headline(book["Dashboard"])
    clv24 = head["predicted CLV per customer, next 24 months"]
    assert head["CAC (acquisition cost per new customer)"] == 40
    assert head["LTV:CAC (predicted CLV per customer / CAC)"] == pytest.approx(clv24 / 40)
    assert head["gross margin"] == pytest.approx(0.3)
    assert head["discount rate per year"] == pytest.approx(0.05)
    fmt = openpyxl.load_workbook(out)["Dashboard"].cell(8, 5).number_format
    assert "EUR" in fmt


@pytest.mark.parametrize(("option", "value", "words"), [
    ("--discount", "10", "--discount 10 is 1,000% a year"),
    ("--margin", "30", "--margin 30 is 3,000%"),
    ("--margin", "0", "--margin must be a fraction > 0"),
    ("--cac", "0", "--cac must be a positive amount"),
    ("--cac", "-5", "--cac must be a positive amount"),
    ("--horizon", "0", "--horizon must be a number of months > 0"),
    ("--currency", "12", "--currency must be a short code"),
])
def test_options_outside_their_domain_are_refused(tmp_path, capsys, option, value, words):
    for command in ("report", "clv"):
        out = tmp_path / f"{command}.out"
        assert main([command, "-o", str(out), option, value]) == 1
        assert words in capsys.readouterr().err
        assert not out.exists()


def test_doubts_on_screen_in_the_workbook_and_in_the_csv(tmp_path, capsys):
    """Hardly any dropout, and no spread in it: the Pareto/NBD fit is at its limit of one
    dropout rate for all, which the screen, the Dashboard's checks and the clv CSV say;
    the exit status stays 0. (The NBD boundary itself: tests/test_models_boundary.py.)"""
    from ltvxl.models import simulate

    rng = np.random.default_rng(5)
    big_t = rng.uniform(10, 52, 300)
    df = simulate.bgnbd(0.8, 6.0, 0.02, 50.0, big_t, seed=2)
    rows, end = [], np.datetime64("2024-12-31")
    for i, (x, tx, t) in enumerate(zip(df.frequency, df.recency, df["T"], strict=True)):
        first = end - np.timedelta64(round(t * 7), "D")
        days = sorted({0, *rng.integers(1, max(int(tx * 7), 2), int(x)).tolist()})
        rows += [(f"c{i}", str(first + np.timedelta64(d, "D")), 20.0 + d % 7) for d in days]
    src = tmp_path / "tx.csv"
    pd.DataFrame(rows, columns=["customer_id", "date", "amount"]).to_csv(src, index=False)
    out = tmp_path / "r.xlsx"
    assert main(["report", str(src), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    # one common dropout rate fits these data better than a spread of rates or none
    words = "Pareto/NBD: the fit is at a boundary (one dropout rate (s, beta -> infinity))"
    assert f"ltvxl: warning: {words}" in err
    ws = openpyxl.load_workbook(out, data_only=True)["Dashboard"]
    assert ws["D18"].value.startswith("Checks")
    assert "at a boundary (one dropout rate" in ws["D20"].value
    csv_out = tmp_path / "clv.csv"
    assert main(["clv", str(src), "-o", str(csv_out)]) == 0
    assert words in capsys.readouterr().err
    table = pd.read_csv(csv_out)
    assert set(table.fit_status) == {"boundary: one dropout rate (s, beta -> infinity)"}
    assert not table.isna().drop(columns="flag").any().any()


def test_no_repeat_buyers_give_words_not_zeros(tmp_path, capsys):
    src = tmp_path / "one_day.csv"
    src.write_text("customer_id,date,amount\n1,2024-01-01,5\n2,2024-01-01,6\n3,2024-01-02,7\n")
    out = tmp_path / "report.xlsx"
    assert main(["report", str(src), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "ltvxl: warning: no prediction: Pareto/NBD cannot be fitted" in captured.err
    assert "total predicted CLV of the current customers           not predicted" in \
        captured.out
    book = openpyxl.load_workbook(out, data_only=True)["Dashboard"]
    top = template.PREDICTED_ROW
    values = [book.cell(r, 2).value for r in (top + 1, top + 2, top + 3)]
    assert values == ["not predicted: see the Predictions sheet"] * 3


def test_too_few_data_said_out_loud(tmp_path, capsys):
    src = tmp_path / "two.csv"
    src.write_text("customer_id,date,amount\na,2024-01-01,10\na,2024-01-03,20\n"
                   "b,2024-01-02,5\nb,2024-01-04,7\n")
    out = tmp_path / "clv.csv"
    assert main(["clv", str(src), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "too few data for a purchase model: 2 customers" in err
    assert "the history is short" in err
    table = pd.read_csv(out)
    assert all("too few data" in v for v in table.fit_status)
    assert table.notna().drop(columns="flag").all().all()


def test_csv_report_with_named_columns_equals_the_core(csv_report):
    src, out, frame = csv_report
    log = read_transactions(src, "Client", "Order day", "Net sales")
    stats = ltv_stats(log)
    book = openpyxl.load_workbook(out, data_only=True)
    ws = book["Dashboard"]
    labels = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(6, 22)}
    assert labels["customers"] == frame["Client"].nunique() == stats.customers
    assert _headline(ws)["customers"] == stats.customers
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
    assert summary.figures["revenue (returns netted)"] == pytest.approx(frame["amount"].sum())


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
    profile = tmp_path / "profile"  # its own profile: parallel LibreOffice runs share no lock
    subprocess.run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless",
                    "--convert-to", "csv", "--outdir", str(tmp_path), str(out)],
                   check=True, capture_output=True, timeout=300)
    rows = list(csv.reader((tmp_path / "report.csv").open(encoding="utf-8", errors="replace")))
    ws = openpyxl.load_workbook(out, data_only=True)["Dashboard"]  # the first sheet
    top, seg = template.PREDICTED_ROW, template.SEGMENTS_ROW
    cells = [(r, 5) for r in range(5, 16)] + [(r, 2) for r in range(top + 1, top + 4)] + [
        (r, c) for r in range(seg + 1, seg + 4) for c in (1, 2, 4, 5)]  # not CLV_CHECK: a
    # spill LibreOffice recomputes without ltvxl
    for r, c in cells:
        value, shown = ws.cell(r, c).value, rows[r - 1][c - 1]
        if isinstance(value, str):
            assert shown == value, (r, c)
        else:
            number = float(shown.replace(",", "").rstrip("%")) / (100 if "%" in shown else 1)
            assert number == pytest.approx(value, rel=1e-6), (r, c)


def test_report_with_covariates_equals_the_core(tmp_path, capsys):
    """ltvxl report --covariates: the apparel log with Gender and Channel; the Covariates
    sheet holds the file, the Predictions sheet's CLV per customer and the Dashboard's
    mean are the core's covariate prediction (12 months, 10 % a year, margin 1)."""
    from pathlib import Path

    from ltvxl.models import covariates
    from ltvxl.transactions.summary import customer_summary

    data = Path(__file__).parent / "data"
    tr = pd.read_csv(data / "apparelTrans.csv")
    tr.columns = ["customer_id", "date", "amount"]
    tr.to_csv(tmp_path / "app.csv", index=False)
    out = tmp_path / "report.xlsx"
    cov_file = data / "apparelStaticCov.csv"
    assert main(["report", str(tmp_path / "app.csv"), "--covariates", str(cov_file),
                 "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "covariates of apparelStaticCov.csv (Gender, Channel) on the Covariates sheet" \
        in printed
    book = openpyxl.load_workbook(out, data_only=True)
    assert [c.value for c in book["Covariates"][1]] == ["Id", "Gender", "Channel"]
    ws = book["Predictions"]
    assert ws["B3"].value == "P(alive) (with covariates)"
    got = {str(ws.cell(r, 1).value): ws.cell(r, 5).value for r in range(4, 604)}
    log = read_transactions(tmp_path / "app.csv")
    s = customer_summary(log, None, "weeks").table
    table = pd.read_csv(cov_file)
    rows, _ = covariates.for_customers(table, s["customer"].to_numpy())
    d = covariates.design(rows)
    cov = covariates.fit(s["frequency"], s["recency"], s["T"], d)
    want = covariates.predict(cov, s, d.matrix, horizon=12, horizon_unit="months",
                              time_unit="weeks", annual_discount_rate=0.1, gross_margin=1.0)
    for cid, value in zip(want["customer"], want["clv"], strict=True):
        assert got[str(cid)] == pytest.approx(value, rel=1e-9)
    head = _headline(book["Dashboard"])
    assert head["predicted CLV per customer, next 12 months"] == pytest.approx(
        want["clv"].mean())
    # refused: auto (no covariate model to choose), a customer without a row
    assert main(["report", str(tmp_path / "app.csv"), "--covariates", str(cov_file),
                 "--model", "auto", "-o", str(out)]) == 1
    assert "--covariates works with --model pnbd or bgnbd, not auto" in capsys.readouterr().err
    table.iloc[1:].to_csv(tmp_path / "short.csv", index=False)
    assert main(["report", str(tmp_path / "app.csv"), "--covariates",
                 str(tmp_path / "short.csv"), "-o", str(tmp_path / "r2.xlsx")]) == 1
    assert "short.csv: 1 customers have no covariate row" in capsys.readouterr().err
    assert not (tmp_path / "r2.xlsx").exists()


def test_largest_segments_with_tied_revenues_are_distinct(tmp_path, capsys):
    """Segments with equal revenue (and the empty ones, revenue 0) each appear once, in the
    RFM table's order, and only segments with customers are listed."""
    src = tmp_path / "ties.csv"
    src.write_text("customer_id,date,amount\na,2024-01-01,10\na,2024-02-01,10\n"
                   "b,2024-01-05,10\nc,2024-03-01,10\nd,2024-03-02,5\n")
    out = tmp_path / "r.xlsx"
    assert main(["report", str(src), "-o", str(out)]) == 0
    capsys.readouterr()
    book = openpyxl.load_workbook(out, data_only=True)
    rfm = book["Segments"]
    table = [(rfm.cell(r, 1).value, rfm.cell(r, 2).value, rfm.cell(r, 4).value)
             for r in range(template.RFM_ROW + 1, template.RFM_ROW + 12)]
    expected = sorted((row for row in table if row[1]), key=lambda row: -row[2])[:3]
    ws = book["Dashboard"]
    shown = [(ws.cell(r, 1).value, ws.cell(r, 2).value, ws.cell(r, 4).value)
             for r in range(template.SEGMENTS_ROW + 1, template.SEGMENTS_ROW + 4)]
    shown = [row for row in shown if row[0]]
    assert len({row[0] for row in shown}) == len(shown)
    assert shown == expected
