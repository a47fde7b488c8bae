"""``ltvxl addin install | remove | status``: the add-in where Windows Excel loads it.

``install`` builds ``ltvxl.xlam`` from the installed xlwings' add-in template
(see :mod:`ltvxl.addin.build`), writes it to the user's XLSTART folder (where
xlwings' own ``xlwings addin install`` puts its add-in; Excel opens every file
there when it starts) and sets two entries of xlwings' user configuration
``%USERPROFILE%\\.xlwings\\xlwings.conf``, leaving every other line as it was:

- ``INTERPRETER_WIN``: the Python running this command (where ltvxl is installed);
- ``UDF MODULES``: ``ltvxl.udfs`` added to the list (the key xlwings' add-in
  writes from its ribbon; needed only for xlwings' "Import Functions").

What was changed, and the values before, is recorded in ``ltvxl-addin.json``
beside the configuration, so ``remove`` undoes exactly that and nothing else.

Paths can be given (``--xlstart``, ``--config-dir``) or set through
``LTVXL_XLSTART`` and ``LTVXL_XLWINGS_CONFIG_DIR``. ``LTVXL_PLATFORM`` and
``LTVXL_EXCEL`` (``installed``/``missing``) override the detection of the
platform and of Excel: they exist for the tests, which run on Linux.
"""

from __future__ import annotations

import json
import os
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ltvxl.fileio import atomic_output

from .build import ADDIN_NAME

STATE_FILE = "ltvxl-addin.json"
CONFIG_FILE = "xlwings.conf"
INTERPRETER_KEY = "INTERPRETER_WIN"
MODULES_KEY = "UDF MODULES"
UDF_MODULE = "ltvxl.udfs"
XLWINGS_ADDIN = "xlwings.xlam"

TRUST_VBA = (
    'File > Options > Trust Center > Trust Center Settings > Macro Settings > '
    '"Trust access to the VBA project object model"'
)
MANUAL_STEPS = f"""\
Next steps in Excel:
  1. Quit Excel completely and start it again: Excel loads {ADDIN_NAME} from XLSTART
     when it starts. The "ltvxl" tab appears on the ribbon.
  2. Type =LTV(100, 3, 5) in a cell of any workbook: it shows 1500.
If a cell shows #NAME? instead (the functions were not loaded):
  - run "ltvxl addin status" and follow what it says;
  - if Excel disabled the add-in: File > Options > Add-ins > Manage: Disabled Items > Go...,
    select ltvxl.xlam, Enable;
  - fallback, with the xlwings add-in ("xlwings addin install"): allow
    {TRUST_VBA},
    then xlwings tab > UDF Modules: ltvxl.udfs, and xlwings tab > Import Functions."""


class AddinError(Exception):
    """A reason the add-in cannot be installed here, worded for the user."""


@dataclass(frozen=True)
class Target:
    """Where the add-in and xlwings' configuration go."""

    xlstart: Path
    config_dir: Path

    @property
    def addin(self) -> Path:
        return self.xlstart / ADDIN_NAME

    @property
    def config(self) -> Path:
        return self.config_dir / CONFIG_FILE

    @property
    def state(self) -> Path:
        return self.config_dir / STATE_FILE


# ---------------------------------------------------------------- detection

def platform_name() -> str:
    return os.environ.get("LTVXL_PLATFORM") or sys.platform


def excel_installed(platform: str) -> bool:
    """Whether desktop Excel is installed (Windows: registered as Excel.Application)."""
    forced = os.environ.get("LTVXL_EXCEL")
    if forced:
        return forced.lower() == "installed"
    if not platform.startswith("win"):
        return False
    try:
        import winreg  # type: ignore[import-not-found]
    except ImportError:  # pragma: no cover - only on a platform override
        return False
    try:
        with winreg.OpenKey(winreg.HKEY_CLASSES_ROOT, r"Excel.Application\CurVer"):
            return True
    except OSError:
        return False


