"""The Windows add-in: VBA written into ltvxl.xlam without Excel, read back by oletools.

oletools (olevba, olefile) is an independent reader of compound files and of
MS-OVBA compression; every check reads what ltvxl wrote through it.
"""

from __future__ import annotations

import io
import random
import re
import struct
import zipfile
from pathlib import Path

import pytest

olefile = pytest.importorskip("olefile")
olevba = pytest.importorskip("oletools.olevba")

from ltvxl.addin import ovba  # noqa: E402
from ltvxl.addin.build import (  # noqa: E402
    ADDIN_NAME,
    CUSTOM_UI,
    RIBBON_MODULE,
    build_addin,
    default_template,
)
from ltvxl.addin.vba import REGISTER_SUB, VBA_MODULE, udfs_module  # noqa: E402
from ltvxl.udfs import FUNCTIONS  # noqa: E402
from ltvxl.worksheet import spec_of  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def addin() -> bytes:
    return build_addin()


@pytest.fixture(scope="module")
def macros(addin) -> dict[str, str]:
    parser = olevba.VBA_Parser(ADDIN_NAME, data=addin)
    try:
        assert parser.detect_vba_macros()
        return {name.rsplit(".", 1)[0]: code for _, _, name, code in parser.extract_macros()}
    finally:
        parser.close()


@pytest.fixture(scope="module")
def vba_bin(addin) -> bytes:
    with zipfile.ZipFile(io.BytesIO(addin)) as z:
        return z.read("xl/vbaProject.bin")


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n")


# ---------------------------------------------------------------- MS-OVBA compression

@pytest.mark.parametrize("data", [
    b"",
    b"A",
    b"Attribute VB_Name = \"x\"\r\n" * 400,  # repetitive, several chunks
    bytes(random.Random(7).randrange(256) for _ in range(10_000)),  # incompressible
    bytes(random.Random(8).choice(b"ab ") for _ in range(9_000)),  # short matches
    bytes(range(256)) * 33,  # chunk boundaries at odd places
])
def test_compression_is_read_back_by_oletools(data):
    packed = ovba.compress(data)
    assert bytes(olevba.decompress_stream(bytearray(packed))) == data
    assert ovba.decompress(packed) == data


def test_compression_compresses_source_text():
    text = (Path(default_template()).parent / "xlwings.bas").read_bytes()
    assert len(ovba.compress(text)) < len(text) / 2


def test_decompress_reads_what_excel_wrote():
    """The template's dir stream was compressed by Excel; ours reads it as oletools does."""
    with zipfile.ZipFile(default_template()) as z:
        ole = olefile.OleFileIO(z.read("xl/vbaProject.bin"))
    raw = ole.openstream("VBA/dir").read()
    assert ovba.decompress(raw) == bytes(olevba.decompress_stream(bytearray(raw)))


# ---------------------------------------------------------------- MS-CFB

def test_compound_file_written_is_read_by_olefile():
    streams = {
        "PROJECT": b"ID=\"{0}\"\r\n",
        "VBA/dir": b"x" * 5000,  # regular sectors
        "VBA/small": b"tiny",  # mini stream
        "VBA/empty": b"",
        "VBA/Module_with_a_long_name": bytes(range(256)) * 20,
        "Other/Deeper/leaf": b"leaf" * 300,
    }
    data = ovba.write_cfb(streams)
    ole = olefile.OleFileIO(data, raise_defects=olefile.DEFECT_INCORRECT)
    found = {"/".join(path): ole.openstream("/".join(path)).read() for path in ole.listdir()}
    assert found == streams
    assert ovba.read_cfb(data) == streams


RED, BLACK = 0, 1  # colour flags of MS-CFB directory entries


def _check_red_black(ole, sid):
    """Black height of the subtree at ``sid``; asserts order and red-black rules."""
    if sid == olefile.NOSTREAM:
        return 1
    entry = ole.direntries[sid]
    left, right = entry.sid_left, entry.sid_right
    for child in (left, right):
        if child != olefile.NOSTREAM and entry.color == RED:
            assert (ole.direntries[child]).color == BLACK
    key = (len(entry.name), entry.name.upper())
    if left != olefile.NOSTREAM:
        other = ole.direntries[left]
        assert (len(other.name), other.name.upper()) < key
    if right != olefile.NOSTREAM:
        other = ole.direntries[right]
        assert (len(other.name), other.name.upper()) > key
    hl, hr = _check_red_black(ole, left), _check_red_black(ole, right)
    assert hl == hr, f"black heights differ under {entry.name}"
    return hl + (entry.color == BLACK)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 13, 40])
