"""The engine path against the in-memory path: same numbers, time and peak memory, side by side.

Each run is ``ltvxl clv`` in a fresh child process (wall time, and peak RSS of
that process and its children from ``getrusage``), on seeded Parquet logs
simulated from the Pareto/NBD story (:func:`ltvxl.models.simulate.transaction_log`).

    python benchmarks/bench_engines.py                    # 2M rows: memory vs duckdb
    python benchmarks/bench_engines.py --big 100000000    # + 100M rows on duckdb
    python benchmarks/bench_engines.py --spark 300000     # + Spark local[2] vs memory
    python benchmarks/bench_engines.py --throughput 10000000   # Spark summary rows/s/core

Prints figures; asserts nothing (timings on a shared machine are noisy: the
load average is printed with them). Generated files are kept in --data
(default /tmp/ltvxl-bench-engines) and reused.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

CUSTOMERS_PER_ROW = 1 / 6.3
"""About one customer per 6.3 transactions with the simulator's defaults."""


def make_log(path: Path, rows: int, seed: int = 7) -> Path:
    """A Parquet log of about ``rows`` transactions, written in row groups of a million
    customers' transactions (the generator never holds the whole log)."""
    if path.exists():
        return path
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ltvxl.models import simulate

    tmp = path.with_suffix(".tmp")
    writer = None
    written, chunk, k = 0, 1_000_000, 0
    rng = np.random.default_rng(seed)
    while written < rows:
        n_cust = max(1, min(chunk, int((rows - written) * CUSTOMERS_PER_ROW) + 1))
        t = simulate.transaction_log(n_cust, seed=rng)
        t = t.iloc[: rows - written]
        table = pa.table(
            {
                "customer_id": pa.array(t["customer"].to_numpy() + k, pa.int64()),
                "date": pa.array(
                    (
                        np.datetime64("2022-01-01") + t["day"].to_numpy().astype("timedelta64[D]")
                    ).astype("datetime64[D]")
                ),
                "amount": pa.array(t["amount"].to_numpy()),
            }
        )
        if writer is None:
            writer = pq.ParquetWriter(tmp, table.schema, compression="snappy")
        writer.write_table(table, row_group_size=1 << 20)
        written += len(t)
        k += n_cust
    writer.close()
    tmp.rename(path)
    return path


_WRAPPER = r"""
import os, resource, subprocess, sys, threading, time

def tree(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out

def rss(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return 0

proc = subprocess.Popen(sys.argv[1:])
peak = [0]
def watch():
    while proc.poll() is None:
        peak[0] = max(peak[0], sum(rss(p) for p in tree(proc.pid)))
        time.sleep(0.2)
threading.Thread(target=watch, daemon=True).start()
rc = proc.wait()
print(max(peak[0], resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss), file=sys.stderr)
sys.exit(rc)
"""
"""Runs a command and reports its peak resident memory (KiB): the largest sum over its
process tree (a JVM Spark starts included), sampled every 0.2 s, or the largest single
process's peak (``getrusage``), whichever is higher."""


def phases(stderr: str) -> str:
    """The run's progress lines ([  20.0 s] fitting ...) in one line."""
    return "; ".join(x.strip() for x in stderr.splitlines() if x.lstrip().startswith("["))


