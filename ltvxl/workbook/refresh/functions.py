"""The functions the engine evaluates with: ``formulas``' own, and ltvxl's
declared functions (:data:`ltvxl.udfs.FUNCTIONS`) registered beside them,
called with arguments shaped as xlwings passes them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import formulas
import numpy as np

from .values import EMPTY, fast_grid_values, grid_value, grid_values, to_udf_arg

_registered = False


def init() -> None:
    """Register the ltvxl functions with ``formulas`` (once)."""
    global _registered
    if _registered:
        return
    from ltvxl.udfs import FUNCTIONS

    registry = formulas.get_functions()
    for name, func in FUNCTIONS.items():
        registry[name] = _adapter(func)
    _registered = True


def _adapter(func: Callable[..., Any]) -> Callable[..., Any]:
    from ltvxl.worksheet import spec_of

    spec = spec_of(func)

    def call(*args: Any) -> Any:
        if len(args) > len(spec.args):
            return f"#VALUE! {spec.name} takes at most {len(spec.args)} arguments, got {len(args)}"
        values = [to_udf_arg(a, arg.is_range) for a, arg in zip(args, spec.args, strict=False)]
        values += [None] * (len(spec.args) - len(values))
        out = func(*values)
        if isinstance(out, (list, tuple)):
            grid = [list(r) if isinstance(r, (list, tuple)) else [r] for r in out]
            width = max((len(r) for r in grid), default=1)
            arr = np.empty((len(grid), width), dtype=object)
            if grid and all(len(r) == width for r in grid):
                try:  # a rectangular table of cell values: filled in one go, converted as needed
                    arr[:] = grid
                    flat = arr.reshape(-1)
                    flat[:] = grid_values(flat.tolist())
                    return arr
                except ValueError:
                    pass
            arr[:] = EMPTY
            for i, r in enumerate(grid):
                arr[i, : len(r)] = fast_grid_values(r)
            return arr
        return grid_value(out)

    call.__name__ = spec.name
    return call
