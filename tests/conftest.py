"""Shared fixtures: xlwings' classic UDF machinery on Linux, without Excel or pywin32.

``classic_xlwings`` imports ``xlwings.udfs`` (the Windows COM-server side of
xlwings) with the pywin32 modules stubbed in ``sys.modules`` and puts
``sys.modules`` back afterwards. ``xl_call`` calls a worksheet function the
way xlwings' ``call_udf`` does: each raw cell value (as pywin32 hands it over:
a scalar, or a tuple of row tuples for a range; error cells as COM error codes)
goes through xlwings' own conversion pipeline with the options that
``ltvxl.udfs.binding.expose`` declared for that argument.
"""

from __future__ import annotations

import ast
import datetime as dt
import types
from pathlib import Path

import numpy as np
import pytest

MISSING = -2147352572
"""What pywin32 passes for an omitted optional argument (DISP_E_PARAMNOTFOUND)."""


@pytest.fixture(scope="module")
def classic_xlwings():
    """``xlwings.udfs`` imported with stubbed pywin32; sys.modules restored afterwards."""
    from ltvxl.addin.vba import classic_udfs

    with classic_udfs() as udfs:
        yield udfs


def _windows_cleaner():
    """xlwings' own cell cleaning of the Windows engine (read from its source, not imported)."""
    import xlwings

    source = Path(xlwings.__file__).with_name("_xlwindows.py").read_text(encoding="utf-8")
    wanted = {"cell_errors", "_clean_value_data_element", "_com_time_to_datetime"}
    nodes = [
        node for node in ast.parse(source).body
        if (isinstance(node, ast.FunctionDef) and node.name in wanted)
        or (isinstance(node, ast.Assign) and {getattr(t, "id", "") for t in node.targets} & wanted)
    ]
    namespace = {"time_types": (dt.date, dt.datetime, np.datetime64), "dt": dt}
    exec(compile(ast.Module(body=nodes, type_ignores=[]), "_xlwindows.py", "exec"), namespace)
    assert wanted <= namespace.keys(), "xlwings' Windows cell cleaning has moved"
    element = namespace["_clean_value_data_element"]

    class Impl:
        name = "excel"
        type = "desktop"

        @staticmethod
        def clean_value_data(data, datetime_builder, empty_as, number_builder, err_to_str):
            return [[element(c, datetime_builder, empty_as, number_builder, err_to_str)
                     for c in row] for row in data]

    return Impl, namespace["cell_errors"]


@pytest.fixture(scope="module")
def com_error_codes():
    """Excel error text -> the COM error code pywin32 passes for such a cell."""
    _, cell_errors = _windows_cleaner()
    return {text: code for code, text in cell_errors.items()}


@pytest.fixture(scope="module")
def xl_call(classic_xlwings):
    """``xl_call(func, *raw_values)``: call a worksheet function as xlwings' call_udf does."""
    import xlwings
    from xlwings import conversion
    from xlwings.main import Engine

    from ltvxl.addin.vba import fresh_copy
    from ltvxl.udfs.binding import expose

    impl, _ = _windows_cleaner()
    engines = xlwings.engines
    previous = engines.engines_by_name.get("excel")
    engine = Engine(impl=impl)
    engines.add(engine)
    decorators = types.SimpleNamespace(func=classic_xlwings.xlfunc, arg=classic_xlwings.xlarg)
    exposed: dict[str, types.FunctionType] = {}

    def call(func, *raw):
        name = func.__name__
        if name not in exposed:
            exposed[name] = expose(fresh_copy(func), decorators)
        info = exposed[name].__xlfunc__["args"]
        args = []
        for i, value in enumerate(raw):  # the argument loop of xlwings.udfs.call_udf
            arg_info = info[min(i, len(info) - 1)]
            if isinstance(value, int) and value == MISSING:
                args.append(arg_info.get("optional", None))
            else:
                args.append(conversion.read(None, value, arg_info["options"]))
        return exposed[name](*args)

    try:
        yield call
    finally:
        engines.engines.remove(engine)
        if previous is None:
            engines.engines_by_name.pop("excel", None)
        else:
            engines.engines_by_name["excel"] = previous
