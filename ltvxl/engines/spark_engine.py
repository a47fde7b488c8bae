"""Apache Spark through PySpark: the summary where the transactions live on a cluster.

The shared SQL (:mod:`ltvxl.engines.sql`) is translated to Spark SQL by
sqlglot and run by ``spark.sql``; only the small histograms come back to the
driver, and the per-customer table is joined and written by the executors
(Parquet files, CSV files or a table with ``output_table``). Local mode
(``local[2]``) runs the same code on one machine; PySpark needs a Java
runtime (17 or newer).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from ltvxl.errors import LtvxlError

from .base import Engine, output_format
from .normalize import SOURCE
from .sql import to_dialect


class SparkEngine(Engine):
    """A Spark session (an existing one, or one started on ``master``)."""

    dialect = "spark"

    def __init__(self, master: str | None = None, session: Any = None) -> None:
        if session is None:
            if shutil.which("java") is None and not _java_home():
                raise LtvxlError(
                    "the spark engine needs a Java runtime (17 or newer) on PATH "
                    "or in JAVA_HOME; install one, e.g. apt-get install "
                    "openjdk-17-jre-headless"
                )
            try:
                from pyspark.sql import SparkSession
            except ImportError as exc:
                raise LtvxlError(
                    "the spark engine needs PySpark: pip install 'ltvxl[spark]'"
                ) from exc
            builder = SparkSession.builder.appName("ltvxl")
            master = master or "local[2]"
            builder = builder.master(master)
            builder = builder.config("spark.sql.session.timeZone", "UTC")
            if master.startswith("local"):  # one machine: few shuffle partitions, no UI;
                builder = builder.config("spark.ui.enabled", "false")  # a cluster keeps
                builder = builder.config("spark.sql.shuffle.partitions", "8")  # its own
            session = builder.getOrCreate()
        self.spark = session

    def _sql(self, sql: str) -> Any:
        from pyspark.errors import PySparkException

        try:
            return self.spark.sql(to_dialect(sql, "spark"))
        except PySparkException as exc:
            raise LtvxlError(f"spark: {str(exc).splitlines()[0]}") from exc

    def open_source(self, source: str, delimiter: str | None = None) -> dict[str, str]:
        p = Path(source)
        reader = self.spark.read
        pattern = str(source)
        is_glob = any(ch in pattern for ch in "*?[")
        if p.is_dir():
            files = [f.suffix.lower() for f in p.rglob("*") if f.is_file()]
            kind = "csv" if ".csv" in files and ".parquet" not in files else "parquet"
        elif is_glob or p.is_file():
            kind = "csv" if p.suffix.lower() in (".csv", ".txt", ".tsv") else "parquet"
        else:
            raise LtvxlError(f"transaction file not found: {p}")
        if kind == "csv":
            reader = reader.option("header", True).option("inferSchema", True)
            df = reader.option("sep", delimiter or ",").csv(pattern)
        else:
            df = reader.parquet(pattern)
        df.createOrReplaceTempView(SOURCE)
        return {f.name: f.dataType.simpleString() for f in df.schema.fields}

    def drop_duplicates(self) -> None:
        self.spark.table(SOURCE).distinct().createOrReplaceTempView(SOURCE)

    def query(self, sql: str) -> pd.DataFrame:
        return self._sql(sql).toPandas()

    def create_view(self, name: str, sql: str) -> None:
        self._sql(sql).createOrReplaceTempView(name)

    def create_table(self, name: str, sql: str) -> None:
        df = self._sql(sql).cache()
        df.createOrReplaceTempView(name)

    def register(self, name: str, frame: pd.DataFrame) -> None:
        self.spark.createDataFrame(frame).createOrReplaceTempView(name)

    def write(self, sql: str, output: str) -> None:
        """Write as a folder of part files (Spark's way), renamed into place when complete."""
        fmt = output_format(output)
        target = Path(output)
        tmp = target.parent / f".{target.name}.ltvxl-tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        writer = self._sql(sql).write.mode("overwrite")
        if fmt == "csv":
            writer.option("header", True).csv(str(tmp))
        else:
            writer.parquet(str(tmp))
        if target.is_dir():
            shutil.rmtree(target)
        tmp.rename(target)

    def write_table(self, sql: str, table: str) -> None:
        """Write a query's result as a table of the session's catalog."""
        self._sql(sql).write.mode("overwrite").saveAsTable(table)

    def written(self, output: str, table: bool = False) -> str:
        if table:
            frame = self.spark.table(output)
        elif output_format(output) == "csv":
            frame = self.spark.read.option("header", True).option("inferSchema", True).csv(
                str(output))
        else:
            frame = self.spark.read.parquet(str(output))
        frame.createOrReplaceTempView("ltvxl_written")
        return "ltvxl_written"

    def close(self) -> None:
        """Leave a session given by the caller running; stop one this engine started."""


def _java_home() -> str | None:
    import os

    home = os.environ.get("JAVA_HOME")
    return home if home and Path(home, "bin", "java").exists() else None
