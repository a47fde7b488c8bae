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
from formulas.tokens.operand import XlError

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
from .dynamic import CellsNotReadyError
from .excel import CONTEXT
from .functions import init
from .grids import WHOLE_ROWS_CELLS, Grids, Rect, inside, overlap
from .prepare import OMITTED, Preparer, Ref
from .values import EMPTY, as_grid, clear_arg_cache, forget_arg, write_value, xlerror

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
_IS_CALL = re.compile(r"(IS(?!FORMULA|REF)[A-Z]+|N)\(_XREF_\d+\)")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


Key = tuple[str, int, int]
"""A formula cell: (sheet, row, column)."""


def _ref_index(name: str) -> int:
    """The index of a placeholder input (``_XREF_3`` -> 3); a clear error for any other."""
    if not _PLACEHOLDER.fullmatch(name):
        raise RefreshError(f"unknown name or reference {name!r}")
    return int(name.rsplit("_", 1)[1])


ITERATE_COUNT, ITERATE_DELTA = 100, 0.001
"""Excel's defaults for iterative calculation (File > Options > Formulas: Maximum
Iterations 100, Maximum Change 0.001; ``iterateCount``, ``iterateDelta`` of ``<calcPr>``)."""


def _iterative(pkg: Package) -> tuple[int, float] | None:
    """(iterations, maximum change) when the workbook asks for iterative calculation
    (``<calcPr iterate="1">``), else None."""
    from ltvxl.workbook.xlsx import book_part

    data = pkg.parts.get(book_part(pkg), b"")
    m = re.search(rb"<(?:\w+:)?calcPr\b[^>]*>", data)
    if not (m and re.search(rb"""\biterate=["'](?:1|true)["']""", m.group(0))):
        return None
    count = re.search(rb"""\biterateCount=["'](\d+)["']""", m.group(0))
    delta = re.search(rb"""\biterateDelta=["']([0-9.eE+-]+)["']""", m.group(0))
    try:
        return (int(count.group(1)) if count else ITERATE_COUNT,
                float(delta.group(1)) if delta else ITERATE_DELTA)
    except ValueError:
        return ITERATE_COUNT, ITERATE_DELTA


def _keeps_error_texts(pkg: Package) -> bool:
    """Whether the workbook keeps ltvxl's error texts as texts: its name ``LTVXL_ERROR_TEXT``
    is TRUE (as the add-in reads it)."""
    from ltvxl.errors import ERROR_TEXT_NAME

    text = pkg.names.get((None, ERROR_TEXT_NAME), "")
    return text.strip().lstrip("=").strip().upper() == "TRUE"


