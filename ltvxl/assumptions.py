"""The analyst's assumptions behind a CLV figure, with their defaults stated once.

``ltvxl report`` and ``ltvxl clv`` (and the report's Inputs sheet) read them from
here: the prediction horizon (months), the annual discount rate and the gross
margin (fractions), the customer acquisition cost (currency per new customer;
none unless given) and the currency shown in number formats (none unless given).
A CLV is a profit only with a margin: at the default margin 1 it is a revenue CLV,
and the report says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from .errors import LtvxlError
from .models import defaults as _d
from .models import registry

AUTO = "AUTO"
"""The model setting that picks the registered model with the lowest hold-out error."""

MAX_HORIZON_MONTHS = 600.0
"""The longest horizon accepted (50 years): beyond it a prediction is no forecast."""


@dataclass(frozen=True)
class Assumptions:
    """What a CLV figure assumes beyond the data.

    horizon_months: prediction horizon, months (> 0, at most :data:`MAX_HORIZON_MONTHS`).
    annual_discount_rate: per year, a fraction in [0, 1) (0.1 for 10 % a year).
    gross_margin: a fraction in (0, 1]; 1 gives a revenue CLV.
    cac: customer acquisition cost, currency per new customer (> 0), or None.
    currency: the currency's code or symbol for number formats ("" for none).
    model: the purchase model as the worksheet spells it (PNBD, BGNBD, MBGNBD) or
    :data:`AUTO` (the lowest hold-out error, ``ltvxl.models.backtest.auto_model``).
    """

    horizon_months: float = _d.HORIZON
    annual_discount_rate: float = _d.ANNUAL_DISCOUNT_RATE
    gross_margin: float = _d.GROSS_MARGIN
    cac: float | None = None
    currency: str = ""
    model: str = registry.DEFAULT.choice

    def checked(self) -> Assumptions:
        """``self``, or an error naming the command-line option of the first bad value."""
        h = self.horizon_months
        if not (math.isfinite(h) and 0 < h <= MAX_HORIZON_MONTHS):
            raise LtvxlError(f"--horizon must be a number of months > 0 and at most "
                             f"{MAX_HORIZON_MONTHS:g} (50 years), got {h:g}")
        d = self.annual_discount_rate
        if not (math.isfinite(d) and d >= 0):
            raise LtvxlError(f"--discount must be an annual rate >= 0 as a fraction (0.1 for "
                             f"10 % a year), got {d:g}")
        if d >= 1:
            raise LtvxlError(f"--discount {d:g} is {d:,.0%} a year: give the annual rate as a "
                             f"fraction below 1 (0.1 for 10 %)")
        m = self.gross_margin
        if not (math.isfinite(m) and m > 0):
            raise LtvxlError(f"--margin must be a fraction > 0 and at most 1 (0.3 for a 30 % "
                             f"gross margin), got {m:g}")
        if m > 1:
            raise LtvxlError(f"--margin {m:g} is {m:,.0%}: give the gross margin as a fraction "
                             f"at most 1 (0.3 for 30 %)")
        c = self.cac
        if c is not None and not (math.isfinite(c) and c > 0):
            raise LtvxlError(f"--cac must be a positive amount per new customer, got {c:g} "
                             "(leave it out when the acquisition cost is not known)")
        cur = self.currency
        if len(cur) > 8 or any(ch in cur for ch in '"\\;[]') or any(ch.isdigit() for ch in cur):
            raise LtvxlError(f'--currency must be a short code or symbol such as EUR, USD or £ '
                             f'(at most 8 characters, no digits or quotes), got "{cur}"')
        if self.model != AUTO:
            registry.purchase_model(self.model, "--model")
        return self

    def model_words(self) -> str:
        """The purchase model in words ("Pareto/NBD", "the lowest hold-out error")."""
        if self.model == AUTO:
            return "the one with the lowest hold-out error (auto)"
        return registry.purchase_model(self.model).name

    def defaults(self) -> dict[str, bool]:
        """Whether each assumption is the default, by field name."""
        base = Assumptions()
        return {f.name: getattr(self, f.name) == getattr(base, f.name) for f in fields(self)}

    def lines(self) -> list[str]:
        """The assumptions in words, one line each, "(default)" where not given."""
        dflt = self.defaults()

        def tag(name: str) -> str:
            return " (default)" if dflt[name] else ""

        margin = (f"gross margin {self.gross_margin:.0%}" if self.gross_margin < 1 else
                  "gross margin 1 (none given: CLV is revenue, not profit; --margin)")
        return [
            f"horizon {self.horizon_months:g} months{tag('horizon_months')}",
            f"discount rate {self.annual_discount_rate:.1%} a year{tag('annual_discount_rate')}",
            margin + ("" if self.gross_margin == 1 else tag("gross_margin")),
            "CAC not given (--cac): no LTV:CAC" if self.cac is None else
            f"CAC {self.cac:,.2f} per new customer",
            f"currency {self.currency}" if self.currency else "currency not given (--currency)",
            f"purchase model {self.model_words()}{tag('model')}",
        ]


DEFAULTS = Assumptions()
"""The defaults of ``ltvxl report``, ``ltvxl clv`` and the template's Inputs sheet."""