def run_clv(args: list[str]) -> tuple[float, float, str, str]:
    """(wall seconds, peak RSS in MiB of the run, stdout, progress) of ``ltvxl clv ARGS``."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _WRAPPER, sys.executable, "-m", "ltvxl.cli", "clv", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"ltvxl clv {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    peak_kib = float(proc.stderr.strip().splitlines()[-1])
    return wall, peak_kib / 1024, proc.stdout, phases(proc.stderr)


def read_table(path: Path) -> pd.DataFrame:
    if path.is_dir():
        return pd.read_parquet(path).set_index("customer")
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype={"customer": str}).set_index("customer")
    return pd.read_parquet(path).set_index("customer")


def max_rel_diff(a: pd.DataFrame, b: pd.DataFrame) -> float:
    b = b.loc[a.index]
    worst = 0.0
    for col in ("p_alive", "expected_purchases", "expected_spend", "clv"):
        x, y = a[col].to_numpy(float), b[col].to_numpy(float)
        worst = max(worst, float(np.max(np.abs(x - y) / np.maximum(np.abs(y), 1e-300))))
    return worst


def load() -> str:
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def compare(data: Path, rows: int, engine: str) -> None:
    src = make_log(data / f"log_{rows}.parquet", rows)
    mem_out, eng_out = data / f"mem_{rows}.csv", data / f"{engine}_{rows}.parquet"
    t_mem, rss_mem, _, _ = run_clv([str(src), "-o", str(mem_out), "--engine", "memory"])
    t_eng, rss_eng, _, _ = run_clv([str(src), "-o", str(eng_out), "--engine", engine])
    diff = max_rel_diff(read_table(mem_out), read_table(eng_out))
    print(f"{rows:>12,} rows  memory  {t_mem:7.1f} s  peak {rss_mem:8.0f} MiB")
    print(
        f"{rows:>12,} rows  {engine:<7} {t_eng:7.1f} s  peak {rss_eng:8.0f} MiB   "
        f"largest relative difference {diff:.2g}   ({load()})"
    )


def big(data: Path, rows: int) -> None:
    t0 = time.perf_counter()
    src = make_log(data / f"log_{rows}.parquet", rows)
    gen = time.perf_counter() - t0
    out = data / f"duckdb_{rows}.parquet"
    wall, rss, stdout, steps = run_clv(
        [str(src), "-o", str(out), "--engine", "duckdb", "--memory-limit", "3GB"]
    )
    line = [x for x in stdout.splitlines() if x.startswith("Wrote")]
    print(
        f"{rows:>12,} rows  duckdb  {wall:7.1f} s  peak {rss:8.0f} MiB  "
        f"(file {src.stat().st_size / 2**20:,.0f} MiB, generated in {gen:.0f} s; {load()})"
    )
    print("    " + (line[0] if line else stdout[-300:]))
    print("    " + steps)


def throughput(data: Path, rows: int) -> None:
    """Rows per second per core of the Spark summary alone (local[2])."""
    import warnings

    from ltvxl import engines
    from ltvxl.engines.spark_engine import SparkEngine

    warnings.simplefilter("ignore")  # PySpark's about pandas 3
    src = make_log(data / f"log_{rows}.parquet", rows)
    warm = make_log(data / "log_100000.parquet", 100_000)
    eng = SparkEngine(master="local[2]")
    eng.spark.sparkContext.setLogLevel("ERROR")
    engines.summarize(str(warm), engine=eng)  # the session's start and the JIT: not counted
    start = time.perf_counter()
    s = engines.summarize(str(src), engine=eng)
    wall = time.perf_counter() - start
    cores = 2
    print(
        f"{rows:>12,} rows  spark summary {wall:7.1f} s: {rows / wall / cores:,.0f} rows/s/core "
        f"({s.n_customers:,} customers, {len(s.histogram):,} distinct rows; {load()})"
    )
    eng.spark.stop()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=float, default=2e6, help="memory vs duckdb (default 2M)")
    p.add_argument("--big", type=float, default=0, help="rows for the duckdb-only run")
    p.add_argument("--spark", type=float, default=0, help="rows for memory vs spark")
    p.add_argument("--throughput", type=float, default=0, help="rows for the Spark summary")
    p.add_argument("--data", default="/tmp/ltvxl-bench-engines")
    a = p.parse_args(argv)
    data = Path(a.data)
    data.mkdir(parents=True, exist_ok=True)
    print(f"ltvxl clv, one run each, fresh processes, {os.cpu_count()} cores")
    if a.rows:
        compare(data, int(a.rows), "duckdb")
    if a.spark:
        compare(data, int(a.spark), "spark")
    if a.big:
        big(data, int(a.big))
    if a.throughput:
        throughput(data, int(a.throughput))


if __name__ == "__main__":
    main()