def test_directory_is_a_valid_red_black_tree(n):
    streams = {f"S/{'x' * (i % 7 + 1)}{i}": bytes([i]) * (i + 1) for i in range(n)}
    data = ovba.write_cfb(streams)
    ole = olefile.OleFileIO(data, raise_defects=olefile.DEFECT_INCORRECT)
    for sid in range(len(ole.direntries)):
        entry = ole.direntries[sid]
        if entry is not None and entry.entry_type in (olefile.STGTY_ROOT, olefile.STGTY_STORAGE):
            _check_red_black(ole, entry.sid_child)
    assert {"/".join(p): ole.openstream("/".join(p)).read() for p in ole.listdir()} == streams


def test_compound_file_round_trip_of_the_template():
    with zipfile.ZipFile(default_template()) as z:
        data = z.read("xl/vbaProject.bin")
    streams = ovba.read_cfb(data)
    ole = olefile.OleFileIO(data)
    assert set(streams) == {"/".join(p) for p in ole.listdir()}
    rewritten = olefile.OleFileIO(ovba.write_cfb(streams))
    for path in rewritten.listdir():
        name = "/".join(path)
        assert rewritten.openstream(name).read() == ole.openstream(name).read()


# ---------------------------------------------------------------- the add-in

def test_addin_has_the_wrappers_xlwings_generates(macros):
    assert set(macros) == {"ThisWorkbook", "Dictionary", "Sheet2", "xlwings",
                           RIBBON_MODULE, VBA_MODULE}
    assert _lf(macros[VBA_MODULE]) == _lf(udfs_module())


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_each_function_has_a_wrapper(name, macros):
    spec = spec_of(FUNCTIONS[name])
    code = _lf(macros[VBA_MODULE])
    params = ", ".join(("Optional " if a.optional else "") + a.name for a in spec.args)
    assert f"\nFunction {name}({params})\n" in code
    args = ", ".join(a.name for a in spec.args)
    assert (f'{name} = LtvxlCellErrors(XLPy.CallUDF("ltvxl.udfs", "{name}", Array({args}), '
            "ActiveWorkbook, Application.Caller), Application.Caller)") in code
    block = code.split(f"\nFunction {name}(", 1)[1].split("\nEnd Function", 1)[0]
    assert f"{name} = Err.Description" in block


def test_function_wizard_texts_are_registered(macros):
    code = _lf(macros[VBA_MODULE])
    register = code.split(f"Public Sub {REGISTER_SUB}()", 1)[1]
    for name, func in FUNCTIONS.items():
        spec = spec_of(func)
        call = re.search(
            r"ReDim d\(0 To (\d+)\)\n((?:    d\(\d+\) = .*\n)*)"
            rf"    Application\.MacroOptions Macro:=\"'\" & ThisWorkbook\.Name & \"'!{name}\", _\n"
            r"        Description:=\"(.*)\", _\n"
            r"        Category:=\"(.*)\", ArgumentDescriptions:=d\n",
            register,
        )
        assert call, name
        assert int(call.group(1)) == len(spec.args) - 1
        docs = re.findall(r'd\(\d+\) = "(.*)"', call.group(2))
        assert [d.replace('""', '"') for d in docs] == [a.help for a in spec.args]
        assert call.group(3).replace('""', '"') == " ".join(spec.description.split())
        assert call.group(4) == spec.category
    this_workbook = _lf(macros["ThisWorkbook"])
    assert re.search(rf"Private Sub Workbook_Open\(\)\n(?:\s*'.*\n)?\s*{REGISTER_SUB}\n",
                     this_workbook)


def test_runtime_reads_xlwings_settings(macros):
    runtime = macros["xlwings"]
    assert 'Public Const PROJECT_NAME As String = "xlwings"' in runtime
    assert "myaddin" not in runtime.lower()
    template_text = (Path(default_template()).parent / "xlwings_custom_addin.bas").read_text()
    # apart from PROJECT_NAME, the xlwings runtime module is the template's, unchanged
    with zipfile.ZipFile(default_template()) as z:
        parser = olevba.VBA_Parser("t.xlam", data=z.read("xl/vbaProject.bin"))
        original = {n: c for _, _, n, c in parser.extract_macros()}["xlwings.bas"]
        parser.close()
    assert _lf(runtime) == _lf(original).replace('"myaddin"', '"xlwings"')
    assert "Function XLPy()" in runtime and "Function XLPy()" in template_text


def test_ribbon_callbacks_exist(addin, macros):
    with zipfile.ZipFile(io.BytesIO(addin)) as z:
        ui = z.read("customUI/customUI.xml").decode()
        rels = z.read("_rels/.rels").decode()
    assert ui == CUSTOM_UI
    assert "customUI/customUI.xml" in rels
    actions = re.findall(r'onAction="([^"]+)"', ui)
    assert len(actions) == 4
    for action in actions:
        module, sub = action.split(".")
        assert module == RIBBON_MODULE
        assert f"Sub {sub}(control As IRibbonControl)" in macros[module]


