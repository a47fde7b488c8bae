"""Speed and memory of the per-customer summary (issue 3, section 6): prints figures only.

    python benchmarks/bench_summary.py [--runs 7] [--skip-big] [--peer-python PATH]

1. 1,000,000 transactions of about 170,000 customers, in memory: building the
   TransactionLog from arrays, and ``customer_summary`` on it (target: <= 0.15 s
   median), side by side with ``lifetimes.utils.summary_data_from_transaction_data``
   on the same data (run by the peer interpreter, default /work/peers-venv/bin/python,
   which has lifetimes 0.11.3; skipped when it is missing), with the ratio and a check
   that both give the same frequency, recency, T and monetary value.
2. The same from a Parquet and a CSV file: read + summary in a fresh process (target:
   <= 1 s), and the peak memory above the process's size after imports and a warm-up
   read of a small file (so that the readers' code pages are not counted as data),
   by ru_maxrss (VmHWM alongside); target: <= 4 x the in-memory size of the three
   columns, 24 MB here. Run first, from a small parent: a child inherits the
   ru_maxrss of the process that started it.
3. 10,000,000 transactions (about 1.7 million customers) in memory: time and peak
   memory of the process (``--skip-big`` to leave out).
4. LTV_CUSTOMERS from xlwings-shaped input (lists of one-cell rows: float ids,
   datetime dates, float amounts) to the returned 170,000-row table.
5. Readers on exports as users have them (issue 10): ``read_transactions`` of the
   clean 1,000,000-row CSV of 2., by this checkout and, with ``--baseline-src DIR``
   (a directory holding an earlier ``ltvxl/`` package, e.g. from ``git archive REV
   ltvxl | tar -x -C DIR``), by that one (target: within 1.3 x); and of the same rows
   as a French Excel CSV (``;``, ``1\u00a0234,56 \u20ac``, day-first dates,
   Windows-1252; target: within 2 x of the clean one), with a plain pandas read_csv of
   each file alongside. Each in a fresh process,
   ``--runs`` runs, the median. ``--readers-only`` runs this part alone.

Timings on a shared machine are noisy: read the medians, and compare side-by-side
figures from the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ltvxl.transactions import TransactionLog, customer_summary

N, K = 1_000_000, 170_000
START = np.datetime64("2022-01-01", "D")
SPAN_DAYS = 730
PEER = "/work/peers-venv/bin/python"


def make_data(n: int = N, k: int = K, seed: int = 1) -> pd.DataFrame:
    """n transactions of k customers (each at least one), skewed purchase counts, 2 years."""
    rng = np.random.default_rng(seed)
    weights = rng.gamma(0.6, 1.0, k)
    extra = rng.choice(k, n - k, p=weights / weights.sum())
    ids = np.concatenate([np.arange(k), extra]) + 100_000
    rng.shuffle(ids)
    dates = START + rng.integers(0, SPAN_DAYS, n).astype("timedelta64[D]")
    amounts = np.round(rng.gamma(2.0, 25.0, n), 2)
    return pd.DataFrame({"customer_id": ids, "date": dates.astype("datetime64[s]"),
                         "amount": amounts})


def median_time(fn, runs: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


PEER_SCRIPT = r"""
import json, statistics, sys, time
import pandas as pd
from lifetimes.utils import summary_data_from_transaction_data as summary
df = pd.read_parquet(sys.argv[1])
end = sys.argv[2]; runs = int(sys.argv[3])
times = []
for _ in range(runs):
    t0 = time.perf_counter()
    out = summary(df, "customer_id", "date", "amount", observation_period_end=end, freq="D")
    times.append(time.perf_counter() - t0)
out.to_parquet(sys.argv[4])
print(json.dumps({"median": statistics.median(times), "runs": runs}))
"""

FILE_SCRIPT = r"""
import json, resource, statistics, sys, time
import numpy as np, pandas as pd, pyarrow, pyarrow.csv, pyarrow.parquet
from ltvxl.transactions import customer_summary, read_transactions
def maxrss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
def hwm():
    with open("/proc/self/status") as fh:
        return next(int(l.split()[1]) * 1024 for l in fh if l.startswith("VmHWM"))
