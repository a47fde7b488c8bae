"""Speed of the covariate fits against the plain fits (issue 16: within 10x).

Run from the repository root::

    python benchmarks/bench_covariates.py [--customers N] [--runs N] [--by-group ROWS]

Simulates N customers (default 100,000) from Pareto/NBD and from BG/NBD whose
rates depend on 4 binary covariates (16 groups; each coefficient 0.2 to 0.5 in
both processes, T uniform on 30 to 80 weeks), then times, for each model, the
plain fit (the model alone, on the same summary) and the covariate fit (which
fits the plain model too, as its start and for the likelihood-ratio test), and
prints both medians and their ratio, with the load average. Timings on a shared
machine are noisy: read them as orders of magnitude.

``--by-group ROWS``: also LTV_BY_GROUP's model view (``covariates.by_group``, Pareto/NBD
with the channel of the first purchase, 12 months, 10 % a year) on the report's seeded
simulation of ROWS transactions (``bench_refresh.simulated``: six channels, two years),
the plain fits already in the cache as in the report: CPU seconds of the plain fit and
prediction, then of the view, its fit's status and the channels' CLV with intervals.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import pandas as pd

from ltvxl.models import bgnbd, covariates, paretonbd
from ltvxl.models import simulate as sim

PURCHASE = np.array([0.3, -0.2, 0.5, 0.2])
DROPOUT = np.array([-0.4, 0.3, 0.2, -0.5])


def simulated(model: str, n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(frequency, recency, T per customer; the 4 covariates) from ``model``."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, (n, 4)).astype(float)
    big_t = rng.uniform(30, 80, n)
    frames, covs = [], []
    for vec in np.unique(x, axis=0):
        rows = (x == vec).all(axis=1)
        shift_p, shift_d = float(vec @ PURCHASE), float(vec @ DROPOUT)
        if model == "pnbd":
            part = sim.paretonbd(0.8, 10.0 * np.exp(-shift_p), 0.7,
                                 40.0 * np.exp(-shift_d), big_t[rows], seed=rng)
        else:
            part = sim.bgnbd(0.8, 10.0 * np.exp(-shift_p), 0.8 * np.exp(shift_d),
                             2.5 * np.exp(shift_d), big_t[rows], seed=rng)
        frames.append(part)
        covs.append(pd.DataFrame(x[rows], columns=["c1", "c2", "c3", "c4"]))
    return pd.concat(frames, ignore_index=True), pd.concat(covs, ignore_index=True)


def timed(func, runs: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def model_view(rows: int) -> None:
    """Time ``covariates.by_group`` as the report's Channels sheet runs it (see the module's
    docstring)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from bench_refresh import simulated as transactions

    from ltvxl.models import clv
    from ltvxl.models.cache import FitCache
    from ltvxl.transactions import TransactionLog, customer_summary, groups

    data = transactions(rows)
    log = TransactionLog.from_arrays(data.ids, data.dates, data.amounts,
                                     {"channel": np.asarray(data.channels, dtype=object)})
    summary = customer_summary(log, None, "weeks")
    table = summary.table
    day = int(np.datetime64(summary.as_of, "D").astype(np.int64))
    names = groups.customer_groups(log, log.extra["channel"], day)
    options = {"horizon": 12, "horizon_unit": "months", "annual_discount_rate": 0.1,
               "gross_margin": 1.0}
    cache = FitCache()
    c0 = time.process_time()
    clv.predict(table, fits=clv.fit_models(table, "pnbd", cache=cache), **options)
    c1 = time.process_time()
    view, fit = covariates.by_group(table, names, time_unit="weeks", cache=cache,
                                    min_customers=30, **options)
    c2 = time.process_time()
    print(f"model view, {rows:,} transactions ({len(table):,} customers, "
          f"{view.shape[0]} channels): plain fit and prediction {c1 - c0:.2f} s CPU, "
          f"by_group {c2 - c1:.2f} s CPU; load average {os.getloadavg()[0]:.2f}")
    print(f"  {fit.fit.status}")
    for row in view.itertuples():
        print(f"  {row.group:<16} {row.clv_per_customer:9.3f} ({row.clv_low:.3f} to "
              f"{row.clv_high:.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--by-group", type=int, default=0, metavar="ROWS",
                        help="also time the model view on ROWS simulated transactions")
    args = parser.parse_args()
    if args.by_group:
        model_view(args.by_group)
    print(f"{args.customers:,} customers, 4 binary covariates (16 groups), median of "
          f"{args.runs} runs; load average {os.getloadavg()[0]:.2f}")
    print(f"{'model':<12} {'plain fit':>10} {'with covariates':>16} {'ratio':>7}  status")
    for key, module in (("pnbd", paretonbd), ("bgnbd", bgnbd)):
        data, cov = simulated(key, args.customers)
        f, r, t = data["frequency"], data["recency"], data["T"]
        design = covariates.design(cov)
        plain_s, _ = timed(lambda f=f, r=r, t=t, m=module: m.fit(f, r, t, time_unit="weeks"),
                           args.runs)
        cov_s, fit = timed(lambda f=f, r=r, t=t, d=design, k=key: covariates.fit(
            f, r, t, d, model=k, time_unit="weeks"), args.runs)
        print(f"{module.NAME:<12} {plain_s:9.3f}s {cov_s:15.3f}s {cov_s / plain_s:6.1f}x  "
              f"{fit.fit.status}")
        got = np.array([fit.fit.params[f"purchase: c{i}"] for i in range(1, 5)])
        print(f"  purchase coefficients {np.round(got, 3).tolist()} (simulated "
              f"{PURCHASE.tolist()})")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
