"""``ltvxl addin install | remove | status``: the Windows add-in where Excel loads it
(the work is in :mod:`ltvxl.addin.install`)."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The options of ``ltvxl addin``."""
    addin = sub.add_parser(
        "addin",
        help="install, remove or check the Excel add-in (Windows desktop Excel)",
        description="Install ltvxl.xlam where Excel loads it and point xlwings at this "
        "Python and at ltvxl.udfs; remove undoes exactly that; status checks each piece.",
    )
    addin.add_argument("action", choices=("install", "remove", "status"),
                       help="install the add-in and configure xlwings, undo that, "
                       "or check each piece")
    addin.add_argument("--xlstart", metavar="DIR",
                       help="Excel's start-up folder (default: "
                       r"%%APPDATA%%\Microsoft\Excel\XLSTART)")
    addin.add_argument("--config-dir", metavar="DIR",
                       help=r"folder of xlwings.conf (default: %%USERPROFILE%%\.xlwings)")
    addin.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``ltvxl addin <action>``; the exit code."""
    from ..addin.install import (
        MANUAL_STEPS,
        AddinError,
        check_platform,
        default_target,
        install,
        remove,
        status,
    )

    try:
        check_platform()
        target = default_target(args.xlstart, args.config_dir)
        if args.action == "install":
            for line in install(target):
                print(line)
            print()
            print(MANUAL_STEPS)
            return 0
        if args.action == "remove":
            for line in remove(target):
                print(line)
            print("Restart Excel to unload the add-in.")
            return 0
        ok, lines = status(target)
        for line in lines:
            print(line)
        print("Everything is in place." if ok else "Not everything is in place (see [!!]).")
        return 0 if ok else 1
    except AddinError as exc:
        print(f"ltvxl addin: {exc}", file=sys.stderr)
        return 1
