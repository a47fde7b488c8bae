"""CLV_BACKTEST: the hold-out validation as a worksheet function (ranges as xlwings passes
them, and through xlwings' own conversion)."""

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from conftest import MISSING

import ltvxl.udfs.models as fam
from ltvxl.models import registry

DATA = Path(__file__).parent / "data"
CAL_END = dt.datetime(1997, 9, 30)


@pytest.fixture(scope="module")
def cdnow_cells():
    raw = pd.read_csv(DATA / "CDNOW_sample.txt", sep=r"\s+", header=None,
                      names=["master", "id", "date", "cds", "amount"])
    ids = [["customer"], *([float(v)] for v in raw["id"])]
    dates = [["date"], *([dt.datetime.strptime(str(d), "%Y%m%d")] for d in raw["date"])]
    amounts = [["amount"], *([float(v)] for v in raw["amount"])]
    return ids, dates, amounts


def test_summary_reproduces_the_paper(cdnow_cells):
    rows = fam.CLV_BACKTEST(*cdnow_cells, CAL_END, None, "bg/nbd")
    assert rows[0] == ["measure", "value"]
    values = dict(map(tuple, rows[1:]))
    assert values["model"] == "BG/NBD"
    assert values["calibration"] == "1997-01-01 to 1997-09-30"
    assert values["hold-out"] == "1997-10-01 to 1998-06-30 (39 weeks)"
    assert values["fit status"] == "converged"
    assert values["actual hold-out purchases"] == 1882.0
    assert round(values["predicted hold-out purchases"]) == 1653
    assert values["customers"] == 2357.0


def test_frequency_and_tracking_tables(cdnow_cells):
    freq = fam.CLV_BACKTEST(*cdnow_cells, CAL_END, None, "BGNBD", "frequency")
    assert freq[0][:2] == ["calibration repeat purchases", "customers"]
    assert [r[0] for r in freq[1:]] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert sum(r[1] for r in freq[1:]) == 2357
    track = fam.CLV_BACKTEST(*cdnow_cells, CAL_END, None, "BGNBD", "TRACKING")
    assert len(track) == 1 + 78
    assert track[39][1] == dt.datetime(1997, 9, 30) and track[39][2] == "calibration"
    assert track[-1][5] == 2457 + 1882
    customers = fam.CLV_BACKTEST(*cdnow_cells, CAL_END, None, "BGNBD", "customers")
    assert len(customers) == 1 + 2357 and customers[1][0] == "1"
    assert sum(r[5] for r in customers[1:]) == 1882


def test_models_table_has_every_registered_model_and_the_baseline(cdnow_cells):
    rows = fam.CLV_BACKTEST(*cdnow_cells, CAL_END, None, None, "MODELS")
    names = [r[0] for r in rows[1:]]
    assert names == [*(m.name for m in registry.PURCHASE_MODELS), "baseline (past repeat rate)"]
    assert all(r[2] == 1882.0 for r in rows[1:])
    assert {len(r) for r in rows} == {len(rows[0])}
    assert rows[0][9:12] == ["log-likelihood (calibration)", "AIC", "BIC"]
    bg = next(r for r in rows if r[0] == "BG/NBD")
    assert bg[9] == pytest.approx(-9582.43, abs=0.01) and bg[10] == pytest.approx(2 * 4 - 2 * bg[9])
    auto = dict(map(tuple, fam.CLV_BACKTEST(*cdnow_cells, CAL_END, None, "auto")[1:]))
    best = min(rows[1:-1], key=lambda r: r[4])[0]
    assert auto["model"] == best and auto["chosen because"].startswith(f"{best}: lowest")


@pytest.mark.parametrize("args, message", [
    ((dt.datetime(1999, 1, 1),), "#VALUE! calibration_end 1999-01-01 leaves no hold-out"),
    ((CAL_END, dt.datetime(1999, 1, 1)), "#VALUE! holdout_end 1999-01-01 is after the last"),
    ((CAL_END, None, "xyz"), '#VALUE! model must be AUTO or one of PNBD (Pareto/NBD)'),
    ((CAL_END, None, None, "chart"), "#VALUE! table must be one of SUMMARY, MODELS"),
    (("someday",), '#VALUE! calibration_end: "someday" is not a date'),
])
def test_bad_arguments_are_messages_naming_them(cdnow_cells, args, message):
    out = fam.CLV_BACKTEST(*cdnow_cells, *args)
    assert isinstance(out, str) and out.startswith(message), out


