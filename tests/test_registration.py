"""Registration through xlwings' classic machinery, on Linux, for every declared function.

xlwings' ``xlwings.udfs`` (the Windows COM-server module) is imported with
pywin32 stubbed (fixture ``classic_xlwings`` in conftest.py). Copies of the
declared functions get xlwings' classic decorators through our own
``expose``, and ``generate_vba_wrapper`` writes the VBA module that "Import
Functions" would put into the workbook. Everything iterates over the
REGISTRY, so functions other families add are checked the same way.
"""

import ast
import io
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

import ltvxl
import ltvxl.udfs
from ltvxl.worksheet import (
    MAX_TEXT,
    MAX_WIZARD,
    REGISTRY,
    VBA_RESERVED,
    Arg,
    Spec,
    looks_like_cell,
    spec_of,
    spec_problems,
    vba_name_problem,
)

NAMES = list(REGISTRY)
VBA_FUNCTION = re.compile(r"^Function (\w+)\((.*)\)$", re.M)


@pytest.fixture(scope="module")
def classic_module(classic_xlwings):
    from ltvxl.addin.vba import classic_module

    return classic_module(classic_xlwings)


@pytest.fixture(scope="module")
def vba(classic_xlwings, classic_module):
    out = io.StringIO()
    book = types.SimpleNamespace(Name="ltvxl.xlam")
    classic_xlwings.generate_vba_wrapper("ltvxl.udfs", classic_module, out, book)
    return out.getvalue()


def test_the_registry_is_what_excel_imports():
    assert ltvxl.udfs.FUNCTIONS is REGISTRY and NAMES
    for name, func in REGISTRY.items():
        assert getattr(ltvxl.udfs, name) is func, f"{name} is not exported by ltvxl.udfs"
        assert name in ltvxl.udfs.__all__


def test_real_functions_are_untouched_by_the_test(classic_module):
    assert all(not hasattr(f, "__xlfunc__") for f in REGISTRY.values())
    assert all(hasattr(getattr(classic_module, n), "__xlfunc__") for n in NAMES)


def test_every_function_is_a_vba_function_with_its_arguments(vba):
    found = dict(VBA_FUNCTION.findall(vba))
    assert set(found) == set(NAMES)
    for name, func in REGISTRY.items():
        expected = ", ".join(
            ("Optional " if a.optional else "") + a.name for a in spec_of(func).args
        )
        assert found[name] == expected
        arg_list = ", ".join(a.name for a in spec_of(func).args)
        call = f"XLPy.CallUDF(\"ltvxl.udfs\", \"{name}\", Array({arg_list}), ActiveWorkbook"
        assert call in vba
    assert vba.count("End Function") == len(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_function_wizard_texts(classic_module, name):
    info = getattr(classic_module, name).__xlfunc__
    spec = spec_of(REGISTRY[name])
    assert info["name"] == name
    assert info["category"] == "ltvxl"
    assert info["ret"]["doc"] == spec.description
    assert 0 < len(info["ret"]["doc"]) <= 255  # xlwings cuts silently at 255
    assert [a["name"] for a in info["args"]] == [a.name for a in spec.args]
    for i, (xl_arg, arg) in enumerate(zip(info["args"], spec.args, strict=True)):
        assert xl_arg["doc"] == arg.help
        assert 0 < len(xl_arg["doc"]) <= 255
        assert xl_arg["doc"] != f"Positional argument {i + 1}"
        assert ("optional" in xl_arg) == arg.optional
        if arg.optional:
            assert xl_arg["optional"] is None  # Excel's omitted argument arrives as None
        if arg.kind in ("number", "data"):
            assert xl_arg["options"].get("ndim") == 2, f"{arg.name} is a range argument"
        assert xl_arg["options"].get("err_to_str") is True
        assert not xl_arg["vararg"] and xl_arg["vba"] is None


@pytest.mark.parametrize("name", NAMES)
def test_names_are_valid_vba_identifiers_and_not_cell_addresses(name):
    spec = spec_of(REGISTRY[name])
    for ident in [name] + [a.name for a in spec.args]:
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", ident), ident
        assert len(ident) <= 255
        assert ident.lower() not in VBA_RESERVED, ident
        assert not looks_like_cell(ident), ident
    assert name == name.upper()


@pytest.mark.parametrize("name", NAMES)
def test_function_wizard_limit(name):
    args = spec_of(REGISTRY[name]).args
    assert len(args) + sum(len(a.name) for a in args) <= MAX_WIZARD == 254


def test_workbook_kind_decides_the_vba_workbook(classic_xlwings, classic_module):
    out = io.StringIO()
    classic_xlwings.generate_vba_wrapper("ltvxl.udfs", classic_module, out,
                                         types.SimpleNamespace(Name="Model.xlsm"))
    assert "ThisWorkbook, Application.Caller" in out.getvalue()
    assert "ActiveWorkbook" not in out.getvalue()


# ------------------------------------------------------------------ the rules themselves


@pytest.mark.parametrize(
    ("name", "cell"),
    [("A1", True), ("LTV1", True), ("ltv1", True), ("XFD1048576", True), ("XFE1", False),
     ("A1048577", False), ("A0", False), ("R1C1", True), ("RC", True), ("R", True), ("c", True),
     ("R2C", True), ("RC3", True), ("CAC", False), ("LTV", False), ("LTV_2", False),
     ("ABCD1", False), ("RR1", True), ("R1C1X", False)],
)
def test_looks_like_cell(name, cell):
    assert looks_like_cell(name) is cell


@pytest.mark.parametrize(
    ("name", "ok"),
    [("LTV", True), ("ltv_cac", True), ("_x", False), ("1X", False), ("A-B", False),
     ("Date", False), ("NEXT", False), ("Function", False), ("X" * 256, False), ("CLV1", False),
     ("PURCHASE_FREQUENCY", True), ("é", False)],
)
def test_vba_name_problem(name, ok):
    assert (vba_name_problem(name) is None) is ok


def _spec(**changes):
    base = dict(name="GOOD_NAME", description="Does a thing.",
                args=(Arg("x", "A number."), Arg("y", "Optional.", default=1.0)))
    base.update(changes)
    return Spec(**base)


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [({}, None),
     ({"name": "ltv_lower"}, "upper case"),
     ({"name": "AB1"}, "looks like a cell address"),
     ({"description": "x" * (MAX_TEXT + 1)}, "description must have 1 to 255"),
     ({"args": (Arg("x", "h" * 256),)}, "help of x"),
     ({"args": (Arg("x", "h", default=1.0), Arg("y", "h"))}, "required argument y after"),
     ({"args": (Arg("x", "h"), Arg("X", "h"))}, "duplicate argument names"),
     ({"args": (Arg("range", "h"),)}, "clashes with a name in the VBA wrapper"),
     ({"args": (Arg("next", "h"),)}, "reserved word"),
     ({"args": (Arg("Amount", "h"),)}, "lower_snake_case"),
     ({"args": tuple(Arg(f"a{i:02d}_" + "x" * 20, "h") for i in range(11))}, "Function Wizard"),
     ({"returns": "list"}, "returns must be"),
     ({"args": (Arg("x", "h", default="a"),)}, "default of x must be a number")],
)
def test_spec_problems(changes, fragment):
    problems = spec_problems(_spec(**changes))
    if fragment is None:
        assert problems == []
    else:
        assert any(fragment in p for p in problems), problems


