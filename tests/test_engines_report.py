"""``ltvxl report --engine duckdb``: the report of a file too big for memory, on a sample.

The expected figures come from the in-memory report on the same rows: the whole file
when it fits in the sample, else the sampled rows written out and reported in memory.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from test_engines import random_log

from ltvxl import engines
from ltvxl.cli import main
from ltvxl.engines.sample import customer_sample
from ltvxl.errors import LtvxlError

pytest.importorskip("duckdb")


def figures(out: str) -> list[str]:
    """The printed summary below the report's first line (which names the source)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("ltvxl report:"))
    return [line for line in lines[start + 1:] if not line.startswith("Wrote")]


def dashboard_source(path) -> str:
    import openpyxl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        book = openpyxl.load_workbook(path, read_only=True)
        return str(book["Dashboard"]["A2"].value)


def test_sample_is_whole_customers_under_the_cap(tmp_path):
    frame = random_log(11, n_customers=400, n_rows=3000)
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    src = engines.open_source(str(path))
    sample = customer_sample(src, 1000)
    assert sample.rows <= 1000 and sample.all_rows == 3000 and not sample.complete
    assert sample.all_customers == frame["customer_id"].nunique()
    per = frame.groupby("customer_id").size()
    kept = pd.Series(sample.log.ids).value_counts()
    assert (kept == per.reindex(kept.index)).all()  # every transaction of each customer
    assert len(sample.log) == sample.rows and kept.size == sample.customers
    again = customer_sample(engines.open_source(str(path)), 1000)
    assert sorted(again.log.ids) == sorted(sample.log.ids)  # the same customers every run
    assert customer_sample(src, 3000).complete
    with pytest.raises(LtvxlError, match="1 to 1,048,575"):
        customer_sample(src, 2_000_000)


def test_report_engine_equals_the_in_memory_report(tmp_path, capsys):
    frame = random_log(12, n_customers=300, n_rows=2500)
    frame["channel"] = np.where(frame.index % 3, "web", "store")
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    assert main(["report", str(path), "-o", str(tmp_path / "m.xlsx")]) == 0
    mem = capsys.readouterr().out
    assert main(["report", str(path), "--engine", "duckdb", "--channel-col", "channel",
                 "-o", str(tmp_path / "d.xlsx")]) == 0
    eng = capsys.readouterr().out
    assert figures(eng) == figures(mem)  # the whole file fits: the same report
    assert "sample" not in dashboard_source(tmp_path / "d.xlsx")


def test_report_engine_on_a_sample_says_so_and_equals_memory_on_the_sample(tmp_path, capsys):
    frame = random_log(13, n_customers=300, n_rows=2500)
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    assert main(["report", str(path), "--engine", "duckdb", "--sample-rows", "1200",
                 "-o", str(tmp_path / "d.xlsx")]) == 0
    eng = capsys.readouterr().out
    sample = customer_sample(engines.open_source(str(path)), 1200)
    assert f"every transaction of {sample.customers:,} of its" in eng
    where = dashboard_source(tmp_path / "d.xlsx")
    assert "a sample: every transaction of" in where and "totals are the sample's" in where
    rows = frame[frame["customer_id"].isin(set(sample.log.ids))]
    rows.to_parquet(tmp_path / "s.parquet")
    assert main(["report", str(tmp_path / "s.parquet"), "-o", str(tmp_path / "m.xlsx")]) == 0
    assert figures(eng) == figures(capsys.readouterr().out)


def test_report_engine_options_refused(tmp_path, capsys):
    path = tmp_path / "t.parquet"
    random_log(1).to_parquet(path)
    assert main(["report", str(path), "--sample-rows", "10", "-o", str(tmp_path / "a.xlsx")])
    assert "--sample-rows needs --engine" in capsys.readouterr().err
    assert main(["report", str(path), "--engine", "duckdb", "--output-table", "x",
                 "-o", str(tmp_path / "a.xlsx")])
    assert "--output-table" in capsys.readouterr().err
