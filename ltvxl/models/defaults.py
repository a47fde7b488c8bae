"""The defaults of a CLV prediction, stated once for CLV_PREDICT, ``ltvxl clv`` and
:func:`ltvxl.models.clv.predict` (plain numbers: importing this loads nothing).

The purchase model's default is :data:`ltvxl.models.registry.DEFAULT`, the horizon's
unit :data:`ltvxl.units.HORIZON_UNIT` (months).
"""

HORIZON = 12.0
"""Prediction horizon, in :data:`ltvxl.units.HORIZON_UNIT` (12 months)."""

ANNUAL_DISCOUNT_RATE = 0.1
"""Discount rate per year, a fraction (10 % a year)."""

GROSS_MARGIN = 1.0
"""Gross margin, a fraction (1: a revenue CLV)."""
