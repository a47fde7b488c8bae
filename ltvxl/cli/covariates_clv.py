"""``ltvxl clv --covariates FILE``: Pareto/NBD or BG/NBD with each customer's covariates.

The file (CSV or XLSX) has a header row, the customer id in its first column
and one column per covariate (numbers, or categories such as a channel, which
are one-hot encoded against their most frequent level). Every customer of the
transactions must have a row; extra rows are ignored and counted.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import LtvxlError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The covariate options of ``ltvxl clv``."""
    parser.add_argument(
        "--covariates",
        metavar="FILE",
        help="CSV or XLSX with the customer id in the first column and one column per "
        "covariate (e.g. channel, gender): fits Pareto/NBD with them in the purchase and "
        "dropout processes and prints each coefficient with its standard error",
    )
    parser.add_argument(
        "--shared",
        metavar="NAME",
        action="append",
        help="a covariate (a column of the covariates file, or NAME=LEVEL of a category) "
        "whose coefficient is one number in both processes (printed as 'both: NAME'); "
        "repeat for several",
    )
    parser.add_argument(
        "--spend-covariates",
        action="store_true",
        help="also let the mean spend per purchase depend on the covariates (Gamma-Gamma "
        "with gamma_i = gamma_0 exp(delta'x); prints each spend coefficient and its spend "
        "ratio)",
    )


def read_table(path: str) -> pd.DataFrame:
    """The covariates file as it is: the customer id first, one column per covariate."""
    p = Path(path)
    if not p.is_file():
        raise LtvxlError(f"covariates file not found: {p}")
    if p.suffix.lower() in (".xlsx", ".xlsm"):
        return pd.read_excel(p, engine="calamine")
    if p.suffix.lower() in (".csv", ".txt"):
        return pd.read_csv(p)
    raise LtvxlError(f"{p.name}: covariates are read from .csv or .xlsx files")


def read_covariates(path: str, customers: np.ndarray) -> tuple[pd.DataFrame, int]:
    """The covariate rows of ``customers`` (in their order) and how many rows were unused."""
    from ..models.covariates import for_customers

    return for_customers(read_table(path), customers, Path(path).name)


def run(args: argparse.Namespace, summary: Any, options: dict[str, Any]) -> pd.DataFrame:
    """Fit with covariates, print the coefficients and the test; the per-customer table."""
    from ..models import covariates, registry

    entry = registry.purchase_model(args.model)
    name, model = entry.name, entry.key
    if model not in covariates.LINKS:
        raise LtvxlError(f"--covariates works with Pareto/NBD and BG/NBD, not {name}")
    table, unused = read_covariates(args.covariates, summary.table["customer"].to_numpy())
    design = covariates.design(table)
    t = summary.table
    cov = covariates.fit(t["frequency"], t["recency"], t["T"], design, model=model,
                         time_unit=options["time_unit"], shared=tuple(args.shared or ()))
    fit = cov.fit
    refs = ", ".join(f"{k}={v}" for k, v in design.references.items())
    print(f"{fit.model} ({fit.n_customers:,.0f} customers, rates per week): {fit.status}")
    if refs:
        print(f"  reference levels: {refs}")
    for name, value in fit.params.items():
        se = fit.std_errors[name]
        ratio = f"  rate ratio {math.exp(value):.3g}" if ":" in name else ""
        print(f"  {name:<28} {value:12.6g}  (s.e. {se:.3g}){ratio}")
    print(f"  log-likelihood {fit.log_likelihood:,.2f}; against the model without "
          f"covariates ({cov.plain.log_likelihood:,.2f}): LR {cov.lr_statistic:.2f} on "
          f"{cov.lr_df} df, p = {cov.lr_p_value:.3g}")
    if unused:
        print(f"  note: {unused:,} covariate rows without transactions ignored")
    spend = None
    if args.spend_covariates:
        spend = covariates.fit_spend(t["frequency"], t["monetary_value"], design)
        sf = spend.fit
        print(f"{sf.model} ({sf.n_customers:,.0f} repeat customers): {sf.status}")
        for name, value in sf.params.items():
            ratio = f"  spend ratio {math.exp(value):.3g}" if ":" in name else ""
            print(f"  {name:<28} {value:12.6g}  (s.e. {sf.std_errors[name]:.3g}){ratio}")
        print(f"  log-likelihood {sf.log_likelihood:,.2f}; against Gamma-Gamma without "
              f"covariates ({spend.plain.log_likelihood:,.2f}): LR {spend.lr_statistic:.2f} "
              f"on {spend.lr_df} df, p = {spend.lr_p_value:.3g}")
    return covariates.predict(cov, t, design.matrix, spend=spend, **options)
