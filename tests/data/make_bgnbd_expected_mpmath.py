"""Record mpmath's references for BG/NBD and MBG/NBD expected purchases, parameters from
1e-6 to 1e6 (tests/data/bgnbd_expected_mpmath.csv, read by tests/test_numerics.py).

mpmath needs minutes for some of these cases (near the removable singularity a = 1 with
large parameters it works at up to 400 digits), too long for the suite, so the references
are computed once by this script, with the test's own reference function
(``test_numerics._expected_ref``) and its own seeded draws. A case mpmath does not settle
within ``--seconds`` is recorded without a reference (the test counts it as such).

    python tests/data/make_bgnbd_expected_mpmath.py [--seconds 600]
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing as mpr
import sys
import zlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "bgnbd_expected_mpmath.csv"
SEED_NAME = "test_bgnbd_expectations_from_1e_6_to_1e6_are_accurate_or_num"
CASES = 40


def cases() -> list[tuple[int, float, float, float, float, float, bool]]:
    """(case, r, alpha, a, b, t, minus_p): log-uniform in 1e-6..1e6, every tenth a near 1,
    odd cases MBG/NBD."""
    rng = np.random.default_rng(zlib.crc32(SEED_NAME.encode()))
    out = []
    for i in range(CASES):
        r, alpha, a, b, t = (float(v) for v in 10.0 ** rng.uniform(-6, 6, 5))
        if i % 10 == 0:
            a = 1.0 + float(rng.uniform(-2e-3, 2e-3))
        out.append((i, r, alpha, a, b, t, bool(i % 2)))
    return out


def _reference(case: tuple) -> float | None:
    sys.path.insert(0, str(HERE.parent))
    from test_numerics import _expected_ref

    return _expected_ref(*case[1:])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=600.0)
    args = p.parse_args()
    rows = []
    with mpr.Pool(2) as pool:
        pending = [(c, pool.apply_async(_reference, (c,))) for c in cases()]
        for c, job in pending:
            try:
                ref = job.get(timeout=args.seconds)
            except mpr.TimeoutError:
                ref = None
            rows.append([*c[:6], int(c[6]), "" if ref is None else repr(ref)])
            print(c[0], rows[-1][-1] or "no reference", flush=True)
    with OUT.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case", "r", "alpha", "a", "b", "t", "minus_p", "mpmath"])
        w.writerows(rows)


if __name__ == "__main__":
    main()
