"""The Scenarios and Trend sheets of the template, and the Dashboard's last-period block.

Scenarios: the Inputs model with a scenario column (a change per driver) and
LTV, LTV:CAC and status of both side by side; the retention and promotion
functions on their worked examples (yellow cells to type over); LTV_SENSITIVITY
of the Inputs model with its tornado chart.

Trend: LTV_TREND of the Transactions table for the period in the selector
cell (``trend_period``: month, quarter or year), with a chart of revenue and
trailing LTV per period. The chart covers the periods of the table for the
period chosen when the workbook was built (the data's span is known then);
after choosing another period in Excel, stretch its data range.

See docs/template.md and docs/decisions.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ltvxl.a1 import col_letters
from ltvxl.decisions import promo_impact

SCENARIO_FUNCTIONS = frozenset({"LTV", "LTV_CAC_RATIO", "LTV_CAC_STATUS", "MAX_CAC",
                                "CLV_RETENTION", "CUSTOMER_LIFESPAN", "RETENTION_IMPACT",
                                "RETENTION_ELASTICITY", "RETENTION_NEEDED", "PROMO_BREAKEVEN",
                                "PROMO_IMPACT", "LTV_SENSITIVITY"})

DRIVER_ROW = 5
"""First driver row of the scenario table (1-based)."""
DRIVERS = (  # label, base formula, default change, how the change applies, format
    ("Average purchase value", "=purchase_value", 0.0, "relative", "money"),
    ("Purchases per customer per year", "=purchases_per_year", 0.0, "relative", "number"),
    ("Yearly retention (1 - 1 / lifespan)", "=1 - 1 / lifespan", 0.05, "points", "percent"),
    ("Lifespan, years (1 / (1 - retention))", "=lifespan", None, "from retention", "number"),
    ("Gross margin", "=gross_margin", 0.0, "relative", "percent"),
    ("Discount rate", "=discount_rate", 0.0, "relative", "percent"),
    ("Customer acquisition cost (CAC)", "=acquisition_cost", 0.0, "relative", "money"),
)
RESULT_ROW = DRIVER_ROW + len(DRIVERS) + 2
"""Header row of the results (1-based); results follow it."""
SENSITIVITY_CELL = "G4"
"""LTV_SENSITIVITY spills from here: a header row and five driver rows."""
SENSITIVITY_ROWS = 5
WHATIF_ROW = RESULT_ROW + 7
"""Title row of the retention and promotion examples (1-based)."""


def _cell(col: str, row: int) -> str:
    return f"{col}{row}"


def scenarios_sheet(book: Any, ws: Any, fmt: Any, have: set[str]) -> None:
    """Write the Scenarios sheet (see the module)."""
    missing = sorted(SCENARIO_FUNCTIONS - have)
    if missing:
        ws.write("A3", f"This sheet uses the worksheet functions {', '.join(missing)}, which "
                       "this version of ltvxl does not provide.", fmt.note)
        return
    ws.set_column("A:A", 40)
    ws.set_column("B:D", 14)
    ws.set_column("E:E", 30)
    ws.set_column("F:F", 3)
    ws.set_column("G:G", 26)
    ws.set_column("H:L", 13, fmt.number)
    ws.write("A2", "The Inputs model against a scenario: type changes in the yellow cells "
                   "(relative changes, retention in points). Tornado: each driver -/+10%.",
             fmt.note)
    ws.write_row(f"A{DRIVER_ROW - 1}", ["Driver", "Base (Inputs)", "Change", "Scenario",
                                        "How the change applies"], fmt.head)
    inputs = {k: book.add_format({"bg_color": "#FFF2CC", "border": 1, "border_color": "#BFBFBF",
                                  "num_format": fmt.of(k).num_format})
              for k in ("percent", "money", "number", "count")}
    rows = {}
    for k, (label, base, change, how, kind) in enumerate(DRIVERS, start=DRIVER_ROW):
        rows[label.split(" (")[0].split(",")[0]] = k
        ws.write_string(f"A{k}", label)
        ws.write_formula(f"B{k}", base, fmt.of(kind))
        ws.write_string(f"E{k}", how, fmt.note)
        if change is None:
            continue
        ws.write_number(f"C{k}", change, inputs["percent"])
        scenario = f"=B{k} + C{k}" if how == "points" else f"=B{k} * (1 + C{k})"
        ws.write_formula(f"D{k}", scenario, fmt.of(kind))
    apv, freq, ret = (rows[n] for n in ("Average purchase value", "Purchases per customer per year",
                                        "Yearly retention"))
    life, margin, disc, cac = (rows[n] for n in ("Lifespan", "Gross margin", "Discount rate",
                                                 "Customer acquisition cost"))
    ws.write_formula(f"D{life}", f"=CUSTOMER_LIFESPAN(1 - D{ret})", fmt.number)
    top = RESULT_ROW
    ws.write_row(f"A{top}", ["Result", "Base", "Scenario", "Change"], fmt.head)
    results = (
        ("Lifetime value (LTV)", "=LTV({c}{apv}, {c}{freq}, {c}{life}, {c}{margin}, {c}{disc})",
         "money"),
        ("LTV:CAC", "=LTV_CAC_RATIO({r}{ltv}, {c}{cac})", "ratio"),
        ("Status", "=LTV_CAC_STATUS({r}{ratio})", "text"),
        ("Maximum CAC at the target ratio", "=MAX_CAC({r}{ltv}, target_ratio)", "money"),
    )
    ltv_row, ratio_row = top + 1, top + 2
    for k, (label, formula, kind) in enumerate(results, start=top + 1):
        ws.write_string(f"A{k}", label)
        for out_col, src in (("B", "B"), ("C", "D")):  # drivers: base B, scenario D
            text = formula.format(c=src, r=out_col, apv=apv, freq=freq, life=life, margin=margin,
                                  disc=disc, cac=cac, ltv=ltv_row, ratio=ratio_row)
            ws.write_formula(f"{out_col}{k}", text, fmt.of(kind))
        if kind != "text":
            ws.write_formula(f"D{k}", f"=IFERROR(C{k} / B{k} - 1, \"\")", fmt.percent)
    for cell in (f"B{ratio_row}", f"C{ratio_row}"):
        _benchmark(ws, fmt, cell)
    _whatifs(ws, fmt, inputs)
    _tornado(book, ws, fmt)


def _benchmark(ws: Any, fmt: Any, cell: str) -> None:
    rules = ((f"{cell}>=target_ratio", fmt.good), (f"{cell}>=1, {cell}<target_ratio", fmt.warn),
             (f"{cell}<1", fmt.bad))
    for test, style in rules:
        ws.conditional_format(cell, {"type": "formula", "format": style,
                                     "criteria": f"=AND(ISNUMBER({cell}), {test})"})


WHATIFS = (  # (title, inputs (label, value, kind), results (label, formula))
    ("Retention (margin multiple CLV = m r / (1 + i - r), Gupta, Lehmann & Stuart 2004)",
     (("Margin per customer per period", 100.0, "money"),
      ("Retention per period", 0.8, "percent"),
      ("Discount rate per period", 0.12, "percent"),
      ("Retention change (points)", 0.05, "percent"),
      ("Customer value change wanted", 0.25, "percent")),
     (("Customer value", "=CLV_RETENTION({0}, {1}, {2})", "money"),
      ("Customer value at the changed retention", "=CLV_RETENTION({0}, {1} + {3}, {2})",
       "money"),
      ("RETENTION_IMPACT: value change", "=RETENTION_IMPACT({0}, {1}, {2}, {3})", "percent4"),
      ("RETENTION_ELASTICITY: % value per 1% retention", "=RETENTION_ELASTICITY({1}, {2})",
       "number"),
      ("RETENTION_NEEDED: points for the value change wanted",
       "=RETENTION_NEEDED({1}, {2}, {4})", "percent4"))),
    ("Promotion that cuts the margin (a 10% discount: margin 40 -> 30)",
     (("Margin per customer per period", 40.0, "money"),
      ("Margin with the promotion", 30.0, "money"),
      ("Retention per period", 0.8, "percent"),
      ("Discount rate per period", 0.1, "percent")),
     (("Customer value without the promotion", "=CLV_RETENTION({0}, {2}, {3})", "money"),
      ("PROMO_BREAKEVEN: retention needed to keep it", "=PROMO_BREAKEVEN({0}, {1}, {2}, {3})",
       "percent4"))),
)
PROMO_ROWS = len(promo_impact(50.0, 4.0, 0.4, 0.1).rows()) + 1
"""The rows PROMO_IMPACT spills below its header: the measures, then the break-even uplift."""
PROMO_INPUTS = (
    ("Average order value (list price)", 50.0, "money"),
    ("Orders per customer per year", 4.0, "number"),
    ("Gross margin", 0.4, "percent"),
    ("Discount", 0.1, "percent"),
    ("Rise of orders with the promotion", 0.25, "percent"),
    ("Rise of order value", 0.0, "percent"),
    ("Customers", 1000.0, "count"),
)


def _whatifs(ws: Any, fmt: Any, inputs: dict[str, Any]) -> None:
    row = WHATIF_ROW
    ws.write(f"A{row}", "Retention and promotion what-ifs (worked examples of docs/decisions.md; "
                        "type over the yellow cells)", fmt.bold)
    row += 1
    for title, given, results in WHATIFS:
        ws.write_row(f"A{row}", [title], fmt.head)
        row += 1
        refs = []
        for label, value, kind in given:
            ws.write_string(f"A{row}", label)
            ws.write_number(f"B{row}", value, inputs[kind])
            refs.append(f"B{row}")
            row += 1
        for label, formula, kind in results:
            ws.write_string(f"A{row}", label)
            text = formula.format(*refs)
            ws.write_formula(f"B{row}", text, fmt.percent if kind == "percent4" else fmt.of(kind))
            ws.write_string(f"C{row}", text, fmt.note)
            row += 1
        row += 1
    ws.write_row(f"A{row}", ["Promotion in the transaction view (PROMO_IMPACT)"], fmt.head)
    row += 1
    refs = []
    for label, value, kind in PROMO_INPUTS:
        ws.write_string(f"A{row}", label)
        ws.write_number(f"B{row}", value, inputs[kind])
        refs.append(f"B{row}")
        row += 1
    top = row + 1
    ws.write_dynamic_array_formula(f"A{top}", f"=PROMO_IMPACT({', '.join(refs)})")
    # the measures as numbers, the break-even uplift (the last row) as a percentage
    for r in range(top, top + PROMO_ROWS - 1):
        for c in (1, 2, 3):
            ws.write_blank(r, c, None, fmt.number)
    ws.write_blank(top + PROMO_ROWS - 1, 2, None, fmt.percent)


def _tornado(book: Any, ws: Any, fmt: Any) -> None:
    col, row = SENSITIVITY_CELL[0], int(SENSITIVITY_CELL[1:])
    ws.write(f"{col}{row - 1}", "Which driver moves LTV most (LTV_SENSITIVITY of the Inputs "
                                "model, each driver -/+10%)", fmt.bold)
    ws.write_dynamic_array_formula(
        SENSITIVITY_CELL, "=LTV_SENSITIVITY(purchase_value, purchases_per_year, lifespan, "
                          "gross_margin, discount_rate)")
    first, last = row + 1, row + SENSITIVITY_ROWS
    chart = book.add_chart({"type": "bar"})
    for offset, colour in ((4, "#C00000"), (5, "#4472C4")):
        data_col = col_letters(ord(col) - ord("A") + 1 + offset)
        chart.add_series({
            "name": f"=Scenarios!${data_col}${row}",
            "categories": f"=Scenarios!${col}${first}:${col}${last}",
            "values": f"=Scenarios!${data_col}${first}:${data_col}${last}",
            "fill": {"color": colour},
            "overlap": 100,
            "gap": 40,
        })
    chart.set_title({"name": "LTV sensitivity (tornado)"})
    chart.set_y_axis({"reverse": True})
    chart.set_x_axis({"name": "change of LTV", "num_format": "#,##0"})
    chart.set_legend({"position": "bottom"})
    ws.insert_chart(f"{col}{last + 3}", chart)


# ---------------------------------------------------------------- Trend

TREND_CELL = "A5"
"""LTV_TREND spills from here (header row 5)."""
TREND_PERIODS = ("month", "quarter", "year")
TREND_DEFAULT = "quarter"
TREND_LETTERS = {"revenue": "I", "trailing LTV": "P", "revenue vs previous": "Q",
                 "LTV vs previous": "S"}
"""Columns of the spilled LTV_TREND table used by the chart and the Dashboard."""


def periods_between(first_day: int, last_day: int, period: str) -> int:
    """Number of calendar periods from the one of ``first_day`` to the one of ``last_day``."""
    months = np.array([first_day, last_day]).astype("datetime64[D]").astype(
        "datetime64[M]").astype(np.int64)
    size = {"month": 1, "quarter": 3, "year": 12}[period]
    return int(months[1] // size - months[0] // size + 1)


def trend_sheet(book: Any, ws: Any, fmt: Any, have: set[str], dates: np.ndarray) -> None:
    """Write the Trend sheet (see the module); ``dates``: the transactions' dates."""
    if "LTV_TREND" not in have:
        ws.write("A3", "This sheet uses the worksheet function LTV_TREND, which this version of "
                       "ltvxl does not provide.", fmt.note)
        return
    ws.set_column("A:A", 12)
    ws.set_column("B:C", 11, fmt.date)
    ws.set_column("D:H", 10, fmt.count)
    ws.set_column("I:I", 13, fmt.money)
    ws.set_column("J:K", 10, fmt.number)
    ws.set_column("L:M", 9, fmt.percent)
    ws.set_column("N:N", 11, fmt.money)
    ws.set_column("O:O", 9, fmt.percent)
    ws.set_column("P:P", 12, fmt.money)
    ws.set_column("Q:T", 10, fmt.percent)
    ws.write("A2", "LTV period by period from the Transactions table (docs/decisions.md): "
                   "trailing LTV = revenue per active customer x gross margin / churn of the "
                   "6 months before. Partial periods are in grey italics.", fmt.note)
    ws.write_string("A3", "Period")
    selector = book.add_format({"bg_color": "#FFF2CC", "border": 1, "border_color": "#BFBFBF"})
    ws.write_string("B3", TREND_DEFAULT, selector)
    ws.data_validation("B3", {"validate": "list", "source": list(TREND_PERIODS)})
    ws.write_string("C3", "month, quarter or year", fmt.note)
    book.define_name("trend_period", "=Trend!$B$3")
    ws.write_dynamic_array_formula(
        TREND_CELL, "=LTV_TREND(Transactions[customer_id], Transactions[date], "
                    "Transactions[amount], trend_period, as_of, clv_margin)")
    head = int(TREND_CELL[1:])
    grey = book.add_format({"italic": True, "font_color": "#7F7F7F"})
    ws.conditional_format(f"A{head + 1}:T{head + 2000}",
                          {"type": "formula", "criteria": f"=$E{head + 1}=TRUE", "format": grey})
    days = np.asarray(dates, dtype="datetime64[D]").astype(np.int64)
    n = periods_between(int(days.min()), int(days.max()), TREND_DEFAULT) if days.size else 1
    first, last = head + 1, head + n
    chart = book.add_chart({"type": "column"})
    chart.add_series({
        "name": f"=Trend!${TREND_LETTERS['revenue']}${head}",
        "categories": f"=Trend!$A${first}:$A${last}",
        "values": f"=Trend!${TREND_LETTERS['revenue']}${first}:${TREND_LETTERS['revenue']}${last}",
        "fill": {"color": "#9DC3E6"},
    })
    line = book.add_chart({"type": "line"})
    line.add_series({
        "name": f"=Trend!${TREND_LETTERS['trailing LTV']}${head}",
        "categories": f"=Trend!$A${first}:$A${last}",
        "values": f"=Trend!${TREND_LETTERS['trailing LTV']}${first}:"
                  f"${TREND_LETTERS['trailing LTV']}${last}",
        "y2_axis": True,
        "marker": {"type": "circle", "size": 5},
        "line": {"color": "#C00000"},
    })
    chart.combine(line)
    chart.set_title({"name": "Revenue and trailing LTV per period"})
    chart.set_y_axis({"name": "revenue", "num_format": "#,##0"})
    line.set_y2_axis({"name": "trailing LTV", "num_format": "#,##0"})
    chart.set_legend({"position": "bottom"})
    ws.insert_chart(f"B{last + 3}", chart, {"x_scale": 1.6, "y_scale": 1.2})


LAST_PERIOD_ROWS = ("period", "revenue", "revenue vs previous", "trailing LTV",
                    "LTV vs previous")


def last_period_block(ws: Any, fmt: Any, have: set[str], top: int, max_row: int) -> None:
    """Dashboard rows from ``top`` (1-based): the last period of the Trend sheet and its change."""
    if "LTV_TREND" not in have:
        return
    head = int(TREND_CELL[1:])
    ws.write(f"A{top}", "Last period (Trend sheet) and its change against the previous one",
             fmt.bold)
    count = f"COUNTA(Trend!$A${head + 1}:$A${max_row})"
    cols = {"period": "A", **TREND_LETTERS}
    styles = {"period": fmt.text, "revenue": fmt.money, "revenue vs previous": fmt.percent,
              "trailing LTV": fmt.money, "LTV vs previous": fmt.percent}
    for k, label in enumerate(LAST_PERIOD_ROWS, start=top + 1):
        c = cols[label]
        ws.write_string(f"A{k}", f"last period: {label}")
        ws.write_formula(f"B{k}", f'=IFERROR(INDEX(Trend!${c}${head + 1}:${c}${max_row}, '
                                  f'{count}), "")', styles[label])
