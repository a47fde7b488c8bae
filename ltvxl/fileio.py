"""Safe file output: write beside the target, then rename into place."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _mode_for(target: Path) -> int:
    """The permissions a new file gets (umask applied), or those of the file replaced."""
    try:
        return target.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


TEMP_MARK = "ltvxl"
"""Marks the temporary files of :func:`atomic_output`: ``.<name>.ltvxl<pid>.<random>.tmp``."""
_TEMP_NAME = re.compile(r"\..+\.ltvxl(\d+)\.[^.]+\.tmp\Z")
STALE_AFTER = 24 * 3600.0
"""Age in seconds after which a temporary file of a live process id is stale too (the id
may have been reused since)."""


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # another user's process, or no such check here
        return True
    return True


def remove_stale_temp_files(directory: Path) -> list[Path]:
    """Remove the temporary files that an interrupted :func:`atomic_output` left in
    ``directory`` (its process is gone, or the file is a day old); the files removed."""
    removed = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        m = _TEMP_NAME.match(entry.name)
        if not m or not entry.is_file(follow_symlinks=False):
            continue
        try:
            old = now - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER
            if old or not _alive(int(m.group(1))):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    An exception or an interruption leaves ``path`` as it was (absent or the
    old file) and removes the temporary file, so no half-written file is
    ever seen under the target name. A process killed outright (SIGKILL, power
    loss) cannot remove it: the next write into the same folder does
    (:func:`remove_stale_temp_files`).
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(2, "No such directory", str(directory))
    remove_stale_temp_files(directory)
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name}.{TEMP_MARK}{os.getpid()}.", suffix=".tmp", dir=directory
        )
    except PermissionError:
        raise PermissionError(
            13, "cannot write in this folder (permission denied); choose another output path",
            str(target),
        ) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, _mode_for(target))
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a CSV cell as a formula (OWASP, CSV
injection): such texts are written with a leading apostrophe."""


def inert_text(value: object) -> object:
    """``value`` with a leading apostrophe when it is a text a spreadsheet would run as a
    formula; numbers and other texts unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def write_csv(frame: Any, path: str | os.PathLike[str]) -> None:
    """Write a pandas DataFrame as CSV with every text cell inert (:func:`inert_text`);
    numeric columns are written as numbers."""
    out = frame.copy()
    for name in out.columns:
        col = out[name]
        if col.dtype == object or str(col.dtype) in ("string", "str"):
            out[name] = col.map(inert_text)
    out.columns = [inert_text(str(c)) for c in out.columns]
    out.to_csv(path, index=False)


_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def workbook_problem(path: Path, detail: str = "") -> str:
    """What is wrong with a file that does not open as an .xlsx workbook, in the user's
    words (what the file is, what to do); ``detail`` is the reader's own message."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        return f"cannot be opened ({exc.strerror or exc})"
    if head == _OLE_MAGIC:
        return ("is an encrypted (password-protected) workbook or an old binary .xls file; "
                "save it in Excel as an unprotected .xlsx and try again")
    if not head.startswith(b"PK"):
        return ("is not an Excel workbook (its content is not an .xlsx package); if it holds "
                "comma-separated text, rename it .csv")
    if "zip" in detail.lower() or "eocd" in detail.lower():
        return "is a damaged or truncated workbook; open it in Excel and save it again"
    return ("is a damaged workbook: a part Excel needs (such as a sheet) is missing or "
            "unreadable; open it in Excel and save it again")
