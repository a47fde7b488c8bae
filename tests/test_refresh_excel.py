"""The refresh against Excel on workbooks Excel saved (``tests/data/excel/``).

Every fixture is refreshed with ``keep_going``; every formula cell the refresh computes must
equal Excel's cached value, except the cells documented in ``KNOWN`` (where ``formulas``
or ltvxl computes differently from Excel, with the reason), and every part other than the
cell values must be unchanged (sheets compared outside ``<v>``, ``<is>`` and ``t``), except
the parts documented in ``KNOWN_PARTS``. Both lists can only shrink.
"""

from __future__ import annotations

import hashlib

import pytest
from excel_corpus import (
    CORPUS,
    cached_by_excel,
    changed_parts,
    compare,
    formula_values,
    known_differences,
    known_part_differences,
    sources,
)

from ltvxl.workbook.refresh import STALE_COUNT_PROPERTY, STALE_PROPERTY, refresh

ROWS = sources()

KNOWN = known_differences()
"""(book, cell) -> why the refreshed value differs from Excel's (``known_differences.tsv``)."""
KNOWN_PARTS = known_part_differences()
"""(book, part) -> why a part differs outside the values (``known_part_differences.tsv``)."""


def test_fixtures_are_as_recorded():
    """The provenance file lists every fixture with the checksum of the file as copied."""
    names = {p.name for p in CORPUS.glob("*.xlsx")}
    assert names == {row["name"] for row in ROWS}
    for row in ROWS:
        digest = hashlib.sha256((CORPUS / row["name"]).read_bytes()).hexdigest()
        assert digest == row["sha256"], row["name"]


@pytest.mark.parametrize("row", ROWS, ids=[r["name"] for r in ROWS])
def test_refresh_gives_excels_values(row, tmp_path):
    book = CORPUS / row["name"]
    before = book.read_bytes()
    out = tmp_path / "out.xlsx"
    result = refresh(book, out, keep_going=True)
    assert book.read_bytes() == before
    stale = {cell for cell, _ in result.stale}
    if cached_by_excel(book):
        got = compare(row["name"], book, out)
        wrong = [d for d in got.differ if d[0] not in stale and (row["name"], d[0]) not in KNOWN]
        assert not wrong, wrong[:20]
        assert got.cells > 0
        differ = {d[0] for d in got.differ}
        fixed = [c for b, c in KNOWN if b == row["name"] and c not in differ]
        assert not fixed, f"agree with Excel now: remove from known_differences.tsv: {fixed}"
    changed = changed_parts(book, out)
    parts = {p for b, p in KNOWN_PARTS if b == row["name"]}
    gone = sorted(parts - set(changed))
    assert not gone, f"equal to Excel's now: remove from known_part_differences.tsv: {gone}"
    changed = [c for c in changed if c not in parts]
    if stale:  # the stale cells are recorded in the custom document properties
        assert set(changed) <= {"part list: ['docProps/custom.xml']", "[Content_Types].xml",
                                "_rels/.rels", "docProps/custom.xml"}
        import zipfile

        props = zipfile.ZipFile(out).read("docProps/custom.xml").decode()
        assert STALE_PROPERTY in props and STALE_COUNT_PROPERTY in props
        assert f"<vt:i4>{len(stale)}</vt:i4>" in props
    else:
        assert changed == []


@pytest.mark.parametrize("row", [r for r in ROWS if r["name"] != "formulas__test.xlsx"],
                         ids=lambda r: r["name"])
def test_refreshing_again_is_stable(row, tmp_path):
    once, twice = tmp_path / "once.xlsx", tmp_path / "twice.xlsx"
    refresh(CORPUS / row["name"], once, keep_going=True)
    refresh(once, twice, keep_going=True)
    assert formula_values(once) == formula_values(twice)


def test_the_function_list_in_the_docs_is_the_engines():
    import subprocess
    import sys
    from pathlib import Path

    # in a fresh interpreter: other tests register functions in the engine's global table
    code = "from ltvxl.workbook.refresh.functions import status_markdown as s; print(s(), end='')"
    listed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout
    docs = (Path(__file__).resolve().parents[1] / "docs" / "refresh.md").read_text()
    assert listed and listed in docs, "regenerate the function list of docs/refresh.md"
