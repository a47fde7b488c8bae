"""Workbooks saved by Excel, and how a refresh of them compares with Excel's own values.

Each fixture under ``tests/data/excel/`` was saved by Microsoft Excel (its provenance is in
``sources.tsv`` there): the cached value of every formula cell is what Excel computed, the
truth the headless refresh must reproduce. Used by ``tests/test_refresh_excel.py`` and
``benchmarks/bench_excel_corpus.py``.
"""

from __future__ import annotations

import csv
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ltvxl.a1 import cell_name, col_number

CORPUS = Path(__file__).resolve().parent / "data" / "excel"

REL_TOL = 1e-9
"""Numbers agree when within this relative difference (Excel keeps 15 significant digits and
writes up to 17; ``formulas`` sums in another order than Excel)."""
ABS_TOL = 1e-12


def sources() -> list[dict[str, str]]:
    """The rows of ``sources.tsv``: name, repo, path, commit, sha256, application, and for a
    fixture ltvxl wrote, ``refused`` (the documented reason it is refused) when it is."""
    with open(CORPUS / "sources.tsv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def known_differences() -> dict[tuple[str, str], str]:
    """(book, cell) -> the reason its refreshed value differs from Excel's cached value."""
    with open(CORPUS / "known_differences.tsv", encoding="utf-8", newline="") as fh:
        return {(r["book"], r["cell"]): r["reason"] for r in csv.DictReader(fh, delimiter="\t")}


def known_part_differences() -> dict[tuple[str, str], str]:
    """(book, part) -> why the refreshed part differs from Excel's outside the cell values
    (``known_part_differences.tsv``; the sheets are compared outside ``<v>`` and ``t``)."""
    with open(CORPUS / "known_part_differences.tsv", encoding="utf-8", newline="") as fh:
        return {(r["book"], r["part"]): r["reason"] for r in csv.DictReader(fh, delimiter="\t")}


def fixtures() -> list[Path]:
    return [CORPUS / row["name"] for row in sources()]


_CELL = re.compile(r"<(?:\w+:)?c\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.S)
_ATTR = re.compile(r'(\w+)="([^"]*)"')
_V = re.compile(r"<(?:\w+:)?v(?:\s[^>]*)?>([^<]*)</(?:\w+:)?v>", re.S)
_F = re.compile(r"<(?:\w+:)?f\b")


def _unescape(s: str) -> str:
    """Element text as an XML reader gives it (line ends normalised to a line feed) with
    OOXML's ``_xHHHH_`` character escapes decoded."""
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    s = (s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
         .replace("&apos;", "'").replace("&#10;", "\n").replace("&#13;", "\r")
         .replace("&#9;", "\t").replace("&amp;", "&"))
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), s)


