"""Results of table functions as cell values: one header row, then one row per record.

numpy columns become what Excel shows: floats, texts and datetimes; NaN and NaT
become blank cells; numpy scalars become Python scalars (xlwings and the
refresh write only those).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def cells(values: np.ndarray) -> list[Any]:
    """One column of results as cell values: floats, texts, datetimes; NaN as a blank."""
    arr = np.asarray(values)
    kind = arr.dtype.kind
    if kind == "M":
        out = arr.astype("datetime64[s]").astype(object)
        out[np.isnat(arr)] = None
        return out.tolist()
    if kind in "iub":
        return arr.astype(float).tolist()
    if kind == "f":
        finite = np.isfinite(arr)
        if finite.all():
            return arr.tolist()
        out = arr.astype(object)
        out[~finite] = None
        return out.tolist()
    out = arr.astype(object)
    return [v.item() if isinstance(v, np.generic) else v for v in out.tolist()]


def table(header: Sequence[str], columns: Sequence[Any]) -> list[list[Any]]:
    """The header row, then one row per element of the (equally long) columns."""
    return [list(header), *map(list, zip(*map(cells, columns), strict=True))]

