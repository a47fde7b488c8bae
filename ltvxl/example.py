"""The built-in worked example of unit economics.

100 per purchase x 3 purchases a year x 5 years = 1,500 of lifetime value;
an acquisition cost of 500 gives LTV:CAC = 3, the usual 3:1 target.
"""

from __future__ import annotations

from dataclasses import dataclass


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
