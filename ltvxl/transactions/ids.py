"""Customer ids of a log as text, with one code per row.

The number 1001, the number 1001.0 and the text ``"1001"`` (spaces around it
ignored) are the same customer ``"1001"``; text ids are otherwise kept as
typed (``"007"`` is not ``"7"``). Distinct ids are ordered numbers first, in
numeric order, then texts in text order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..cells import describe
from ..errors import LtvxlError, clip, is_cell_error
from .columns import factorize, first_bad, first_bool, is_blank, object_array


def format_id(value: Any) -> str | None:
    """The canonical text of one id value; ``None`` when it cannot be an id."""
    if isinstance(value, str):
        text = value.strip()
        return text if text and not is_cell_error(text) else None
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        x = float(value)
        if not np.isfinite(x):
            return None
        if x.is_integer() and abs(x) < 1e15:
            return str(int(x))
        return repr(x)
    return None


def _id_keys(uniq: np.ndarray) -> list[str | None]:
    """:func:`format_id` of each distinct value; texts stripped in one pass (the usual
    column of text ids), only those starting with "#" checked for an error code."""
    if not all(type(u) is str for u in uniq):
        return [format_id(u) for u in uniq]
    keys: list[str | None] = [u.strip() for u in uniq]
    for i, k in enumerate(keys):
        if not k or (k[0] == "#" and is_cell_error(k)):
            keys[i] = None
    return keys


def _factorize_ints(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, sorted distinct values) of integer ids; by direct addressing when the ids
    span a moderate range (less memory and time than hashing), else by pandas."""
    lo, hi = int(values.min()), int(values.max())
    span = hi - lo + 1
    if span > max(2 * len(values), 1 << 22):
        codes, uniq = pd.factorize(values, sort=True)
        return codes.astype(np.int64, copy=False), np.asarray(uniq)
    kind = np.int32 if span < 2**31 else np.int64  # int32 codes: half the memory
    codes = np.subtract(values, lo, out=np.empty(len(values), dtype=kind), casting="unsafe")
    present = np.zeros(span, dtype=bool)
    present[codes] = True
    rank = np.cumsum(present, dtype=kind)
    rank -= 1
    for i in range(0, len(codes), 1 << 16):  # in place, block by block: no second array
        block = codes[i:i + (1 << 16)]
        np.take(rank, block, out=block, mode="clip")
    return codes, np.flatnonzero(present) + lo


def _float_id_texts(uniq: np.ndarray) -> np.ndarray:
    """Canonical id texts of distinct float ids: whole numbers without ".0"."""
    whole = (uniq == np.floor(uniq)) & (np.abs(uniq) < 1e15)
    out = np.empty(len(uniq), dtype=object)
    out[whole] = uniq[whole].astype(np.int64).astype(str).tolist()
    out[~whole] = [format_id(u) for u in uniq[~whole]]
    return out


def _int_id_texts(uniq: np.ndarray) -> np.ndarray:
    """Id texts of distinct integer ids, straight from Python ints (no wide unicode array)."""
    out = np.empty(len(uniq), dtype=object)
    for i in range(0, len(uniq), 1 << 14):  # block by block: no list of the whole column
        out[i:i + (1 << 14)] = list(map(str, uniq[i:i + (1 << 14)].tolist()))
    return out


def natural_order(keys: np.ndarray) -> np.ndarray:
    """Order of id texts: those that read as numbers numerically first, then the rest."""
    # a text that starts with a letter other than i (inf) is no number: only the others are
    # parsed (a column of ids such as C-1001 has none)
    maybe = np.fromiter((not (isinstance(k, str) and k[:1].isascii() and k[:1].isalpha()
                              and k[:1] not in "iI") for k in keys), dtype=bool, count=len(keys))
    as_num = np.full(len(keys), np.nan)
    if maybe.any():
        as_num[maybe] = pd.to_numeric(pd.Series(keys[maybe], dtype=object),
                                      errors="coerce").to_numpy(float)
    text_order = np.argsort(keys.astype(str), kind="stable")
    return text_order[np.argsort(as_num[text_order], kind="stable")]


def parse_ids(values: np.ndarray, label: str, row_of: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """(codes, customers): the customer index of each row and the distinct ids as text."""
    row_of = row_of or (lambda i: i + 1)
    kind = values.dtype.kind
    if kind in "iu":
        codes, uniq = _factorize_ints(values)
        return codes, _int_id_texts(uniq)
    if kind == "f":
        bad = first_bad(~np.isfinite(values))
        if bad is not None:
            raise LtvxlError(f"{label} row {row_of(bad)}: the customer id is missing")
        if bool(np.all(values == np.floor(values))) and float(np.abs(values).max()) < 2**53:
            codes, uniq = _factorize_ints(values.astype(np.int64))
            return codes, _int_id_texts(uniq)
        codes, uniq = pd.factorize(values, sort=True)
        return codes.astype(np.int64), _float_id_texts(np.asarray(uniq, dtype=np.float64))
    if kind not in "OUS":
        raise LtvxlError(f"{label} must hold customer ids (text or numbers), got {values.dtype}")
    values = values.astype(object, copy=False)
    flag = first_bool(values)
    if flag is not None:
        raise LtvxlError(
            f"{label} row {row_of(flag)}: {describe(values[flag])} is not a customer id"
        )
    raw_codes, raw_uniq = factorize(values)
    keys = _id_keys(raw_uniq)
    bad_uniq = np.array([k is None for k in keys], dtype=bool)
    bad_rows = raw_codes < 0
    if bad_uniq.any():
        bad_rows |= bad_uniq[np.maximum(raw_codes, 0)] & (raw_codes >= 0)
    bad = first_bad(bad_rows)
    if bad is not None:
        v = values[bad]
        if is_blank(v):
            raise LtvxlError(f"{label} row {row_of(bad)}: the customer id is missing")
        if is_cell_error(v):
            raise LtvxlError(f"{label} row {row_of(bad)}: the cell holds the error {clip(v, 40)}")
        raise LtvxlError(
            f"{label} row {row_of(bad)}: {describe(v)} is not a customer id (use text or a number)"
        )
    key_arr = object_array(keys)
    key_codes, key_uniq = pd.factorize(key_arr)
    order = natural_order(np.asarray(key_uniq, dtype=object))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    codes = rank[key_codes][raw_codes]
    return codes, object_array(list(np.asarray(key_uniq, dtype=object)[order]))