def test_project_is_renamed_and_compiles_from_source(vba_bin):
    ole = olefile.OleFileIO(vba_bin, raise_defects=olefile.DEFECT_INCORRECT)
    project = ole.openstream("PROJECT").read().decode("cp1252")
    assert '\r\nName="ltvxl"\r\n' in project
    assert f"Module={VBA_MODULE}\r\n" in project and f"Module={RIBBON_MODULE}\r\n" in project
    assert "MyAddin" not in project
    wm = ole.openstream("PROJECTwm").read()
    assert VBA_MODULE.encode("utf-16-le") in wm and b"RibbonMyAddin" not in wm
    # _VBA_PROJECT version 0xFFFF: Excel ignores cached p-code and compiles the source
    head = ole.openstream("VBA/_VBA_PROJECT").read()
    assert struct.unpack_from("<HH", head) == (0x61CC, 0xFFFF)
    # the dir stream, decompressed by oletools, names the project and our module
    directory = bytes(olevba.decompress_stream(bytearray(ole.openstream("VBA/dir").read())))
    assert b"\x04\x00\x05\x00\x00\x00ltvxl" in directory
    assert directory.count(VBA_MODULE.encode()) == 2  # MODULENAME, MODULESTREAMNAME


def test_build_is_reproducible(addin):
    assert build_addin() == addin


def test_function_names_do_not_clash_with_the_add_in_vba(macros):
    """VBA ignores case: a worksheet function named like a procedure of the xlwings
    runtime or the ribbon module would make the project fail to compile."""
    names = set()
    for module in ("xlwings", RIBBON_MODULE, "Dictionary"):
        names |= {m.lower() for m in re.findall(
            r"^\s*(?:Public |Private )?(?:Function|Sub|Property Get|Const)\s+(\w+)",
            macros[module], flags=re.MULTILINE)}
    names |= {m.lower() for m in macros} | {"ltvxl", REGISTER_SUB.lower()}
    assert not names & {n.lower() for n in FUNCTIONS}


def test_unchanged_project_is_written_back_identically():
    """Parsing and re-serialising the dir stream loses nothing (every record kept)."""
    with zipfile.ZipFile(default_template()) as z:
        original = ovba.read_cfb(z.read("xl/vbaProject.bin"))
    rewritten = ovba.read_cfb(ovba.VbaProject(ovba.write_cfb(original)).to_bytes())
    assert set(rewritten) == set(original)
    for name, data in original.items():
        if name == "VBA/dir":
            assert ovba.decompress(rewritten[name]) == ovba.decompress(data)
        else:
            assert rewritten[name] == data, name


def test_help_button_opens_a_given_url():
    url = "https://example.org/ltvxl/docs"
    with zipfile.ZipFile(io.BytesIO(build_addin(help_url=url))) as z:
        parser = olevba.VBA_Parser("h.xlam", data=z.read("xl/vbaProject.bin"))
        code = {n: c for _, _, n, c in parser.extract_macros()}[f"{RIBBON_MODULE}.bas"]
        parser.close()
    helper = code.split("Sub LtvxlHelp(control As IRibbonControl)", 1)[1].split("End Sub")[0]
    assert helper.strip() == f'ThisWorkbook.FollowHyperlink "{url}"'


def test_stubs_do_not_leak():
    import sys

    from ltvxl.addin.vba import classic_udfs

    before = {n: sys.modules.get(n) for n in ("pythoncom", "pywintypes", "win32com",
                                              "win32com.client", "xlwings.udfs")}
    with classic_udfs() as udfs:
        assert callable(udfs.generate_vba_wrapper)
    assert {n: sys.modules.get(n) for n in before} == before


def test_error_texts_become_excel_error_values_in_the_addin(macros):
    """Every wrapper passes its result through LtvxlCellErrors, which maps the error texts
    to CVErr element by element, keeps the messages for LTV_ERROR(cell) and keeps the texts
    when the workbook defines LTVXL_ERROR_TEXT as TRUE."""
    from ltvxl.addin.vba import ERROR_TEXT_NAME

    code = _lf(macros[VBA_MODULE])
    assert code.count("= LtvxlCellErrors(XLPy.CallUDF(") == len(FUNCTIONS)
    assert "Public Function LtvxlCellErrors(ByVal v As Variant, ByVal caller As Variant)" in code
    assert "Public Function LTV_ERROR(cell As Range) As Variant" in code
    for code_text, value in [("#VALUE!", 2015), ("#DIV/0!", 2007), ("#NUM!", 2036),
                             ("#N/A", 2042)]:
        assert f'"{code_text}"' in code and str(value) in code
    assert f'Names("{ERROR_TEXT_NAME}")' in code
    assert "LTV_ERROR" not in FUNCTIONS  # VBA of the add-in, not a Python function
