"""The main job, ``ltvxl report``: a transaction file in, a finished workbook out.

The transactions (CSV, Parquet or XLSX; the built-in sample when none is
given) are read and checked by :func:`ltvxl.transactions.read_transactions`,
put into the Transactions table of the template workbook
(:mod:`ltvxl.workbook.template`), and every formula is computed by the
headless refresh, so the report shows numbers wherever it is opened and stays
live in Excel with the ltvxl add-in.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .assumptions import DEFAULTS, Assumptions
from .errors import LtvxlError
from .example import UnitEconomicsInputs


@dataclass
class ReportSummary:
    """The headline figures of a report, as the workbook shows them."""

    output: Path
    source: str
    transactions: int
    figures: dict[str, Any] = field(default_factory=dict)
    segments: list[tuple[str, float, float, float]] = field(default_factory=list)
    """(segment, customers, revenue, share of revenue), largest revenue first."""
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    assumptions: Assumptions = DEFAULTS
    checks: list[str] = field(default_factory=list)
    """The Dashboard's checks (CLV_CHECK): doubts about the predictions, one line each."""
    columns: str = ""
    """The ``columns: ...`` line of the transaction file (what was read, and how)."""
    validation: str = ""
    """The hold-out check of the Validation sheet in one line ("" without that sheet)."""


class Progress:
    """Progress messages on stderr, shown only when the job is slow.

    Messages are printed once the job has run for ``after`` seconds, or from
    the start when ``eager`` (a large input).
    """

    def __init__(self, eager: bool = False, after: float = 1.5,
                 stream: Any = None) -> None:
        self.start = time.monotonic()
        self.eager = eager
        self.after = after
        self.stream = stream

    def __call__(self, message: str) -> None:
        elapsed = time.monotonic() - self.start
        if self.eager or elapsed >= self.after:
            print(f"[{elapsed:5.1f} s] {message}", file=self.stream or sys.stderr, flush=True)


def _channel_column(extra: dict[str, Any], given: str, columns: list[str]) -> str:
    if given not in extra:
        raise LtvxlError(f'channel column "{given}" is not a column of the file; columns '
                         f'are {", ".join(columns)}')
    return given


def load_transactions(
    path: str | Path | None = None,
    id_col: str | None = None,
    date_col: str | None = None,
    amount_col: str | None = None,
    channel_col: str | None = None,
    sheet: str | None = None,
    read: Any = None,
) -> tuple[Any, str | None, str]:
    """(TransactionLog, channel column or None, description of the source).

    ``read``: a :class:`~ltvxl.transactions.ReadOptions` (the arguments before it win)."""
    from .sample_data import load_sample_transactions
    from .transactions import read_transactions

    if path is None:
        return load_sample_transactions(), "channel", "built-in sample transactions"
    # read_transactions names a missing file, a directory and a file without data rows
    log = read_transactions(path, id_col, date_col, amount_col, sheet=sheet, options=read)
    columns = list(log.extra)
    channel_col = channel_col or (read.channel_col if read is not None else None)
    channel = _channel_column(log.extra, channel_col, columns) if channel_col else \
        log.columns.get("channel")
    return log, channel, str(path)


