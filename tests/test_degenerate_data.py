"""Degenerate data said out loud (issue 11): no dropout, no repeat buyers, two customers
and a single day each give a warning on screen, in the report workbook and in the clv
CSV, with exit status 0 and no NaN or infinity anywhere."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from ltvxl.cli import main
from ltvxl.workbook import template


def _no_dropout() -> pd.DataFrame:
    """Gamma-distributed weekly purchase rates, nobody leaves, two years watched."""
    rng = np.random.default_rng(11)
    rows = []
    for i, rate in enumerate(rng.gamma(2.0, 0.05, 300)):
        start = int(rng.integers(0, 120))
        days = np.cumsum(rng.exponential(7 / rate, 400)).astype(int) + start
        for d in [start, *days[days < 730].tolist()]:
            day = np.datetime64("2023-01-01") + np.timedelta64(d, "D")
            rows.append((f"c{i}", str(day), 20.0 + i % 9))
    return pd.DataFrame(rows, columns=["customer_id", "date", "amount"]).drop_duplicates(
        ["customer_id", "date"])


DATA = {
    "no dropout": _no_dropout,
    "no repeat buyers": lambda: pd.DataFrame(
        [(f"c{i}", str(np.datetime64("2023-01-01") + np.timedelta64(3 * i, "D")), 10.0 + i % 5)
         for i in range(120)],
        columns=["customer_id", "date", "amount"]),
    "two customers": lambda: pd.DataFrame(
        [("a", "2024-01-01", 10.0), ("a", "2024-01-03", 20.0), ("b", "2024-01-02", 5.0),
         ("b", "2024-01-04", 7.0)], columns=["customer_id", "date", "amount"]),
    "a single day": lambda: pd.DataFrame(
        [(f"c{i}", "2024-03-01", 5.0 + i) for i in range(20)],
        columns=["customer_id", "date", "amount"]),
}
WORDS = {  # what the warning says, on screen and in the CSV's fit_status
    "no dropout": "NBD (no dropout)",
    "no repeat buyers": "no customer made a repeat purchase",
    "two customers": "too few data",
    "a single day": "no customer made a repeat purchase",
}


def _finite_everywhere(book: Path) -> None:
    for ws in openpyxl.load_workbook(book, data_only=True).worksheets:
        for row in ws.iter_rows(values_only=True):
            for v in row:
                if isinstance(v, float):
                    assert math.isfinite(v), (ws.title, row)
                elif isinstance(v, str):
                    assert v.strip().lower() not in {"nan", "inf", "-inf"}, (ws.title, row)


@pytest.fixture(params=list(DATA))
def case(request, tmp_path):
    src = tmp_path / "tx.csv"
    DATA[request.param]().to_csv(src, index=False)
    return request.param, src


def test_report_says_it_on_screen_and_on_the_dashboard(case, tmp_path, capsys):
    name, src = case
    out = tmp_path / "report.xlsx"
    assert main(["report", str(src), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "ltvxl: warning:" in err and WORDS[name] in err, err
    ws = openpyxl.load_workbook(out, data_only=True)["Dashboard"]
    checks = " ".join(str(ws.cell(r, 4).value or "") for r in
                      range(template.CHECK_ROW, template.CHECK_ROW + template.CHECK_LINES + 1))
    predicted = str(ws.cell(template.PREDICTED_ROW + 1, 2).value)
    assert WORDS[name] in checks or predicted.startswith("not predicted"), (checks, predicted)
    assert not checks.strip().endswith("no doubts found: the fit converged on enough data")
    _finite_everywhere(out)


def test_clv_csv_carries_the_status(case, tmp_path, capsys):
    name, src = case
    out = tmp_path / "clv.csv"
    assert main(["clv", str(src), "-o", str(out)]) == 0
    assert WORDS[name] in capsys.readouterr().err
    table = pd.read_csv(out)
    assert table.fit_status.notna().all() and all(WORDS[name] in s for s in table.fit_status)
    numbers = table[["p_alive", "expected_purchases", "expected_spend", "clv"]]
    unpredicted = table.fit_status.str.startswith("not predicted")
    assert np.isfinite(numbers[~unpredicted].to_numpy(float)).all()
    assert numbers[unpredicted].isna().all().all()
