"""Evaluating the formula cells of one package: in dependency order, filled-down
formulas in batches, dynamic arrays spilled."""

from __future__ import annotations

import re
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import formulas
import numpy as np

from ltvxl.a1 import MAX_COLS, MAX_ROWS, cell_name, range_name
from ltvxl.workbook.xlsx import (
    FormulaCell,
    Package,
    SheetXml,
    Styles,
    WorkbookError,
    settled_workbook,
)

from . import RefreshError
from .functions import init
from .grids import Grids, Rect, inside, overlap
from .prepare import OMITTED, Preparer, Ref
from .values import EMPTY, as_grid, clear_arg_cache, write_value, xlerror

BATCH_MIN = 16
ELEMENTWISE = frozenset({
    "IF", "IFERROR", "IFNA", "ROUND", "ROUNDUP", "ROUNDDOWN", "ABS", "SQRT", "EXP", "LN",
    "INT", "MOD", "POWER", "ISNUMBER", "ISTEXT", "ISBLANK", "ISERROR", "NOT", "LEN", "LEFT",
    "RIGHT", "UPPER", "LOWER", "TRIM"})
"""Native functions that work cell by cell on arrays: formulas using only these (and
operators) are evaluated in batches."""
_FUNC_NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*)\(")
_CALL = re.compile(r"([A-Z][A-Z0-9_.]*)\(([^()]*)\)")
_PLACEHOLDER = re.compile(r"_XREF_\d+")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


@dataclass
class Node:
    sheet: str
    cell: FormulaCell
    key: str = ""
    refs: list[Ref] = field(default_factory=list)
    spill: tuple[int, int] = (1, 1)


class Engine:
    """Evaluates the formula cells of one package."""

    def __init__(self, pkg: Package, progress: Callable[[str], None] | None = None) -> None:
        init()
        self.pkg = pkg
        self.progress = progress
        self.grids = Grids(pkg)
        self.grids.covered = self._covered
        self.last_row: dict[str, int] = {}
        """The last row of each sheet with formulas, as read (before results are written)."""
        self.styles = Styles(pkg)
        self.sheets: dict[str, SheetXml] = {}
        self.nodes: dict[tuple[str, int, int], Node] = {}
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
        clear_arg_cache()

    def load(self) -> None:
        known = set(formulas.get_functions())
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
                node = Node(sheet.name, fc)
                try:
                    node.key, node.refs = prep.prepare(sheet.name, fc.row, fc.text, fc.col)
                except (RefreshError, WorkbookError) as exc:
                    raise RefreshError(f"{sheet.name}!{cell_name(fc.row, fc.col)}: "
                                       f"={fc.text}: {exc}") from None
                self.nodes[(sheet.name, fc.row, fc.col)] = node
                if fc.kind == "dynamic":
                    self.anchors.setdefault(sheet.name, []).append((sheet.name, fc.row, fc.col))
                if fc.kind == "dynamic" and fc.ref is not None:
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

    def _deps(self, node: Node) -> list[tuple[tuple[str, int, int], bool]]:
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

    def _node_deps(self, node: Node) -> list[tuple[tuple[str, int, int], bool]]:
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
            func = formulas.Parser().ast("=" + key)[1].compile()
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
        return formulas.Ranges().push(range_name(r1, c1, r2, c2), values)

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
            grid = as_grid(func(*columns))
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
                found = (formulas.get_functions()[m.group(1)], args)
        self.direct[key] = found
        return found

    def _direct_arg(self, ref: Ref) -> Any:
        if not ref.spill and ref.r1 == ref.r2 and ref.c1 == ref.c2:  # one cell: no Ranges
            out = np.empty((1, 1), dtype=object)
            out[0, 0] = self.grids.cell(ref.sheet, ref.r1, ref.c1)
            return out
        return self._input(ref)

    def _evaluate(self, node: Node) -> None:
        fc = node.cell
        where = f"{node.sheet}!{cell_name(fc.row, fc.col)}"
        direct = self._direct(node.key)
        if direct is not None:
            call, spec = direct
            out = call(*[a[1] if isinstance(a, tuple) else self._direct_arg(node.refs[a])
                         for a in spec])
            self._store(node, as_grid(out))
            return
        try:
            func, inputs = self._compiled(node.key)
        except Exception as exc:
            raise RefreshError(f"{where}: cannot read the formula ={fc.text} ({exc})") from None
        args = [EMPTY if name == OMITTED else self._input(node.refs[int(name.rsplit("_", 1)[1])])
                for name in inputs]
        try:
            out = func(*args)
        except Exception as exc:
            detail = " ".join(str(a) for a in getattr(exc, "args", ()) if isinstance(a, str))
            fname = re.search(r"'([A-Z][A-Z0-9_.]*)'", detail)
            what = f"function {fname.group(1)}" if fname else "the formula"
            raise RefreshError(f"{where}: {what} failed in ={fc.text} "
                               f"({type(exc).__name__}: {str(exc)[:200]})") from None
        grid = as_grid(out)
        self._store(node, grid)

    def _store(self, node: Node, grid: np.ndarray) -> None:
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
                grid[0, 0] = xlerror("#SPILL!")
                h = w = 1
            node.spill = (h, w)
            claimed.append((r, c, r + h - 1, c + w - 1))
            self.grids.put(node.sheet, r, c, grid)
            ref = range_name(r, c, r + h - 1, c + w - 1)
            sx.set_value(r, c, write_value(grid[0, 0], True), formula_update=ref)
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
                        else xlerror("#N/A")
            self.grids.put(node.sheet, r1, c1, full)
            for i in range(h):
                for j in range(w):
                    sx.set_value(r1 + i, c1 + j, write_value(full[i, j], (i, j) == (0, 0)))
        else:
            one = grid[:1, :1]
            self.grids.put(node.sheet, r, c, one)
            sx.set_value(r, c, write_value(one[0, 0], True))

    @staticmethod
    def _collides(sx: SheetXml, r: int, c: int, h: int, w: int,
                  residue: list[Rect], claimed: list[Rect]) -> bool:
        """Whether a spill of h x w from (r, c) would cover a cell that is not free.

        Free: empty cells and cells of old spill ranges; not free: cells holding
        a value or formula, and cells of spill ranges computed in this refresh.
        """
        rect = (r, c, r + h - 1, c + w - 1)
        if any(overlap(rect, other) for other in claimed):
            return True
        old = [o for o in residue if overlap(rect, o)]
        whole = [o for o in old if o[1] <= c and rect[3] <= o[3]]  # cover the spill's width
        for rr in range(r, r + h):
            if rr not in sx.rows or any(o[0] <= rr <= o[2] for o in whole):
                continue
            for cc in sx.cells(rr):
                if c <= cc <= rect[3] and (rr, cc) != (r, c) and sx.occupied(rr, cc) \
                        and not any(inside(rr, cc, o) for o in old):
                    return True
        return False

    def finish(self) -> dict[str, bytes]:
        """Clear cells that left their spill range; the new sheet parts."""
        for sheet, residue in self.residue.items():
            claimed = self.claimed.get(sheet, [])
            sx = self.sheets[sheet]
            for old in residue:
                near = [n for n in claimed if overlap(old, n)]
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