def write_report(
    output: str | Path,
    transactions: str | Path | None = None,
    *,
    id_col: str | None = None,
    date_col: str | None = None,
    amount_col: str | None = None,
    channel_col: str | None = None,
    sheet: str | None = None,
    read: Any = None,
    inputs: UnitEconomicsInputs | None = None,
    template: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
    assumptions: Assumptions | None = None,
    loaded: tuple[Any, str | None, str] | None = None,
    covariates: Any = None,
    covariates_name: str = "covariates",
    spend_covariates: bool = False,
    shared: Sequence[str] = (),
) -> ReportSummary:
    """Write the report workbook for ``transactions`` (default: the sample) to ``output``.

    By default the standard template is built around the transactions; with
    ``template`` (a workbook with an Excel table named Transactions, such as
    an analyst's copy of ``templates/ltv_template.xlsx``) a copy of that
    workbook is filled instead (``inputs`` then do not apply: the template's
    own Inputs stay). ``assumptions``: horizon, discount, margin, CAC and currency
    (default :data:`ltvxl.assumptions.DEFAULTS`), put on the Inputs sheet. ``loaded``:
    (log, channel column, source in words) read already (an engine's sample,
    :mod:`ltvxl.engines.sample`), reported instead of ``transactions``.
    ``covariates``: a table, the customer id first and one column per covariate, for
    every customer (``covariates_name`` in messages): put on a Covariates sheet that the
    Predictions sheet's CLV_PREDICT and CLV_FIT read (standard template only);
    ``spend_covariates``: their spend model uses the covariates too; ``shared``: covariates
    with one coefficient in both processes (both need ``covariates``).
    """
    import datetime as dt

    from .transactions import one_row_per_order
    from .workbook.template import build_template, from_log

    settings = (assumptions or DEFAULTS).checked()
    say = progress or (lambda _m: None)
    for given in (transactions, template):
        if given is not None and Path(given).exists() and Path(output).exists() \
                and Path(given).resolve() == Path(output).resolve():
            raise LtvxlError(f"{output} is an input of the report; write the report to "
                             "another file (input files are never modified)")
    if loaded is None:
        say(f"reading {transactions or 'the built-in sample transactions'}")
        log, channel, source = load_transactions(transactions, id_col, date_col, amount_col,
                                                 channel_col, sheet, read)
    else:
        log, channel, source = loaded
    say(f"read {len(log):,} transactions of {log.customers.size:,} customers")
    # the Transactions table has no order column: one row per order, so that its rows
    # are the purchases the log counts (lines of an order summed)
    per_order = one_row_per_order(log)
    data = from_log(per_order, channel)
    data.columns = log.columns_line
    if covariates is not None:
        if template is not None:
            raise LtvxlError("covariates go on the standard template's Covariates sheet: "
                             "drop the template, or add the range to your own workbook's "
                             "CLV_PREDICT")
        from .models.covariates import design, for_customers

        rows, _ = for_customers(covariates, log.customers, covariates_name)
        names = design(rows).names  # a missing value or no covariate column, said first
        unknown = [n for n in shared if n not in names]
        if unknown:
            raise LtvxlError(f'shared covariate "{unknown[0]}" is not a covariate of '
                             f"{covariates_name} ({', '.join(names)}; a category's level as "
                             "NAME=LEVEL)")
        data.covariates = covariates
        data.spend_covariates, data.shared = spend_covariates, tuple(shared)
    elif spend_covariates or shared:
        raise LtvxlError("spend covariates and shared coefficients use the covariates: give "
                         "them")
    if template is None:
        name = Path(source).name if transactions is not None and loaded is None else source
        result = build_template(output, data, inputs, progress=say, assumptions=settings,
                                source=name, report_date=dt.date.today().isoformat())
    else:
        result = _fill_and_refresh(Path(template), data, Path(output), say)
    summary = ReportSummary(Path(output), source, len(log), notes=per_order.notes,
                            warnings=result.warnings, assumptions=settings,
                            columns=log.columns_line)
    if covariates is not None:
        summary.notes = [*summary.notes, f"covariates of {covariates_name} "
                         f"({', '.join(map(str, covariates.columns[1:]))}) on the Covariates "
                         "sheet: the Predictions sheet's model uses them"]
    _read_back(summary, dict(result.errors))
    return summary


def _fill_and_refresh(template: Path, data: Any, output: Path,
                      say: Callable[[str], None]) -> Any:
    from .workbook.refresh import refresh

    say(f"filling a copy of {template} and computing the formulas")
    return refresh(template, output, progress=say, fill=(data, "Transactions"))


def _read_back(summary: ReportSummary, errors: dict[str, str]) -> None:
    """The headline figures, checks and largest segments as stored in the written workbook
    (the standard Dashboard: headline labels in D5:D16, values in E; checks from D19;
    segments below SEGMENTS_ROW; another template's Dashboard gives what it has). ``errors``: the
    message of each cell holding an ltvxl error value (the refresh's ``errors``)."""
    from python_calamine import CalamineWorkbook

    from .workbook.template import CHECK_LINES, CHECK_ROW, HEADLINE_ROW, SEGMENTS_ROW

    book = CalamineWorkbook.from_path(str(summary.output))
    rows = book.get_sheet_by_name("Dashboard").to_python(skip_empty_area=False)

    def cell(r: int, c: int) -> Any:
        return rows[r - 1][c - 1] if r <= len(rows) and c <= len(rows[r - 1]) else None

    _last_period(summary, cell)
    _validation(summary, book, errors)
    _no_prediction(summary, book, errors)
    if not str(cell(HEADLINE_ROW - 1, 4) or "").startswith("Headline"):
        return
    for r in range(HEADLINE_ROW, HEADLINE_ROW + 12):
        label = cell(r, 4)
        if label:
            value = cell(r, 5)  # an error value reads as "": its message, where known
            summary.figures[str(label)] = errors.get(f"Dashboard!E{r}", value) \
                if value in ("", None) else value
    for r in range(CHECK_ROW + 1, CHECK_ROW + CHECK_LINES + 1):
        line = cell(r, 4)
        if line:
            summary.checks.append(str(line))
    if str(cell(SEGMENTS_ROW, 1) or "").startswith("Largest segments"):
        for r in range(SEGMENTS_ROW + 1, SEGMENTS_ROW + 4):
            name = cell(r, 1)
            if name and isinstance(cell(r, 2), float):
                summary.segments.append((str(name), cell(r, 2), cell(r, 4), cell(r, 5)))


