"""Generated hostile calls to every worksheet function, counted by failure class.

Calls each function of the registry with random cells and ranges (numbers
from 1e-300 to 10**400, NaN, texts up to 300 characters, error texts, dates,
booleans, blanks, ragged and nested ranges, transaction logs with blank,
duplicate and extreme values) and counts the results that break a rule of
issue 13:

- raised: an exception escaped the function;
- internal: the "(please report this)" guard fired;
- long text: a string over 255 characters (classic Excel shows #VALUE!);
- long note: a text that is not an error over 200 characters;
- non-finite: NaN or an infinity in a cell;
- impossible: a flat model function's probability outside [0, 1] or a
  negative expectation;
- slow: a call over 2 s (inputs here are all under 1,000 cells).

Usage: python benchmarks/bench_hostile.py [--calls 100000] [--seed 0]
Prints the counts and the first example of each class, with the load average.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import math
import os
import time

import numpy as np

import ltvxl.udfs  # noqa: F401  (declares every family)
from ltvxl.worksheet import REGISTRY, spec_of

PROBABILITY = {
    "BGNBD_PALIVE", "PNBD_PALIVE", "MBGNBD_PALIVE", "BGBB_PALIVE", "BGNBD_PROB", "PNBD_PROB",
    "SBG_RETENTION", "SBG_SURVIVAL",
}
EXPECTATION = {
    "BGNBD_EXPECTED", "PNBD_EXPECTED", "MBGNBD_EXPECTED", "BGNBD_EXPECTED_NEW",
    "PNBD_EXPECTED_NEW", "GG_SPEND", "SBG_DERL", "BGBB_EXPECTED",
}
ERRORS = ["#N/A", "#DIV/0!", "#VALUE!", "#REF!", "#N/A " + "x" * 300]


def _number(rng: np.random.Generator) -> object:
    kind = rng.integers(0, 8)
    if kind == 0:
        return float(10.0 ** rng.uniform(-300, 300)) * (1 if rng.random() < 0.8 else -1)
    if kind == 1:
        return float(rng.uniform(-2, 2))
    if kind == 2:
        return float(rng.integers(0, 50))
    if kind == 3:
        return float(10.0 ** rng.uniform(-6, 16))
    if kind == 4:
        return [math.nan, math.inf, -math.inf, 0.0, 1.0, 1e308, 5e-324][rng.integers(0, 7)]
    if kind == 5:
        return int(10 ** int(rng.integers(300, 420)))
    if kind == 6:
        return float(rng.uniform(0, 1))
    return float(rng.uniform(0, 1e4))


def _cell(rng: np.random.Generator) -> object:
    kind = rng.integers(0, 10)
    if kind < 5:
        return _number(rng)
    if kind == 5:
        return None
    if kind == 6:
        return ERRORS[rng.integers(0, len(ERRORS))]
    if kind == 7:
        texts = ["", " ", "5", "5%", "weeks", "months", "x" * 300, "=cmd|' /C calc'!A0",
                 "PNBD", "BGNBD", "1e3", "n/a", "2024-01-31"]
        return texts[rng.integers(0, len(texts))]
    if kind == 8:
        return bool(rng.integers(0, 2))
    return dt.datetime(1900, 1, 1) + dt.timedelta(days=int(rng.integers(0, 73000)))


def _grid(rng: np.random.Generator) -> object:
    kind = rng.integers(0, 6)
    if kind < 2:
        return _cell(rng)
    rows, cols = int(rng.integers(0, 6)), int(rng.integers(1, 3))
    if kind == 5:
        return [[_cell(rng) for _ in range(int(rng.integers(0, 3)))] for _ in range(rows)]
    return [[_cell(rng) for _ in range(cols)] for _ in range(rows)]


def _log(rng: np.random.Generator) -> list[list[list[object]]]:
    """ids, dates, amounts columns of a small transaction log with hostile cells."""
    n = int(rng.integers(1, 40))
    ids, dates, amounts = [], [], []
    for _ in range(n):
        r = rng.random()
        ids.append(["x" * 300] if r < 0.03 else [f"c{int(rng.integers(0, 8))}"] if r < 0.8
                   else [_cell(rng)])
        r = rng.random()
        dates.append([None] if r < 0.1 else
                     [dt.datetime(2020, 1, 1) + dt.timedelta(days=int(rng.integers(0, 900)))]
                     if r < 0.85 else [_cell(rng)])
        r = rng.random()
        amounts.append([float(rng.uniform(1, 200))] if r < 0.8 else [_number(rng)] if r < 0.9
                       else [_cell(rng)])
    if rng.random() < 0.1:  # every date blank
        dates = [[None] for _ in range(n)]
    return [ids, dates, amounts]


def _args(name: str, rng: np.random.Generator) -> list[object]:
    spec = spec_of(REGISTRY[name])
    names = [a.name for a in spec.args]
    args: list[object] = [_grid(rng) for _ in names]
    if "ids" in names and rng.random() < 0.8:
        i = names.index("ids")
        args[i : i + 3] = _log(rng)
        if i == 1:  # LTV_BY_GROUP: a group per transaction
            args[0] = [[f"g{j % 3}"] for j in range(len(args[1]))]
    elif spec.elementwise and rng.random() < 0.7:
        args = [_number(rng) for _ in names]
    if rng.random() < 0.05 and len(args) > 1:
        args = args[: int(rng.integers(0, len(args)))]
    return args


def _impossible(name: str, v: float) -> bool:
    """A probability outside [0, 1] or a negative expectation."""
    if name in PROBABILITY:
        return not 0.0 <= v <= 1.0
    return name in EXPECTATION and v < 0.0


def _classify(name: str, out: object) -> list[str]:
    found = []
    rows = out if isinstance(out, list) else [[out]]
    for row in rows if isinstance(rows, list) else []:
        for v in row if isinstance(row, list) else [row]:
            if isinstance(v, str):
                if "(please report this)" in v:
                    found.append("internal")
                if len(v) > 255:
                    found.append("long text")
                elif len(v) > 200 and not v.startswith("#"):
                    found.append("long note")
            elif isinstance(v, float):
                if not math.isfinite(v):
                    found.append("non-finite")
                elif _impossible(name, v):
                    found.append("impossible")
    return found


FIRST: dict[str, str] = {}
"""The first example of each failure class of the last :func:`run`."""
BY_FUNCTION: collections.Counter[tuple[str, str]] = collections.Counter()
KINDS = ("raised", "internal", "long text", "long note", "non-finite", "impossible", "slow")


def run(calls: int, seed: int = 0) -> collections.Counter[str]:
    """Make ``calls`` generated calls; the count of calls and of each failure class."""
    rng = np.random.default_rng(seed)
    names = list(REGISTRY)
    counts: collections.Counter[str] = collections.Counter()
    FIRST.clear()
    BY_FUNCTION.clear()
    for _ in range(calls):
        name = names[int(rng.integers(0, len(names)))]
        call = _args(name, rng)
        t0 = time.perf_counter()
        try:
            out = REGISTRY[name](*call)
            found = _classify(name, out)
        except Exception as exc:
            out, found = f"{type(exc).__name__}: {exc}", ["raised"]
        if time.perf_counter() - t0 > 2.0:
            found.append("slow")
        counts["calls"] += 1
        for kind in dict.fromkeys(found):
            counts[kind] += 1
            BY_FUNCTION[(kind, name)] += 1
            FIRST.setdefault(kind, f"{name}: {str(out)[:300]}")
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    counts = run(args.calls, args.seed)
    elapsed = time.perf_counter() - start
    print(f"{counts['calls']:,} calls over {len(REGISTRY)} functions in {elapsed:.0f} s "
          f"(seed {args.seed}; load average {os.getloadavg()[0]:.1f})")
    for kind in KINDS:
        fns = ", ".join(f"{n} {c}" for (k, n), c in BY_FUNCTION.most_common() if k == kind)
        print(f"  {kind:<11} {counts[kind]:>7,}  {fns[:300]}")
        if kind in FIRST:
            print(f"              e.g. {FIRST[kind][:240]}")


if __name__ == "__main__":
    main()
