"""The engine path (DuckDB here, Spark in test_engines_spark.py) gives the in-memory numbers.

Every expected figure comes from the in-memory path on the same rows
(:func:`customer_summary`, :func:`clv.predict`), which the other tests check
against the papers and lifetimes.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ltvxl import engines
from ltvxl.cli import main
from ltvxl.errors import LtvxlError
from ltvxl.models import clv, simulate
from ltvxl.transactions import TransactionLog, customer_summary, read_transactions

pytest.importorskip("duckdb")

SUMMARY_NUMBERS = (
    "orders",
    "revenue",
    "avg_order_value",
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "historical_value",
)


def random_log(seed: int, n_customers: int = 400, n_rows: int = 3000) -> pd.DataFrame:
    """Transactions with same-day purchases, returns and customers with only returns."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, n_customers + 1, n_rows)
    days = rng.integers(0, 500, n_rows)
    amounts = np.round(rng.gamma(2.0, 30.0, n_rows), 2)
    returns = rng.random(n_rows) < 0.05
    amounts[returns] *= -1
    same_day = rng.random(n_rows) < 0.1  # a second line on the previous row's day
    days[1:][same_day[1:]] = days[:-1][same_day[1:]]
    ids[1:][same_day[1:]] = ids[:-1][same_day[1:]]
    return pd.DataFrame(
        {
            "customer_id": [f"K{i:04d}" for i in ids],
            "date": (np.datetime64("2023-01-01") + days.astype("timedelta64[D]")),
            "amount": amounts,
        }
    )


def simulated_log(seed: int, customers: int = 2000) -> pd.DataFrame:
    """A log from the Pareto/NBD story (the fits converge on it), with a few returns."""
    t = simulate.transaction_log(customers, seed=seed)
    rng = np.random.default_rng(seed)
    amounts = t["amount"].to_numpy(float, copy=True)
    amounts[rng.random(len(t)) < 0.02] *= -1
    return pd.DataFrame(
        {
            "customer_id": [f"S{i:05d}" for i in t["customer"]],
            "date": np.datetime64("2022-01-01") + t["day"].to_numpy().astype("timedelta64[D]"),
            "amount": amounts,
        }
    )


def in_memory(frame: pd.DataFrame, as_of=None, time_unit="weeks"):
    log = TransactionLog.from_arrays(
        frame["customer_id"].to_numpy(object),
        frame["date"].to_numpy(),
        frame["amount"].to_numpy(float),
    )
    return customer_summary(log, as_of, time_unit)


def assert_close(a, b, rtol=1e-9, what=""):
    a, b = np.asarray(a, float), np.asarray(b, float)
    scale = np.maximum(np.abs(b), 1e-12)
    worst = float(np.max(np.abs(a - b) / scale)) if a.size else 0.0
    assert worst <= rtol, f"{what}: largest relative difference {worst:.3g}"


def assert_same_summary(engine_summary, memory_summary):
    got = engine_summary.to_frame().set_index("customer").sort_index()
    want = memory_summary.table.assign(customer=lambda t: t.customer.astype(str))
    want = want.set_index("customer").sort_index()
    assert list(got.index) == list(want.index)
    for col in SUMMARY_NUMBERS:
        assert_close(got[col], want[col], 1e-12, col)
    for col in ("first_purchase", "last_purchase"):
        assert (got[col].to_numpy("datetime64[D]") == want[col].to_numpy("datetime64[D]")).all()


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("time_unit", ["weeks", "days"])
def test_duckdb_summary_equals_in_memory(tmp_path, seed, time_unit):
    frame = random_log(seed)
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    s = engines.summarize(str(path), time_unit=time_unit)
    mem = in_memory(frame, None, time_unit)
    assert_same_summary(s, mem)
    assert s.n_customers == len(mem)
    assert s.as_of == mem.as_of
    returns = int((frame["amount"] < 0).sum())
    assert f"returns netted (negative amounts): {returns:,}" in s.notes
    assert tuple(s.notes) == mem.notes


