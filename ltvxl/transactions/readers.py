"""Transaction logs from CSV, Parquet and XLSX files (never modified).

CSV and Parquet are read by pyarrow (pandas where pyarrow is not available,
as in Pyodide), XLSX by python-calamine. Each reader opens the file as a
:class:`Table` (column names and a loader of the wanted columns); then
:func:`assemble` turns the columns into a log the same way for every kind of
file: roles found (:mod:`.headers`), order-level fields filled onto the
order's other lines, amount = quantity x unit price where there is no amount
column, cancellation invoices as returns, duplicates counted, rows without a
customer id left out and counted, and :func:`.log.build` for the rest.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import LtvxlError
from .amounts import parse_amounts
from .arrow import ColumnBuffer, TextColumn, arrow_pool, chunk_array, is_text_type
from .columns import blank_mask, factorize, row_teller
from .dialect import single_byte, sniff
from .headers import extra_names, find_roles
from .log import Negative, TransactionLog, build
from .options import ReadOptions

Loader = Callable[[list[str]], dict[str, np.ndarray]]

_CSV_BLOCK = 1 << 16
_NUMERIC_ROLES = ("amount", "quantity", "price")


@dataclass
class Table:
    """A file's columns before they are read: names, a loader, where the data starts."""

    names: list[str]
    load: Loader
    first_row: int = 2  # the row number of the first data row (the header's + 1)
    said: list[str] = field(default_factory=list)  # how the file was read
    counts: dict[str, int] = field(default_factory=dict)
    row_numbers: np.ndarray | None = None  # of each data row, when not consecutive
    sheets: list[str] | None = None  # read from these sheets: row_numbers say which


def read_transactions(
    path: str | Path,
    id_col: str | None = None,
    date_col: str | None = None,
    amount_col: str | None = None,
    extra_cols: Sequence[str] | None = None,
    *,
    sheet: str | int | None = None,
    negative: Negative | None = None,
    options: ReadOptions | None = None,
) -> TransactionLog:
    """Read a transaction log from a CSV, Parquet or XLSX file (never modified).

    Column names are detected when not given (e.g. ``customer_id``, ``date``,
    ``amount``; ``Quantity`` and ``UnitPrice`` for an amount that is their
    product; ``InvoiceNo`` for orders); ``extra_cols``: further columns to
    keep (default: every other column; ``[]`` for none). ``options``: every
    other choice (:class:`~.options.ReadOptions`); the arguments given here win.
    Messages name the file, the column and the row (the header is row 1). The log's
    ``columns_line`` says which columns were used and how.
    """
    opts = (options or ReadOptions()).replace(
        id_col=id_col, date_col=date_col, amount_col=amount_col, sheet=sheet,
        negative=negative, extra_cols=None if extra_cols is None else tuple(extra_cols))
    p = Path(path)
    if p.is_dir():
        raise LtvxlError(f"{p} is a directory; give a CSV, Parquet or XLSX file")
    if not p.is_file():
        raise LtvxlError(f"transaction file not found: {p}")
    suffix = p.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"):
        from .workbooks import excel_table

        table = excel_table(p, opts)
    elif suffix in (".parquet", ".pq"):
        table = _parquet_table(p)
    elif suffix in (".csv", ".txt", ".tsv"):
        table = _csv_table(p, opts)
    else:
        raise LtvxlError(f"{p.name}: unknown file type {suffix!r}; use .csv, .parquet or .xlsx")
    try:
        return assemble(table, opts)
    except LtvxlError as exc:  # name the file too: a run may read several
        if exc.message.startswith(f"{p.name}:"):
            raise
        raise LtvxlError(f"{p.name}: {exc.message}", exc.code) from None


def assemble(table: Table, opts: ReadOptions) -> TransactionLog:
    """The log of a table's columns, found by role, by the readers' policy (the module)."""
    roles = find_roles(table.names, opts.roles())
    used = list(dict.fromkeys(roles.values()))
    extras_wanted = extra_names(table.names, used, opts.extra_cols)
    columns = table.load(list(table.names))  # every column: duplicates are whole rows
    n = len(columns[roles["id"]])
    counts = dict(table.counts)
    labels = {role: f'column "{c}"' for role, c in roles.items()}
    rows = table.row_numbers if table.row_numbers is not None else \
        np.arange(n, dtype=np.int64) + table.first_row
    keep = _duplicates(columns, table.names, counts, opts.drop_duplicates)
    if keep is not None:
        columns = {c: v[keep] for c, v in columns.items()}
        rows = rows[keep]
    orders = columns.get(roles["order"]) if "order" in roles else None
    ids, dates = columns[roles["id"]], columns[roles["date"]]
    described = {"id": roles["id"], "date": roles["date"]}
    if "amount" in roles:
        amounts = columns[roles["amount"]]
        described["amount"] = roles["amount"]
    else:
        described["amount"] = f"{roles['quantity']} x {roles['price']}"
    if orders is not None:
        ids, dates = _fill_from_order(orders, ids), _fill_from_order(orders, dates)
    if "amount" not in roles:
        amounts = _product(columns[roles["quantity"]], columns[roles["price"]], labels,
                           row_teller(rows, table.first_row, table.sheets), opts)
    elif orders is not None:
        amounts = _once_per_order(orders, amounts, described)
    if orders is not None:
        described["order"] = roles["order"]
        amounts = _cancellations(orders, amounts, counts, ~blank_mask([ids]))
    if "channel" in roles:
        described["channel"] = roles["channel"]
    extras = {c: columns[c] for c in extras_wanted}
    if "channel" in roles and roles["channel"] not in extras:
        extras[roles["channel"]] = columns[roles["channel"]]
    return build(
        [ids, dates, amounts], extras,
        labels=(labels["id"], labels["date"],
                labels.get("amount", f'{labels.get("quantity")} x {labels.get("price")}')),
        first_row=table.first_row, rows=rows, counts=counts, orders=orders, options=opts,
        text_numbers=True, columns=described, source=table.said, sheets=table.sheets,
    )


