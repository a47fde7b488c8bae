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
"""

from __future__ import annotations

import datetime as dt
import gc
import re
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ltvxl.errors import LtvxlError
from ltvxl.fileio import atomic_output

from .xlsx import (
    MAX_COLS,
    MAX_ROWS,
    ErrorValue,
    ExcelDate,
    FormulaCell,
    Package,
    SheetXml,
    Styles,
    WorkbookError,
    cell_name,
    open_package,
    parse_range,
    range_name,
    settled_workbook,
    write_package,
)


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


# ------------------------------------------------------------ formulas glue

def _formulas() -> Any:
    import formulas  # lazy: not available in the browser build

    return formulas


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


_EMPTY: Any = None
_XLERR: Any = None


def _init_formulas() -> None:
    """Register the ltvxl functions with ``formulas`` (once)."""
    global _EMPTY, _XLERR
    if _EMPTY is not None:
        return
    import schedula as sh
    from formulas.tokens.operand import XlError

    from ltvxl.udfs import FUNCTIONS

    _EMPTY, _XLERR = sh.EMPTY, XlError
    _lazy_import("scipy.stats")
    registry = _formulas().get_functions()
    for name, func in FUNCTIONS.items():
        registry[name] = _adapter(func)


def _xlerror(code: str) -> Any:
    from formulas.functions import Error

    return Error.errors.get(code) or _XLERR(code)


def _cell_for_udf(v: Any) -> Any:
    """A value as xlwings passes one cell to a function."""
    t = type(v)
    if t is float or t is str or t is bool:
        return v
    if v is _EMPTY or v is None:
        return None
    if t is ExcelDate:
        return v.when
    if isinstance(v, _XLERR):
        return str(v)
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
    return v


_ARG_CACHE: dict[tuple[int, bool], tuple[Any, Any]] = {}
"""Converted arguments by id of the (cached, unchanging) input object, during one refresh."""


def _udf_rows(arr: np.ndarray) -> list[list[Any]]:
    if arr.ndim == 2 and arr.shape[1] == 1:  # a column: the common case, kept fast
        return [[v if (t := type(v)) is float or t is str else
                 (v.when if t is ExcelDate else _cell_for_udf(v))] for v in arr[:, 0].tolist()]
    return [[v if (t := type(v)) is float or t is str else _cell_for_udf(v) for v in row]
            for row in arr.tolist()]


def _to_udf_arg(value: Any, is_range: bool) -> Any:
    key = (id(value), is_range)
    hit = _ARG_CACHE.get(key)
    if hit is not None and hit[0] is value:
        return hit[1]
    original = value
    if hasattr(value, "ranges") and hasattr(value, "value"):  # formulas.Ranges
        value = value.value
    if isinstance(value, np.ndarray):
        rows = _udf_rows(value if value.ndim == 2 else np.atleast_2d(value))
        single = not is_range and len(rows) == 1 and len(rows[0]) == 1
        out = rows[0][0] if single else rows
        if original is not value:  # a Ranges object: worth remembering
            _ARG_CACHE[key] = (original, out)
        return out
    cell = _cell_for_udf(value)
    return [[cell]] if is_range else cell


def _adapter(func: Callable[..., Any]) -> Callable[..., Any]:
    from ltvxl.worksheet import spec_of

    spec = spec_of(func)

    def call(*args: Any) -> Any:
        if len(args) > len(spec.args):
            return f"#VALUE! {spec.name} takes at most {len(spec.args)} arguments, got {len(args)}"
        values = [_to_udf_arg(a, arg.is_range) for a, arg in zip(args, spec.args, strict=False)]
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
                    flat[:] = _grid_values(flat.tolist())
                    return arr
                except ValueError:
                    pass
            arr[:] = _EMPTY
            for i, r in enumerate(grid):
                arr[i, : len(r)] = _fast_grid_values(r)
            return arr
        return _grid_value(out)

    call.__name__ = spec.name
    return call


def _grid_value(v: Any) -> Any:
    """A value as the engine keeps it in a grid (what native functions see)."""
    t = type(v)
    if t is float or t is str or t is bool or t is ExcelDate:
        return v
    if v is None or v is _EMPTY:
        return _EMPTY
    if isinstance(v, ErrorValue):
        return _xlerror(v.code)
    if isinstance(v, _XLERR):
        return v
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (dt.datetime, dt.date)):
        return ExcelDate(v)
    if isinstance(v, np.datetime64):
        import pandas as pd

        return ExcelDate(pd.Timestamp(v).to_pydatetime())
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
    if isinstance(v, dt.time):
        return (v.hour * 3600 + v.minute * 60 + v.second) / 86400.0
    if isinstance(v, dt.timedelta):
        return v.total_seconds() / 86400.0
    return str(v)


def _grid_values(values: list[Any]) -> list[Any]:
    """Cell values as grid values; the list itself when they already are (checked in bulk)."""
    if set(map(type, values)) <= {float, str, bool, ExcelDate, type(_EMPTY)}:
        return values
    return _fast_grid_values(values)


def _fast_grid_values(values: list[Any]) -> list[Any]:
    f64 = np.float64
    return [v if (t := type(v)) is float or t is str or t is ExcelDate else
            (float(v) if t is f64 else _grid_value(v)) for v in values]


def _write_value(v: Any, anchor: bool) -> Any:
    """A grid value as it is stored in the file."""
    if v is _EMPTY or v is None:
        return 0.0 if anchor and v is _EMPTY else None
    if isinstance(v, _XLERR):
        return ErrorValue(str(v))
    if isinstance(v, float) and not np.isfinite(v):
        return ErrorValue("#NUM!")
    return v


def _as_grid(out: Any) -> np.ndarray:
    """The result of a compiled formula as a 2-D object array of grid values."""
    if hasattr(out, "ranges") and hasattr(out, "value"):
        out = out.value
    arr = np.asarray(out, dtype=object) if isinstance(out, np.ndarray) else None
    if arr is None:
        arr = np.empty((1, 1), dtype=object)
        arr[0, 0] = out
    elif arr.ndim == 0:
        arr = arr.reshape(1, 1)
    elif arr.ndim == 1:
        arr = arr.reshape(1, -1)
    values = arr.reshape(-1).tolist()
    converted = _grid_values(values)
    if converted is values and arr.dtype == object:
        return arr
    flat = np.empty(arr.size, dtype=object)
    flat[:] = converted
    return flat.reshape(arr.shape)


# ------------------------------------------------------------ data grids

def _from_calamine(v: Any) -> Any:
    t = type(v)
    if t is float:
        return v
    if t is str:
        return _EMPTY if v == "" else v
    if t is int:
        return float(v)
    return _grid_value(v)


_NO_CELLS = np.empty((0, 0), dtype=object)


class Grids:
    """Cell values of each sheet: the file's values overlaid with computed results."""

    def __init__(self, pkg: Package) -> None:
        self.pkg = pkg
        self._book: Any = None
        self.base: dict[str, np.ndarray] = {}
        self.blocks: dict[str, list[tuple[int, int, np.ndarray]]] = {}
        self.blanked: dict[str, list[tuple[int, int, int, int]]] = {}
        self.singles: dict[str, dict[tuple[int, int], Any]] = {}
        self.single_extent: dict[str, tuple[int, int]] = {}
        self.covered: Callable[[str, int, int, int, int], bool] | None = None
        """Whether a range of a sheet holds only formula results (see Engine._covered)."""

    def _load(self, sheet: str) -> np.ndarray:
        if sheet not in self.base:
            if self._book is None:
                from python_calamine import CalamineWorkbook

                try:
                    self._book = CalamineWorkbook.from_path(str(self.pkg.path))
                except Exception as exc:
                    raise WorkbookError(f"{self.pkg.path}: cannot read cell values ({exc})") \
                        from None
            rows = self._book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
            blanked = self.blanked.pop(sheet, [])
            arr = self._grid(rows, blanked)
            for r, c, code in self._errors(sheet):  # calamine reads error cells as ""
                if r <= arr.shape[0] and c <= arr.shape[1] and \
                        not any(_inside(r, c, b) for b in blanked):
                    arr[r - 1, c - 1] = _xlerror(code)
            self.base[sheet] = arr
        return self.base[sheet]

    def _errors(self, sheet: str) -> list[tuple[int, int, str]]:
        """(row, col, code) of the cells holding an error value (``t="e"``), not formulas."""
        data = self.pkg.parts[self.pkg.sheet(sheet).part]
        if b't="e"' not in data and b"t='e'" not in data:
            return []
        sx = SheetXml(sheet, data)
        out = []
        for r, rec in sx.rows.items():
            if 't="e"' not in rec[2] and "t='e'" not in rec[2]:
                continue
            for c, xml in sx.cells(r).items():
                head = xml[: xml.find(">") + 1]
                if not re.search(r"""\bt=["']e["']""", head) or f"<{sx.p}f" in xml:
                    continue
                m = re.search(r"<(?:\w+:)?v>([^<]*)</", xml)
                if m:
                    out.append((r, c, m.group(1).strip()))
        return out

    @staticmethod
    def _grid(rows: list[list[Any]], blanked: list[tuple[int, int, int, int]]) -> np.ndarray:
        """Calamine's rows as a grid of engine values, column by column.

        Cells of ``blanked`` ranges (old spill ranges) are emptied before conversion.
        """
        width = max((len(r) for r in rows), default=0)
        arr = np.empty((len(rows), width), dtype=object)
        if rows and all(len(r) == width for r in rows):
            arr[:] = rows
        else:
            arr[:] = _EMPTY
            for i, r in enumerate(rows):
                arr[i, : len(r)] = r
        for r1, c1, r2, c2 in blanked:
            arr[r1 - 1: r2, c1 - 1: c2] = _EMPTY
        for j in range(width):
            col = arr[:, j]
            kinds = set(map(type, col))
            if kinds <= {float, type(_EMPTY)}:
                continue
            if str in kinds:
                col[col == ""] = _EMPTY
            if kinds - {float, str, type(_EMPTY)}:
                date = dt.date
                col[:] = [v if (t := type(v)) is float or t is str else
                          ExcelDate(v) if t is date else _from_calamine(v) for v in col.tolist()]
        return arr

    def blank(self, sheet: str, r1: int, c1: int, r2: int, c2: int) -> None:
        """Forget the stored values of a range (an old spill range) when the sheet is read."""
        if sheet in self.base:
            self.base[sheet][r1 - 1: r2, c1 - 1: c2] = _EMPTY
        else:
            self.blanked.setdefault(sheet, []).append((r1, c1, r2, c2))

    def extent(self, sheet: str, base: np.ndarray | None = None) -> tuple[int, int]:
        base = self._load(sheet) if base is None else base
        rows, cols = base.shape
        for r, c, arr in self.blocks.get(sheet, ()):
            rows = max(rows, r + arr.shape[0] - 1)
            cols = max(cols, c + arr.shape[1] - 1)
        lo_hi = self.single_extent.get(sheet)
        if lo_hi:
            rows, cols = max(rows, lo_hi[0]), max(cols, lo_hi[1])
        return rows, cols

    def put(self, sheet: str, r: int, c: int, arr: np.ndarray) -> None:
        if arr.shape == (1, 1):  # one cell: kept in a dict, so that reads stay fast
            self.singles.setdefault(sheet, {})[(r, c)] = arr[0, 0]
            ext = self.single_extent.get(sheet, (0, 0))
            self.single_extent[sheet] = (max(ext[0], r), max(ext[1], c))
            return
        self.blocks.setdefault(sheet, []).append((r, c, arr))

    def cell(self, sheet: str, r: int, c: int) -> Any:
        """The current value of one cell."""
        singles = self.singles.get(sheet)
        if singles and (r, c) in singles:
            return singles[(r, c)]
        return self.read(sheet, r, c, r, c)[0, 0]

    def read(self, sheet: str, r1: int, c1: int, r2: int, c2: int) -> np.ndarray:
        singles = self.singles.get(sheet, {})
        if r1 == r2 and c1 == c2 and (r1, c1) in singles:
            out = np.empty((1, 1), dtype=object)
            out[0, 0] = singles[(r1, c1)]
            return out
        if r2 != MAX_ROWS and c2 != MAX_COLS:  # within one computed block (a spill): no file read
            for br, bc, arr in reversed(self.blocks.get(sheet, ())):
                if br <= r1 and bc <= c1 and r2 < br + arr.shape[0] and c2 < bc + arr.shape[1]:
                    return arr[r1 - br: r2 - br + 1, c1 - bc: c2 - bc + 1].copy()
        if c2 != MAX_COLS and sheet not in self.base and self.covered is not None and \
                self.covered(sheet, r1, c1, r2, c2):
            base = _NO_CELLS  # whole columns holding only results: the file need not be read
        else:
            base = self._load(sheet)
        if r2 == MAX_ROWS or c2 == MAX_COLS:
            rows, cols = self.extent(sheet, base)
            if r2 == MAX_ROWS:
                r2 = max(r1, rows)
            if c2 == MAX_COLS:
                c2 = max(c1, cols)
        out = np.empty((r2 - r1 + 1, c2 - c1 + 1), dtype=object)
        out[:] = _EMPTY
        part = base[r1 - 1: r2, c1 - 1: c2]
        out[: part.shape[0], : part.shape[1]] = part
        for br, bc, arr in self.blocks.get(sheet, ()):
            er, ec = br + arr.shape[0] - 1, bc + arr.shape[1] - 1
            if er < r1 or br > r2 or ec < c1 or bc > c2:
                continue
            ir1, ic1 = max(r1, br), max(c1, bc)
            ir2, ic2 = min(r2, er), min(c2, ec)
            out[ir1 - r1: ir2 - r1 + 1, ic1 - c1: ic2 - c1 + 1] = \
                arr[ir1 - br: ir2 - br + 1, ic1 - bc: ic2 - bc + 1]
        if singles:
            if (r2 - r1 + 1) * (c2 - c1 + 1) <= len(singles):
                get = singles.get
                for r in range(r1, r2 + 1):
                    for c in range(c1, c2 + 1):
                        v = get((r, c), out)
                        if v is not out:
                            out[r - r1, c - c1] = v
            else:
                for (r, c), v in singles.items():
                    if r1 <= r <= r2 and c1 <= c <= c2:
                        out[r - r1, c - c1] = v
        return out


