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