def test_as_of_leaves_out_later_rows_and_counts_them(tmp_path):
    frame = random_log(3)
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    as_of = "2023-12-31"
    s = engines.summarize(str(path), as_of=as_of)
    assert_same_summary(s, in_memory(frame, as_of))
    after = int((frame["date"] > np.datetime64(as_of)).sum())
    returns_inside = int(((frame["amount"] < 0) & (frame["date"] <= np.datetime64(as_of))).sum())
    assert f"transactions after as_of excluded: {after}" in s.notes
    assert f"returns netted (negative amounts): {returns_inside:,}" in s.notes
    assert tuple(s.notes) == in_memory(frame, as_of).notes


FIT_RTOL = 1e-9
"""Fitted numbers agree to this (the issue's figure): the fits compress the rows in sorted
order (:func:`ltvxl.models.base.compress`), the engine's histogram is sorted the same
way, so both fits sum the same terms in the same order; what is left is the engine's
arithmetic in the scores' join (the expected spend evaluated in SQL)."""


def test_predictions_equal_in_memory(tmp_path):
    frame = simulated_log(4)
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    s = engines.summarize(str(path))
    fits = engines.fit(s)
    out = tmp_path / "clv.parquet"
    totals = engines.score(
        s,
        fits,
        horizon=12,
        horizon_unit="months",
        annual_discount_rate=0.1,
        gross_margin=0.4,
        output=str(out),
    )
    mem = in_memory(frame)
    pred = clv.predict(
        mem.table,
        horizon=12,
        horizon_unit="months",
        time_unit="weeks",
        annual_discount_rate=0.1,
        gross_margin=0.4,
    )
    for name, value in pred.purchases_fit.params.items():
        assert_close(fits.purchases.params[name], value, FIT_RTOL, name)
    got = pd.read_parquet(out).set_index("customer")
    want = pred.table.set_index("customer").loc[got.index]
    for col in ("p_alive", "expected_purchases", "expected_spend", "clv"):
        assert_close(got[col], want[col], FIT_RTOL, col)
    assert (got["churn_risk"] == want["churn_risk"]).all()
    assert list(got.index) == sorted(got.index)
    assert totals.customers == len(want)
    assert_close(totals.clv, want["clv"].sum(), FIT_RTOL, "total clv")


def _write_all(frame: pd.DataFrame, folder) -> None:
    """The same log as a hive-partitioned folder of Parquet files (by year)."""
    frame = frame.assign(year=pd.to_datetime(frame["date"]).dt.year)
    for year, part in frame.groupby("year"):
        d = folder / f"year={year}"
        d.mkdir(parents=True)
        part.drop(columns="year").to_parquet(d / "part-0.parquet")


def test_folder_glob_and_csv_sources_agree(tmp_path):
    frame = random_log(5)
    _write_all(frame, tmp_path / "hive")
    csv = tmp_path / "t.csv"
    frame.assign(date=pd.to_datetime(frame["date"]).dt.strftime("%Y-%m-%d")).to_csv(
        csv, index=False
    )
    mem = in_memory(frame)
    for source in (tmp_path / "hive", str(tmp_path / "hive" / "*" / "*.parquet"), csv):
        assert_same_summary(engines.summarize(str(source)), mem)


@pytest.mark.parametrize("form", ["serial", "yyyymmdd", "timestamp", "text_time", "format"])
def test_date_forms(tmp_path, form):
    frame = random_log(6, n_customers=50, n_rows=300)
    days = frame["date"].to_numpy("datetime64[D]")
    dates = {
        "serial": (days.astype(np.int64) + 25569).astype(float),
        "yyyymmdd": pd.to_datetime(days).strftime("%Y%m%d").astype(int).to_numpy(),
        "timestamp": days.astype("datetime64[s]") + np.timedelta64(13, "h"),
        "text_time": pd.to_datetime(days).strftime("%Y-%m-%d 08:26:00").to_numpy(),
        "format": pd.to_datetime(days).strftime("%d/%m/%Y").to_numpy(),
    }[form]
    path = tmp_path / "t.parquet"
    frame.assign(date=dates).to_parquet(path)
    s = engines.summarize(str(path), date_format="%d/%m/%Y" if form == "format" else None)
    assert_same_summary(s, in_memory(frame))


