"""The backtest on an engine (ltvxl.engines.holdout) gives the in-memory backtest's numbers.

The CDNOW figures are the published ones (Fader, Hardie & Lee 2005: 1,882 actual and
1,653 predicted repeat purchases in weeks 40-78); the other expected figures come from
the in-memory backtest (:func:`ltvxl.models.backtest.backtest`) on the same rows, which
tests/test_backtest.py checks against the paper and independent counts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_engines import random_log, simulated_log

from ltvxl.cli import main
from ltvxl.engines import holdout as eh
from ltvxl.engines import measures as wm
from ltvxl.errors import LtvxlError
from ltvxl.models import backtest as bt
from ltvxl.models import early
from ltvxl.transactions import TransactionLog

pytest.importorskip("duckdb")

DATA = Path(__file__).parent / "data"
RTOL = 1e-9
"""The engine's figures agree with the in-memory ones to this (sums in another order)."""



@pytest.fixture(scope="module")
def cdnow(tmp_path_factory):
    raw = pd.read_csv(DATA / "CDNOW_sample.txt", sep=r"\s+", header=None,
                      names=["master_id", "id", "date", "cds", "amount"])
    frame = raw[["id", "date", "amount"]].rename(columns={"id": "customer_id"})
    path = tmp_path_factory.mktemp("cdnow") / "cdnow.csv"
    frame.to_csv(path, index=False)
    log = TransactionLog.from_arrays(raw["id"].to_numpy(), raw["date"].to_numpy(),
                                     raw["amount"].to_numpy())
    return path, log


def log_of(frame: pd.DataFrame) -> TransactionLog:
    return TransactionLog.from_arrays(frame["customer_id"].to_numpy(object),
                                      frame["date"].to_numpy(), frame["amount"].to_numpy(float))


def close(a, b, rtol=RTOL) -> bool:
    a, b = float(a), float(b)
    if np.isnan(a) or np.isnan(b):
        return bool(np.isnan(a) and np.isnan(b))
    return abs(a - b) <= rtol * max(abs(b), 1e-12)


def assert_same_backtest(got: eh.EngineBacktest, want: bt.Backtest) -> None:
    assert got.split == want.split and got.model is want.model
    assert got.holdout_length == want.holdout_length
    for (label, a), (_, b) in zip(got.measures.rows(), want.measures.rows(), strict=True):
        if label.startswith("error"):  # a ratio minus 1, near 0: the ratio to RTOL
            a, b = a + 1, b + 1
        assert close(a, b), (label, a, b)
    assert list(got.by_frequency["customers"]) == list(want.by_frequency["customers"])
    for col in ("actual", "predicted"):
        assert np.allclose(got.by_frequency[col], want.by_frequency[col], rtol=RTOL,
                           equal_nan=True), col
    g, w = got.tracking, want.tracking
    assert list(g["week_end"]) == list(w["week_end"]) and list(g["period"]) == list(w["period"])
    assert np.array_equal(g["actual_cumulative"], w["actual_cumulative"])
    assert np.allclose(g["predicted_cumulative"], w["predicted_cumulative"], rtol=RTOL)
    assert got.notes == tuple(n for n in want.notes if not n.startswith("duplicate rows"))


def test_cdnow_through_duckdb_gives_the_papers_figures(cdnow, tmp_path):
    path, log = cdnow
    got = eh.backtest(str(path), "1997-09-30", "1998-06-30", "BG/NBD")
    m = got.measures
    assert m.customers == 2357 and m.actual == 1882 and round(m.predicted) == 1653
    for name, value in zip(("r", "alpha", "a", "b"), (0.2426, 4.4136, 0.7929, 2.4259),
                           strict=True):
        assert got.fit.params[name] == pytest.approx(value, rel=1e-3)
    want = bt.backtest(log, "1997-09-30", "1998-06-30", "BG/NBD")
    assert_same_backtest(got, want)
    out = tmp_path / "bt.parquet"
    assert eh.write_customers(got, str(out)) == 2357
    table = pd.read_parquet(out)
    assert tuple(table.columns) == eh.COLUMNS and set(table["model"]) == {"BG/NBD"}
    table = table.set_index(table["customer"].astype(int))
    mine = want.customers.set_index(want.customers["customer"].astype(int))
    table = table.loc[mine.index]
    for col in ("frequency", "recency", "T", "actual_purchases", "baseline_purchases",
                "actual_value"):
        assert np.array_equal(table[col], mine[col]), col
    for col in ("predicted_purchases", "predicted_value"):
        assert np.allclose(table[col], mine[col], rtol=RTOL), col