customer_summary(read_transactions(sys.argv[2]))  # warm-up: load the readers' code
base, base_hwm = maxrss(), hwm()
times = []
peak = peak_hwm = None
for i in range(int(sys.argv[3])):
    t0 = time.perf_counter()
    s = customer_summary(read_transactions(sys.argv[1]), time_unit="days")
    times.append(time.perf_counter() - t0)
    if i == 0:
        peak, peak_hwm = maxrss() - base, hwm() - base_hwm
    del s
print(json.dumps({"median": statistics.median(times), "first": times[0], "peak_above": peak,
                  "hwm_above": peak_hwm, "base": base}))
"""

READ_SCRIPT = r"""
import json, statistics, sys, time
if sys.argv[3]:
    sys.path.insert(0, sys.argv[3])
from ltvxl.transactions import read_transactions
read_transactions(sys.argv[2])  # warm-up: load the readers' code
times = []
for _ in range(int(sys.argv[4])):
    t0 = time.perf_counter()
    log = read_transactions(sys.argv[1], extra_cols=[])
    times.append(time.perf_counter() - t0)
print(json.dumps({"median": statistics.median(times), "rows": len(log),
                  "customers": len(log.customers), "revenue": float(log.amounts.sum())}))
"""

PANDAS_SCRIPT = r"""
import json, statistics, sys, time
import pandas as pd
sep, encoding = sys.argv[2], sys.argv[3]
pd.read_csv(sys.argv[1], sep=sep, encoding=encoding, nrows=1000)  # warm-up
times = []
for _ in range(int(sys.argv[4])):
    t0 = time.perf_counter()
    df = pd.read_csv(sys.argv[1], sep=sep, encoding=encoding)
    times.append(time.perf_counter() - t0)
print(json.dumps({"median": statistics.median(times), "rows": len(df)}))
"""

FRENCH_SCRIPT = r"""
import sys
import pandas as pd
df = pd.read_parquet(sys.argv[1])
nbsp = "\u00a0"  # the thousands mark of French Excel in Windows-1252
amount = df["amount"].map(lambda x: f"{x:,.2f}".replace(",", nbsp).replace(".", ",") + " \u20ac")
out = pd.DataFrame({"Client": df["customer_id"], "Date": df["date"].dt.strftime("%d/%m/%Y"),
                    "Montant": amount})
with open(sys.argv[2], "w", encoding="cp1252", newline="") as fh:
    out.to_csv(fh, sep=";", index=False)
"""

WRITE_SCRIPT = r"""
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from bench_summary import make_data
out = Path(sys.argv[2])
for name, df in (("tx", make_data()), ("small", make_data(1000, 170))):
    df.to_parquet(out / f"{name}.parquet", index=False)
    df.assign(date=df["date"].dt.strftime("%Y-%m-%d")).to_csv(out / f"{name}.csv", index=False)
"""

BIG_SCRIPT = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from bench_summary import make_data
from ltvxl.transactions import TransactionLog, customer_summary
df = make_data(10_000_000, 1_700_000, seed=2)
ids, dates, amounts = (df[c].to_numpy() for c in ("customer_id", "date", "amount"))
dates = dates.astype("datetime64[D]")
del df
data_bytes = ids.nbytes + dates.nbytes + amounts.nbytes
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
t0 = time.perf_counter()
log = TransactionLog.from_arrays(ids, dates, amounts)
t1 = time.perf_counter()
s = customer_summary(log)
t2 = time.perf_counter()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"build": t1 - t0, "summary": t2 - t1, "rows": len(s), "data": data_bytes,
                  "peak": peak, "peak_before": rss0}))
"""


def mb(x: float) -> str:
    return f"{x / 1e6:,.1f} MB"