def test_through_xlwings(xl_call):
    ids = tuple((v,) for v in ("id", *(f"c{i % 40}" for i in range(400))))
    days = [dt.datetime(2024, 1, 1) + dt.timedelta(days=(i * 37) % 360) for i in range(400)]
    dates = (("date",), *((d,) for d in days))
    amounts = (("amount",), *((10.0 + i % 7,) for i in range(400)))
    out = xl_call(fam.CLV_BACKTEST, ids, dates, amounts, dt.datetime(2024, 9, 30), MISSING,
                  "BGNBD", MISSING)
    assert out[0] == ["measure", "value"] and out[1] == ["model", "BG/NBD"]
    blank = xl_call(fam.CLV_BACKTEST, ids, dates, amounts, MISSING, MISSING, MISSING, MISSING)
    assert dict(map(tuple, blank[1:]))["model"] == registry.DEFAULT.name


def test_clv_predict_auto_uses_the_model_with_the_lowest_holdout_error(cdnow_cells):
    from ltvxl.models.backtest import auto_model
    from ltvxl.transactions import TransactionLog

    log = TransactionLog.from_cells(*cdnow_cells)
    chosen = auto_model(log, "1997-09-30").model
    auto = fam.CLV_PREDICT(*cdnow_cells, 39.0, 0.0, None, CAL_END, "auto", "weeks")
    assert auto[0][1] == f"P(alive) ({chosen.name}, chosen by hold-out error)"
    named = fam.CLV_PREDICT(*cdnow_cells, 39.0, 0.0, None, CAL_END, chosen.choice, "weeks")
    assert [r[2] for r in auto[1:]] == [r[2] for r in named[1:]]
    assert fam.CLV_PREDICT(*cdnow_cells, 39.0, 0.0, None, CAL_END, "nope").startswith(
        "#VALUE! model must be AUTO or one of PNBD (Pareto/NBD)")


def test_fit_and_check_take_auto(cdnow_cells):
    from ltvxl.models.backtest import auto_model
    from ltvxl.transactions import TransactionLog

    chosen = auto_model(TransactionLog.from_cells(*cdnow_cells), "1997-09-30").model
    fit = fam.CLV_FIT(*cdnow_cells, CAL_END, "AUTO")
    assert fit[1][0] == chosen.name
    assert [chosen.name, "model", f"{chosen.name}, chosen by hold-out error", None] in fit
    check = fam.CLV_CHECK(*cdnow_cells, 12.0, CAL_END, "auto")
    assert check[0] == ["checks"] and all(isinstance(r[0], str) for r in check[1:])
    assert fam.CLV_FIT(*cdnow_cells, CAL_END, "nope").startswith("#VALUE! model must be AUTO")



def test_the_tables_of_one_holdout_come_from_one_backtest(cdnow_cells, monkeypatch):
    # the measures, frequency and tracking tables of the same ranges: one backtest, the
    # paper's figures in each (a fresh copy of the cells: equal content is enough)
    import copy

    from ltvxl.models import backtest as bt

    fam._BACKTESTS.clear()
    runs = []
    real = bt.backtest
    monkeypatch.setattr(bt, "backtest", lambda *a, **k: runs.append(1) or real(*a, **k))
    summary = dict(map(tuple, fam.CLV_BACKTEST(*cdnow_cells, CAL_END, None, "BGNBD")[1:]))
    freq = fam.CLV_BACKTEST(*copy.deepcopy(cdnow_cells), CAL_END, None, "BGNBD", "frequency")
    track = fam.CLV_BACKTEST(*cdnow_cells, CAL_END, None, "BGNBD", "TRACKING")
    assert len(runs) == 1
    assert summary["actual hold-out purchases"] == 1882.0
    assert sum(r[1] for r in freq[1:]) == 2357 and track[-1][5] == 2457 + 1882
    fam.CLV_BACKTEST(*cdnow_cells, dt.datetime(1997, 10, 31), None, "BGNBD")
    assert len(runs) == 2  # another calibration end: another backtest
