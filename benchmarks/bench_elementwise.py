"""Speed of an element-wise worksheet function over a column, as xlwings calls it.

Prints the median time of one ``=LTV(A2:A10001, B2:B10001, 5, 0.6, 0.1)``-style
call (two columns as lists of row lists, three single cells), with and without
bad cells, for 10,000 and 100,000 rows, next to the same work done as one
call per row (what a sheet without ranges would do). No asserts: the figures
are for the reader (see docs/functions.md for what the function computes).

    python benchmarks/bench_elementwise.py
"""

from __future__ import annotations

import random
import statistics
import time

from ltvxl.udfs import LTV


def _median_seconds(call, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    rng = random.Random(7)
    print("LTV(apv column, frequency column, 5, 0.6, 0.1); median of the runs shown")
    print(f"{'rows':>8} {'bad cells':>9} {'one call (ms)':>14} {'per row (ms)':>13} {'runs':>5}")
    for rows in (10_000, 100_000):
        apv = [[rng.uniform(10, 200)] for _ in range(rows)]
        freq = [[rng.uniform(0.5, 6)] for _ in range(rows)]
        bad = [[v[0] if i % 10 else rng.choice(["n/a", None, -1.0, True])]
               for i, v in enumerate(apv)]
        repeat = 7 if rows <= 10_000 else 3
        for label, col in (("0%", apv), ("10%", bad)):
            one = _median_seconds(
                lambda c=col, fr=freq: LTV(c, fr, [[5.0]], [[0.6]], [[0.1]]), repeat
            )
            per_row = ""
            if rows <= 10_000:
                def row_by_row(c=col, fr=freq):
                    for a, f in zip(c, fr, strict=True):
                        LTV(a[0], f[0], 5.0, 0.6, 0.1)

                per_row = f"{_median_seconds(row_by_row, 3) * 1e3:13.1f}"
            print(f"{rows:>8} {label:>9} {one * 1e3:14.1f} {per_row:>13} {repeat:>5}")


if __name__ == "__main__":
    main()
