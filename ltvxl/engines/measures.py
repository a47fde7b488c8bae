"""The backtest's ranking measures on counts: the same figures from distinct rows.

An engine's backtest returns the distinct (predicted, actual) pairs with the number of
customers of each, not one row per customer. The measures of
:mod:`ltvxl.models.early` (normalized Gini, decile MAPE, Spearman), which rank
customers by prediction and take equal predictions as one block, are computed here from
those counts in closed form: a block of c customers with actual total S contributes to
the Lorenz curve a straight piece, so its area is known without expanding it; the decile
MAPE is :func:`ltvxl.models.early.decile_mape` itself, which takes the counts as
weights (its tie rule, :func:`ltvxl.models.early.decile_sums`, is stated there once). The
results equal :mod:`ltvxl.models.early`'s on the expanded arrays (to rounding;
tests/test_engines_backtest.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ltvxl.models.early import DECILES, rank_blocks
from ltvxl.models.early import decile_mape as early_decile_mape


def gini(actual: Any, predicted: Any, weights: Any) -> float:
    """:func:`ltvxl.models.early.gini` of rows with ``weights`` customers each."""
    count, total, _ = rank_blocks(actual, predicted, weights)
    n, whole = float(count.sum()), float(total.sum())
    if n == 0 or whole == 0:
        return float("nan")
    before = np.concatenate([[0.0], np.cumsum(total)[:-1]]) / whole
    area = float(np.sum(count * before + count * total / (2 * whole)) / n)
    return 2 * area - 1


def normalized_gini(actual: Any, predicted: Any, weights: Any) -> float:
    """:func:`gini` over that of the perfect ranking (1: perfect)."""
    best = gini(actual, actual, weights)
    return gini(actual, predicted, weights) / best if best and np.isfinite(best) else float("nan")


def decile_mape(actual: Any, predicted: Any, weights: Any,
                groups: int = DECILES) -> tuple[float, int]:
    """:func:`ltvxl.models.early.decile_mape` of rows with ``weights`` customers each."""
    return early_decile_mape(actual, predicted, groups, weights)


def _ranks(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each row's average rank among the customers (ties: the mean of their ranks)."""
    keys, inverse = np.unique(values, return_inverse=True)
    count = np.bincount(inverse, weights=weights, minlength=keys.size)
    below = np.cumsum(count) - count
    return (below + (count + 1) / 2)[inverse]


def spearman(actual: Any, predicted: Any, weights: Any) -> float:
    """:func:`ltvxl.models.early.spearman` of rows with ``weights`` customers each."""
    a = np.asarray(actual, dtype=float)
    p = np.asarray(predicted, dtype=float)
    w = np.asarray(weights, dtype=float)
    if w.sum() < 2 or np.ptp(a) == 0 or np.ptp(p) == 0:
        return float("nan")
    ra, rp = _ranks(a, w), _ranks(p, w)
    ma, mp = np.average(ra, weights=w), np.average(rp, weights=w)
    cov = np.sum(w * (ra - ma) * (rp - mp))
    return float(cov / np.sqrt(np.sum(w * (ra - ma) ** 2) * np.sum(w * (rp - mp) ** 2)))
