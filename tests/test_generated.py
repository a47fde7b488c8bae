"""The committed generated files (docs, template, add-in, Lite main.py) are their build,
compared by meaning (ltvxl.cli.generate, ltvxl.workbook.compare), never by bytes."""

from __future__ import annotations

import io
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from ltvxl.cli import main
from ltvxl.cli.generate import (
    ABS_TOL,
    GENERATED,
    REL_TOL,
    compare,
    fit_precision,
)
from ltvxl.workbook.compare import package_differences, split_numbers

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "templates" / "ltv_template.xlsx"


def test_the_generated_files_are_current():
    """One check of every generated file against a fresh build (``ltvxl generate --check``)."""
    stale = [s for s in compare(ROOT, GENERATED) if s.differences]
    assert not stale, (
        "generated files differ in meaning from their sources (structure, formulas, "
        f"texts, or numbers by more than a relative {REL_TOL:g}): run `ltvxl generate` "
        "from the repository root and review the change:\n"
        + "\n".join(f"{s.path}: {'; '.join(s.differences)}" for s in stale))


def test_the_tolerance_covers_the_fits_own_precision():
    """REL_TOL rests on the optimiser's stopping rule: the sample's fits must stay well
    inside it (if a model or the sample makes fits looser, revisit REL_TOL)."""
    from ltvxl.models import clv
    from ltvxl.sample_data import load_sample_transactions
    from ltvxl.transactions.summary import customer_summary

    summary = customer_summary(load_sample_transactions(), None, "weeks").table
    worst = 0.0
    for model in ("pnbd", "bgnbd", "mbgnbd"):
        pred = clv.predict(summary, model=model, horizon=12, horizon_unit="months")
        for fit in (pred.purchases_fit, pred.spend_fit):
            worst = max(worst, fit_precision(fit.log_likelihood, fit.params, fit.std_errors))
    assert 1e-6 < worst < REL_TOL / 4


def _rewrite(package: bytes, edit) -> bytes:
    """The package with ``edit(name, text)`` applied to every worksheet part."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.startswith("xl/worksheets/sheet"):
                data = edit(info.filename, data.decode()).encode()
            dst.writestr(info, data)
    return out.getvalue()


_NUMBER_CELL = re.compile(
    r'(<c\s(?![^>]*\bt=")[^>/]*>(?:<f[^<]*</f>|<f[^>]*/>)?<v>)([^<]*)(</v>)')


def _scale_numbers(factor: float):
    """An edit multiplying the value of every numeric cell (no ``t`` attribute)."""
    return lambda name, xml: _NUMBER_CELL.sub(
        lambda m: f"{m[1]}{float(m[2]) * factor!r}{m[3]}", xml)


def test_float_noise_is_not_a_difference():
    """Every number of the committed template moved by 1e-8 relative (what summation
    order does between machines): the same workbook."""
    committed = TEMPLATE.read_bytes()
    noisy = _rewrite(committed, _scale_numbers(1 + 1e-8))
    assert noisy != committed
    assert package_differences(committed, noisy, rel_tol=REL_TOL, abs_tol=ABS_TOL) == []


def test_a_number_beyond_the_tolerance_is_a_difference():
    committed = TEMPLATE.read_bytes()
    moved = _rewrite(committed, _scale_numbers(1 + 10 * REL_TOL))
    diffs = package_differences(committed, moved, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    assert diffs and re.search(r"xl/worksheets/sheet\d+\.xml [A-Z]+\d+: ", diffs[0])


def test_a_formula_or_text_change_is_a_difference():
    committed = TEMPLATE.read_bytes()
    for old, new in (("horizon_months", "horizon_weeks"), ("P(alive)", "P(active)")):
        changed = _rewrite(committed, lambda name, xml, o=old, n=new: xml.replace(o, n))
        assert changed != committed
        diffs = package_differences(committed, changed, rel_tol=REL_TOL, abs_tol=ABS_TOL)
        assert diffs and "formula or a text differs" in diffs[0], (old, diffs)


def test_iteration_counts_are_the_optimisers_path_not_a_difference():
    committed = TEMPLATE.read_bytes()
    longer = _rewrite(committed, lambda name, xml: re.sub(
        r"converged in (\d+) iterations", lambda m: f"converged in {int(m[1]) + 1} iterations",
        xml))
    assert longer != committed
    assert package_differences(committed, longer, rel_tol=REL_TOL, abs_tol=ABS_TOL) == []


def test_split_numbers_leaves_strings_errors_and_indices_in_the_text():
    xml = ('<c r="A1" t="s"><v>3</v></c><c r="B1"><f>1+1</f><v>2.5</v></c>'
           '<c r="C1" t="e"><v>#DIV/0!</v></c><c r="D1" s="1"/><c r="E1" t="n"><v>-1e-3</v></c>')
    skeleton, numbers = split_numbers(xml)
    assert numbers == [("B1", 2.5), ("E1", -0.001)]
    assert '<v>3</v>' in skeleton and "<f>1+1</f><v>#</v>" in skeleton and "#DIV/0!" in skeleton


def _checkout(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    (root / "docs").mkdir(parents=True)
    shutil.copy(ROOT / "pyproject.toml", root)
    return root


def test_generate_check_names_a_stale_file_and_generate_rewrites_it(tmp_path, capsys):
    root = _checkout(tmp_path)
    (root / "docs" / "functions.md").write_text("old\n", encoding="utf-8")
    assert main(["generate", "--check", "--root", str(root), "docs/functions.md"]) == 1
    err = capsys.readouterr().err
    assert "stale: docs/functions.md" in err and "run `ltvxl generate`" in err
    assert (root / "docs" / "functions.md").read_text(encoding="utf-8") == "old\n"
    assert main(["generate", "--root", str(root), "docs/functions.md"]) == 0
    assert "wrote docs/functions.md" in capsys.readouterr().out
    assert main(["generate", "--check", "--root", str(root), "docs/functions.md"]) == 0
    assert "current: docs/functions.md" in capsys.readouterr().out
    assert (root / "docs" / "functions.md").read_bytes() == (
        ROOT / "docs" / "functions.md").read_bytes()


def test_generate_outside_a_checkout_and_unknown_files_are_one_line_errors(tmp_path, capsys):
    assert main(["generate", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "not the root of an ltvxl checkout" in err and "Traceback" not in err
    assert main(["generate", "--root", str(_checkout(tmp_path)), "README.md"]) == 1
    assert "not a generated file: README.md" in capsys.readouterr().err


@pytest.mark.parametrize("path", [g.path for g in GENERATED])
def test_every_generated_file_is_committed(path):
    assert (ROOT / path).is_file(), f"{path} missing: run `ltvxl generate`"
