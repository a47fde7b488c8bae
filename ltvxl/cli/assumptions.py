"""The options ``ltvxl report`` and ``ltvxl clv`` share: horizon, discount, margin, CAC,
currency, with the defaults of :data:`ltvxl.assumptions.DEFAULTS`."""

from __future__ import annotations

import argparse

from .. import units
from ..assumptions import DEFAULTS, Assumptions


def add_options(parser: argparse.ArgumentParser, *, horizon_unit: bool = False) -> None:
    """Add --horizon, --discount, --margin, --cac and --currency to ``parser``."""
    unit = "--horizon-unit" if horizon_unit else "months"
    parser.add_argument("--horizon", type=float, default=DEFAULTS.horizon_months,
                        help=f"prediction horizon in {unit} (default: "
                        f"{DEFAULTS.horizon_months:g} months)")
    if horizon_unit:
        parser.add_argument("--horizon-unit", default=units.HORIZON_UNIT,
                            choices=tuple(units.TIME_UNITS),
                            help=f"unit of --horizon (default: {units.HORIZON_UNIT})")
    parser.add_argument("--discount", type=float, default=DEFAULTS.annual_discount_rate,
                        help="annual discount rate as a fraction (default: "
                        f"{DEFAULTS.annual_discount_rate:g} = "
                        f"{DEFAULTS.annual_discount_rate * 100:g}%% a year)")
    parser.add_argument("--margin", type=float, default=DEFAULTS.gross_margin,
                        help="gross margin as a fraction, e.g. 0.3 (default: "
                        f"{DEFAULTS.gross_margin:g}: a revenue CLV, not a profit)")
    parser.add_argument("--cac", type=float, default=DEFAULTS.cac,
                        help="customer acquisition cost per new customer, for LTV:CAC "
                        "(default: not given, no ratio shown)")
    parser.add_argument("--currency", default=DEFAULTS.currency,
                        help="currency code or symbol shown with amounts, e.g. EUR "
                        "(default: none)")


def from_args(args: argparse.Namespace) -> Assumptions:
    """The checked assumptions of parsed options (an error names the bad option)."""
    unit = getattr(args, "horizon_unit", units.HORIZON_UNIT)
    months = float(args.horizon) * units.unit_days(unit) / units.unit_days("months")
    return Assumptions(months, args.discount, args.margin, args.cac, args.currency).checked()
