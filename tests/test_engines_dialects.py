"""Real exports on the engine path: order ids, decimal commas, day-first dates.

Every expected figure and message is the in-memory reader's on the same file
(:func:`read_transactions` then :func:`customer_summary`), which
tests/test_readers_exports.py checks by hand.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from test_engines import assert_same_summary, random_log

from ltvxl import engines
from ltvxl.cli import main
from ltvxl.errors import LtvxlError
from ltvxl.transactions import ReadOptions, customer_summary, read_transactions

pytest.importorskip("duckdb")


def in_memory(path, as_of=None, **options):
    log = read_transactions(path, extra_cols=[], options=ReadOptions(**options))
    return log, customer_summary(log, as_of)


def engine_options(options: dict) -> dict:
    return {{"order_col": "order_col"}.get(k, k): v for k, v in options.items()}


def assert_same(path, as_of=None, line=True, **options):
    """The engine's summary, columns line and notes are the in-memory reader's."""
    log, mem = in_memory(path, as_of, **options)
    s = engines.summarize(str(path), as_of=as_of, **engine_options(options))
    assert_same_summary(s, mem)
    memory_line = re.sub(r" \[[^]]*\]$", "", log.columns_line)  # the CSV dialect, sniffed
    assert s.columns.describe() == memory_line or not line
    assert tuple(s.notes) == tuple(n for n in mem.notes if not n.startswith("duplicate rows ("))
    return s


def same_message(engine: str, memory: str) -> bool:
    """The engine's message is the in-memory one without its file name and rows (the
    quoted example values may differ: the first row's, or the engine's)."""
    def shape(text: str) -> str:
        return re.sub(r'"[^"]+"', '"V"', re.sub(r" \(?row \d+\)?", "", text))

    return shape(memory).endswith(": " + shape(engine))


def european(seed: int, dayfirst_hint: bool = True) -> pd.DataFrame:
    """A French export: 31/01/2024 dates, 1 234,56 amounts with a currency sign."""
    frame = random_log(seed, n_customers=60, n_rows=500)
    days = pd.to_datetime(frame["date"])
    frame["date"] = days.dt.strftime("%d/%m/%Y")
    if not dayfirst_hint:  # every day at most 12: no value says day-first
        frame["date"] = [f"{(d.day - 1) % 12 + 1:02d}/{d.month:02d}/{d.year}" for d in days]
    frame["amount"] = [f"{v:,.2f} €".replace(",", " ").replace(".", ",")
                       for v in frame["amount"] * 40]
    return frame


@pytest.mark.parametrize("seed", [1, 2])
def test_day_first_dates_and_decimal_commas_as_in_memory(tmp_path, seed):
    path = tmp_path / "fr.csv"
    european(seed).to_csv(path, sep=";", index=False)
    s = assert_same(path)
    assert "day-first" in s.columns.describe() and "decimal ','" in s.columns.describe()
    assert_same(path, as_of="2023-10-31")


def test_month_first_times_and_two_digit_years_as_in_memory(tmp_path):
    """Online Retail's 12/1/10 8:26: month-first, decided by a day above 12."""
    frame = random_log(4, n_customers=50, n_rows=400)
    days = pd.to_datetime(frame["date"])
    frame["date"] = [f"{d.month}/{d.day}/{d.year % 100:02d} {h}:{m:02d}" for d, h, m in
                     zip(days, np.arange(len(days)) % 24, np.arange(len(days)) % 60,
                         strict=True)]
    path = tmp_path / "us.csv"
    frame.to_csv(path, index=False)
    assert "month-first" in assert_same(path).columns.describe()


def test_undecided_orders_and_amounts_refused_as_in_memory_then_read_with_the_option(tmp_path):
    path = tmp_path / "fr.csv"
    european(3, dayfirst_hint=False).to_csv(path, sep=";", index=False)
    with pytest.raises(LtvxlError) as mem:
        in_memory(path)
    with pytest.raises(LtvxlError) as eng:
        engines.summarize(str(path))
    assert "--dayfirst or --monthfirst" in eng.value.message
    assert same_message(eng.value.message, mem.value.message)
    assert_same(path, dayfirst=True)
    assert_same(path, dayfirst=False)
    frame = random_log(5, n_customers=30, n_rows=200)
    frame["amount"] = np.where(np.arange(len(frame)) % 2, "1.234", "2.500")  # 1234 or 1.234?
    frame.to_parquet(tmp_path / "a.parquet")
    with pytest.raises(LtvxlError, match=r"could be 1234 or 1\.234") as eng:
        engines.summarize(str(tmp_path / "a.parquet"))
    assert "--decimal" in eng.value.message
    for decimal in (",", "."):
        assert_same(tmp_path / "a.parquet", decimal=decimal)


