"""Rebuild the files in addin/ from ltvxl's declarations and the installed xlwings.

Run from the repository root after changing a worksheet function or upgrading
xlwings:

    python addin/build_addin.py          # write addin/ltvxl.xlam, ltvxl_udfs.bas, lite/main.py
    python addin/build_addin.py --check  # exit 1 if any of them is out of date

``ltvxl addin install`` does not use these copies: it builds the add-in afresh
from the xlwings installed with it, so the VBA always matches that xlwings.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ltvxl.addin.build import build_addin
from ltvxl.addin.lite import render_main
from ltvxl.addin.vba import udfs_module

HERE = Path(__file__).resolve().parent


def outputs() -> dict[Path, bytes]:
    return {
        HERE / "ltvxl.xlam": build_addin(),
        HERE / "ltvxl_udfs.bas": udfs_module().encode("cp1252"),
        HERE / "lite" / "main.py": render_main().encode("utf-8"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for path, data in outputs().items():
        if path.is_file() and path.read_bytes() == data:
            continue
        stale.append(path)
        if not args.check:
            path.write_bytes(data)
            print(f"wrote {path.relative_to(HERE.parent)}")
    if args.check and stale:
        for path in stale:
            print(f"out of date: {path.relative_to(HERE.parent)}", file=sys.stderr)
        print("run: python addin/build_addin.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
