"""How a text (CSV) file is written: its encoding, delimiter and header row.

- Encoding: a byte-order mark says UTF-8 or UTF-16; otherwise the file is
  UTF-8 when all of it decodes as UTF-8 (checked block by block, without
  holding the text), else the encoding charset-normalizer finds in it
  (Windows-1252 for what Windows Excel writes in Western Europe). ``--encoding``
  overrides.
- Delimiter: of ``,`` ``;`` tab and ``|``, the one that splits the first
  lines into the same number of fields (more than one), the most fields
  winning. ``--delimiter`` overrides.
- Header row: the first line with that number of fields, all of them text
  (not numbers), under any title, blank or preamble lines. ``--header-row N``
  (1-based) overrides.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..errors import LtvxlError
from .options import DELIMITERS

_SAMPLE = 1 << 16
_BLOCK = 1 << 20
_NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 with BOM", "utf-16": "UTF-16",
          "cp1252": "Windows-1252", "windows-1252": "Windows-1252", "latin_1": "Latin-1",
          "iso-8859-1": "Latin-1"}


@dataclass(frozen=True)
class TextDialect:
    """encoding: a Python codec name; delimiter; header_line: 0-based line of the names;
    names: the column names; said: what was detected, for the columns line."""

    encoding: str
    delimiter: str
    header_line: int
    names: list[str]
    said: tuple[str, ...]


def sniff(path: Path, *, encoding: str | None = None, delimiter: str | None = None,
          header_row: int | None = None) -> TextDialect:
    """The dialect of a CSV file (``None`` arguments are detected)."""
    said: list[str] = []
    enc = encoding or detect_encoding(path)
    if encoding is None and enc not in ("utf-8",):
        said.append(_NAMES.get(enc, enc))
    try:
        with path.open("rb") as fh:
            raw = fh.read(_SAMPLE)
        text = raw.decode(enc, errors="strict" if len(raw) < _SAMPLE else "ignore")
    except (LookupError, UnicodeDecodeError) as exc:
        raise LtvxlError(f"{path.name}: cannot read as {enc} text ({exc}); give the "
                         "encoding with --encoding (e.g. utf-8, cp1252, utf-16)") from None
    text = text.lstrip("\ufeff")
    lines = text.splitlines()
    if len(raw) == _SAMPLE and lines:
        lines = lines[:-1]  # the last line of the sample may be cut
    if not any(line.strip() for line in lines):
        raise LtvxlError(f"{path.name}: the file is empty")
    if delimiter is None:
        delimiter = ("\t" if path.suffix.lower() == ".tsv" else _detect_delimiter(lines))
        if delimiter != ",":
            said.append(f"{DELIMITERS[delimiter]}-delimited")
    rows = list(csv.reader(io.StringIO("\n".join(lines[:200])), delimiter=delimiter))
    if header_row is not None:
        line = header_row - 1
        if line >= len(rows):
            raise LtvxlError(f"{path.name}: header_row {header_row} is past the first "
                             f"{len(rows)} lines")
    else:
        line = _header_line(rows)
        if line:
            said.append(f"header on line {line + 1}")
    names = [n.strip() for n in rows[line]]
    return TextDialect(enc, delimiter, line, names, tuple(said))


def detect_encoding(path: Path) -> str:
    """The codec of a text file: by its BOM, else UTF-8 if it all decodes, else detected."""
    with path.open("rb") as fh:
        head = fh.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8"  # pyarrow skips the mark
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        fh.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while block := fh.read(_BLOCK):
                decoder.decode(block)
            decoder.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError as exc:
            at = fh.tell() - len(block) + exc.start
    with path.open("rb") as fh:  # a sample around the first byte that is not UTF-8
        fh.seek(max(0, at - _SAMPLE))
        sample = fh.read(4 * _SAMPLE)
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - installed with ltvxl
        return "cp1252"
    # what Windows Excel writes: Windows-1252 in Western Europe and the Americas, another
    # Windows code page elsewhere; charset-normalizer tells them apart by the text's language
    best = from_bytes(sample, cp_isolation=["cp1252", "cp1250", "cp1251", "cp1253", "cp1254",
                                            "cp1257"]).best()
    found = best.encoding if best is not None else "cp1252"
    try:
        sample.decode("cp1252")
    except UnicodeDecodeError:
        return found
    return found if found in ("cp1250", "cp1251", "cp1253") and best is not None and \
        best.coherence > 0.5 else "cp1252"


def single_byte(encoding: str) -> bool:
    """Whether a codec writes each character as one byte and ASCII as itself (the Windows
    and ISO-8859 code pages), so that a file in it can be split into fields as bytes."""
    try:
        ascii_ok = bytes(range(128)).decode(encoding) == "".join(map(chr, range(128)))
        pairs = bytes(x for i in range(128, 256) for j in range(128, 256) for x in (i, j))
        return ascii_ok and len(pairs.decode(encoding, errors="replace")) == len(pairs)
    except (LookupError, UnicodeDecodeError):
        return False


def _detect_delimiter(lines: list[str]) -> str:
    body = [line for line in lines[:100] if line.strip()]
    best, best_score = ",", (0, 0)
    for delim in DELIMITERS:
        counts = [len(r) for r in csv.reader(io.StringIO("\n".join(body)), delimiter=delim)]
        if not counts:
            continue
        width, n = Counter(counts).most_common(1)[0]
        if width < 2:
            continue
        score = (n, width)
        if score > best_score:
            best, best_score = delim, score
    return best


def _is_name(cell: str) -> bool:
    text = cell.strip()
    if not text:
        return False
    try:
        float(text.replace(",", "."))
    except ValueError:
        return True
    return False


def _header_line(rows: list[list[str]]) -> int:
    """The first row as wide as most rows whose cells are all names (0 if none is)."""
    widths = Counter(len(r) for r in rows if any(c.strip() for c in r))
    if not widths:
        return 0
    width = widths.most_common(1)[0][0]
    for i, r in enumerate(rows[:50]):
        filled = [c for c in r if c.strip()]
        if len(r) == width and len(filled) >= min(2, width) and all(map(_is_name, filled)):
            return i
    return 0
