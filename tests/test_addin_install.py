"""``ltvxl addin install | remove | status`` against temp folders, as if on Windows."""

from __future__ import annotations

import sys

import pytest

from ltvxl.addin.build import build_addin
from ltvxl.addin.install import MODULES_KEY, read_config
from ltvxl.cli import main

OTHER_LINES = [
    '"LICENSE_KEY","abc-123"',
    '"INTERPRETER_MAC","/usr/local/bin/python3"',
    "# a comment someone wrote",
    '"SHOW CONSOLE","True"',
]


@pytest.fixture
def windows(tmp_path, monkeypatch):
    """A Windows machine with Excel: XLSTART and the xlwings config folder in tmp_path."""
    monkeypatch.setenv("LTVXL_PLATFORM", "win32")
    monkeypatch.setenv("LTVXL_EXCEL", "installed")
    monkeypatch.setenv("LTVXL_XLSTART", str(tmp_path / "XLSTART"))
    monkeypatch.setenv("LTVXL_XLWINGS_CONFIG_DIR", str(tmp_path / ".xlwings"))
    (tmp_path / "XLSTART").mkdir()
    return tmp_path


def run(capsys, *args):
    code = main(["addin", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_install_status_remove_on_a_fresh_machine(windows, capsys):
    code, out, _ = run(capsys, "status")
    assert code == 1 and "add-in not installed" in out

    code, out, _ = run(capsys, "install")
    assert code == 0
    addin = windows / "XLSTART" / "ltvxl.xlam"
    assert addin.read_bytes() == build_addin()
    conf = windows / ".xlwings" / "xlwings.conf"
    assert read_config(conf) == {"INTERPRETER_WIN": sys.executable, MODULES_KEY: "ltvxl.udfs"}
    assert f"Installed add-in: {addin}" in out
    # the manual steps, with exact menu paths
    assert "Quit Excel completely and start it again" in out
    assert ("File > Options > Trust Center > Trust Center Settings > Macro Settings > "
            '"Trust access to the VBA project object model"') in out
    assert "xlwings tab > Import Functions" in out

    code, out, _ = run(capsys, "status")
    assert code == 0, out
    assert "[ok] add-in installed and current" in out
    assert f"[ok] INTERPRETER_WIN = {sys.executable}" in out
    assert "[ok] UDF MODULES lists ltvxl.udfs" in out

    code, out, _ = run(capsys, "remove")
    assert code == 0
    assert not addin.exists()
    assert not conf.exists()  # install created it; nothing else was in it
    assert "Removed add-in" in out
    code, out, _ = run(capsys, "status")
    assert code == 1


def test_install_keeps_other_settings_and_remove_restores_them(windows, capsys):
    conf = windows / ".xlwings" / "xlwings.conf"
    conf.parent.mkdir()
    before = [*OTHER_LINES, '"INTERPRETER_WIN","C:\\Python39\\pythonw.exe"',
              '"UDF MODULES","my_udfs;other"']
    conf.write_text("\n".join(before) + "\n", encoding="utf-8")
    (windows / "XLSTART" / "xlwings.xlam").write_bytes(b"xlwings add-in")

    code, out, _ = run(capsys, "install")
    assert code == 0
    lines = conf.read_text(encoding="utf-8").splitlines()
    assert lines[:4] == OTHER_LINES  # untouched, in place
    assert f'"INTERPRETER_WIN","{sys.executable}"' in lines
    assert '"UDF MODULES","my_udfs;other;ltvxl.udfs"' in lines
    assert "(was C:\\Python39\\pythonw.exe)" in out

    code, out, _ = run(capsys, "install")  # twice: nothing more to do
    assert code == 0 and "Add-in already current" in out and "already lists" in out
    code, out, _ = run(capsys, "status")
    assert code == 0 and "[ok] xlwings add-in present" in out

    code, out, _ = run(capsys, "remove")
    assert code == 0
    assert conf.read_text(encoding="utf-8").splitlines() == before
    assert (windows / "XLSTART" / "xlwings.xlam").read_bytes() == b"xlwings add-in"
    assert not (windows / ".xlwings" / "ltvxl-addin.json").exists()


def test_remove_restores_the_exact_old_module_list(windows, capsys):
    conf = windows / ".xlwings" / "xlwings.conf"
    conf.parent.mkdir()
    conf.write_text('"UDF MODULES","my_udfs;"\n', encoding="utf-8")
    run(capsys, "install")
    assert read_config(conf)[MODULES_KEY] == "my_udfs;ltvxl.udfs"
    run(capsys, "remove")
    assert conf.read_text(encoding="utf-8") == '"UDF MODULES","my_udfs;"\n'


def test_remove_takes_out_only_ltvxl_from_a_module_list_changed_since(windows, capsys):
    run(capsys, "install")
    conf = windows / ".xlwings" / "xlwings.conf"
    text = conf.read_text(encoding="utf-8").replace('"ltvxl.udfs"', '"ltvxl.udfs;mine"')
    conf.write_text(text, encoding="utf-8")
    run(capsys, "remove")
    assert read_config(conf) == {MODULES_KEY: "mine"}


def test_remove_leaves_a_setting_changed_after_install(windows, capsys):
    run(capsys, "install")
    conf = windows / ".xlwings" / "xlwings.conf"
    text = conf.read_text(encoding="utf-8").replace(sys.executable, "D:\\other\\python.exe")
    conf.write_text(text, encoding="utf-8")
    code, out, _ = run(capsys, "remove")
    assert code == 0
    assert "Left INTERPRETER_WIN as it is" in out
    assert read_config(conf) == {"INTERPRETER_WIN": "D:\\other\\python.exe"}


def test_status_sees_an_outdated_addin(windows, capsys):
    run(capsys, "install")
    (windows / "XLSTART" / "ltvxl.xlam").write_bytes(b"an older build")
    code, out, _ = run(capsys, "status")
    assert code == 1 and "out of date" in out
    code, out, _ = run(capsys, "install")
    assert "Updated add-in" in out
    assert (windows / "XLSTART" / "ltvxl.xlam").read_bytes() == build_addin()


def test_remove_without_install_touches_nothing(windows, capsys):
    conf = windows / ".xlwings" / "xlwings.conf"
    conf.parent.mkdir()
    conf.write_text('"UDF MODULES","ltvxl.udfs"\n', encoding="utf-8")
    code, out, _ = run(capsys, "remove")
    assert code == 0 and "Nothing to remove" in out
    assert conf.read_text(encoding="utf-8") == '"UDF MODULES","ltvxl.udfs"\n'


def test_paths_from_options(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LTVXL_PLATFORM", "win32")
    monkeypatch.setenv("LTVXL_EXCEL", "installed")
    code, _, _ = run(capsys, "install", "--xlstart", str(tmp_path / "a"),
                     "--config-dir", str(tmp_path / "b"))
    assert code == 0
    assert (tmp_path / "a" / "ltvxl.xlam").is_file()
    assert (tmp_path / "b" / "xlwings.conf").is_file()


@pytest.mark.parametrize(("platform", "excel", "says"), [
    ("linux", None, "this system (linux)"),
    ("darwin", None, "macOS"),
    ("win32", "missing", "Excel (desktop) is not installed"),
])
@pytest.mark.parametrize("action", ["install", "remove", "status"])
def test_without_excel_it_says_so(platform, excel, says, action, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LTVXL_PLATFORM", platform)
    if excel:
        monkeypatch.setenv("LTVXL_EXCEL", excel)
    else:
        monkeypatch.delenv("LTVXL_EXCEL", raising=False)
    code, _, err = run(capsys, action, "--xlstart", str(tmp_path / "x"),
                         "--config-dir", str(tmp_path / "c"))
    assert code == 1
    assert says in err and "xlwings Lite" in err
    assert not (tmp_path / "x").exists() and not (tmp_path / "c").exists()


def test_on_this_machine_without_overrides(monkeypatch, capsys):
    """The real detection: this test machine (Linux CI) has no desktop Excel."""
    if sys.platform.startswith("win"):
        pytest.skip("detection on Windows depends on the machine")
    monkeypatch.delenv("LTVXL_PLATFORM", raising=False)
    monkeypatch.delenv("LTVXL_EXCEL", raising=False)
    code, _, err = run(capsys, "status")
    assert code == 1 and "ltvxl addin:" in err


@pytest.mark.skipif(sys.platform.startswith("win"), reason="uses a POSIX shell script")
def test_status_checks_that_the_interpreter_can_run_ltvxl(windows, capsys, tmp_path):
    run(capsys, "install")
    conf = windows / ".xlwings" / "xlwings.conf"
    # stands in for a Python without ltvxl: fails the way such a Python does
    fake = tmp_path / "python-without-ltvxl"
    fake.write_text("#!/bin/sh\necho 'ModuleNotFoundError: No module named ltvxl' >&2\nexit 1\n")
    fake.chmod(0o755)
    text = conf.read_text(encoding="utf-8").replace(sys.executable, str(fake))
    conf.write_text(text, encoding="utf-8")
    code, out, _ = run(capsys, "status")
    assert code == 1
    assert "cannot import ltvxl.udfs (ModuleNotFoundError: No module named ltvxl)" in out
    conf.write_text(text.replace(str(fake), str(tmp_path / "missing.exe")), encoding="utf-8")
    code, out, _ = run(capsys, "status")
    assert code == 1 and "no such file" in out


def test_unusable_xlwings_template_is_reported_without_traceback(windows, capsys, monkeypatch,
                                                                  tmp_path):
    from ltvxl.addin import build

    broken = tmp_path / "not-a-template.xlam"
    broken.write_bytes(b"not a zip file")
    monkeypatch.setattr(build, "default_template", lambda: broken)
    code, _, err = run(capsys, "install")
    assert code == 1
    assert "cannot build the add-in from xlwings' template" in err
    assert not (windows / "XLSTART" / "ltvxl.xlam").exists()


def test_other_lines_are_kept_byte_for_byte(windows, capsys):
    """xlwings.conf is written in the ANSI code page on Windows: bytes that are not
    valid in the encoding used here must survive install and remove unchanged."""
    conf = windows / ".xlwings" / "xlwings.conf"
    conf.parent.mkdir()
    before = b'"PYTHONPATH","C:\\Users\\J\xfcrgen\\lib"\r\n"SHOW CONSOLE","False"\r\n'
    conf.write_bytes(before)
    assert run(capsys, "install")[0] == 0
    assert conf.read_bytes().startswith(b'"PYTHONPATH","C:\\Users\\J\xfcrgen\\lib"\n')
    assert run(capsys, "remove")[0] == 0
    assert conf.read_bytes() == before.replace(b"\r\n", b"\n")
