"""Speed of the covariate fits against the plain fits (issue 16: within 10x).

Run from the repository root::

    python benchmarks/bench_covariates.py [--customers N] [--runs N]

Simulates N customers (default 100,000) from Pareto/NBD and from BG/NBD whose
rates depend on 4 binary covariates (16 groups; each coefficient 0.2 to 0.5 in
both processes, T uniform on 30 to 80 weeks), then times, for each model, the
plain fit (the model alone, on the same summary) and the covariate fit (which
fits the plain model too, as its start and for the likelihood-ratio test), and
prints both medians and their ratio, with the load average. Timings on a shared
machine are noisy: read them as orders of magnitude.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
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
