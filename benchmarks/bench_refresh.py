"""Headless refresh of the template holding 100,000 transactions: time and peak memory.

Target (issue 5): at most 5 s and at most 1 GiB peak memory on the 2-core
reference machine. The template is built around a seeded simulated log
(20,000 customers, six channels, two years), then ``ltvxl refresh`` runs in a
fresh subprocess so that its wall time (including imports) and peak resident
memory are its own. ``--peer`` also loads the same workbook into the
``formulas`` library's ExcelModel (a whole-workbook cell graph) for comparison;
that takes minutes.

    python benchmarks/bench_refresh.py [--rows 100000] [--runs 1] [--peer]

Prints figures; asserts nothing (timings on a shared machine are noisy).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CHILD = """
import sys, time
t = time.perf_counter()
from ltvxl.workbook.refresh import refresh
r = refresh(sys.argv[1], sys.argv[2])
print(f"{time.perf_counter() - t:.2f} {r.formulas} {r.spilled_cells} {len(r.warnings)}")
"""

PEER = """
import sys, time
t = time.perf_counter()
import formulas
try:
    m = formulas.ExcelModel().loads(sys.argv[1]).finish()
    m.calculate()
except Exception as exc:
    print(f"failed after {time.perf_counter() - t:.2f} s: {type(exc).__name__}: "
          f"{str(exc).splitlines()[-1][:90]}")
else:
    print(f"{time.perf_counter() - t:.2f} s inside")
"""


def plain_book(path: Path, data: object) -> None:
    """The same transactions with a few native formulas over explicit ranges (no tables,
    no ltvxl functions): what formulas.ExcelModel can load."""
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    ws = book.add_worksheet("Transactions")
    days = np.asarray(data.dates, dtype="datetime64[D]").astype(np.int64) + 25569
    for i, (cid, day, amount) in enumerate(zip(data.ids, days.tolist(), data.amounts.tolist(),
                                               strict=True), start=1):
        ws.write_string(i, 0, cid)
        ws.write_number(i, 1, day)
        ws.write_number(i, 2, amount)
    n = len(data.ids) + 1
    ws.write_formula("F1", f"=SUM(C2:C{n})")
    ws.write_formula("F2", f"=MAX(B2:B{n}) - MIN(B2:B{n})")
    ws.write_formula("F3", f"=AVERAGE(C2:C{n})")
    book.close()


def simulated(rows: int, seed: int = 5) -> object:
    from ltvxl.workbook.template import TransactionsData

    rng = np.random.default_rng(seed)
    customers = max(rows // 5, 1)
    cust = rng.integers(0, customers, size=rows)
    first = rng.integers(0, 730, size=customers)
    day = np.minimum(first[cust] + rng.exponential(120.0, size=rows).astype(np.int64), 729)
    order = np.lexsort((cust, day))
    cust, day = cust[order], day[order]
    dates = np.datetime64("2023-01-01") + day.astype("timedelta64[D]")
    amounts = np.round(rng.gamma(2.0, 30.0, size=rows), 2)
    channel_names = np.array(["Organic Search", "Paid Search", "Facebook", "Instagram",
                              "Email", "Referral"])
    channels = channel_names[rng.integers(0, 6, size=customers)][cust]
    ids = [f"C{c:06d}" for c in cust.tolist()]
    return TransactionsData(ids, dates, amounts, channels.tolist())


def per_row_book(path: Path, rows: int) -> None:
    """One formula per row and column: =LTV(A2,B2,C2), =D2/500, =IF(E2>=3,"ok","low")."""
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    ws = book.add_worksheet("S")
    for i in range(1, rows + 1):
        ws.write_row(i, 0, [100.0 + i % 7, 3, 5])
        ws.write_formula(i, 3, f"=LTV(A{i + 1},B{i + 1},C{i + 1})")
        ws.write_formula(i, 4, f"=D{i + 1}/500")
        ws.write_formula(i, 5, f'=IF(E{i + 1}>=3,"ok","low")')
    ws.write_formula("H1", f"=SUM(D2:D{rows + 1})")
    book.close()


MEASURE = """
import os, subprocess, sys, time
t = time.perf_counter()
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
with open(sys.argv[1], "w") as fh:
    fh.write(f"{os.waitstatus_to_exitcode(status)} {time.perf_counter() - t} "
             f"{usage.ru_maxrss / 1024.0} {usage.ru_utime + usage.ru_stime}")
