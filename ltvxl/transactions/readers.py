"""Transaction logs from CSV, Parquet and XLSX files (never modified).

CSV and Parquet are read by pyarrow (pandas where pyarrow is not available,
as in Pyodide), XLSX by python-calamine. Each reader finds the columns
(:mod:`.headers`), reads only those, and hands them to
:meth:`TransactionLog.from_arrays`, so every source follows the same policy.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import LtvxlError
from ..fileio import workbook_problem
from .amounts import numeric_text
from .arrow import ColumnBuffer, arrow_pool, chunk_array
from .columns import object_array
from .headers import detect_columns, extra_names
from .log import Negative, TransactionLog


def read_transactions(
    path: str | Path,
    id_col: str | None = None,
    date_col: str | None = None,
    amount_col: str | None = None,
    extra_cols: Sequence[str] | None = None,
    *,
    sheet: str | int | None = None,
    negative: Negative = "net",
) -> TransactionLog:
    """Read a transaction log from a CSV, Parquet or XLSX file (never modified).

    The file has a header row. Column names are detected when not given
    (e.g. ``customer_id``, ``date``, ``amount``); ``extra_cols``: further
    columns to keep (default: every other column; ``[]`` for none). CSV and
    Parquet are read by pyarrow (pandas where pyarrow is not available),
    XLSX by python-calamine (first sheet unless ``sheet``). Messages name
    the column and the row (the header is row 1).
    """
    p = Path(path)
    if p.is_dir():
        raise LtvxlError(f"{p} is a directory; give a CSV, Parquet or XLSX file")
    if not p.is_file():
        raise LtvxlError(f"transaction file not found: {p}")
    suffix = p.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"):
        return _read_excel(p, id_col, date_col, amount_col, extra_cols, sheet, negative)
    if suffix in (".parquet", ".pq"):
        names, load = _parquet_source(p)
    elif suffix in (".csv", ".txt", ".tsv"):
        names, load = _csv_source(p)
    else:
        raise LtvxlError(f"{p.name}: unknown file type {suffix!r}; use .csv, .parquet or .xlsx")
    idc, datec, amountc = detect_columns(names, id_col, date_col, amount_col)
    wanted = extra_names(names, (idc, datec, amountc), extra_cols)
    labels = tuple(f'column "{c}"' for c in (idc, datec, amountc))
    columns = load([idc, datec, amountc, *wanted])
    arrays = [columns.pop(c) for c in (idc, datec, amountc)]
    arrays[2] = numeric_text(arrays[2])
    extras = {c: columns.pop(c) for c in wanted}
    return TransactionLog.from_arrays(
        arrays[0], arrays[1], arrays[2], extras, negative=negative, labels=labels, first_row=2
    )


Loader = Any  # Callable[[list[str]], dict[str, np.ndarray]]


_CSV_BLOCK = 1 << 16


def _parquet_source(p: Path) -> tuple[list[str], Loader]:
    """Column names and a loader that reads and converts one column at a time."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - Pyodide
        df = pd.read_parquet(p)
        return [str(c) for c in df.columns], lambda cols: {c: df[c].to_numpy() for c in cols}
    try:
        pf = pq.ParquetFile(p)
        names = list(pf.schema_arrow.names)
    except Exception as exc:  # pyarrow.lib.ArrowInvalid and friends
        raise LtvxlError(f"{p.name}: cannot read as Parquet: {exc}") from None

    def load(cols: list[str]) -> dict[str, np.ndarray]:
        default = pa.default_memory_pool()
        pa.set_memory_pool(arrow_pool())  # the reader takes its pool when opened
        try:
            reader = pq.ParquetFile(p)
            n = reader.metadata.num_rows
            if n == 0:
                return {c: np.empty(0, dtype=object) for c in cols}
            out = {}
            for c in cols:  # column by column, row group by row group: one part in memory
                column = ColumnBuffer(n)
                for i in range(reader.num_row_groups):
                    part = reader.read_row_group(i, columns=[c], use_threads=False).column(0)
                    for chunk in part.chunks:
                        column.add(chunk_array(chunk))
                    del part
                out[c] = column.result()
            return out
        except LtvxlError:
            raise
        except Exception as exc:
            raise LtvxlError(f"{p.name}: cannot read as Parquet: {exc}") from None
        finally:
            pa.set_memory_pool(default)

    return names, load


