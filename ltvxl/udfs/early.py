"""Worksheet functions of the first-purchase value model (:mod:`ltvxl.models.early`).

CLV_EARLY spills, for the customers acquired within ``window`` days of ``as_of``, the
probability that they buy again in the ``horizon`` months after their window and their
predicted value over it, from a model trained on the earlier customers (those whose
window and horizon both end by ``as_of``). CLV_EARLY_FIT spills the validation: the
model against the two baselines on a split by acquisition date. Fits are cached on the
content of the features, so recalculating an unchanged range does not refit.
scikit-learn and pandas load at the first call, not when Excel imports the module.
"""

from __future__ import annotations

import importlib
from typing import Any

from ltvxl.domains import Domain
from ltvxl.errors import MAX_NOTE, LtvxlError, cell_error, clip
from ltvxl.models.cache import FitCache
from ltvxl.worksheet import Arg, Spec, declare

from . import _args
from ._logs import log_of
from ._tables import table
from .binding import expose

__all__ = ["CLV_EARLY", "CLV_EARLY_FIT"]

EARLY_CACHE = FitCache(4)
"""The early models fitted by the worksheet, keyed on the content of their features."""

DEFAULT_WINDOW = 30
DEFAULT_HORIZON = 6.0  # the core's defaults (ltvxl.models.early), stated without loading it

WINDOW = Arg(
    "window",
    f"Optional days of each customer's first window, the first purchase day included (a "
    f"whole number from 1 to 3660); blank for {DEFAULT_WINDOW}.",
    kind="number",
    default=DEFAULT_WINDOW,
    domain=Domain(low=1, high=3660),
)
HORIZON = Arg(
    "horizon",
    f"Optional months (30.4375 days) of value predicted after the window, > 0; blank for "
    f"{DEFAULT_HORIZON:g}.",
    kind="number",
    default=DEFAULT_HORIZON,
    domain=Domain(low=0, high=1200, low_open=True),
)
AS_OF = Arg(
    "as_of",
    "Optional end of the data (a date); later transactions are left out. Blank for the last "
    "date in the log.",
    kind="value",
    default=None,
)


COVARIATES = Arg(
    "covariates",
    "Optional covariates of the customers: a range with a header row, the customer id in its "
    "first column and one column per covariate (numbers, or categories such as a persona); "
    "features of the model (cov_<name>). Every customer needs a row.",
    kind="data",
    default=None,
)


def _core() -> Any:
    return importlib.import_module("ltvxl.models.early")


def _whole(window: float) -> int:
    if window != int(window):
        raise LtvxlError(f"window must be a whole number of days, got {window:g}")
    return int(window)


def _fitted(ids: Any, dates: Any, amounts: Any, as_of: Any, window: float,
            horizon: float, covariates: Any = None) -> tuple[Any, Any, Any]:
    early = _core()
    log = log_of(ids, dates, amounts)
    cov = None
    if covariates is not None:
        from ltvxl.models.covariates import for_customers

        from .models import _covariate_table

        cov, _ = for_customers(_covariate_table(covariates), log.customers)
    features = early.customer_features(log, _whole(window), horizon, end=as_of,
                                       covariates=cov)
    return early, features, early.fit(log, features, cache=EARLY_CACHE)


def _early(ids: Any, dates: Any, amounts: Any, as_of: Any, window: float,
           horizon: float, covariates: Any) -> list[list[Any]]:
    early, features, model = _fitted(ids, dates, amounts, as_of, window, horizon,
                                     covariates)
    recent = features.recent
    if not len(recent):
        raise LtvxlError(f"no customer was acquired within {features.window} days of "
                         f"{features.end}: every window is complete (CLV_EARLY_FIT "
                         "shows the model's validation)", "#N/A")
    part = early.Features(recent, features.window, features.horizon, features.end,
                          features.numeric, features.categorical, features.notes)
    out = model.predict(part)
    span = f"{features.horizon:g} months after day {features.window}"
    return table(
        ["customer", "first purchase", "days observed", f"P(buys again in the {span})",
         f"predicted value ({span})"],
        [out["customer"].to_numpy(), out["acquired"].to_numpy(),
         out["observed_days"].to_numpy(), out["p_repeat"].to_numpy(float),
         out["predicted_value"].to_numpy(float)],
    )


