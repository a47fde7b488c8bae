"""The built-in worked example of unit economics.

100 per purchase x 3 purchases a year x 5 years = 1,500 of lifetime value;
an acquisition cost of 500 gives LTV:CAC = 3, the usual 3:1 target.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import unit_economics as ue


@dataclass(frozen=True)
class UnitEconomicsInputs:
    """Inputs of the unit-economics model (per year unless stated)."""

    avg_purchase_value: float = 100.0
    purchase_frequency: float = 3.0
    lifespan_years: float = 5.0
    gross_margin: float = 1.0
    discount_rate: float = 0.0
    cac: float = 500.0
    target_ratio: float = 3.0
    revenue_per_month: float = 25.0


def unit_economics(inputs: UnitEconomicsInputs | None = None) -> dict[str, float | str]:
    """Headline figures of the model, by label, in display order."""
    i = inputs or UnitEconomicsInputs()
    value = ue.ltv(i.avg_purchase_value, i.purchase_frequency, i.lifespan_years,
                   i.gross_margin, i.discount_rate)
    ratio = ue.ltv_cac_ratio(value, i.cac)
    return {
        "LTV": value,
        "CAC": i.cac,
        "LTV:CAC": ratio,
        "Status": ue.ltv_cac_status(ratio),
        "Maximum CAC at target": ue.max_cac(value, i.target_ratio),
        "CAC payback (months)": ue.cac_payback(i.cac, i.revenue_per_month, i.gross_margin),
    }