def _cycles(keys: list[Key], edges: dict[Key, list[Key]]) -> list[list[Key]]:
    """The strongly connected components of the graph that are cycles (more than one cell,
    or a cell with an edge to itself), each in the order of ``keys`` (Tarjan's algorithm,
    without recursion)."""
    index: dict[Key, int] = {}
    low: dict[Key, int] = {}
    on: set[Key] = set()
    stack: list[Key] = []
    out: list[list[Key]] = []
    order = {k: i for i, k in enumerate(keys)}
    for root in keys:
        if root in index:
            continue
        work = [(root, iter(edges.get(root, ())))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(edges.get(w, ()))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1 or v in edges.get(v, ()):
                        out.append(sorted(comp, key=order.__getitem__))
    return out


def _change(old: Any, new: Any) -> float:
    """How much a cell's value changed in an iteration: the difference of two numbers, 0 for
    the same value, infinite for a change of kind (a number to text or an error)."""
    if type(old) is float and type(new) is float:
        return abs(new - old) if np.isfinite(new - old) else np.inf
    if old is EMPTY and type(new) is float:
        return abs(new)
    return 0.0 if old is new or (type(old) is type(new) and old == new) else np.inf


@dataclass
class Node:
    sheet: str
    cell: FormulaCell
    key: str = ""
    refs: list[Ref] = field(default_factory=list)
    spill: tuple[int, int] = (1, 1)


def _anchor(ref: Ref) -> Key:
    """The cell a reference starts at: a spill reference's anchor."""
    return (ref.sheet, ref.r1, ref.c1)


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
        self.failed: dict[Key, str] = {}
        """Formula cells that cannot be computed, with the reason (their cached values stay)."""
        self.cause: dict[Key, Key] = {}
        """For a cell that failed because of another: the first cell that failed."""
        self.iterative = _iterative(pkg)
        self.settled: set[Key] = set()
        """Cells of circular references computed by iteration (not evaluated again)."""
        self.iterations: list[tuple[list[Key], int, float]] = []
        """Each cycle iterated: its cells, the iterations made and the last change."""
        self.zero_blanks: dict[str, bool] = {}
        self.keep: dict[int, Any] = {}
        """The Ranges handed to formulas, by id, alive while their id is in CONTEXT.refs."""
        self.spilled_inputs: dict[Key, Any] = {}
        """The Ranges of a spill read by several formulas (``Customers!A3#``), by anchor: read
        once and shared (one conversion for the ltvxl functions) until its last reader."""
        self.spill_readers: dict[Key, int] = {}
        """How many formula references to each anchor's spill are still to be evaluated."""
        self.call_reads: list[Any] = []
        """The Ranges read for the formula being evaluated."""
        CONTEXT.__init__()  # a new refresh: a new time, no cells known yet
        CONTEXT.error_texts = _keeps_error_texts(pkg)
        CONTEXT.reader = self._dynamic_read
        CONTEXT.sheets = {s.name.upper(): s.name for s in pkg.sheets}
        CONTEXT.names = self._name_text
        self.done: set[Key] = set()
        self.spill_index: dict[str, tuple[np.ndarray, list[Key]] | None] = {}
        self.anchor_index: dict[str, tuple[np.ndarray, list[Key]] | None] = {}
        from ltvxl.udfs import FUNCTIONS

        self.ltvxl = set(FUNCTIONS)
        self.anchors: dict[str, list[tuple[str, int, int]]] = {}
        """Dynamic-array formula cells by sheet."""
        clear_arg_cache()

    def fill(self, filling: Any) -> None:
        """Take the rows of a filled table from memory (see :class:`ltvxl.workbook.fill.Filling`;
        its sheet holds no formula)."""
        styles = self.styles
        self.grids.given(filling.sheet, filling.first_row, filling.c1, filling.columns,
                         filling.n, lambda c: styles.shows_date(filling.styles.get(c)))

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
                key = (sheet.name, fc.row, fc.col)
                try:
                    node.key, node.refs = prep.prepare(sheet.name, fc.row, fc.text, fc.col)
                except (RefreshError, WorkbookError) as exc:
                    self.failed[key] = str(exc)
                self.nodes[key] = node
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
        self._cell_model()
        for sheet, (r1, c1, r2, c2), anchor in self.old_spills:
            self.grids.blank(sheet, r1, c1, r2, c2)
            node = self.nodes[(sheet, *anchor)]
            node.spill = (r2 - r1 + 1, c2 - c1 + 1)

    def _cell_model(self) -> None:
        """What SUBTOTAL, AGGREGATE and ISFORMULA need: the cells that call them, the hidden
        rows, the formula cells and spill ranges."""
        if any("ISFORMULA(" in node.key for node in self.nodes.values()):
            CONTEXT.formula_cells = set(self.nodes)
            for (sheet, _, _), node in self.nodes.items():
                if node.cell.kind == "array" and node.cell.ref is not None:
                    CONTEXT.array_ranges.setdefault(sheet, []).append(node.cell.ref)
            CONTEXT.spill_ranges = self.claimed  # filled as the anchors spill
        for key, node in self.nodes.items():
            if "SUBTOTAL(" in node.key or "AGGREGATE(" in node.key:
                CONTEXT.subtotal_cells.add(key)
        if not CONTEXT.subtotal_cells:
            return
        row_tag = re.compile(rb"<(?:\w+:)?row\b[^>]*>")
        for sheet in self.pkg.sheets:
            data = self.pkg.parts[sheet.part]
            if b'hidden="1"' not in data and b'hidden="true"' not in data:
                continue
            hidden = set()
            for m in row_tag.finditer(data):
                tag = m.group(0)
                if re.search(rb'\bhidden="(?:1|true)"', tag):
                    r = re.search(rb'\br="(\d+)"', tag)
                    if r:
                        hidden.add(int(r.group(1)))
            CONTEXT.hidden_rows[sheet.name] = hidden
            if re.search(rb"<(?:\w+:)?autoFilter\b", data):
                CONTEXT.filtered_rows[sheet.name] = hidden

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

    def _node_deps(self, node: Node) -> tuple[list[Key], list[Key]]:
        """The formula cells that must be evaluated before ``node``: (hard, soft).

        Hard: formula cells its references cover (the cell itself too, when a reference
        covers it: a circular reference), and the anchors of old spill ranges they overlap.
        Soft: dynamic-array anchors above and left of a reference, whose new spill range
        might reach into it; a soft dependency is dropped where it would close a cycle
        (the spill cannot reach there without a real cycle).
        """
        out: list[Key] = []
        own = (node.sheet, node.cell.row, node.cell.col)
        for ref in node.refs:
            if ref.position:
                continue
            if ref.spill:
                key = _anchor(ref)
                if key not in self.nodes:
                    raise RefreshError(f"{cell_name(ref.r1, ref.c1)}# refers to a cell "
                                       "without a formula")
                out.append(key)
                continue
            cols = self.index.get(ref.sheet, {})
            for c in range(ref.c1, min(ref.c2, max(cols, default=0)) + 1):
                rows = cols.get(c)
                if rows:
                    lo, hi = bisect_left(rows, ref.r1), bisect_right(rows, ref.r2)
                    out.extend((ref.sheet, r, c) for r in rows[lo:hi])
            spills = self._spill_index(ref.sheet)
            if spills is not None:
                rects, keys = spills
                hit = (rects[:, 0] <= ref.r2) & (rects[:, 2] >= ref.r1) & \
                    (rects[:, 1] <= ref.c2) & (rects[:, 3] >= ref.c1)
                out.extend(k for k in (keys[i] for i in np.flatnonzero(hit)) if k != own)
        hard = list(dict.fromkeys(out))
        seen = set(out)
        soft = []
        for ref in node.refs:
            if ref.spill or ref.position:
                continue
            anchors = self._anchor_index(ref.sheet)
            if anchors is None:
                continue
            at, keys = anchors
            for i in np.flatnonzero((at[:, 0] <= ref.r2) & (at[:, 1] <= ref.c2)):
                key = keys[i]
                if key not in seen and key != own:
                    seen.add(key)
                    soft.append(key)
        return hard, soft

    def _spill_index(self, sheet: str) -> tuple[np.ndarray, list[Key]] | None:
        """The old spill ranges of a sheet as an array of (r1, c1, r2, c2), and their anchors."""
        if sheet not in self.spill_index:
            found = [(rect, (s, *anchor)) for s, rect, anchor in self.old_spills if s == sheet]
            self.spill_index[sheet] = (np.array([f[0] for f in found]), [f[1] for f in found]) \
                if found else None
        return self.spill_index[sheet]

    def _anchor_index(self, sheet: str) -> tuple[np.ndarray, list[Key]] | None:
        """The dynamic-array anchors of a sheet as an array of (row, col), and their keys."""
        if sheet not in self.anchor_index:
            keys = self.anchors.get(sheet, [])
            self.anchor_index[sheet] = (np.array([k[1:] for k in keys]), keys) if keys else None
        return self.anchor_index[sheet]

    def run(self) -> None:
        """Evaluate every formula cell once its inputs are evaluated (Kahn's order).

        Members of a batch are evaluated together when ready: cells that wait for
        nothing else go first, so that a batch gathers as many members as possible.
        Cells in a cycle, and cells that depend on a cell that cannot be computed,
        are recorded in :attr:`failed` with the reason.
        """
        nodes = self.nodes
        self._count_spill_readers()
        users: dict[Key, list[Key]] = {}
        soft_users: dict[Key, list[Key]] = {}
        waiting: dict[Key, int] = {}
        hard_of: dict[Key, list[Key]] = {}
        for key, node in nodes.items():
            if key in self.failed:
                hard, soft = [], []
            else:
                try:
                    hard, soft = self._node_deps(node)
                except RefreshError as exc:
                    self.failed[key] = str(exc)
                    hard, soft = [], []
            hard_of[key] = hard
            for d in hard:
                users.setdefault(d, []).append(key)
            for d in soft:
                soft_users.setdefault(d, []).append(key)
            waiting[key] = len(hard) + len(soft)
        ready = [k for k, n in waiting.items() if n == 0]
        batch_ready: dict[int, list[Key]] = {}
        done: set[Key] = self.done
        total, last = len(nodes), time.monotonic()

        def release(key: Key) -> None:
            for lists in (users, soft_users):
                for u in lists.get(key, ()):
                    waiting[u] -= 1
                    if waiting[u] == 0:
                        gid = self.group_of.get(u)
                        if gid is None:
                            ready.append(u)
                        else:
                            batch_ready.setdefault(gid, []).append(u)

        for key in list(ready):  # batch members waiting for nothing: gathered by batch
            gid = self.group_of.get(key)
            if gid is not None:
                ready.remove(key)
                batch_ready.setdefault(gid, []).append(key)
        while len(done) < total:
            if ready:
                key = ready.pop()
                if key in done:
                    continue
                wait = [d for d in self._evaluate_checked(key, hard_of[key]) if d not in done]
                if key in wait:
                    self.failed[key] = "a circular reference: it reads itself through OFFSET " \
                        "or INDIRECT"
                elif wait:  # a computed reference reads cells not computed yet: after them
                    for d in wait:
                        users.setdefault(d, []).append(key)
                    hard_of[key] = hard_of[key] + wait
                    waiting[key] = len(wait)
                    continue
                done.add(key)
                release(key)
            elif batch_ready:
                gid, members = batch_ready.popitem()
                members = [m for m in members if m not in done]
                self._evaluate_batch(members, hard_of)
                done.update(members)
                for m in members:
                    release(m)
            else:
                self._break_cycles(done, soft_users, waiting, hard_of, ready, batch_ready)
            if self.progress and time.monotonic() - last > 2:
                last = time.monotonic()
                self.progress(f"refresh: {len(done):,} of {total:,} formulas evaluated")

    def _break_cycles(self, done: set[Key], soft_users: dict[Key, list[Key]],
                      waiting: dict[Key, int], hard_of: dict[Key, list[Key]],
                      ready: list[Key], batch_ready: dict[int, list[Key]]) -> None:
        """Nothing is ready but cells are left: drop the soft dependencies among them; if
        that frees none, the cells of each real cycle fail (named), and so do those after."""
        left = [k for k in self.nodes if k not in done]
        freed = False
        left_set = set(left)
        for d in left:
            for u in soft_users.pop(d, ()):
                waiting[u] -= 1
                if waiting[u] == 0:
                    freed = True
                    ready.append(u)
        if freed:
            return
        cycles = _cycles(left, {k: [d for d in hard_of[k] if d in left_set] for k in left})
        if self.iterative and self._iterate_one(cycles, done, hard_of, waiting, ready):
            return
        iterate = " (the workbook asks for iterative calculation, which the headless refresh " \
            "does not reproduce for spilling formulas)" if self.iterative else ""
        for cycle in cycles:
            names = ", ".join(self._name(k) for k in cycle[:12])
            more = f" and {len(cycle) - 12} more" if len(cycle) > 12 else ""
            why = "a circular reference: it refers to itself" if len(cycle) == 1 else \
                f"a circular reference: {names}{more} refer to each other"
            for k in cycle:
                self.failed.setdefault(k, why + iterate)
                waiting[k] = 0
                ready.append(k)

    def _iterate_one(self, cycles: list[list[Key]], done: set[Key],
                     hard_of: dict[Key, list[Key]], waiting: dict[Key, int],
                     ready: list[Key]) -> bool:
        """Iterate the first circular reference whose other inputs are all computed, as
        Excel's iterative calculation does: its cells evaluated in sheet and row order, each
        from the latest values of the others (starting from their stored values), until no
        number changes by the maximum change or more, or the maximum iterations are made.
        The cells are then computed (released to the cells after them). False when no cycle
        can be iterated (a cycle of spilling formulas, or inputs not computed)."""
        assert self.iterative is not None
        count, delta = self.iterative
        for cycle in cycles:
            members = set(cycle)
            if any(d not in done and d not in members for k in cycle for d in hard_of[k]):
                continue
            if any(self.nodes[k].cell.kind != "normal" for k in cycle) or \
                    any(self._blocked(k, [d for d in hard_of[k] if d not in members])
                        for k in cycle):
                continue
            made, change = 0, 0.0
            while made < count:
                made, change = made + 1, 0.0
                for key in cycle:
                    old = self.grids.cell(*key)
                    self._evaluate_checked(key, [])
                    if key in self.failed:
                        break
                    change = max(change, _change(old, self.grids.cell(*key)))
                if any(k in self.failed for k in cycle) or change < delta:
                    break
            failed = next((k for k in cycle if k in self.failed), None)
            for key in cycle:
                if failed is not None and key not in self.failed:
                    self.failed[key] = f"depends on {self._name(failed)}, which cannot be " \
                        "computed"
                self.settled.add(key)
                waiting[key] = 0
                ready.append(key)
            self.iterations.append((cycle, made, change))
            if failed is None:
                names = ", ".join(self._name(k) for k in cycle[:6]) + \
                    (f" and {len(cycle) - 6} more" if len(cycle) > 6 else "")
                how = f"converged in {made} iteration{'s' if made != 1 else ''} (last change " \
                    f"{change:.3g} < {delta:g})" if change < delta else \
                    f"stopped after the maximum of {count} iterations (last change {change:.3g}" \
                    f", not under {delta:g})"
                self.warnings.append(f"{names}: a circular reference computed by iterative "
                                     f"calculation, as the workbook asks: {how}")
            return True
        return False

    def stale(self) -> list[tuple[str, str, str]]:
        """(cell, formula, reason) of each cell that cannot be computed, in sheet order."""
        order = {s.name: s.index for s in self.pkg.sheets}
        keys = sorted(self.failed, key=lambda k: (order.get(k[0], 0), k[1], k[2]))
        return [(self._name(k), self.nodes[k].cell.text, self.failed[k]) for k in keys]

    def _name(self, key: Key) -> str:
        return f"{key[0]}!{cell_name(key[1], key[2])}"

    def _blocked(self, key: Key, hard: list[Key]) -> bool:
        """Whether the cell cannot be computed (recorded in :attr:`failed`); a cell that
        depends on one that cannot is recorded too, naming it."""
        if key in self.failed:
            return True
        bad = next((d for d in hard if d in self.failed), None)
        if bad is None:
            return False
        root = self.cause.get(bad, bad)
        self.cause[key] = root
        self.failed[key] = f"depends on {self._name(root)}, which cannot be computed"
        return True

    def _evaluate_checked(self, key: Key, hard: list[Key]) -> list[Key]:
        """Evaluate one cell, recording a failure in :attr:`failed`; the formula cells it
        must wait for (read through OFFSET or INDIRECT before they are computed), if any."""
        if key in self.settled or self._blocked(key, hard):
            return []
        CONTEXT.pending.clear()
        CONTEXT.not_ready = []
        CONTEXT.current = key
        self.call_reads = []
        try:
            self._evaluate(self.nodes[key])
        except CellsNotReadyError as exc:
            self._release_call_reads()  # evaluated again later: read again then
            return exc.cells
        except RefreshError as exc:
            self.failed[key] = str(exc)
        except Exception as exc:  # one cell's failure must not stop the book
            self.failed[key] = f"the refresh failed on this formula ({type(exc).__name__}: " \
                f"{str(exc)[:200]})"
        self._evaluated(self.nodes[key])
        return []

    def _evaluate_batch(self, members: list[Key], hard_of: dict[Key, list[Key]]) -> None:
        ok = [m for m in members if not self._blocked(m, hard_of[m])]
        if len(ok) == 1:
            self._evaluate_checked(ok[0], hard_of[ok[0]])
        elif ok:
            self._evaluate_group([self.nodes[m] for m in ok])

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
        anchor = _anchor(ref)
        if ref.spill and anchor in self.spilled_inputs:
            return self.spilled_inputs[anchor]
        ranges = self._read_input(ref)
        if static:  # a sheet without formulas: its values never change during the refresh
            self.inputs[ref] = ranges
        elif ref.spill and self.spill_readers.get(anchor, 0) > 1:
            self.spilled_inputs[anchor] = ranges
        else:
            self.call_reads.append(ranges)  # released once the formula is evaluated
        return ranges

    def _release(self, ranges: Any) -> None:
        """Forget a Ranges no formula reads again: its place, its converted arguments."""
        CONTEXT.refs.pop(id(ranges), None)
        forget_arg(ranges)
        self.keep.pop(id(ranges), None)

    def _release_call_reads(self) -> None:
        """Release the ranges read for the formula being evaluated."""
        for ranges in self.call_reads:
            self._release(ranges)
        self.call_reads = []

    def _count_spill_readers(self) -> None:
        for node in self.nodes.values():
            for ref in node.refs:
                if ref.spill:
                    anchor = _anchor(ref)
                    self.spill_readers[anchor] = self.spill_readers.get(anchor, 0) + 1

    def _evaluated(self, node: Node) -> None:
        """After a formula's evaluation: release the ranges read for it alone, and each shared
        spill it was the last reader of."""
        self._release_call_reads()
        for ref in node.refs:
            if ref.spill:
                anchor = _anchor(ref)
                left = self.spill_readers[anchor] = self.spill_readers.get(anchor, 1) - 1
                if left <= 0 and anchor in self.spilled_inputs:
                    self._release(self.spilled_inputs.pop(anchor))

    def _read_input(self, ref: Ref) -> Any:
        if ref.spill:
            h, w = self.nodes[_anchor(ref)].spill
            r1, c1, r2, c2 = ref.r1, ref.c1, ref.r1 + h - 1, ref.c1 + w - 1
        else:
            r1, c1, r2, c2 = ref.r1, ref.c1, ref.r2, ref.c2
        values = self.grids.read(ref.sheet, r1, c1, r2, c2)
        r2, c2 = r1 + values.shape[0] - 1, c1 + values.shape[1] - 1
        ranges = formulas.Ranges().push(range_name(r1, c1, r2, c2), values)
        CONTEXT.refs[id(ranges)] = (ref.sheet, r1, c1)
        self.keep[id(ranges)] = ranges  # alive while its id is in CONTEXT.refs
        return ranges

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
            members = [m for m in members if m not in self.failed]
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

    def _evaluate_group(self, members: list[Node]) -> None:
        """Evaluate batch members (the same formula over other cells) at once."""
        n = len(members)
        CONTEXT.pending.clear()
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
                key = (node.sheet, node.cell.row, node.cell.col)
                self._evaluate_checked(key, [])
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
        if node.cell.kind == "normal" and _PLACEHOLDER.fullmatch(node.key):
            ref = node.refs[_ref_index(node.key)]
            if not ref.spill and (ref.r1 != ref.r2 or ref.c1 != ref.c2):
                self._store(node, self._intersection(node, ref))
                return
        if node.cell.kind == "dynamic" and _PLACEHOLDER.fullmatch(node.key):
            ref = node.refs[_ref_index(node.key)]
            if not ref.spill and ref.r2 == MAX_ROWS and ref.c2 != MAX_COLS and \
                    self._whole_column(node, ref):
                return
        direct = self._direct(node.key)
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
            raise RefreshError(f"cannot read the formula ({exc})") from None
        args = [EMPTY if name == OMITTED else self._input(node.refs[_ref_index(name)])
                for name in inputs]
        try:
            out = func(*args)
        except Exception as exc:
            if CONTEXT.not_ready:
                raise CellsNotReadyError(CONTEXT.not_ready) from None
            detail = " ".join(str(a) for a in getattr(exc, "args", ()) if isinstance(a, str))
            fname = re.search(r"'([A-Z][A-Z0-9_.]*)'", detail)
            what = f"function {fname.group(1)}" if fname else "the formula"
            raise RefreshError(f"{what} failed "
                               f"({type(exc).__name__}: {str(exc)[:200]})") from None
        if CONTEXT.not_ready:
            raise CellsNotReadyError(CONTEXT.not_ready)
        grid = as_grid(out)
        self._store(node, grid)

    def _whole_column(self, node: Node, ref: Ref) -> bool:
        """A dynamic array that is a reference down to the sheet's last row (``=Data!A:A``,
        ``=B3:B1048576``) spills to the last row, as in Excel, blanks as 0: ``#SPILL!`` when
        the anchor is below the range's first row (the spill would pass the last row). False
        (the usual evaluation, clipped to the used rows) beyond :data:`WHOLE_ROWS_CELLS`."""
        h, w = MAX_ROWS - ref.r1 + 1, ref.c2 - ref.c1 + 1
        if node.cell.row + h - 1 > MAX_ROWS:
            self._store(node, np.full((h, 1), EMPTY, dtype=object) if w == 1 else
                        np.broadcast_to(np.array([[EMPTY]], dtype=object), (h, w)))
            return True
        if h * w > WHOLE_ROWS_CELLS:
            return False
        values = self.grids.read(ref.sheet, ref.r1, ref.c1, ref.r2, ref.c2)
        grid = np.empty((h, w), dtype=object)
        grid[:] = EMPTY
        grid[: values.shape[0], : values.shape[1]] = values[:h, :w]
        self._store(node, grid)
        return True

    def _intersection(self, node: Node, ref: Ref) -> np.ndarray:
        """Excel's implicit intersection of a formula that is a reference to several cells,
        saved without dynamic-array metadata (``=J4:K5``, shown as ``=@J4:K5``): the cell of
        the range in the formula's row (a range of several rows) and column (of several
        columns); #VALUE! where the formula's row or column is outside the range."""
        row, col = node.cell.row, node.cell.col
        out = np.empty((1, 1), dtype=object)
        if (ref.r1 != ref.r2 and not ref.r1 <= row <= ref.r2) or \
                (ref.c1 != ref.c2 and not ref.c1 <= col <= ref.c2):
            out[0, 0] = xlerror("#VALUE!")
            return out
        out[0, 0] = self.grids.cell(ref.sheet, row if ref.r1 != ref.r2 else ref.r1,
                                    col if ref.c1 != ref.c2 else ref.c1)
        return out

    def _dynamic_read(self, sheet: str, r1: int, c1: int, r2: int, c2: int) -> Any:
        """A range computed by OFFSET or INDIRECT as an input; the formula cells in it (and
        anchors of old spill ranges over it) not computed yet go to ``CONTEXT.not_ready``."""
        wait = []
        cols = self.index.get(sheet, {})
        for c in range(c1, min(c2, max(cols, default=0)) + 1):
            rows = cols.get(c)
            if rows:
                lo, hi = bisect_left(rows, r1), bisect_right(rows, r2)
                wait.extend((sheet, r, c) for r in rows[lo:hi] if (sheet, r, c) not in self.done)
        spills = self._spill_index(sheet)
        if spills is not None:
            rects, keys = spills
            hit = (rects[:, 0] <= r2) & (rects[:, 2] >= r1) & (rects[:, 1] <= c2) & \
                (rects[:, 3] >= c1)
            wait.extend(k for k in (keys[i] for i in np.flatnonzero(hit)) if k not in self.done)
        if wait:
            CONTEXT.not_ready.extend(wait)
            return xlerror("#VALUE!")  # a placeholder: the formula is evaluated again
        ranges = self._read_input(Ref(sheet, r1, c1, r2, c2))
        self.call_reads.append(ranges)  # released once the formula is evaluated
        return ranges

    def _name_text(self, name: str) -> str | None:
        """The text of a defined name as the current cell sees it (its sheet's, else the
        workbook's)."""
        here = CONTEXT.current[0] if CONTEXT.current else None
        index = next((s.index for s in self.pkg.sheets if s.name == here), None)
        return self.pkg.names.get((index, name.upper())) or \
            self.pkg.names.get((None, name.upper()))

    def _blank_is_zero(self, node: Node) -> bool:
        """Whether blanks in the node's array result show as 0, as Excel shows a blank cell
        an array formula returns; not for formulas with ltvxl functions, whose blank table
        cells (None, as xlwings returns them) stay blank."""
        hit = self.zero_blanks.get(node.key)
        if hit is None:
            hit = self.zero_blanks[node.key] = \
                not (set(_FUNC_NAME.findall(node.key)) & self.ltvxl)
        return hit

    def _store(self, node: Node, grid: np.ndarray) -> None:
        fc, sx = node.cell, self.sheets[node.sheet]
        r, c = fc.row, fc.col
        if fc.kind in ("dynamic", "array") and grid.size > 1 and self._blank_is_zero(node):
            flat = grid.reshape(-1).tolist()
            if any(v is EMPTY for v in flat):
                grid = np.array([0.0 if v is EMPTY else v for v in flat],
                                dtype=object).reshape(grid.shape)
        if fc.kind == "dynamic":
            h, w = grid.shape
            beyond = r + h - 1 > MAX_ROWS or c + w - 1 > MAX_COLS
            residue = self.residue[node.sheet]
            claimed = self.claimed.setdefault(node.sheet, [])
            blocked = beyond or self._formula_inside(node.sheet, r, c, h, w) or \
                self._collides(sx, r, c, h, w, residue, claimed)
            if blocked:
                why = "would reach past the sheet's last row or column" if beyond else \
                    "would overwrite cells that are not empty"
                self.warnings.append(f"{node.sheet}!{cell_name(r, c)}: #SPILL! the result "
                                     f"({h}x{w}) {why}")
                grid = np.empty((1, 1), dtype=object)
                grid[0, 0] = xlerror("#SPILL!")
                h = w = 1
            node.spill = (h, w)
            stale = self.spilled_inputs.pop((node.sheet, r, c), None)  # a new spill (iteration)
            if stale is not None:
                self._release(stale)
            claimed.append((r, c, r + h - 1, c + w - 1))
            self.grids.put(node.sheet, r, c, grid)
            self._remember_errors(node.sheet, r, c, grid)
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
            pad = self._array_padding(node.key)
            for i in range(h):
                for j in range(w):
                    gi = i if grid.shape[0] > 1 else 0
                    gj = j if grid.shape[1] > 1 else 0
                    full[i, j] = grid[gi, gj] if gi < grid.shape[0] and gj < grid.shape[1] \
                        else pad
            self.grids.put(node.sheet, r1, c1, full)
            self._remember_errors(node.sheet, r1, c1, full)
            for i in range(h):
                for j in range(w):
                    sx.set_value(r1 + i, c1 + j, write_value(full[i, j], (i, j) == (0, 0)))
        else:
            one = grid[:1, :1]
            if one[0, 0] is EMPTY and self._blank_is_zero(node):
                one = np.full((1, 1), 0.0, dtype=object)  # =A1 of a blank cell is 0 to
            self.grids.put(node.sheet, r, c, one)  # the cells that read it, as in Excel
            self._remember_errors(node.sheet, r, c, one)
            sx.set_value(r, c, write_value(one[0, 0], True))

    def _remember_errors(self, sheet: str, r: int, c: int, grid: np.ndarray) -> None:
        """The message of each error value in a result that an ltvxl function returned as an
        error text: the text at the same place of the call's result where the codes agree (a
        formula that is the call itself), else the first text of that code among the
        formula's calls (``=SUM(LTV(...))``); kept in :attr:`CONTEXT.messages`."""
        pending = CONTEXT.pending
        if CONTEXT.messages and grid.size == 1:  # a cell evaluated again (iteration)
            CONTEXT.messages.pop((sheet, r, c), None)
        if not pending:
            return
        width = grid.shape[1]
        for i, v in enumerate(grid.reshape(-1).tolist()):
            if not isinstance(v, XlError):
                continue
            code, at = str(v), divmod(i, width)
            text = next((d[at] for d in pending if at in d and d[at].split(" ", 1)[0] == code),
                        None)
            if text is None:
                text = next((t for d in pending for t in d.values()
                             if t.split(" ", 1)[0] == code), None)
            if text is not None:
                CONTEXT.messages[(sheet, r + at[0], c + at[1])] = text

    def error_cells(self) -> list[tuple[str, str]]:
        """(cell, message) of each cell holding an error value that an ltvxl function
        returned as an error text, in sheet order."""
        order = {s.name: s.index for s in self.pkg.sheets}
        keys = sorted(CONTEXT.messages, key=lambda k: (order.get(k[0], 0), k[1], k[2]))
        return [(self._name(k), CONTEXT.messages[k]) for k in keys]

    def _formula_inside(self, sheet: str, r: int, c: int, h: int, w: int) -> bool:
        """Whether another formula cell lies in the h x w range from (r, c): a spill never
        overwrites a formula, not even the anchor of an old spill range there."""
        cols = self.index.get(sheet, {})
        for cc in range(c, min(c + w - 1, max(cols, default=0)) + 1):
            rows = cols.get(cc)
            if rows:
                lo, hi = bisect_left(rows, r), bisect_right(rows, r + h - 1)
                if any(rr != r or cc != c for rr in rows[lo:hi]):
                    return True
        return False

    @staticmethod
    def _array_padding(key: str) -> Any:
        """The value of a legacy array formula's cells beyond its result: Excel pads the
        arguments with #N/A, so it is the function of #N/A (``ISNA(A1:A3)`` over 5 cells
        ends in TRUE, ``ISNUMBER`` in FALSE), and #N/A for most formulas."""
        m = _IS_CALL.fullmatch(key)
        if m:
            try:
                na = np.empty((1, 1), dtype=object)
                na[0, 0] = xlerror("#N/A")
                return as_grid(formulas.get_functions()[m.group(1)](na))[0, 0]
            except Exception:  # the usual #N/A
                pass
        return xlerror("#N/A")

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
            span = sx.block_span(rr)  # a row another spill wrote beside: no parsing
            if span is not None and (span[1] < c or span[0] > rect[3]):
                continue
            for cc in sx.cells(rr):
                if c <= cc <= rect[3] and (rr, cc) != (r, c) and sx.occupied(rr, cc) \
                        and not any(inside(rr, cc, o) for o in old):
                    return True
        return False

    def finish(self) -> dict[str, Any]:
        """Clear cells that left their spill range; the new sheet parts (bytes, or for a
        sheet the pieces :func:`~ltvxl.workbook.xlsx.write_package` writes as they come)."""
        for key in self.failed:  # a stale anchor keeps its old spill range
            fc = self.nodes[key].cell
            if fc.kind == "dynamic" and fc.ref is not None:
                self.claimed.setdefault(key[0], []).append(fc.ref)
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
                parts[sheet.part] = self.sheets[sheet.name].chunks()
        if self.styles.changed and self.styles.part:  # date formats for date results
            parts[self.styles.part] = self.styles.to_bytes()
        settled = settled_workbook(self.pkg)
        if settled:
            parts[settled[0]] = settled[1]
        return parts