@pytest.mark.parametrize("seed", [1, 2])
def test_returns_late_customers_and_rows_after_the_end_as_in_memory(tmp_path, seed):
    """Returns in both periods, customers first buying in the hold-out and rows after the
    hold-out end, on the default split and a given one."""
    frame = simulated_log(seed, 1500)
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    log = log_of(frame)
    for cal, end in ((None, None), ("2022-09-30", "2023-03-31")):
        for model in ("Pareto/NBD", "BG/NBD"):
            got = eh.backtest(str(path), cal, end, model)
            assert_same_backtest(got, bt.backtest(log, cal, end, model))
    notes = " ".join(got.notes)
    assert "not scored" in notes and "after the hold-out end" in notes and "returns" in notes


def test_auto_chooses_as_in_memory(tmp_path):
    frame = simulated_log(4, 1500)
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    done, failed = eh.compare(eh.prepare(str(path)))
    choice = bt.pick(done, failed)
    want = bt.choose(log_of(frame))
    assert choice.model is want.model
    assert [b.model for b in done] == [b.model for b in want.backtests]


def test_measures_on_counts_equal_those_on_the_expanded_arrays():
    rng = np.random.default_rng(5)
    for _ in range(20):
        k = int(rng.integers(3, 80))
        a = rng.integers(0, 6, k).astype(float)
        p = np.round(rng.random(k), 1)  # ties between rows
        w = rng.integers(1, 40, k)
        big_a, big_p = np.repeat(a, w), np.repeat(p, w)
        gini = wm.normalized_gini(a, p, w) - early.normalized_gini(big_a, big_p)
        assert abs(gini) < 1e-12  # a coefficient in [-1, 1], near 0 at random
        got, used = wm.decile_mape(a, p, w)
        want, want_used = early.decile_mape(big_a, big_p)
        assert used == want_used and close(got, want, 1e-12)
        assert abs(wm.spearman(a, p, w) - early.spearman(big_a, big_p)) < 1e-12
    assert np.isnan(wm.spearman([1.0, 1.0], [0.5, 0.2], [3, 4]))  # a constant: no ranking
    few = wm.decile_mape([1.0], [1.0], [9])  # fewer customers than deciles
    assert np.isnan(few[0]) and few[1] == 0


def test_bad_splits_have_the_in_memory_messages(tmp_path):
    frame = random_log(3)
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    log = log_of(frame)
    for cal, end in (("2022-06-30", None), ("2023-03-01", "2023-02-01"),
                     (None, "2030-01-01")):
        with pytest.raises(LtvxlError) as mem:
            bt.backtest(log, cal, end)
        with pytest.raises(LtvxlError) as eng:
            eh.backtest(str(path), cal, end)
        assert eng.value.message == mem.value.message


def test_ltvxl_backtest_engine_duckdb_prints_the_in_memory_figures(cdnow, tmp_path, capsys):
    path, _ = cdnow
    common = [str(path), "--calibration-end", "1997-09-30", "--holdout-end", "1998-06-30",
              "--model", "bgnbd"]
    assert main(["backtest", *common, "-o", str(tmp_path / "m.csv")]) == 0
    mem = capsys.readouterr().out.splitlines()
    assert main(["backtest", *common, "--engine", "duckdb", "-o", str(tmp_path / "d.csv"),
                 "--tracking", str(tmp_path / "tr.csv")]) == 0
    eng = capsys.readouterr().out.splitlines()
    wrote = [line for line in eng if line.startswith("Wrote")]
    assert "2,357 customers" in wrote[0] and "counted on duckdb" in wrote[0]
    assert "78 weeks" in wrote[1]
    same = [line for line in mem if not line.startswith(("Wrote", "data: duplicate"))]
    assert [line for line in eng if not line.startswith("Wrote")] == same
    assert any("1,882" in line for line in eng) and any("1,653.4" in line for line in eng)
    table = pd.read_csv(tmp_path / "d.csv")
    assert len(table) == 2357 and table["actual_purchases"].sum() == 1882
