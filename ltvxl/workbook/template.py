"""The template workbook ``templates/ltv_template.xlsx``, built by code.

``ltvxl template`` writes it with XlsxWriter from the built-in sample
transactions, then refreshes it headlessly so that the file carries computed
values (it shows numbers without the add-in, in LibreOffice or in a viewer).
``ltvxl report`` builds the same workbook around the user's transactions.
The build is deterministic: fixed document properties and creation date, and
XlsxWriter's fixed zip timestamps, so the same inputs give the same bytes.

Sheets: Inputs (the unit-economics model with named input cells), Transactions
(an Excel table the analyst replaces), Customers, Predictions, Segments,
Cohorts, Channels (each one spilled ltvxl formula over the table), Scenarios
and Trend (:mod:`ltvxl.workbook.decision_sheets`) and Dashboard (headline
figures, the 3:1 benchmark coloured, the last period's change, charts). A sheet
whose worksheet functions are not part of this version of ltvxl says so
instead of holding formulas.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ltvxl.a1 import col_letters
from ltvxl.assumptions import DEFAULTS, Assumptions
from ltvxl.example import UnitEconomicsInputs
from ltvxl.models import registry
from ltvxl.models.backtest import MEASURES as BACKTEST_MEASURES
from ltvxl.transactions.rfm import SEGMENTS as RFM_SEGMENTS
from ltvxl.transactions.stats import EXTRA_ROWS as STATS_EXTRA_ROWS
from ltvxl.transactions.stats import ROW_KINDS as STATS_ROW_KINDS

from .decision_sheets import last_period_block, scenarios_sheet, trend_sheet
from .refresh import RefreshResult, refresh

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "templates" / "ltv_template.xlsx"
"""The committed template of a source checkout (``ltvxl generate`` rebuilds it); in an
installed package this path does not exist, and nothing writes there."""
CREATED = dt.datetime(2024, 1, 1)
"""The fixed creation date stored in the template's document properties."""

TABLE = "Transactions"
COLUMNS = ("customer_id", "date", "amount", "channel")


@dataclass(frozen=True)
class InputRow:
    name: str
    label: str
    value: Any
    unit: str
    fmt: str


EXCEL_365_CALC_ID = 191029
"""``calcId`` written by the calculation engine of Excel 2019 / Microsoft 365."""


def setting_rows(given: Assumptions | None = None) -> tuple[InputRow, ...]:
    """The named cells of the report's settings on the Inputs sheet (from row 4): what
    the data's figures assume (:class:`ltvxl.assumptions.Assumptions`)."""
    a = given or DEFAULTS
    return (
        InputRow("as_of", "Analysis date (blank: the last transaction date)", None, "date",
                 "date"),
        InputRow("clv_horizon", "Prediction horizon", a.horizon_months, "months", "count"),
        InputRow("clv_margin", "Gross margin", a.gross_margin,
                 "fraction (1: a revenue CLV, not a profit)", "percent"),
        InputRow("clv_discount", "Discount rate", a.annual_discount_rate, "per year, fraction",
                 "percent"),
        InputRow("clv_cac", "Customer acquisition cost (CAC)", a.cac,
                 "currency per new customer (blank: not given)", "money"),
        InputRow("target_ratio", "Target LTV:CAC", 3.0, "ratio (the 3:1 rule)", "ratio"),
        InputRow("clv_model", "Purchase model", a.model,
                 f"{', '.join(registry.choices())} or AUTO (lowest hold-out error)", "text"),
    )


def input_rows(inputs: UnitEconomicsInputs | None = None) -> tuple[InputRow, ...]:
    """The named input cells of the unit-economics calculator on the Inputs sheet (a
    worked example, not computed from the data)."""
    i = inputs or UnitEconomicsInputs()
    return (
        InputRow("purchase_value", "Average purchase value", i.avg_purchase_value,
                 "currency per purchase", "money"),
        InputRow("purchases_per_year", "Purchases per customer per year", i.purchase_frequency,
                 "purchases per year", "number"),
        InputRow("lifespan", "Customer lifespan", i.lifespan_years, "years", "number"),
        InputRow("gross_margin", "Gross margin", i.gross_margin, "fraction (1 = revenue LTV)",
                 "percent"),
        InputRow("discount_rate", "Discount rate", i.discount_rate, "per year, fraction",
                 "percent"),
        InputRow("acquisition_cost", "Customer acquisition cost (CAC)", i.cac,
                 "currency per new customer", "money"),
        InputRow("revenue_per_month", "Revenue per customer per month", i.revenue_per_month,
                 "currency per month", "money"),
    )


RESULT_ROWS = (  # label, defined name, formula, format
    ("Lifetime value (LTV)", "example_ltv",
     "=LTV(purchase_value, purchases_per_year, lifespan, gross_margin, discount_rate)",
     "money"),
    ("LTV:CAC", "example_ltv_cac", "=LTV_CAC_RATIO(example_ltv, acquisition_cost)", "ratio"),
    ("Status", "example_status", "=LTV_CAC_STATUS(example_ltv_cac)", "text"),
    ("Maximum CAC at the target ratio", "example_max_cac", "=MAX_CAC(example_ltv, target_ratio)",
     "money"),
    ("CAC payback (months)", "example_payback",
     "=CAC_PAYBACK(acquisition_cost, revenue_per_month, gross_margin)", "number"),
)
"""The calculator's results. No defined name equals a worksheet function's name (``ltv``
beside =LTV() breaks LibreOffice and risks Excel reading the name as the function)."""


@dataclass
class TransactionsData:
    """The rows written into the Transactions table."""

    ids: Sequence[str]
    dates: np.ndarray  # datetime64[D]
    amounts: np.ndarray
    channels: Sequence[str] | None = None
    columns: str = ""
    """The reader's ``columns: ...`` line, shown on the Dashboard ("" for none)."""
    covariates: Any = None
    """Per-customer covariates (a DataFrame: the customer id first, one column per
    covariate) for the Covariates sheet, or None (``ltvxl report --covariates``)."""
    spend_covariates: bool = False
    """Whether the Predictions sheet's spend model uses the covariates too (CLV_PREDICT's
    and CLV_FIT's ``spend`` COVARIATES; ``ltvxl report --spend-covariates``)."""
    shared: tuple[str, ...] = ()
    """Covariates with one coefficient in both processes (their ``shared_covariates``;
    ``ltvxl report --shared NAME``)."""

    def __len__(self) -> int:
        return len(self.ids)


def sample_transactions() -> TransactionsData:
    """The built-in sample log (ltvxl/data/sample_transactions.csv)."""
    from ltvxl.sample_data import SAMPLE_PATH
    from ltvxl.transactions import read_transactions

    return from_log(read_transactions(SAMPLE_PATH), "channel")


def from_log(log: Any, channel_col: str | None = "channel") -> TransactionsData:
    """The table rows of a :class:`~ltvxl.transactions.log.TransactionLog`."""
    channels = None
    if channel_col is not None and channel_col in log.extra:
        channels = [_text(v) for v in log.extra[channel_col].tolist()]
    return TransactionsData([str(v) for v in log.ids.tolist()], log.dates, log.amounts, channels)


def _text(v: Any) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _functions() -> set[str]:
    from ltvxl.udfs import FUNCTIONS

    return set(FUNCTIONS)