def _sheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> part, from the workbook and its relationships."""
    book = zf.read("xl/workbook.xml").decode("utf-8")
    rels = zf.read("xl/_rels/workbook.xml.rels").decode("utf-8")
    targets = {}
    for m in re.finditer(r"<Relationship\b([^>]*)/?>", rels):
        a = dict(_ATTR.findall(m.group(1)))
        t = a.get("Target", "")
        targets[a.get("Id")] = t.lstrip("/") if t.startswith("/") else "xl/" + t
    out = {}
    for m in re.finditer(r"<(?:\w+:)?sheet\b([^>]*)/?>", book):
        a = dict(re.findall(r'([\w:]+)="([^"]*)"', m.group(1)))
        part = targets.get(a.get("r:id"))
        if part and part in zf.namelist() and "worksheets" in part:
            out[_unescape(a["name"])] = part
    return out


def formula_values(path: Path) -> dict[str, Any]:
    """``Sheet!A1`` -> the cached value of every formula cell (and cell of a spill or array
    range): float, str, bool, ``("error", code)`` or None (no cached value)."""
    with zipfile.ZipFile(path) as zf:
        shared: list[str] = []
        if "xl/sharedStrings.xml" in zf.namelist():
            text = zf.read("xl/sharedStrings.xml").decode("utf-8")
            for si in re.findall(r"<(?:\w+:)?si>(.*?)</(?:\w+:)?si>", text, re.S):
                shared.append(_unescape("".join(re.findall(
                    r"<(?:\w+:)?t\b[^>]*>(.*?)</(?:\w+:)?t>", si, re.S))))
        out: dict[str, Any] = {}
        for sheet, part in _sheet_parts(zf).items():
            xml = zf.read(part).decode("utf-8")
            arrays: list[tuple[int, int, int, int]] = []
            cells: dict[tuple[int, int], tuple[bool, Any]] = {}
            for m in _CELL.finditer(xml):
                a = dict(_ATTR.findall(m.group(1)))
                r, c = _rc(a.get("r", ""))
                inner = m.group(2) or ""
                has_f = bool(_F.search(inner))
                if has_f:
                    fm = re.search(r"<(?:\w+:)?f\b([^>]*)", inner)
                    fa = dict(_ATTR.findall(fm.group(1))) if fm else {}
                    if fa.get("t") == "array" and "ref" in fa:
                        arrays.append(_range(fa["ref"]))
                cells[(r, c)] = (has_f, _value(a.get("t"), inner, shared))
            for (r, c), (has_f, value) in cells.items():
                if has_f or any(r1 <= r <= r2 and c1 <= c <= c2 for r1, c1, r2, c2 in arrays):
                    out[f"{sheet}!{cell_name(r, c)}"] = value
        return out


def _value(t: str | None, inner: str, shared: list[str]) -> Any:
    m = _V.search(inner)
    if t == "inlineStr":
        return _unescape("".join(re.findall(r"<(?:\w+:)?t\b[^>]*>(.*?)</", inner, re.S)))
    if m is None:
        return None
    v = _unescape(m.group(1))
    if t == "s":
        return shared[int(v)]
    if t in ("str", "inlineStr"):
        return v
    if t == "b":
        return v.strip() in ("1", "true")
    if t == "e":
        return ("error", v.strip())
    try:
        return float(v)
    except ValueError:
        return v


def _rc(ref: str) -> tuple[int, int]:
    m = re.fullmatch(r"\$?([A-Z]{1,3})\$?(\d+)", ref)
    return (int(m.group(2)), col_number(m.group(1))) if m else (0, 0)


def _range(ref: str) -> tuple[int, int, int, int]:
    a, _, b = ref.partition(":")
    r1, c1 = _rc(a)
    r2, c2 = _rc(b or a)
    return r1, c1, r2, c2


def same(expected: Any, got: Any) -> bool:
    """Whether a refreshed value equals Excel's cached value."""
    if isinstance(expected, float) and isinstance(got, float):
        return math.isclose(expected, got, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    if expected is None or expected == "":  # an empty result: Excel writes "" or nothing
        return got is None or got == "" or got == 0.0
    return type(expected) is type(got) and expected == got


@dataclass
class Comparison:
    """A refreshed fixture against Excel's values."""

    name: str
    cells: int = 0
    equal: int = 0
    differ: list[tuple[str, Any, Any]] = field(default_factory=list)
    """(cell, Excel's value, the refresh's value) of each formula cell that differs."""


def compare(name: str, original: Path, refreshed: Path) -> Comparison:
    want, got = formula_values(original), formula_values(refreshed)
    out = Comparison(name)
    for cell, value in want.items():
        out.cells += 1
        if same(value, got.get(cell)):
            out.equal += 1
        else:
            out.differ.append((cell, value, got.get(cell)))
    return out


_V_ELEM = re.compile(r"<((?:\w+:)?)v(?:\s[^>]*)?>[^<]*</(?:\w+:)?v>|<(?:\w+:)?v/>")
_IS_ELEM = re.compile(r"<((?:\w+:)?)is>.*?</(?:\w+:)?is>", re.S)
_T_ATTR = re.compile(r'(<(?:\w+:)?c\b[^>]*?)\s+t="[^"]*"')


def canonical_sheet(xml: bytes) -> str:
    """Sheet XML without cell values and value types (``<v>``, ``<is>``, ``t``), the parts of a
    sheet a refresh may change; the ``ref`` of dynamic arrays and the ``<dimension>`` stay."""
    text = xml.decode("utf-8")
    text = _V_ELEM.sub("", text)
    text = _IS_ELEM.sub("", text)
    text = _T_ATTR.sub(r"\1", text)
    return re.sub(r"<((?:\w+:)?c\b[^>]*?)></(?:\w+:)?c>", r"<\1/>", text)


_FULL_CALC = re.compile(rb'\s+fullCalcOnLoad="(?:1|true)"')


def cached_by_excel(path: Path) -> bool:
    """Whether the cached values are Excel's: not when the file asks for a full calculation
    on load (a writer's placeholders; such fixtures serve for preservation checks only)."""
    with zipfile.ZipFile(path) as zf:
        return not _FULL_CALC.search(zf.read("xl/workbook.xml"))


def changed_parts(original: Path, refreshed: Path) -> list[str]:
    """The parts that differ between the files: any byte outside the sheets, a sheet
    outside its values (:func:`canonical_sheet`), and any part added or removed."""
    out = []
    with zipfile.ZipFile(original) as a, zipfile.ZipFile(refreshed) as b:
        names_a, names_b = a.namelist(), b.namelist()
        if names_a != names_b:
            out.append(f"part list: {sorted(set(names_a) ^ set(names_b))}")
        for name in names_a:
            if name not in names_b:
                continue
            x, y = a.read(name), b.read(name)
            if x == y:
                continue
            if name.startswith("xl/worksheets/") and name.endswith(".xml") and \
                    canonical_sheet(x) == canonical_sheet(y):
                continue
            if name == "xl/workbook.xml" and _FULL_CALC.sub(b"", x) == y:
                continue  # the refresh settles the values: the flag goes, as Excel removes it
            out.append(name)
    return out
