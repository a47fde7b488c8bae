"""Arguments shared by several worksheet functions, declared once.

A transaction log (``ids``, ``dates``, ``amounts``), the end of observation
``as_of``, a time unit, a CLV horizon and its unit, a discount rate and a
margin, the purchase ``model`` and row ``weights``. Their choices and defaults
come from where the facts live: the time units from :mod:`ltvxl.units`, the
models from :mod:`ltvxl.models.registry`. Table functions receive them already
read (:func:`ltvxl.worksheet.read_arg`).
"""

from __future__ import annotations

from ltvxl import units
from ltvxl.domains import DISCOUNT_RATE, FRACTION, NON_NEGATIVE, POSITIVE
from ltvxl.errors import LtvxlError
from ltvxl.models import defaults, registry
from ltvxl.worksheet import Arg

UNITS = tuple(units.TIME_UNITS)

IDS = Arg(
    "ids",
    "Customer id of each transaction: a column of text or numbers (1001 and 1001.0 are one "
    "customer); may start with a header row.",
    kind="data",
)
DATES = Arg(
    "dates",
    "Date of each transaction: date cells, Excel serial numbers or year-month-day text "
    "(2024-01-31), in the same rows as ids.",
    kind="data",
)
AMOUNTS = Arg(
    "amounts",
    "Amount of each transaction (currency); negative amounts are returns, netted into revenue.",
    kind="data",
)
AS_OF = Arg(
    "as_of",
    "Optional end of observation (a date); later transactions are left out. Blank for the last "
    "date in the log.",
    kind="value",
    default=None,
)
TIME_UNIT = Arg(
    "time_unit",
    "Optional unit of recency and age: days, weeks, months or years (weeks = days / 7, months "
    f"= days / 30.4375); blank for {units.DEFAULT_UNIT}.",
    kind="text",
    default=units.DEFAULT_UNIT,
    choices=UNITS,
)
FIT_TIME_UNIT = Arg(
    "time_unit",
    f"Optional unit of recency and age: days, weeks, months or years (blank for "
    f"{units.DEFAULT_UNIT}); alpha and beta are rates per this unit.",
    kind="text",
    default=units.DEFAULT_UNIT,
    choices=UNITS,
)
HORIZON = Arg(
    "horizon",
    f"Optional prediction horizon, in horizon_unit ({units.HORIZON_UNIT} unless given); blank "
    f"for {defaults.HORIZON:g}.",
    kind="value",
    default=defaults.HORIZON,
    domain=NON_NEGATIVE,
)
CHECK_HORIZON = Arg(
    "horizon",
    f"Optional prediction horizon, in {units.HORIZON_UNIT}; blank for {defaults.HORIZON:g}.",
    kind="value",
    default=defaults.HORIZON,
    domain=POSITIVE,
)
"""The horizon of CLV_CHECK, whose doubts compare predictions with the past rate."""
HORIZON_UNIT = Arg(
    "horizon_unit",
    f"Optional unit of horizon: days, weeks, months or years; blank for {units.HORIZON_UNIT}.",
    kind="text",
    default=units.HORIZON_UNIT,
    choices=UNITS,
)
ANNUAL_DISCOUNT_RATE = Arg(
    "annual_discount_rate",
    "Optional discount rate per YEAR as a fraction (0.1 for 10 %), applied month by month; "
    f"blank for {defaults.ANNUAL_DISCOUNT_RATE:g}.",
    kind="value",
    default=defaults.ANNUAL_DISCOUNT_RATE,
    domain=DISCOUNT_RATE,
)
GROSS_MARGIN = Arg(
    "gross_margin",
    f"Optional gross margin as a fraction (0.3 for 30 %); blank for {defaults.GROSS_MARGIN:g}, "
    "a revenue CLV.",
    kind="value",
    default=defaults.GROSS_MARGIN,
    domain=FRACTION,
)


def _model_help() -> str:
    names = [f"{m.choice} ({m.name}{', default' * (m is registry.DEFAULT)})"
             for m in registry.PURCHASE_MODELS]  # fmt: skip
    return (
        f"Optional purchase model: {', '.join(names)}; other spellings work too (Pareto/NBD, "
        "bg-nbd). BGNBD gives one-time buyers P(alive) = 1 however long ago they bought."
    )


MODEL = Arg(
    "model",
    _model_help(),
    kind="text",
    default=registry.DEFAULT.choice,
    choices=registry.choices(),
    read=registry.read_choice,
)
"""The purchase model of CLV_PREDICT, CLV_FIT and BTYD_FIT (one default: the registry's)."""

AUTO = "AUTO"
"""The ``model`` choice of CLV_PREDICT and CLV_BACKTEST that picks the purchase model with
the lowest hold-out error (:func:`ltvxl.models.backtest.auto_model`)."""


def read_model_or_auto(value: object) -> str:
    """:data:`AUTO` or the worksheet choice of a registered model (any spelling)."""
    if isinstance(value, str) and registry.normal(value) == AUTO.lower():
        return AUTO
    try:
        return registry.read_choice(value)  # type: ignore[arg-type]
    except LtvxlError:
        text = str(value)
        shown = text if len(text) <= 24 else text[:21] + "..."
        raise LtvxlError(f'model must be {AUTO} or one of {registry.choices_text()}; got '
                         f'"{shown}"') from None


MODEL_OR_AUTO = Arg(
    "model",
    f"Optional purchase model: {registry.choices_text()} ({registry.DEFAULT.choice} if blank), "
    f"or {AUTO}: the one with the lowest hold-out error per customer when the last third of "
    "the data is predicted from the first two.",
    kind="text",
    default=registry.DEFAULT.choice,
    choices=(*registry.choices(), AUTO),
    read=read_model_or_auto,
)
"""The purchase model of the functions that can choose it from the data (CLV_PREDICT,
CLV_BACKTEST)."""

WEIGHTS = Arg(
    "weights",
    "Optional number of customers each row stands for (a column like frequency); blank for 1 each.",
    kind="data",
    default=None,
)
ORDER_IDS = Arg(
    "order_ids",
    "Optional order or invoice id of each transaction, in the same rows as ids: the lines of "
    "one order are one purchase (orders, average order value, RFM frequency count orders). "
    "Blank: each row is a purchase.",
    kind="data",
    default=None,
)
COVARIATES = Arg(
    "covariates",
    "Optional covariates of the customers: a range with a header row, the customer id in its "
    "first column and one column per covariate (numbers, or categories such as a channel); "
    "Pareto/NBD and BG/NBD only.",
    kind="data",
    default=None,
)
"""Per-customer covariates of CLV_FIT and CLV_PREDICT (docs/models.md, covariates)."""
SPEND_CHOICES = ("PLAIN", "COVARIATES")
"""CLV_PREDICT's and CLV_FIT's spend models with covariates: one Gamma-Gamma for every
customer, or Gamma-Gamma whose mean spend depends on the covariates."""
SPEND = Arg(
    "spend",
    "Optional PLAIN (blank: one Gamma-Gamma spend model for every customer) or COVARIATES: "
    "the mean spend per purchase depends on the covariates too (gamma_i = gamma_0 "
    "exp(delta'x), each exp(delta) a spend ratio); needs covariates.",
    kind="text",
    default=SPEND_CHOICES[0],
    choices=SPEND_CHOICES,
)
SHARED = Arg(
    "shared_covariates",
    "Optional covariates whose coefficient is one number in both processes, shown as 'both: "
    "NAME': names of the covariates' header, or NAME=LEVEL of a category, separated by "
    "commas; needs covariates.",
    kind="value",
    default=None,
)