def money_format(currency: str = "", decimals: int = 2) -> str:
    """The number format of amounts: ``#,##0.00``, with the currency before (a symbol such
    as £) or after (a code such as EUR)."""
    base = "#,##0" + ("." + "0" * decimals if decimals else "")
    if not currency:
        return base
    if len(currency) == 1 or not currency.isalpha():
        return f'"{currency}"{base}'
    return f'{base} "{currency}"'


class _Formats:
    def __init__(self, book: Any, currency: str = "") -> None:
        add = book.add_format
        self._book = book
        self._tops: dict[int, Any] = {}
        money = money_format(currency)
        self.cac: float | None = None
        """The report's CAC (None: not given), for the sheets whose layout depends on it."""
        self.title = add({"bold": True, "font_size": 14})
        self.bold = add({"bold": True})
        self.head = add({"bold": True, "bottom": 1})
        self.note = add({"italic": True, "font_color": "#595959"})
        self.partial = add({"italic": True, "font_color": "#A6A6A6"})
        self.money = add({"num_format": money})
        self.number = add({"num_format": "#,##0.00"})
        self.count = add({"num_format": "#,##0"})
        self.percent = add({"num_format": "0.0%"})
        self.percent0 = add({"num_format": "0%"})
        self.ratio = add({"num_format": '0.00"x"'})
        self.date = add({"num_format": "yyyy-mm-dd"})
        self.text = add({})
        self.input = add({"bg_color": "#FFF2CC", "border": 1, "border_color": "#BFBFBF"})
        self.input_money = add({"bg_color": "#FFF2CC", "border": 1, "border_color": "#BFBFBF",
                                "num_format": money})
        self.good = add({"bg_color": "#C6EFCE", "font_color": "#006100"})
        self.warn = add({"bg_color": "#FFEB9C", "font_color": "#9C5700"})
        self.bad = add({"bg_color": "#FFC7CE", "font_color": "#9C0006"})
        self.big = add({"bold": True, "font_size": 16, "num_format": money})
        self.wrap = add({"text_wrap": True, "valign": "top"})
        self.head_wrap = add({"bold": True, "bottom": 1, "text_wrap": True, "valign": "bottom"})
        self.head_wrap_right = add({"bold": True, "bottom": 1, "text_wrap": True,
                                    "valign": "bottom", "align": "right"})
        self.box = add({"text_wrap": True, "valign": "top", "bg_color": "#FFEB9C",
                        "font_color": "#9C5700", "border": 1, "border_color": "#BF9000"})
        self.big_ratio = add({"bold": True, "font_size": 16, "num_format": '0.00"x"'})
        self.big_count = add({"bold": True, "font_size": 16, "num_format": "#,##0"})

    def of(self, name: str) -> Any:
        return getattr(self, name)

    def top(self, style: Any) -> Any:
        """``style`` aligned to the top of its cell (for rows made high for wrapped text)."""
        key = id(style)
        if key not in self._tops:
            props = {"valign": "top"}
            if style is not None and style.num_format:
                props["num_format"] = style.num_format
            self._tops[key] = self._book.add_format(props)
        return self._tops[key]

    def kind(self, kind: str) -> Any:
        """The format of a value of ``kind`` (the kinds the core states for its measures:
        ``ltvxl.transactions.stats.ROW_KINDS``, ``ltvxl.models.backtest.MEASURES``)."""
        return {"date": self.date, "count": self.count, "money": self.money,
                "years": self.number, "per year": self.number, "number": self.number,
                "fraction": self.percent}[kind]


def build_workbook(path: str | Path, data: TransactionsData | None = None,
                   inputs: UnitEconomicsInputs | None = None,
                   progress: Callable[[str], None] | None = None,
                   assumptions: Assumptions | None = None,
                   source: str = "the built-in sample transactions",
                   report_date: str = "") -> None:
    """Write the template with its formulas (no computed values yet) to ``path``.

    ``assumptions``: the report's settings (default :data:`ltvxl.assumptions.DEFAULTS`);
    ``source`` and ``report_date`` are named on the Dashboard."""
    import xlsxwriter

    data = data if data is not None else sample_transactions()
    have = _functions()
    book = xlsxwriter.Workbook(str(path), {"use_future_functions": True})
    book.set_properties({
        "title": "ltvxl customer lifetime value workbook",
        "subject": "Customer lifetime value (LTV/CLV) analytics",
        "author": "ltvxl",
        "company": "",
        "comments": "Built by `ltvxl template`; refresh with `ltvxl refresh` or in Excel.",
        "created": CREATED,
    })
    # calcId of Excel 365's calculation engine: Excel recalculates a whole
    # workbook on opening when the file names an older engine, which without
    # the ltvxl add-in would turn every ltvxl formula into #NAME?.
    book.set_calc_mode("auto", calc_id=EXCEL_365_CALC_ID)
    given = assumptions or DEFAULTS
    fmt = _Formats(book, given.currency)
    fmt.cac = given.cac
    dashboard = book.add_worksheet("Dashboard")
    _inputs_sheet(book, fmt, inputs, given)
    _transactions_sheet(book, fmt, data, progress)
    _covariates_sheet(book, fmt, data.covariates)
    sheets = {
        "Customers": _customers_sheet,
        "Predictions": lambda book, ws, fmt, have, ch: _predictions_sheet(
            book, ws, fmt, have, ch, data.covariates is not None,
            _covariate_options(data)),
        "Segments": _segments_sheet,
        "Cohorts": _cohorts_sheet,
        "Channels": _channels_sheet,
        "Scenarios": lambda book, ws, fmt, have, _ch: scenarios_sheet(book, ws, fmt, have),
        "Trend": lambda book, ws, fmt, have, _ch: trend_sheet(book, ws, fmt, have, data.dates),
        "Validation": lambda book, ws, fmt, have, _ch: _validation_sheet(book, ws, fmt, have,
                                                                         data.dates),
    }
    for name, writer in sheets.items():
        ws = book.add_worksheet(name)
        ws.write("A1", name, fmt.title)
        writer(book, ws, fmt, have, data.channels)
        if name in TABLE_PAGES:
            _table_pages(ws, *TABLE_PAGES[name])
    _dashboard_sheet(book, dashboard, fmt, have, source, report_date)
    if data.columns:  # how the transaction file was read, under the title
        dashboard.write_string("A3", data.columns, fmt.note)
    dashboard.activate()
    if progress:
        progress("template: writing the workbook")
    book.close()


ARGS = "Transactions[customer_id], Transactions[date], Transactions[amount]"


def _missing(ws: Any, fmt: _Formats, name: str) -> None:
    ws.write("A3", f"This sheet uses the worksheet function {name}, which this version of "
                   "ltvxl does not provide.", fmt.note)


def _input_cells(book: Any, ws: Any, fmt: _Formats, rows: Sequence[InputRow], top: int) -> int:
    """Write named yellow input cells from row ``top`` (0-based); the next free row."""
    for k, row in enumerate(rows, start=top):
        ws.write_string(k, 0, row.label)
        style = book.add_format({"bg_color": "#FFF2CC", "border": 1, "border_color": "#BFBFBF",
                                 "num_format": fmt.of(row.fmt).num_format})
        if row.value is None:
            ws.write_blank(k, 1, None, style)
        elif isinstance(row.value, str):
            ws.write_string(k, 1, row.value, style)
            ws.data_validation(k, 1, k, 1, {"validate": "list",
                                            "source": [*registry.choices(), "AUTO"]})
        else:
            ws.write_number(k, 1, float(row.value), style)
        ws.write_string(k, 2, row.unit, fmt.note)
        book.define_name(row.name, f"=Inputs!$B${k + 1}")
    return top + len(rows)