def test_numeric_ids_are_one_customer_in_any_type(tmp_path):
    frame = pd.DataFrame(
        {
            "customer_id": [1001.0, 1001.0, 7.0, 7.0],
            "date": np.array(
                ["2024-01-01", "2024-02-01", "2024-01-05", "2024-03-01"], dtype="datetime64[D]"
            ),
            "amount": [10.0, 20.0, 5.0, 6.0],
        }
    )
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    got = engines.summarize(str(path)).to_frame().set_index("customer")
    assert sorted(got.index) == ["1001", "7"]
    assert got.loc["1001", "frequency"] == 1


def test_missing_ids_and_values_are_left_out_and_counted(tmp_path):
    frame = random_log(7, n_customers=60, n_rows=500)
    frame.loc[[3, 10, 11], "customer_id"] = None
    frame.loc[[20], "customer_id"] = "  "
    frame.loc[[30, 31], "amount"] = np.nan
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    s = engines.summarize(str(path))
    assert "rows without a customer id left out: 4" in s.notes
    assert "rows without a date or amount left out: 2" in s.notes
    kept = frame.drop(index=[3, 10, 11, 20, 30, 31])
    assert_same_summary(s, in_memory(kept))


def test_unreadable_values_stop_with_the_column_and_value(tmp_path):
    frame = random_log(8, n_customers=10, n_rows=40)
    frame = frame.assign(date=pd.to_datetime(frame["date"]).dt.strftime("%Y-%m-%d"))
    frame.loc[5, "date"] = "31/02/2024x"
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(
        LtvxlError, match=r'column "date": "31/02/2024x" is not a date.*--date-format'
    ):
        engines.summarize(str(path))
    frame = random_log(8, n_customers=10, n_rows=40)
    frame = frame.assign(amount=frame["amount"].map(lambda v: f"{v:.2f}"))
    frame.loc[7, "amount"] = "12,5 EUR"
    frame.to_parquet(tmp_path / "a.parquet")
    with pytest.raises(LtvxlError) as eng:
        engines.summarize(str(tmp_path / "a.parquet"))
    with pytest.raises(LtvxlError) as mem:  # the in-memory reader's rule and message
        read_transactions(tmp_path / "a.parquet")
    assert '"12,5 EUR"' in eng.value.message and "--decimal" in eng.value.message
    shape = r'"[^"]+"'  # the example of a decimal point: the first row's, or the engine's
    mem_text = re.sub(shape, '"V"', re.sub(r" \(?row \d+\)?", "", mem.value.message))
    assert mem_text.endswith(re.sub(shape, '"V"', eng.value.message))


