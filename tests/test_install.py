"""Install paths that work today (ltvxl is not on PyPI): a wheel built from a checkout,
installed into a fresh virtualenv, runs ``ltvxl --version`` and ``ltvxl report``; and
``ltvxl template`` without ``-o`` writes into the current directory, never into the
installation or the repository of an editable install."""

from __future__ import annotations

import hashlib
import html
import re
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import ltvxl
from ltvxl.cli import main
from ltvxl.workbook.template import TEMPLATE_PATH

ROOT = Path(__file__).resolve().parents[1]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_template_without_output_writes_to_the_current_directory(tmp_path, monkeypatch):
    """Here ltvxl is installed editable: its package sits in the repository, whose
    committed template a default beside the package would overwrite."""
    before = _digest(TEMPLATE_PATH)
    monkeypatch.chdir(tmp_path)
    assert main(["template"]) == 0
    assert (tmp_path / "ltv_template.xlsx").stat().st_size > 10_000
    assert _digest(TEMPLATE_PATH) == before
    assert not (Path(ltvxl.__file__).parent / "templates").exists()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of this checkout, built by pip from a copy of the sources."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "ltvxl", src / "ltvxl",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp / "dist"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(src), "-w", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    (built,) = out.glob("ltvxl-*.whl")
    return built


def test_wheel_holds_the_package_data(wheel):
    assert wheel.name == f"ltvxl-{ltvxl.__version__}-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    for part in ("ltvxl/py.typed", "ltvxl/data/sample_transactions.csv",
                 "ltvxl/cli/__init__.py", "ltvxl/cli/__main__.py"):
        assert part in names, part
    assert not [n for n in names if n.startswith(("tests/", "templates/", "benchmarks/"))]


PYODIDE_OR_PURE = {"numpy", "pandas", "scipy", "openpyxl", "xlsxwriter", "charset-normalizer",
                   "scikit-learn"}
"""Dependencies allowed without an emscripten marker: numpy, pandas, scipy and scikit-learn
ship in Pyodide; openpyxl, XlsxWriter and charset-normalizer are pure Python (micropip
installs them; Pyodide ships charset-normalizer too)."""


def test_wheel_is_pure_python_with_pyodide_dependencies(wheel):
    """xlwings Lite installs the wheel with micropip: pure Python, and every dependency
    not in Pyodide marked ``sys_platform != 'emscripten'``."""
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        wheel_meta = next(n for n in names if n.endswith(".dist-info/WHEEL"))
        assert "Root-Is-Purelib: true" in z.read(wheel_meta).decode()
        meta = Parser().parsestr(z.read(meta_name).decode())
    assert not [n for n in names if n.endswith((".so", ".pyd", ".dll", ".dylib"))]
    assert "ltvxl/udfs/__init__.py" in names and "ltvxl/addin/build.py" in names
    for req in meta.get_all("Requires-Dist") or []:
        if "extra ==" in req:
            continue
        name = re.split(r"[<>=!~ (;\[]", req, maxsplit=1)[0].strip()
        if name.lower() not in PYODIDE_OR_PURE:
            assert "emscripten" in req, f"{req}: not in Pyodide; needs sys_platform marker"


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_runs(wheel, tmp_path):
    """The wheel goes into a new virtualenv with pip (no index); its dependencies are
    borrowed from this environment through a .pth line (installing numpy, pandas and
    scipy again would take minutes), so the ltvxl that runs is the wheel's."""
    env = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True,
                   timeout=120)
    python = env / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "-q", str(wheel)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    purelib = Path(sysconfig.get_path("purelib", vars={"base": env, "platbase": env}))
    (purelib / "_borrowed_dependencies.pth").write_text(
        "\n".join(site.getsitepackages()) + "\n", encoding="utf-8")
    bindir = python.parent
    ltvxl_cmd = bindir / ("ltvxl.exe" if sys.platform == "win32" else "ltvxl")
    work = tmp_path / "work"
    work.mkdir()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*args], capture_output=True, text=True, cwd=work, timeout=600)

    where = run(str(python), "-c", "import ltvxl; print(ltvxl.__file__)")
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(purelib), where.stdout
    version = run(str(ltvxl_cmd), "--version")
    assert version.returncode == 0 and version.stdout.strip() == f"ltvxl {ltvxl.__version__}"
    report = run(str(ltvxl_cmd), "report", "-o", "report.xlsx")
    assert report.returncode == 0, report.stderr
    assert "2,706 transactions from built-in sample" in report.stdout
    assert re.search(r"^  customers +600$", report.stdout, re.M), report.stdout
    assert zipfile.is_zipfile(work / "report.xlsx")
    assert not (purelib / "templates").exists()


def _template_functions() -> set[str]:
    """Every function a formula or defined name of the committed template calls."""
    names: set[str] = set()
    with zipfile.ZipFile(TEMPLATE_PATH) as z:
        for part in z.namelist():
            if part.startswith("xl/worksheets/sheet") or part == "xl/workbook.xml":
                xml = html.unescape(z.read(part).decode("utf-8"))
                for text in re.findall(r"<(?:f|definedName)\b[^>]*>([^<]*)<", xml):
                    names.update(re.findall(r"(?<![\w.])(?:_xlfn\.|_xlws\.)?([A-Z][A-Z0-9_.]*)\(",
                                            text))
    return names


def test_install_md_names_every_native_function_of_the_template():
    """docs/install.md says which Excel the template needs from the native functions its
    formulas call: the list there is the list in the template."""
    from ltvxl.udfs import FUNCTIONS

    native = _template_functions() - set(FUNCTIONS)
    text = (ROOT / "docs" / "install.md").read_text(encoding="utf-8")
    row = next(line for line in text.splitlines()
               if line.startswith("| the template and the report workbooks |"))
    documented = set(re.findall(r"`([A-Z][A-Z0-9.]*)`", row))
    assert native == documented, f"template: {sorted(native)}, install.md: {sorted(documented)}"
    assert {"DROP", "CHOOSECOLS"} <= native  # the reason it needs Microsoft 365 / Excel 2024