def _fit(ids: Any, dates: Any, amounts: Any, as_of: Any, window: float,
         horizon: float, covariates: Any) -> list[list[Any]]:
    early, features, model = _fitted(ids, dates, amounts, as_of, window, horizon,
                                     covariates)
    v = model.validation
    header = ["prediction", "normalized Gini", "decile MAPE", "Spearman", "total error",
              "predicted total", "actual total", "test customers"]

    def number(x: float) -> Any:
        return x if x == x else cell_error("#N/A", "not available")

    rows: list[list[Any]] = [header]
    for s in v.rows:
        rows.append([s.name, *(number(x) for x in (s.gini, s.decile_mape, s.spearman,
                                                  s.total_error, s.predicted, s.actual)),
                     float(s.customers)])
    blank = [None] * (len(header) - 2)
    info = [
        ("split", f"{v.train:,} customers acquired before {v.test_from} train, {v.test:,} "
                  f"from {v.test_from} test (acquisition date)"),
        ("model", f"{early.FAMILY_NAMES[v.family]}, refitted on {model.customers:,} "
                  "customers for CLV_EARLY"),
        ("chosen because", v.why),
        ("features", ", ".join(model.columns)),
        ("target", f"value in the {features.horizon:g} months after the first "
                   f"{features.window} days, data to {features.end}"),
        ("ratio baseline", f"later / window value of the training customers: "
                           f"{v.ratio:.4g}"),
    ]
    for name, d in v.beats().items():
        g, m = d["gini"], d["decile_mape"]
        if g == g and m == m:
            word = "beats" if g > 0 and m > 0 else "does not beat"
            text = f"{word}: Gini {g:+.3f}, decile MAPE {-m * 100:+.1f} points"
            iv = v.intervals.get(name)
            if iv:
                (g0, g1), (m0, m1) = iv["gini"], iv["decile_mape"]
                text += (f" (90% bootstrap: Gini {g0:+.3f} to {g1:+.3f}, decile MAPE "
                         f"{-m1 * 100:+.1f} to {-m0 * 100:+.1f})")
            info.append((f"against {name}", text))
    info += [(f"note: {s.name}", s.note) for s in v.rows if s.note]
    info += [("note", n) for n in model.notes]
    rows += [[label[:MAX_NOTE], clip(text, MAX_NOTE), *blank] for label, text in info]
    return rows


_TX = (_args.IDS, _args.DATES, _args.AMOUNTS, AS_OF, WINDOW, HORIZON, COVARIATES)

CLV_EARLY = expose(
    declare(
        Spec(
            "CLV_EARLY",
            "New customers' value: for those acquired within window days of as_of, the "
            "chance to buy again and the value in the horizon months after their first "
            "window, from a model of the earlier customers' first days.",
            _TX,
            returns="table",
            examples=(
                ('=CLV_EARLY(A2:A5000, B2:B5000, C2:C5000, , 30, 6)',
                 "a table with a header row: customer, first purchase, days observed, "
                 "P(buys again), predicted value"),
                ('=CLV_EARLY(A2:A5000, B2:B5000, C2:C5000, , 30, 6, F1:G800)',
                 "the same, with each customer's covariates of F1:G800 (header row, "
                 "customer id first) among the features"),
            ),
        ),
        _early,
    )
)

CLV_EARLY_FIT = expose(
    declare(
        Spec(
            "CLV_EARLY_FIT",
            "Validation of CLV_EARLY's model on a split by acquisition date: normalized "
            "Gini, decile MAPE, Spearman and total error against the window value x ratio "
            "and BTYD baselines, and the features used.",
            _TX,
            returns="table",
            examples=(
                ('=CLV_EARLY_FIT(A2:A5000, B2:B5000, C2:C5000, , 30, 6)',
                 "a table: the model and the two baselines, then the split and the choice"),
            ),
        ),
        _fit,
    )
)
