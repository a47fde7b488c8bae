"""The backtest on an engine: calibration and hold-out counted there, the measures here.

The same validation as :mod:`ltvxl.models.backtest` (read its docstring for the
rules) on a source too big for memory or on a cluster. The engine computes the
calibration summary, each calibration customer's hold-out purchases and value
(:func:`ltvxl.engines.sql.holdout_query`) and returns small tables: the histogram the
models are fitted on, the distinct (frequency, recency, T, hold-out purchases) rows
with their counts, the cohorts by first purchase day and the repeat purchases by week.
The measures are computed on those counts (:mod:`ltvxl.engines.measures`), the value
totals by the engine, and the per-customer table is joined and written by the engine
(:func:`write_customers`). The figures equal the in-memory backtest's
(tests/test_engines_backtest.py: CDNOW's 1,653 predicted and 1,882 actual).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ltvxl.errors import LtvxlError
from ltvxl.models import backtest as bt
from ltvxl.models import registry
from ltvxl.models.base import FitResult
from ltvxl.models.doubts import fit_state
from ltvxl.models.registry import PurchaseModel
from ltvxl.units import DEFAULT_UNIT, unit_days

from . import EngineSummary, open_source, sql, summarize_window
from . import measures as wm
from .base import Engine, quote_text
from .scoring import fit as fit_histograms
from .scoring import scores, spend_sql

COLUMNS = ("customer", "model", "frequency", "recency", "T", "predicted_purchases",
           "actual_purchases", "baseline_purchases", "predicted_value", "actual_value")
"""Columns of the per-customer table, as the in-memory ``ltvxl backtest`` writes them."""


@dataclass
class Holdout:
    """A split source on an engine: the calibration summary, the hold-out table kept
    there (:data:`sql.HOLDOUT`) and the small tables the measures need."""

    summary: EngineSummary
    split: bt.Split
    crosstab: pd.DataFrame
    cohorts: pd.DataFrame
    weekly: np.ndarray
    notes: tuple[str, ...]
    names: tuple[str, str]

    @property
    def engine(self) -> Engine:
        """The engine holding the tables."""
        return self.summary.engine

    @property
    def holdout_length(self) -> float:
        """The hold-out in the summary's time unit."""
        return self.split.holdout_days / unit_days(self.summary.time_unit)


@dataclass(frozen=True)
class EngineBacktest:
    """A hold-out validation of one purchase model on an engine: the fields of
    :class:`ltvxl.models.backtest.Backtest` except the per-customer table, which stays
    on the engine (:func:`write_customers`); ``scores``: the predictions per distinct
    (frequency, recency, T) row, ``spend``: the SQL of the expected spend."""

    model: PurchaseModel
    split: bt.Split
    time_unit: str
    holdout_length: float
    by_frequency: pd.DataFrame
    tracking: pd.DataFrame
    fit: FitResult
    measures: bt.Measures
    spend_note: str
    notes: tuple[str, ...]
    holdout: Holdout
    scores: pd.DataFrame
    spend: str

    @property
    def fit_status(self) -> str:
        """The fit in a few words (converged, boundary, not converged)."""
        return fit_state(self.fit)


def prepare(
    source: str,
    calibration_end: Any = None,
    holdout_end: Any = None,
    *,
    time_unit: str = DEFAULT_UNIT,
    names: tuple[str, str] = ("calibration_end", "holdout_end"),
    **options: Any,
) -> Holdout:
    """Open ``source`` (``options`` as :func:`ltvxl.engines.open_source`), split it as
    :func:`ltvxl.models.backtest.split_dates` does (``names``: the dates' names in
    messages) and count the calibration and the hold-out on the engine."""
    unit_days(time_unit)
    src = open_source(source, **options)
    split = bt.split_days(src.first_day, src.last_day, calibration_end, holdout_end,
                          names=names)
    cal = int(split.calibration_end.astype(int))
    end = int(split.holdout_end.astype(int))
    try:
        summary = summarize_window(src, cal, time_unit)
    except LtvxlError as exc:
        if "no customer has a purchase" not in exc.message:
            raise
        raise LtvxlError(f"{names[0]} {split.calibration_end}: no customer bought in the "
                         "calibration period") from None
    eng = src.engine
    eng.create_table(sql.HOLDOUT, sql.holdout_query(cal, end))
    crosstab = eng.query(sql.crosstab_query())
    cohorts = eng.query(sql.cohorts_query())
    d0 = int(cohorts["first_day"].min())
    weeks = bt.tracking_weeks(d0, split)
    by_week = eng.query(sql.weekly_repeats_query(d0, end, bt.TRACKING_DAYS))
    weekly = np.bincount(by_week["week"].to_numpy(np.int64),
                         weights=by_week["n"].to_numpy(float), minlength=weeks)
    counts = eng.query(sql.holdout_counts_query(cal, end)).iloc[0]
    notes = [n for n in summary.notes if not n.startswith("transactions after as_of")]
    if int(counts["late"]):
        notes.append(f"customers first buying in the hold-out, not scored: {int(counts['late']):,}")
    if int(counts["after_end"]):
        notes.append(f"transactions after the hold-out end excluded: "
                     f"{int(counts['after_end']):,}")
    return Holdout(summary, split, crosstab, cohorts, weekly, tuple(notes), names)