def test_declare_refuses_a_bad_spec_before_registering():
    from ltvxl.worksheet import declare

    with pytest.raises(ValueError, match="looks like a cell address"):
        declare(_spec(name="XY12"), lambda *a: 0.0)
    assert "XY12" not in REGISTRY


def test_every_declared_spec_is_clean():
    for name, func in REGISTRY.items():
        assert spec_problems(spec_of(func)) == [], name


# ------------------------------------------------------------------ import hygiene


def _run(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)


def test_the_core_does_not_import_xlwings():
    proc = _run(
        "import sys, importlib, pathlib, ltvxl\n"
        "assert 'xlwings' not in sys.modules, 'import ltvxl imported xlwings'\n"
        "root = pathlib.Path(ltvxl.__file__).parent\n"
        "files = [p.relative_to(root.parent).with_suffix('') for p in root.rglob('*.py')]\n"
        "names = sorted('.'.join(f.parts).removesuffix('.__init__') for f in files)\n"
        "core = [n for n in names if n.split('.')[1:2] not in (['udfs'], ['addin'], ['cli'])]\n"
        "for name in core:\n"
        "    importlib.import_module(name)\n"
        "    assert 'xlwings' not in sys.modules, name + ' imported xlwings'\n"
        "print(len(core))\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) >= 5


FACES = ("cli", "udfs", "addin", "workbook")
"""Subpackages of ltvxl that are faces (command line, Excel, workbooks); the rest is core."""


def _imported_modules(path: Path, package: str) -> set[str]:
    """Absolute names of the modules that the source of ``path`` imports (anywhere in it)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[: len(base) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_the_core_imports_nothing_from_the_command_line():
    """No core module imports ltvxl.cli or argparse, even lazily: options and printing
    of commands live in ltvxl/cli/. (argparse itself is loaded at run time by
    unittest, which numpy imports, so the sources are read instead of sys.modules.)"""
    root = Path(ltvxl.__file__).parent
    checked = 0
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[1:2] and parts[1] in FACES:
            continue
        package = ".".join(parts if path.name == "__init__.py" else parts[:-1])
        package = package.removesuffix(".__init__")
        bad = sorted(n for n in _imported_modules(path, package)
                     if n == "argparse" or n == "ltvxl.cli" or n.startswith("ltvxl.cli."))
        assert not bad, f"{path.relative_to(root.parent)} imports {bad}"
        checked += 1
    assert checked >= 20


def test_the_udf_module_works_without_the_desktop_only_packages():
    """As in xlwings Lite: no PyPI xlwings, formulas, python-calamine or pyarrow."""
    proc = _run(
        "import sys\n"
        "for name in ('xlwings', 'formulas', 'python_calamine', 'pyarrow'):\n"
        "    sys.modules[name] = None  # import fails\n"
        "import ltvxl.udfs as u\n"
        "assert u.LTV(100.0, 3.0, 5.0) == 1500.0\n"
        "assert not hasattr(u.LTV, '__xlfunc__')\n"
        "print(len(u.FUNCTIONS))\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) == len(REGISTRY)