def _no_prediction(summary: ReportSummary, book: Any, errors: dict[str, str]) -> None:
    """A check line when the Predictions sheet holds an error instead of its table."""
    from .workbook.xlsx import leading_texts

    if "Predictions" not in book.sheet_names:
        return
    anchor = errors.get("Predictions!A3") or \
        leading_texts(summary.output, "Predictions", 3).get("A3")  # not the whole sheet
    if isinstance(anchor, str) and anchor.startswith("#"):
        summary.checks.append(f"no prediction: {anchor.partition(' ')[2] or anchor}")


def _validation(summary: ReportSummary, book: Any, errors: dict[str, str]) -> None:
    """The Validation sheet's hold-out measures (CLV_BACKTEST, labels in A, values in B)."""
    from .workbook.template import VALIDATION_ROW

    if "Validation" not in book.sheet_names:
        return
    rows = book.get_sheet_by_name("Validation").to_python(skip_empty_area=False)
    got = {str(r[0]): r[1] for r in rows[VALIDATION_ROW:VALIDATION_ROW + 40]
           if len(r) > 1 and r[0]}
    predicted = got.get("predicted hold-out purchases")
    actual = got.get("actual hold-out purchases")
    if not (isinstance(predicted, float) and isinstance(actual, float)):
        text = errors.get(f"Validation!A{VALIDATION_ROW}") or \
            next((str(r[0]) for r in rows[VALIDATION_ROW - 1:VALIDATION_ROW]
                  if r and str(r[0]).startswith("#")), "")
        summary.validation = f"not possible: {text}" if text else ""
        return
    error = f" ({predicted / actual - 1:+.1%})" if actual else ""
    summary.validation = (f"{got.get('model', 'the model')} predicted {predicted:,.1f} repeat "
                          f"purchases in the hold-out {got.get('hold-out', '')}, actual "
                          f"{actual:,.0f}{error}; per-customer MAE "
                          f"{got.get('MAE per customer (purchases)', float('nan')):.3g} "
                          "(Validation sheet)")
    if got.get("chosen because"):
        summary.validation += f"; chosen by auto: {str(got['chosen because']).split(';')[0]}"


def _last_period(summary: ReportSummary, cell: Callable[[int, int], Any]) -> None:
    """The Dashboard's last-period block (the Trend sheet's last row and its change)."""
    from .workbook.template import LAST_PERIOD_ROW

    rows = {str(cell(r, 1)): cell(r, 2) for r in range(LAST_PERIOD_ROW + 1, LAST_PERIOD_ROW + 6)
            if str(cell(r, 1) or "").startswith("last period: ")}
    period = rows.pop("last period: period", None)
    if not period:
        return
    for label, value in rows.items():
        if isinstance(value, float):
            summary.figures[f"{period} {label.removeprefix('last period: ')}"] = value


def print_summary(summary: ReportSummary, stream: Any = None) -> None:
    """The short summary ``ltvxl report`` prints."""
    out = stream or sys.stdout
    print(f"ltvxl report: {summary.transactions:,} transactions from {summary.source}", file=out)
    if summary.columns:
        print(summary.columns, file=out)
    width = max((len(k) for k in summary.figures), default=10)
    for label, value in summary.figures.items():
        if isinstance(value, float) and " vs " in label:
            shown = f"{value:+.1%}"
        elif isinstance(value, float) and ("margin" in label or "rate" in label):
            shown = f"{value:.1%}"
        elif isinstance(value, float):
            shown = f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"
        else:
            shown = "" if value is None else str(value)
        print(f"  {label:<{width}}  {shown}", file=out)
    if summary.segments:
        print("  Largest segments by revenue:", file=out)
        for name, customers, revenue, share in summary.segments:
            print(f"    {name:<20} {customers:>8,.0f} customers  {revenue:>14,.2f} revenue "
                  f"({share:.0%})", file=out)
    if summary.validation:
        print(f"  Hold-out check: {summary.validation}", file=out)
    print("  Assumptions: " + "; ".join(summary.assumptions.lines()), file=out)
    for note in summary.notes:
        print(f"  note: {note}", file=out)
    print(f"Wrote {summary.output}", file=out)


def print_checks(summary: ReportSummary, stream: Any = None) -> None:
    """The Dashboard's checks on stderr, one ``ltvxl: warning:`` line each (nothing when
    there are no doubts)."""
    from .udfs.models import NO_DOUBTS

    for line in summary.checks:
        if line != NO_DOUBTS:
            print(f"ltvxl: warning: {line}", file=stream or sys.stderr)