def evaluate(holdout: Holdout, model: str | PurchaseModel | None = None) -> EngineBacktest:
    """Fit ``model`` (blank: the default) on the calibration histogram and measure its
    hold-out predictions (the engine sums the values)."""
    mod = registry.purchase_model(model)
    s = holdout.summary
    try:
        fits = fit_histograms(s.histogram, s.spend_histogram, mod, s.time_unit)
    except LtvxlError as exc:
        raise LtvxlError(f"calibration period to {holdout.split.calibration_end}: "
                         f"{exc.message}", exc.code) from None
    length = holdout.holdout_length
    table = scores(fits, s.histogram, horizon=length, horizon_unit=s.time_unit,
                   time_unit=s.time_unit, annual_discount_rate=0.0)
    spend = spend_sql(fits)
    eng = holdout.engine
    eng.register(sql.SCORES, table)
    values = eng.query(sql.value_totals_query(sql.backtest_rows_query(spend, length))).iloc[0]
    keys = ["frequency", "recency", "T"]
    rows = holdout.crosstab.merge(table[[*keys, "expected_purchases"]], on=keys, how="left")
    if rows["expected_purchases"].isna().any():  # pragma: no cover - same summary
        raise AssertionError("a hold-out row has no score")
    w = rows["n"].to_numpy(float)
    x, big_t = rows["frequency"].to_numpy(float), rows["T"].to_numpy(float)
    pred = rows["expected_purchases"].to_numpy(float)
    act = rows["actual_purchases"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        base = np.where(big_t > 0, x / big_t, 0.0) * length
    n = float(w.sum())
    total = float((w * act).sum())
    measures = bt.Measures(
        customers=round(n),
        predicted=float((w * pred).sum()),
        actual=total,
        error=float((w * pred).sum()) / total - 1.0 if total > 0 else float("nan"),
        mae=float((w * np.abs(pred - act)).sum() / n),
        rmse=float(np.sqrt((w * (pred - act) ** 2).sum() / n)),
        spearman=wm.spearman(act, pred, w),
        gini=wm.normalized_gini(act, pred, w),
        decile_mape=wm.decile_mape(act, pred, w)[0],
        predicted_value=float(values["predicted_value"]),
        actual_value=float(values["actual_value"]),
        value_mae=float(values["value_error"]) / n,
        baseline=float((w * base).sum()),
        baseline_mae=float((w * np.abs(base - act)).sum() / n),
        baseline_rmse=float(np.sqrt((w * (base - act) ** 2).sum() / n)),
        baseline_spearman=wm.spearman(act, base, w),
        baseline_gini=wm.normalized_gini(act, base, w),
        baseline_decile_mape=wm.decile_mape(act, base, w)[0],
    )
    by_frequency = bt.frequency_table(
        pd.DataFrame({"frequency": x, "actual_purchases": act, "predicted_purchases": pred}),
        weights=w)
    tracking = bt.tracking_table(mod, fits.purchases, holdout.cohorts["first_day"].to_numpy(),
                                 holdout.cohorts["n"].to_numpy(float), holdout.weekly,
                                 holdout.split, unit_days(s.time_unit))
    return EngineBacktest(mod, holdout.split, s.time_unit, length, by_frequency, tracking,
                          fits.purchases, measures, fits.spend_note, holdout.notes, holdout,
                          table, spend)


def compare(
    holdout: Holdout, models: Sequence[str | PurchaseModel] | None = None
) -> tuple[list[EngineBacktest], dict[str, str]]:
    """(the backtests, {model name: why it could not be fitted}) of ``models`` (default:
    every registered purchase model) on one split (the engine's tables counted once)."""
    done: list[EngineBacktest] = []
    failed: dict[str, str] = {}
    for each in models or registry.PURCHASE_MODELS:
        mod = registry.purchase_model(each)
        try:
            done.append(evaluate(holdout, mod))
        except LtvxlError as exc:
            failed[mod.name] = exc.message
    return done, failed


def backtest(
    source: str,
    calibration_end: Any = None,
    holdout_end: Any = None,
    model: str | PurchaseModel | None = None,
    **options: Any,
) -> EngineBacktest:
    """:func:`prepare` then :func:`evaluate`: the backtest of one model on an engine
    (``options``: those of :func:`prepare`)."""
    return evaluate(prepare(source, calibration_end, holdout_end, **options), model)


def _escaped(column: str) -> str:
    from . import _escaped as escaped

    return escaped(column)


def write_customers(result: EngineBacktest, output: str | None = None, *,
                    output_table: str | None = None) -> int:
    """Write the per-customer table of ``result`` (:data:`COLUMNS`) by the engine: to a
    .csv or .parquet file ``output`` (on Spark, a folder of part files) or, on Spark, the
    catalog table ``output_table``; the number of customers."""
    eng = result.holdout.engine
    eng.register(sql.SCORES, result.scores)
    rows = sql.backtest_rows_query(result.spend, result.holdout_length)
    name = quote_text(result.model.name)
    cols = ", ".join(COLUMNS[2:])
    if output_table:
        write_table = getattr(eng, "write_table", None)
        if write_table is None:
            raise LtvxlError("output_table (--output-table) needs the spark engine; give an "
                             "output file instead")
        write_table(f"SELECT customer, {name} AS model, {cols} FROM ({rows}) AS b",
                    output_table)
    elif output:
        customer = _escaped("customer") if str(output).lower().endswith(".csv") else "customer"
        order = " ORDER BY b.customer" if eng.ordered_output else ""
        eng.write(f"SELECT {customer} AS customer, {name} AS model, {cols} "
                  f"FROM ({rows}) AS b{order}", str(output))
    return result.measures.customers


__all__ = ["COLUMNS", "EngineBacktest", "Holdout", "backtest", "compare", "evaluate",
           "prepare", "write_customers"]
