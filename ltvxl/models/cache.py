"""A cache of fits keyed on the content of their data, for faces that refit often.

A worksheet recalculates a formula whenever Excel likes; refitting an unchanged
range each time would take seconds. The faces keep a :class:`FitCache` and
pass it to the core (:func:`ltvxl.models.clv.fit_models`), which computes the
keys (:func:`digest` of the data's columns). numpy only, so the worksheet
declarations can make one without loading scipy or pandas.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

from ltvxl.errors import LtvxlError


class FitCache:
    """Fits remembered by a key (a content digest), least recently used first out.

    A fit that failed is remembered as its error and raised again, so an unchanged
    bad range does not refit either. Faces (the worksheet functions) keep one;
    the core never keeps one of its own.
    """

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The value for ``key``, made (or its LtvxlError remembered) on first use."""
        if key in self._items:
            self._items.move_to_end(key)
            value = self._items[key]
        else:
            try:
                value = make()
            except LtvxlError as exc:
                value = exc
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        if isinstance(value, LtvxlError):
            raise value
        return value

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


def digest(*arrays: Any) -> str:
    """A key for the content of some arrays (their shapes and float values)."""
    import hashlib  # here: its OpenSSL binding costs Excel's start 10-15 ms

    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        a = np.ascontiguousarray(a, dtype=float)
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()
