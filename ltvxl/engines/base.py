"""What every engine does for ltvxl: open a source, run the shared SQL, keep and write tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ltvxl.errors import LtvxlError


def quote_text(text: str) -> str:
    """A SQL text literal."""
    return "'" + str(text).replace("'", "''") + "'"


def output_format(output: str) -> str:
    """ "parquet" or "csv", from the output's name (a folder is written as Parquet)."""
    suffix = Path(output).suffix.lower()
    if suffix in (".parquet", ".pq", ""):
        return "parquet"
    if suffix == ".csv":
        return "csv"
    raise LtvxlError(f"{output}: write .parquet or .csv (or a folder, written as Parquet)")


class Engine:
    """An engine the summary and the scores run on (DuckDB, Spark).

    Queries are written in DuckDB's dialect (:mod:`ltvxl.engines.sql`); an
    engine translates them to its own (``dialect``) before running them.
    """

    dialect = "duckdb"
    ordered_output = False
    """Whether written tables are sorted by customer (cheap on one machine, not on a cluster)."""

    def open_source(self, source: str, delimiter: str | None = None) -> dict[str, str]:
        """Make ``source`` (a file, glob or folder) the source view; its columns and types
        (``delimiter``: of CSV files, detected unless given)."""
        raise NotImplementedError

    def as_text(self, column: str) -> dict[str, str] | None:
        """Read ``column`` of the source as text where the engine guessed its type from
        text (a CSV reader's dates), so that the in-memory rules read it; the new
        columns and types, or None when the engine keeps the type it read."""
        return None

    def drop_duplicates(self) -> None:
        """Make the source view its distinct rows (every column compared)."""
        raise NotImplementedError

    def query(self, sql: str) -> pd.DataFrame:
        """Run a query whose result is small and return it."""
        raise NotImplementedError

    def create_view(self, name: str, sql: str) -> None:
        """Name a query (evaluated where it is used)."""
        raise NotImplementedError

    def create_table(self, name: str, sql: str) -> None:
        """Compute a query once and keep the result under ``name``."""
        raise NotImplementedError

    def register(self, name: str, frame: pd.DataFrame) -> None:
        """Make a small pandas table available to queries under ``name``."""
        raise NotImplementedError

    def write(self, sql: str, output: str) -> None:
        """Write a query's result to a Parquet or CSV file (never half-written)."""
        raise NotImplementedError

    def written(self, output: str, table: bool = False) -> str:
        """What queries read a written output (a file, folder or, with ``table``, a
        catalog table) from: a table expression."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the engine."""