# ------------------------------------------------------------ formula prep

@dataclass(frozen=True)
class Ref:
    sheet: str
    r1: int
    c1: int
    r2: int
    c2: int
    spill: bool = False
    """A spill reference (``A2#``): the current spill range of the anchor at (r1, c1)."""


_PREFIXES = ("_xlfn.", "_xlws.", "_xludf.", "_xlpm.")
_SPILL_OP = re.compile(r"((?:'(?:[^']|'')+'|[A-Za-z0-9_.]+)!)?(\$?[A-Za-z]{1,3}\$?\d+)#")
_NOT_SUPPORTED = {"OFFSET", "INDIRECT", "CELL", "INFO", "LET", "LAMBDA", "RTD",
                  "WEBSERVICE", "GETPIVOTDATA", "CUBEVALUE", "RAND", "RANDBETWEEN",
                  "RANDARRAY", "NOW", "TODAY"}


BATCH_MIN = 16
ELEMENTWISE = frozenset({
    "IF", "IFERROR", "IFNA", "ROUND", "ROUNDUP", "ROUNDDOWN", "ABS", "SQRT", "EXP", "LN",
    "INT", "MOD", "POWER", "ISNUMBER", "ISTEXT", "ISBLANK", "ISERROR", "NOT", "LEN", "LEFT",
    "RIGHT", "UPPER", "LOWER", "TRIM"})