"""
"""Runs a command and records (exit code, wall, peak RSS MiB, CPU s). The command starts from
this small process: on Linux a child's peak RSS counts the memory of the process it was forked
from, so a command started from the benchmark itself (holding a million simulated rows) would
show the benchmark's memory as its own."""


def measured(cmd: list[str]) -> tuple[str, str, float, float, float]:
    """(stdout, stderr, wall seconds, peak RSS MiB, CPU seconds) of ``cmd`` in a fresh process;
    SystemExit with its stderr when it fails."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        record = Path(tmp) / "usage"
        proc = subprocess.run([sys.executable, "-c", MEASURE, str(record), *cmd],
                              capture_output=True, text=True, check=False)
        code, wall, rss, cpu = record.read_text().split()
    if int(code) != 0 or proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])[:100]} failed:\n{proc.stderr[-2000:]}")
    return proc.stdout, proc.stderr, float(wall), float(rss), float(cpu)


def run_child(code: str, *args: str) -> tuple[str, float, float]:
    """(stdout, wall seconds, peak RSS in MiB) of a fresh Python running ``code``."""
    out, _, wall, rss, _ = measured([sys.executable, "-c", code, *args])
    return out.strip(), wall, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--peer", action="store_true",
                        help="also time formulas.ExcelModel on the same workbook (slow)")
    args = parser.parse_args()
    from ltvxl.workbook.template import build_workbook

    with tempfile.TemporaryDirectory() as tmp:
        raw, out = Path(tmp) / "template.xlsx", Path(tmp) / "refreshed.xlsx"
        t = time.perf_counter()
        data = simulated(args.rows)
        build_workbook(raw, data)
        print(f"built the template with {args.rows:,} transactions in "
              f"{time.perf_counter() - t:.1f} s ({raw.stat().st_size / 2**20:.1f} MiB)")
        print(f"machine: {os.cpu_count()} cores, load average "
              f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print("target: <= 5 s and <= 1024 MiB peak RSS")
        for run in range(1, args.runs + 1):
            stdout, wall, rss = run_child(CHILD, str(raw), str(out))
            inner, formulas, spilled, warnings = stdout.split()
            print(f"first refresh (template as built), run {run}: {wall:.2f} s wall (process "
                  f"start to exit; {inner} s inside), peak RSS {rss:.0f} MiB; {formulas} "
                  f"formulas, {int(spilled):,} spilled cells, {warnings} warnings")
        again = Path(tmp) / "again.xlsx"  # the monthly case: spill ranges already filled
        for run in range(1, args.runs + 1):
            stdout, wall, rss = run_child(CHILD, str(out), str(again))
            inner = stdout.split()[0]
            print(f"second refresh (of the refreshed workbook), run {run}: {wall:.2f} s wall "
                  f"({inner} s inside), peak RSS {rss:.0f} MiB")
        rows_book, rows_out = Path(tmp) / "rows.xlsx", Path(tmp) / "rows_out.xlsx"
        per_row_book(rows_book, 10_000)
        stdout, wall, rss = run_child(CHILD, str(rows_book), str(rows_out))
        print(f"ltvxl refresh of 10,000 rows x 3 per-row formulas: {wall:.2f} s wall "
              f"({stdout.split()[0]} s inside), peak RSS {rss:.0f} MiB")
        if args.peer:
            stdout, wall, rss = run_child(PEER, str(raw))
            print(f"formulas.ExcelModel load+calculate of the template: {stdout} "
                  f"({wall:.2f} s wall, peak RSS {rss:.0f} MiB)")
            plain, plain_out = Path(tmp) / "plain.xlsx", Path(tmp) / "plain_out.xlsx"
            plain_book(plain, data)
            stdout, wall, rss = run_child(PEER, str(plain))
            print(f"formulas.ExcelModel, the transactions with 3 native formulas: {stdout} "
                  f"({wall:.2f} s wall, peak RSS {rss:.0f} MiB)")
            stdout, wall, rss = run_child(CHILD, str(plain), str(plain_out))
            print(f"ltvxl refresh of that workbook: {wall:.2f} s wall "
                  f"({stdout.split()[0]} s inside), peak RSS {rss:.0f} MiB")
    print(f"(this process: peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}"
          " MiB, building included)")


if __name__ == "__main__":
    main()
