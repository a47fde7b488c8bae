"""``ltvxl clv``: predictive CLV of every customer of a transaction file, without Excel.

Reads a transaction file (CSV, Parquet or XLSX; the built-in sample when none
is given), fits the purchase model (Pareto/NBD unless ``--model`` says otherwise)
and Gamma-Gamma, writes one row per
customer (P(alive), expected purchases over the horizon, expected spend,
discounted CLV, churn risk) to a CSV file and prints the fits.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .. import units
from ..errors import LtvxlError
from ..fileio import atomic_output, write_csv
from ..models import registry
from . import covariates_clv, engine_clv
from .assumptions import add_options, from_args
from .reading import add_read_arguments, read_options

AUTO = "auto"
"""The ``--model`` value that picks the model with the lowest hold-out error
(:func:`ltvxl.models.backtest.auto_model`)."""


def model_key(text: str) -> str:
    """A ``--model`` value as the registry spells it, or ``auto`` (an argparse error lists
    the choices)."""
    if registry.normal(text) == AUTO:
        return AUTO
    try:
        return registry.purchase_model(text, "the model").key
    except LtvxlError:
        shown = text if len(text) <= 24 else text[:21] + "..."
        raise argparse.ArgumentTypeError(
            f'must be {AUTO} or one of {registry.choices_text()}; got "{shown}"') from None


def models_help() -> str:
    names = [
        f"{m.key} ({m.name}{', the default' * (m is registry.DEFAULT)})"
        for m in registry.PURCHASE_MODELS
    ]
    return ", ".join(names)


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The options of ``ltvxl clv``."""
    parser = sub.add_parser(
        "clv",
        help="predict each customer's CLV from a transaction file "
        f"({registry.DEFAULT.name} + Gamma-Gamma)",
        description=f"Fit the purchase model ({registry.in_words()}) and Gamma-Gamma "
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
        default=registry.DEFAULT.key,
        type=model_key,
        metavar="MODEL",
        help=f"purchase model: {models_help()}; other spellings such as Pareto/NBD or "
        "bg-nbd work too; auto: the one with the lowest hold-out error on the first two "
        "thirds of the data against the last third (as ltvxl backtest). BG/NBD gives "
        "one-time buyers P(alive) = 1 however long ago they bought. Spend always by "
        "Gamma-Gamma",
    )
    add_options(parser, horizon_unit=True)
    parser.add_argument("--as-of", help="end of observation, YYYY-MM-DD (default: last date)")
    add_read_arguments(parser)
    engine_clv.add_arguments(parser)
    covariates_clv.add_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Fit, predict, write the CSV and print the fits."""
    from ..models.doubts import FAR_FACTOR, FAR_FLAG, doubts, far_flags, fit_state
    from ..transactions import read_transactions
    from ..transactions.summary import customer_summary

    given = from_args(args)
    engine = engine_clv.chosen_engine(args)
    if (args.shared or args.spend_covariates) and not args.covariates:
        flag = "--shared" if args.shared else "--spend-covariates"
        raise LtvxlError(f"{flag} uses the covariates of --covariates FILE: give the file")
    if args.model == AUTO and engine != "memory":
        raise LtvxlError(f"--model {AUTO} backtests every model on the transactions in memory: "
                         f"drop --engine {engine}, or name the model (--model)")
    if engine != "memory":
        if args.covariates:  # the engines' histograms have no covariates: never ignore them
            raise LtvxlError(f"--covariates is not applied by --engine {engine} (its summary "
                             "has no covariates); use --engine memory, or drop --covariates")
        return engine_clv.run(args, engine, units.DEFAULT_UNIT, _print_fit)
    if args.transactions is None:
        from ..sample_data import load_sample_transactions

        log = load_sample_transactions()
    else:
        log = read_transactions(args.transactions, extra_cols=[], options=read_options(args))
        print(log.columns_line)
    from ..models import clv

    summary = customer_summary(log, args.as_of, units.DEFAULT_UNIT)
    if args.model == AUTO:
        from ..models.backtest import auto_model

        choice = auto_model(log, summary.as_of)
        args.model = choice.model.key
        print(f"model (auto): {choice.reason}")
    options = dict(horizon=given.horizon_months, horizon_unit=units.HORIZON_UNIT,
                   time_unit=units.DEFAULT_UNIT,
                   annual_discount_rate=given.annual_discount_rate,
                   gross_margin=given.gross_margin)
    try:
        pred = clv.predict(summary.table, model=args.model, **options)
    except LtvxlError as exc:  # the data cannot identify the model: say so in the CSV too
        return _unpredicted(args, summary.table, exc.message)
    table = pred.table.copy()
    if args.covariates:
        table = covariates_clv.run(args, summary, options)
    fit = pred.purchases_fit
    expected = table["expected_purchases"].to_numpy(float)
    table["fit_status"] = fit_state(fit)
    table["flag"] = far_flags(summary.table, expected, given.horizon_months, units.DEFAULT_UNIT)
    found = doubts(summary.table, fit, expected, given.horizon_months)
    more = [d.kind for d in found if d.kind not in ("boundary", "not converged")]
    if more:
        table["fit_status"] = table["fit_status"] + "; " + "; ".join(more)
    with atomic_output(args.output) as tmp:
        write_csv(table, tmp)
    for each in (pred.purchases_fit, pred.spend_fit):
        if each is not None:
            _print_fit(each)
    if pred.spend_note:
        print(f"Gamma-Gamma: {pred.spend_note}")
    for note in summary.notes:
        print(f"data: {note}")
    print("assumptions: " + "; ".join(given.lines()[:3]))
    for doubt in found:
        print(f"ltvxl: warning: {doubt.line()}", file=sys.stderr)
    flagged = int((table["flag"] != "").sum())
    if flagged:
        print(f"ltvxl: warning: {flagged:,} customers flagged {FAR_FLAG!r} in the flag column "
              f"(predicted purchases over {FAR_FACTOR:g} times their own past rate)",
              file=sys.stderr)
    t = table
    print(
        f"Wrote {args.output}: {len(t):,} customers; over the next {given.horizon_months:g} "
        f"months: {t['expected_purchases'].sum():,.1f} expected purchases, "
        f"CLV {t['clv'].sum():,.2f} (discounted at {given.annual_discount_rate:g} a year, "
        f"margin {given.gross_margin:g})"
    )
    return 0


PREDICTED = ("p_alive", "expected_purchases", "expected_spend", "clv", "churn_risk")
"""The prediction columns of the CSV, after the customer."""


def _unpredicted(args: argparse.Namespace, summary: Any, why: str) -> int:
    """Write the CSV of customers without predictions (empty cells, never NaN) and the
    reason in its fit_status column, warn, and succeed: the reason is the answer."""
    import pandas as pd

    table = pd.DataFrame({"customer": summary["customer"].to_numpy()})
    for col in PREDICTED:
        table[col] = ""
    table["fit_status"] = f"not predicted: {why}"
    table["flag"] = ""
    with atomic_output(args.output) as tmp:
        write_csv(table, tmp)
    print(f"ltvxl: warning: no prediction: {why}", file=sys.stderr)
    print(f"Wrote {args.output}: {len(table):,} customers without predictions (the reason is "
          "in the fit_status column)")
    return 0


def _print_fit(fit: Any) -> None:
    unit = f", rates per {fit.time_unit[:-1]}" if fit.time_unit else ""
    print(f"{fit.model} ({fit.n_customers:,.0f} customers{unit}): {fit.status}")
    for name, value in fit.params.items():
        print(f"  {name:<6} {value:12.6g}  (s.e. {fit.std_errors[name]:.3g})")
    print(f"  log-likelihood {fit.log_likelihood:,.2f}")
    for note in fit.notes:
        print(f"  note: {note}")