def check_platform() -> None:
    """Raise :class:`AddinError` unless this is Windows with desktop Excel."""
    platform = platform_name()
    if not platform.startswith("win"):
        where = "macOS" if platform == "darwin" else f"this system ({platform})"
        raise AddinError(
            f"The ltvxl add-in needs desktop Excel on Windows: classic xlwings worksheet "
            f"functions (UDFs) work only there, not on {where}.\n"
            "Use xlwings Lite instead (Excel on the web, macOS, Windows): paste "
            "addin/lite/main.py and addin/lite/requirements.txt into it, see docs/install.md.\n"
            "Without Excel, 'ltvxl report' computes a workbook headlessly."
        )
    if not excel_installed(platform):
        raise AddinError(
            "Microsoft Excel (desktop) is not installed on this Windows machine "
            "(no Excel.Application in the registry).\n"
            "Install Excel and run 'ltvxl addin install' again, or use xlwings Lite "
            "in Excel on the web (docs/install.md)."
        )


def default_target(xlstart: str | None = None, config_dir: str | None = None) -> Target:
    """The user's XLSTART folder and xlwings' user configuration folder."""
    xl = xlstart or os.environ.get("LTVXL_XLSTART")
    cfg = config_dir or os.environ.get("LTVXL_XLWINGS_CONFIG_DIR")
    if not xl:
        appdata = os.environ.get("APPDATA")
        if not appdata:
            raise AddinError("APPDATA is not set: cannot find Excel's XLSTART folder; "
                             "give it with --xlstart")
        xl = str(Path(appdata) / "Microsoft" / "Excel" / "XLSTART")
    if not cfg:
        cfg = str(Path.home() / ".xlwings")
    return Target(Path(xl), Path(cfg))


# ---------------------------------------------------------------- xlwings.conf

CONFIG_ENCODING = "mbcs" if sys.platform.startswith("win") else "utf-8"
"""xlwings.conf is read by VBA (``Input #``) in the Windows ANSI code page ("mbcs"),
and written so by xlwings' own Python and ribbon; elsewhere (tests) UTF-8."""
_KEEP = "surrogateescape"
"""Bytes that do not decode are carried through unchanged: other lines stay byte for byte."""

def _parse_line(line: str) -> tuple[str, str] | None:
    parts = line.strip().split('","', 1)
    if len(parts) != 2 or not parts[0].startswith('"') or not parts[1].endswith('"'):
        return None
    return parts[0][1:], parts[1][:-1]


def read_config(path: Path) -> dict[str, str]:
    """Settings of an xlwings.conf file, keys upper case (xlwings compares them so)."""
    if not path.is_file():
        return {}
    values = {}
    for line in path.read_text(encoding=CONFIG_ENCODING, errors=_KEEP).splitlines():
        kv = _parse_line(line)
        if kv:
            values.setdefault(kv[0].upper(), kv[1])
    return values


def write_config(path: Path, changes: dict[str, str | None]) -> None:
    """Set (or with ``None`` delete) keys in an xlwings.conf; other lines stay as they are."""
    lines = []
    if path.is_file():
        lines = path.read_text(encoding=CONFIG_ENCODING, errors=_KEEP).splitlines()
    out, done = [], set()
    for line in lines:
        kv = _parse_line(line)
        key = kv[0].upper() if kv else None
        if key in changes:
            if key not in done and changes[key] is not None:
                out.append(f'"{kv[0]}","{changes[key]}"')  # type: ignore[index]
            done.add(key)
            continue
        out.append(line)
    for key, value in changes.items():
        if key not in done and value is not None:
            out.append(f'"{key}","{value}"')
    text = "".join(f"{line}\n" for line in out)
    for key, value in changes.items():
        _check_encodable(key, value or "")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding=CONFIG_ENCODING, errors=_KEEP)


def _check_encodable(key: str, value: str) -> None:
    try:
        value.encode(CONFIG_ENCODING)
    except UnicodeEncodeError:
        raise AddinError(
            f"{key} = {value} has characters that Excel's VBA cannot read from "
            "xlwings.conf (it reads the Windows ANSI code page); install Python in a "
            "folder whose path has none of them") from None


def _modules(value: str | None) -> list[str]:
    return [m.strip() for m in (value or "").split(";") if m.strip()]


# ---------------------------------------------------------------- commands

def _expected_addin() -> bytes:
    from .build import build_addin, default_template

    try:
        return build_addin()
    except ImportError as exc:
        raise AddinError(f"xlwings is not installed in this Python ({exc})") from None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise AddinError(
            f"cannot build the add-in from xlwings' template {default_template()}: {exc}. "
            "This xlwings version may not be supported; see addin/README.md for the "
            "manual Import Functions route."
        ) from None


