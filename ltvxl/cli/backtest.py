"""``ltvxl backtest``: validate a purchase model on a hold-out period of a transaction file.

Reads a transaction file (CSV, Parquet or XLSX; the built-in sample when none is
given), fits the purchase model on the calibration period (to ``--calibration-end``;
default: the first two thirds of the span), predicts each customer's hold-out
purchases and value, and prints how they compare with what the customers did
(:mod:`ltvxl.models.backtest`). ``--model auto`` backtests every registered model and
keeps the one with the lowest hold-out error. Writes one row per calibration
customer to a CSV file and, with ``--tracking``, the weekly tracking data.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from .. import units
from ..fileio import atomic_output, write_csv
from ..models import registry
from . import engine_clv
from .clv import AUTO, model_key
from .reading import add_read_arguments, read_options

NAMES = ("--calibration-end", "--holdout-end")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The options of ``ltvxl backtest``."""
    parser = sub.add_parser(
        "backtest",
        help="validate the purchase model on a hold-out period (predicted against actual)",
        description="Fit the purchase model on the transactions up to --calibration-end, "
        "predict each customer's purchases and value in the hold-out that follows, and "
        "compare with what they did: totals, per-customer errors, the table by "
        "calibration frequency (0 to 7+) and the weekly cumulative repeat purchases.",
    )
    parser.add_argument("transactions", nargs="?",
                        help="transaction file (default: the built-in sample)")
    parser.add_argument("--calibration-end", metavar="DATE",
                        help="last day of the calibration period, YYYY-MM-DD (default: the "
                        "first two thirds of the span, the hold-out the last third)")
    parser.add_argument("--holdout-end", metavar="DATE",
                        help="last day of the hold-out, YYYY-MM-DD (default: the last date)")
    keys = ", ".join(f"{m.key} ({m.name}{', the default' * (m is registry.DEFAULT)})"
                     for m in registry.PURCHASE_MODELS)
    parser.add_argument("--model", default=registry.DEFAULT.key, type=model_key,
                        metavar="MODEL",
                        help=f"purchase model: {keys}, or {AUTO}: every model, keeping the "
                        "one with the lowest hold-out error per customer")
    parser.add_argument("-o", "--output", default="backtest.csv",
                        help="CSV file to write, one row per calibration customer "
                        "(default: backtest.csv)")
    parser.add_argument("--tracking", metavar="CSV",
                        help="also write the weekly actual and predicted repeat purchases")
    parser.add_argument("--covariates", metavar="FILE",
                        help="CSV or XLSX with the customer id in the first column and one "
                        "column per covariate (e.g. channel): fits the model (pnbd or bgnbd) "
                        "with them on the calibration period and predicts each customer at "
                        "her own rates; every calibration customer needs a row")
    add_read_arguments(parser)
    engine_clv.add_arguments(parser)
    parser.set_defaults(func=run)