def _inputs_sheet(book: Any, fmt: _Formats, inputs: UnitEconomicsInputs | None,
                  given: Assumptions) -> None:
    ws = book.add_worksheet("Inputs")
    ws.set_column("A:A", 50)
    ws.set_column("B:B", 16)
    ws.set_column("C:C", 44)
    ws.write("A1", "Inputs", fmt.title)
    ws.write("A2", "Yellow cells are inputs: type over them. The report settings apply to "
                   "the data's figures; the calculator below is a separate worked example, "
                   "e.g. =LTV(purchase_value, purchases_per_year, lifespan).", fmt.note)
    ws.write_row("A3", ["Report settings (the data's figures)", "Value", "Unit"], fmt.head)
    top = _input_cells(book, ws, fmt, setting_rows(given), 3) + 1
    ws.write_row(top, 0, ["Unit-economics calculator (a worked example, not the data)",
                          "Value", "Unit"], fmt.head)
    top = _input_cells(book, ws, fmt, input_rows(inputs), top + 1) + 1
    ws.write_row(top, 0, ["Calculator result", "Value", "Formula"], fmt.head)
    for k, (label, name, formula, kind) in enumerate(RESULT_ROWS, start=top + 1):
        ws.write_string(k, 0, label)
        ws.write_formula(k, 1, formula, fmt.of(kind))
        ws.write_string(k, 2, formula, fmt.note)
        book.define_name(name, f"=Inputs!$B${k + 1}")
    _benchmark_colours(ws, fmt, f"B{top + 3}")
    _print_setup(ws, f"A1:C{top + 1 + len(RESULT_ROWS)}")


def _print_setup(ws: Any, area: str, freeze: tuple[int, int] | None = None) -> None:
    """Landscape, one page wide, the given print area; optionally frozen panes."""
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    ws.print_area(area)
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.5)
    if freeze:
        ws.freeze_panes(*freeze)


TABLE_PAGES = {
    "Customers": ("A:K", 3), "Predictions": ("A:F", 3), "Segments": ("A:J", 4),
    "Cohorts": ("A:Z", 4), "Channels": ("A:K", 3), "Scenarios": ("A:L", 0),
    "Trend": ("A:T", 0),
}
"""Each table sheet's printed columns (the first page's width) and its header row (1-based;
0 for none): printed landscape one page wide, the header repeated on every page and
frozen on screen. The Validation sheet sets its own."""


def _table_pages(ws: Any, columns: str, header_row: int) -> None:
    """Landscape A4 pages one page wide over ``columns``, the header row repeated on each
    page and frozen with the first column."""
    first, last = columns.split(":")
    # every row of the columns: XlsxWriter writes it as whole columns, which Excel prints
    # as far as the rows in use
    _print_setup(ws, f"{first}1:{last}1048576", freeze=(header_row, 1) if header_row else None)
    if header_row:
        ws.repeat_rows(header_row - 1)


def _benchmark_colours(ws: Any, fmt: _Formats, cell: str) -> None:
    """Green at or above the target LTV:CAC (3:1), amber from 1 to the target, red below 1."""
    ws.conditional_format(cell, {"type": "formula", "criteria": f"=AND(ISNUMBER({cell}), "
                                 f"{cell}>=target_ratio)", "format": fmt.good})
    ws.conditional_format(cell, {"type": "formula", "criteria": f"=AND(ISNUMBER({cell}), "
                                 f"{cell}>=1, {cell}<target_ratio)", "format": fmt.warn})
    ws.conditional_format(cell, {"type": "formula", "criteria": f"=AND(ISNUMBER({cell}), "
                                 f"{cell}<1)", "format": fmt.bad})


def _transactions_sheet(book: Any, fmt: _Formats, data: TransactionsData,
                        progress: Callable[[str], None] | None) -> None:
    ws = book.add_worksheet("Transactions")
    ws.set_column("A:A", 16)
    ws.set_column("B:B", 12, fmt.date)
    ws.set_column("C:C", 12, fmt.money)
    ws.set_column("D:D", 18)
    n = max(len(data), 1)
    ws.add_table(0, 0, n, len(COLUMNS) - 1, {
        "name": TABLE,
        "style": "Table Style Medium 2",
        "columns": [{"header": c} for c in COLUMNS],
    })
    days = np.asarray(data.dates, dtype="datetime64[D]").astype(np.int64) + 25569
    amounts = np.asarray(data.amounts, dtype=float)
    channels = data.channels
    write_string, write_number = ws.write_string, ws.write_number
    for i, cid in enumerate(data.ids):
        r = i + 1
        write_string(r, 0, cid)  # ids are text, whatever they look like
        write_number(r, 1, float(days[i]), fmt.date)
        write_number(r, 2, float(amounts[i]), fmt.money)
        if channels is not None:
            write_string(r, 3, channels[i])
        if progress and r % 200_000 == 0:
            progress(f"template: {r:,} transactions written")


COVARIATES = "covariates"
"""The workbook name of the Covariates sheet's table (with ``ltvxl report --covariates``),
the ``covariates`` argument of the Predictions sheet's CLV_PREDICT and CLV_FIT."""


def _covariates_sheet(book: Any, fmt: _Formats, table: Any) -> None:
    """The Covariates sheet: the covariates file's table (ids as text, as the
    Transactions'), named :data:`COVARIATES`; nothing without one."""
    if table is None:
        return
    from xlsxwriter.utility import xl_rowcol_to_cell

    from ltvxl.transactions.ids import format_id

    ws = book.add_worksheet("Covariates")
    ws.set_column(0, len(table.columns) - 1, 16)
    for c, name in enumerate(table.columns):
        ws.write_string(0, c, str(name), fmt.head)
    for r, row in enumerate(table.itertuples(index=False), start=1):
        ws.write_string(r, 0, str(format_id(row[0])))
        for c, value in enumerate(row[1:], start=1):
            if isinstance(value, (int, float, np.integer, np.floating)) and \
                    not isinstance(value, bool):
                ws.write_number(r, c, float(value))
            else:
                ws.write_string(r, c, str(value))
    last = xl_rowcol_to_cell(len(table), len(table.columns) - 1, row_abs=True, col_abs=True)
    book.define_name(COVARIATES, f"=Covariates!$A$1:{last}")


def _spill_note(ws: Any, fmt: _Formats, text: str) -> None:
    ws.write("A2", text, fmt.note)


def _spill_header(ws: Any, fmt: _Formats, cell: str, columns: int, lines: int = 2) -> None:
    """Bold, wrapped header cells for the ``columns`` columns of a table spilled from
    ``cell`` (a spilled cell keeps its style), on a row ``lines`` lines high, so every
    header shows whole in its column's width."""
    from xlsxwriter.utility import xl_cell_to_rowcol

    row, col = xl_cell_to_rowcol(cell)
    for c in range(col, col + columns):
        ws.write_blank(row, c, None, fmt.head_wrap)
    ws.set_row(row, 15 * lines)