def install(target: Target, interpreter: str | None = None) -> list[str]:
    """Install the add-in and configure xlwings; the report lines."""
    interpreter = interpreter or sys.executable
    _check_encodable(INTERPRETER_KEY, interpreter)
    report = []
    data = _expected_addin()
    state = _read_state(target)
    existed = target.addin.is_file()
    if existed and target.addin.read_bytes() == data:
        report.append(f"Add-in already current: {target.addin}")
    else:
        target.xlstart.mkdir(parents=True, exist_ok=True)
        try:
            with atomic_output(target.addin) as tmp:
                tmp.write_bytes(data)
        except PermissionError as exc:
            raise AddinError(f"Cannot write {target.addin}: {exc.strerror}. If Excel is "
                             "running, quit it and run 'ltvxl addin install' again.") from None
        report.append(f"{'Updated' if existed else 'Installed'} add-in: {target.addin}")
    state.setdefault("addin", {"path": str(target.addin), "existed_before": existed})

    config = read_config(target.config)
    state.setdefault("config_file_existed", target.config.is_file())
    changes: dict[str, str | None] = {}
    saved = state.setdefault("config", {})
    old = config.get(INTERPRETER_KEY)
    if old != interpreter:
        changes[INTERPRETER_KEY] = interpreter
        saved.setdefault(INTERPRETER_KEY, {"before": old})
        saved[INTERPRETER_KEY]["set"] = interpreter
        was = f" (was {old})" if old else ""
        report.append(f"Set {INTERPRETER_KEY} = {interpreter}{was} in {target.config}")
    else:
        report.append(f"{INTERPRETER_KEY} already {interpreter} in {target.config}")
    modules = _modules(config.get(MODULES_KEY))
    if UDF_MODULE not in modules:
        changes[MODULES_KEY] = ";".join([*modules, UDF_MODULE])
        saved.setdefault(MODULES_KEY, {"before": config.get(MODULES_KEY)})
        saved[MODULES_KEY]["set"] = changes[MODULES_KEY]
        report.append(f"Added {UDF_MODULE} to {MODULES_KEY} in {target.config}")
    else:
        report.append(f"{MODULES_KEY} already lists {UDF_MODULE}")
    if changes:
        write_config(target.config, changes)
    _write_state(target, state)
    return report


def remove(target: Target) -> list[str]:
    """Undo what :func:`install` did, as recorded; the report lines."""
    state = _read_state(target)
    if not state:
        lines = ["Nothing to remove: no record of 'ltvxl addin install' in "
                 f"{target.state}."]
        if target.addin.is_file():
            lines.append(f"An add-in file is at {target.addin}; delete it by hand if "
                         "you do not want it (Excel must be closed).")
        return lines
    report = []
    addin = Path(state.get("addin", {}).get("path", target.addin))
    if addin.is_file():
        try:
            addin.unlink()
        except PermissionError as exc:
            raise AddinError(f"Cannot delete {addin}: {exc.strerror}. If Excel is running, "
                             "quit it and run 'ltvxl addin remove' again.") from None
        report.append(f"Removed add-in: {addin}")
    else:
        report.append(f"Add-in already gone: {addin}")

    config = read_config(target.config)
    changes: dict[str, str | None] = {}
    saved = state.get("config", {})
    if INTERPRETER_KEY in saved:
        entry = saved[INTERPRETER_KEY]
        if config.get(INTERPRETER_KEY) == entry.get("set"):
            changes[INTERPRETER_KEY] = entry.get("before")
            shown = entry.get("before") or "(removed)"
            report.append(f"Restored {INTERPRETER_KEY} = {shown} in {target.config}")
        else:
            report.append(f"Left {INTERPRETER_KEY} as it is: changed since install "
                          f"({config.get(INTERPRETER_KEY)})")
    if MODULES_KEY in saved:
        entry = saved[MODULES_KEY]
        modules = _modules(config.get(MODULES_KEY))
        if config.get(MODULES_KEY) == entry.get("set"):  # as install left it: the old value
            changes[MODULES_KEY] = entry.get("before")
        elif UDF_MODULE in modules:  # changed since: take out only ltvxl.udfs
            modules.remove(UDF_MODULE)
            changes[MODULES_KEY] = ";".join(modules)
        if MODULES_KEY in changes:
            report.append(f"Removed {UDF_MODULE} from {MODULES_KEY} in {target.config}")
    if changes:
        write_config(target.config, changes)
    if (not state.get("config_file_existed", True) and target.config.is_file()
            and not target.config.read_text(encoding=CONFIG_ENCODING, errors=_KEEP).strip()):
        target.config.unlink()
        report.append(f"Deleted {target.config} (install had created it; it is empty now)")
    target.state.unlink()
    return report