def _number(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{value:,.0f}"
    return f"{value:.4f}" if abs(value) < 10 else f"{value:,.2f}"


def _print_comparison(tests: list[Any], failed: dict[str, str]) -> None:
    print("model comparison (hold-out purchases):")
    print(f"  {'model':<18} {'predicted':>10} {'actual':>8} {'error':>8} {'MAE':>8} "
          f"{'RMSE':>8}  fit")
    for b in tests:
        m = b.measures
        print(f"  {b.model.name:<18} {m.predicted:10,.1f} {m.actual:8,.0f} {m.error:8.1%} "
              f"{m.mae:8.4f} {m.rmse:8.4f}  {b.fit_status}")
    m = tests[0].measures
    error = m.baseline / m.actual - 1 if m.actual else float("nan")
    print(f"  {'baseline (rate)':<18} {m.baseline:10,.1f} {m.actual:8,.0f} {error:8.1%} "
          f"{m.baseline_mae:8.4f} {m.baseline_rmse:8.4f}  each customer's past repeat rate")
    for name, why in failed.items():
        print(f"  {name:<18} not fitted: {why}")


def run(args: argparse.Namespace) -> int:
    """Backtest, write the CSV files and print the measures."""
    from ..models import backtest as bt
    from ..transactions import read_transactions

    engine = engine_clv.chosen_engine(args)
    if args.covariates is not None and (engine != "memory" or args.model == AUTO):
        from ..errors import LtvxlError

        raise LtvxlError("--covariates needs a model (pnbd or bgnbd, not auto) and the "
                         "in-memory engine" + (f", not {engine}" if engine != "memory" else ""))
    if engine != "memory":
        return _run_engine(args, engine)
    if args.transactions is None:
        from ..sample_data import load_sample_transactions

        log = load_sample_transactions()
        print("transactions: the built-in sample")
    else:
        log = read_transactions(args.transactions, extra_cols=[], options=read_options(args))
        print(log.columns_line)
    split = bt.split_dates(log, args.calibration_end, args.holdout_end, names=NAMES)
    choice = None
    if args.model == AUTO:
        choice = bt.choose(log, args.calibration_end, args.holdout_end, names=NAMES)
        done = list(choice.backtests)
        result = next(b for b in done if b.model is choice.model)
    else:
        cov = None
        if args.covariates is not None:
            from .covariates_clv import read_table

            cov = read_table(args.covariates)
        result = bt.backtest(log, args.calibration_end, args.holdout_end, args.model,
                             names=NAMES, covariates=cov,
                             covariates_name=Path(args.covariates or "covariates").name)
        done = [result]
    print(split.line())
    _print_result(args, result, done, choice, result.customers)
    table = result.customers.copy()
    table.insert(1, "model", result.fit.model)
    with atomic_output(args.output) as tmp:
        write_csv(table, tmp)
    print(f"Wrote {args.output}: {len(table):,} customers (columns: "
          f"{', '.join(table.columns)})")
    _write_tracking(args, result)
    return 0


def _print_result(args: argparse.Namespace, result: Any, done: list[Any], choice: Any,
                  summary: Any, weights: Any = None) -> None:
    """Print the fit, the comparison, the measures, the table by frequency, the notes and
    the doubts about the calibration fit (``summary``: its frequency and T per customer,
    or per histogram row with ``weights``)."""
    from ..models.doubts import doubts

    fit = result.fit
    unit = units.DEFAULT_UNIT
    params = ", ".join(f"{k} {v:.4g}" for k, v in fit.params.items())
    print(f"{fit.model} fitted on {fit.n_customers:,.0f} calibration customers "
          f"(rates per {unit[:-1]}): {params}; {result.fit_status}")
    if result.spend_note:
        print(f"Gamma-Gamma: {result.spend_note}")
    print(f"hold-out: {result.holdout_length:.4g} {unit}")
    _print_comparison(done, {})
    if choice is not None:
        print(f"chosen: {choice.reason}")
    print(f"measures ({result.model.name}):")
    for label, value in result.measures.rows():
        shown = f"{value:.1%}" if label.startswith("error") and math.isfinite(value) \
            else _number(value)
        print(f"  {label:<44} {shown:>14}")
    print("by calibration frequency (mean hold-out purchases per customer):")
    print(f"  {'frequency':>9} {'customers':>10} {'actual':>8} {'predicted':>10}")
    for row in result.by_frequency.itertuples(index=False):
        print(f"  {row.frequency:>9} {row.customers:10,d} {row.actual:8.3f} "
              f"{row.predicted:10.3f}")
    for note in result.notes:
        print(f"data: {note}")
    months = result.split.holdout_days / units.unit_days("months")
    for doubt in doubts(summary, fit, None, months, weights):  # about the calibration fit
        print(f"ltvxl: warning: calibration: {doubt.line()}", file=sys.stderr)


def _write_tracking(args: argparse.Namespace, result: Any) -> None:
    if args.tracking:
        with atomic_output(args.tracking) as tmp:
            write_csv(result.tracking, tmp)
        print(f"Wrote {args.tracking}: {len(result.tracking):,} weeks (columns: "
              f"{', '.join(result.tracking.columns)})")


def _run_engine(args: argparse.Namespace, engine: str) -> int:
    """The backtest on DuckDB or Spark: counted there, measured here, the per-customer
    table written by the engine (:mod:`ltvxl.engines.holdout`)."""
    from ..engines import holdout as eh
    from ..models import backtest as bt

    eng = engine_clv.open_for(args, engine)
    try:
        h = eh.prepare(str(args.transactions), args.calibration_end, args.holdout_end,
                       engine=eng, names=NAMES, **engine_clv.source_options(args))
        print(h.summary.columns.describe())
        choice = None
        if args.model == AUTO:
            done, failed = eh.compare(h)
            choice = bt.pick(done, failed)
            result = next(b for b in done if b.model is choice.model)
        else:
            result = eh.evaluate(h, args.model)
            done = [result]
        print(h.split.line())
        hist = h.summary.histogram
        _print_result(args, result, done, choice, hist, hist["n"].to_numpy(float))
        where = args.output_table or args.output
        n = eh.write_customers(result, args.output, output_table=args.output_table)
    finally:
        eng.close()
    print(f"Wrote {where}: {n:,} customers (columns: {', '.join(eh.COLUMNS)}; "
          f"counted on {engine})")
    _write_tracking(args, result)
    return 0
