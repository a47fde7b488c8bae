"""The headless refresh against Excel on the Excel-saved fixtures (``tests/data/excel/``).

Refreshes every fixture with ``keep_going`` and compares every formula cell with Excel's
cached value. Prints, per book: formula cells, cells equal to Excel's, cells the refresh
refused (kept stale, with the first reason), known differences (``known_differences.tsv``)
and the refresh time; then the share of formula cells equal to Excel's over the corpus,
over the cells the refresh computes, and outside the known differences.

    python benchmarks/bench_excel_corpus.py

Prints figures; asserts nothing (the tests assert what is deterministic).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from excel_corpus import cached_by_excel, compare, known_differences, sources

from ltvxl.workbook.refresh import refresh


def main() -> None:
    known = known_differences()
    total = equal = stale_total = known_total = 0
    print(f"load average {os.getloadavg()[0]:.2f} (2 cores)")
    print(f"{'book':38} {'cells':>6} {'equal':>6} {'refused':>7} {'known':>6} {'seconds':>8}")
    reasons: Counter[str] = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        for row in sources():
            book = Path(__file__).resolve().parents[1] / "tests" / "data" / "excel" / row["name"]
            out = Path(tmp) / row["name"]
            t = time.perf_counter()
            result = refresh(book, out, keep_going=True)
            seconds = time.perf_counter() - t
            if not cached_by_excel(book):
                print(f"{row['name']:38} {'(placeholder values: preservation only)':>31} "
                      f"{seconds:8.2f}")
                continue
            got = compare(row["name"], book, out)
            stale = {c for c, _ in result.stale}
            for _, why in result.stale:
                if not why.startswith("depends on"):
                    reasons[why.split(" (")[0][:70]] += 1
            n_known = sum(1 for c, _, _ in got.differ if (row["name"], c) in known)
            stale_equal = sum(1 for c in stale if c not in {d[0] for d in got.differ})
            total += got.cells
            equal += got.equal - stale_equal
            stale_total += len(stale)
            known_total += n_known
            print(f"{row['name']:38} {got.cells:6} {got.equal - stale_equal:6} {len(stale):7} "
                  f"{n_known:6} {seconds:8.2f}")
    computed = total - stale_total
    print(f"formula cells {total:,}; equal to Excel's {equal:,} ({equal / total:.2%} of all); "
          f"refused {stale_total:,}; computed {computed:,}, of which equal "
          f"{equal / computed:.2%}; outside the {known_total} known differences "
          f"{equal / (computed - known_total):.2%}")
    print("refusals by reason (cells whose own formula is refused):")
    for why, n in reasons.most_common():
        print(f"  {n:5}  {why}")


if __name__ == "__main__":
    main()
