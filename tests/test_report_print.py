"""The report as it prints: the Dashboard on one landscape page, every headline figure
legible (no ``###`` of a column too narrow), rendered by LibreOffice to PDF (issue 11).

LibreOffice recomputes array formulas on loading and, without ltvxl, shows ``#NAME?``
in the spilled tables. What an Excel user sees are the values ltvxl stored, so the test
prints a copy whose formulas are removed (their stored values kept): the page then holds
what Excel shows. Skipped where LibreOffice (soffice) or poppler's pdftotext is absent;
.ci/run installs both.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pytest

from ltvxl.cli import main
from ltvxl.workbook import template

pytestmark = pytest.mark.skipif(
    shutil.which("soffice") is None or shutil.which("pdftotext") is None,
    reason="LibreOffice (soffice) and poppler (pdftotext) are needed to print the report")

FORMULA = re.compile(rb"<f(?:\s[^>]*)?/>|<f(?:\s[^>]*)?>.*?</f>", re.S)


def _values_only(src: Path, dst: Path) -> None:
    """A copy of ``src`` whose sheets keep every stored value and no formula."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.startswith("xl/worksheets/sheet"):
                data = FORMULA.sub(b"", data)
            zout.writestr(info, data)


def _pages(book: Path, tmp: Path) -> list[str]:
    """The text of each printed page of ``book`` (LibreOffice to PDF, pdftotext per page)."""
    profile = tmp / "profile"  # a profile of its own: parallel runs do not share a lock
    subprocess.run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(tmp), str(book)],
                   check=True, capture_output=True, timeout=300)
    text = subprocess.run(["pdftotext", "-layout", str(tmp / f"{book.stem}.pdf"), "-"],
                          check=True, capture_output=True, text=True).stdout
    return text.split("\f")


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("print")
    out = tmp / "report.xlsx"
    assert main(["report", "-o", str(out), "--cac", "40", "--margin", "0.3",
                 "--currency", "EUR"]) == 0
    shown = tmp / "shown.xlsx"
    _values_only(out, shown)
    return openpyxl.load_workbook(out, data_only=True)["Dashboard"], _pages(shown, tmp)


def test_the_dashboard_prints_on_one_page(printed):
    ws, pages = printed
    first = pages[0]
    assert "Customer lifetime value report" in first
    last_block = ws.cell(template.LAST_PERIOD_ROW, 1).value
    assert last_block and last_block.split(" (")[0] in first  # the last block is on page 1
    assert "Customer lifetime value report" not in "".join(pages[1:])


def test_every_dashboard_figure_is_legible(printed):
    ws, pages = printed
    first = pages[0]
    assert "###" not in first and "#NAME?" not in first
    customers = ws.cell(template.HEADLINE_ROW, 5).value
    revenue = ws.cell(template.HEADLINE_ROW + 1, 5).value
    assert f"{customers:,.0f}" in first
    assert f"{revenue:,.2f} EUR" in first


def test_counts_print_as_whole_numbers_and_churn_as_a_percentage(printed):
    ws, pages = printed
    labels = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(6, template.STATS_END)}
    lines = pages[0].splitlines()

    def shown(label: str) -> str:
        """What the page prints after ``label`` on its line."""
        return next(li for li in lines if li.lstrip().startswith(label)).split(label, 1)[1]

    purchases = labels["purchases"]
    assert re.search(rf"\s{purchases:,.0f}(\s|$)", shown("purchases"))
    churn = next(v for k, v in labels.items() if k.startswith("yearly churn"))
    assert f"{churn:.1%}" in shown("yearly churn")


def test_no_sheet_prints_an_unformatted_number(printed):
    """Every table has number formats: no page shows a raw float such as 0.2222222."""
    _, pages = printed
    raw = [(i + 1, m.group(0)) for i, page in enumerate(pages)
           for m in re.finditer(r"(?<![\d.])\d+\.\d{5,}", page)]
    assert not raw, raw[:5]


def test_the_table_sheets_show_whole_counts_and_percentages(printed):
    _, pages = printed
    cohorts = next(p for p in pages if p.lstrip().startswith("Cohorts"))
    assert re.search(r"\s100%\s", cohorts)  # month 0 retention, as a percentage
    segments = next(p for p in pages if p.lstrip().startswith("Segments"))
    champions = next(li for li in segments.splitlines() if li.lstrip().startswith("Champions"))
    assert re.match(r"\s*Champions\s+\d+\s+\d+\.\d%", champions), champions


def test_the_channel_model_view_prints_whole_headers_and_formatted_numbers(printed):
    """The Channels sheet's MODEL view: its header wraps whole in its columns (before:
    "exp(purchase coexp(dropout coe" cut by the next cell), customers print whole, money
    with the currency, rate ratios and CLV:CAC as 0.00x."""
    _, pages = printed
    page = next(p for p in pages if p.lstrip().startswith("Channels"))
    view = page.split("Predicted CLV by channel", 1)[1]
    for words in ("predicted CLV per", "exp(purchase", "exp(dropout", "coef.)", "90% low",
                  "predicted CLV:CAC", "caution"):
        assert words in view, words
    row = next(li for li in view.splitlines() if li.rstrip().endswith(" reference"))
    money, ratio = r"[\d,]+\.\d\d EUR", r"\d+\.\d\dx"
    assert re.match(rf"\s*\S[^\d]*\s{{2,}}\d[\d,]*\s+{money}\s+{money}\s+{money}\s+{ratio}\s+"
                    rf"{ratio}\s+{money}\s+{ratio}\s+reference", row), row