def _duplicates(columns: dict[str, np.ndarray], names: Sequence[str], counts: dict[str, int],
                drop: bool) -> np.ndarray | None:
    """Count exact duplicate rows (over ``names``); the rows to keep when dropping them.

    Rows are hashed column by column (64 bits) and only rows whose hash repeats are
    compared exactly, so a file without duplicates costs one hash per cell."""
    names = [c for c in names if c in columns]
    if not names or len(columns[names[0]]) < 2:
        return None
    h = np.zeros(len(columns[names[0]]), dtype=np.uint64)
    for c in names:
        col = columns[c]
        if col.dtype.kind == "O":  # texts hashed once per distinct text
            codes, uniques = factorize(col)
            hashed = pd.util.hash_array(uniques, categorize=False)
            part = np.where(codes >= 0, hashed[np.maximum(codes, 0)] if len(hashed) else 0,
                            np.uint64(2**64 - 1))
        else:
            part = pd.util.hash_array(col, categorize=False)
        h *= np.uint64(0x100000001B3)
        h ^= part
    ordered = np.sort(h)
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    del ordered
    if not len(repeated):
        return None
    rows = np.flatnonzero(np.isin(h, repeated))
    frame = pd.DataFrame({str(i): columns[c][rows] for i, c in enumerate(names)})
    dup = np.zeros(len(h), dtype=bool)
    dup[rows] = frame.duplicated().to_numpy()
    n = int(dup.sum())
    if not n:
        return None
    if drop:
        counts["duplicate rows dropped"] = n
        return ~dup
    counts["duplicate rows (kept; --drop-duplicates drops them)"] = n
    return None