def _csv_source(p: Path) -> tuple[list[str], Loader]:
    """Column names and a loader that streams the file block by block, converting only
    the wanted columns; a column whose type changes further down is read as text."""
    delimiter = "\t" if p.suffix.lower() == ".tsv" else ","
    try:
        from pyarrow import csv as pacsv
    except ImportError:  # pragma: no cover - Pyodide
        df = pd.read_csv(p, sep=delimiter)
        return [str(c) for c in df.columns], lambda cols: {c: df[c].to_numpy() for c in cols}
    import pyarrow as pa

    parse = pacsv.ParseOptions(delimiter=delimiter)
    try:
        with p.open(newline="", encoding="utf-8-sig") as fh:  # the header line only
            names = next(csv.reader(fh, delimiter=delimiter))
    except StopIteration:
        raise LtvxlError(f"{p.name}: the file is empty") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LtvxlError(f"{p.name}: cannot read as CSV: {exc}") from None

    def stream(cols: list[str], as_text: bool) -> dict[str, np.ndarray]:
        convert = pacsv.ConvertOptions(
            include_columns=cols, strings_can_be_null=True,
            column_types={c: pa.string() for c in cols} if as_text else None)
        size = p.stat().st_size
        columns: dict[str, ColumnBuffer] = {}
        read = pacsv.ReadOptions(block_size=_CSV_BLOCK, use_threads=False)
        with pacsv.open_csv(p, parse_options=parse, convert_options=convert, read_options=read,
                            memory_pool=arrow_pool()) as reader:
            done = 0
            for batch in reader:
                if not columns:  # expected rows from the first block's bytes per row
                    guess = int(size / max(_CSV_BLOCK, 1) * batch.num_rows * 1.05) + 1024
                    columns = {c: ColumnBuffer(guess) for c in cols}
                for c in cols:
                    columns[c].add(chunk_array(batch.column(c)))
                done += batch.num_rows
        return {c: (columns[c].result() if columns else np.empty(0, dtype=object))
                for c in cols}

    def load(cols: list[str]) -> dict[str, np.ndarray]:
        default = pa.default_memory_pool()
        pa.set_memory_pool(arrow_pool())  # the parser's own buffers too
        try:
            try:
                return stream(cols, as_text=False)
            except pa.ArrowInvalid:
                pass  # e.g. numbers in the first block, text further down: read as text
            except Exception as exc:
                raise LtvxlError(f"{p.name}: cannot read as CSV: {exc}") from None
            try:
                return stream(cols, as_text=True)
            except Exception as exc:
                raise LtvxlError(f"{p.name}: cannot read as CSV: {exc}") from None
        finally:
            pa.set_memory_pool(default)

    return names, load


def _read_excel(p: Path, id_col: str | None, date_col: str | None, amount_col: str | None,
                extra_cols: Sequence[str] | None, sheet: str | int | None,
                negative: Negative) -> TransactionLog:
    try:
        from python_calamine import CalamineWorkbook
    except ImportError:  # pragma: no cover - Pyodide
        df = pd.read_excel(p, sheet_name=sheet or 0, dtype=object)
        rows = [list(df.columns), *df.itertuples(index=False, name=None)]
    else:
        try:
            wb = CalamineWorkbook.from_path(str(p))
        except Exception as exc:
            raise LtvxlError(f"{p.name}: {workbook_problem(p, str(exc))}") from None
        names = list(wb.sheet_names)
        if (isinstance(sheet, str) and sheet not in names) or (
            isinstance(sheet, int) and not 0 <= sheet < len(names)
        ):
            shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
            raise LtvxlError(f"{p.name}: has no sheet {sheet!r}; its sheets are {shown}")
        try:
            ws = wb.get_sheet_by_name(sheet) if isinstance(sheet, str) else \
                wb.get_sheet_by_index(sheet or 0)
            rows = ws.to_python(skip_empty_area=True)
        except Exception as exc:
            raise LtvxlError(f"{p.name}: {workbook_problem(p, str(exc))}") from None
    if not rows:
        raise LtvxlError(f"{p.name}: the sheet is empty")
    header = ["" if h is None else str(h) for h in rows[0]]
    width = len(header)
    idc, datec, amountc = detect_columns(header, id_col, date_col, amount_col)
    wanted = extra_names(header, (idc, datec, amountc), extra_cols)
    body = rows[1:]
    if not body:
        raise LtvxlError(f"{p.name}: no data rows under the header")

    def col(name: str) -> np.ndarray:
        j = header.index(name)
        return object_array([(r[j] if j < len(r) else None) if len(r) == width or j < len(r)
                              else None for r in body])

    values = [col(c) for c in (idc, datec, amountc)]
    for v in values:  # calamine gives "" for empty cells
        v[np.array([isinstance(x, str) and not x.strip() for x in v], dtype=bool)] = None
    values[2] = numeric_text(values[2])
    labels = tuple(f'column "{c}"' for c in (idc, datec, amountc))
    return TransactionLog.from_arrays(
        values[0], values[1], values[2], {c: col(c) for c in wanted},
        negative=negative, labels=labels, first_row=2,
    )
