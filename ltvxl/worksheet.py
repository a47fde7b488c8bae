"""Declarations of worksheet functions, independent of Excel.

Every ltvxl worksheet function is declared once (in :mod:`ltvxl.udfs`) with a
:class:`Spec`: its Excel name, description, the help and reading rule of each
argument, and the shape it returns. The same declared Python function is
what Excel calls through xlwings and what the headless refresh calls, so the
two cannot disagree. This module imports nothing from xlwings; binding the
declarations to xlwings is done in :mod:`ltvxl.udfs.binding`.

Calling convention (as xlwings calls a function): positional cell values,
``None`` for a blank cell or an omitted optional argument, ranges as lists
of lists. A worksheet function never raises: problems come back as error
text (see :mod:`ltvxl.errors`).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .a1 import is_cell_name
from .cells import as_grid, describe, number_or_problem, read_numbers
from .domains import ANY, Domain
from .errors import NUM, VALUE, LtvxlError, cell_error

CATEGORY = "ltvxl"
REQUIRED: Any = inspect.Parameter.empty
Kind = Literal["number", "data", "text", "value"]
Returns = Literal["value", "array", "table"]


@dataclass(frozen=True)
class Arg:
    """One argument of a worksheet function.

    name: the argument name Excel shows (lower_snake_case).
    help: one line of help for Excel's Function Wizard (at most 255 characters).
    kind: how cells are read: ``number`` (a number or a range of numbers,
      checked against ``domain`` cell by cell), ``data`` (a column of values
      such as ids, dates or amounts, read as a whole), ``text`` (one option
      cell), ``value`` (one cell of any type).
    default: the value a blank or omitted optional argument takes;
      :data:`REQUIRED` for a required argument.
    domain: the accepted numbers (``number`` arguments, and ``value`` arguments
      that must be a number).
    choices: the accepted texts (``text`` arguments), matched without case.
    read: for a ``text`` argument that accepts more spellings than its choices
      (model names): maps a cell value to one of the choices, or raises.

    A function that is not element-wise (a table) receives its arguments already
    read by these rules (:func:`read_arg`): a ``number``, ``value`` or ``text`` argument is one
    cell (a range of several is an error), blank is the default, a number is
    checked against the domain, a text becomes its choice; ``data`` arguments
    arrive as the cells are.
    """

    name: str
    help: str
    kind: Kind = "number"
    default: Any = REQUIRED
    domain: Domain | None = None
    choices: tuple[str, ...] = ()
    read: Callable[[Any], str] | None = field(default=None, compare=False, repr=False)

    @property
    def optional(self) -> bool:
        return self.default is not REQUIRED

    @property
    def is_range(self) -> bool:
        """Whether xlwings should pass a list of lists (``ndim=2``)."""
        return self.kind in ("number", "data")


@dataclass(frozen=True)
class Spec:
    """The declaration of one worksheet function.

    name: the Excel name (UPPER_SNAKE_CASE). description: one sentence for
    Excel's Function Wizard (at most 255 characters). args: the arguments in
    order (required ones first). returns: ``value`` (one cell), ``array``
    (spills in the shape of its range arguments) or ``table`` (spills a header
    row and rows). examples: (formula, result) pairs shown in the
    documentation and checked by the tests. elementwise: set by
    :func:`elementwise` for functions applied cell by cell.
    """

    name: str
    description: str
    args: tuple[Arg, ...]
    returns: Returns = "value"
    category: str = CATEGORY
    examples: tuple[tuple[str, str], ...] = field(default=())
    """(formula, result) pairs shown in the documentation."""
    elementwise: bool = False


REGISTRY: dict[str, Callable[..., Any]] = {}
"""Every declared worksheet function by Excel name, in declaration order."""

MAX_TEXT = 255
"""Excel's limit on a function description and on each argument's help."""
MAX_WIZARD = 254
"""Function Wizard limit: number of arguments + characters of all argument names."""

_RESERVED = """
    Access AddressOf Alias And Any Append Array As Attribute Base Binary Boolean ByRef Byte
    ByVal Call Case CBool CByte CCur CDate CDbl CDec CDecl CInt Circle CLng CLngLng CLngPtr
    Close Compare Const CSng CStr Currency CVar CVErr Database Date Debug Decimal Declare
    DefBool DefByte DefCur DefDate DefDbl DefDec DefInt DefLng DefLngLng DefLngPtr DefObj
    DefSng DefStr DefVar Dim Do DoEvents Double Each Else ElseIf Empty End EndIf Enum Eqv
    Erase Error Event Exit Explicit False Fix For Friend Function Get Global GoSub GoTo If
    Imp Implements In Input InputB Int Integer Is LBound Len LenB Let Lib Like Line Load
    Lock Long LongLong LongPtr Loop LSet Me Mid MidB Mod Module Name New Next Not Nothing
    Null Object On Open Option Optional Or Output ParamArray Preserve Print Private
    Property PSet Public Put RaiseEvent Random Read ReDim Rem Resume Return RSet Scale Seek
    Select Set Sgn Shared Single Spc Static Step Stop String Sub Tab Text Then Time To True
    Type TypeOf UBound Unload Unlock Until Variant Wend While Width With WithEvents Write Xor
