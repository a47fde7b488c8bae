"""Declarations of worksheet functions, independent of Excel.

Every ltvxl worksheet function is declared once (in :mod:`ltvxl.udfs`) with a
:class:`Spec`: its Excel name, description, the help and reading rule of each
argument, and the shape it returns. The same declared Python function is
what Excel calls through xlwings and what the headless refresh calls, so the
two cannot disagree. This module imports nothing from xlwings; binding the
declarations to xlwings is done in :mod:`ltvxl.udfs._declare`.

Calling convention (as xlwings calls a function): positional cell values,
``None`` for a blank cell or an omitted optional argument, ranges as lists
of lists. A worksheet function never raises: problems come back as error
text (see :mod:`ltvxl.errors`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .cells import as_grid, numbers
from .domains import Domain
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
    domain: the accepted numbers (``number`` arguments).
    choices: the accepted texts (``text`` arguments).
    """

    name: str
    help: str
    kind: Kind = "number"
    default: Any = REQUIRED
    domain: Domain | None = None
    choices: tuple[str, ...] = ()

    @property
    def optional(self) -> bool:
        return self.default is not REQUIRED

    @property
    def is_range(self) -> bool:
        """Whether xlwings should pass a list of lists (``ndim=2``)."""
        return self.kind in ("number", "data")


@dataclass(frozen=True)
class Spec:
    """The declaration of one worksheet function."""

    name: str
    description: str
    args: tuple[Arg, ...]
    returns: Returns = "value"
    category: str = CATEGORY
    examples: tuple[tuple[str, str], ...] = field(default=())
    """(formula, result) pairs shown in the documentation."""


REGISTRY: dict[str, Callable[..., Any]] = {}
"""Every declared worksheet function by Excel name, in declaration order."""


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


def guard(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``func`` so that it returns error text instead of raising."""

    @functools.wraps(func)
    def guarded(*args: Any) -> Any:
        try:
            return func(*args)
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


def declare(spec: Spec, impl: Callable[..., Any]) -> Callable[..., Any]:
    """Make the worksheet function for ``spec`` from ``impl`` and register it.

    ``impl`` takes the cell values positionally. The result carries the Excel
    name, the description as its docstring, a signature whose optional
    arguments default to ``None`` (as Excel passes an omitted argument), and
    the spec as ``__ltvxl__``.
    """
    names = [a.name for a in spec.args]
    if len(set(names)) != len(names):
        raise ValueError(f"{spec.name}: duplicate argument names")
    seen_optional = False
    for a in spec.args:
        if seen_optional and not a.optional:
            raise ValueError(f"{spec.name}: required argument {a.name} after an optional one")
        seen_optional |= a.optional
    func = guard(spec.name, impl)
    func.__name__ = func.__qualname__ = spec.name
    func.__doc__ = spec.description
    func.__signature__ = _signature(spec)  # type: ignore[attr-defined]
    func.__annotations__ = {}  # xlwings reads converters from annotations: there are none
    del func.__wrapped__  # type: ignore[attr-defined]
    func.__ltvxl__ = spec  # type: ignore[attr-defined]
    if spec.name in REGISTRY:
        raise ValueError(f"worksheet function {spec.name} declared twice")
    REGISTRY[spec.name] = func
    return func


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


def broadcast_shape(grids: dict[str, np.ndarray]) -> tuple[int, int]:
    """The common shape of argument grids; an error naming the arguments that disagree."""
    shape: tuple[int, int] = (1, 1)
    owner = ""
    for name, grid in grids.items():
        try:
            new = np.broadcast_shapes(shape, grid.shape)
        except ValueError:
            a = f"{owner} ({shape[0]}x{shape[1]})"
            b = f"{name} ({grid.shape[0]}x{grid.shape[1]})"
            raise LtvxlError(
                f"{a} and {b} have different shapes; use ranges of the same size or single cells"
            ) from None
        if new != shape or not owner:
            owner = name if grid.size > 1 or not owner else owner
        shape = new  # type: ignore[assignment]
    return shape


def to_cells(result: np.ndarray) -> Any:
    """A 2-D object array as xlwings returns it: a scalar for 1x1, else a list of lists."""
    if result.shape == (1, 1):
        return result[0, 0]
    return result.tolist()


def elementwise(
    spec: Spec, core: Callable[..., Any], *, core_kwargs: dict[str, str] | None = None
) -> Callable[..., Any]:
    """Declare a worksheet function that applies ``core`` cell by cell.

    Every argument is a ``number`` argument (a cell or a range). Ranges
    broadcast against each other (a single cell against a column, columns of
    the same length) and the result has their common shape, so one formula
    serves a whole column of customers. A bad cell gives its error text in the
    matching result cell while the other cells are computed. ``core`` is
    called once, vectorised, on float arrays; ``core_kwargs`` maps argument
    names to ``core``'s keyword names where they differ.
    """
    rename = core_kwargs or {}

    def impl(*values: Any) -> Any:
        grids: dict[str, np.ndarray] = {}
        for arg, value in zip(spec.args, values, strict=False):
            if value is None and arg.optional:
                continue
            grids[arg.name] = as_grid(value, arg.name)
        shape = broadcast_shape(grids)
        problems = np.full(shape, None, dtype=object)
        kwargs: dict[str, np.ndarray] = {}
        for arg in spec.args:
            if arg.name not in grids:
                if arg.default is not None:
                    kwargs[rename.get(arg.name, arg.name)] = np.asarray(float(arg.default))
                continue
            default = None if not arg.optional else arg.default
            vals, probs = numbers(grids[arg.name], arg.name, default)
            if arg.domain is not None:
                bad = arg.domain.bad_mask(vals) & (probs == None)  # noqa: E711
                for idx in zip(*np.nonzero(bad), strict=True):
                    code, text = arg.domain.message(arg.name, float(vals[idx]))
                    probs[idx] = cell_error(code, text)
            vals = np.broadcast_to(vals, shape).copy()
            probs = np.broadcast_to(probs, shape)
            has = probs != None  # noqa: E711
            vals[has] = _safe_value(arg.domain)
            first = (problems == None) & has  # noqa: E711
            problems[first] = probs[first]
            kwargs[rename.get(arg.name, arg.name)] = vals
        with np.errstate(all="ignore"):
            raw = np.asarray(core(**kwargs))
        result = np.broadcast_to(raw, shape).astype(object)
        if raw.dtype.kind in "fiu":
            floats = np.broadcast_to(raw, shape).astype(float)
            finite = np.isfinite(floats)
            result[~finite] = cell_error(NUM, f"{spec.name} is infinite or undefined here")
            result[finite] = floats[finite]
        has_problem = problems != None  # noqa: E711
        result[has_problem] = problems[has_problem]
        return to_cells(result)

    return declare(spec, impl)
