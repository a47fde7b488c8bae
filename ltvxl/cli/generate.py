"""``ltvxl generate [--check] [FILE ...]``: rebuild the generated files of a checkout.

Every file below is built from the sources and committed, so that users get it
without running anything; this command is the one way to rebuild them, and
``--check`` (run by the test suite) says which ones no longer match their
sources:

- ``docs/functions.md``: the worksheet function reference, from the declarations;
- ``templates/ltv_template.xlsx``: the template workbook on the built-in sample,
  refreshed so that it carries computed values;
- ``addin/ltvxl.xlam`` and ``addin/ltvxl_udfs.bas``: the Windows add-in and its VBA
  module, from the declarations and the installed xlwings' add-in template (the
  add-in is checked only against the xlwings it was built for);
- ``addin/lite/main.py``: the file users paste into xlwings Lite.

Texts are compared exactly. Workbooks are compared by meaning
(:mod:`ltvxl.workbook.compare`): parts, structure, formulas and texts exactly,
numbers to :data:`REL_TOL`. A file is written only when it differs in meaning,
so float noise between machines never shows up as a changed binary.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import LtvxlError

REL_TOL = 1e-3
"""Relative tolerance of the numbers of a generated workbook, justified by the fit's own
precision. The optimiser (:func:`ltvxl.models.base._bfgs`) stops when the decrease it
still expects, g' H^-1 g, is below :data:`ltvxl.models.base.CONVERGED_DECREASE` times
|log-likelihood|; near the optimum that quantity is (x - x*)' H (x - x*), so each
log-parameter is known only to sqrt(CONVERGED_DECREASE |LL|) standard errors:
:func:`fit_precision`. For the template's fits on the sample that is at most 1.2e-4 of
a parameter (Pareto/NBD's beta: LL -6,814, s.e. 1.5 times the estimate); predictions,
P(alive) and standard errors move by the same order. Another machine's rounding can
land anywhere in that range, so the tolerance is that bound with a margin of about 8
(tests check that the sample's bound stays below a quarter of it). Exact quantities
(counts, sums of the transactions) are equal to far better than this anyway."""
ABS_TOL = 1e-9
"""Numbers closer to 0 than this are equal: P(alive) of a long-lapsed customer, say,
whose relative change is large while every format of the template shows 0."""


def fit_precision(log_likelihood: float, params: dict[str, float],
                  std_errors: dict[str, float]) -> float:
    """The largest relative error of a fitted parameter that the optimiser's stopping rule
    allows: sqrt(CONVERGED_DECREASE |LL|) standard errors, over the parameter."""
    from ..models.base import CONVERGED_DECREASE

    room = math.sqrt(CONVERGED_DECREASE * abs(log_likelihood))
    return max(room * std_errors[k] / abs(v) for k, v in params.items())


@dataclass(frozen=True)
class Generated:
    """One generated file: where it lives in a checkout, how it is built, how compared."""

    path: str
    """Path relative to the repository root, with forward slashes."""
    build: Callable[[], bytes]
    differences: Callable[[bytes, bytes], list[str]]
    """(committed, built) -> how they differ in meaning; empty when they do not."""
    applies: Callable[[bytes], str | None] = lambda committed: None
    """A reason to leave the committed file unchecked (None: check it)."""


def _text_differences(committed: bytes, built: bytes) -> list[str]:
    if committed == built:
        return []
    old, new = committed.decode("utf-8", "replace"), built.decode("utf-8", "replace")
    lines = [i for i, (a, b) in enumerate(zip(old.splitlines(), new.splitlines(),
                                                strict=False), 1) if a != b]
    where = f"line {lines[0]}" if lines else "its length"
    return [f"differs from the build at {where}"]


def _workbook_differences(committed: bytes, built: bytes) -> list[str]:
    from ..workbook.compare import package_differences

    return package_differences(committed, built, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def _vba_streams(name: str, committed: bytes, built: bytes) -> list[str]:
    """A VBA project compared stream by stream (module sources decompressed)."""
    from ..addin.ovba import read_cfb

    old, new = read_cfb(committed), read_cfb(built)
    if list(old) != list(new):
        return [f"{name}: the streams differ: {list(old)} committed, {list(new)} built"]
    return [f"{name}: stream {stream} differs" for stream in old if old[stream] != new[stream]]


def _addin_differences(committed: bytes, built: bytes) -> list[str]:
    from ..workbook.compare import package_differences

    return package_differences(committed, built, rel_tol=0.0, abs_tol=0.0, binary=_vba_streams)


def addin_xlwings_version(addin: bytes) -> str | None:
    """The xlwings version an ``ltvxl.xlam`` was built for (None: not found)."""
    import io
    import zipfile

    from ..addin.build import RIBBON_MODULE
    from ..addin.ovba import decompress, read_cfb

    try:
        with zipfile.ZipFile(io.BytesIO(addin)) as z:
            streams = read_cfb(z.read("xl/vbaProject.bin"))
        source = decompress(streams[f"VBA/{RIBBON_MODULE}"])
    except (KeyError, ValueError, zipfile.BadZipFile):
        return None
    found = re.search(rb'LTVXL_XLWINGS_VERSION As String = "([^"]+)"', source)
    return found.group(1).decode() if found else None


def _other_xlwings(committed: bytes) -> str | None:
    import xlwings

    built_for = addin_xlwings_version(committed)
    if built_for is not None and built_for != xlwings.__version__:
        return f"built for xlwings {built_for}, {xlwings.__version__} is installed"
    return None


def _build_docs() -> bytes:
    import ltvxl.udfs  # noqa: F401  (declares the functions)

    from .. import docs_gen

    return docs_gen.render().encode("utf-8")


def _build_template() -> bytes:
    from ..report import Progress
    from ..workbook.template import build_template

    with tempfile.TemporaryDirectory(prefix="ltvxl-generate-") as tmp:
        out = Path(tmp) / "ltv_template.xlsx"
        build_template(out, progress=Progress())
        return out.read_bytes()


def _build_addin() -> bytes:
    from ..addin.build import build_addin

    return build_addin()


def _build_bas() -> bytes:
    from ..addin.vba import udfs_module

    return udfs_module().encode("cp1252")


def _build_lite() -> bytes:
    from ..addin.lite import render_main

    return render_main().encode("utf-8")


GENERATED = (
    Generated("docs/functions.md", _build_docs, _text_differences),
    Generated("templates/ltv_template.xlsx", _build_template, _workbook_differences),
    Generated("addin/ltvxl.xlam", _build_addin, _addin_differences, _other_xlwings),
    Generated("addin/ltvxl_udfs.bas", _build_bas, _text_differences),
    Generated("addin/lite/main.py", _build_lite, _text_differences),
)
"""Every generated file of the repository, in the order they are built."""


def checkout_root(directory: str | Path) -> Path:
    """``directory`` if it is the root of an ltvxl checkout, else an :class:`LtvxlError`."""
    root = Path(directory)
    project = root / "pyproject.toml"
    text = project.read_text(encoding="utf-8") if project.is_file() else ""
    if not re.search(r'^name\s*=\s*"ltvxl"', text, re.M):
        raise LtvxlError(
            f"{root.resolve()} is not the root of an ltvxl checkout (no pyproject.toml of "
            "ltvxl there): ltvxl generate rebuilds the files committed in the repository; "
            "run it from the repository root or give --root")
    return root


def select(names: Sequence[str]) -> list[Generated]:
    """The generated files named (all when none is), or an :class:`LtvxlError`."""
    if not names:
        return list(GENERATED)
    known = {g.path: g for g in GENERATED}
    unknown = [n for n in names if n.replace("\\", "/") not in known]
    if unknown:
        raise LtvxlError(f"not a generated file: {', '.join(unknown)}; the generated files "
                         f"are {', '.join(known)}")
    return [known[n.replace("\\", "/")] for n in names]


@dataclass(frozen=True)
class Status:
    """One generated file compared with its build."""

    path: str
    differences: list[str]
    """Empty: current. Otherwise what differs (the first one says 'missing' if absent)."""
    skipped: str | None = None
    built: bytes = b""


def compare(root: Path, files: Sequence[Generated], check: bool = True) -> list[Status]:
    """Build each file and compare it with the committed one under ``root`` (``check``:
    leave unbuilt the files that cannot be checked here, such as an add-in built for
    another xlwings)."""
    out = []
    for g in files:
        target = root / g.path
        committed = target.read_bytes() if target.is_file() else None
        reason = g.applies(committed) if check and committed is not None else None
        if reason is not None:
            out.append(Status(g.path, [], reason))
            continue
        built = g.build()
        diffs = ["missing"] if committed is None else g.differences(committed, built)
        out.append(Status(g.path, diffs, None, built))
    return out


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The options of ``ltvxl generate``."""
    gen = sub.add_parser(
        "generate",
        help="rebuild the generated files of a checkout (docs, template, add-in, Lite)",
        description="Rebuild " + ", ".join(g.path for g in GENERATED) + " from the sources "
        "(run from the repository root). A file is rewritten only when it differs in "
        "meaning: texts exactly, workbooks by parts, formulas, texts and numbers to a "
        f"relative {REL_TOL:g} (model fits differ between machines in the last digits).",
    )
    gen.add_argument("files", nargs="*", metavar="FILE",
                     help="only these generated files (default: all)")
    gen.add_argument("--check", action="store_true",
                     help="write nothing; list the stale files and exit 1 if there are any")
    gen.add_argument("--root", default=".",
                     help="root of the ltvxl checkout (default: the current directory)")
    gen.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Rebuild (or check) the selected generated files."""
    from ..fileio import atomic_output

    root = checkout_root(args.root)
    stale = 0
    for status in compare(root, select(args.files), check=args.check):
        if status.skipped:
            print(f"not checked: {status.path} ({status.skipped})")
        elif not status.differences:
            print(f"current: {status.path}")
        elif args.check:
            stale += 1
            print(f"stale: {status.path}", file=sys.stderr)
            for line in status.differences:
                print(f"  {line}", file=sys.stderr)
        else:
            with atomic_output(root / status.path) as tmp:
                tmp.write_bytes(status.built)
            print(f"wrote {status.path}")
    if stale:
        print(f"{stale} generated file{'s' if stale > 1 else ''} out of date: run "
              "`ltvxl generate` from the repository root", file=sys.stderr)
        return 1
    return 0
