"""The Spark engine in local mode gives the in-memory numbers (the DuckDB tests' checks).

Needs PySpark (``pip install -e ".[spark]"``) and a Java runtime; skipped with
the reason otherwise. ``.ci/run`` installs both, so CI runs these tests.
"""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pandas as pd
import pytest
from test_engines import FIT_RTOL, assert_close, assert_same_summary, in_memory, simulated_log

from ltvxl import engines
from ltvxl.models import clv

pytest.importorskip("pyspark", reason="PySpark not installed (pip install -e '.[spark]')")
pytest.importorskip("sqlglot", reason="sqlglot not installed (pip install -e '.[spark]')")
if shutil.which("java") is None:
    pytest.skip("no Java runtime on PATH: the Spark tests need one", allow_module_level=True)

pytestmark = [  # PySpark 4.3 warns that it does not fully support pandas 3
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


@pytest.fixture(scope="module")
def spark_engine(tmp_path_factory):
    from pyspark.sql import SparkSession

    from ltvxl.engines.spark_engine import SparkEngine

    warehouse = tmp_path_factory.mktemp("warehouse")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        session = (
            SparkSession.builder.master("local[2]")
            .appName("ltvxl-tests")
            .config("spark.sql.warehouse.dir", str(warehouse))
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate()
        )
    session.sparkContext.setLogLevel("ERROR")
    yield SparkEngine(session=session)
    session.stop()


@pytest.fixture(scope="module")
def log_file(tmp_path_factory):
    frame = simulated_log(21, 1500)
    frame.loc[[5, 6], "customer_id"] = None
    path = tmp_path_factory.mktemp("spark") / "t.parquet"
    frame.to_parquet(path)
    return frame.drop(index=[5, 6]), path


def test_spark_summary_equals_in_memory(spark_engine, log_file):
    frame, path = log_file
    s = engines.summarize(str(path), engine=spark_engine)
    assert_same_summary(s, in_memory(frame))
    assert "rows without a customer id left out: 2" in s.notes


def test_spark_scores_equal_in_memory(spark_engine, log_file, tmp_path):
    frame, path = log_file
    s = engines.summarize(str(path), engine=spark_engine, as_of="2023-06-30")
    fits = engines.fit(s)
    out = tmp_path / "clv"
    totals = engines.score(s, fits, output=str(out), gross_margin=0.5)
    mem = in_memory(frame, "2023-06-30")
    want = clv.predict(
        mem.table,
        horizon=12,
        horizon_unit="months",
        time_unit="weeks",
        annual_discount_rate=0.1,
        gross_margin=0.5,
    ).table.set_index("customer")
    got = pd.read_parquet(out).set_index("customer")
    assert sorted(got.index) == sorted(want.index)
    want = want.loc[got.index]
    for col in ("p_alive", "expected_purchases", "expected_spend", "clv"):
        assert_close(got[col], want[col], FIT_RTOL, col)
    assert totals.customers == len(want)
    engines.score(s, fits, output_table="ltvxl_clv_test", gross_margin=0.5)
    table = spark_engine.spark.table("ltvxl_clv_test").toPandas().set_index("customer")
    assert np.allclose(table.loc[got.index, "clv"], got["clv"], rtol=1e-12)


def test_spark_backtest_equals_in_memory(spark_engine, tmp_path):
    """CDNOW's calibration and hold-out counted by Spark: the paper's 1,882 actual and
    1,653 predicted, and every measure of the in-memory backtest."""
    from test_engines_backtest import DATA, assert_same_backtest

    from ltvxl.engines import holdout as eh
    from ltvxl.models import backtest as bt
    from ltvxl.transactions import TransactionLog

    raw = pd.read_csv(DATA / "CDNOW_sample.txt", sep=r"\s+", header=None,
                      names=["master_id", "id", "date", "cds", "amount"])
    path = tmp_path / "cdnow.parquet"
    raw[["id", "date", "amount"]].rename(columns={"id": "customer_id"}).to_parquet(path)
    log = TransactionLog.from_arrays(raw["id"].to_numpy(), raw["date"].to_numpy(),
                                     raw["amount"].to_numpy())
    got = eh.backtest(str(path), "1997-09-30", "1998-06-30", "BG/NBD", engine=spark_engine)
    assert got.measures.actual == 1882 and round(got.measures.predicted) == 1653
    assert_same_backtest(got, bt.backtest(log, "1997-09-30", "1998-06-30", "BG/NBD"))
    out = tmp_path / "bt"
    assert eh.write_customers(got, str(out)) == 2357
    table = pd.read_parquet(out)
    assert len(table) == 2357 and table["actual_purchases"].sum() == 1882


def test_spark_reads_real_exports_as_in_memory(spark_engine, tmp_path):
    """Day-first text dates, decimal-comma amounts with a currency sign, order ids with
    cancellation invoices and fields on an order's first line only: Spark's summary,
    columns line and notes are the in-memory reader's."""
    from test_engines_dialects import european, in_memory, online_retail_like

    twice = european(2)
    twice = pd.concat([twice, twice.iloc[::5]], ignore_index=True)
    for frame, options in ((european(1), {}), (online_retail_like(7), {"order_col": "InvoiceNo"}),
                           (twice, {"drop_duplicates": True})):
        path = tmp_path / "export.parquet"
        frame.to_parquet(path)
        log, mem = in_memory(path, **options)
        s = engines.summarize(str(path), engine=spark_engine, **options)
        assert_same_summary(s, mem)
        assert s.columns.describe() == log.columns_line
        assert tuple(s.notes) == tuple(n for n in mem.notes
                                       if not n.startswith("duplicate rows ("))


def test_spark_sample_is_whole_customers_under_the_cap(spark_engine, log_file):
    """The report's sample on Spark (hash buckets by Spark's hash): every transaction of
    each sampled customer, at most the cap."""
    from ltvxl.engines.sample import customer_sample

    frame, path = log_file
    src = engines.open_source(str(path), engine=spark_engine)
    sample = customer_sample(src, len(frame) // 3)
    assert 0 < sample.rows <= len(frame) // 3 and sample.all_rows == len(frame)
    kept = pd.Series(sample.log.ids).value_counts()
    per = frame.groupby("customer_id").size()
    assert (kept == per.reindex(kept.index)).all() and kept.size == sample.customers
