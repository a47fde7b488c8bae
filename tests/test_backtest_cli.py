"""`ltvxl backtest`: the hold-out validation of a transaction file on the command line."""

import re
from pathlib import Path

import pandas as pd
import pytest

from ltvxl.cli import main
from ltvxl.models import registry

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def cdnow_csv(tmp_path_factory):
    raw = pd.read_csv(DATA / "CDNOW_sample.txt", sep=r"\s+", header=None,
                      names=["master", "customer_id", "date", "cds", "amount"])
    raw["date"] = pd.to_datetime(raw["date"].astype(str), format="%Y%m%d").dt.strftime("%Y-%m-%d")
    path = tmp_path_factory.mktemp("backtest") / "cdnow.csv"
    raw[["customer_id", "date", "amount"]].to_csv(path, index=False)
    return path


def test_cdnow_figures_of_the_paper(cdnow_csv, tmp_path, capsys):
    """FHL 2005: BG/NBD on the 39-week calibration predicts 1,653 of the 1,882 repeat
    purchases of weeks 40-78."""
    out, tracking = tmp_path / "bt.csv", tmp_path / "tr.csv"
    code = main(["backtest", str(cdnow_csv), "--calibration-end", "1997-09-30", "--model",
                 "BG/NBD", "-o", str(out), "--tracking", str(tracking)])
    text = capsys.readouterr().out
    assert code == 0
    assert "columns: id=customer_id, date=date, amount=amount" in text
    assert "hold-out 1997-10-01 to 1998-06-30 (273 days)" in text
    assert re.search(r"\n  predicted hold-out purchases +1,653\.41\n", text)
    assert re.search(r"\n  actual hold-out purchases +1,882\n", text)
    assert "        7+         64    6.359" in text
    table = pd.read_csv(out)
    assert list(table.columns) == ["customer", "model", "frequency", "recency", "T",
                                   "predicted_purchases", "actual_purchases",
                                   "baseline_purchases", "predicted_value", "actual_value"]
    assert len(table) == 2357 and table["actual_purchases"].sum() == 1882
    assert round(table["predicted_purchases"].sum()) == 1653
    assert set(table["model"]) == {"BG/NBD"}
    weeks = pd.read_csv(tracking)
    assert len(weeks) == 78 and weeks["actual_cumulative"].iloc[-1] == 2457 + 1882
    assert f"Wrote {out}: 2,357 customers" in text


def test_auto_backtests_every_registered_model(tmp_path, capsys):
    code = main(["backtest", "--model", "auto", "-o", str(tmp_path / "bt.csv")])
    text = capsys.readouterr().out
    assert code == 0
    assert "transactions: the built-in sample" in text
    assert "(default: the first two thirds of the span, the hold-out the last third)" in text
    for model in registry.PURCHASE_MODELS:
        assert f"  {model.name:<18} " in text
    chosen = text.split("chosen: ", 1)[1].split(":", 1)[0]
    assert chosen in {m.name for m in registry.PURCHASE_MODELS}
    assert set(pd.read_csv(tmp_path / "bt.csv")["model"]) == {chosen}


