"""The report workbook written by ``ltvxl report``."""

from __future__ import annotations

from pathlib import Path

import xlsxwriter

from .example import UnitEconomicsInputs, unit_economics
from .fileio import atomic_output

_INPUT_ROWS = (
    ("avg_purchase_value", "Average purchase value", "avg_purchase_value", "currency"),
    ("purchase_frequency", "Purchases per customer per year", "purchase_frequency", "per year"),
    ("lifespan", "Customer lifespan", "lifespan_years", "years"),
    ("gross_margin", "Gross margin", "gross_margin", "fraction"),
    ("discount_rate", "Discount rate", "discount_rate", "per year"),
    ("acquisition_cost", "Acquisition cost (CAC)", "cac", "currency"),
    ("target_ratio", "Target LTV:CAC", "target_ratio", "ratio"),
    ("revenue_per_month", "Revenue per customer per month", "revenue_per_month", "currency"),
)

_OUTPUT_ROWS = (
    ("LTV", "=LTV(avg_purchase_value, purchase_frequency, lifespan, gross_margin, discount_rate)"),
    ("CAC", "=acquisition_cost"),
    ("LTV:CAC", "=LTV_CAC_RATIO(C12, acquisition_cost)"),
    ("Status", "=LTV_CAC_STATUS(C14)"),
    ("Maximum CAC at target", "=MAX_CAC(C12, target_ratio)"),
    ("CAC payback (months)", "=CAC_PAYBACK(acquisition_cost, revenue_per_month, gross_margin)"),
)


def write_unit_economics_report(
    path: str | Path, inputs: UnitEconomicsInputs | None = None
) -> dict[str, float | str]:
    """Write the unit-economics workbook to ``path``; return its figures.

    The Inputs sheet holds named input cells and ltvxl formulas whose cached
    values are the figures computed here, so the file shows numbers even
    where the ltvxl functions are not installed.
    """
    inputs = inputs or UnitEconomicsInputs()
    figures = unit_economics(inputs)
    with atomic_output(path) as tmp:
        book = xlsxwriter.Workbook(str(tmp))
        bold = book.add_format({"bold": True})
        money = book.add_format({"num_format": "#,##0.00"})
        sheet = book.add_worksheet("Inputs")
        sheet.set_column("A:A", 34)
        sheet.set_column("B:B", 4)
        sheet.set_column("C:C", 16)
        sheet.set_column("D:D", 12)
        sheet.write("A1", "Unit economics", bold)
        for row, (name, label, attr, unit) in enumerate(_INPUT_ROWS, start=1):
            sheet.write(row, 0, label)
            sheet.write_number(row, 2, getattr(inputs, attr), money)
            sheet.write(row, 3, unit)
            book.define_name(name, f"=Inputs!$C${row + 1}")
        sheet.write("A11", "Results", bold)
        for row, (label, formula) in enumerate(_OUTPUT_ROWS, start=11):
            value = figures[label]
            sheet.write(row, 0, label)
            sheet.write_formula(row, 2, formula, money, value)
        book.close()
    return figures