def _fill_from_order(orders: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Blank values of an order's lines taken from the order's first line that has one
    (exports such as Shopify's write order-level fields on the first line only)."""
    blank = blank_mask([values])
    if not blank.any():
        return values
    has_order = ~blank_mask([orders])
    frame = pd.DataFrame({"o": orders, "v": values}).astype(object)
    frame.loc[blank, "v"] = None
    filled = frame.groupby("o", sort=False, dropna=True)["v"].transform("first")
    out = values.astype(object, copy=True)
    take = blank & has_order & ~pd.isna(filled.to_numpy())
    out[take] = filled.to_numpy()[take]
    return out


def _once_per_order(orders: np.ndarray, amounts: np.ndarray,
                    described: dict[str, str]) -> np.ndarray:
    """An order total written on the order's first line only: its other lines count 0."""
    blank = blank_mask([amounts])
    if not blank.any():
        return amounts
    frame = pd.DataFrame({"o": orders, "has": ~blank})
    order_has = frame.groupby("o", sort=False, dropna=False)["has"].transform("any").to_numpy(bool)
    fill = blank & order_has & ~blank_mask([orders])
    if not fill.any():
        return amounts
    out = amounts.astype(object, copy=True)
    out[fill] = 0.0
    described["amount"] += " (once per order)"
    return out


def _product(quantity: np.ndarray, price: np.ndarray, labels: dict[str, str],
             row_of: Callable[[int], object], opts: ReadOptions) -> np.ndarray:
    """Amounts as quantity x unit price (rows where both are blank stay blank)."""
    both_blank = blank_mask([quantity, price])

    def parse(values: np.ndarray, role: str) -> np.ndarray:
        v = values.astype(object, copy=True) if both_blank.any() else values
        if both_blank.any():
            v[both_blank] = 0.0
        return parse_amounts(v, labels[role], row_of, text=True, decimal=opts.decimal,
                             thousands=opts.thousands)[0]

    amounts = parse(quantity, "quantity") * parse(price, "price")
    if both_blank.any():
        out = amounts.astype(object)
        out[both_blank] = None
        return out
    return amounts


_CANCELLED = re.compile(r"^C\d")


def _cancellations(orders: np.ndarray, amounts: np.ndarray, counts: dict[str, int],
                   with_id: np.ndarray) -> np.ndarray:
    """Online Retail's cancellation invoices (``C536379`` among numeric invoices) are
    returns: their amounts count negative (lines counted among rows with a customer id)."""
    if orders.dtype.kind != "O":
        return amounts
    texts = pd.Series(orders, dtype=object)
    is_text = texts.map(lambda v: isinstance(v, str))
    if not is_text.any():
        return amounts
    cancelled = is_text & texts.where(is_text, "").str.match(_CANCELLED)
    if not cancelled.any():
        return amounts
    others = texts[~cancelled & texts.notna()]
    numeric = others.map(lambda v: not isinstance(v, str) or v.strip().isdigit())
    if len(others) and not numeric.all():
        return amounts
    mask = cancelled.to_numpy()
    values = pd.to_numeric(pd.Series(amounts, dtype=object), errors="coerce").to_numpy(float)
    flip = mask & (values > 0)
    counts["cancellation invoices (C...) netted as returns, lines"] = int((mask & with_id).sum())
    if not flip.any():
        return amounts
    out = amounts.astype(object, copy=True)
    out[flip] = -values[flip]
    return out


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




def _parquet_table(p: Path) -> Table:
    names, load = _parquet_source(p)
    return Table(names, load)


def _csv_table(p: Path, opts: ReadOptions) -> Table:
    """A CSV file streamed block by block by pyarrow, in its own dialect (:mod:`.dialect`);
    a column whose type changes further down is read as text."""
    d = sniff(p, encoding=opts.encoding, delimiter=opts.delimiter, header_row=opts.header_row)
    names = d.names
    # numbers in a file that is not comma-delimited, or with marks the user gave, are read
    # as text and parsed by ltvxl (pyarrow would read 1.234 as one point two three four)
    as_text_roles = d.delimiter != "," or opts.decimal not in (None, ".") or \
        opts.thousands not in (None, ",")
    try:
        from pyarrow import csv as pacsv
    except ImportError:  # pragma: no cover - Pyodide
        df = pd.read_csv(p, sep=d.delimiter, encoding=d.encoding, skiprows=d.header_line,
                         dtype=str if as_text_roles else None)
        return Table([str(c) for c in df.columns], lambda cols: {c: df[c].to_numpy()
                                                                 for c in cols},
                     first_row=d.header_line + 2, said=list(d.said))
    import pyarrow as pa

    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise LtvxlError(f'{p.name}: two columns are named "{dup}"; rename one')
    parse = pacsv.ParseOptions(delimiter=d.delimiter)
    numeric_cols: set[str] = set()

    # a single-byte code page (Windows-1252 ...) is parsed as bytes, which its delimiters,
    # quotes and line ends are in ASCII, and only each distinct text is decoded: pyarrow
    # would transcode the whole file through Python's codec first
    as_bytes = d.encoding != "utf-8" and single_byte(d.encoding)
    text_type = pa.binary() if as_bytes else pa.string()

    def stream(cols: list[str], as_text: bool) -> dict[str, np.ndarray]:
        types = {c: text_type for c in cols} if as_text else \
            {c: text_type for c in cols if c in numeric_cols}
        convert = pacsv.ConvertOptions(include_columns=cols, strings_can_be_null=True,
                                       column_types=types or None)
        size = p.stat().st_size
        columns: dict[str, ColumnBuffer | TextColumn] = {}
        if as_bytes:
            read = pacsv.ReadOptions(block_size=_CSV_BLOCK, use_threads=False,
                                     skip_rows=d.header_line + 1, column_names=names,
                                     encoding="utf8")
        else:
            read = pacsv.ReadOptions(block_size=_CSV_BLOCK, use_threads=False,
                                     skip_rows=d.header_line,
                                     encoding="utf8" if d.encoding == "utf-8" else d.encoding)
        with pacsv.open_csv(p, parse_options=parse, convert_options=convert, read_options=read,
                            memory_pool=arrow_pool()) as reader:
            for batch in reader:
                if not columns:  # expected rows from the first block's bytes per row
                    guess = int(size / max(_CSV_BLOCK, 1) * batch.num_rows * 1.05) + 1024
                    columns = {
                        c: TextColumn(d.encoding if as_bytes else None)
                        if is_text_type(batch.schema.field(c).type) else ColumnBuffer(guess)
                        for c in cols}
                for c in cols:
                    col, into = batch.column(c), columns[c]
                    if isinstance(into, TextColumn) != is_text_type(col.type):
                        raise pa.ArrowInvalid(f"column {c} changed type")  # read as text
                    into.add(col if isinstance(into, TextColumn) else chunk_array(col))
        try:
            return {c: (columns[c].result() if columns else np.empty(0, dtype=object))
                    for c in cols}
        except UnicodeDecodeError as exc:
            raise LtvxlError(f"{p.name}: cannot read as {d.encoding} text ({exc}); give the "
                             "encoding with --encoding (e.g. utf-8, cp1252, utf-16)") from None

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

    table = Table(names, load, first_row=d.header_line + 2, said=list(d.said))
    if as_text_roles:
        roles = find_roles(names, opts.roles())
        numeric_cols.update(roles[r] for r in _NUMERIC_ROLES if r in roles)
    return table