def compare_with_peer(ours: pd.DataFrame, peer_path: Path) -> str:
    peer = pd.read_parquet(peer_path)
    peer.index = peer.index.astype(str)
    mine = ours.set_index("customer")
    mine.index = mine.index.astype(str)
    peer = peer.reindex(mine.index)
    diffs = {c: float(np.nanmax(np.abs(mine[c].to_numpy(float) - peer[c].to_numpy(float))))
             for c in ("frequency", "recency", "T", "monetary_value")}
    missing = int(peer["frequency"].isna().sum())
    return ", ".join(f"{c} {v:.2g}" for c, v in diffs.items()) + f"; customers missing {missing}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--peer-python", default=PEER)
    parser.add_argument("--baseline-src", help="directory holding an earlier ltvxl/ package")
    parser.add_argument("--readers-only", action="store_true", help="run part 5 alone")
    args = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, pandas {pd.__version__}, "
          f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}")

    here = str(Path(__file__).resolve().parent)
    three = N * (8 + 8 + 8)  # int64 ids, datetime64[D] dates, float64 amounts
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        # files are written by a child so that this process stays small while the file
        # benchmarks run: a child started from a big process inherits its ru_maxrss
        subprocess.run([sys.executable, "-c", WRITE_SCRIPT, here, str(tmpdir)], check=True)
        parquet, csv = tmpdir / "tx.parquet", tmpdir / "tx.csv"
        if args.readers_only:
            bench_readers(tmpdir, args)
            return
        print(f"\n2. from files: read_transactions + customer_summary in a fresh process "
              f"(after a warm-up read of a small file);\n   peak = ru_maxrss above the "
              f"process after warm-up (VmHWM in brackets); limit 4 x {mb(three)} = "
              f"{mb(4 * three)}")
        for path in (parquet, csv):
            small = tmpdir / f"small{path.suffix}"
            proc = subprocess.run(
                [sys.executable, "-c", FILE_SCRIPT, str(path), str(small), "3"],
                capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                print(f"   {path.suffix}: failed: {proc.stderr.strip()[-300:]}")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"   {path.suffix[1:]:8} ({mb(path.stat().st_size)} on disk): median "
                  f"{r['median']:.3f} s (3 runs, first {r['first']:.3f} s)  [target <= 1 s]; "
                  f"peak {mb(r['peak_above'])} ({mb(r['hwm_above'])}) = "
                  f"{r['peak_above'] / three:.2f} x the three columns  [target <= 4 x]")

        df = pd.read_parquet(parquet)
        ids = df["customer_id"].to_numpy()
        dates = df["date"].to_numpy().astype("datetime64[D]")
        amounts = df["amount"].to_numpy()
        print(f"\n1. in memory: {N:,} transactions, {len(np.unique(ids)):,} customers "
              f"(three columns: {mb(three)})")
        t_build, log = median_time(lambda: TransactionLog.from_arrays(ids, dates, amounts),
                                   args.runs)
        t_sum, ours = median_time(lambda: customer_summary(log, time_unit="days"), args.runs)
        print(f"   TransactionLog.from_arrays      median {t_build:.3f} s ({args.runs} runs)")
        print(f"   customer_summary(log)           median {t_sum:.3f} s ({args.runs} runs)"
              f"  [target <= 0.15 s]")
        print(f"   arrays -> summary, both steps   {t_build + t_sum:.3f} s")
        peer_out = tmpdir / "peer.parquet"
        end = str(dates.max())
        if Path(args.peer_python).exists():
            runs = max(3, args.runs // 2)
            proc = subprocess.run(
                [args.peer_python, "-c", PEER_SCRIPT, str(parquet), end, str(runs),
                 str(peer_out)], capture_output=True, text=True, check=False)
            if proc.returncode == 0:
                peer = json.loads(proc.stdout.strip().splitlines()[-1])
                print(f"   lifetimes summary_data_from_transaction_data  median "
                      f"{peer['median']:.3f} s ({peer['runs']} runs)")
                print(f"   ratio lifetimes / ltvxl summary: {peer['median'] / t_sum:.1f}x; "
                      f"lifetimes / (build + summary): {peer['median'] / (t_build + t_sum):.1f}x")
                print(f"   max |difference| to lifetimes: {compare_with_peer(ours, peer_out)}")
            else:
                print(f"   lifetimes failed: {proc.stderr.strip().splitlines()[-1:]}")
        else:
            print(f"   lifetimes: {args.peer_python} not found, comparison skipped")

    if not args.skip_big:
        print("\n3. 10,000,000 transactions, about 1,700,000 customers, in memory")
        proc = subprocess.run([sys.executable, "-c", BIG_SCRIPT, here], capture_output=True,
                              text=True, check=False)
        if proc.returncode == 0:
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"   from_arrays {r['build']:.2f} s, customer_summary {r['summary']:.2f} s, "
                  f"{r['rows']:,} customers; three columns {mb(r['data'])}; process peak "
                  f"{mb(r['peak'])} ({mb(r['peak_before'])} before the summary, with the "
                  f"generated data)")
        else:
            print(f"   failed: {proc.stderr.strip()[-300:]}")

    print(f"\n4. LTV_CUSTOMERS from xlwings-shaped lists of lists ({N:,} rows in)")
    from ltvxl.udfs import LTV_CUSTOMERS

    ids_cells = [[float(v)] for v in ids]
    base = dt.datetime(1970, 1, 1)
    date_cells = [[base + dt.timedelta(days=int(v))] for v in dates.astype(np.int64)]
    amount_cells = [[float(v)] for v in amounts]
    runs = 3
    t_udf, out = median_time(lambda: LTV_CUSTOMERS(ids_cells, date_cells, amount_cells, None,
                                                   None), runs)
    rows = len(out) - 1 if isinstance(out, list) else out
    print(f"   raw cells -> returned rows: median {t_udf:.3f} s ({runs} runs), {rows:,} rows "
          f"x {len(out[0])} columns + header")

    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        subprocess.run([sys.executable, "-c", WRITE_SCRIPT, here, str(tmpdir)], check=True)
        bench_readers(tmpdir, args)


