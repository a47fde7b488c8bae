"""docs/functions.md, generated from the worksheet function declarations.

Every function in :data:`ltvxl.worksheet.REGISTRY` (declared in the families of
:mod:`ltvxl.udfs`) is listed under its family with its description, arguments
(help, required or optional and the default a blank takes), what it returns,
and the examples of its :class:`~ltvxl.worksheet.Spec`. ``ltvxl docs``
writes the file; a test fails when the file in the repository is out of date.

The module also reads the example formulas (:func:`parse_formula`) so that
the tests can check that each example gives its documented result.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .worksheet import REGISTRY, Arg, Spec, spec_of

DEFAULT_PATH = Path("docs") / "functions.md"
COMMAND = "ltvxl docs"
"""The command that regenerates docs/functions.md (run from the repository root)."""

_RETURNS = {
    "value": "one value.",
    "array": "one value per cell; takes single cells or ranges and spills in their shape "
    "(see [Ranges](#ranges)).",
    "table": "a table that spills, with a header row first.",
}


# ---------------------------------------------------------------- example formulas

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?%?\Z")


def _split(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside quotes and braces."""
    parts, depth, quoted, current = [], 0, False, []
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "{":
            depth += 1
        elif not quoted and ch == "}":
            depth -= 1
        if ch == sep and not quoted and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def parse_literal(text: str) -> Any:
    """The cell value of an Excel literal: number, "text", TRUE/FALSE, {array}, or blank.

    Numbers become floats (as xlwings passes them), ``5%`` becomes 0.05, an
    empty argument None, an array constant ``{1,2;3,4}`` a list of rows.
    Raises ValueError for anything else (e.g. a cell reference).
    """
    t = text.strip()
    if not t:
        return None
    if _NUMBER.match(t):
        return float(t[:-1]) / 100 if t.endswith("%") else float(t)
    if len(t) >= 2 and t[0] == t[-1] == '"':
        return t[1:-1].replace('""', '"')
    if t.upper() in ("TRUE", "FALSE"):
        return t.upper() == "TRUE"
    if t.startswith("{") and t.endswith("}"):
        return [[parse_literal(c) for c in _split(row, ",")] for row in _split(t[1:-1], ";")]
    raise ValueError(f"not a literal: {text!r}")


def parse_formula(formula: str) -> tuple[str, list[Any]]:
    """``"=LTV(100, 3, 5)"`` -> ``("LTV", [100.0, 3.0, 5.0])``; ValueError if not literal."""
    m = re.fullmatch(r"\s*=?\s*([A-Za-z][A-Za-z0-9_.]*)\s*\((.*)\)\s*", formula, re.S)
    if not m:
        raise ValueError(f"not a function call: {formula!r}")
    name, inner = m.group(1).upper(), m.group(2)
    args = [parse_literal(a) for a in _split(inner, ",")] if inner.strip() else []
    return name, args


def result_matches(actual: Any, expected: str) -> bool:
    """Whether ``actual`` is the documented result ``expected`` (numbers to its decimals)."""
    text = expected.strip()
    number = text.replace(",", "")
    if _NUMBER.match(number) and not number.endswith("%"):
        if isinstance(actual, bool) or not isinstance(actual, (int, float)):
            return False
        decimals = len(number.split(".")[1]) if "." in number else 0
        tolerance = 0.5 * 10.0**-decimals + 1e-9 * abs(float(number))
        return math.isfinite(actual) and abs(actual - float(number)) <= tolerance
    if text.startswith("{"):
        rows = parse_literal(text)
        if not isinstance(actual, list) or len(actual) != len(rows):
            return False
        return all(
            isinstance(a_row, list) and len(a_row) == len(e_row)
            and all(result_matches(a, _literal_text(e)) for a, e in zip(a_row, e_row, strict=True))
            for a_row, e_row in zip(actual, rows, strict=True)
        )
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    return isinstance(actual, str) and (actual == text or (text.endswith("...")
                                                           and actual.startswith(text[:-3])))


