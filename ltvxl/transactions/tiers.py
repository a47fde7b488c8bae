"""Value tiers: High / Medium / Low by share of a population or by value cutoffs.

With ``by="share"`` (default) the breaks are shares of the population from
the top: ``(0.2, 0.3)`` puts the top 20 % in the first tier, the next 30 % in
the second and the rest in the last. The tier of a value is found from value
thresholds: with the population sorted from the highest value, the threshold
of a tier whose shares add up to s is the value at position ceil(s x n); a
value at or above it is in that tier (or a higher one). Equal values always
get the same tier (so a tier may hold a little more than its share when
values tie at a boundary), and one value is tiered against a population
exactly as it would be inside it.

With ``by="value"`` the breaks are value cutoffs, highest first: a value at
or above the first cutoff is in the first tier, and so on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..errors import LtvxlError

DEFAULT_BREAKS = (0.2, 0.3)
DEFAULT_LABELS = ("High", "Medium", "Low")
BY = ("share", "value")


def tier_thresholds(
    population: np.ndarray, breaks: Sequence[float] = DEFAULT_BREAKS, by: str = "share"
) -> np.ndarray:
    """The lowest value of each tier but the last (highest tier first)."""
    b = np.asarray(breaks, dtype=float)
    if by == "value":
        if len(b) > 1 and np.any(np.diff(b) >= 0):
            raise LtvxlError("breaks must be value cutoffs from the highest down when by is value")
        return b
    if by != "share":
        raise LtvxlError(f'by must be one of {", ".join(BY)}; got "{by}"')
    if np.any((b <= 0) | (b > 1)):
        raise LtvxlError("breaks must be shares in (0, 1], e.g. 0.2 for the top 20%")
    cum = np.cumsum(b)
    if cum[-1] > 1 + 1e-9:
        raise LtvxlError(f"breaks add up to {cum[-1]:g}; shares must add up to at most 1")
    pop = np.asarray(population, dtype=float)
    pop = pop[np.isfinite(pop)]
    if len(pop) == 0:
        raise LtvxlError("population has no numbers")
    desc = np.sort(pop)[::-1]
    out = np.empty(len(cum))
    for j, s in enumerate(cum):
        pos = math.ceil(s * len(desc) - 1e-9)
        out[j] = desc[pos - 1] if pos >= 1 else np.inf
    return out


def value_tiers(
    values: np.ndarray,
    population: np.ndarray | None = None,
    breaks: Sequence[float] = DEFAULT_BREAKS,
    labels: Sequence[str] = DEFAULT_LABELS,
    by: str = "share",
) -> np.ndarray:
    """Tier label of each value (object array); ``population`` defaults to the values."""
    if len(labels) != len(breaks) + 1:
        raise LtvxlError(
            f"labels must have one more entry than breaks: {len(breaks)} breaks need "
            f"{len(breaks) + 1} labels, got {len(labels)}"
        )
    v = np.asarray(values, dtype=float)
    thresholds = tier_thresholds(v if population is None else population, breaks, by)
    idx = np.full(v.shape, len(thresholds), dtype=np.int64)
    for j in range(len(thresholds) - 1, -1, -1):
        idx[v >= thresholds[j]] = j
    return np.asarray(list(labels), dtype=object)[idx]
