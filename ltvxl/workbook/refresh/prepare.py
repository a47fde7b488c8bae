"""Formula text into a cacheable expression over placeholder inputs.

``=B2*Sheet2!C3`` becomes ``_XREF_0*_XREF_1`` with the references
``[Ref(B2), Ref(Sheet2!C3)]``: filled-down formulas share one compiled
expression. Defined names, structured table references and spill references
(``A2#``) are resolved here; unsupported functions and references are
refused with the reason.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from ltvxl.workbook.xlsx import Package, WorkbookError, parse_range

from . import RefreshError
from .dynamic import INDIRECT_ALIAS


@dataclass(frozen=True)
class Ref:
    sheet: str
    r1: int
    c1: int
    r2: int
    c2: int
    spill: bool = False
    """A spill reference (``A2#``): the current spill range of the anchor at (r1, c1)."""
    position: bool = False
    """Only the place of the cells matters (OFFSET's first argument): no input to wait for."""


_PREFIXES = ("_xlfn.", "_xlws.", "_xludf.", "_xlpm.")
_SPILL_OP = re.compile(r"((?:'(?:[^']|'')+'|[A-Za-z0-9_.]+)!)?(\$?[A-Za-z]{1,3}\$?\d+)#")
_CELL_MODEL = "is volatile or needs Excel's cell model, which the headless refresh does not provide"
_ETS = ("is Excel's exponential smoothing (ETS AAA), whose fitted parameters the headless "
        "refresh does not reproduce")
NOT_SUPPORTED = dict.fromkeys(("CELL", "INFO", "RTD", "WEBSERVICE",
                               "GETPIVOTDATA", "CUBEVALUE", "RAND", "RANDBETWEEN", "RANDARRAY"),
                              _CELL_MODEL) | dict.fromkeys(
    ("FORECAST.ETS", "FORECAST.ETS.CONFINT", "FORECAST.ETS.SEASONALITY", "FORECAST.ETS.STAT"),
    _ETS)
"""The functions the refresh refuses (the cell is listed, and kept with ``--keep-going``),
with the reason."""

_PARSED = {"LET", "LAMBDA"}
"""Functions ``formulas`` reads as part of its grammar (not in its function table)."""

OMITTED = "_XOMITTED"
"""Stands for an omitted argument of an ltvxl function (``formulas`` would pass 0)."""
_IDENTIFIER = re.compile(r"[A-Za-z_\\][A-Za-z0-9_.]*")
_A1_LIKE = re.compile(r"\$?[A-Za-z]{1,3}\$?\d+(:\$?[A-Za-z]{1,3}\$?\d+)?|\$?[A-Za-z]{1,3}:\$?"
                      r"[A-Za-z]{1,3}|\$?\d+:\$?\d+")


def _intersects(out: list[str], items: list, i: int) -> bool:
    """Whether the white space at ``items[i]`` is Excel's intersection operator: between a
    reference (or a closing parenthesis) and a reference, a function or a parenthesis."""
    if not out or not (_PLACEHOLDER_END.search(out[-1]) or out[-1] == ")"):
        return False
    j = i + 1
    while j < len(items) and items[j].type == "WHITE-SPACE":
        j += 1
    if j >= len(items):
        return False
    nxt = items[j]
    return (nxt.type == "OPERAND" and nxt.subtype == "RANGE") or \
        (nxt.type in ("FUNC", "PAREN") and nxt.subtype == "OPEN")


_PLACEHOLDER_END = re.compile(r"_XREF_\d+$")


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
        key = self._rewrite(sheet, row, text, refs, level=0)
        return key, refs

    def _rewrite(self, sheet: str, row: int, text: str, refs: list[Ref], level: int) -> str:
        from openpyxl.formula.tokenizer import Tokenizer, TokenizerError

        if level > 10:
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
        names: list[str] = []  # and its name
        depth = 0  # open parentheses and function calls
        negate: list[int] = []  # depths at which a double negation "-(-" waits for its ")"

        def operand_done(nxt: int) -> None:
            """An operand ended at ``depth``: close the double negations that wrap it,
            unless a range operator (``A1:A3``) continues it."""
            j = nxt
            while j < len(items) and items[j].type == "WHITE-SPACE":
                j += 1
            if j < len(items) and items[j].type == "OPERATOR-INFIX" and items[j].value == ":":
                return
            while negate and negate[-1] == depth:
                negate.pop()
                out.append(")")

        i = 0
        while i < len(items):
            tok = items[i]
            ttype, sub, val = tok.type, tok.subtype, tok.value
            if ttype == "OPERATOR-PREFIX":
                # a run of signs: formulas folds "--X" into "+X", which leaves TRUE or "1"
                # as they are where Excel's double negation makes a number: "-(-X)"
                j, minus = i, 0
                while j < len(items) and items[j].type in ("OPERATOR-PREFIX", "WHITE-SPACE"):
                    minus += items[j].value == "-"
                    j += 1
                if minus and minus % 2 == 0:
                    out.append("-(-")
                    negate.append(depth)
                else:
                    out.append("-" if minus else "+")
                i = j
                continue
            if (ttype == "FUNC" or ttype == "PAREN") and sub == "OPEN":
                depth += 1
            elif (ttype == "FUNC" or ttype == "PAREN") and sub == "CLOSE":
                depth -= 1
            if ttype == "FUNC" and sub == "OPEN":
                name = _function_name(val)
                if name == "ANCHORARRAY":
                    if i + 2 >= len(items) or items[i + 1].subtype != "RANGE":
                        raise RefreshError("a spill reference (#) must follow a cell")
                    ref = self._ref(sheet, row, items[i + 1].value)
                    refs.append(Ref(ref.sheet, ref.r1, ref.c1, ref.r1, ref.c1, spill=True))
                    out.append(f"_XREF_{len(refs) - 1}")
                    i += 3
                    depth -= 1
                    operand_done(i)
                    continue
                if name in ("ROW", "COLUMN") and i + 1 < len(items) and \
                        items[i + 1].type == "FUNC" and items[i + 1].subtype == "CLOSE":
                    out.append(str(self._where[1] if name == "ROW" else self._where[2]))
                    i += 2  # ROW() and COLUMN(): the formula's own cell
                    depth -= 1
                    operand_done(i)
                    continue
                if name in NOT_SUPPORTED or (name not in self.known and name not in _PARSED):
                    why = NOT_SUPPORTED.get(name, "is not known to the headless refresh")
                    raise RefreshError(f"function {name} {why}")
                # INDIRECT with a first input that stands for nothing: ``formulas`` evaluates a
                # call of constants when it compiles the formula (once for every cell of
                # that text), and turns a reference it returns into an input
                out.append(f"{INDIRECT_ALIAS}({OMITTED}," if name == "INDIRECT" else name + "(")
                calls.append(name in self.ltvxl)
                names.append(name)
            elif ttype == "FUNC" and sub == "CLOSE":
                if names and names.pop() == "LAMBDA" and i + 1 < len(items) and \
                        items[i + 1].type == "PAREN" and items[i + 1].subtype == "OPEN":
                    raise RefreshError("a LAMBDA called where it is written (LAMBDA(...)(...)) "
                                       "is not supported; name it, or use LET")
                if calls and calls.pop() and out and out[-1].endswith(","):
                    out.append(OMITTED)  # an omitted last argument of an ltvxl function
                out.append(val)
                operand_done(i + 1)
            elif ttype == "PAREN" and sub == "CLOSE":
                out.append(val)
                operand_done(i + 1)
            elif ttype == "SEP" and sub == "ARG" and calls and calls[-1] and out and \
                    (out[-1].endswith(",") or out[-1].endswith("(")):
                out.append(OMITTED + ",")  # an omitted argument: None, as xlwings passes it
            elif ttype == "OPERAND" and sub == "RANGE":
                first_of_offset = bool(names) and names[-1] == "OFFSET" and bool(out) and \
                    out[-1] == "OFFSET("
                resolved = self._operand(sheet, row, val, refs, level)
                if first_of_offset and resolved == f"_XREF_{len(refs) - 1}":
                    refs[-1] = dataclasses.replace(refs[-1], position=True)
                out.append(resolved)
                operand_done(i + 1)
            elif ttype == "WHITE-SPACE":
                if _intersects(out, items, i):
                    out.append(" ")  # the intersection operator (A1:B2 B2:C3)
            elif ttype == "OPERAND":
                out.append(val)
                operand_done(i + 1)
            else:
                out.append(val)
            i += 1
        out.extend(")" * len(negate))
        return "".join(out)

    def _operand(self, sheet: str, row: int, val: str, refs: list[Ref], depth: int) -> str:
        name = self._name(sheet, val)
        if name is not None:
            try:
                ref = self._ref(sheet, row, name)
            except (RefreshError, WorkbookError):
                return "(" + self._rewrite(sheet, row, name, refs, depth + 1) + ")"
        elif val.lower().startswith(("_xleta.", "_xlpm.")):
            return val  # a function passed as an argument, a LET or LAMBDA name: formulas'
        elif _IDENTIFIER.fullmatch(val) and not _A1_LIKE.fullmatch(val):
            return "#NAME?"  # a name the workbook does not define: #NAME? in this cell, as Excel
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