def _literal_text(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    return f'"{value}"' if isinstance(value, str) else str(value)


def evaluate_example(formula: str, functions: dict[str, Callable[..., Any]] | None = None) -> Any:
    """Call the worksheet function of an example formula with its literal arguments."""
    name, args = parse_formula(formula)
    funcs = REGISTRY if functions is None else functions
    if name not in funcs:
        raise KeyError(f"{formula}: no worksheet function {name}")
    spec = spec_of(funcs[name])
    args += [None] * (len(spec.args) - len(args))
    return funcs[name](*args)


# ---------------------------------------------------------------- markdown


def _family_of(func: Callable[..., Any]) -> str:
    """The ltvxl.udfs submodule that exports ``func`` (already imported ones only)."""
    for mod_name, module in sorted(sys.modules.items()):
        if (
            mod_name.startswith("ltvxl.udfs.")
            and not mod_name.rsplit(".", 1)[1].startswith("_")
            and getattr(module, func.__name__, None) is func
        ):
            return mod_name
    return "ltvxl.udfs"


def _family_title(mod_name: str) -> str:
    short = mod_name.rsplit(".", 1)[1]
    return "Other functions" if mod_name == "ltvxl.udfs" else short.replace("_", " ").capitalize()


def _family_intro(mod_name: str) -> str:
    doc = (getattr(sys.modules.get(mod_name), "__doc__", None) or "").strip()
    return " ".join(doc.split("\n\n")[0].split()) if doc else ""


def _default_text(arg: Arg) -> str:
    d = arg.default
    if d is None:
        return "optional"
    if isinstance(d, float) and math.isinf(d):
        return "optional; blank = infinite"
    if isinstance(d, float) and d.is_integer():
        return f"optional; blank = {int(d)}"
    if isinstance(d, str):
        return f'optional; blank = "{d}"'
    return f"optional; blank = {d}"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def signature(spec: Spec) -> str:
    """``LTV(avg_purchase_value, purchase_frequency, lifespan, [gross_margin], ...)``."""
    return f"{spec.name}({', '.join(f'[{a.name}]' if a.optional else a.name for a in spec.args)})"


def _function_section(spec: Spec) -> list[str]:
    lines = [f"### {spec.name}", "", f"`={signature(spec)}`", "", _cell(spec.description), ""]
    if spec.category != "ltvxl":
        lines += [f"Category: {spec.category}", ""]
    if spec.args:
        lines += ["| argument | | help |", "| --- | --- | --- |"]
        for a in spec.args:
            need = _default_text(a) if a.optional else "required"
            extra = f" One of: {', '.join(a.choices)}." if a.choices else ""
            lines.append(f"| `{a.name}` | {need} | {_cell(a.help)}{extra} |")
        lines.append("")
    lines += [f"Returns {_RETURNS.get(spec.returns, spec.returns)}", ""]
    if spec.examples:
        lines += ["| example | result |", "| --- | --- |"]
        lines += [f"| `{_cell(f)}` | {_cell(r)} |" for f, r in spec.examples]
        lines.append("")
    return lines


def purchase_models_table() -> list[str]:
    """The purchase models of the registry as a table: what ``model`` accepts, the
    parameters and the flat functions of each (ltvxl.models.registry)."""
    from ltvxl.models import registry

    lines = [
        "Purchase models (the `model` argument of CLV_PREDICT, CLV_FIT and BTYD_FIT; case, "
        "spaces and punctuation do not matter):",
        "",
        "| `model` | model | also written | parameters | flat functions |",
        "| --- | --- | --- | --- | --- |",
    ]
    for m in registry.PURCHASE_MODELS:
        default = " (default)" if m is registry.DEFAULT else ""
        spellings = ", ".join(f"`{s}`" for s in dict.fromkeys((m.name, m.key, *m.aliases)))
        flat = ", ".join(f"[{m.choice}_{k}](#{m.choice.lower()}_{k.lower()})" for k in m.flat_kinds)
        lines.append(f"| `{m.choice}`{default} | {m.name} | {spellings} | "
                     f"{', '.join(m.params)} | {flat} |")
    return [*lines, ""]


def render(functions: dict[str, Callable[..., Any]] | None = None) -> str:
    """The text of docs/functions.md for the declared functions."""
    funcs = REGISTRY if functions is None else functions
    families: dict[str, list[Spec]] = {}
    for func in funcs.values():
        families.setdefault(_family_of(func), []).append(spec_of(func))
    lines = [
        "# Worksheet functions",
        "",
        f"<!-- Generated from the declarations in ltvxl/udfs by `{COMMAND}`. "
        "Do not edit by hand. -->",
        "",
        "Every function is in Excel's category **ltvxl** (Insert Function). "
        "Arguments in [brackets] are optional: leave them out or point them at a blank "
        "cell to get the default. Rates are fractions (a cell formatted as 5% holds 0.05). "
        "A problem shows as a text that starts with an Excel error code and names the "
        "argument, e.g. `#VALUE! churn_rate must be > 0 and <= 1, got 1.5`; see "
        "[errors.md](errors.md).",
        "",
        "<a id=\"ranges\"></a>**Ranges.** Functions that return one value per cell take a "
        "single cell or a range for every argument. Ranges broadcast against each other as "
        "in Excel array formulas (a single cell against a column, columns of the same "
        "length) and the result spills in their shape, so one formula serves a whole column "
        "of customers. Ranges of different lengths are an error naming both arguments; a "
        "bad cell gives an error text in its own result cell only.",
        "",
        f"{len(funcs)} functions:",
        "",
    ]
    for mod_name, specs in families.items():
        names = ", ".join(f"[{s.name}](#{s.name.lower()})" for s in specs)
        lines.append(f"- {_family_title(mod_name)}: {names}")
    lines.append("")
    for mod_name, specs in families.items():
        lines += [f"## {_family_title(mod_name)}", ""]
        intro = _family_intro(mod_name)
        if intro:
            lines += [intro, ""]
        if mod_name == "ltvxl.udfs.models":
            lines += purchase_models_table()
        for spec in specs:
            lines += _function_section(spec)
    return "\n".join(lines).rstrip() + "\n"


def write(path: str | Path = DEFAULT_PATH) -> Path:
    """Write docs/functions.md (imports :mod:`ltvxl.udfs` so that every family is declared)."""
    import ltvxl.udfs  # noqa: F401  (declares the functions)

    from .fileio import atomic_output

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(out) as tmp:
        Path(tmp).write_text(render(), encoding="utf-8")
    return out
