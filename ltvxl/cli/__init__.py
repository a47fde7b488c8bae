"""The ``ltvxl`` command: headless jobs on workbooks and transaction files.

The command line is a face of ltvxl, like the worksheet functions: the core
(``ltvxl/`` without ``cli``, ``udfs``, ``addin`` and ``workbook``) never imports
from here. Each command is one module of this package with two functions,
``add_parser(sub)`` (its options and help) and ``run(args)`` (the job, which
calls the core and prints); :func:`main` turns an :class:`~ltvxl.errors.LtvxlError`
or an :class:`OSError` into one line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import LtvxlError
from . import addin, backtest, clv, docs, early, functions, generate, refresh, report, template

COMMANDS = (report, functions, docs, addin, clv, backtest, early, refresh, template, generate)
"""The commands in the order ``ltvxl --help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``ltvxl`` and every command."""
    parser = argparse.ArgumentParser(
        prog="ltvxl",
        description="Customer-lifetime-value analytics for Excel workbooks, without Excel.",
    )
    parser.add_argument("--version", action="version", version=f"ltvxl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ltvxl`` with ``argv`` (default: the process's arguments); the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except LtvxlError as exc:
        print(f"ltvxl: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ltvxl: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"ltvxl: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
              file=sys.stderr)
        return 1