@pytest.mark.parametrize("options, words", [
    (["--calibration-end", "1999-01-01"], "--calibration-end 1999-01-01 leaves no hold-out"),
    (["--calibration-end", "1996-01-01"], "--calibration-end 1996-01-01 is before the first "
     "transaction (1997-01-01)"),
    (["--calibration-end", "1997-13-01"], '--calibration-end: "1997-13-01" is not a date'),
    (["--holdout-end", "1999-09-01"], "--holdout-end 1999-09-01 is after the last transaction"),
    (["--calibration-end", "1997-09-30", "--holdout-end", "1997-09-01"],
     "it must be before --holdout-end (1997-09-01)"),
])
def test_bad_dates_are_one_line_naming_the_option(cdnow_csv, tmp_path, capsys, options, words):
    out = tmp_path / "bt.csv"
    assert main(["backtest", str(cdnow_csv), *options, "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ltvxl: error: ") and words in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_bad_model_is_an_argparse_error(cdnow_csv, capsys):
    with pytest.raises(SystemExit) as info:
        main(["backtest", str(cdnow_csv), "--model", "nope"])
    assert info.value.code == 2
    assert 'argument --model: must be auto or one of PNBD (Pareto/NBD)' in capsys.readouterr().err


def test_missing_file(tmp_path, capsys):
    assert main(["backtest", str(tmp_path / "none.csv")]) == 1
    assert "transaction file not found" in capsys.readouterr().err


def test_clv_model_auto_says_which_and_why(cdnow_csv, tmp_path, capsys):
    from ltvxl.models.backtest import auto_model
    from ltvxl.transactions import read_transactions

    out = tmp_path / "clv.csv"
    assert main(["clv", str(cdnow_csv), "--as-of", "1997-09-30", "--model", "auto",
                 "-o", str(out)]) == 0
    text = capsys.readouterr().out
    choice = auto_model(read_transactions(cdnow_csv), "1997-09-30")
    assert f"model (auto): {choice.reason}" in text
    assert f"\n{choice.model.name} (2,357 customers, rates per week)" in text
    assert len(pd.read_csv(out)) == 2357


def test_clv_model_auto_needs_the_memory_engine(capsys):
    assert main(["clv", "--model", "auto", "--engine", "duckdb"]) == 1
    assert "--model auto backtests every model on the transactions in memory" in \
        capsys.readouterr().err


def test_report_prints_the_holdout_check_of_its_validation_sheet(tmp_path, capsys):
    from ltvxl.models.backtest import backtest
    from ltvxl.sample_data import load_sample_transactions

    assert main(["report", "-o", str(tmp_path / "r.xlsx")]) == 0
    text = capsys.readouterr().out
    m = backtest(load_sample_transactions()).measures
    assert (f"  Hold-out check: {registry.DEFAULT.name} predicted {m.predicted:,.1f} repeat "
            f"purchases in the hold-out ") in text
    assert f"actual {m.actual:,.0f} ({m.predicted / m.actual - 1:+.1%})" in text


def test_report_model_auto_and_a_named_model(tmp_path, capsys):
    """--model reaches the Inputs cell clv_model that CLV_PREDICT, CLV_FIT, CLV_CHECK and
    CLV_BACKTEST read; auto says which model it chose and why."""
    import openpyxl

    from ltvxl.models.backtest import auto_model
    from ltvxl.sample_data import load_sample_transactions

    out = tmp_path / "auto.xlsx"
    assert main(["report", "--model", "auto", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    chosen = auto_model(load_sample_transactions()).model
    assert f"; chosen by auto: {chosen.name}: lowest hold-out error, MAE " in text
    assert "purchase model the one with the lowest hold-out error (auto)" in text
    book = openpyxl.load_workbook(out, data_only=True)
    assert book["Inputs"]["B10"].value == "AUTO"
    assert book["Predictions"]["B3"].value == f"P(alive) ({chosen.name}, chosen by hold-out error)"
    out = tmp_path / "bg.xlsx"
    assert main(["report", "--model", "BG/NBD", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "  Hold-out check: BG/NBD predicted " in text and "purchase model BG/NBD" in text
    book = openpyxl.load_workbook(out, data_only=True)
    assert book["Inputs"]["B10"].value == "BGNBD"
    assert book["Predictions"]["I4"].value == "BG/NBD"  # CLV_FIT's first row


def test_doubts_about_the_calibration_fit_are_warnings(tmp_path, capsys):
    from test_backtest import SMALL

    path = tmp_path / "small.csv"
    pd.DataFrame(SMALL, columns=["customer_id", "date", "amount"]).to_csv(path, index=False)
    assert main(["backtest", str(path), "--calibration-end", "2024-03-31", "--model", "bgnbd",
                 "-o", str(tmp_path / "bt.csv")]) == 0
    err = capsys.readouterr().err
    assert ("ltvxl: warning: calibration: data: too few data for a purchase model: 5 "
            "customers, 3 with a repeat purchase") in err
    assert "Traceback" not in err


def test_covariates_file_on_apparel(tmp_path, capsys):
    """--covariates: the apparel data's calibration to 2006-12-31 with Gender and Channel is
    CLVTools' covariate fit (tests/test_models_covariates.py has its figures), and the
    per-customer table is the core's backtest with the same table."""
    from ltvxl.models import backtest as bt
    from ltvxl.transactions import TransactionLog

    tr = pd.read_csv(DATA / "apparelTrans.csv")
    tr.columns = ["customer_id", "date", "amount"]
    tr.to_csv(tmp_path / "app.csv", index=False)
    cov = pd.read_csv(DATA / "apparelStaticCov.csv")
    out = tmp_path / "bt.csv"
    assert main(["backtest", str(tmp_path / "app.csv"), "--calibration-end", "2006-12-31",
                 "--covariates", str(DATA / "apparelStaticCov.csv"), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Pareto/NBD with covariates fitted on 600 calibration customers" in text
    for name, clvtools in (("purchase: Gender", 0.2859), ("dropout: Channel", 0.7907)):
        got = float(re.search(rf"{name} (-?[0-9.]+)", text).group(1))
        assert abs(got - clvtools) < 0.003, name
    table = pd.read_csv(out)
    assert set(table["model"]) == {"Pareto/NBD with covariates"}
    log = TransactionLog.from_arrays(tr.customer_id.to_numpy(), tr.date.to_numpy(),
                                     tr.amount.to_numpy(float))
    want = bt.backtest(log, "2006-12-31", covariates=cov).customers
    assert table["predicted_purchases"].to_numpy() == pytest.approx(
        want["predicted_purchases"].to_numpy(), rel=1e-9)
    code = main(["backtest", str(tmp_path / "app.csv"), "--model", "auto", "--covariates",
                 str(DATA / "apparelStaticCov.csv"), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and "--covariates needs a model (pnbd or bgnbd, not auto)" in err
