"""Speed of LTV_TREND's core (``trend_table``): prints figures only.

    python benchmarks/bench_trend.py [--rows 1000000] [--runs 5]

A simulated log (``--rows`` transactions of rows/6 customers over three years,
5 % returns) in memory: ``trend_table`` by month, quarter and year, side by
side with the same counts done the usual pandas way (groupby on a period
column: revenue, orders, active and new customers, retention from the set of
(customer, period) pairs shifted by one), and a check that both agree. No peer
library offers this table; pandas is what an analyst would write instead.
Timings on a shared machine are noisy: read the medians, and compare figures
from the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import pandas as pd

from ltvxl.transactions.log import TransactionLog
from ltvxl.transactions.trend import trend_table


def simulate(rows: int, seed: int = 1) -> TransactionLog:
    rng = np.random.default_rng(seed)
    customers = max(rows // 6, 1)
    ids = rng.integers(0, customers, rows)
    days = np.datetime64("2022-01-01") + rng.integers(0, 3 * 365, rows).astype("timedelta64[D]")
    amounts = np.round(rng.gamma(2.0, 30.0, rows), 2)
    amounts[rng.random(rows) < 0.05] *= -1
    return TransactionLog.from_arrays(ids.astype(str), days, amounts)


def with_pandas(log: TransactionLog, period: str) -> pd.DataFrame:
    freq = {"month": "M", "quarter": "Q", "year": "Y"}[period]
    df = pd.DataFrame({"c": log.codes, "p": pd.PeriodIndex(log.dates, freq=freq),
                       "a": log.amounts})
    out = df.groupby("p").agg(revenue=("a", "sum"))
    buys = df[df["a"] >= 0]
    out["orders"] = buys.groupby("p").size()
    pairs = buys[["c", "p"]].drop_duplicates()
    out["active"] = pairs.groupby("p").size()
    out["new"] = buys.groupby("c")["p"].min().value_counts()
    shifted = pairs.assign(p=pairs["p"] + 1)
    kept = pairs.merge(shifted, on=["c", "p"]).groupby("p").size()
    out["retention"] = kept / out["active"].shift(1)
    return out.fillna({"orders": 0, "active": 0, "new": 0})


def median_time(func, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    log = simulate(args.rows)
    print(f"{len(log):,} transactions of {len(log.customers):,} customers; "
          f"load average {os.getloadavg()[0]:.2f}; median of {args.runs} runs")
    print(f"{'period':<8} {'rows':>5} {'trend_table':>12} {'pandas':>9} {'ratio':>6}  agree")
    for period in ("month", "quarter", "year"):
        ours = median_time(lambda p=period: trend_table(log, p), args.runs)
        theirs = median_time(lambda p=period: with_pandas(log, p), args.runs)
        a, b = trend_table(log, period), with_pandas(log, period)
        agree = len(a) == len(b) and all(
            np.allclose(a[k].to_numpy(float), b[k].to_numpy(float), equal_nan=True)
            for k in ("revenue", "orders", "active", "new", "retention"))
        print(f"{period:<8} {len(a):>5} {ours:>11.3f}s {theirs:>8.3f}s {theirs / ours:>5.1f}x  "
              f"{agree}")


if __name__ == "__main__":
    main()