def status(target: Target) -> tuple[bool, list[str]]:
    """Whether everything is in place, and one line per piece."""
    ok = True
    lines = []
    if target.addin.is_file():
        try:
            current = target.addin.read_bytes() == _expected_addin()
        except Exception as exc:  # the template or xlwings may be missing
            current = None
            lines.append(f"[?] cannot build the add-in to compare: {exc}")
        if current:
            lines.append(f"[ok] add-in installed and current: {target.addin}")
        elif current is False:
            ok = False
            lines.append(f"[!!] add-in at {target.addin} is out of date (another ltvxl or "
                         "xlwings version): run 'ltvxl addin install'")
    else:
        ok = False
        lines.append(f"[!!] add-in not installed (expected {target.addin}): "
                     "run 'ltvxl addin install'")
    config = read_config(target.config)
    interp = config.get(INTERPRETER_KEY)
    if interp is None:
        ok = False
        lines.append(f"[!!] {INTERPRETER_KEY} not set in {target.config}")
    elif not Path(interp).is_file():
        ok = False
        lines.append(f"[!!] {INTERPRETER_KEY} = {interp}: no such file")
    else:
        which = "this Python" if Path(interp) == Path(sys.executable) else "another Python"
        problem = _probe_interpreter(interp)
        if problem is None:
            lines.append(f"[ok] {INTERPRETER_KEY} = {interp} ({which}; it imports "
                         f"{UDF_MODULE} and the same xlwings)")
        else:
            ok = False
            lines.append(f"[!!] {INTERPRETER_KEY} = {interp} ({which}): {problem}; run "
                         "'ltvxl addin install' from the Python that has ltvxl")
    if UDF_MODULE in _modules(config.get(MODULES_KEY)):
        lines.append(f"[ok] {MODULES_KEY} lists {UDF_MODULE}")
    else:
        lines.append(f"[--] {MODULES_KEY} does not list {UDF_MODULE} (needed only for "
                     "xlwings' Import Functions; the ltvxl add-in does not need it)")
    xlwings_addin = target.xlstart / XLWINGS_ADDIN
    if xlwings_addin.is_file():
        lines.append(f"[ok] xlwings add-in present: {xlwings_addin}")
    else:
        lines.append("[--] xlwings add-in not installed (optional: only for the xlwings tab, "
                     "'xlwings addin install')")
    return ok, lines


def _probe_interpreter(interpreter: str) -> str | None:
    """What keeps ``interpreter`` from running the add-in's functions (None: nothing).

    It must import ltvxl.udfs and have the xlwings the add-in is built for
    (the add-in's VBA calls that version's DLL).
    """
    import subprocess

    import xlwings

    code = "import ltvxl.udfs, xlwings; print(xlwings.__version__)"
    try:
        done = subprocess.run([interpreter, "-c", code], capture_output=True, text=True,
                              timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"cannot run it ({exc})"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"it cannot import {UDF_MODULE} ({last})"
    version = done.stdout.strip()
    if version != xlwings.__version__:
        return f"it has xlwings {version}, the add-in is built for {xlwings.__version__}"
    return None


def _read_state(target: Target) -> dict:
    if not target.state.is_file():
        return {}
    try:
        return json.loads(target.state.read_text(encoding="utf-8"))
    except ValueError:
        raise AddinError(f"{target.state} is damaged; delete it and check "
                         f"{target.config} by hand") from None


def _write_state(target: Target, state: dict) -> None:
    target.config_dir.mkdir(parents=True, exist_ok=True)
    with atomic_output(target.state) as tmp:
        tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
