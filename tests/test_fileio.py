"""atomic_output: all or nothing, with ordinary permissions."""

import os
import stat

import pytest

from ltvxl.fileio import atomic_output


def test_success_renames_into_place_with_umask_permissions(tmp_path):
    target = tmp_path / "out.xlsx"
    with atomic_output(target) as tmp:
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["out.xlsx"]


def test_replacing_keeps_the_old_files_permissions(tmp_path):
    target = tmp_path / "out.xlsx"
    target.write_bytes(b"old")
    target.chmod(0o640)
    with atomic_output(target) as tmp:
        tmp.write_bytes(b"new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_failure_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.xlsx"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.xlsx"]


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError), atomic_output(tmp_path / "nope" / "out.xlsx"):
        pass


def test_a_killed_write_leaves_a_temporary_that_the_next_write_removes(tmp_path):
    """SIGKILL during a write: the child's temporary file stays; the next write removes it."""
    import signal
    import subprocess
    import sys

    target = tmp_path / "report.xlsx"
    code = (
        "import os, signal, sys\n"
        "from ltvxl.fileio import atomic_output\n"
        "with atomic_output(sys.argv[1]) as tmp:\n"
        "    tmp.write_bytes(b'x' * 2_000_000)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(target)], check=False)
    assert proc.returncode == -signal.SIGKILL
    left = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(left) == 1 and not target.exists()
    other = tmp_path / "other.csv"  # any later write into the folder cleans up
    with atomic_output(other) as tmp:
        tmp.write_text("a\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.csv"]


def test_temporaries_of_a_live_writer_and_other_programs_stay(tmp_path):
    from ltvxl.fileio import remove_stale_temp_files

    mine = tmp_path / f".a.xlsx.ltvxl{os.getpid()}.abc.tmp"
    foreign = tmp_path / ".a.xlsx.xyz.tmp"  # not ltvxl's pattern
    mine.write_text("")
    foreign.write_text("")
    assert remove_stale_temp_files(tmp_path) == []
    assert mine.exists() and foreign.exists()


def test_an_unwritable_folder_is_said_in_plain_words(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(PermissionError) as info, atomic_output(folder / "out.xlsx"):
            pass
    finally:
        folder.chmod(0o700)
    assert info.value.strerror.startswith("cannot write in this folder")
    assert info.value.filename == str(folder / "out.xlsx")  # not the hidden temporary


def test_files_that_are_not_workbooks_get_messages_in_plain_words(tmp_path):
    from ltvxl.errors import LtvxlError
    from ltvxl.transactions import read_transactions

    ole = tmp_path / "locked.xlsx"
    ole.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    text = tmp_path / "text.xlsx"
    text.write_text("customer,date,amount\n")
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    for path, words in [(ole, "encrypted (password-protected)"),
                        (text, "not an Excel workbook"), (broken, "damaged")]:
        with pytest.raises(LtvxlError) as info:
            read_transactions(path)
        assert words in info.value.message, info.value.message
        assert "EOCD" not in info.value.message