def _customers_sheet(book: Any, ws: Any, fmt: _Formats, have: set[str], _ch: Any) -> None:
    if "LTV_CUSTOMERS" not in have:
        return _missing(ws, fmt, "LTV_CUSTOMERS")
    ws.set_column("A:A", 16)
    ws.set_column("B:C", 14, fmt.date)
    ws.set_column("D:D", 10, fmt.count)
    ws.set_column("E:F", 14, fmt.money)
    ws.set_column("G:G", 10, fmt.count)
    ws.set_column("H:I", 11, fmt.number)
    ws.set_column("J:K", 15, fmt.money)
    _spill_note(ws, fmt, "One row per customer, spilled by one formula in A3 over the "
                         "Transactions table (recency and age in weeks).")
    _spill_header(ws, fmt, "A3", 11)
    ws.write_dynamic_array_formula("A3", f"=LTV_CUSTOMERS({ARGS}, as_of)", fmt.head_wrap)
    return None


def _covariate_options(data: TransactionsData) -> str:
    """CLV_PREDICT's and CLV_FIT's arguments after ``covariates`` (blank order ids, then
    ``spend`` and ``shared_covariates``) for the report's covariate options; "" for none."""
    if not (data.spend_covariates or data.shared):
        return ""
    spend = '"COVARIATES"' if data.spend_covariates else ""
    shared = (', "' + ", ".join(n.replace('"', '""') for n in data.shared) + '"'
              if data.shared else "")
    return f", , {spend}{shared}"


def _predictions_sheet(book: Any, ws: Any, fmt: _Formats, have: set[str], _ch: Any,
                       covariates: bool = False, options: str = "") -> None:
    """Per-customer predictions (CLV_PREDICT) and the fits (CLV_FIT); with
    ``covariates``, both read the Covariates sheet, with ``options``
    (:func:`_covariate_options`) after it."""
    if "CLV_PREDICT" not in have:
        return _missing(ws, fmt, "CLV_PREDICT")
    ws.set_column("A:A", 16)
    ws.set_column("B:C", 14, fmt.number)
    ws.set_column("D:E", 16, fmt.money)
    ws.set_column("F:F", 10)
    ws.set_column("G:L", 14, fmt.number)
    cov = f", , {COVARIATES}{options}" if covariates else ""
    spend = ("Gamma-Gamma spend with the covariates" if covariates and '"COVARIATES"' in options
             else "Gamma-Gamma spend")
    _spill_note(ws, fmt, "Predicted customer lifetime value per customer (purchases by the "
                         "model of Inputs: clv_model" + (", with each customer's covariates "
                         "of the Covariates sheet" if covariates else "") +
                f"; {spend}), spilled from A3.")
    _spill_header(ws, fmt, "A3", 6, lines=3)
    ws.write_dynamic_array_formula(
        "A3", f"=CLV_PREDICT({ARGS}, clv_horizon, clv_discount, clv_margin, as_of, clv_model"
              f"{cov})", fmt.head_wrap)
    if "CLV_FIT" in have:
        ws.set_column("H:H", 3)
        ws.set_column("I:I", 30)
        ws.set_column("J:N", 12)
        ws.write("I2", "The fitted models (purchases, Gamma-Gamma spend)", fmt.bold)
        ws.write_dynamic_array_formula(
            "I3", f"=CLV_FIT({ARGS}, as_of, clv_model"
                  f"{', ' + COVARIATES + options if covariates else ''})")
    return None


MAX_ROW = 1_048_576
"""Formulas outside spill ranges read whole columns below a spill (not ``A3#``), so that
viewers and LibreOffice, which cannot parse spill references, keep their values."""
STATS_END = 5 + len(STATS_ROW_KINDS) + STATS_EXTRA_ROWS
"""Last row LTV_STATS may reach from Dashboard!A5: its header, its fixed measures, then a
caution and one row per note; the Dashboard's blocks below start after it."""
PREDICTED_ROW = STATS_END + 2
"""The Dashboard's 'Predicted' block: title row; its three figures follow (in column B)."""
SEGMENTS_ROW = PREDICTED_ROW + 5
"""The Dashboard's 'Largest segments by revenue' block (title row)."""
CHART_DATA_ROW = 60
"""The Dashboard's chart data, below its print area (A1:O52): the per-customer figures."""
CURVE_DATA_ROW = CHART_DATA_ROW + 6
"""The cohort value curve's chart data (two rows across), below the per-customer figures."""
TIERS = ("High", "Medium", "Low")
TIER_ROW = 5  # first tier row of the summary on Segments (1-based)
RFM_ROW = 11  # the RFM summary spills from Segments!A11


def _segments_sheet(book: Any, ws: Any, fmt: _Formats, have: set[str], _ch: Any) -> None:
    if not {"LTV_TIER", "LTV_CUSTOMERS"} <= have:
        return _missing(ws, fmt, "LTV_TIER")
    ws.set_column("A:A", 22)
    ws.set_column("B:E", 16, fmt.number)
    ws.set_column("F:G", 3)
    ws.set_column("H:H", 16)
    ws.set_column("I:I", 16, fmt.money)
    ws.set_column("J:J", 10)
    ws.write("A3", "Value tiers: customers ranked by historical value, top 20% High, "
                   "next 30% Medium, the rest Low", fmt.bold)
    ws.write_row("A4", ["tier", "customers", "share of customers", "revenue",
                        "share of revenue"], fmt.head)
    ws.write_row("H4", ["customer", "historical value", "tier"], fmt.head)
    ws.write_dynamic_array_formula("H5", "=DROP(CHOOSECOLS(Customers!A3#, 1, 11), 1)")
    ws.write_dynamic_array_formula("J5", "=LTV_TIER(DROP(CHOOSECOLS(Customers!A3#, 11), 1))")
    first, last = TIER_ROW, TIER_ROW + len(TIERS) - 1
    for k, tier in enumerate(TIERS, start=TIER_ROW):
        ws.write_string(k - 1, 0, tier)
        ws.write_formula(k - 1, 1, f"=COUNTIF($J$5:$J${MAX_ROW}, A{k})", fmt.count)
        ws.write_formula(k - 1, 2, f"=B{k} / SUM(B${first}:B${last})", fmt.percent)
        ws.write_formula(k - 1, 3, f"=SUMIF($J$5:$J${MAX_ROW}, A{k}, $I$5:$I${MAX_ROW})",
                         fmt.money)
        ws.write_formula(k - 1, 4, f"=D{k} / SUM(D${first}:D${last})", fmt.percent)
    if "RFM_SUMMARY" in have:
        ws.write(f"A{RFM_ROW - 1}", "RFM segments (recency, frequency, monetary quintiles)",
                 fmt.bold)
        _spill_header(ws, fmt, f"A{RFM_ROW}", 5)
        for k in range(RFM_ROW, RFM_ROW + len(RFM_SEGMENTS)):  # the rows of the segments
            for c, style in enumerate((fmt.count, fmt.percent, fmt.money, fmt.percent), 1):
                ws.write_blank(k, c, None, style)
        ws.write_dynamic_array_formula(f"A{RFM_ROW}", f"=RFM_SUMMARY({ARGS}, as_of)",
                                       fmt.head_wrap)
        ws.conditional_format(f"E{RFM_ROW + 1}:E{RFM_ROW + len(RFM_SEGMENTS)}",
                              {"type": "data_bar", "bar_color": "#5B9BD5"})
        # each segment's rank by revenue, ties in the table's order (the Dashboard's largest
        # segments: LARGE and MATCH repeat the first of tied revenues), beyond the print area
        first, last = RFM_ROW + 1, RFM_ROW + len(RFM_SEGMENTS)
        ws.write(f"{RANK_COL}{RFM_ROW}", "rank by revenue (for the Dashboard)", fmt.note)
        for r in range(first, last + 1):
            ws.write_formula(f"{RANK_COL}{r}", f'=IF(ISNUMBER(D{r}), COUNTIF($D${first}:$D${last}, '
                                               f'">"&D{r}) + COUNTIF($D${first}:D{r}, D{r}), "")')
    return None