def test_source_errors_are_one_line(tmp_path):
    with pytest.raises(LtvxlError, match="transaction file not found"):
        engines.summarize(str(tmp_path / "nope.parquet"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(LtvxlError, match="holds no Parquet or CSV"):
        engines.summarize(str(tmp_path / "empty"))
    with pytest.raises(LtvxlError, match="engine must be one of duckdb, spark"):
        engines.open_engine("oracle")


def test_csv_output_makes_formula_ids_inert(tmp_path):
    payloads = ["=cmd|' /C calc'!A0", "@SUM(A1)", "+A1", "-1+2", "\t=1", "plain"]
    rng = np.random.default_rng(9)
    rows = []
    for k, pid in enumerate(payloads * 3):
        for j in range(3):
            rows.append((pid + ("" if k < len(payloads) else str(k)), 10 + j * 20 + k, 10.0 + j))
    frame = pd.DataFrame(rows, columns=["customer_id", "day", "amount"])
    frame["date"] = np.datetime64("2024-01-01") + frame.pop("day").to_numpy().astype(
        "timedelta64[D]"
    )
    frame["amount"] += rng.random(len(frame))
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    s = engines.summarize(str(path))
    out = tmp_path / "clv.csv"
    engines.score(s, engines.fit(s, "bgnbd"), output=str(out))
    text = out.read_text()
    for line in text.splitlines()[1:]:
        first = line.lstrip('"')[:1]
        assert first not in "=+-@\t\r", line


def test_cli_engine_duckdb_matches_memory(tmp_path, capsys):
    frame = simulated_log(10, 1000)
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    assert main(["clv", str(path), "-o", str(tmp_path / "m.csv"), "--engine", "memory"]) == 0
    assert main(["clv", str(path), "-o", str(tmp_path / "d.parquet"), "--engine", "duckdb"]) == 0
    out = capsys.readouterr().out
    assert "columns: id=customer_id, date=date, amount=amount" in out
    assert "summary on duckdb" in out
    m = pd.read_csv(tmp_path / "m.csv").set_index("customer")
    d = pd.read_parquet(tmp_path / "d.parquet").set_index("customer").loc[m.index]
    for col in ("p_alive", "expected_purchases", "clv"):
        assert_close(d[col], m[col], FIT_RTOL, col)


def test_cli_engine_refuses_covariates_it_would_not_apply(tmp_path, capsys):
    frame = simulated_log(10, 200)
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    ids = frame["customer_id"].drop_duplicates()
    pd.DataFrame({"customer_id": ids, "Channel": np.arange(len(ids)) % 2}).to_csv(
        tmp_path / "cov.csv", index=False)
    out = tmp_path / "d.parquet"
    assert main(["clv", str(path), "-o", str(out), "--engine", "duckdb",
                 "--covariates", str(tmp_path / "cov.csv")]) == 1
    assert "--covariates is not applied by --engine duckdb" in capsys.readouterr().err
    assert not out.exists()


def test_cli_picks_duckdb_for_a_folder(tmp_path, capsys):
    frame = random_log(11, n_customers=100, n_rows=800)
    _write_all(frame, tmp_path / "hive")
    assert main(["clv", str(tmp_path / "hive"), "-o", str(tmp_path / "o.parquet")]) == 0
    assert "engine: duckdb" in capsys.readouterr().out
    assert len(pd.read_parquet(tmp_path / "o.parquet")) == len(in_memory(frame))
    assert main(["clv", str(tmp_path / "hive"), "--engine", "duckdb", "--output-table", "t"]) == 1
    assert "--output-table needs --engine spark" in capsys.readouterr().err


def test_duckdb_spills_into_a_temporary_folder_of_its_own(tmp_path, monkeypatch):
    """Not DuckDB's default '.tmp' in the current folder; the folder goes with the engine."""
    from ltvxl.engines.duckdb_engine import DuckDBEngine

    monkeypatch.chdir(tmp_path)
    eng = DuckDBEngine(memory_limit="100MB")
    folder = eng.con.execute("SELECT current_setting('temp_directory')").fetchone()[0]
    assert Path(folder).is_dir() and Path(folder).name.startswith("ltvxl-duckdb-")
    eng.con.execute("SELECT range % 1000 AS k, count(*) FROM range(3000000) GROUP BY k").fetchall()
    eng.close()
    assert not Path(folder).exists()
    assert not (tmp_path / ".tmp").exists()


def test_duckdb_memory_scales_with_the_source_unless_given(tmp_path):
    from ltvxl.engines.duckdb_engine import MIN_MEMORY, DuckDBEngine, default_memory_limit

    src = tmp_path / "tx.csv"
    src.write_text("customer_id,date,amount\n1,2024-01-01,5\n")
    assert default_memory_limit(str(src)) == MIN_MEMORY
    big = tmp_path / "big"
    big.mkdir()
    (big / "a.csv").write_bytes(b"x" * (30 * 2**20))
    assert default_memory_limit(str(big)) == 4 * 30 * 2**20
    assert default_memory_limit(str(big / "*.csv")) == 4 * 30 * 2**20
    eng = DuckDBEngine()
    eng.open_source(str(src))
    limit = eng.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    assert limit.replace(" ", "") in {"100.0MiB", "100MiB", "104.8MB"}, limit
    eng.close()
    given = DuckDBEngine(memory_limit="1GB")
    given.open_source(str(src))
    assert given.con.execute("SELECT current_setting('memory_limit')").fetchone()[0] != limit
    given.close()
