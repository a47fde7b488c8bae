"""``ltvxl early``: what new customers will be worth, from their first days.

Reads a training transaction file (CSV, Parquet or XLSX; the built-in sample when none
is given), computes each customer's features over their first ``--window`` days and the
value of the ``--horizon`` months that follow (:mod:`ltvxl.models.early`), validates the
two-part model on a split by acquisition date against two baselines (the window value
scaled by the training ratio, and the buy-till-you-die prediction), prints the figures,
and writes one row per customer to predict: those of ``--predict FILE``, or by default
the training file's customers still inside their window at its end. Only each customer's
first ``--window`` days are used.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from ..errors import LtvxlError
from ..fileio import atomic_output, write_csv
from .reading import add_read_arguments, read_options


def _window(text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and value == int(value) and 1 <= value <= 3660):
        raise argparse.ArgumentTypeError(
            f'must be a whole number of days from 1 to 3660; got "{text[:24]}"')
    return int(value)


def _horizon(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and 0 < value <= 1200):
        raise argparse.ArgumentTypeError(
            f'must be a number of months > 0 and <= 1200; got "{text[:24]}"')
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The options of ``ltvxl early``."""
    parser = sub.add_parser(
        "early",
        help="predict new customers' value from their first days (first-purchase model)",
        description="Fit a model (a Poisson GLM of the ratio to the window value, or a "
        "two-part model: probability of any later value x value given some, by GLMs or "
        "gradient boosting; scikit-learn, the best on rolling origins kept) of the value in "
        "the --horizon months after each customer's first --window days, from what they "
        "did in those days; validate it on a split by acquisition date against the "
        "window value x ratio and the BTYD prediction; write one row per customer to "
        "predict.",
    )
    parser.add_argument("transactions", nargs="?",
                        help="training transaction file (default: the built-in sample)")
    parser.add_argument("--window", type=_window, default=30, metavar="DAYS",
                        help="days of each customer's first window, the first purchase day "
                        "included (default: 30)")
    parser.add_argument("--horizon", type=_horizon, default=6.0, metavar="MONTHS",
                        help="months (30.4375 days) of value predicted after the window "
                        "(default: 6)")
    parser.add_argument("--predict", metavar="FILE",
                        help="transaction file of the customers to predict, read with the "
                        "same options (default: the training file's customers still inside "
                        "their window at its end)")
    parser.add_argument("--as-of", metavar="DATE",
                        help="last day of the training data, YYYY-MM-DD (default: the last "
                        "date; later rows are left out)")
    parser.add_argument("--new-from", metavar="DATE",
                        help="customers first seen before DATE (YYYY-MM-DD) are existing "
                        "customers, left out of training and prediction (for a log that "
                        "begins in the middle of its customers' histories)")
    parser.add_argument("--covariates", metavar="FILE",
                        help="CSV or XLSX with the customer id in the first column and one "
                        "column per covariate (numbers or categories), for the training and "
                        "the predicted customers alike")
    parser.add_argument("-o", "--output", default="early.csv",
                        help="CSV file to write, one row per predicted customer (default: "
                        "early.csv)")
    add_read_arguments(parser, channel=True)
    parser.set_defaults(func=run)


def _pct(value: float) -> str:
    return f"{value:.1%}" if math.isfinite(value) else "n/a"


