"""Binding of ltvxl's declarations to xlwings.

:func:`expose` applies xlwings' own decorators (``xw.func``, ``xw.arg``) to a
declared worksheet function, reading everything from its
:class:`~ltvxl.worksheet.Spec`: the category, the description (the function's
docstring), each argument's help, ``ndim=2`` for range arguments so that
a column arrives as a column (and a single cell as ``[[value]]``), and
``err_to_str=True`` so that an error value in an input cell (``#N/A``)
arrives as its text and propagates, instead of as ``None``, which would look
like a blank cell. On Windows these are the classic UDF
decorators; in xlwings Lite they are Lite's; elsewhere xlwings' no-ops. When
xlwings is not installed the function is returned unchanged, so the headless
refresh works without it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from ltvxl.worksheet import spec_of


def _xlwings() -> Any:
    """The xlwings module whose decorators to apply, or None.

    xlwings' ``func`` and ``arg`` record anything only in classic Windows Excel
    (``xlwings.udfs``) and on an xlwings server; elsewhere they are no-ops, and
    importing xlwings would load pandas at every import of :mod:`ltvxl.udfs`. So
    xlwings is imported only there, or used when the process has loaded it already.
    """
    xw = sys.modules.get("xlwings")
    if xw is None and (sys.platform.startswith("win")
                       or os.environ.get("XLWINGS_ON_SERVER") == "true"):
        try:  # pragma: no cover - depends on the platform
            import xlwings as xw
        except ImportError:  # pragma: no cover
            xw = None
    return xw


def expose(func: Callable[..., Any], xw: Any = None) -> Callable[..., Any]:
    """Apply xlwings' ``func`` and ``arg`` decorators as the spec says.

    ``xw`` is the module (or object) providing ``func`` and ``arg``; by
    default the installed xlwings where its decorators
    do something (see :func:`_xlwings`). Tests pass xlwings' classic ``udfs``
    decorators here to check the generated VBA on Linux.
    """
    xw = xw or _xlwings()
    if xw is None:
        return func
    spec = spec_of(func)
    for arg in reversed(spec.args):
        options: dict[str, Any] = {"doc": arg.help, "err_to_str": True}
        if arg.is_range:
            options["ndim"] = 2
        func = xw.arg(arg.name, **options)(func)
    return xw.func(category=spec.category)(func)
