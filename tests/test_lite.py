"""xlwings Lite: the pasted main.py, and a wheel that installs in Pyodide."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ltvxl.udfs import FUNCTIONS
from ltvxl.worksheet import spec_of

ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "addin" / "lite" / "main.py"
OPTIONAL = ("formulas", "python_calamine", "pyarrow", "xlsxwriter", "openpyxl")


def _load_main(name: str = "ltvxl_lite_main"):
    spec = importlib.util.spec_from_file_location(name, MAIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_requirements_line_is_the_wheel_url_of_this_version():
    """ltvxl is not on PyPI: xlwings Lite installs the wheel from an HTTPS URL, named as
    pip builds it for this version (docs/install.md)."""
    import ltvxl

    lines = (ROOT / "addin" / "lite" / "requirements.txt").read_text().split()
    assert len(lines) == 1
    assert re.fullmatch(rf"https://\S+/ltvxl-{re.escape(ltvxl.__version__)}-py3-none-any\.whl",
                        lines[0]), lines[0]


@pytest.fixture
def lite_decorated(monkeypatch):
    """main.py imported with xlwings' ``func``/``arg`` recording metadata as Lite's do.

    Lite's decorators (xlwings.pro.udfs_officejs) need a licence to import
    here, so the classic ones stand in: both build the same ``__xlfunc__``
    record (name, argument docs and options, description from the docstring),
    from which Lite's custom_functions_meta reads the function metadata.
    """
    import xlwings

    from ltvxl.addin.vba import classic_udfs

    with classic_udfs() as udfs:
        monkeypatch.setattr(xlwings, "func", udfs.xlfunc)
        monkeypatch.setattr(xlwings, "arg", udfs.xlarg)
        yield _load_main("ltvxl_lite_main_decorated")


def test_same_functions_with_the_same_metadata(lite_decorated):
    found = {n: f for n, f in vars(lite_decorated).items() if hasattr(f, "__xlfunc__")}
    assert list(found) == list(FUNCTIONS)  # nothing else is registered, same order
    for name, func in found.items():
        spec = spec_of(FUNCTIONS[name])
        info = func.__xlfunc__
        assert info["name"] == name == name.upper()  # Lite registers name.upper()
        assert info["ret"]["doc"] == spec.description
        assert len(spec.description) <= 255
        assert [a["name"] for a in info["args"]] == [a.name for a in spec.args]
        for arg, decl in zip(info["args"], spec.args, strict=True):
            assert arg["doc"] == decl.help
            assert ("optional" in arg) == decl.optional
            assert arg["options"].get("ndim") == (2 if decl.is_range else None)


@pytest.mark.parametrize("args", [
    (100, 3, 5),
    ([[100.0], [50.0]], 3, 5, 0.6, 0.1),
    (100, 3, -5),  # error text
    ("abc", 3, 5),
])
def test_same_results_as_the_declared_function(args):
    main = _load_main()
    assert main.LTV(*args) == FUNCTIONS["LTV"](*args)
    assert main.LTV(100, 3, 5) == 1500


def test_every_wrapper_calls_its_own_function():
    main = _load_main()
    for name, func in FUNCTIONS.items():
        n = len(spec_of(func).args)
        # wrong input in every argument: the error text names the function's own argument
        args = ["not a number"] * n
        assert getattr(main, name)(*args) == func(*args), name


BLOCKER = r"""
import importlib.abc, sys, traceback
OPTIONAL = {optional!r}
importers = {{}}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top in OPTIONAL:
            frames = [f for f in traceback.extract_stack()[:-1]
                      if "importlib" not in f.filename and "<frozen" not in f.filename]
            importers.setdefault(top, frames[-1].filename if frames else "?")
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, Block())
import ltvxl.udfs
assert ltvxl.udfs.LTV(100, 3, 5) == 1500
print(repr(importers))
print(repr(sorted(m for m in OPTIONAL if m in sys.modules)))
"""


def test_worksheet_functions_import_no_optional_dependency():
    """As in Pyodide: with the optional packages absent, ltvxl.udfs imports and works.

    An attempt to import one is recorded with the file that made it: ltvxl
    itself must make none (pandas looks for pyarrow on its own; that is allowed).
    """
    code = BLOCKER.format(optional=OPTIONAL)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    importers_line, loaded_line = done.stdout.strip().splitlines()[-2:]
    importers = eval(importers_line)  # a dict literal printed by the child
    assert eval(loaded_line) == []
    ours = {m: f for m, f in importers.items() if "/ltvxl/" in f.replace("\\", "/")}
    assert ours == {}, f"ltvxl imports optional packages: {ours}"
