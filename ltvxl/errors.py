"""Errors raised by ltvxl and how they are shown in a worksheet cell.

Classic xlwings cannot return true Excel error values, so ltvxl shows every
error the same way, on every platform: a text value that starts with the Excel
error code it stands for, then a short sentence naming the argument (and the
row or cell where that helps) and what is wrong::

    #VALUE! churn_rate must be > 0 and <= 1, got 1.5
    #DIV/0! purchases is 0
    #NUM! lifespan gives a result too large to show

``ISTEXT`` and ``LEFT(cell, 1) = "#"`` find such cells; numbers never start with
``#``. The codes are Excel's: ``#VALUE!`` (wrong type or out-of-range value),
``#DIV/0!`` (a division by zero), ``#NUM!`` (no finite result), ``#N/A`` (a
value that is not available, e.g. a lookup that found nothing).
"""

from __future__ import annotations

VALUE = "#VALUE!"
DIV0 = "#DIV/0!"
NUM = "#NUM!"
NA = "#N/A"

ERROR_CODES = (VALUE, DIV0, NUM, NA, "#REF!", "#NAME?", "#NULL!", "#SPILL!", "#CALC!")

EXCEL_ERRORS = {"#VALUE!": 2015, "#DIV/0!": 2007, "#NUM!": 2036, "#N/A": 2042, "#REF!": 2023,
                "#NAME?": 2029, "#NULL!": 2000}
"""The error values a cell can hold (the seven of the file format) and their numbers in VBA
(``CVErr(2015)`` is ``#VALUE!``): the error texts that the add-in, and the headless refresh,
turn into error values."""

ERROR_TEXT_NAME = "LTVXL_ERROR_TEXT"
"""A workbook name that, set to TRUE (Formulas > Name Manager: ``=TRUE``), keeps error
results as texts ("#VALUE! ...") instead of Excel error values (the add-in and the refresh)."""

NO_MESSAGE = "(no ltvxl message: recalculate the cell, or an error of Excel's own)"
"""What ``LTV_ERROR(cell)`` adds to the error shown in a cell that no ltvxl function set."""

MAX_CELL_TEXT = 255
"""Longest text a worksheet function may return: classic Excel turns a UDF result holding
a longer string into #VALUE! for the whole spilled range."""
MAX_NOTE = 200
"""Longest note or status in a result table (the status and the one remedy that matters)."""
ELLIPSIS = "\u2026"


def clip(text: str, limit: int = MAX_CELL_TEXT) -> str:
    """``text`` cut to ``limit`` characters, ending in an ellipsis when it was cut."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


class LtvxlError(ValueError):
    """A problem with the user's input, worded for the user.

    ``code`` is the Excel error code the message is shown with in a cell.
    """

    code: str = VALUE

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def cell_text(self) -> str:
        """The text shown in a cell for this error."""
        return cell_error(self.code, self.message)


def cell_error(code: str, message: str) -> str:
    """Format an error for a cell: ``"#VALUE! <message>"``, at most 255 characters."""
    message = " ".join(str(message).split())
    return clip(f"{code} {message}") if message else code


def is_cell_error(value: object) -> bool:
    """True when ``value`` is an Excel error or an ltvxl error text."""
    return isinstance(value, str) and value.startswith(ERROR_CODES)


def error_value_code(value: object) -> str | None:
    """The Excel error value an error text stands for (``"#VALUE! churn_rate ..."`` ->
    ``"#VALUE!"``): the code of :data:`EXCEL_ERRORS` it starts with, followed by a space or
    nothing; None for any other value. The add-in's VBA applies the same rule."""
    if not isinstance(value, str) or value[:1] != "#":
        return None
    code = value.split(" ", 1)[0]
    return code if code in EXCEL_ERRORS else None
