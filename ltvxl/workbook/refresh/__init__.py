"""Headless refresh: recompute every formula of a workbook and store the results.

Only the formula cells are evaluated, in dependency order; data cells are read
with a fast reader (python-calamine). Native Excel functions are evaluated by
the ``formulas`` library; ltvxl functions are the very declared functions of
:data:`ltvxl.udfs.FUNCTIONS`, called with arguments shaped as xlwings passes
them (ranges as lists of lists, ``None`` for blanks, numbers as ``float``,
dates as ``datetime``). The results are written as the cells' cached values
into a copy of the package; every other part is copied unchanged.

Dynamic-array formulas (``<f t="array">`` with cell metadata) spill: their
``ref`` is set to the new spill range, the spilled values are written into its
cells, and cells of the old range that are no longer in it are cleared. A
spill onto occupied cells gives ``#SPILL!`` as in Excel. A legacy array
formula (entered with Ctrl+Shift+Enter) fills its fixed range. An ordinary
formula that returns an array keeps its top-left value (Excel's implicit
intersection for a formula saved without dynamic-array metadata).

Error texts returned by ltvxl functions ("#VALUE! ...") are stored as text
cells, exactly what Excel shows; errors of native functions are stored as
Excel error values.

The modules, one job each:

- :mod:`.values`: conversion of cell values between the file, the engine
  (``formulas``' grids) and ltvxl functions (xlwings' shapes);
- :mod:`.functions`: the function registry the engine evaluates with
  (``formulas``' own, and ltvxl's declared functions);
- :mod:`.grids`: the cell values of each sheet during a refresh;
- :mod:`.prepare`: formula text into a cacheable expression and its references;
- :mod:`.engine`: scheduling in dependency order, batches, spills;
- this module: the public :func:`refresh`.

Only this module is imported without ``formulas`` (which the browser build
lacks); the others import it when a refresh starts.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ltvxl.errors import LtvxlError
from ltvxl.fileio import atomic_output


class RefreshError(LtvxlError):
    """A formula that the headless refresh cannot evaluate."""


@dataclass
class RefreshResult:
    """What a refresh did."""

    output: Path
    formulas: int
    spilled_cells: int
    seconds: float
    warnings: list[str] = field(default_factory=list)


def _lazy_import(name: str) -> None:
    """Register ``name`` to be imported when first used, not now.

    ``formulas`` imports ``scipy.stats`` (about half a second) for a few
    statistical functions that most workbooks never call.
    """
    import importlib.util
    import sys

    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        return
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    if parent:  # `from parent import child` then finds it without an import (which would load it)
        setattr(sys.modules[parent], child, module)


def default_output(path: str | Path) -> Path:
    """Where ``ltvxl refresh BOOK.xlsx`` writes without ``-o``: ``BOOK.refreshed.xlsx``."""
    p = Path(path)
    return p.with_name(f"{p.stem}.refreshed{p.suffix or '.xlsx'}")


def refresh(
    path: str | Path,
    output: str | Path | None = None,
    *,
    in_place: bool = False,
    progress: Callable[[str], None] | None = None,
) -> RefreshResult:
    """Recompute every formula of the workbook ``path`` and write the result.

    The result goes to ``output`` (default ``BOOK.refreshed.xlsx`` beside the
    input), or over the input only with ``in_place=True``. The file is written
    to a temporary file and renamed into place.
    """
    t0 = time.perf_counter()
    src = Path(path)
    if in_place:
        dst = src
    else:
        dst = Path(output) if output is not None else default_output(src)
        if dst.exists() and src.exists() and dst.resolve() == src.resolve():
            raise RefreshError(f"{dst} is the input file; use --in-place to overwrite it")
    collecting = gc.isenabled()
    gc.disable()  # millions of short-lived cell objects, no cycles: the collector only costs
    try:
        _lazy_import("scipy.stats")
        from ltvxl.workbook.xlsx import open_package, write_package

        from .engine import Engine

        pkg = open_package(src)
        engine = Engine(pkg, progress)
        engine.load()
        engine.run()
        parts = engine.finish()
        with atomic_output(dst) as tmp:
            write_package(pkg, parts, tmp)
    finally:
        if collecting:
            gc.enable()
    return RefreshResult(dst, len(engine.nodes), engine.spilled,
                         time.perf_counter() - t0, engine.warnings)
