"""The built-in sample transaction log (``ltvxl/data/sample_transactions.csv``).

A generated, realistic log of an online shop: a few hundred customers
acquired over two years (2023-01-01 to 2024-12-31) through six acquisition
channels, each buying at their own rate until they lapse (a buy-till-you-die
process: Poisson purchases with a gamma-distributed rate, and after each
purchase a beta-distributed chance of dropping out), with gamma-distributed
order values around a customer's own mean, and a few refunds (negative
amounts). Channels differ in purchase rate and spend, so channel comparisons
show real differences. The generator is seeded: ``python -m ltvxl.sample_data``
rebuilds the file byte for byte.
"""

from __future__ import annotations

import csv
import datetime as dt
import sys
from pathlib import Path

import numpy as np

from .fileio import atomic_output

SAMPLE_PATH = Path(__file__).parent / "data" / "sample_transactions.csv"
SEED = 20240131
START = dt.date(2023, 1, 1)
END = dt.date(2024, 12, 31)
COLUMNS = ("customer_id", "date", "amount", "channel")

# channel: (share of customers, purchase-rate multiplier, mean order value)
CHANNELS: dict[str, tuple[float, float, float]] = {
    "Organic Search": (0.26, 1.0, 62.0),
    "Paid Search": (0.18, 0.85, 55.0),
    "Facebook": (0.17, 0.7, 44.0),
    "Instagram": (0.15, 0.95, 51.0),
    "Email": (0.12, 1.35, 66.0),
    "Referral": (0.12, 1.5, 74.0),
}


def make_sample_transactions(
    n_customers: int = 600, seed: int = SEED
) -> list[tuple[str, str, float, str]]:
    """Rows (customer_id, ISO date, amount, channel), sorted by date then customer."""
    rng = np.random.default_rng(seed)
    horizon = (END - START).days + 1
    names = list(CHANNELS)
    shares = np.array([CHANNELS[c][0] for c in names])
    rows: list[tuple[str, str, float, str]] = []
    for i in range(n_customers):
        cid = f"C{10001 + i}"
        channel = names[int(rng.choice(len(names), p=shares / shares.sum()))]
        _, rate_mult, mean_value = CHANNELS[channel]
        day = int(rng.integers(0, horizon))
        rate = rng.gamma(1.5, 6.0 / 1.5) * rate_mult / 365.0  # purchases per day
        dropout = rng.beta(1.0, 8.0)
        own_mean = rng.gamma(5.0, mean_value / 5.0)
        while day < horizon:
            amount = round(float(rng.gamma(6.0, own_mean / 6.0)), 2)
            date = START + dt.timedelta(days=day)
            rows.append((cid, date.isoformat(), max(amount, 1.0), channel))
            if rng.random() < 0.03:  # a refund of part or all of the order
                back = int(rng.integers(1, 21))
                if day + back < horizon:
                    part = round(-amount * float(rng.choice([1.0, 0.5, 0.25])), 2)
                    rows.append((cid, (date + dt.timedelta(days=back)).isoformat(), part,
                                 channel))
            if rng.random() < dropout:
                break
            day += 1 + int(rng.exponential(1.0 / max(rate, 1e-6)))
    rows.sort(key=lambda r: (r[1], r[0]))
    return rows


def write_sample(path: str | Path = SAMPLE_PATH, seed: int = SEED) -> Path:
    """Write the sample log as CSV (header ``customer_id,date,amount,channel``)."""
    rows = make_sample_transactions(seed=seed)
    target = Path(path)
    with atomic_output(target) as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(COLUMNS)
        for cid, date, amount, channel in rows:
            w.writerow((cid, date, f"{amount:.2f}", channel))
    return target


def load_sample_transactions():  # -> TransactionLog (imported lazily)
    """The built-in sample as a :class:`~ltvxl.transactions.TransactionLog` (channel kept)."""
    from .transactions import read_transactions

    return read_transactions(SAMPLE_PATH)


def main(argv: list[str] | None = None) -> None:
    """``python -m ltvxl.sample_data [PATH]``: rebuild the sample file (default: the built-in
    one). A developer's entry point, so the core needs no argument parser."""
    args = sys.argv[1:] if argv is None else argv
    print(write_sample(args[0] if args else SAMPLE_PATH))


if __name__ == "__main__":
    main()