RANK_COL = "L"
"""Segments' column of each RFM segment's rank by revenue, right of the printed columns."""


COHORT_VALUE_ROW = 110  # the cumulative value table spills from Cohorts!A110
CURVE_PERIODS = 36
_END = "IF(ISNUMBER(as_of), as_of, MAX(Transactions[date]))"
_PARTIAL_MONTH = f"INT({_END}) <> EOMONTH({_END}, 0)"
"""Whether the month of the observation end is partial (Excel formula, for conditional formats)."""


def _cohorts_sheet(book: Any, ws: Any, fmt: _Formats, have: set[str], _ch: Any) -> None:
    if "COHORT_TABLE" not in have:
        return _missing(ws, fmt, "COHORT_TABLE")
    ws.set_column("A:A", 14)
    ws.set_column("B:B", 10, fmt.count)
    ws.set_column("C:BZ", 9)
    _spill_note(ws, fmt, "Monthly acquisition cohorts. Retention: share of the cohort buying "
                         f"in each month since acquisition. Cumulative value per customer: from "
                         f"row {COHORT_VALUE_ROW - 1} down. A cohort's last month is partial "
                         "(grey italics) unless as_of is a month end; the Dashboard's value "
                         "curve leaves it out.")
    ws.write("A3", "Retention", fmt.bold)
    ws.write_dynamic_array_formula("A4", f'=COHORT_TABLE({ARGS}, "month", "retention", as_of)')
    for first, last in ((5, COHORT_VALUE_ROW - 3), (COHORT_VALUE_ROW + 1, COHORT_VALUE_ROW + 200)):
        ws.conditional_format(f"C{first}:BZ{last}", {"type": "formula", "criteria": (
            f"=AND(ISNUMBER(C{first}), NOT(ISNUMBER(D{first})), {_PARTIAL_MONTH})"),
            "format": fmt.partial, "stop_if_true": True})
    # the shares as percentages and the values as money: conditional number formats, not
    # 14,000 styled blank cells (after the partial-month grey, which stops the others)
    ws.conditional_format(f"C5:BZ{COHORT_VALUE_ROW - 3}", {"type": "no_blanks",
                                                          "format": fmt.percent0})
    ws.conditional_format(f"C{COHORT_VALUE_ROW + 1}:BZ{COHORT_VALUE_ROW + 200}",
                          {"type": "no_blanks", "format": fmt.money})
    ws.conditional_format(f"C5:BZ{COHORT_VALUE_ROW - 3}", {
        "type": "3_color_scale", "min_color": "#F8696B", "mid_color": "#FFEB84",
        "max_color": "#63BE7B"})
    ws.write(f"A{COHORT_VALUE_ROW - 1}", "Cumulative value per acquired customer", fmt.bold)
    ws.write_dynamic_array_formula(f"A{COHORT_VALUE_ROW}",
                                   f'=COHORT_TABLE({ARGS}, "month", "ltv", as_of)')
    ws.conditional_format(f"C{COHORT_VALUE_ROW + 1}:BZ{COHORT_VALUE_ROW + 200}", {
        "type": "3_color_scale", "min_color": "#F8F8F8", "mid_color": "#9DC3E6",
        "max_color": "#2F5597"})
    return None


def _grey_small_groups(ws: Any, fmt: _Formats, last_row: int, caution: str) -> None:
    """Grey the rows of LTV_BY_GROUP's groups too small to compare (those whose ``caution``
    column is not empty), before any other colour of those cells."""
    ws.conditional_format(f"A4:{caution}{last_row}", {
        "type": "formula", "criteria": f'=${caution}4<>""', "format": fmt.partial,
        "stop_if_true": True})


def _channels_sheet(book: Any, ws: Any, fmt: _Formats, have: set[str], channels: Any) -> None:
    if "LTV_BY_GROUP" not in have:
        return _missing(ws, fmt, "LTV_BY_GROUP")
    if channels is None:
        ws.write("A3", "The transactions have no channel column.", fmt.note)
        return None
    names = sorted({c for c in channels if c})
    ws.set_column("A:A", 20)
    ws.set_column("B:B", 11, fmt.count)
    ws.set_column("C:C", 18, fmt.count)  # the model view's CLV per customer below
    ws.set_column("D:D", 14, fmt.money)
    ws.set_column("E:E", 14, fmt.money)
    ws.set_column("F:F", 12, fmt.percent)
    ws.set_column("G:G", 12, fmt.money)
    ws.set_column("H:H", 12, fmt.ratio)
    ws.set_column("J:J", 20)
    ws.set_column("K:K", 14, fmt.money)
    last = 3 + max(len(names), 1)
    _spill_header(ws, fmt, "A3", 9)
    if fmt.cac is None:
        _spill_note(ws, fmt, "Customers by the channel of their first purchase. No CAC "
                             "given (ltvxl report --cac), so no LTV:CAC by channel.")
        ws.write_dynamic_array_formula(
            "A3", f"=LTV_BY_GROUP(Transactions[channel], {ARGS})", fmt.head_wrap)
        _grey_small_groups(ws, fmt, last + 1, "G")
        ws.set_column("G:G", 38)
        _channel_model(ws, fmt, last + 4, len(names), "")
        return None
    _spill_note(ws, fmt, "Customers by the channel of their first purchase. CAC per channel: "
                         "the yellow cells (default: the report's CAC on Inputs).")
    ws.write_row("J3", ["channel", "CAC"], fmt.head)
    for k, name in enumerate(names, start=3):
        ws.write_string(k, 9, name)
        ws.write_formula(k, 10, "=clv_cac", fmt.input_money)
    ws.write_dynamic_array_formula(
        "A3", f"=LTV_BY_GROUP(Transactions[channel], {ARGS}, J4:K{last}, as_of)",
        fmt.head_wrap)
    _grey_small_groups(ws, fmt, last + 1, "I")
    ws.set_column("I:I", 38)
    _benchmark_colours(ws, fmt, f"H4:H{last + 1}")
    _channel_model(ws, fmt, last + 4, len(names), f"J4:K{last}")
    if names:
        chart = _columns(book, "Channels", 3, last, (("E", "#4472C4"), ("G", "#ED7D31")))
        chart.set_title({"name": "Revenue per customer against CAC, by channel"})
        ws.insert_chart("A" + str(last + 4 + len(names) + 3), chart)  # below the model view
    return None


