"""`ltvxl clv`: per-customer predictions from a transaction file, written atomically."""

from pathlib import Path

import pandas as pd
import pytest

from ltvxl.cli import main

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def cdnow_csv(tmp_path_factory):
    raw = pd.read_csv(
        DATA / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master", "customer_id", "date", "cds", "amount"],
    )
    raw["date"] = pd.to_datetime(raw["date"].astype(str), format="%Y%m%d").dt.strftime("%Y-%m-%d")
    path = tmp_path_factory.mktemp("clv") / "cdnow.csv"
    raw[["customer_id", "date", "amount"]].to_csv(path, index=False)
    return path


def test_clv_command_reproduces_the_paper_forecast(cdnow_csv, tmp_path, capsys):
    out = tmp_path / "clv.csv"
    code = main(
        [
            "clv",
            str(cdnow_csv),
            "-o",
            str(out),
            "--as-of",
            "1997-09-30",
            "--horizon",
            "39",
            "--horizon-unit",
            "weeks",
            "--discount",
            "0",
            "--model",
            "bgnbd",  # the paper's model; the default is Pareto/NBD
        ]
    )
    assert code == 0
    table = pd.read_csv(out)
    assert list(table.columns) == [
        "customer",
        "p_alive",
        "expected_purchases",
        "expected_spend",
        "clv",
        "churn_risk",
        "fit_status",
        "flag",
    ]
    assert len(table) == 2357
    assert set(table.fit_status) == {"converged"} and table.flag.isna().all()
    assert table.expected_purchases.sum() == pytest.approx(1653, abs=3)
    printed = capsys.readouterr().out
    assert "BG/NBD (2,357 customers, rates per week): converged" in printed
    r_line = next(line for line in printed.splitlines() if line.startswith("  r "))
    assert float(r_line.split()[1]) == pytest.approx(0.2426, abs=1e-4)  # as published


def test_clv_command_reports_degenerate_data(tmp_path, capsys):
    src = tmp_path / "one_day.csv"
    src.write_text("customer_id,date,amount\n1,2024-01-01,5\n2,2024-01-01,6\n")
    out = tmp_path / "clv.csv"
    assert main(["clv", str(src), "-o", str(out)]) == 0
    assert "warning: no prediction: Pareto/NBD cannot be fitted: no customer made a repeat " \
        "purchase" in capsys.readouterr().err
    text = out.read_text()
    assert "nan" not in text.lower()
    table = pd.read_csv(out, keep_default_na=False)
    assert list(table.customer) == [1, 2]
    assert (table[["p_alive", "clv", "churn_risk"]] == "").all().all()
    assert table.fit_status.str.startswith("not predicted: Pareto/NBD cannot be fitted").all()


def test_clv_command_defaults_to_pareto_nbd(cdnow_csv, tmp_path, capsys):
    out = tmp_path / "clv.csv"
    assert main(["clv", str(cdnow_csv), "-o", str(out), "--as-of", "1997-09-30"]) == 0
    printed = capsys.readouterr().out
    assert "Pareto/NBD (2,357 customers, rates per week): converged" in printed
    s_line = next(line for line in printed.splitlines() if line.startswith("  s "))
    assert float(s_line.split()[1]) == pytest.approx(0.6062, rel=3e-3)  # as published
    assert "pnbd (Pareto/NBD, the default)" in " ".join(_help(capsys).split())


def _help(capsys) -> str:
    with pytest.raises(SystemExit):
        main(["clv", "--help"])
    return capsys.readouterr().out
