"""Arrow columns as numpy arrays, block by block, with little memory.

pyarrow parses CSV and Parquet files; these helpers turn each block's
columns into numpy arrays (dates as ``datetime64[D]``, texts as one Python
object per distinct text) and gather them into one preallocated array per
column, so each block's buffers are freed at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .columns import remember_distinct


class ColumnBuffer:
    """A column filled block by block into one preallocated array (grown when the first
    guess of the row count was short), so that each block's buffers are freed at once."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.data: np.ndarray | None = None
        self.n = 0

    def add(self, part: np.ndarray) -> None:
        if self.data is None and len(part) == self.capacity:
            self.data, self.n = part, len(part)  # the whole column at once: no copy
            return
        if self.data is None:
            self.data = np.empty(self.capacity, dtype=part.dtype)
        elif part.dtype != self.data.dtype:
            kinds = {part.dtype.kind, self.data.dtype.kind}
            dtype = np.result_type(part.dtype, self.data.dtype) if kinds <= set("iuf") \
                else np.dtype(object)
            self.data = self.data.astype(dtype)
        if self.n + len(part) > len(self.data):
            grown = np.empty(max(int(len(self.data) * 1.5), self.n + len(part)),
                             dtype=self.data.dtype)
            grown[:self.n] = self.data[:self.n]
            self.data = grown
        self.data[self.n:self.n + len(part)] = part
        self.n += len(part)

    def result(self) -> np.ndarray:
        if self.data is None:
            return np.empty(0, dtype=object)
        out = self.data[:self.n]
        return out.copy() if self.n < len(self.data) // 2 else out  # drop a large surplus


class TextColumn:
    """A text column gathered as Arrow chunks and turned into numpy at the end, with one
    Python object per distinct text of the whole column (so later hashing and
    comparing of equal texts is by identity). ``decode``: the codec of a column read as
    bytes (a single-byte code page, decoded per distinct text instead of transcoding
    the whole file)."""

    def __init__(self, decode: str | None = None) -> None:
        self.chunks: list[Any] = []
        self.decode = decode

    def add(self, chunk: Any) -> None:
        self.chunks.append(chunk)

    def result(self) -> np.ndarray:
        import pyarrow as pa
        import pyarrow.compute as pc

        n = sum(len(c) for c in self.chunks)
        out = np.empty(n, dtype=object)
        if not n:
            return out
        enc = pc.dictionary_encode(pa.chunked_array(self.chunks), memory_pool=arrow_pool())
        self.chunks = []
        dictionary_type = enc.type.value_type
        words = enc.chunk(0).dictionary.to_pylist()
        if self.decode is not None and (pa.types.is_binary(dictionary_type) or
                                        pa.types.is_large_binary(dictionary_type)):
            words = [w.decode(self.decode) for w in words]
        dictionary = np.empty(len(words), dtype=object)
        dictionary[:] = words
        codes = np.empty(n, dtype=np.intp)
        at = 0
        for chunk in enc.chunks:  # every chunk's dictionary is the whole column's
            idx = chunk.indices
            codes[at:at + len(idx)] = idx.fill_null(-1).to_numpy()
            at += len(idx)
        out[:] = dictionary[np.maximum(codes, 0)] if len(dictionary) else None
        if (codes < 0).any():
            out[codes < 0] = None
        # Arrow numbers distinct texts in order of first appearance, as pd.factorize does;
        # read-only, so that the recorded distinct values cannot go stale
        out.flags.writeable = False
        remember_distinct(out, codes, dictionary)
        return out


def is_text_type(t: Any) -> bool:
    """An Arrow string or binary type (the columns :class:`TextColumn` gathers)."""
    import pyarrow as pa

    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t) \
        or pa.types.is_large_binary(t)


def arrow_pool() -> Any:
    """The system allocator: memory freed after conversion goes back to the OS at once."""
    import pyarrow as pa

    return pa.system_memory_pool()


def chunk_array(col: Any) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    pool = arrow_pool()
    t = col.type
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        if col.null_count:
            return col.to_numpy(zero_copy_only=False)
        if pa.types.is_timestamp(t) and t.tz is not None:  # the local calendar day
            col = pc.local_timestamp(col, memory_pool=pool)
            t = col.type
        if pa.types.is_timestamp(t):
            # days since 1970, floor-divided straight from Arrow's buffer: one int64 array
            per_day = 86400 * {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[t.unit]
            ticks = col.to_numpy(zero_copy_only=False).view(np.int64)
            return np.floor_divide(ticks, per_day).view("datetime64[D]")
        return col.to_numpy(zero_copy_only=False).astype("datetime64[D]")
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        if col.null_count:
            return pc.cast(col, pa.float64(), memory_pool=pool).to_numpy(zero_copy_only=False)
        return col.to_numpy(zero_copy_only=False)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t):
        # dictionary-encode so each distinct text becomes one Python object
        enc = col if pa.types.is_dictionary(t) else pc.dictionary_encode(col, memory_pool=pool)
        idx = enc.indices.to_numpy(zero_copy_only=False)
        dictionary = np.asarray(enc.dictionary.to_pylist(), dtype=object)
        out = np.empty(len(idx), dtype=object)
        valid = ~pd.isna(idx) if enc.indices.null_count else None
        if valid is None:
            out[:] = dictionary[idx.astype(np.int64)]
        else:
            out[valid] = dictionary[idx[valid].astype(np.int64)]
            out[~valid] = None
        return out
    return np.asarray(col.to_pylist(), dtype=object)