def _channel_model(ws: Any, fmt: _Formats, top: int, groups: int, cac: str) -> None:
    """LTV_BY_GROUP's MODEL view below the channel table, from row ``top`` (1-based): the
    predicted CLV per customer of each channel from Pareto/NBD with the channel as a
    covariate (the Inputs' horizon, discount and margin), its interval and, with ``cac``
    (the CAC cells), predicted CLV:CAC. Its header is bold and wrapped, its cells carry
    their own formats (customers whole, money in the currency, rate ratios and CLV:CAC
    as 0.00x; the columns' formats are the table's above)."""
    ws.write(f"A{top - 2}", "Predicted CLV by channel: Pareto/NBD with the channel of the "
             "first purchase as a covariate (90% interval from the standard errors).", fmt.note)
    ws.write(f"A{top - 1}", "The reference channel first; exp(coef.) is the channel's "
             "multiple of the reference's purchase or dropout rate.", fmt.note)
    formats = [None, fmt.count, fmt.money, fmt.money, fmt.money, fmt.ratio, fmt.ratio]
    if cac:
        formats += [fmt.money, fmt.ratio]
    _spill_header(ws, fmt, f"A{top}", len(formats) + 1, lines=MODEL_HEADER_LINES)
    # the last number column is the table above's wide caution column: header over its numbers
    ws.write_blank(top - 1, len(formats) - 1, None, fmt.head_wrap_right)
    for r in range(top, top + max(groups, 1)):
        for c, f in enumerate(formats):
            if f is not None:
                ws.write_blank(r, c, None, f)
    ws.write_dynamic_array_formula(
        f"A{top}", f"=LTV_BY_GROUP(Transactions[channel], {ARGS}, {cac}, as_of, , , "
        '"MODEL", clv_horizon, clv_discount, clv_margin)', fmt.head_wrap)
    caution = chr(ord("A") + len(formats))
    ws.conditional_format(f"A{top + 1}:{caution}{top + max(groups, 1)}", {
        "type": "formula", "criteria": f'=ISNUMBER(SEARCH("too few", ${caution}{top + 1}))',
        "format": fmt.partial, "stop_if_true": True})


MODEL_HEADER_LINES = 4
"""Lines of the model view's header row: its CLV header ("predicted CLV per customer (12
months, Pareto/NBD with the group)") wraps in column C's width."""


VALIDATION_ROW = 4
"""Header row of the Validation sheet's spilled tables (measures in A, the table by
calibration frequency in D, the weekly tracking in I)."""
FREQUENCY_BINS = 8  # 0, 1, ..., 6, 7+


