"""Hostile and degenerate input never hurts (issue 13): the cases seen, one by one, and a
sample of the generated calls of benchmarks/bench_hostile.py (which runs 100,000)."""

import datetime as dt
import sys
import time
from pathlib import Path

import pytest

import ltvxl.udfs  # noqa: F401
from ltvxl.worksheet import REGISTRY

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_hostile

F = REGISTRY
DATES = [[dt.datetime(2024, 1, 1)], [dt.datetime(2024, 2, 1)], [dt.datetime(2024, 3, 5)]]
IDS = [["a"], ["b"], ["c"]]
AMOUNTS = [[10.0], [20.0], [30.0]]


def test_a_sample_of_generated_calls_breaks_no_rule():
    counts = bench_hostile.run(1500, seed=13)
    assert counts["calls"] == 1500
    broken = {k: v for k, v in counts.items() if k != "calls" and v}
    assert not broken, (broken, bench_hostile.FIRST)


def test_echoes_of_user_input_are_cut_with_an_ellipsis():
    out = F["CLV_PREDICT"](IDS, DATES, AMOUNTS, None, None, None, None, "y" * 300)
    assert out.startswith("#VALUE! model must be AUTO or one of PNBD") and len(out) < 140
    assert "..." in out
    passed_on = F["LTV"]("#N/A " + "x" * 300, 3, 5)
    assert passed_on.startswith("#N/A xxx") and len(passed_on) == 255
    assert passed_on.endswith("\u2026")


def test_long_ids_are_refused_naming_the_row():
    ids = [["b"], ["x" * 300]]
    dates = [[dt.datetime(2024, 1, 1)], [dt.datetime(2024, 1, 2)]]
    out = F["LTV_CUSTOMERS"](ids, dates, [[1.0], [2.0]])
    assert out == ("#VALUE! ids: row 2 holds a text of 300 characters; ids and names may have "
                   "at most 255: shorten it")


@pytest.mark.parametrize("name", ["LTV_CUSTOMERS", "RFM_SEGMENTS", "RFM_SUMMARY", "CLV_FIT",
                                  "LTV_BY_GROUP", "LTV_STATS"])
def test_every_date_blank_is_a_message_naming_the_row(name):
    extra = [IDS] if name == "LTV_BY_GROUP" else []  # its first argument is the groups
    out = F[name](*extra, IDS, [[None]] * 3, AMOUNTS)
    assert out == "#VALUE! dates row 1: the date is missing"


def test_an_amount_beyond_1e308_is_a_message_naming_the_row():
    out = F["LTV_CUSTOMERS"](IDS, DATES, [[1.0], [10**400], [2.0]])
    assert out == "#VALUE! amounts row 2: a number of 401 digits is not a cell value"


def test_a_huge_integer_in_a_list_of_numbers_is_a_message():
    out = F["LTV_TIER"]([[1.0], [2.0]], None, [[10**400]])
    assert out.startswith("#VALUE! breaks cell 1 is not a finite number"), out


def test_a_horizon_beyond_100_years_is_refused_before_any_fit():
    t0 = time.perf_counter()
    out = F["CLV_PREDICT"](IDS, DATES, AMOUNTS, 1e9)
    assert out == "#VALUE! horizon must be at most 1200 months (100 years), got 1e+09 months"
    assert time.perf_counter() - t0 < 2.0


def test_bgbb_fit_work_is_bounded_by_what_the_user_sees():
    t0 = time.perf_counter()
    out = F["BGBB_FIT"]([[1], [2]], [[1], [3]], [[5e6], [4]], None)
    assert time.perf_counter() - t0 < 2.0
    assert out.startswith("#VALUE! BG/BB fits at most 50,000 terms (rows x periods), got 2 x")


def test_sbg_fit_refuses_counts_beyond_1e15():
    out = F["SBG_FIT"]([[1e300], [1e299], [5]])
    assert out == "#VALUE! alive must be counts up to 1e15, got 1e+300 in row 1"


def test_a_fit_that_does_not_converge_shows_short_rows():
    """The status of a non-converged fit was one 257- to 505-character text; now the status,
    each problem and the remedy are rows of their own, each under 200 characters."""
    from ltvxl.models import sbg

    fit = sbg.fit([100, 100, 100, 99.999999])
    rows = fit.table()
    texts = [r[1] for r in rows if isinstance(r[1], str)]
    assert all(len(t) <= 200 for t in texts), texts
    if not fit.converged:
        assert ["status", "not converged", None] in rows
        assert any(r[0] == "problem" for r in rows)


PAYLOADS = ["=cmd|' /C calc'!A0", "@SUM(A1)", '=HYPERLINK("http://x","y")', "+A1", "-1+2",
            "\t=1", "\r=1"]


def test_csv_output_makes_formula_payloads_inert_and_keeps_numbers(tmp_path, capsys):
    import csv

    from ltvxl.cli import main

    rows = [("customer_id", "date", "amount")]
    for i, payload in enumerate([*PAYLOADS, "plain", 12345]):
        rows += [(payload, f"2024-01-{i + 1:02d}", 10 + i), (payload, f"2024-05-{i + 1:02d}", 12)]
    src = tmp_path / "hostile.csv"
    with src.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    out = tmp_path / "clv.csv"
    assert main(["clv", str(src), "-o", str(out), "--model", "bgnbd"]) == 0
    with out.open(newline="") as fh:
        written = list(csv.reader(fh))
    cells = [row[0] for row in written[1:]]
    for cell in cells:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert "'=cmd|' /C calc'!A0" in cells and "'@SUM(A1)" in cells and "'-1+2" in cells
    assert "plain" in cells and "12345" in cells  # other texts and numbers unchanged
    assert float(written[1][1]) >= 0  # the figures stay numbers


def test_inert_text_follows_the_owasp_rule():
    from ltvxl.fileio import inert_text

    assert [inert_text(p) for p in PAYLOADS] == ["'" + p for p in PAYLOADS]
    assert inert_text(-5.0) == -5.0 and inert_text("a=b") == "a=b" and inert_text("") == ""


def test_sbg_derl_without_discount_is_gauss_closed_form_and_fast():
    """d = 0: DERL = (beta + n) / (alpha - 1) (Gauss's 2F1 at 1), infinite for alpha <= 1
    (#NUM!); scipy's series at x = 1 took about a second for alpha near 0."""
    import mpmath as mp

    a, b, n = 2.7, 1.3, 4.0
    with mp.workdps(30):
        ref = (b + n) / (a + b + n) * mp.hyp2f1(1, b + n + 1, a + b + n + 1, 1)
    assert F["SBG_DERL"](a, b, 0.0, n) == pytest.approx(float(ref), rel=1e-12)
    assert F["SBG_DERL"](a, b, 0.0, n) == pytest.approx((b + n) / (a - 1), rel=1e-15)
    t0 = time.perf_counter()
    assert F["SBG_DERL"](1e-6, 1e-6, 0.0, 0.0).startswith("#NUM!")
    assert time.perf_counter() - t0 < 0.5