"""
VBA_RESERVED = frozenset(w.lower() for w in _RESERVED.split())
"""VBA keywords and built-in statements that cannot name a VBA function or argument."""

_WRAPPER = "Application Caller Range XLPy CallUDF ThisWorkbook ActiveWorkbook Err argsArray"
WRAPPER_NAMES = frozenset(w.lower() for w in [*_WRAPPER.split(), "failed", "k", "App"])
"""Identifiers used inside the VBA wrappers xlwings generates; an argument may not shadow them."""

_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_R1C1 = re.compile(r"(?:[Rr][0-9]*)?(?:[Cc][0-9]*)?\Z")


def looks_like_cell(name: str) -> bool:
    """Whether Excel reads ``name`` as a cell reference (``LTV1``, ``XFD1048576``, ``R1C1``)."""
    return is_cell_name(name) or (bool(name) and bool(_R1C1.match(name)))


def vba_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a VBA function or argument, or None when it can."""
    if not _IDENTIFIER.match(name):
        return f"{name!r} is not a VBA identifier (a letter, then letters, digits or _)"
    if len(name) > 255:
        return f"{name[:20]}... is longer than 255 characters"
    if name.lower() in VBA_RESERVED:
        return f"{name!r} is a VBA reserved word"
    if looks_like_cell(name):
        return f"{name!r} looks like a cell address"
    return None


