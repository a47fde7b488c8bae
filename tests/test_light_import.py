"""Excel imports ltvxl.udfs at every start: the import loads numpy and the declarations only."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("pandas", "pyarrow", "scipy", "xlwings", "python_calamine", "formulas", "sklearn",
         "_hashlib",  # OpenSSL's binding: only the fit cache's digests need it
         "numpy.typing")  # type hints only

PROBE = """
import json, sys
import ltvxl.udfs as udfs
loaded = sorted(m for m in {heavy!r} if m in sys.modules)
value = udfs.LTV(100, 3, 5)
after = sorted(m for m in {heavy!r} if m in sys.modules)
print(json.dumps([loaded, value, after, len(udfs.FUNCTIONS)]))
"""


def _probe() -> list:
    # a fresh interpreter: what the import loads does not depend on the tests run before
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY)],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    return json.loads(out.stdout)


def test_import_of_the_udfs_loads_no_pandas_scipy_or_xlwings():
    loaded, value, after, n_functions = _probe()
    assert loaded == []
    assert value == 1500
    assert after == []  # =LTV(100, 3, 5) needs numpy alone
    assert n_functions > 40  # every declaration is there


def test_a_table_function_loads_what_it_needs_at_its_first_call():
    code = (
        "import sys, ltvxl.udfs as u\n"
        "out = u.LTV_CUSTOMERS([['a'], ['a']], [['2024-01-01'], ['2024-02-01']], [[1.0], [2.0]])\n"
        "print(out[1][0], 'pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.split() == ["a", "True"]