def _tracking_weeks(dates: Any) -> int:
    """Weeks of CLV_BACKTEST's tracking table: from the first to the last date, 7 days each."""
    days = np.asarray(dates, dtype="datetime64[D]")
    if not days.size:
        return 1
    span = int((days.max() - days.min()).astype(int)) + 1
    return max(-(-span // 7), 1)


def _validation_sheet(book: Any, ws: Any, fmt: _Formats, have: set[str], dates: Any) -> None:
    """Hold-out validation (CLV_BACKTEST): measures, the table by calibration frequency
    and its chart, the weekly cumulative repeat purchases and their chart."""
    if "CLV_BACKTEST" not in have:
        return _missing(ws, fmt, "CLV_BACKTEST")
    top = VALIDATION_ROW
    ws.set_column("A:A", 36)
    ws.set_column("B:B", 22, fmt.number)
    ws.set_column("C:C", 3)
    ws.set_column("D:D", 14)
    ws.set_column("E:E", 11, fmt.count)
    ws.set_column("F:G", 14, fmt.number)
    ws.set_column("H:H", 3)
    ws.set_column("I:I", 7, fmt.count)
    ws.set_column("J:J", 12, fmt.date)
    ws.set_column("K:K", 12)
    ws.set_column("L:O", 12, fmt.number)
    _spill_note(ws, fmt, "Does the model deserve trust on these data? Fitted on the first two "
                         "thirds of the span (the calibration), its predictions for the last "
                         "third (the hold-out) against what the same customers did.")
    ws.write(f"A{top - 1}", "Hold-out measures (the model of Inputs: clv_model)", fmt.bold)
    ws.write_dynamic_array_formula(f"A{top}", f"=CLV_BACKTEST({ARGS}, , as_of, clv_model)")
    # each measure in the format of what it holds, found by its label (rows above it vary)
    for label, _, kind in BACKTEST_MEASURES:
        if kind != "number":
            ws.conditional_format(f"B{top + 1}:B{top + 40}", {
                "type": "formula", "criteria": f'=$A{top + 1}="{label}"',
                "format": fmt.kind(kind)})
    _spill_header(ws, fmt, f"D{top}", 4, lines=3)
    _spill_header(ws, fmt, f"I{top}", 7, lines=3)
    ws.write(f"D{top - 1}", "Mean hold-out purchases per customer, by repeat purchases in the "
                            "calibration", fmt.bold)
    ws.write_dynamic_array_formula(f"D{top}",
                                   f'=CLV_BACKTEST({ARGS}, , as_of, clv_model, "FREQUENCY")',
                                   fmt.head_wrap)
    last = top + FREQUENCY_BINS
    chart = book.add_chart({"type": "column"})
    for col, colour in (("F", "#4472C4"), ("G", "#ED7D31")):
        chart.add_series({
            "name": f"=Validation!${col}${top}",
            "categories": f"=Validation!$D${top + 1}:$D${last}",
            "values": f"=Validation!${col}${top + 1}:${col}${last}",
            "fill": {"color": colour},
        })
    chart.set_title({"name": "Hold-out purchases per customer: actual against predicted"})
    chart.set_x_axis({"name": "repeat purchases in the calibration period"})
    chart.set_y_axis({"name": "mean hold-out purchases per customer"})
    chart.set_legend({"position": "bottom"})
    fits = {"x_scale": 0.85}  # within D:H, left of the weekly table in I:O
    ws.insert_chart(f"D{last + 3}", chart, fits)
    ws.write(f"I{top - 1}", "Weekly repeat purchases of the calibration customers", fmt.bold)
    ws.write_dynamic_array_formula(f"I{top}",
                                   f'=CLV_BACKTEST({ARGS}, , as_of, clv_model, "TRACKING")',
                                   fmt.head_wrap)
    end = top + _tracking_weeks(dates)
    track = book.add_chart({"type": "line"})
    for col, colour in (("N", "#4472C4"), ("O", "#ED7D31")):
        track.add_series({
            "name": f"=Validation!${col}${top}",
            "categories": f"=Validation!$I${top + 1}:$I${end}",
            "values": f"=Validation!${col}${top + 1}:${col}${end}",
            "line": {"color": colour, "width": 2},
        })
    track.set_title({"name": "Cumulative repeat purchases: actual against predicted"})
    track.set_x_axis({"name": "week"})
    track.set_y_axis({"name": "repeat purchases (cumulative)"})
    track.set_legend({"position": "bottom"})
    ws.insert_chart(f"D{last + 20}", track, fits)
    _print_setup(ws, f"A1:O{last + 36}", freeze=(top, 0))
    return None


def _columns(book: Any, sheet: str, head: int, last: int,
             series: tuple[tuple[str, str], ...]) -> Any:
    """A column chart of columns of ``sheet``: names in row ``head``, data below to ``last``."""
    chart = book.add_chart({"type": "column"})
    for col, colour in series:
        chart.add_series({
            "name": f"={sheet}!${col}${head}",
            "categories": f"={sheet}!$A${head + 1}:$A${last}",
            "values": f"={sheet}!${col}${head + 1}:${col}${last}",
            "fill": {"color": colour},
        })
    return chart


def _stat(label: str) -> str:
    """The LTV_STATS value labelled ``label`` (a MATCH pattern) in Dashboard!A5:B22."""
    return f'INDEX($B$5:$B${STATS_END}, MATCH("{label}", $A$5:$A${STATS_END}, 0))'


CHECK_ROW = 19
"""The checks (CLV_CHECK) spill from Dashboard!D19, under the headline figures."""
CHECK_LINES = 6
HEADLINE_ROW = 5
"""The headline figures are in Dashboard!D5:E16 (labels in D, values in E)."""


def _headline(fmt: _Formats, have: set[str]) -> list[tuple[str, str, Any]]:
    """(label or label formula, value formula, format) of the Dashboard's headline block."""
    predicted = "CLV_PREDICT" in have
    rows: list[tuple[str, str, Any]] = []
    if "LTV_STATS" in have:
        rows += [
            ("customers", f"={_stat('customers')}", fmt.big_count),
            ("revenue (returns netted)", f"={_stat('revenue*')}", fmt.big),
            ("historical revenue per customer", f"={_stat('historical revenue per customer')}",
             fmt.big),
        ]
    if predicted:
        rows += [
            ('="predicted CLV per customer, next "&clv_horizon&" months"',
             f"=B{PREDICTED_ROW + 1}", fmt.big),
            ("total predicted CLV of the current customers", f"=B{PREDICTED_ROW + 2}",
             fmt.money),
        ]
    cac = "clv_cac"
    ratio_row = HEADLINE_ROW + len(rows) + 1  # the row after the CAC's
    rows += [("CAC (acquisition cost per new customer)",
              f'=IF(ISNUMBER({cac}), {cac}, "not given")', fmt.money)]
    if predicted:
        clv_row = HEADLINE_ROW + 3
        rows += [
            ("LTV:CAC (predicted CLV per customer / CAC)",
             f'=IF(ISNUMBER({cac}), IF({cac}>0, E{clv_row}/{cac}, "not given"), '
             '"not given")', fmt.big_ratio),
            ("status against the target LTV:CAC",
             f'=IF(ISNUMBER(E{ratio_row}), LTV_CAC_STATUS(E{ratio_row}), '
             '"no CAC given (ltvxl report --cac)")', fmt.bold),
            ("customers probably still active (P(alive) > 0.5)", f"=B{PREDICTED_ROW + 3}",
             fmt.count),
        ]
    rows += [
        ('=IF(clv_margin=1, "gross margin (none given: CLV is revenue, not profit)", '
         '"gross margin")', "=clv_margin", fmt.percent),
        ("discount rate per year", "=clv_discount", fmt.percent),
    ]
    return rows


def _dashboard_sheet(book: Any, ws: Any, fmt: _Formats, have: set[str], source: str,
                     report_date: str) -> None:
    ws.set_column("A:A", 66)
    ws.set_column("B:B", 14, fmt.number)
    ws.set_column("C:C", 3)
    ws.set_column("D:D", 66)  # the checks' lines: 200 characters in three lines
    ws.set_column("E:E", 28)  # a 16-point revenue of millions with a currency
    ws.set_column("F:G", 14)
    ws.write("A1", "Customer lifetime value report", fmt.title)
    dated = f", report of {report_date}" if report_date else ""
    ws.write("A2", f"Source: {source}{dated}. Settings on the Inputs sheet; refreshed by "
                   "ltvxl refresh or in Excel with the ltvxl add-in.", fmt.note)
    ws.write("A4", "From the transactions", fmt.bold)
    if "LTV_STATS" in have:
        ws.write_dynamic_array_formula("A5", f"=LTV_STATS({ARGS}, as_of)")
        # each measure's own format (a cell keeps its style when the spill fills it); the
        # caution and the notes after them are text and counts. Beside the checks, whose
        # rows are high, the measures sit at the top of their cells.
        tall = range(CHECK_ROW, CHECK_ROW + CHECK_LINES) if "CLV_CHECK" in have else range(0)
        kinds = [*STATS_ROW_KINDS, *["count"] * STATS_EXTRA_ROWS]
        for k, kind in enumerate(kinds, start=5):  # 0-based: Dashboard!A6 is the first
            style = fmt.kind(kind)
            if k in tall:
                ws.write_blank(k, 0, None, fmt.top(None))
                style = fmt.top(style)
            ws.write_blank(k, 1, None, style)
    else:
        ws.write_row("A5", ["customers", "=COUNTA(UNIQUE(Transactions[customer_id]))"])
    if "CLV_PREDICT" in have:
        top = PREDICTED_ROW
        ws.write(f"A{top}", "Predicted (Predictions sheet)", fmt.bold)
        ws.write_formula(f"A{top + 1}", '="average predicted CLV per customer, next "&'
                                        'clv_horizon&" months"')
        # no prediction (the model cannot be fitted): words, not a 0 or #DIV/0!
        none = '"not predicted: see the Predictions sheet"'
        made = "ISNUMBER(Predictions!$E$4)"
        ws.write_formula(f"B{top + 1}",
                         f"=IF({made}, AVERAGE(Predictions!$E$4:$E${MAX_ROW}), {none})",
                         fmt.money)
        ws.write_string(f"A{top + 2}", "total predicted CLV of the current customers")
        ws.write_formula(f"B{top + 2}",
                         f"=IF({made}, SUM(Predictions!$E$4:$E${MAX_ROW}), {none})", fmt.money)
        ws.write_string(f"A{top + 3}", "customers probably still active (P(alive) > 0.5)")
        ws.write_formula(f"B{top + 3}",
                         f'=IF({made}, COUNTIF(Predictions!$B$4:$B${MAX_ROW}, ">0.5"), '
                         f"{none})", fmt.count)
    ws.write_row("D4", ["Headline: the data's own figures", ""], fmt.head)
    rows = _headline(fmt, have)
    for k, (label, formula, style) in enumerate(rows, start=HEADLINE_ROW - 1):
        if label.startswith("="):
            ws.write_formula(k, 3, label)
        else:
            ws.write_string(k, 3, label)
        ws.write_formula(k, 4, formula, style)
        if style in (fmt.big, fmt.big_count, fmt.big_ratio):
            ws.set_row(k, 21)  # room for the 16-point figure under the block's rule
    ratio = next((HEADLINE_ROW + i for i, r in enumerate(rows) if r[0].startswith("LTV:CAC")),
                 None)
    if ratio:
        _benchmark_colours(ws, fmt, f"E{ratio}")
    if "CLV_CHECK" in have:
        ws.write_row(f"D{CHECK_ROW - 1}", ["Checks: doubts about the predictions", ""],
                     fmt.head)
        for r in range(CHECK_ROW, CHECK_ROW + CHECK_LINES + 1):
            # a check is up to 200 characters: three lines of column D, so each line's row
            # is as high (rows do not grow by themselves when a spill fills them)
            ws.set_row(r - 1, None if r == CHECK_ROW else 3 * 15, fmt.wrap)
        ws.write_dynamic_array_formula(
            f"D{CHECK_ROW}", f"=CLV_CHECK({ARGS}, clv_horizon, as_of, clv_model)")
        ws.conditional_format(f"D{CHECK_ROW + 1}:D{CHECK_ROW + CHECK_LINES}", {
            "type": "formula", "format": fmt.box,
            "criteria": f'=AND(LEN(D{CHECK_ROW + 1})>0, LEFT(D{CHECK_ROW + 1}, 9)<>"no doubts")'})
    chart_top = CHART_DATA_ROW
    ws.write_row(f"A{chart_top}", ["Chart data (per customer)", "value"], fmt.head)
    chart_rows = [("historical revenue", f"=E{HEADLINE_ROW + 2}"),
                  ("predicted CLV", f"=E{HEADLINE_ROW + 3}"),
                  ("CAC", '=IF(ISNUMBER(clv_cac), clv_cac, NA())')]
    for k, (label, formula) in enumerate(chart_rows, start=chart_top):
        ws.write_string(k, 0, label)
        ws.write_formula(k, 1, formula, fmt.money)
    chart = book.add_chart({"type": "column"})
    chart.add_series({
        "name": "Per customer",
        "categories": f"=Dashboard!$A${chart_top + 1}:$A${chart_top + 3}",
        "values": f"=Dashboard!$B${chart_top + 1}:$B${chart_top + 3}",
        "points": [{"fill": {"color": "#A5A5A5"}}, {"fill": {"color": "#4472C4"}},
                   {"fill": {"color": "#ED7D31"}}],
        "data_labels": {"value": True, "num_format": "#,##0"},
    })
    chart.set_title({"name": "Per customer: revenue so far, predicted CLV, CAC"})
    chart.set_y_axis({"name": "amount per customer", "num_format": "#,##0"})
    chart.set_legend({"none": True})
    ws.insert_chart("H4", chart)
    if {"LTV_TIER", "LTV_CUSTOMERS"} <= have:
        last = TIER_ROW + len(TIERS) - 1
        tiers = _columns(book, "Segments", TIER_ROW - 1, last, (("C", "#A5A5A5"),
                                                                ("E", "#4472C4")))
        tiers.set_title({"name": "Customers and revenue by value tier"})
        tiers.set_y_axis({"name": "share", "num_format": "0%"})
        tiers.set_x_axis({"name": "value tier"})
        ws.insert_chart("H20", tiers)
    if "RFM_SUMMARY" in have:
        ws.write_row(f"A{SEGMENTS_ROW}", ["Largest segments by revenue", "customers"], fmt.head)
        ws.write_row(f"D{SEGMENTS_ROW}", ["revenue", "share of revenue"], fmt.head)
        first, last = RFM_ROW + 1, RFM_ROW + len(RFM_SEGMENTS)
        ranks = f"Segments!${RANK_COL}${first}:${RANK_COL}${last}"
        for k in range(3):  # plain formulas of classic functions: any viewer shows their values
            at = f"MATCH({k + 1}, {ranks}, 0)"
            bought = f"INDEX(Segments!$B${first}:$B${last}, {at}) > 0"  # no empty segment
            for j, (col, out) in enumerate(zip("ABDE", (0, 1, 3, 4), strict=True)):
                ws.write_formula(SEGMENTS_ROW + k, out,
                                 f'=IFERROR(IF({bought}, INDEX(Segments!${col}${first}:'
                                 f'${col}${last}, {at}), ""), "")',
                                 (fmt.text, fmt.count, fmt.money, fmt.percent)[j])
    if "COHORT_CURVE" in have:
        top = CURVE_DATA_ROW  # below the printed page, beside the other chart data
        ws.write(f"A{top}", "Chart data (cohort value curve): cumulative value per acquired "
                            "customer, each month pooling the cohorts observed for all of it",
                 fmt.bold)
        # ages across, values below: the curve's first and last columns, the first
        # CURVE_PERIODS ages; ages no cohort has completed stay empty (gaps in the chart)
        ws.write_dynamic_array_formula(
            f"A{top + 1}",
            f'=TRANSPOSE(TAKE(CHOOSECOLS(COHORT_CURVE({ARGS}, "month", "ltv", as_of), 1, 4), '
            f"{CURVE_PERIODS + 1}))",
        )
        ws.set_row(top + 1, None, fmt.money)
        end = col_letters(1 + CURVE_PERIODS)
        curve = book.add_chart({"type": "line"})
        curve.add_series({
            "name": "Cumulative value per customer",
            "categories": f"=Dashboard!$B${top + 1}:${end}${top + 1}",
            "values": f"=Dashboard!$B${top + 2}:${end}${top + 2}",
            "marker": {"type": "circle", "size": 4},
        })
        curve.set_title({"name": "Cohort value curve"})
        curve.set_x_axis({"name": "months since acquisition"})
        curve.set_y_axis({"name": "cumulative value per customer", "num_format": "#,##0"})
        curve.set_legend({"none": True})
        ws.insert_chart("H36", curve)
    last_period_block(ws, fmt, have, LAST_PERIOD_ROW, MAX_ROW)
    _print_setup(ws, "A1:O52")


LAST_PERIOD_ROW = SEGMENTS_ROW + 6
"""Title row of the Dashboard's last-period block (the Trend sheet's last row and its change)."""


def _layout_rows(data: TransactionsData) -> TransactionsData:
    """The rows the layout depends on: the first, the first of each channel, and those of the
    first and last dates (the span sets the Trend chart's periods)."""
    keep = {0} if len(data) else set()
    if len(data):
        dates = np.asarray(data.dates)
        keep |= {int(np.argmin(dates)), int(np.argmax(dates))}
    if data.channels is not None:
        first: dict[str, int] = {}
        for i, c in enumerate(data.channels):
            first.setdefault(c, i)
        keep |= set(first.values())
    rows = sorted(keep)
    return TransactionsData([data.ids[i] for i in rows], np.asarray(data.dates)[rows],
                            np.asarray(data.amounts)[rows],
                            None if data.channels is None else [data.channels[i] for i in rows],
                            data.columns, data.covariates, data.spend_covariates, data.shared)


def build_template(output: str | Path, data: TransactionsData | None = None,
                   inputs: UnitEconomicsInputs | None = None,
                   progress: Callable[[str], None] | None = None,
                   assumptions: Assumptions | None = None,
                   source: str = "the built-in sample transactions",
                   report_date: str = "") -> RefreshResult:
    """Build the template (or a report around ``data``) and refresh it into ``output``.

    The workbook is laid out by XlsxWriter around a few rows of ``data`` (those
    its layout depends on); all the transactions are then written into the
    Transactions table at XML level by the refresh (:mod:`ltvxl.workbook.fill`), which
    takes their values from memory and streams them into ``output``: a fraction of
    XlsxWriter's memory for a large log, and no rows written twice or read back.
    """
    output = Path(output)
    data = data if data is not None else sample_transactions()
    with tempfile.TemporaryDirectory(prefix="ltvxl-") as tmp:
        layout = Path(tmp) / "layout.xlsx"
        build_workbook(layout, _layout_rows(data), inputs, None, assumptions, source,
                       report_date)
        if progress:
            progress(f"template: computing the formulas over {len(data):,} transactions")
        return refresh(layout, output, progress=progress, fill=(data, TABLE))
