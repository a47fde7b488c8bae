"""``ltvxl clv``: predictive CLV of every customer of a transaction file, without Excel.

Reads a transaction file (CSV, Parquet or XLSX; the built-in sample when none
is given), fits the purchase model (Pareto/NBD unless ``--model`` says otherwise)
and Gamma-Gamma, writes one row per
customer (P(alive), expected purchases over the horizon, expected spend,
discounted CLV, churn risk) to a CSV file and prints the fits.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..fileio import atomic_output, write_csv
from ..models import clv
from . import covariates_clv, engine_clv
from .reading import add_read_arguments, read_options

TIME_UNIT = "weeks"


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The options of ``ltvxl clv``."""
    parser = sub.add_parser(
        "clv",
        help="predict each customer's CLV from a transaction file (Pareto/NBD + Gamma-Gamma)",
        description="Fit the purchase model (Pareto/NBD by default, BG/NBD or MBG/NBD) and "
        "Gamma-Gamma "
        "to a transaction file and write P(alive), expected purchases, expected spend, "
        "discounted CLV and churn risk per customer to a CSV file.",
    )
    parser.add_argument(
        "transactions", nargs="?", help="transaction file (default: the built-in sample)"
    )
    parser.add_argument(
        "-o",
        "--output",
        default="clv.csv",
        help="CSV file to write, one row per customer (default: clv.csv)",
    )
    parser.add_argument(
        "--model",
        default=clv.DEFAULT_MODEL,
        choices=("pnbd", "bgnbd", "mbgnbd"),
        help="purchase model: pnbd (Pareto/NBD, the default), bgnbd (BG/NBD) or mbgnbd "
        "(MBG/NBD); BG/NBD gives one-time buyers P(alive) = 1 however long ago they bought. "
        "Spend always by Gamma-Gamma",
    )
    parser.add_argument(
        "--horizon",
        type=float,
        default=12.0,
        help="prediction horizon in --horizon-unit (default: 12)",
    )
    parser.add_argument(
        "--horizon-unit",
        default="months",
        choices=("days", "weeks", "months", "years"),
        help="unit of --horizon (default: months)",
    )
    parser.add_argument(
        "--discount",
        type=float,
        default=0.1,
        help="annual discount rate as a fraction (default: 0.1 = 10%% a year)",
    )
    parser.add_argument(
        "--margin",
        type=float,
        default=1.0,
        help="gross margin as a fraction (default: 1, a revenue CLV)",
    )
    parser.add_argument("--as-of", help="end of observation, YYYY-MM-DD (default: last date)")
    add_read_arguments(parser)
    engine_clv.add_arguments(parser)
    covariates_clv.add_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Fit, predict, write the CSV and print the fits."""
    from ..transactions import read_transactions
    from ..transactions.summary import customer_summary

    engine = engine_clv.chosen_engine(args)
    if engine != "memory":
        return engine_clv.run(args, engine, TIME_UNIT, _print_fit)
    if args.transactions is None:
        from ..sample_data import load_sample_transactions

        log = load_sample_transactions()
    else:
        log = read_transactions(args.transactions, extra_cols=[], options=read_options(args))
        print(log.columns_line)
    summary = customer_summary(log, args.as_of, TIME_UNIT)
    options = dict(horizon=args.horizon, horizon_unit=args.horizon_unit, time_unit=TIME_UNIT,
                   annual_discount_rate=args.discount, gross_margin=args.margin)
    pred = clv.predict(summary.table, model=args.model, **options)
    table = pred.table
    if args.covariates:
        table = covariates_clv.run(args, summary, options)
    with atomic_output(args.output) as tmp:
        write_csv(table, tmp)
    for fit in (pred.purchases_fit, pred.spend_fit):
        if fit is not None:
            _print_fit(fit)
    if pred.spend_note:
        print(f"Gamma-Gamma: {pred.spend_note}")
    for note in summary.notes:
        print(f"data: {note}")
    t = table
    print(
        f"Wrote {args.output}: {len(t):,} customers; over the next {args.horizon:g} "
        f"{args.horizon_unit}: {t['expected_purchases'].sum():,.1f} expected purchases, "
        f"CLV {t['clv'].sum():,.2f} (discounted at {args.discount:g} a year, "
        f"margin {args.margin:g})"
    )
    return 0


def _print_fit(fit: Any) -> None:
    unit = f", rates per {fit.time_unit[:-1]}" if fit.time_unit else ""
    print(f"{fit.model} ({fit.n_customers:,.0f} customers{unit}): {fit.status}")
    for name, value in fit.params.items():
        print(f"  {name:<6} {value:12.6g}  (s.e. {fit.std_errors[name]:.3g})")
    print(f"  log-likelihood {fit.log_likelihood:,.2f}")
    for note in fit.notes:
        print(f"  note: {note}")