def online_retail_like(seed: int) -> pd.DataFrame:
    """Invoices of several lines (one customer, one day each), cancellation invoices
    C..., a customer id and an amount written on an order's first line only, lines
    without any id."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(300):
        customer = f"{12000 + int(rng.integers(0, 40))}"
        day = np.datetime64("2023-01-01") + np.timedelta64(int(rng.integers(0, 400)), "D")
        cancelled = rng.random() < 0.05
        invoice = ("C" if cancelled else "") + str(530000 + k)
        for line in range(int(rng.integers(1, 5))):
            amount = round(float(rng.gamma(2.0, 10.0)), 2) * (-1 if cancelled else 1)
            blank = line > 0 and rng.random() < 0.1  # the order total on its first line
            rows.append([invoice, customer if line == 0 or rng.random() < 0.5 else None,
                         str(day), None if blank else amount])
    frame = pd.DataFrame(rows, columns=["InvoiceNo", "CustomerID", "InvoiceDate", "Amount"])
    frame.loc[rng.random(len(frame)) < 0.02, ["CustomerID", "InvoiceNo"]] = None
    return frame


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_order_ids_as_in_memory(tmp_path, suffix):
    frame = online_retail_like(7)
    path = tmp_path / f"retail.{suffix}"
    frame.to_csv(path, index=False) if suffix == "csv" else frame.to_parquet(path)
    s = assert_same(path, order_col="InvoiceNo")
    notes = " ".join(s.notes)
    assert "cancellation invoices" in notes and "without a customer id" in notes
    assert "zero-amount rows" in notes  # blank amounts of an order's later lines
    table = s.to_frame()  # orders are invoices: fewer than the lines of some customers
    lines = frame.dropna(subset=["CustomerID"]).groupby("CustomerID").size()
    assert (table.set_index("customer")["orders"] < lines.reindex(table["customer"])).any()


def test_delimiter_given(tmp_path):
    frame = random_log(9, n_customers=40, n_rows=300)
    path = tmp_path / "t.csv"
    frame.to_csv(path, sep="|", index=False)
    # in memory, a given delimiter reads the numbers as text ("decimal '.'" on the line)
    assert_same(path, line=False, delimiter="|")


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_drop_duplicates_as_in_memory(tmp_path, suffix):
    frame = random_log(10, n_customers=40, n_rows=300)
    frame = pd.concat([frame, frame.iloc[::7]], ignore_index=True)  # 43 rows twice
    path = tmp_path / f"t.{suffix}"
    frame.to_csv(path, index=False) if suffix == "csv" else frame.to_parquet(path)
    s = assert_same(path, drop_duplicates=True)  # the notes too: "duplicate rows dropped"
    assert s.notes[0].startswith("duplicate rows dropped: ")


def test_cli_engine_reads_the_export_as_memory_does(tmp_path, capsys):
    path = tmp_path / "fr.csv"
    european(6).to_csv(path, sep=";", index=False)
    assert main(["clv", str(path), "-o", str(tmp_path / "m.csv")]) == 0
    mem = capsys.readouterr().out
    assert main(["clv", str(path), "--engine", "duckdb", "--dayfirst", "--decimal", ",",
                 "-o", str(tmp_path / "d.csv")]) == 0
    eng = capsys.readouterr().out
    line = next(x for x in eng.splitlines() if x.startswith("columns:"))
    assert line in mem
    m = pd.read_csv(tmp_path / "m.csv").set_index("customer")
    d = pd.read_csv(tmp_path / "d.csv").set_index("customer").loc[m.index]
    # 60 customers: Gamma-Gamma's likelihood is flat enough that the last digit of the
    # summed amounts (SQL's order of addition, not numpy's) moves the fit by about 1e-8
    assert np.allclose(d["clv"], m["clv"], rtol=1e-7)


@pytest.mark.parametrize("option", [["--quantity-col", "q"], ["--price-col", "p"],
                                    ["--sheet", "x"], ["--header-row", "2"],
                                    ["--encoding", "cp1252"], ["--thousands", "."]])
def test_cli_engine_refuses_the_options_it_does_not_read(tmp_path, capsys, option):
    path = tmp_path / "t.parquet"
    random_log(1).to_parquet(path)
    code = main(["clv", str(path), "--engine", "duckdb", *option, "-o",
                 str(tmp_path / "o.csv")])
    err = capsys.readouterr().err
    if option[0] == "--thousands":  # read: numbers need no separator
        assert code == 0
        return
    assert code != 0 and option[0] in err and "--engine memory" in err
    assert len(err.strip().splitlines()) == 1