def spec_problems(spec: Spec) -> list[str]:
    """Every way ``spec`` breaks Excel's, VBA's or ltvxl's rules (empty when it is fine)."""
    out: list[str] = []
    if (problem := vba_name_problem(spec.name)) is not None:
        out.append(problem)
    if spec.name != spec.name.upper():
        out.append(f"{spec.name}: the Excel name must be upper case")
    if not spec.description.strip() or len(spec.description) > MAX_TEXT:
        out.append(
            f"{spec.name}: description must have 1 to {MAX_TEXT} characters, "
            f"has {len(spec.description)}"
        )
    if not spec.category or len(spec.category) > MAX_TEXT:
        out.append(f"{spec.name}: category must have 1 to {MAX_TEXT} characters")
    if spec.returns not in ("value", "array", "table"):
        out.append(f"{spec.name}: returns must be value, array or table, not {spec.returns!r}")
    names = [a.name for a in spec.args]
    if len({n.lower() for n in names}) != len(names):
        out.append(f"{spec.name}: duplicate argument names (VBA ignores case)")
    wizard = len(names) + sum(len(n) for n in names)
    if wizard > MAX_WIZARD:
        out.append(
            f"{spec.name}: {len(names)} arguments + {wizard - len(names)} characters of "
            f"argument names = {wizard} > {MAX_WIZARD} (Function Wizard limit)"
        )
    seen_optional = False
    for a in spec.args:
        if (problem := vba_name_problem(a.name)) is not None:
            out.append(f"{spec.name}: argument {problem}")
        if a.name != a.name.lower():
            out.append(f"{spec.name}: argument {a.name} must be lower_snake_case")
        if a.name.lower() in WRAPPER_NAMES or a.name.lower() == spec.name.lower():
            out.append(f"{spec.name}: argument {a.name} clashes with a name in the VBA wrapper")
        if not a.help.strip() or len(a.help) > MAX_TEXT:
            out.append(
                f"{spec.name}: help of {a.name} must have 1 to {MAX_TEXT} characters, "
                f"has {len(a.help)}"
            )
        if a.kind not in ("number", "data", "text", "value"):
            out.append(f"{spec.name}: argument {a.name} has an unknown kind {a.kind!r}")
        if seen_optional and not a.optional:
            out.append(f"{spec.name}: required argument {a.name} after an optional one")
        seen_optional |= a.optional
        if a.kind == "number" and a.optional and a.default is not None:
            if isinstance(a.default, bool) or not isinstance(a.default, (int, float)):
                out.append(f"{spec.name}: default of {a.name} must be a number or None")
            elif a.domain is not None and a.domain.bad_mask(float(a.default)).any():
                out.append(f"{spec.name}: default of {a.name} is outside its domain")
        if a.kind == "text" and a.choices and a.default not in (None, REQUIRED, *a.choices):
            out.append(f"{spec.name}: default of {a.name} is not one of its choices")
    return out


def spec_of(func: Callable[..., Any]) -> Spec:
    """The :class:`Spec` of a declared worksheet function."""
    return func.__ltvxl__  # type: ignore[attr-defined]


def _signature(spec: Spec) -> inspect.Signature:
    params = [
        inspect.Parameter(
            a.name,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            default=None if a.optional else inspect.Parameter.empty,
        )
        for a in spec.args
    ]
    return inspect.Signature(params)


def _finite_out(result: Any, name: str) -> Any:
    """A scalar or numpy result made safe for a cell: no NaN or inf, no numpy types."""
    if isinstance(result, np.ndarray):
        grid = result.reshape(1, 1) if result.ndim == 0 else result
        if grid.ndim == 1:
            grid = grid.reshape(-1, 1)
        return to_cells(
            _clean(grid.astype(object) if grid.dtype.kind not in "fiub" else grid, name)
        )
    if isinstance(result, np.generic):
        result = result.item()
    if isinstance(result, float) and not math.isfinite(result):
        return cell_error(NUM, f"{name} has no finite value here")
    return result