"""Native functions that work cell by cell on arrays: formulas using only these (and
operators) are evaluated in batches."""
_FUNC_NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*)\(")
OMITTED = "_XOMITTED"
"""Stands for an omitted argument of an ltvxl function (``formulas`` would pass 0)."""
_CALL = re.compile(r"([A-Z][A-Z0-9_.]*)\(([^()]*)\)")
_PLACEHOLDER = re.compile(r"_XREF_\d+")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_A1_LIKE = re.compile(r"\$?[A-Za-z]{1,3}\$?\d+(:\$?[A-Za-z]{1,3}\$?\d+)?|\$?[A-Za-z]{1,3}:\$?"
                      r"[A-Za-z]{1,3}|\$?\d+:\$?\d+")


def _function_name(token: str) -> str:
    name = token[:-1]
    if "!" in name:  # an add-in function: [1]!LTV or 'C:\...\addin.xlam'!LTV
        name = name.rsplit("!", 1)[1]
    changed = True
    while changed:
        changed = False
        for p in _PREFIXES:
            if name.lower().startswith(p.lower()):
                name, changed = name[len(p):], True
    return name.upper()


def _unquote_sheet(s: str) -> str:
    if s.startswith("'") and s.endswith("'"):
        return s[1:-1].replace("''", "'")
    return s


def _structured_items(inner: str) -> list[str]:
    """The items of a structured reference's brackets: ``[#This Row],[a]:[b]`` -> 3 items."""
    if not inner.startswith("["):
        return [inner.strip()] if inner.strip() else []
    parts, depth, cur = [], 0, []
    for ch in inner:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    out = []
    for part in parts:
        for item in re.split(r"\]\s*:\s*\[", part.strip()):
            item = re.sub(r"'(.)", r"\1", item.strip().strip("[]")).strip()
            if item:
                out.append(item)
    return out


class Preparer:
    """Turns formula text into a cacheable expression over placeholder inputs."""

    def __init__(self, pkg: Package, known: set[str], ltvxl: set[str]) -> None:
        self.pkg = pkg
        self.known = known
        self.ltvxl = ltvxl
        self.sheet_index = {s.name: s.index for s in pkg.sheets}

    def prepare(self, sheet: str, row: int, text: str, col: int = 0) -> tuple[str, list[Ref]]:
        self._where = (sheet, row, col)
        refs: list[Ref] = []
        key = self._rewrite(sheet, row, text, refs, depth=0)
        return key, refs

    def _rewrite(self, sheet: str, row: int, text: str, refs: list[Ref], depth: int) -> str:
        from openpyxl.formula.tokenizer import Tokenizer, TokenizerError

        if depth > 10:
            raise RefreshError("defined names refer to each other in a loop")
        if "#" in text:
            segs = text.split('"')
            for i in range(0, len(segs), 2):
                segs[i] = _SPILL_OP.sub(lambda m: f"_xlfn.ANCHORARRAY({m.group(0)[:-1]})",
                                        segs[i])
            text = '"'.join(segs)
        try:
            items = Tokenizer("=" + text).items
        except TokenizerError as exc:
            raise RefreshError(f"cannot read the formula ({exc})") from None
        out: list[str] = []
        calls: list[bool] = []  # open function calls: is it an ltvxl function?
        i = 0
        while i < len(items):
            tok = items[i]
            ttype, sub, val = tok.type, tok.subtype, tok.value
            if ttype == "FUNC" and sub == "OPEN":
                name = _function_name(val)
                if name == "ANCHORARRAY":
                    if i + 2 >= len(items) or items[i + 1].subtype != "RANGE":
                        raise RefreshError("a spill reference (#) must follow a cell")
                    ref = self._ref(sheet, row, items[i + 1].value)
                    refs.append(Ref(ref.sheet, ref.r1, ref.c1, ref.r1, ref.c1, spill=True))
                    out.append(f"_XREF_{len(refs) - 1}")
                    i += 3
                    continue
                if name in _NOT_SUPPORTED or name not in self.known:
                    why = ("is volatile or needs Excel's cell model, which the headless "
                           "refresh does not provide" if name in _NOT_SUPPORTED
                           else "is not known to the headless refresh")
                    raise RefreshError(f"function {name} {why}", )
                out.append(name + "(")
                calls.append(name in self.ltvxl)
            elif ttype == "FUNC" and sub == "CLOSE":
                if calls and calls.pop() and out and out[-1].endswith(","):
                    out.append(OMITTED)  # an omitted last argument of an ltvxl function
                out.append(val)
            elif ttype == "SEP" and sub == "ARG" and calls and calls[-1] and out and \
                    (out[-1].endswith(",") or out[-1].endswith("(")):
                out.append(OMITTED + ",")  # an omitted argument: None, as xlwings passes it
            elif ttype == "OPERAND" and sub == "RANGE":
                resolved = self._operand(sheet, row, val, refs, depth)
                out.append(resolved)
            elif ttype == "WHITE-SPACE":
                pass
            else:
                out.append(val)
            i += 1
        return "".join(out)

    def _operand(self, sheet: str, row: int, val: str, refs: list[Ref], depth: int) -> str:
        name = self._name(sheet, val)
        if name is not None:
            try:
                ref = self._ref(sheet, row, name)
            except (RefreshError, WorkbookError):
                return "(" + self._rewrite(sheet, row, name, refs, depth + 1) + ")"
        else:
            ref = self._ref(sheet, row, val)
        refs.append(ref)
        return f"_XREF_{len(refs) - 1}"

    def _name(self, sheet: str, val: str) -> str | None:
        if "[" in val:
            return None
        if "!" in val:
            sname, nm = val.rsplit("!", 1)
            if _A1_LIKE.fullmatch(nm):
                return None
            idx = self.sheet_index.get(_unquote_sheet(sname))
            return self.pkg.names.get((idx, nm.upper()))
        if _A1_LIKE.fullmatch(val):
            return None
        local = self.pkg.names.get((self.sheet_index.get(sheet), val.upper()))
        if local is not None:
            return local
        return self.pkg.names.get((None, val.upper()), None)

    def _ref(self, sheet: str, row: int, val: str) -> Ref:
        if "[" in val:
            if re.match(r"\[\d+\]", val):
                raise RefreshError(f"external reference {val} (links to other workbooks "
                                   "are not refreshed)")
            return self._structured(row, val)
        target = sheet
        if "!" in val:
            sname, val = val.rsplit("!", 1)
            target = _unquote_sheet(sname)
            try:
                target = self.pkg.sheet(target).name
            except WorkbookError:
                raise RefreshError(f"reference to a missing sheet {target!r}") from None
        try:
            r1, c1, r2, c2 = parse_range(val)
        except WorkbookError:
            raise RefreshError(f"unknown name or reference {val!r}") from None
        return Ref(target, r1, c1, r2, c2)

    def _structured(self, row: int, val: str) -> Ref:
        tname, rest = val.split("[", 1)
        if tname:
            table = self.pkg.tables.get(tname.upper())
        else:  # an unqualified reference inside a table: [@amount], [[#This Row],amount]
            sheet, col = self._where[0], self._where[2]
            table = next((t for t in self.pkg.tables.values() if t.sheet == sheet
                          and t.ref[0] <= row <= t.ref[2] and t.ref[1] <= col <= t.ref[3]),
                         None)
        if table is None:
            raise RefreshError(f"unknown table {tname!r} in {val}")
        inner = rest[:-1]  # drop the closing ]
        items = _structured_items(inner)
        specials = [s.lower() for s in items if s.startswith("#")]
        if inner.startswith("@"):
            specials, items = ["#this row"], [inner[1:].strip("[]")]
        cols = [s for s in items if not s.startswith("#") and s]
        r1, c1, r2, _ = table.ref
        head = r1 + table.header_rows
        foot = r2 - table.totals_rows
        if not specials or specials == ["#data"]:
            top, bottom = head, foot
        elif specials == ["#all"]:
            top, bottom = r1, r2
        elif specials == ["#headers"]:
            top = bottom = r1
        elif specials == ["#totals"]:
            top = bottom = r2
        elif specials == ["#this row"]:
            top = bottom = row
        elif sorted(specials) == ["#data", "#headers"]:
            top, bottom = r1, foot
        elif sorted(specials) == ["#data", "#totals"]:
            top, bottom = head, r2
        else:
            raise RefreshError(f"structured reference {val} is not supported")
        lower = [c.lower() for c in table.columns]
        idx = []
        for col in cols:
            if col.lower() not in lower:
                raise RefreshError(f"table {table.name} has no column {col!r}")
            idx.append(lower.index(col.lower()))
        first, last = (min(idx), max(idx)) if idx else (0, len(table.columns) - 1)
        return Ref(table.sheet, top, c1 + first, bottom, c1 + last)


# ------------------------------------------------------------ the engine

Rect = tuple[int, int, int, int]


def _overlap(a: Rect, b: Rect) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def _inside(r: int, c: int, rect: Rect) -> bool:
    return rect[0] <= r <= rect[2] and rect[1] <= c <= rect[3]


@dataclass
class _Node:
    sheet: str
    cell: FormulaCell
    key: str = ""
    refs: list[Ref] = field(default_factory=list)
    spill: tuple[int, int] = (1, 1)


class Engine:
    """Evaluates the formula cells of one package."""

    def __init__(self, pkg: Package, progress: Callable[[str], None] | None = None) -> None:
        _init_formulas()
        self.pkg = pkg
        self.progress = progress
        self.grids = Grids(pkg)
        self.grids.covered = self._covered
        self.last_row: dict[str, int] = {}
        """The last row of each sheet with formulas, as read (before results are written)."""
        self.styles = Styles(pkg)
        self.sheets: dict[str, SheetXml] = {}
        self.nodes: dict[tuple[str, int, int], _Node] = {}
        self.index: dict[str, dict[int, list[int]]] = {}
        self.compiled: dict[str, tuple[Any, list[str]]] = {}
        self.warnings: list[str] = []
        self.spilled = 0
        self.residue: dict[str, list[Rect]] = {}
        """Old spill ranges (without their anchors' formulas) by sheet."""
        self.claimed: dict[str, list[Rect]] = {}
        """Spill ranges computed in this refresh, by sheet."""
        self.old_spills: list[tuple[str, tuple[int, int, int, int], tuple[int, int]]] = []
        self.inputs: dict[Ref, Any] = {}
        self.direct: dict[str, tuple[Any, list[Any]] | None] = {}
        self.groups: list[list[tuple[str, int, int]]] = []
        self.group_of: dict[tuple[str, int, int], int] = {}
        self.group_deps: dict[int, list[tuple[tuple[str, int, int], bool]]] = {}
        from ltvxl.udfs import FUNCTIONS

        self.ltvxl = set(FUNCTIONS)
        self.anchors: dict[str, list[tuple[str, int, int]]] = {}
        """Dynamic-array formula cells by sheet."""
        _ARG_CACHE.clear()

    def load(self) -> None:
        known = set(_formulas().get_functions())
        prep = Preparer(self.pkg, known, self.ltvxl)
        marker = re.compile(rb"<(?:\w+:)?f[ >/]")
        for sheet in self.pkg.sheets:
            data = self.pkg.parts[sheet.part]
            if not marker.search(data):
                continue
            sx = SheetXml(sheet.name, data)
            sx.styles = self.styles
            self.sheets[sheet.name] = sx
            self.last_row[sheet.name] = max(sx.rows, default=0)
            residue = self.residue.setdefault(sheet.name, [])
            for fc in sx.formulas():
                node = _Node(sheet.name, fc)
                try:
                    node.key, node.refs = prep.prepare(sheet.name, fc.row, fc.text, fc.col)
                except (RefreshError, WorkbookError) as exc:
                    raise RefreshError(f"{sheet.name}!{cell_name(fc.row, fc.col)}: "
                                       f"={fc.text}: {exc}") from None
                self.nodes[(sheet.name, fc.row, fc.col)] = node
                if fc.kind == "dynamic":
                    self.anchors.setdefault(sheet.name, []).append((sheet.name, fc.row, fc.col))
                if fc.kind == "dynamic" and fc.ref is not None:
                    r1, c1, r2, c2 = fc.ref
                    self.old_spills.append((sheet.name, fc.ref, (fc.row, fc.col)))
                    residue.append(fc.ref)
            cols: dict[int, list[int]] = {}
            for (s, r, c) in self.nodes:
                if s == sheet.name:
                    cols.setdefault(c, []).append(r)
            for rows in cols.values():
                rows.sort()
            self.index[sheet.name] = cols
        self._find_groups()
        for sheet, (r1, c1, r2, c2), anchor in self.old_spills:
            self.grids.blank(sheet, r1, c1, r2, c2)
            node = self.nodes[(sheet, *anchor)]
            node.spill = (r2 - r1 + 1, c2 - c1 + 1)

    def _covered(self, sheet: str, r1: int, c1: int, r2: int, c2: int) -> bool:
        """Whether every cell of the range (up to the sheet's last row) is a formula cell or
        lies in a spill range (old or computed in this refresh): nothing to read from the file.

        A whole-column reference below a spill (``Predictions!$E$4:$E$1048576``) or a
        range of formula results then needs no read of the sheet's old values.
        """
        last = self.last_row.get(sheet)
        if last is None:
            return False
        end = min(r2, last)
        spans = sorted((a, b) for a, x1, b, x2 in
                       self.residue.get(sheet, []) + self.claimed.get(sheet, [])
                       if x1 <= c1 and c2 <= x2)
        row = r1
        for a, b in spans:
            if a > row:
                break
            row = max(row, b + 1)
        if row > end:
            return True
        if (end - row + 1) * (c2 - c1 + 1) > 4096:
            return False
        nodes = self.nodes
        return all((sheet, r, c) in nodes or any(a <= r <= b for a, b in spans)
                   for r in range(row, end + 1) for c in range(c1, c2 + 1))

    def _deps(self, node: _Node) -> list[tuple[tuple[str, int, int], bool]]:
        """What must be evaluated before ``node`` (for a batch: before all its members)."""
        own = (node.sheet, node.cell.row, node.cell.col)
        gid = self.group_of.get(own)
        if gid is None:
            return self._node_deps(node)
        if gid not in self.group_deps:
            members = set(self.groups[gid])
            union: dict[tuple[str, int, int], bool] = {}
            for m in self.groups[gid]:
                for dep, soft in self._node_deps(self.nodes[m]):
                    if dep not in members:
                        union[dep] = union.get(dep, True) and soft
            self.group_deps[gid] = list(union.items())
        return self.group_deps[gid]

    def _node_deps(self, node: _Node) -> list[tuple[tuple[str, int, int], bool]]:
        """(formula cell, soft) pairs that must be evaluated before ``node``.

        Soft: a dynamic-array anchor above and left of a range, whose new spill
        range might reach into it; a soft dependency that would close a cycle
        is skipped (the spill cannot reach there without a real cycle).
        """
        out = []
        for ref in node.refs:
            if ref.spill:
                key = (ref.sheet, ref.r1, ref.c1)
                if key not in self.nodes:
                    raise RefreshError(f"{node.sheet}!{cell_name(node.cell.row, node.cell.col)}"
                                       f": {cell_name(ref.r1, ref.c1)}# refers to a cell "
                                       "without a formula")
                out.append(key)
                continue
            cols = self.index.get(ref.sheet, {})
            for c in range(ref.c1, min(ref.c2, max(cols, default=0)) + 1):
                rows = cols.get(c)
                if rows:
                    lo, hi = bisect_left(rows, ref.r1), bisect_right(rows, ref.r2)
                    out.extend((ref.sheet, r, c) for r in rows[lo:hi])
            for sheet, (r1, c1, r2, c2), anchor in self.old_spills:
                if sheet == ref.sheet and r1 <= ref.r2 and ref.r1 <= r2 and c1 <= ref.c2 \
                        and ref.c1 <= c2:
                    out.append((sheet, *anchor))
        own = (node.sheet, node.cell.row, node.cell.col)
        hard = [(d, False) for d in dict.fromkeys(out) if d != own]
        seen = set(out)
        for ref in node.refs:
            if ref.spill:
                continue
            for key in self.anchors.get(ref.sheet, ()):
                if key[1] <= ref.r2 and key[2] <= ref.c2 and key not in seen and key != own:
                    seen.add(key)
                    hard.append((key, True))
        return hard

    def run(self) -> None:
        state: dict[tuple[str, int, int], int] = {}
        total = len(self.nodes)
        done = 0
        last = time.monotonic()
        for start in self.nodes:
            if state.get(start) == 2:
                continue
            stack = [(start, iter(self._deps(self.nodes[start])))]
            state[start] = 1
            while stack:
                key, deps = stack[-1]
                for dep, soft in deps:
                    st = state.get(dep)
                    if st == 1 and soft:
                        continue
                    if st == 1:
                        n = self.nodes[dep]
                        raise RefreshError(
                            f"{n.sheet}!{cell_name(n.cell.row, n.cell.col)}: circular "
                            "reference (the headless refresh does not iterate)")
                    if st is None:
                        state[dep] = 1
                        stack.append((dep, iter(self._deps(self.nodes[dep]))))
                        break
                else:
                    stack.pop()
                    gid = self.group_of.get(key)
                    if gid is None:
                        self._evaluate(self.nodes[key])
                        state[key] = 2
                        done += 1
                    else:
                        self._evaluate_group(gid)
                        for member in self.groups[gid]:
                            state[member] = 2
                        done += len(self.groups[gid])
                    if self.progress and time.monotonic() - last > 2:
                        last = time.monotonic()
                        self.progress(f"refresh: {done:,} of {total:,} formulas evaluated")

    def _compiled(self, key: str) -> tuple[Any, list[str]]:
        hit = self.compiled.get(key)
        if hit is None:
            func = _formulas().Parser().ast("=" + key)[1].compile()
            hit = self.compiled[key] = (func, list(func.inputs))
        return hit

    def _input(self, ref: Ref) -> Any:
        static = not ref.spill and ref.sheet not in self.sheets
        if static and ref in self.inputs:
            return self.inputs[ref]
        ranges = self._read_input(ref)
        if static:  # a sheet without formulas: its values never change during the refresh
            self.inputs[ref] = ranges
        return ranges

    def _read_input(self, ref: Ref) -> Any:
        if ref.spill:
            h, w = self.nodes[(ref.sheet, ref.r1, ref.c1)].spill
            r1, c1, r2, c2 = ref.r1, ref.c1, ref.r1 + h - 1, ref.c1 + w - 1
        else:
            r1, c1, r2, c2 = ref.r1, ref.c1, ref.r2, ref.c2
        values = self.grids.read(ref.sheet, r1, c1, r2, c2)
        r2, c2 = r1 + values.shape[0] - 1, c1 + values.shape[1] - 1
        return _formulas().Ranges().push(range_name(r1, c1, r2, c2), values)

    def _find_groups(self) -> None:
        """Batches: the same elementwise native formula filled over many single cells.

        A batch is evaluated once with columns of values instead of once per cell
        (``formulas`` costs a fraction of a millisecond per call). Only formulas
        whose functions all work cell by cell, whose references are single cells
        and whose members do not read each other are batched.
        """
        by_key: dict[tuple[str, str], list[tuple[str, int, int]]] = {}
        for k, node in self.nodes.items():
            if node.cell.kind != "normal" or not node.refs or OMITTED in node.key:
                continue
            if any(r.spill or r.r1 != r.r2 or r.c1 != r.c2 for r in node.refs):
                continue
            by_key.setdefault((node.sheet, node.key), []).append(k)
        for (_, key), members in by_key.items():
            if len(members) < BATCH_MIN or "{" in key:
                continue
            if not set(_FUNC_NAME.findall(key)) <= ELEMENTWISE:
                continue
            cells = set(members)
            if any((r.sheet, r.r1, r.c1) in cells for m in members for r in self.nodes[m].refs):
                continue
            for m in members:
                self.group_of[m] = len(self.groups)
            self.groups.append(members)

    def _evaluate_group(self, gid: int) -> None:
        members = [self.nodes[m] for m in self.groups[gid]]
        n = len(members)
        try:
            func, inputs = self._compiled(members[0].key)
            columns = []
            for name in inputs:
                i = int(name.rsplit("_", 1)[1])
                col = np.empty((n, 1), dtype=object)
                col[:, 0] = [self.grids.cell(m.refs[i].sheet, m.refs[i].r1, m.refs[i].c1)
                             for m in members]
                columns.append(col)
            grid = _as_grid(func(*columns))
        except Exception:
            grid = None
        if grid is not None and grid.shape == (1, 1):
            grid = np.broadcast_to(grid, (n, 1))
        if grid is None or grid.shape != (n, 1):  # not elementwise after all: one by one
            for node in members:
                self._evaluate(node)
            return
        for j, node in enumerate(members):
            self._store(node, grid[j: j + 1])

    def _direct(self, key: str) -> tuple[Any, list[Any]] | None:
        """An ltvxl function applied to references and constants only: called directly."""
        if key in self.direct:
            return self.direct[key]
        found = None
        m = _CALL.fullmatch(key)
        if m and m.group(1) in self.ltvxl and '"' not in m.group(2):
            args: list[Any] = []
            for part in m.group(2).split(",") if m.group(2) else []:
                part = part.strip()
                if _PLACEHOLDER.fullmatch(part):
                    args.append(int(part.rsplit("_", 1)[1]))
                elif part in ("", OMITTED):
                    args.append(("const", None))
                elif _NUMBER.fullmatch(part):
                    args.append(("const", float(part)))
                elif part.upper() in ("TRUE", "FALSE"):
                    args.append(("const", part.upper() == "TRUE"))
                else:
                    break
            else:
                found = (_formulas().get_functions()[m.group(1)], args)
        self.direct[key] = found
        return found

    def _direct_arg(self, ref: Ref) -> Any:
        if not ref.spill and ref.r1 == ref.r2 and ref.c1 == ref.c2:  # one cell: no Ranges
            out = np.empty((1, 1), dtype=object)
            out[0, 0] = self.grids.cell(ref.sheet, ref.r1, ref.c1)
            return out
        return self._input(ref)

    def _evaluate(self, node: _Node) -> None:
        fc = node.cell
        where = f"{node.sheet}!{cell_name(fc.row, fc.col)}"
        direct = self._direct(node.key)
        if direct is not None:
            call, spec = direct
            out = call(*[a[1] if isinstance(a, tuple) else self._direct_arg(node.refs[a])
                         for a in spec])
            self._store(node, _as_grid(out))
            return
        try:
            func, inputs = self._compiled(node.key)
        except Exception as exc:
            raise RefreshError(f"{where}: cannot read the formula ={fc.text} ({exc})") from None
        args = [_EMPTY if name == OMITTED else self._input(node.refs[int(name.rsplit("_", 1)[1])])
                for name in inputs]
        try:
            out = func(*args)
        except Exception as exc:
            detail = " ".join(str(a) for a in getattr(exc, "args", ()) if isinstance(a, str))
            fname = re.search(r"'([A-Z][A-Z0-9_.]*)'", detail)
            what = f"function {fname.group(1)}" if fname else "the formula"
            raise RefreshError(f"{where}: {what} failed in ={fc.text} "
                               f"({type(exc).__name__}: {str(exc)[:200]})") from None
        grid = _as_grid(out)
        self._store(node, grid)

    def _store(self, node: _Node, grid: np.ndarray) -> None:
        fc, sx = node.cell, self.sheets[node.sheet]
        r, c = fc.row, fc.col
        if fc.kind == "dynamic":
            h, w = grid.shape
            blocked = r + h - 1 > MAX_ROWS or c + w - 1 > MAX_COLS
            residue = self.residue[node.sheet]
            claimed = self.claimed.setdefault(node.sheet, [])
            if not blocked:
                blocked = self._collides(sx, r, c, h, w, residue, claimed)
            if blocked:
                self.warnings.append(f"{node.sheet}!{cell_name(r, c)}: #SPILL! the result "
                                     f"({h}x{w}) would overwrite cells that are not empty")
                grid = np.empty((1, 1), dtype=object)
                grid[0, 0] = _xlerror("#SPILL!")
                h = w = 1
            node.spill = (h, w)
            claimed.append((r, c, r + h - 1, c + w - 1))
            self.grids.put(node.sheet, r, c, grid)
            ref = range_name(r, c, r + h - 1, c + w - 1)
            sx.set_value(r, c, _write_value(grid[0, 0], True), formula_update=ref)
            rows = grid.tolist()
            if w > 1:
                sx.set_block(r, c + 1, [row[1:] for row in rows[:1]])
            if h > 1:
                sx.set_block(r + 1, c, rows[1:])
            self.spilled += h * w - 1
        elif fc.kind == "array" and fc.ref is not None:
            r1, c1, r2, c2 = fc.ref
            h, w = r2 - r1 + 1, c2 - c1 + 1
            full = np.empty((h, w), dtype=object)
            for i in range(h):
                for j in range(w):
                    gi = i if grid.shape[0] > 1 else 0
                    gj = j if grid.shape[1] > 1 else 0
                    full[i, j] = grid[gi, gj] if gi < grid.shape[0] and gj < grid.shape[1] \
                        else _xlerror("#N/A")
            self.grids.put(node.sheet, r1, c1, full)
            for i in range(h):
                for j in range(w):
                    sx.set_value(r1 + i, c1 + j, _write_value(full[i, j], (i, j) == (0, 0)))
        else:
            one = grid[:1, :1]
            self.grids.put(node.sheet, r, c, one)
            sx.set_value(r, c, _write_value(one[0, 0], True))

    @staticmethod
    def _collides(sx: SheetXml, r: int, c: int, h: int, w: int,
                  residue: list[Rect], claimed: list[Rect]) -> bool:
        """Whether a spill of h x w from (r, c) would cover a cell that is not free.

        Free: empty cells and cells of old spill ranges; not free: cells holding
        a value or formula, and cells of spill ranges computed in this refresh.
        """
        rect = (r, c, r + h - 1, c + w - 1)
        if any(_overlap(rect, other) for other in claimed):
            return True
        old = [o for o in residue if _overlap(rect, o)]
        whole = [o for o in old if o[1] <= c and rect[3] <= o[3]]  # cover the spill's width
        for rr in range(r, r + h):
            if rr not in sx.rows or any(o[0] <= rr <= o[2] for o in whole):
                continue
            for cc in sx.cells(rr):
                if c <= cc <= rect[3] and (rr, cc) != (r, c) and sx.occupied(rr, cc) \
                        and not any(_inside(rr, cc, o) for o in old):
                    return True
        return False

    def finish(self) -> dict[str, bytes]:
        """Clear cells that left their spill range; the new sheet parts."""
        for sheet, residue in self.residue.items():
            claimed = self.claimed.get(sheet, [])
            sx = self.sheets[sheet]
            for old in residue:
                near = [n for n in claimed if _overlap(old, n)]
                for r in range(old[0], old[2] + 1):
                    spans = [(n[1], n[3]) for n in near if n[0] <= r <= n[2]]
                    if any(lo <= old[1] and old[3] <= hi for lo, hi in spans):
                        continue  # the whole row of the old range is still spilled
                    for c in range(old[1], old[3] + 1):
                        if not any(lo <= c <= hi for lo, hi in spans):
                            sx.set_value(r, c, None, clear=True)
        parts = {}
        for sheet in self.pkg.sheets:
            if sheet.name in self.sheets:
                parts[sheet.part] = self.sheets[sheet.name].to_bytes()
        if self.styles.changed and self.styles.part:  # date formats for date results
            parts[self.styles.part] = self.styles.to_bytes()
        settled = settled_workbook(self.pkg)
        if settled:
            parts[settled[0]] = settled[1]
        return parts


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
