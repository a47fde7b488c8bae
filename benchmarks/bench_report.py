"""``ltvxl report`` on simulated transaction files: wall time and peak memory.

Writes a seeded CSV of N transactions (the same simulation as
``bench_refresh.py``: 5 transactions per customer on average, six channels,
two years) and runs ``ltvxl report FILE -o OUT.xlsx`` in a fresh process,
printing its wall time (imports included) and peak resident memory.

    python benchmarks/bench_report.py [--rows 100000 300000] [--runs 1]

Prints figures; asserts nothing (timings on a shared machine are noisy).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_refresh import measured, simulated


def write_csv(path: Path, rows: int) -> None:
    import pandas as pd

    data = simulated(rows)
    pd.DataFrame({
        "customer_id": data.ids,
        "date": np.datetime_as_string(np.asarray(data.dates, dtype="datetime64[D]")),
        "amount": data.amounts,
        "channel": data.channels,
    }).to_csv(path, index=False)


def run(args: list[str]) -> tuple[float, float]:
    """(wall, peak RSS MiB) of ``ltvxl ARGS`` in a fresh process (see bench_refresh.measured)."""
    _, _, wall, rss, _ = measured([sys.executable, "-m", "ltvxl.cli", *args])
    return wall, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 300_000])
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            src, out = Path(tmp) / f"tx{rows}.csv", Path(tmp) / f"report{rows}.xlsx"
            write_csv(src, rows)
            for k in range(1, args.runs + 1):
                wall, rss = run(["report", str(src), "-o", str(out)])
                print(f"ltvxl report, {rows:,} transactions, run {k}: {wall:.2f} s wall "
                      f"(process start to exit), peak RSS {rss:.0f} MiB, "
                      f"{out.stat().st_size / 2**20:.1f} MiB written")


if __name__ == "__main__":
    main()
