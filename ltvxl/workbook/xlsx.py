"""Reading and writing the parts of an .xlsx file at zip/XML level.

The headless refresh changes only the cached values of formula cells (and the
cells of spill ranges); everything else in the package is copied unchanged.
This module reads the workbook structure (sheets, defined names, tables) and
edits a worksheet's ``<sheetData>`` as text, row by row, so that rows and
parts it does not touch keep their exact bytes.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import posixpath
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from ltvxl.a1 import MAX_COLS, MAX_ROWS, cell_name, col_letters, col_number, range_name
from ltvxl.errors import LtvxlError

NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_EPOCH = dt.datetime(1899, 12, 30)


class WorkbookError(LtvxlError):
    """A file that cannot be read or refreshed as an .xlsx workbook."""


# ----------------------------------------------------------------- A1 references

_CELL = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d+)$")


def parse_cell(ref: str) -> tuple[int, int]:
    """(row, col), 1-based, of an A1 reference such as ``$B$3``."""
    m = _CELL.match(ref)
    if not m:
        raise WorkbookError(f"not a cell reference: {ref!r}")
    return int(m.group(2)), col_number(m.group(1))


def parse_range(ref: str) -> tuple[int, int, int, int]:
    """(r1, c1, r2, c2) of ``A1``, ``A1:B2``, ``A:B`` or ``1:3`` (whole columns/rows)."""
    parts = ref.replace("$", "").split(":")
    if len(parts) == 1:
        r, c = parse_cell(parts[0])
        return r, c, r, c
    if len(parts) != 2:
        raise WorkbookError(f"not a range reference: {ref!r}")
    a, b = parts
    if a.isalpha() and b.isalpha():
        return 1, col_number(a), MAX_ROWS, col_number(b)
    if a.isdigit() and b.isdigit():
        return int(a), 1, int(b), MAX_COLS
    r1, c1 = parse_cell(a)
    r2, c2 = parse_cell(b)
    return min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)


# ------------------------------------------------------------------- package

@dataclass
class Table:
    """An Excel table (ListObject): name, its range and column names."""

    name: str
    sheet: str
    ref: tuple[int, int, int, int]
    columns: list[str]
    header_rows: int = 1
    totals_rows: int = 0
    part: str = ""
    """The table part in the package (``xl/tables/table1.xml``)."""


@dataclass
class Sheet:
    name: str
    index: int
    part: str


@dataclass
class Package:
    """The parts of an .xlsx file, read into memory."""

    path: Path
    infos: list[zipfile.ZipInfo]
    parts: dict[str, bytes]
    sheets: list[Sheet] = field(default_factory=list)
    names: dict[tuple[int | None, str], str] = field(default_factory=dict)
    """Defined names: (sheet index or None for workbook scope, UPPER name) -> formula text."""
    tables: dict[str, Table] = field(default_factory=dict)
    """Tables by UPPER name."""

    def sheet(self, name: str) -> Sheet:
        for s in self.sheets:
            if s.name.lower() == name.lower():
                return s
        raise WorkbookError(f"the workbook has no sheet named {name!r}")


def _rels(parts: dict[str, bytes], part: str) -> dict[str, tuple[str, str]]:
    """Relationships of ``part``: id -> (type suffix, target part path)."""
    folder, base = posixpath.split(part)
    rel_path = posixpath.join(folder, "_rels", base + ".rels")
    if rel_path not in parts:
        return {}
    try:
        root = ET.fromstring(parts[rel_path])
    except ET.ParseError as exc:
        raise WorkbookError(f"part {rel_path} is corrupt ({exc})") from None
    out = {}
    for rel in root.findall(f"{{{NS_PKG_REL}}}Relationship"):
        if rel.get("TargetMode") == "External":
            continue
        target = rel.get("Target", "")
        path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
            posixpath.join(folder, target))
        out[rel.get("Id", "")] = (rel.get("Type", "").rsplit("/", 1)[-1], path)
    return out


def open_package(path: str | Path) -> Package:
    """Read an .xlsx/.xlsm file; a clear :class:`WorkbookError` for anything else."""
    path = Path(path)
    if not path.exists():
        raise WorkbookError(f"{path}: no such file")
    if path.is_dir():
        raise WorkbookError(f"{path}: is a directory, not a workbook")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head == _OLE_MAGIC:
        raise WorkbookError(
            f"{path}: is an encrypted (password-protected) workbook or an old binary .xls "
            "file; save it in Excel as an unprotected .xlsx and try again")
    if not head.startswith(b"PK"):
        raise WorkbookError(f"{path}: is not an .xlsx workbook (not a zip package)")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            for info in infos:
                _check_size(path, info)
            parts = {info.filename: zf.read(info) for info in infos}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, RuntimeError,
            NotImplementedError, zlib.error) as exc:
        raise WorkbookError(f"{path}: is corrupt or truncated ({exc})") from None
    pkg = Package(path, infos, parts)
    if "xl/workbook.bin" in parts:
        raise WorkbookError(f"{path}: is a binary .xlsb workbook; save it as .xlsx")
    if "[Content_Types].xml" not in parts:
        raise WorkbookError(f"{path}: is not a complete .xlsx package (no [Content_Types].xml); "
                            "open and save it in Excel")
    root_rels = _rels(parts, "")
    book_part = next((p for t, p in root_rels.values() if t == "officeDocument"), None)
    if book_part is None or book_part not in parts:
        raise WorkbookError(f"{path}: is a zip file but not an .xlsx workbook (no workbook part)")
    book_rels = posixpath.join(posixpath.dirname(book_part), "_rels",
                               posixpath.basename(book_part) + ".rels")
    if book_rels not in parts:
        raise WorkbookError(f"{path}: is not a complete .xlsx package (no workbook "
                            f"relationships, {book_rels}); open and save it in Excel")
    _read_workbook(pkg, book_part)
    return pkg


MAX_PART_BYTES = 2 << 30
"""The largest part (uncompressed) the refresh reads: 2 GiB."""
MAX_RATIO, RATIO_FROM = 500, 50 << 20
"""A part above 50 MiB that inflates more than 500 times is refused (a "zip bomb"; sheet
XML compresses 5 to 30 times)."""


def _check_size(path: Path, info: zipfile.ZipInfo) -> None:
    """Refuse a part whose declared size is beyond the bounds, before inflating it."""
    size, packed = info.file_size, max(info.compress_size, 1)
    if size > MAX_PART_BYTES or (size > RATIO_FROM and size / packed > MAX_RATIO):
        raise WorkbookError(
            f"{path}: part {info.filename} inflates to {size / 2**20:,.0f} MiB from "
            f"{packed / 2**20:,.1f} MiB, beyond the refresh's bound ({MAX_PART_BYTES >> 30} GiB, "
            f"or a ratio of {MAX_RATIO} above {RATIO_FROM >> 20} MiB); it is refused unread")


def _xml(pkg: Package, part: str) -> ET.Element:
    try:
        return ET.fromstring(pkg.parts[part])
    except ET.ParseError as exc:
        raise WorkbookError(f"{pkg.path}: part {part} is corrupt ({exc})") from None


def _read_workbook(pkg: Package, book_part: str) -> None:
    root = _xml(pkg, book_part)
    rels = _rels(pkg.parts, book_part)
    m = f"{{{NS_MAIN}}}"
    for i, el in enumerate(root.iter(f"{m}sheet")):
        rid = el.get(f"{{{NS_REL}}}id", "")
        kind, part = rels.get(rid, ("", ""))
        if kind != "worksheet":
            continue  # chart sheets, dialog sheets: no cells to refresh
        if part not in pkg.parts:
            raise WorkbookError(f"{pkg.path}: sheet {el.get('name')!r} is missing its part {part}")
        pkg.sheets.append(Sheet(el.get("name", f"Sheet{i + 1}"), i, part))
    for el in root.iter(f"{m}definedName"):
        name = el.get("name", "")
        local = el.get("localSheetId")
        pkg.names[(int(local) if local is not None else None, name.upper())] = el.text or ""
    for sheet in pkg.sheets:
        for kind, part in _rels(pkg.parts, sheet.part).values():
            if kind == "table" and part in pkg.parts:
                t = _xml(pkg, part)
                cols = [c.get("name", "") for c in t.iter(f"{m}tableColumn")]
                name = t.get("displayName") or t.get("name") or ""
                pkg.tables[name.upper()] = Table(
                    name, sheet.name, parse_range(t.get("ref", "A1")), cols,
                    int(t.get("headerRowCount", "1")), int(t.get("totalsRowCount", "0")),
                    part)


def write_package(pkg: Package, replaced: Mapping[str, bytes | Iterable[bytes]],
                  target: str | Path) -> None:
    """Write the package to ``target`` with ``replaced`` parts; all others unchanged.

    A replaced part is its bytes, or an iterable of pieces written as they come
    (a large sheet is never held whole). An unchanged part is copied as its
    compressed bytes (no recompression); where that is not possible it is
    recompressed from its content.
    """
    with open(pkg.path, "rb") as src, zipfile.ZipFile(target, "w") as out:
        for info in pkg.infos:
            name = info.filename
            if name not in replaced and _copy_raw(src, out, info):
                continue
            data = replaced.get(name, pkg.parts[name])
            if not isinstance(data, bytes):
                _write_pieces(out, info, data)
                continue
            out.writestr(info, data, compress_type=info.compress_type,
                         compresslevel=1 if name in replaced else None)
        for name, data in replaced.items():  # new parts (custom properties) at the end
            if name not in pkg.parts:
                out.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=6)


def _write_pieces(out: zipfile.ZipFile, info: zipfile.ZipInfo, pieces: Iterable[bytes]) -> None:
    """One entry written piece by piece, compressed at level 1 as other replaced parts."""
    entry = copy.copy(info)
    entry.file_size = 0  # a size hint for zip64: none (a sheet stays far below 4 GiB)
    level = "compress_level" if hasattr(entry, "compress_level") else "_compresslevel"
    setattr(entry, level, 1 if info.compress_type == zipfile.ZIP_DEFLATED else None)
    with out.open(entry, "w") as fh:
        for piece in pieces:
            fh.write(piece)


def leading_texts(path: str | Path, sheet: str, rows: int) -> dict[str, str]:
    """The text values (inline strings and formula texts) of the cells in the first ``rows``
    rows of ``sheet``, by cell name; read from the start of the sheet part without inflating
    the rest of it (a spilled sheet of 200,000 rows costs nothing more than a short one)."""
    with zipfile.ZipFile(path) as zf:
        parts = {"_rels/.rels": zf.read("_rels/.rels")}
        book = next((p for t, p in _rels(parts, "").values() if t == "officeDocument"), "")
        parts[book] = zf.read(book)
        rel_path = posixpath.join(posixpath.dirname(book), "_rels",
                                  posixpath.basename(book) + ".rels")
        parts[rel_path] = zf.read(rel_path)
        rels = _rels(parts, book)
        m = re.search(rb'<(?:\w+:)?sheet\b[^>]*?\bname="' + re.escape(escape_text(sheet).encode())
                      + rb'"[^>]*>', parts[book])
        rid = re.search(rb'\br:id="([^"]+)"', m.group(0)) if m else None
        part = rels.get(rid.group(1).decode(), ("", ""))[1] if rid else ""
        if part not in zf.namelist():
            return {}
        text, stop = "", f' r="{rows + 1}"'
        with zf.open(part) as fh:
            while chunk := fh.read(1 << 16):
                text += chunk.decode("utf-8", errors="ignore")
                if stop in text or "sheetData>" in text[-64:]:
                    break
    out = {}
    for cm in re.finditer(r'<(?:\w+:)?c\b[^>]*?\br="([A-Z]+)(\d+)"([^>]*?)>(.*?)</(?:\w+:)?c>',
                          text, re.S):
        if int(cm.group(2)) > rows or not re.search(r'\bt="(?:str|inlineStr)"', cm.group(3)):
            continue
        v = re.search(r"<(?:\w+:)?[vt]\b[^>]*>([^<]*)</", cm.group(4))
        if v:
            out[cm.group(1) + cm.group(2)] = _unescape(v.group(1))
    return out


# -------------------------------------------------------------- document properties

CUSTOM_PART = "docProps/custom.xml"
_CUSTOM_TYPE = "application/vnd.openxmlformats-officedocument.custom-properties+xml"
_CUSTOM_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/" \
    "custom-properties"
_CUSTOM_NS = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
_VT_NS = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
_FMTID = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}"  # the one format id of user-defined properties


def custom_property_names(pkg: Package) -> list[str]:
    """The names of the workbook's custom document properties."""
    old = pkg.parts.get(CUSTOM_PART)
    if old is None:
        return []
    return [_unescape(attrs(m.group(0)).get("name", ""))
            for m in re.finditer(r"<(?:\w+:)?property\b[^>]*>", old.decode("utf-8"))]