def _num(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if math.isfinite(value) else "n/a"


def _covariates(path: str | None, customers: Any) -> Any:
    if path is None:
        return None
    from .covariates_clv import read_covariates

    table, _ = read_covariates(path, customers)
    return table


def print_validation(model: Any) -> None:
    """The split, the choice of family and the measures of the model and the baselines."""
    from ..models import early

    v = model.validation
    print(f"validation: split by acquisition date: {v.train:,} customers acquired before "
          f"{v.test_from} train, {v.test:,} acquired from {v.test_from} test")
    for s in v.families:
        print(f"  family {s.name}: Gini {_num(s.gini)}, decile MAPE {_pct(s.decile_mape)} "
              "(rolling origins)")
    print(f"  chosen: {early.FAMILY_NAMES[v.family]}: {v.why.split(' (')[0]}")
    print(f"  {'prediction':<36} {'Gini':>7} {'dec.MAPE':>9} {'Spearman':>9} "
          f"{'total err':>10}")
    for s in v.rows:
        used = "" if s.deciles in (0, 10) else f" ({s.deciles} deciles)"
        print(f"  {s.name[:36]:<36} {_num(s.gini):>7} {_pct(s.decile_mape):>9} "
              f"{_num(s.spearman):>9} {_pct(s.total_error):>10}{used}")
        if s.note:
            print(f"    {s.note}")
    print(f"  baseline ratio of later to window value (training): {_num(v.ratio, 4)}")
    for name, d in v.beats().items():
        g, m = d["gini"], d["decile_mape"]
        if not (math.isfinite(g) and math.isfinite(m)):
            print(f"  against {name}: not comparable (the baseline has no figures)")
            continue
        verdict = "beats it on both" if g > 0 and m > 0 else \
            "does NOT beat it on " + " and ".join(
                w for w, ok in (("Gini", g > 0), ("decile MAPE", m > 0)) if not ok)
        print(f"  against {name}: Gini {g:+.3f}, decile MAPE {-m * 100:+.1f} points: "
              f"{verdict}")
        iv = v.intervals.get(name)
        if iv:
            (g0, g1), (m0, m1) = iv["gini"], iv["decile_mape"]
            print(f"    90% bootstrap intervals of the test customers: Gini {g0:+.3f} to "
                  f"{g1:+.3f}, decile MAPE {-m1 * 100:+.1f} to {-m0 * 100:+.1f} points")


def run(args: argparse.Namespace) -> int:
    """Fit, validate, predict and write the CSV file."""
    from ..models import early
    from ..transactions import read_transactions

    opts = read_options(args)
    if args.transactions is None:
        from ..sample_data import load_sample_transactions

        log = load_sample_transactions()
        print("transactions: the built-in sample")
    else:
        log = read_transactions(args.transactions, options=opts)
        print(log.columns_line)
    # the file to predict is read before the fit: a bad one is refused at once
    plog = None if args.predict is None else read_transactions(args.predict, options=opts)
    cov = _covariates(args.covariates, log.customers)
    features = early.customer_features(log, args.window, args.horizon, end=args.as_of,
                                       covariates=cov, end_name="--as-of",
                                       new_from=args.new_from, new_from_name="--new-from")
    t = features.table
    print(f"features of the first {features.window} days: {', '.join(features.columns)}")
    print(f"target: value in the {args.horizon:g} months after the window; "
          f"{len(features.training):,} of {len(t):,} customers have both inside the data "
          f"(to {features.end})")
    for note in (*log.notes, *features.notes):
        print(f"data: {note}")
    model = early.fit(log, features)
    for note in model.notes[len(features.notes):]:
        print(f"model: {note}")
    print_validation(model)
    if plog is not None:
        print(f"predict: {plog.columns_line}")
        pcov = _covariates(args.covariates, plog.customers)
        pf = early.customer_features(plog, args.window, args.horizon, covariates=pcov)
        missing = [c for c in features.columns if c not in pf.table]
        if missing:
            raise LtvxlError(f"{args.predict}: the features {', '.join(missing)} of the "
                             "training file cannot be computed from it (a column is missing)")
        which = f"the {len(pf.table):,} customers of {args.predict}"
    else:
        pf = early.customer_features(log, args.window, args.horizon, end=args.as_of,
                                     covariates=cov, end_name="--as-of",
                                     new_from=args.new_from, new_from_name="--new-from")
        pf = early.Features(pf.recent, pf.window, pf.horizon, pf.end, pf.numeric,
                            pf.categorical, pf.notes)
        which = (f"the {len(pf.table):,} customers still inside their {args.window}-day "
                 f"window on {features.end}")
    out = model.predict(pf)
    with atomic_output(args.output) as tmp:
        write_csv(out, tmp)
    print(f"Wrote {args.output}: {which} (columns: {', '.join(out.columns)}; "
          f"predicted_value over {args.horizon:g} months after the window)")
    if not len(out):
        print("note: no customer to predict; give --predict FILE with new customers' "
              "transactions")
    return 0