def guard(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``func`` so that it returns error text instead of raising.

    A scalar or numpy result that is NaN or infinite becomes ``#NUM!`` text;
    numpy results become lists of lists as xlwings expects.
    """

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return _finite_out(func(*args, **kwargs), name)
        except LtvxlError as exc:
            return exc.cell_text()
        except RecursionError:
            return cell_error(VALUE, f"{name}: input is too deeply nested")
        except MemoryError:
            return cell_error(NUM, f"{name}: not enough memory for this input")
        except Exception as exc:  # never a traceback in a cell
            kind = type(exc).__name__
            return cell_error(VALUE, f"{name}: unexpected {kind}: {exc} (please report this)")

    return guarded


def single_cell(value: Any, name: str) -> Any:
    """The one cell of a single-cell argument (``x`` or ``[[x]]``; blank text is None).

    A range of several cells is an error naming the argument.
    """
    if isinstance(value, (list, tuple, np.ndarray)):
        grid = as_grid(value, name)
        if grid.size != 1:
            raise LtvxlError(f"{name} must be a single cell, got a range of {grid.size} cells")
        value = grid.reshape(-1)[0]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _choice(arg: Arg, cell: Any) -> Any:
    if arg.read is not None:
        return arg.read(cell)
    if not arg.choices:
        return cell
    if isinstance(cell, str):
        key = cell.strip().lower()
        for choice in arg.choices:
            if key == choice.lower():
                return choice
    got = describe(cell)
    raise LtvxlError(f"{arg.name} must be one of {', '.join(arg.choices)}; got {got}")


def _one_blank(value: Any) -> bool:
    """Whether ``value`` is one blank cell (None or "", alone or as a 1 x 1 range)."""
    while isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    return value is None or (isinstance(value, str) and value == "")


def read_arg(arg: Arg, value: Any) -> Any:
    """The value of one argument of a table function, read as its declaration says.

    ``data``: as given (the default when omitted, or for an optional argument when it
    is one blank cell, as a blank argument ``=F(A:A, , B:B)`` arrives headless). Every
    other kind is one cell; blank or omitted is the default (None for a required argument, left
    to the function); a ``number``, or a ``value`` with a domain, must be a
    number inside the domain (a float comes back); a ``text`` becomes one of
    its choices; any other ``value`` comes back as the cell is.
    """
    default = None if arg.default is REQUIRED else arg.default
    if arg.kind == "data":
        if value is None or (arg.optional and _one_blank(value)):
            return default
        return value
    cell = single_cell(value, arg.name)
    if cell is None:
        return default
    if arg.kind == "text":
        return _choice(arg, cell)
    if arg.kind == "value" and arg.domain is None:
        return cell
    x, problem = number_or_problem(cell, arg.name)
    if problem is not None:
        code, _, text = problem.partition(" ")
        raise LtvxlError(text or problem, code)
    domain = arg.domain or ANY
    if not domain.contains(x):
        code, text = domain.message(arg.name, x)
        raise LtvxlError(text, code)
    return x


def _reading(spec: Spec, impl: Callable[..., Any]) -> Callable[..., Any]:
    """``impl`` called with its arguments read by :func:`read_arg`."""

    def read(*values: Any) -> Any:
        return impl(*(read_arg(a, v) for a, v in zip(spec.args, values, strict=True)))

    return read


def declare(spec: Spec, impl: Callable[..., Any]) -> Callable[..., Any]:
    """Make the worksheet function for ``spec`` from ``impl`` and register it.

    ``impl`` takes the cell values positionally, one per argument of the spec
    (``None`` for an omitted optional argument). The result carries the Excel
    name, the description as its docstring, a signature whose optional
    arguments default to ``None`` (as Excel passes an omitted argument), and
    the spec as ``__ltvxl__``. It may be called positionally, as xlwings does,
    or with keywords; a wrong number of arguments is error text too. A spec
    that breaks Excel's limits (see :func:`spec_problems`) raises ValueError.
    Except for element-wise functions (:func:`elementwise` reads their cells),
    ``impl`` receives its arguments read by :func:`read_arg` (defaults,
    choices, domains, single cells), so it never restates them.
    """
    problems = spec_problems(spec)
    if problems:
        raise ValueError("; ".join(problems))
    if spec.name in REGISTRY:
        raise ValueError(f"worksheet function {spec.name} declared twice")
    sig = _signature(spec)
    names = [a.name for a in spec.args]
    if not spec.elementwise:
        impl = _reading(spec, impl)

    def call(*args: Any, **kwargs: Any) -> Any:
        if not kwargs and len(args) == len(names):  # how xlwings calls
            return impl(*args)
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError as exc:
            raise LtvxlError(f"{spec.name}: {exc}") from None
        return impl(*(bound.arguments.get(n) for n in names))

    func = guard(spec.name, call)
    func.__name__ = func.__qualname__ = spec.name
    func.__doc__ = spec.description
    func.__signature__ = sig  # type: ignore[attr-defined]
    func.__annotations__ = {}  # xlwings reads converters from annotations: there are none
    del func.__wrapped__  # type: ignore[attr-defined]
    func.__ltvxl__ = spec  # type: ignore[attr-defined]
    REGISTRY[spec.name] = func
    return func


def _is_none(cells: np.ndarray) -> np.ndarray:
    """Elementwise ``cell is None`` of an object array (numpy compares with None per element;
    None is given as a 0-d object array, an operand every numpy's type stubs accept)."""
    return np.equal(cells, _NONE)


_NONE = np.array(None, dtype=object)


def _safe_value(domain: Domain | None) -> float:
    """A value inside ``domain``, used in place of bad cells while the rest is computed."""
    if domain is None:
        return 1.0
    lo, hi = domain.low, domain.high
    if lo is not None and hi is not None:
        return (lo + hi) / 2
    if lo is not None:
        return lo + 1.0
    if hi is not None:
        return hi - 1.0
    return 1.0


def _dims(shape: tuple[int, ...]) -> str:
    rows, cols = shape
    return f"{rows} row{'s' * (rows != 1)} x {cols} column{'s' * (cols != 1)}"


def broadcast_shape(grids: dict[str, np.ndarray]) -> tuple[int, int]:
    """The common shape of argument grids; an error naming two arguments that disagree.

    As in Excel array formulas, a single cell goes with any range, a column
    with columns of the same length (or a row, giving a table), a row with
    rows of the same length.
    """
    shape: tuple[int, ...] = (1, 1)
    seen: list[tuple[str, tuple[int, ...]]] = []
    for name, grid in grids.items():
        try:
            shape = np.broadcast_shapes(shape, grid.shape)
        except ValueError:
            other, other_shape = next(
                ((o, s) for o, s in seen if not _compatible(s, grid.shape)), seen[-1]
            )
            raise LtvxlError(
                f"{other} ({_dims(other_shape)}) and {name} ({_dims(grid.shape)}) have "
                "different shapes; use ranges of the same size or single cells"
            ) from None
        seen.append((name, grid.shape))
    return shape  # type: ignore[return-value]


def _compatible(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return all(x == y or x == 1 or y == 1 for x, y in zip(a, b, strict=True))


def to_cells(result: np.ndarray) -> Any:
    """A 2-D array as xlwings returns it: a scalar for 1x1, else a list of lists.

    Numbers come back as Python floats, never numpy types.
    """
    if result.dtype.kind in "iub":
        result = result.astype(float)
    if result.shape == (1, 1):
        value = result[0, 0]
        return value.item() if isinstance(value, np.generic) else value
    return result.tolist()


def _clean(grid: np.ndarray, name: str) -> np.ndarray:
    """``grid`` with NaN/inf (and numpy scalars) replaced, as an object array if needed."""
    if grid.dtype.kind in "fiub":
        floats = grid.astype(float)
        finite = np.isfinite(floats)
        if finite.all():
            return floats
        out = floats.astype(object)
        out[~finite] = cell_error(NUM, f"{name} has no finite value here")
        return out
    out = grid.astype(object)
    flat = out.reshape(-1)
    for i, v in enumerate(flat):
        if isinstance(v, np.generic):
            v = flat[i] = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            flat[i] = cell_error(NUM, f"{name} has no finite value here")
    return out


_RANGE = object()


def _one_cell(value: Any) -> Any:
    """The cell of a single-cell argument (``x`` or ``[[x]]``), else the marker ``_RANGE``."""
    if isinstance(value, (list, tuple)):
        if len(value) == 1 and isinstance(value[0], (list, tuple)) and len(value[0]) == 1:
            return _one_cell_inner(value[0][0])
        return _RANGE
    if isinstance(value, np.ndarray):
        return _RANGE
    return value


def _one_cell_inner(cell: Any) -> Any:
    return _RANGE if isinstance(cell, (list, tuple, np.ndarray)) else cell


def elementwise(
    spec: Spec, core: Callable[..., Any], *, core_kwargs: dict[str, str] | None = None
) -> Callable[..., Any]:
    """Declare a worksheet function that applies ``core`` cell by cell.

    Every argument is a ``number`` argument (a cell or a range). Ranges
    broadcast against each other (a single cell against a column, columns of
    the same length) and the result has their common shape, so one formula
    serves a whole column of customers. A bad cell gives its error text in the
    matching result cell while the other cells are computed; when several
    arguments are bad in one cell, the first argument's message is shown.
    ``core`` is called once, vectorised, on float arrays (numpy broadcasting);
    ``core_kwargs`` maps argument names to ``core``'s keyword names where they
    differ. A blank cell of an optional argument takes its default; an
    optional argument whose default is None is left out of the call when
    omitted.
    """
    not_number = [a.name for a in spec.args if a.kind != "number"]
    if not_number:
        raise ValueError(f"{spec.name}: elementwise arguments must be numbers: {not_number}")
    spec = dataclasses.replace(spec, elementwise=True, returns="array")
    rename = core_kwargs or {}
    params = inspect.signature(core).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        unknown = [
            rename.get(a.name, a.name)
            for a in spec.args
            if rename.get(a.name, a.name) not in params
        ]
        if unknown:
            raise ValueError(
                f"{spec.name}: {getattr(core, '__name__', core)} takes no "
                f"argument {', '.join(unknown)} (see core_kwargs)"
            )

    def single(values: list[Any]) -> Any:
        """One cell per argument: the same rules without arrays (many formulas call this)."""
        kwargs: dict[str, Any] = {}
        for arg, value in zip(spec.args, values, strict=True):
            key = rename.get(arg.name, arg.name)
            if value is None and arg.optional:
                if arg.default is not None:
                    kwargs[key] = float(arg.default)
                continue
            x, problem = (
                (value, None) if type(value) is float else number_or_problem(value, arg.name)
            )
            if problem is not None:
                return problem
            domain = arg.domain or ANY
            if not domain.contains(x):
                code, text = domain.message(arg.name, x)
                return cell_error(code, text)
            kwargs[key] = x
        with np.errstate(all="ignore"):
            raw = core(**kwargs)
        return _finite_out(raw, spec.name)

    def impl(*values: Any) -> Any:
        cells = [_one_cell(v) for v in values]
        if all(c is not _RANGE for c in cells):
            return single(cells)
        grids: dict[str, np.ndarray] = {}
        for arg, value in zip(spec.args, values, strict=True):
            if value is None and arg.optional:
                continue
            grids[arg.name] = as_grid(value, arg.name)
        shape = broadcast_shape(grids)
        problems: np.ndarray | None = None
        kwargs: dict[str, Any] = {}
        for arg in spec.args:
            key = rename.get(arg.name, arg.name)
            if arg.name not in grids:
                if arg.default is not None:
                    kwargs[key] = float(arg.default)
                continue
            default = arg.default if arg.optional else None
            vals, probs, defaulted = read_numbers(grids[arg.name], arg.name, default)
            domain = arg.domain or ANY
            bad = domain.bad_mask(vals) & ~defaulted & _is_none(probs)
            for idx in zip(*np.nonzero(bad), strict=True):
                code, text = domain.message(arg.name, float(vals[idx]))
                probs[idx] = cell_error(code, text)
            has = ~_is_none(probs)
            if has.any():
                vals[has] = _safe_value(arg.domain)
                if problems is None:
                    problems = np.full(shape, None, dtype=object)
                first = _is_none(problems) & np.broadcast_to(has, shape)
                problems[first] = np.broadcast_to(probs, shape)[first]
            kwargs[key] = vals
        with np.errstate(all="ignore"):
            raw = np.asarray(core(**kwargs))
        result = _clean(np.broadcast_to(raw, shape), spec.name)
        if problems is not None:
            result = result.astype(object)
            has_problem = ~_is_none(problems)
            result[has_problem] = problems[has_problem]
        return to_cells(result)

    return declare(spec, impl)