def custom_properties(pkg: Package, props: dict[str, str | int | None]) -> dict[str, bytes]:
    """The parts that set custom document properties (File > Info > Properties >
    Advanced > Custom in Excel): ``name -> text or whole number``, None to remove one.

    Other properties are kept. Returns the changed parts (the properties part, and
    where it is new, the content types and the package relationships); nothing when
    nothing changes.
    """
    old = pkg.parts.get(CUSTOM_PART)
    entries: list[str] = []
    if old is not None:
        text = old.decode("utf-8")
        for m in re.finditer(r"<(?:\w+:)?property\b[^>]*?(?:/>|>.*?</(?:\w+:)?property>)",
                             text, re.S):
            name = _unescape(attrs(m.group(0)[: m.group(0).find(">") + 1]).get("name", ""))
            if name not in props:
                entries.append(m.group(0))
    elif all(v is None for v in props.values()):
        return {}
    for name, value in props.items():
        if value is None:
            continue
        body = f"<vt:i4>{int(value)}</vt:i4>" if isinstance(value, int) else \
            f"<vt:lpwstr>{escape_text(value)}</vt:lpwstr>"
        entries.append(f'<property fmtid="{_FMTID}" pid="0"{_attr_text({"name": name})}>'
                       f"{body}</property>")
    pids = iter(range(2, 2 + len(entries)))  # pid 2 upwards, in order (the format's rule)
    entries = [re.sub(r'\bpid="\d+"', lambda _: f'pid="{next(pids)}"', e, count=1)
               for e in entries]
    xml = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           f'<Properties xmlns="{_CUSTOM_NS}" xmlns:vt="{_VT_NS}">{"".join(entries)}'
           "</Properties>").encode()
    if old is not None:
        return {} if xml == old else {CUSTOM_PART: xml}
    out = {CUSTOM_PART: xml}
    types = pkg.parts.get("[Content_Types].xml", b"").decode("utf-8")
    if "/docProps/custom.xml" not in types and "</Types>" in types:
        out["[Content_Types].xml"] = types.replace(
            "</Types>", f'<Override PartName="/{CUSTOM_PART}" ContentType="{_CUSTOM_TYPE}"/>'
            "</Types>").encode("utf-8")
    rels = pkg.parts.get("_rels/.rels", b"").decode("utf-8")
    if CUSTOM_PART not in rels and "</Relationships>" in rels:
        ids = set(re.findall(r'\bId="([^"]+)"', rels))
        rid = next(f"rId{i}" for i in range(1, len(ids) + 2) if f"rId{i}" not in ids)
        out["_rels/.rels"] = rels.replace(
            "</Relationships>", f'<Relationship Id="{rid}" Type="{_CUSTOM_REL}" '
            f'Target="{CUSTOM_PART}"/></Relationships>').encode("utf-8")
    return out


