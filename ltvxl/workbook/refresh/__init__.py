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

Error texts returned by ltvxl functions ("#VALUE! churn_rate must be ...") become Excel
error values, as the add-in makes them in Excel, so that native formulas over them (SUM,
IFERROR, ISERROR, ISNA) behave as in Excel; their messages are listed in the warnings,
in :attr:`RefreshResult.errors`, in the output's custom document properties and for
``LTV_ERROR(cell)``. A workbook whose name ``LTVXL_ERROR_TEXT`` is TRUE keeps the texts.
Errors of native functions are stored as Excel error values.

The modules, one job each:

- :mod:`.values`: conversion of cell values between the file, the engine
  (``formulas``' grids) and ltvxl functions (xlwings' shapes);
- :mod:`.functions`: the function registry the engine evaluates with
  (``formulas``' own, and ltvxl's declared functions);
- :mod:`.grids`: the cell values of each sheet during a refresh;
- :mod:`.prepare`: formula text into a cacheable expression and its references;
- :mod:`.engine`: scheduling in dependency order, batches, spills, iteration;
- :mod:`.excel`, :mod:`.natives`, :mod:`.bessel`: Excel functions computed by ltvxl
  (the cell model's, and those ``formulas`` computes differently from Excel);
- :mod:`.dynamic`: OFFSET and INDIRECT, references computed at evaluation;
- this module: the public :func:`refresh`.

Only this module is imported without ``formulas`` (which the browser build
lacks); the others import it when a refresh starts.
"""

from __future__ import annotations

import gc
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    stale: list[tuple[str, str]] = field(default_factory=list)
    """(cell, reason) of each formula cell that could not be computed and kept its
    previous value (only with ``keep_going``)."""
    errors: list[tuple[str, str]] = field(default_factory=list)
    """(cell, message) of each cell holding an error value that an ltvxl function returned
    as an error text ("#VALUE! churn_rate must be ..."), in sheet order."""


STALE_PROPERTY = "ltvxl refresh: stale cells"
"""The custom document property listing the cells a ``--keep-going`` refresh left stale."""
STALE_COUNT_PROPERTY = "ltvxl refresh: stale count"
"""The custom document property holding how many cells were left stale."""
ERROR_COUNT_PROPERTY = "ltvxl refresh: error count"
"""The custom document property holding how many cells hold an ltvxl error value."""
ERROR_PROPERTY = "ltvxl error: "
"""The prefix of the custom document properties holding the message of each of the first
:data:`MAX_ERROR_PROPERTIES` cells with an ltvxl error value (``ltvxl error: Sheet1!B2``)."""
MAX_ERROR_PROPERTIES = 50
MAX_ERRORS_PRINTED = 20


def _failure_report(book: Path, stale: list[tuple[str, str, str]], keep_going: bool) -> str:
    """The message listing the cells that cannot be computed: every cell whose own formula
    fails, with its reason; the cells that fail only because they depend on one, counted."""
    roots = [(c, f, why) for c, f, why in stale if not why.startswith("depends on ")]
    after = len(stale) - len(roots)
    head = (f"{book}: {len(stale):,} formula cell{'s' if len(stale) != 1 else ''} cannot be "
            "computed")
    head += "; their previous values were kept:" if keep_going else \
        " (nothing written; --keep-going writes the others and keeps these cells' previous values):"
    lines = [head] + [f"  {c} ={f}: {why}" for c, f, why in roots]
    if after:
        lines.append(f"  and {after:,} cell{'s' if after != 1 else ''} that depend on them")
    return "\n".join(lines)


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
    keep_going: bool = False,
    progress: Callable[[str], None] | None = None,
    fill: tuple[Any, str] | None = None,
) -> RefreshResult:
    """Recompute every formula of the workbook ``path`` and write the result.

    The result goes to ``output`` (default ``BOOK.refreshed.xlsx`` beside the
    input), or over the input only with ``in_place=True``. The file is written
    to a temporary file and renamed into place.

    A formula cell that cannot be computed (an unsupported function, a circular
    reference, a cell that depends on one) stops the refresh with a message listing
    every such cell, and nothing is written. With ``keep_going=True`` the others are
    computed and written, those cells keep their previous cached values, and they are
    listed in :attr:`RefreshResult.stale` and in the output's custom document
    properties (:data:`STALE_PROPERTY`, :data:`STALE_COUNT_PROPERTY`).

    ``fill``: (data, table): the workbook's Excel table ``table`` first gets the rows of
    ``data`` (a :class:`~ltvxl.workbook.template.TransactionsData`), as
    :func:`~ltvxl.workbook.fill.fill_template` would put them there; their values are taken
    from memory and the sheet is streamed into the output, never written and read back.
    """
    t0 = time.perf_counter()
    src = Path(path)
    if in_place:
        dst = src
    else:
        dst = Path(output) if output is not None else default_output(src)
        if dst.exists() and src.exists() and dst.resolve() == src.resolve():
            raise RefreshError(f"{dst} is the input file; use --in-place to overwrite it")
    scratch = Path(tempfile.mkdtemp(prefix="ltvxl-")) if fill is not None else None
    collecting = gc.isenabled()
    gc.disable()  # millions of short-lived cell objects, no cycles: the collector only costs
    try:
        _lazy_import("scipy.stats")
        from ltvxl.workbook.xlsx import custom_properties, open_package, write_package

        from .engine import Engine

        pkg = open_package(src)
        filling = None
        if fill is not None:
            pkg, filling = _filled(pkg, fill, scratch)
        engine = Engine(pkg, progress)
        if filling is not None:
            engine.fill(filling)
        engine.load()
        engine.run()
        stale = engine.stale()
        if stale and not keep_going:
            raise RefreshError(_failure_report(src, stale, keep_going=False))
        parts: dict[str, Any] = engine.finish()
        if filling is not None:
            parts.update(filling.parts)
            parts[filling.part] = filling.sheet_chunks()
        errors = engine.error_cells()
        props = _stale_properties(stale) | _error_properties(pkg, errors)
        parts.update(custom_properties(pkg, props))
        with atomic_output(dst) as tmp:
            write_package(pkg, parts, tmp)
    finally:
        if collecting:
            gc.enable()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    warnings = list(engine.warnings)
    from .excel import CONTEXT

    if CONTEXT.used_now:
        warnings.append(f"TODAY() and NOW() are the time of this refresh: "
                        f"{CONTEXT.now:%Y-%m-%d %H:%M:%S} (local time)")
    if stale:
        warnings.append(_failure_report(src, stale, keep_going=True))
    return RefreshResult(dst, len(engine.nodes), engine.spilled, time.perf_counter() - t0,
                         warnings, [(c, why) for c, _, why in stale], errors)


def error_report(errors: list[tuple[str, str]]) -> str:
    """The warning listing the cells that hold an ltvxl error value, with their messages
    (``ltvxl refresh`` prints it; :attr:`RefreshResult.errors` holds them all)."""
    n = len(errors)
    lines = [f"{n:,} cell{'s' if n != 1 else ''} hold{'s' if n == 1 else ''} an error value "
             "from an ltvxl function (=LTV_ERROR(cell) shows its message; so do the output's "
             f"custom document properties '{ERROR_PROPERTY}CELL' for the first "
             f"{MAX_ERROR_PROPERTIES}):"]
    lines += [f"  {cell}: {message}" for cell, message in errors[:MAX_ERRORS_PRINTED]]
    if n > MAX_ERRORS_PRINTED:
        lines.append(f"  and {n - MAX_ERRORS_PRINTED:,} more")
    return "\n".join(lines)


def _error_properties(pkg: Any, errors: list[tuple[str, str]]) -> dict[str, str | int | None]:
    """The error-message properties to record; those of a previous refresh are removed."""
    from ltvxl.workbook.xlsx import custom_property_names

    props: dict[str, str | int | None] = {ERROR_COUNT_PROPERTY: len(errors) or None}
    for cell, message in errors[:MAX_ERROR_PROPERTIES]:
        props[f"{ERROR_PROPERTY}{cell}"] = message
    for name in custom_property_names(pkg):
        if name.startswith(ERROR_PROPERTY):
            props.setdefault(name, None)
    return props


def _filled(pkg: Any, fill: tuple[Any, str], scratch: Path) -> tuple[Any, Any]:
    """(package, Filling) of ``pkg`` with the table rows of ``fill`` from memory; a table whose
    sheet holds formulas is filled into a file in ``scratch`` instead, read as any workbook
    (the refresh then rewrites that sheet), and the Filling is None."""
    from ltvxl.workbook.fill import Filling
    from ltvxl.workbook.xlsx import open_package, write_package

    filling = Filling(pkg, *fill)
    if not re.search(rb"<(?:\w+:)?f[ >/]", pkg.parts[filling.part]):
        filling.apply(pkg)
        return pkg, filling
    filled = scratch / "filled.xlsx"
    write_package(pkg, {filling.part: filling.sheet_chunks(), **filling.parts}, filled)
    return open_package(filled), None


def _stale_properties(stale: list[tuple[str, str, str]]) -> dict[str, str | int | None]:
    """The stale-cell properties to record (None: remove a property a previous refresh set)."""
    if not stale:
        return {STALE_PROPERTY: None, STALE_COUNT_PROPERTY: None}
    names, text = [c for c, _, _ in stale], ""
    for i, name in enumerate(names):  # Excel shows at most 255 characters of a property
        tail = f" ... ({len(names):,} in all)" if i < len(names) - 1 else ""
        if len(text) + len(name) + 1 + len(tail) > 255:
            text += f" ... ({len(names):,} in all)"
            break
        text = f"{text} {name}".strip()
    return {STALE_PROPERTY: text, STALE_COUNT_PROPERTY: len(names)}
