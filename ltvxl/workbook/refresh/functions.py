"""The functions the engine evaluates with: ``formulas``' own, and ltvxl's
declared functions (:data:`ltvxl.udfs.FUNCTIONS`) registered beside them,
called with arguments shaped as xlwings passes them."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import formulas
import numpy as np

from ltvxl.errors import error_value_code

from .values import EMPTY, fast_grid_values, grid_value, grid_values, to_udf_arg, xlerror

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
    from .dynamic import OVERRIDES as DYNAMIC
    from .excel import OVERRIDES

    for name, (func, _) in (OVERRIDES | DYNAMIC).items():
        registry[name] = func
    from . import natives

    natives.install(registry)
    _override_complex_text()
    _registered = True


def excel_general(x: float) -> str:
    """A number as Excel writes it in the text of a complex number (IMSUM, IMSIN...): 15
    significant digits, fixed notation from 1E-05 up to 1E+15, else ``1.5E-06``."""
    if x == 0 or not math.isfinite(x):
        return "0" if x == 0 else repr(x)
    mantissa, exp = f"{x:.14e}".split("e")
    e = int(exp)
    if -5 <= e < 15:
        text = f"{x:.{max(14 - e, 0)}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    digits = mantissa.rstrip("0").rstrip(".")
    return f"{digits}E{'-' if e < 0 else '+'}{abs(e):02d}"


def _complex_text(r: float, i: float, suffix: str = "j") -> str:
    """Excel's text of the complex number r + i*suffix (``3+4i``, ``-j``, ``0``)."""
    if not (math.isfinite(r) and math.isfinite(i)):
        from formulas.functions import Error, FoundError

        raise FoundError(err=Error.errors["#NUM!"])
    re_text = excel_general(r) if r != 0 else ""
    if i == 0 or excel_general(i) == "0":
        return re_text or "0"
    coef = excel_general(abs(i))
    coef = "" if coef == "1" else coef
    sign = "-" if i < 0 else ("+" if re_text else "")
    return f"{re_text}{sign}{coef}{suffix}"


def _override_complex_text() -> None:
    """Complex results as Excel writes them: ``formulas`` writes Python's repr of each part
    (17 digits, ``6.9E-05``) where Excel writes 15 significant digits (``0.000069``); its
    one formatter (a private function of ``formulas.functions.eng``, used by every IM
    function) is replaced, since overriding each of the 30 IM functions would restate them."""
    from formulas.functions import eng

    if hasattr(eng, "_fmt_complex"):
        eng._fmt_complex = _complex_text
    if hasattr(eng, "_xim2im"):  # log2 as ln / ln 2: numpy's log2 is one bit off Excel's;
        # the cosecant as Excel's digits show it computed
        import functools

        log2 = formulas.functions.wrap_func(functools.partial(
            eng._xim2im, _log2))
        csc = formulas.functions.wrap_func(functools.partial(eng._xim2im, _csc))
        registry = formulas.get_functions()
        registry["IMLOG2"] = registry["_XLFN.IMLOG2"] = log2
        registry["IMCSC"] = registry["_XLFN.IMCSC"] = csc


def _log2(z: complex) -> complex:
    """log2 of a complex number as ln|z| / ln 2 + i arg(z) / ln 2 (-inf at 0: #NUM!)."""
    if z == 0:
        return complex(-math.inf, 0.0)
    return complex(math.log(abs(z)) / math.log(2), math.atan2(z.imag, z.real) / math.log(2))


def _csc(z: complex) -> complex:
    """The cosecant of a complex number as 2i e^(iz) / (e^(2iz) - 1), which gives Excel's
    15th digits where 1 / sin(z) is one off (IMCSC("3.1+2j"): ...597, not ...596); infinite
    at 0 (#NUM!)."""
    import cmath

    if z == 0:
        return complex(math.inf, 0.0)
    try:
        return 2j * cmath.exp(1j * z) / (cmath.exp(2j * z) - 1)
    except (OverflowError, ZeroDivisionError):
        return 1 / cmath.sin(z)


