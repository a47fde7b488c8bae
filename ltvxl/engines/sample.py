"""A sample of customers for a worksheet: every transaction of some customers.

A workbook holds at most 1,048,576 rows, and the report computes its figures with
worksheet functions on the Transactions table, so a log too big for either is
reported on a sample of its customers (``ltvxl report --engine duckdb``): each
customer is in or out of the sample by a hash of her id (the same customers every
run), with all her transactions, so that her frequency, recency, age and spend are
those of the whole log and the models fitted on the sample estimate the same
parameters. The share is the largest that keeps the sample under ``max_rows``
transactions; totals (revenue, customers, expected purchases) are the sample's,
which :attr:`Sample.line` says.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from ltvxl.a1 import MAX_ROWS
from ltvxl.errors import LtvxlError

from . import Source, sql

BUCKETS = 100_000
"""Customers are hashed into this many buckets; a sample is the buckets below a cut."""

MAX_SHEET_ROWS = MAX_ROWS - 1
"""Transactions a worksheet holds below its header row."""

_VALID = "cid IS NOT NULL AND day IS NOT NULL AND amt IS NOT NULL"


@dataclass(frozen=True)
class Sample:
    """The sampled log (a :class:`~ltvxl.transactions.log.TransactionLog`) with what it is
    a sample of: customers and transactions in it and in the whole source."""

    log: Any
    customers: int
    all_customers: int
    rows: int
    all_rows: int

    @property
    def complete(self) -> bool:
        """Whether the sample is the whole source."""
        return self.customers == self.all_customers

    def line(self, name: str) -> str:
        """The source of a report on the sample, in words (for the Dashboard)."""
        if self.complete:
            return name
        share = self.customers / self.all_customers
        return (f"{name} ({self.what()}, {share:.2%}, {self.rows:,} of {self.all_rows:,} "
                "transactions, chosen by a hash of the customer id; totals are the sample's)")

    def what(self) -> str:
        """The sample in a few words."""
        return (f"a sample: every transaction of {self.customers:,} of its "
                f"{self.all_customers:,} customers")


def _bucket(engine: Any) -> str:
    if engine.dialect == "spark":
        return f"pmod(hash(cid), {BUCKETS})"
    return f"CAST(hash(cid) % {BUCKETS} AS BIGINT)"


def customer_sample(src: Source, max_rows: int) -> Sample:
    """Every transaction (with an id, a date and an amount) of a hash sample of the
    customers of ``src``: the largest that has at most ``max_rows`` transactions."""
    from ltvxl.transactions import TransactionLog

    if not 1 <= max_rows <= MAX_SHEET_ROWS:
        raise LtvxlError(f"the sample must have 1 to {MAX_SHEET_ROWS:,} transactions (a "
                         f"worksheet's rows); got {max_rows:,}")
    eng = src.engine
    bucket = _bucket(eng)
    counts = eng.query(
        f"SELECT {bucket} AS bucket, COUNT(*) AS n, COUNT(DISTINCT cid) AS c "
        f"FROM {sql.NORMALIZED} WHERE {_VALID} GROUP BY 1 ORDER BY 1")
    rows = counts["n"].to_numpy(np.int64)
    within = np.flatnonzero(np.cumsum(rows) <= max_rows)
    cut = int(counts["bucket"].iloc[within[-1]]) + 1 if len(within) else 0
    if cut == 0:
        raise LtvxlError(f"no sample of whole customers has at most {max_rows:,} "
                         "transactions (the customers of one hash bucket have more)")
    taken = counts["bucket"].to_numpy() < cut
    frame = eng.query(
        f"SELECT cid, day, amt, oid, channel FROM {sql.NORMALIZED} "
        f"WHERE {_VALID} AND {bucket} < {cut} ORDER BY cid, day")
    c = src.columns
    extra = {c.channel: frame["channel"].to_numpy(object)} if c.channel else None
    log = TransactionLog.from_arrays(
        frame["cid"].to_numpy(object),
        frame["day"].to_numpy(np.int64).astype("datetime64[D]"),
        frame["amt"].to_numpy(float),
        extra,
        orders=None if c.order is None else frame["oid"].to_numpy(object),
    )
    log = dataclasses.replace(log, columns=c.roles())
    return Sample(log, int(counts["c"].to_numpy()[taken].sum()), int(counts["c"].sum()),
                  int(rows[taken].sum()), int(rows.sum()))
