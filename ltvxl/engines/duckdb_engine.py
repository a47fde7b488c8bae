"""DuckDB, embedded: the summary of transaction files larger than memory, on this machine.

DuckDB reads CSV and Parquet files (one file, a glob, or a folder of Parquet
files, hive-partitioned or not) in parallel and spills its aggregations to
disk beyond its memory limit, so the summary of a billion rows needs no more
memory than the limit. Results are written by DuckDB itself (COPY), so the
per-customer table never passes through Python.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any

import pandas as pd

from ltvxl.errors import LtvxlError

from .base import Engine, output_format, quote_text
from .normalize import SOURCE

PARQUET = (".parquet", ".pq")
CSV = (".csv", ".txt", ".tsv")


def _reader(source: str) -> str:
    """The DuckDB table function reading ``source`` (file, glob or folder)."""
    p = Path(source)
    if p.is_dir():
        files = [f for f in p.rglob("*") if f.is_file() and not f.name.startswith((".", "_"))]
        kinds = {f.suffix.lower() for f in files}
        if kinds & set(PARQUET):
            pattern = str(p / "**" / "*.parquet") if ".parquet" in kinds else str(p / "**" / "*.pq")
            return f"read_parquet({quote_text(pattern)}, hive_partitioning = true)"
        if kinds & set(CSV):
            ext = next(k for k in CSV if k in kinds)
            return f"read_csv({quote_text(str(p / '**' / ('*' + ext)))}, hive_partitioning = true)"
        raise LtvxlError(f"{p}: the folder holds no Parquet or CSV files")
    suffix = p.suffix.lower()
    has_glob = any(ch in source for ch in "*?[")
    if not has_glob and not p.is_file():
        raise LtvxlError(f"transaction file not found: {p}")
    if suffix in PARQUET:
        return f"read_parquet({quote_text(source)}, hive_partitioning = true)"
    if suffix in CSV:
        return f"read_csv({quote_text(source)}, header = true)"
    raise LtvxlError(f"{p.name}: the engine reads .csv and .parquet files (or a folder of them)")


MEMORY_PER_SOURCE_BYTE = 4
"""Without a memory limit given, DuckDB may use this many times the source files' size
before it spills to disk (at least :data:`MIN_MEMORY`, at most DuckDB's own default of
80 % of RAM): the summary's hash tables are a few times the compressed columns they
group, and a small source no longer costs DuckDB's default buffers on top of Python's."""
MIN_MEMORY = 100 * 2**20


def _source_bytes(source: str) -> int:
    """The size in bytes of the files ``source`` names (a file, a glob or a folder)."""
    import glob

    p = Path(source)
    if p.is_dir():
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    if any(ch in source for ch in "*?["):
        return sum(os.path.getsize(f) for f in glob.glob(source, recursive=True)
                   if os.path.isfile(f))
    return p.stat().st_size if p.is_file() else 0


def default_memory_limit(source: str) -> int:
    """DuckDB's memory limit in bytes for ``source`` when none is given (see
    :data:`MEMORY_PER_SOURCE_BYTE`)."""
    limit = max(MIN_MEMORY, MEMORY_PER_SOURCE_BYTE * _source_bytes(source))
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: DuckDB's default applies
        return limit
    return min(limit, int(0.8 * ram))


class DuckDBEngine(Engine):
    """An embedded DuckDB database in memory, spilling to a temporary folder."""

    dialect = "duckdb"
    ordered_output = True

    def __init__(
        self,
        memory_limit: str | None = None,
        threads: int | None = None,
        temp_directory: str | None = None,
    ) -> None:
        try:
            import duckdb
        except ImportError as exc:  # pragma: no cover - duckdb is a default dependency
            raise LtvxlError(
                "the duckdb engine needs the duckdb package: pip install duckdb"
            ) from exc
        self._duckdb = duckdb
        config: dict[str, Any] = {"preserve_insertion_order": False}
        self._memory_given = bool(memory_limit)
        self._distinct = False  # drop_duplicates: the source's distinct rows only
        self._cleanup: weakref.finalize | None = None
        if memory_limit:
            config["memory_limit"] = memory_limit
        if threads:
            config["threads"] = int(threads)
        # DuckDB's own default is ".tmp" in the current folder: spill files would litter the
        # user's folder (and a repository). A folder of ours in the system's temporary
        # space instead, removed when the engine closes or is collected.
        if not temp_directory:
            temp_directory = tempfile.mkdtemp(prefix="ltvxl-duckdb-")
            self._cleanup = weakref.finalize(self, shutil.rmtree, temp_directory, True)
        config["temp_directory"] = temp_directory
        self.con = duckdb.connect(":memory:", config=config)
        self.con.execute("SET enable_progress_bar = false")  # ltvxl says its own progress

    def _run(self, sql: str) -> Any:
        try:
            return self.con.execute(sql)
        except self._duckdb.Error as exc:
            raise LtvxlError(f"duckdb: {str(exc).splitlines()[0]}") from exc

    def open_source(self, source: str, delimiter: str | None = None) -> dict[str, str]:
        self._reader = _reader(str(source))
        if not self._memory_given:
            limit = default_memory_limit(str(source)) // 2**20
            self._run(f"SET memory_limit = '{limit}MiB'")
        if delimiter and self._reader.startswith("read_csv("):
            self._reader = self._reader[:-1] + f", delim = {quote_text(delimiter)})"
        return self._open(self._reader)

    def _open(self, reader: str) -> dict[str, str]:
        if self._distinct:
            reader = f"(SELECT DISTINCT * FROM {reader})"
        self._run(f"CREATE OR REPLACE VIEW {SOURCE} AS SELECT * FROM {reader}")
        rows = self._run(f"DESCRIBE SELECT * FROM {SOURCE}").fetchall()
        return {str(r[0]): str(r[1]) for r in rows}

    def drop_duplicates(self) -> None:
        self._distinct = True
        self._open(self._reader)

    def as_text(self, column: str) -> dict[str, str] | None:
        """CSV: DuckDB's sniffer reads 31/01/2024 as a date in a format it guesses; the
        column is read as text instead (types = {column: VARCHAR})."""
        if not self._reader.startswith("read_csv("):
            return None
        types = f"types = {{{quote_text(column)}: 'VARCHAR'}}"
        self._reader = self._reader[:-1] + f", {types})"
        return self._open(self._reader)

    def query(self, sql: str) -> pd.DataFrame:
        return self._run(sql).df()

    def create_view(self, name: str, sql: str) -> None:
        self._run(f"CREATE OR REPLACE VIEW {name} AS {sql}")

    def create_table(self, name: str, sql: str) -> None:
        self._run(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")

    def register(self, name: str, frame: pd.DataFrame) -> None:
        self.con.register(f"{name}_df", frame)
        self._run(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_df")
        self.con.unregister(f"{name}_df")

    def write(self, sql: str, output: str) -> None:
        fmt = output_format(output)
        target = Path(output)
        if not target.parent.is_dir():
            raise LtvxlError(f"cannot write {target}: the folder {target.parent} does not exist")
        tmp = target.parent / f".{target.name}.ltvxl-tmp"
        if tmp.is_dir():
            shutil.rmtree(tmp)
        elif tmp.exists():
            tmp.unlink()
        opts = "FORMAT parquet" if fmt == "parquet" else "FORMAT csv, HEADER true"
        try:
            self._run(f"COPY ({sql}) TO {quote_text(str(tmp))} ({opts})")
            os.replace(tmp, target)
        finally:
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            elif tmp.exists():
                tmp.unlink()

    def written(self, output: str, table: bool = False) -> str:
        if output_format(output) == "csv":
            return f"read_csv({quote_text(str(output))}, header = true)"
        return f"read_parquet({quote_text(str(output))})"

    def close(self) -> None:
        self.con.close()
        if self._cleanup is not None:
            self._cleanup()