def read_in_child(path: Path, small: Path, runs: int, src: str = "") -> dict | str:
    """read_transactions(path) timed in a fresh process (src: where ltvxl is imported from)."""
    proc = subprocess.run([sys.executable, "-c", READ_SCRIPT, str(path), str(small), src,
                           str(runs)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return proc.stderr.strip()[-300:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_readers(tmpdir: Path, args: argparse.Namespace) -> None:
    """Part 5: the clean CSV (this reader and a baseline) and the French-dialect CSV."""
    csv, small, french = tmpdir / "tx.csv", tmpdir / "small.csv", tmpdir / "fr.csv"
    subprocess.run([sys.executable, "-c", FRENCH_SCRIPT, str(tmpdir / "tx.parquet"),
                    str(french)], check=True)
    print(f"\n5. readers: read_transactions in a fresh process, median of {args.runs} runs; "
          f"load average {os.getloadavg()[0]:.2f}")
    rows = [("clean CSV, this checkout", csv, "")]
    if args.baseline_src:
        rows.insert(0, (f"clean CSV, {args.baseline_src}", csv, args.baseline_src))
    rows.append(("French CSV (; 1\u00a0234,56 \u20ac, day-first, cp1252)", french, ""))
    got = {}
    pandas_rows = [("plain pandas read_csv, clean CSV", csv, ",", "utf-8"),
                   ("plain pandas read_csv(sep=';', encoding='cp1252'), French", french, ";",
                    "cp1252")]
    for label, path, sep, encoding in pandas_rows:
        proc = subprocess.run([sys.executable, "-c", PANDAS_SCRIPT, str(path), sep, encoding,
                               str(args.runs)], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f"   {label}: failed: {proc.stderr.strip()[-300:]}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        got[label] = r["median"]
        print(f"   {label:55} {r['median']:.3f} s  (columns as text and numbers, not parsed "
              "into a log)")
    for label, path, src in rows:
        r = read_in_child(path, small, args.runs, src)
        if isinstance(r, str):
            print(f"   {label}: failed: {r}")
            continue
        got[label] = r["median"]
        print(f"   {label:55} {r['median']:.3f} s  ({mb(path.stat().st_size)}; {r['rows']:,} "
              f"rows, {r['customers']:,} customers, revenue {r['revenue']:,.2f})")
    clean = got.get("clean CSV, this checkout")
    if clean and args.baseline_src and rows[0][0] in got:
        print(f"   this checkout / baseline on the clean CSV: {clean / got[rows[0][0]]:.2f} x"
              "  [target <= 1.3 x]")
    plain = got.get(pandas_rows[0][0])
    if clean and plain:
        print(f"   this checkout / plain pandas on the clean CSV: {clean / plain:.2f} x")
    if rows[-1][0] in got and pandas_rows[1][0] in got:
        print(f"   French: this checkout / plain pandas: "
              f"{got[rows[-1][0]] / got[pandas_rows[1][0]]:.2f} x")
    if clean and rows[-1][0] in got:
        print(f"   French / clean CSV: {got[rows[-1][0]] / clean:.2f} x  [target <= 2 x]")


if __name__ == "__main__":
    main()