def _copy_raw(src: Any, out: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """Copy one entry's compressed bytes from ``src`` into ``out``; False if not possible."""
    if info.flag_bits & 0x1 or info.file_size >= 0xFFFFFFFF or info.compress_size >= 0xFFFFFFFF:
        return False
    try:
        src.seek(info.header_offset)
        head = src.read(30)
        if len(head) != 30 or head[:4] != b"PK\x03\x04":
            return False
        n, m = int.from_bytes(head[26:28], "little"), int.from_bytes(head[28:30], "little")
        src.seek(info.header_offset + 30 + n + m)
        raw = src.read(info.compress_size)
        if len(raw) != info.compress_size:
            return False
        entry = copy.copy(info)
        entry.flag_bits &= ~0x08  # sizes in the local header, no data descriptor
        entry.extra = b""
        entry.header_offset = out.fp.tell()
        out.fp.write(entry.FileHeader(False))
        out.fp.write(raw)
        out.filelist.append(entry)
        out.NameToInfo[entry.filename] = entry
        out.start_dir = out.fp.tell()
        out._didModify = True
    except (AttributeError, OSError, ValueError, struct.error):
        return False
    return True


# -------------------------------------------------------------- cell values

def excel_serial(value: dt.datetime | dt.date) -> float:
    """Excel's serial day number of a date or datetime (1900 date system)."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if value.tzinfo is not None:
        value = value.replace(tzinfo=None)
    return (value - _EPOCH).total_seconds() / 86400.0


_ORDINAL_1899_12_30 = dt.date(1899, 12, 30).toordinal()


class ExcelDate(float):
    """A date cell: its Excel serial number, remembering the ``datetime`` it came from.

    Native functions see the serial number (as in Excel); ltvxl functions get
    the ``datetime``, as xlwings passes a date cell. Written to a cell, it
    takes a date number format unless the cell's style already has one.
    """

    __slots__ = ("_day",)  # no per-instance dict: a data sheet may hold 100,000s of dates
    _day: dt.date

    def __new__(cls, when: dt.datetime | dt.date) -> ExcelDate:
        if isinstance(when, dt.datetime):
            obj = float.__new__(cls, excel_serial(when))
        else:
            obj = float.__new__(cls, when.toordinal() - _ORDINAL_1899_12_30)
        obj._day = when
        return obj

    @property
    def when(self) -> dt.datetime:
        """The date as xlwings passes a date cell: a ``datetime``."""
        d = self._day
        return d if isinstance(d, dt.datetime) else dt.datetime(d.year, d.month, d.day)


_ILLEGAL = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9A-Fa-f]{4}_")
"""Characters XML cannot hold, and a carriage return (an XML reader turns a raw one into a
line feed), written as Excel writes them: ``_x000D_``."""


def escape_text(text: str) -> str:
    """XML-escaped cell text; control characters as Excel's ``_xHHHH_`` escapes."""
    if not text.isprintable() or "_x" in text:
        text = _ILLEGAL.sub(
            lambda m: "_x005F" + m.group(0) if len(m.group(0)) > 1
            else f"_x{ord(m.group(0)):04X}_", text)
    if "&" not in text and "<" not in text and ">" not in text:
        return text
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _inline(v: str, texts: dict[str, str], p: str, is_close: str) -> str:
    """The ``t="inlineStr"`` tail of a text cell's XML (after its reference and style),
    escaped once per distinct text: labels repeat down a column (``texts`` keeps them)."""
    body = texts.get(v)
    if body is None:
        text = escape_text(v)
        space = ' xml:space="preserve"' if text != text.strip() else ""
        body = texts[v] = f' t="inlineStr"><{p}is><{p}t{space}>{text}{is_close}'
    return body


def number_text(x: float) -> str:
    """A number as stored in a cell: ``1500`` for 1500.0, else the shortest round-trip text."""
    if x == 0:
        return "0"
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


@dataclass(frozen=True)
class ErrorValue:
    """An Excel error value (``#DIV/0!``, ``#N/A``...) to store as an error cell."""

    code: str



_STORED_ERRORS = {"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"}
"""The error values a cell's ``<v>`` holds (ECMA-376's seven): what Excel writes, and
what openpyxl, python-calamine and LibreOffice read."""


def _same_value(inner: str, v_xml: str) -> bool:
    """Whether a cell's old content holds the value element ``v_xml`` (``<v>#VALUE!</v>``)."""
    m = re.search(r"<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>", inner)
    return m is not None and f"<v>{m.group(1)}</v>" == v_xml


def stored_error(code: str) -> str:
    """The ``<v>`` of an error value: Excel 365's newer errors (``#SPILL!``, ``#CALC!``...)
    are stored by Excel as ``#VALUE!`` (the kind kept in rich-value metadata, which older
    readers ignore), ``#GETTING_DATA`` as ``#N/A``; any other text as ``#VALUE!``."""
    if code in _STORED_ERRORS:
        return code
    return "#N/A" if code == "#GETTING_DATA" else "#VALUE!"


def value_xml(value: Any, formula: bool) -> tuple[str | None, str]:
    """The ``t`` attribute and the value element(s) of a cell holding ``value``.

    Text is stored as text (``t="str"`` for a formula result, an inline string
    otherwise), never as a formula, whatever it looks like. ``None`` is an
    empty cell.
    """
    if value is None:
        return None, ""
    if isinstance(value, bool):
        return "b", f"<v>{int(value)}</v>"
    if isinstance(value, ErrorValue):
        return "e", f"<v>{stored_error(value.code)}</v>"
    if isinstance(value, (dt.datetime, dt.date)):
        value = excel_serial(value)
    if isinstance(value, (int, float)):
        x = float(value)
        if not math.isfinite(x):
            return "e", "<v>#NUM!</v>"
        return None, f"<v>{number_text(x)}</v>"
    text = escape_text(str(value))
    space = ' xml:space="preserve"' if text != text.strip() else ""
    if formula:  # spaces kept as Excel keeps them: <v xml:space="preserve">
        return "str", f"<v{space}>{text}</v>"
    return "inlineStr", f"<is><t{space}>{text}</t></is>"


# -------------------------------------------------------------- styles

DATE_FORMAT = "yyyy-mm-dd"
"""Number format given to a date result in a cell whose style shows no date."""
_BUILTIN_DATE_FORMATS = set(range(14, 23)) | set(range(27, 37)) | set(range(45, 48)) | \
    set(range(50, 59))


class Styles:
    """The cell styles (``cellXfs``) of ``xl/styles.xml``: which show dates, and date
    variants of those that do not (added to the part only when a date needs one)."""

    def __init__(self, pkg: Package) -> None:
        self.part = next((p for t, p in _rels(pkg.parts, book_part(pkg)).values()
                          if t == "styles"), None)
        self.text = pkg.parts[self.part].decode("utf-8") if self.part in pkg.parts else None
        self.changed = False
        self._date: dict[str | None, str | None] = {}
        self._xfs: list[str] | None = None
        self._formats: dict[int, str] = {}

    def _parse(self) -> None:
        if self._xfs is not None or self.text is None:
            return
        m = re.search(r"<(\w+:)?cellXfs\b[^>]*>(.*?)</(\w+:)?cellXfs>", self.text, re.S)
        self._xfs = re.findall(r"<(?:\w+:)?xf\b[^>]*?(?:/>|>.*?</(?:\w+:)?xf>)", m.group(2),
                               re.S) if m else []
        for fm in re.finditer(r"<(?:\w+:)?numFmt\b([^>]*?)/?>", self.text):
            a = attrs(fm.group(1))
            if "numFmtId" in a:
                self._formats[int(a["numFmtId"])] = a.get("formatCode", "")

    def _format_id(self, xf: str) -> int:
        a = attrs(xf[: xf.find(">") + 1])
        return int(a.get("numFmtId", "0"))

    def shows_date(self, style: str | None) -> bool:
        self._parse()
        if not self._xfs:
            return False
        i = int(style or 0)
        if i >= len(self._xfs):
            return False
        fid = self._format_id(self._xfs[i])
        if fid in _BUILTIN_DATE_FORMATS:
            return True
        from openpyxl.styles.numbers import is_date_format

        return fid in self._formats and is_date_format(self._formats[fid])

    def date_style(self, style: str | None) -> str | None:
        """A style showing dates: ``style`` itself, or its copy with a date format."""
        key = style or "0"  # no s attribute: the first cell style
        if key in self._date:
            return self._date[key] or style
        out = None
        if self.text is not None and not self.shows_date(key) and self._xfs:
            out = self._add_date_variant(int(key))
        self._date[key] = out
        return out or style

    def _add_date_variant(self, i: int) -> str | None:
        fid = next((k for k, code in self._formats.items() if code == DATE_FORMAT), None)
        text = self.text
        if fid is None:
            fid = max([163, *self._formats]) + 1
            self._formats[fid] = DATE_FORMAT
            fmt = f'<numFmt numFmtId="{fid}" formatCode="{DATE_FORMAT}"/>'
            m = re.search(r"<(\w+:)?numFmts\b([^>]*?)(/?)>", text)
            if m is None:  # numFmts is the first child of styleSheet
                head = re.search(r"<(\w+:)?styleSheet\b[^>]*>", text)
                if head is None:
                    return None
                pre = head.group(1) or ""
                fmt = fmt.replace("<numFmt", f"<{pre}numFmt")
                text = f'{text[:head.end()]}<{pre}numFmts count="1">{fmt}</{pre}numFmts>' \
                       f"{text[head.end():]}"
            else:
                pre = m.group(1) or ""
                fmt = fmt.replace("<numFmt", f"<{pre}numFmt")
                if m.group(3):  # <numFmts/>
                    text = f'{text[:m.start()]}<{pre}numFmts count="1">{fmt}</{pre}numFmts>' \
                           f"{text[m.end():]}"
                else:
                    end = text.index(f"</{pre}numFmts>", m.end())
                    text = text[:end] + fmt + text[end:]
                    count = len(re.findall(r"<(?:\w+:)?numFmt\b", text))
                    text = re.sub(r'(<(?:\w+:)?numFmts\b[^>]*?\bcount=")\d+"',
                                  rf'\g<1>{count}"', text, count=1)
        xf = self._xfs[i] if i < len(self._xfs) else self._xfs[0]
        start = xf[: xf.find(">") + 1]
        a = attrs(start.rstrip("/>").split(None, 1)[1] if " " in start else "")
        a["numFmtId"] = str(fid)
        a["applyNumberFormat"] = "1"
        name = start[1:].split(None, 1)[0].rstrip("/>")
        new_start = f"<{name}{_attr_text(a)}" + ("/>" if start.endswith("/>") else ">")
        new = new_start + xf[len(start):]
        m = re.search(r"</(\w+:)?cellXfs>", text)
        if m is None:
            return None
        text = text[:m.start()] + new + text[m.start():]
        self._xfs.append(new)
        text = re.sub(r'(<(?:\w+:)?cellXfs\b[^>]*?\bcount=")\d+"',
                      rf'\g<1>{len(self._xfs)}"', text, count=1)
        self.text = text
        self.changed = True
        return str(len(self._xfs) - 1)

    def to_bytes(self) -> bytes:
        return (self.text or "").encode("utf-8")


def book_part(pkg: Package) -> str:
    """The workbook part of the package (``xl/workbook.xml``)."""
    return next((p for t, p in _rels(pkg.parts, "").values() if t == "officeDocument"), "")


_FULL_CALC_ON_LOAD = re.compile(rb'(<(?:\w+:)?calcPr\b[^>]*?)\s+fullCalcOnLoad="(?:1|true)"')


def settled_workbook(pkg: Package) -> tuple[str, bytes] | None:
    """The workbook part without ``fullCalcOnLoad``, once every formula holds its value.

    Writers that cannot compute (XlsxWriter, openpyxl) set ``fullCalcOnLoad``
    so that Excel recalculates everything on opening; Excel removes the flag
    once it has done so. After a refresh the cached values are current, so
    the flag is removed the same way: opened without the ltvxl add-in (or in
    a viewer) the workbook then shows its values instead of ``#NAME?``.
    Returns ``(part name, new bytes)``, or None when the flag is not set.
    """
    part = book_part(pkg)
    data = pkg.parts.get(part)
    if not data:
        return None
    new, count = _FULL_CALC_ON_LOAD.subn(rb"\1", data, count=1)
    return (part, new) if count else None


# -------------------------------------------------------------- sheet XML

_PLAIN_ROW = re.compile(r'\s*r="\d+"(?:\s+spans="[^"]*")?\s*')
_ROW_R = re.compile(r'(?:^|\s)r="(\d+)"')
_CELL_R = re.compile(r'(?:^|\s)r="\$?([A-Za-z]{1,3})\$?\d+"')
_S_ATTR = re.compile(r'\ss="(\d+)"')
_SPANS = re.compile(r"(\d+):(\d+)")
_LETTERS = re.compile(r"[A-Z]{1,3}")


def _plain(v: Any) -> Any:
    """An engine value (formulas' error object, a float subclass) as value_xml takes it."""
    if isinstance(v, float):
        return float(v)
    if type(v).__name__ == "XlError":
        return ErrorValue(str(v))
    return v


_ATTR = re.compile(r'([\w:]+)\s*=\s*("[^"]*"|\'[^\']*\')')


def attrs(tag: str) -> dict[str, str]:
    """Attributes of an XML start tag (values unescaped only for ``&amp;``-style entities)."""
    return {k: _unescape(v[1:-1]) for k, v in _ATTR.findall(tag)}


def _unescape(s: str) -> str:
    if "&" not in s:
        return s
    return (s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
            .replace("&apos;", "'").replace("&amp;", "&"))


def _attr_text(items: dict[str, str]) -> str:
    return "".join(
        f' {k}="{v.replace("&", "&amp;").replace("<", "&lt;").replace(chr(34), "&quot;")}"'
        for k, v in items.items())


@dataclass
class FormulaCell:
    """A cell holding a formula, as stored in the sheet XML."""

    row: int
    col: int
    text: str
    """The formula without ``=``, shared formulas already translated to this cell."""
    kind: str  # "normal", "array" (legacy CSE), "dynamic", "shared"
    ref: tuple[int, int, int, int] | None = None
    """The stored ``ref`` of an array formula (its spill range for a dynamic array)."""


BULK_ROWS = 64
"""A spill of at least this many new rows is written column by column
(:meth:`SheetXml._new_rows`)."""


def _numbers(values: Any) -> list[str]:
    """Finite numbers as a cell stores them: ``0`` for zeros, ``1500`` for 1500.0, else the
    shortest round-trip text (as :func:`number_text`)."""
    out = []
    for x in values:
        text = repr(float(x))
        out.append("0" if x == 0 else text[:-2] if text[-2:] == ".0" else text)
    return out


class SheetXml:
    """The ``<sheetData>`` of one worksheet, split into rows and cells as text."""

    def __init__(self, name: str, data: bytes) -> None:
        self.name = name
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WorkbookError(f"sheet {name}: the sheet XML is not UTF-8 ({exc})") from None
        m = re.search(r"<(\w+:)?worksheet\b", text)
        self.p = (m.group(1) or "") if m else ""
        p = re.escape(self.p)
        start = re.search(rf"<{p}sheetData\b[^>]*?(/?)>", text)
        if start is None:
            raise WorkbookError(f"sheet {name}: no <sheetData> element")
        if start.group(1):  # <sheetData/>
            self.head, self.tail, body = text[:start.start()] + f"<{self.p}sheetData>", \
                f"</{self.p}sheetData>" + text[start.end():], ""
        else:
            end = text.find(f"</{self.p}sheetData>", start.end())
            if end < 0:
                raise WorkbookError(f"sheet {name}: the sheet XML is truncated (no "
                                    "</sheetData>); open and save the workbook in Excel")
            self.head, body, self.tail = text[:start.end()], text[start.end():end], text[end:]
        self._row_re = re.compile(rf"<{p}row\b([^>]*?)(?:/>|>(.*?)</{p}row>)", re.S)
        self._cell_re = re.compile(rf"<{p}c\b([^>]*?)(?:/>|>(.*?)</{p}c>)", re.S)
        self._f_re = re.compile(rf"<{p}f\b([^>]*?)(?:/>|>(.*?)</{p}f>)", re.S)
        self.rows: dict[int, list[Any]] = {}
        """row number -> [row attrs text, {col: cell xml} or None while not yet parsed,
        raw row xml or None if edited]. Rows are parsed into cells only when needed."""
        self._quick = re.compile(rf'<{p}c r="([A-Z]{{1,3}})\d+"[^>]*?(?:/>|>.*?</{p}c>)', re.S)
        self._styles_re = re.compile(rf'<{p}c r="([A-Z]{{1,3}})\d+"([^>]*?)/?>')
        self._pairs_re = re.compile(rf'<{p}c r="([A-Z]{{1,3}})\d+"(?: s="(\d+)")?')
        self._starts_re = re.compile(rf'<{p}c r="([A-Z]{{1,3}})\d+"')
        self._spans: dict[int, tuple[int, int]] = {}
        """(first, last) column of rows written whole by :meth:`set_block`."""
        self._letters: dict[str, int] = {}
        self.styles: Styles | None = None
        """The workbook's styles, to give date results a date format (set by the caller)."""
        self._r_first = body.count(f'<{self.p}c r="') == \
            body.count(f"<{self.p}c ") + body.count(f"<{self.p}c>")
        """Whether every cell is written r-first (``<c r="B2" ...``), as Excel writes them."""
        last = 0
        row_r = _ROW_R
        opening, closing = f"<{self.p}row", f"</{self.p}row>"
        pos, find = 0, body.find
        while (i := find(opening, pos)) >= 0:
            j = find(">", i)
            if j < 0:
                raise WorkbookError(f"sheet {name}: a row element is not closed")
            if body[j - 1] == "/":  # <row .../>
                ra_text, end = body[i + len(opening): j - 1], j + 1
            else:
                k = find(closing, j)
                if k < 0:
                    raise WorkbookError(f"sheet {name}: a row element is not closed")
                ra_text, end = body[i + len(opening): j], k + len(closing)
            m = row_r.search(ra_text)
            r = int(m.group(1)) if m else last + 1
            last = r
            self.rows[r] = [ra_text, None, body[i:end]]
            pos = end
        self.col_styles = self._col_styles()

    def _col_styles(self) -> list[tuple[int, int, str]]:
        p = re.escape(self.p)
        out = []
        for m in re.finditer(rf"<{p}col\b([^>]*?)/?>", self.head):
            a = attrs(m.group(1))
            if "style" in a and "min" in a:
                out.append((int(a["min"]), int(a.get("max", a["min"])), a["style"]))
        return out

    def _col(self, letters: str) -> int:
        c = self._letters.get(letters)
        if c is None:
            c = self._letters[letters] = col_number(letters)
        return c

    def _parse_row(self, raw: str) -> dict[int, str]:
        """The cells of one row's xml, by column number."""
        m = self._row_re.match(raw)
        inner = (m.group(2) or "") if m else ""
        found = [(cm.group(1), cm.group(0)) for cm in self._quick.finditer(inner)]
        if len(found) == inner.count(f"<{self.p}c ") + inner.count(f"<{self.p}c>"):
            return {self._col(col): xml for col, xml in found}
        cells = {}  # other attribute orders, or cells without r
        lastc = 0
        for cm in self._cell_re.finditer(inner):
            m = _CELL_R.search(cm.group(1))
            c = self._col(m.group(1)) if m else lastc + 1
            lastc = c
            cells[c] = cm.group(0)
        return cells

    def cells(self, r: int) -> dict[int, str] | None:
        """The cells of row ``r`` by column (parsed on first use), None if no such row."""
        rec = self.rows.get(r)
        if rec is None:
            return None
        if rec[1] is None:
            rec[1] = self._parse_row(rec[2])
        return rec[1]

    def _error_vms(self, raw: str) -> dict[int, tuple[str, str]]:
        """Column -> (vm, value XML) of the error cells of a row's text that carry Excel's
        value metadata (``vm``: the kind of an error such as #SPILL!, in rich values)."""
        out: dict[int, tuple[str, str]] = {}
        for m in self._cell_re.finditer(raw):
            ca = attrs(m.group(1))
            if ca.get("t") == "e" and "vm" in ca and "r" in ca:
                v = re.search(rf"<{self.p}v>.*?</{self.p}v>", m.group(2) or "")
                if v:
                    out[self._col(re.sub(r"\d", "", ca["r"]))] = (ca["vm"], v.group(0))
        return out

    def _quick_styles(self, raw: str) -> dict[int, str | None] | None:
        """Column -> style of the cells of a row written r-first; None if not so written."""
        found = self._styles_re.findall(raw)
        opening = f"<{self.p}c "
        if len(found) != raw.count(opening) + raw.count(f"<{self.p}c>"):
            return None
        out: dict[int, str | None] = {}
        for col, rest in found:
            if rest.startswith(' s="'):
                out[self._col(col)] = rest[4: rest.index('"', 4)]
            else:
                m = _S_ATTR.search(rest) if ' s="' in rest else None
                out[self._col(col)] = m.group(1) if m else None
        return out

    def _row_head(self, r: int, ra_text: str, lo: int, hi: int) -> str:
        """The row's start tag; its ``spans`` hint (Excel's) kept, widened to columns lo..hi."""
        if _PLAIN_ROW.fullmatch(ra_text) and "spans" not in ra_text:
            return f'<{self.p}row r="{r}"'
        ra = attrs(ra_text)
        spans = _SPANS.fullmatch(ra.get("spans", ""))
        if spans and lo:  # one span: kept, widened to the cells now in the row
            a, b = int(spans.group(1)), int(spans.group(2))
            ra["spans"] = f"{min(a, lo)}:{max(b, hi)}"
        else:
            ra.pop("spans", None)
        ra = {"r": str(r), **{k: v for k, v in ra.items() if k != "r"}}
        return f"<{self.p}row{_attr_text(ra)}"

    def _col_range(self, raw: str) -> tuple[int, int] | None:
        """(first, last) column of a row's cells, from its first and last cell."""
        opening = f'<{self.p}c r="'
        i = raw.find(opening)
        if i < 0:
            return None
        j = raw.rfind(opening)
        m, n = _LETTERS.match(raw, i + len(opening)), _LETTERS.match(raw, j + len(opening))
        if m is None or n is None:
            return None
        return self._col(m.group()), self._col(n.group())

    def formulas(self) -> Iterator[FormulaCell]:
        """Every formula cell, shared formulas translated to their own cell."""
        from openpyxl.formula.translate import Translator

        masters: dict[str, tuple[str, str]] = {}
        pending: list[tuple[int, int, str]] = []
        marker = "<" + self.p + "f"
        for r, rec in self.rows.items():
            if rec[1] is None and marker not in rec[2]:
                continue
            for c, xml in self.cells(r).items():
                if marker not in xml:
                    continue
                fm = self._f_re.search(xml)
                if fm is None:
                    continue
                fa = attrs(fm.group(1))
                text = _unescape(fm.group(2) or "")
                kind = fa.get("t", "normal")
                if kind == "shared":
                    si = fa.get("si", "")
                    if text:
                        masters[si] = (text, cell_name(r, c))
                        yield FormulaCell(r, c, text, "normal")
                    else:
                        pending.append((r, c, si))
                    continue
                if kind == "dataTable":
                    raise WorkbookError(
                        f"{self.name}!{cell_name(r, c)}: what-if data tables (TABLE()) "
                        "cannot be refreshed headlessly")
                ref = parse_range(fa["ref"]) if "ref" in fa else (r, c, r, c)
                if kind == "array":
                    dynamic = "cm" in attrs(self._cell_re.match(xml).group(1))
                    yield FormulaCell(r, c, text, "dynamic" if dynamic else "array", ref)
                else:
                    yield FormulaCell(r, c, text, "normal")
        for r, c, si in pending:
            if si not in masters:
                raise WorkbookError(f"{self.name}!{cell_name(r, c)}: shared formula {si} "
                                    "has no master cell (corrupt sheet)")
            text, origin = masters[si]
            moved = Translator("=" + text, origin=origin).translate_formula(cell_name(r, c))
            yield FormulaCell(r, c, moved[1:], "normal")

    def block_span(self, r: int) -> tuple[int, int] | None:
        """(first, last) column of row ``r`` when it holds exactly the cells a spill wrote
        whole (:meth:`set_block`), unparsed; None otherwise (then look at its cells)."""
        rec = self.rows.get(r)
        return self._spans.get(r) if rec is not None and rec[1] is None else None

    def occupied(self, r: int, c: int) -> bool:
        """Whether the cell holds a value or a formula."""
        cells = self.cells(r)
        if not cells:
            return False
        xml = cells.get(c)
        if xml is None:
            return False
        p = self.p
        return f"<{p}v>" in xml or f"<{p}v " in xml or f"<{p}f" in xml or f"<{p}is>" in xml

    def _style_for(self, c: int) -> str | None:
        for lo, hi, style in self.col_styles:
            if lo <= c <= hi:
                return style
        return None

    def set_value(self, r: int, c: int, value: Any, formula_update: str | None = None,
                  clear: bool = False) -> None:
        """Store ``value`` as the cell's value (formula cells keep their formula).

        ``formula_update`` replaces the ``ref`` of the cell's array formula;
        ``clear`` empties a cell that left a spill range (its style stays).
        """
        row = self.rows.get(r)
        if row is None:
            row = self.rows[r] = [f' r="{r}"', {}, None]
        cells = self.cells(r)
        row[2] = None  # edited
        old = cells.get(c)
        p = self.p
        if old is not None:
            m = self._cell_re.match(old)
            ca = attrs(m.group(1))
            inner = m.group(2) or ""
        else:
            ca = {"r": cell_name(r, c)}
            style = self._style_for(c)
            if style is not None:
                ca["s"] = style
            inner = ""
        fm = self._f_re.search(inner)
        f_xml = fm.group(0) if fm else ""
        if f_xml and formula_update is not None:
            f_xml = re.sub(r'\bref="[^"]*"', f'ref="{formula_update}"', f_xml, count=1)
        if clear and not f_xml:
            if f"<{p}v>" not in inner and f"<{p}v " not in inner and f"<{p}is>" not in inner:
                return  # holds no value: nothing to clear
            if ca.get("s") == self._style_for(c) and set(ca) <= {"r", "s", "t", "cm", "vm"}:
                cells.pop(c, None)  # a cell the spill created: remove it
                if not cells and set(attrs(row[0])) <= {"r", "spans"}:
                    del self.rows[r]
                return
            ca.pop("t", None)
            ca.pop("cm", None)
            ca.pop("vm", None)
            cells[c] = f"<{p}c{_attr_text(ca)}/>"
            return
        if self.styles is not None and isinstance(value, (ExcelDate, dt.date)):
            style = self.styles.date_style(ca.get("s"))
            if style is not None:
                ca = {"r": ca.get("r", cell_name(r, c)), "s": style,
                      **{k: v for k, v in ca.items() if k not in ("r", "s")}}
        t, v_xml = value_xml(value, formula=bool(f_xml))
        if not (t == "e" and ca.get("t") == "e" and _same_value(inner, v_xml)):
            ca.pop("vm", None)  # Excel's metadata of an error value stays with that value
        ca.pop("t", None)
        if t is not None:
            ca = {k: v for k, v in ca.items()}
            # keep attribute order r, s, t, cm as Excel writes them
            ordered = {k: ca[k] for k in ("r", "s") if k in ca}
            ordered["t"] = t
            ordered.update({k: v for k, v in ca.items() if k not in ordered})
            ca = ordered
        if p and v_xml:
            v_xml = v_xml.replace("<v>", f"<{p}v>").replace("<v ", f"<{p}v ").replace(
                "</v>", f"</{p}v>").replace(
                "<is><t", f"<{p}is><{p}t").replace("</t></is>", f"</{p}t></{p}is>")
        cells[c] = f"<{p}c{_attr_text(ca)}>{f_xml}{v_xml}</{p}c>"

    def _split(self, raw: str, r: int, c0: int, c_end: int, first: str,
               end: str) -> tuple[str, str, str] | None:
        """A row's cells as text: (left of column c0, columns c0..c_end-1, the rest).

        None for a row not written r-first (then it is parsed into cells).
        Cells of a row are in column order (the file format requires it).
        """
        p = self.p
        close = f"</{p}row>"
        k = raw.find(">")
        if raw[k - 1] == "/":
            return "", "", ""
        if not raw.endswith(close):
            return None
        inner = raw[k + 1: -len(close)]
        opening = f'<{p}c r="'
        if not self._r_first and inner.count(opening) != \
                inner.count(f"<{p}c ") + inner.count(f"<{p}c>"):
            return None
        j = inner.rfind(opening)
        if j < 0:
            return inner, "", ""
        m = _LETTERS.match(inner, j + len(opening))
        if m is None:
            return None
        last = self._col(m.group())
        if last < c0:
            return inner, "", ""
        a = inner.find(f'{opening}{first}{r}"')
        b = len(inner) if last < c_end else inner.find(f'{opening}{end}{r}"')
        if a < 0 or b < 0:  # no cell in that very column: look at each cell
            a = b = None
            for m in self._starts_re.finditer(inner):
                c = self._col(m.group(1))
                if a is None and c >= c0:
                    a = m.start()
                if c >= c_end:
                    b = m.start()
                    break
            b = len(inner) if b is None else b
            a = b if a is None else a
        return inner[:a], inner[a:b], inner[b:]

    def set_block(self, r0: int, c0: int, rows: list[list[Any]]) -> None:
        """Store a block of spilled values (cells without formulas) from (r0, c0).

        Values are as :func:`value_xml` takes them, or engine grid values
        (``formulas``' empty marker and error objects, serial-number dates).
        A cell keeps its style; a new cell takes its column's style. A row
        whose cells all lie in the block's columns is written as a whole
        without being parsed into cells.
        """
        p = self.p
        width = max((len(row) for row in rows), default=0)
        letters = [col_letters(c0 + j) for j in range(width)]
        col_style = [self._style_for(c0 + j) for j in range(width)]
        opens = [f'<{p}c r="{x}' for x in letters]
        mids = [f'" s="{st}"' if st is not None else '"' for st in col_style]
        defaults = {c0 + j: st for j, st in enumerate(col_style)}
        v_open = f"<{p}v>"
        texts: dict[str, str] = {}
        v_close = f"</{p}v></{p}c>"
        is_close = f"</{p}t></{p}is></{p}c>"

        styles = self.styles

        def cell(j: int, r: int, v: Any, style: str | None, had: bool) -> str | None:
            t = type(v)
            if t is ExcelDate and styles is not None:
                style = styles.date_style(style)
            s_attr = f' s="{style}"' if style is not None else ""
            if t is float or t is int or t is ExcelDate:
                if v != v or v in (math.inf, -math.inf):
                    return f'{opens[j]}{r}"{s_attr} t="e"><{p}v>#NUM!{v_close}'
                if v == 0:
                    text = "0"
                else:
                    text = repr(float(v))
                    if text[-2:] == ".0":
                        text = text[:-2]
                return f'{opens[j]}{r}"{s_attr}><{p}v>{text}{v_close}'
            if t is str:
                text = escape_text(v)
                space = ' xml:space="preserve"' if text != text.strip() else ""
                return f'{opens[j]}{r}"{s_attr} t="inlineStr"><{p}is><{p}t{space}>{text}' \
                       f"{is_close}"
            if v is None or type(v).__name__ == "Token":  # formulas' empty marker
                return f'{opens[j]}{r}"{s_attr}/>' if had or style is not None else None
            kind, body = value_xml(_plain(v), formula=False)
            if p and body:
                body = body.replace("<v>", f"<{p}v>").replace("</v>", f"</{p}v>")
            kind_attr = f' t="{kind}"' if kind else ""
            vm = error_vms.get(c0 + j) if error_vms and kind == "e" else None
            if vm is not None and vm[1] == body:  # Excel's metadata of that same error value
                kind_attr += f' vm="{vm[0]}"'
            return f'{opens[j]}{r}"{s_attr}{kind_attr}>{body}</{p}c>'

        error_vms: dict[int, tuple[str, str]] = {}

        todo: Iterable[int] = range(len(rows))
        if len(rows) >= BULK_ROWS and all(len(row) == width for row in rows):
            todo = []  # runs of rows the sheet does not have yet: in bulk; the others below
            start = 0
            for i in [i for i in range(len(rows)) if r0 + i in self.rows] + [len(rows)]:
                if i - start >= BULK_ROWS:  # 20,000 rows at a time: their cells' text only
                    for k in range(start, i, 20_000):  # while their rows are joined
                        self._new_rows(r0 + k, rows[k:min(k + 20_000, i)], c0,
                                       [opens, mids, v_close, is_close, texts], cell)
                else:
                    todo.extend(range(start, i))
                if i < len(rows):
                    todo.append(i)
                start = i + 1
        expected = [(x, st or "") for x, st in zip(letters, col_style, strict=True)]
        n_styled = sum(st is not None for st in col_style)
        pairs_re, opening = self._pairs_re, f"<{p}c "
        end_letters = col_letters(c0 + width)
        for i in todo:
            row = rows[i]
            r = r0 + i
            rec = self.rows.get(r)
            n = len(row)
            split: tuple[str, str, str] | None = ("", "", "")
            if rec is not None:
                split = None if rec[1] is not None else \
                    self._split(rec[2], r, c0, c0 + n, letters[0] if n else "",
                                end_letters if n == width else col_letters(c0 + n))
            old: dict[int, str | None] | None = None
            plain = True
            if split is not None:
                block = split[1]
                if not block:
                    old = {}
                elif n == width and pairs_re.findall(block) == expected and \
                        block.count(' s="') == n_styled and block.count(opening) == width:
                    old = defaults  # as a previous refresh wrote this row
                else:
                    old = self._quick_styles(block)
                    plain = False
            error_vms.clear()
            if split is not None and split[1] and ' vm="' in split[1]:
                error_vms.update(self._error_vms(split[1]))
            if old is not None:  # write the row at once, other cells kept as text
                prefix, _, suffix = split
                ra_text = rec[0] if rec is not None else f' r="{r}"'
                parts = [prefix]
                plain = plain and (not old or old == defaults)  # cells take their column's style
                for j, v in enumerate(row):
                    if plain and type(v) is float and v - v == 0.0:
                        text = repr(v)
                        if text[-2:] == ".0":
                            text = "0" if text == "-0.0" else text[:-2]
                        parts.append(f"{opens[j]}{r}{mids[j]}>{v_open}{text}{v_close}")
                        continue
                    if plain and type(v) is str:
                        parts.append(f"{opens[j]}{r}{mids[j]}{_inline(v, texts, p, is_close)}")
                        continue
                    had = (c0 + j) in old
                    x = cell(j, r, v, old[c0 + j] if had else col_style[j], had)
                    if x is not None:
                        parts.append(x)
                parts.append(suffix)
                head = self._row_head(r, ra_text, c0, c0 + n - 1) if n else \
                    self._row_head(r, ra_text, 0, 0)
                body = "".join(parts)
                raw = f"{head}>{body}</{p}row>" if body else f"{head}/>"
                if rec is None:
                    self.rows[r] = [ra_text, None, raw]
                else:
                    rec[1], rec[2] = None, raw
                if not prefix and not suffix and len(parts) == n + 2:
                    self._spans[r] = (c0, c0 + n - 1)
                else:
                    self._spans.pop(r, None)
                continue
            if rec is None:
                rec = self.rows[r] = [f' r="{r}"', {}, None]
            cells = self.cells(r)
            rec[2] = None
            for j, v in enumerate(row):
                c = c0 + j
                xml = cells.get(c)
                if xml is None:
                    style, had = col_style[j], False
                else:
                    m = _S_ATTR.search(xml, 0, xml.find(">"))
                    style, had = (m.group(1) if m else None), True
                    if ' vm="' in xml:
                        error_vms.update(self._error_vms(xml))
                x = cell(j, r, v, style, had)
                if x is not None:
                    cells[c] = x

    def _new_rows(self, r0: int, rows: list[list[Any]], c0: int, parts: list[Any],
                  cell: Callable[[int, int, Any, str | None, bool], str | None]) -> None:
        """:meth:`set_block` of rows the sheet does not have yet (a first spill), column by
        column: a column of finite numbers, dates or texts is written in one comprehension,
        any other cell by ``cell``; each row's XML is then joined once."""
        opens, mids, v_close, is_close, texts = parts
        p, n, width = self.p, len(rows), len(rows[0])
        numbers = list(range(r0, r0 + n))
        short: set[int] = set()  # rows with a cell left out (a blank without style)
        columns = []
        for j, col in enumerate(zip(*rows, strict=True)):
            kinds = set(map(type, col))
            head, mid = opens[j], mids[j]
            finite = kinds <= {float, ExcelDate} and all(map(math.isfinite, col))
            if finite and kinds == {float}:
                columns.append([f"{head}{r}{mid}><{p}v>{t}{v_close}" for r, t in
                                zip(numbers, _numbers(col), strict=True)])
                continue
            if finite and kinds == {ExcelDate}:
                style = self._style_for(c0 + j)  # a date style, as cell() gives it
                style = self.styles.date_style(style) if self.styles is not None else style
                s_attr = f' s="{style}"' if style is not None else ""
                columns.append([f'{head}{r}"{s_attr}><{p}v>{t}{v_close}' for r, t in
                                zip(numbers, _numbers(col), strict=True)])
                continue
            if kinds == {str}:
                out = []
                for r, v in zip(numbers, col, strict=True):
                    out.append(f"{head}{r}{mid}{_inline(v, texts, p, is_close)}")
                columns.append(out)
                continue
            style = self._style_for(c0 + j)
            out = []
            for i, (r, v) in enumerate(zip(numbers, col, strict=True)):
                x = cell(j, r, v, style, False)
                if x is None:
                    short.add(i)
                    x = ""
                out.append(x)
            columns.append(out)
        span = (c0, c0 + width - 1)
        row_open, row_close = f'<{p}row r="', f"</{p}row>"
        for i, (r, *cells) in enumerate(zip(numbers, *columns, strict=True)):
            body = "".join(cells)
            raw = f'{row_open}{r}">{body}{row_close}' if body else f'{row_open}{r}"/>'
            self.rows[r] = [f' r="{r}"', None, raw]
            if i in short:
                self._spans.pop(r, None)
            else:
                self._spans[r] = span

    def to_bytes(self) -> bytes:
        return b"".join(self.chunks())

    def chunks(self, rows: int = 20_000) -> Iterator[bytes]:
        """The sheet part, UTF-8, in pieces of ``rows`` rows: a large sheet is never held
        whole as text and bytes (:func:`write_package` writes the pieces as they come)."""
        p = self.p
        order = sorted(self.rows)
        lo = hi = None
        for r in order:  # the used columns, for <dimension> (before <sheetData>)
            _, cells, raw = self.rows[r]
            span = None
            if cells is None and r in self._spans:
                span = self._spans[r]
            elif cells is None:
                if raw.count(f'<{p}c r="') == raw.count(f"<{p}c ") + raw.count(f"<{p}c>"):
                    span = self._col_range(raw)
                else:
                    cells = self.cells(r)
            if cells:
                span = min(cells), max(cells)
            if span is not None:
                lo = span[0] if lo is None else min(lo, span[0])
                hi = span[1] if hi is None else max(hi, span[1])
        head = self.head
        if self.rows and lo is not None:
            dim = range_name(order[0], lo, order[-1], hi)
            head = re.sub(rf'(<{re.escape(p)}dimension\b[^>]*?\bref=")[^"]*"',
                          lambda m: m.group(1) + dim + '"', head, count=1)
        yield head.encode("utf-8")
        for start in range(0, len(order), rows):
            out = []
            for r in order[start:start + rows]:
                ra_text, cells, raw = self.rows[r]
                if raw is not None:
                    out.append(raw)
                    continue
                head = self._row_head(r, ra_text,
                                      *((min(cells), max(cells)) if cells else (0, 0)))
                if cells:
                    body = "".join([cells[c] for c in sorted(cells)])
                    out.append(f"{head}>{body}</{p}row>")
                else:
                    out.append(f"{head}/>")
            yield "".join(out).encode("utf-8")
        yield self.tail.encode("utf-8")