def _error_values(arr: np.ndarray) -> np.ndarray:
    """``arr`` with each error text ("#VALUE! ...") replaced by its Excel error value, the
    texts recorded by position in :attr:`CONTEXT.pending` (for the messages); unchanged when
    the workbook keeps error texts (``LTVXL_ERROR_TEXT``)."""
    from .excel import CONTEXT

    if CONTEXT.error_texts:
        return arr
    flat = arr.reshape(-1)
    values = flat.tolist()
    hits = [i for i, v in enumerate(values) if type(v) is str and v[:1] == "#"]
    found: dict[tuple[int, int], str] = {}
    width = arr.shape[1] if arr.ndim == 2 else 1
    for i in hits:
        code = error_value_code(values[i])
        if code is not None:
            found[divmod(i, width)] = values[i]
            flat[i] = xlerror(code)
    if found:
        CONTEXT.pending.append(found)
    return arr


def _adapter(func: Callable[..., Any]) -> Callable[..., Any]:
    from ltvxl.worksheet import spec_of

    spec = spec_of(func)

    def call(*args: Any) -> Any:
        if len(args) > len(spec.args):
            out: Any = f"#VALUE! {spec.name} takes at most {len(spec.args)} arguments, " \
                f"got {len(args)}"
        else:
            values = [to_udf_arg(a, arg.is_range)
                      for a, arg in zip(args, spec.args, strict=False)]
            values += [None] * (len(spec.args) - len(values))
            out = func(*values)
        cells = _error_values(_as_cells(out))
        return cells if isinstance(out, (list, tuple)) else cells[0, 0]

    call.__name__ = spec.name
    return call


def _as_cells(out: Any) -> np.ndarray:
    """An ltvxl function's result as a 2-D object array of the engine's values (a single
    result as 1 x 1)."""
    if not isinstance(out, (list, tuple)):
        one = np.empty((1, 1), dtype=object)
        one[0, 0] = grid_value(out)
        return one
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


def status() -> dict[str, list[str]]:
    """Each Excel function's status in the refresh: ``overridden`` (computed by ltvxl, see
    :mod:`.excel`), ``refused`` (named in the message, the cell kept with ``--keep-going``)
    and ``supported`` (computed by ``formulas``); ltvxl's own functions are not listed."""
    from ltvxl.udfs import FUNCTIONS

    from .dynamic import OVERRIDES as DYNAMIC
    from .excel import OVERRIDES
    from .natives import OVERRIDES as NATIVES
    from .prepare import NOT_SUPPORTED

    init()
    known = {n for n in formulas.get_functions() if n.replace(".", "").replace("_", "").isalnum()
             and n == n.upper() and n not in FUNCTIONS and not n.startswith("_LTVXL")}
    overridden = sorted(set(OVERRIDES) | set(NATIVES) | set(DYNAMIC) | {"ROW", "COLUMN"} |
                        {n for n in known if n.startswith("IM") or n == "COMPLEX"})
    refused = sorted(NOT_SUPPORTED)
    supported = sorted(n for n in known - set(overridden) - set(refused)
                       if n.removeprefix("_XLFN.") not in set(overridden) | set(refused))
    return {"overridden": overridden, "refused": refused, "supported": supported}


def status_markdown() -> str:
    """The function list of docs/refresh.md, generated from :func:`status`."""
    s = status()
    notes = {
        "ROW": "without arguments: the formula's row", "COLUMN": "without arguments: its column",
        "COMPLEX": "complex text with Excel's 15 significant digits",
    }
    from .dynamic import OVERRIDES as DYNAMIC
    from .excel import OVERRIDES
    from .natives import OVERRIDES as NATIVES

    notes.update({n: v[1] for n, v in (NATIVES | DYNAMIC).items()})
    lines = ["| function | status | note |", "| --- | --- | --- |"]
    for name in s["overridden"]:
        note = OVERRIDES[name][1] if name in OVERRIDES else notes.get(
            name, "complex text with Excel's 15 significant digits")
        lines.append(f"| {name} | overridden | {note} |")
    from .prepare import NOT_SUPPORTED

    for name in s["refused"]:
        lines.append(f"| {name} | refused | {NOT_SUPPORTED[name].removeprefix('is ')} |")
    lines.append("")
    lines.append(f"Supported as `formulas` computes them ({len(s['supported'])}): "
                 + ", ".join(s["supported"]) + ".")
    return "\n".join(lines)
