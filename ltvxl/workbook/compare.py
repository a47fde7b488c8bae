"""Two OOXML packages (.xlsx, .xlam) compared by meaning, not by their bytes.

A rebuilt workbook means the same as a committed one when it has the same
parts in the same order, every part is the same text apart from the numbers
held in cells (so the structure, styles, formulas and texts are exactly the
same), and those numbers agree to a relative tolerance. Bytes are not
compared: the zip container's compressed data depends on the zlib build,
and the numbers of a model fit differ between machines in their last digits
(floating-point summation order in numpy and BLAS builds), which is not a
difference of the workbook. How many iterations a fit took (``converged in
19 iterations``) is the optimiser's path, not its result: rounding can add
or save an iteration, so the count is masked in texts.

Binary parts (``xl/vbaProject.bin``) are compared by a caller-given function
or byte for byte.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Callable

_CELL = re.compile(r"<c(\s[^>/]*)>(.*?)</c>", re.S)
_VALUE = re.compile(r"<v>([^<]*)</v>")
_TYPE = re.compile(r'\bt="([^"]*)"')
_REF = re.compile(r'\br="([^"]*)"')
_ITERATIONS = re.compile(r"\b(in|after) \d+ iterations\b")

PartCompare = Callable[[str, bytes, bytes], list[str]]
"""(part name, expected bytes, actual bytes) -> differences in words."""


def split_numbers(xml: str) -> tuple[str, list[tuple[str, float]]]:
    """Sheet XML with each numeric cell value replaced by ``#``, and those values with the
    cell reference, in document order. A cell is numeric without a ``t`` attribute or
    with ``t="n"``; shared-string indices, booleans, errors and texts stay in the text."""
    numbers: list[tuple[str, float]] = []

    def cell(m: re.Match[str]) -> str:
        attrs, body = m.group(1), m.group(2)
        kind = _TYPE.search(attrs)
        if kind and kind.group(1) != "n":
            return m.group(0)
        value = _VALUE.search(body)
        if value is None:
            return m.group(0)
        ref = _REF.search(attrs)
        numbers.append((ref.group(1) if ref else "?", float(value.group(1))))
        return f"<c{attrs}>{body[: value.start(1)]}#{body[value.end(1):]}</c>"

    return _CELL.sub(cell, xml), numbers


def _text(data: bytes) -> str:
    return _ITERATIONS.sub(r"\1 N iterations", data.decode("utf-8"))


def xml_differences(name: str, expected: bytes, actual: bytes, rel_tol: float,
                    abs_tol: float, limit: int = 5) -> list[str]:
    """How an XML part differs beyond the tolerance (empty: same meaning)."""
    old, old_numbers = split_numbers(_text(expected))
    new, new_numbers = split_numbers(_text(actual))
    if old != new:
        at = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b),
                  min(len(old), len(new)))
        return [f"{name}: the structure, a formula or a text differs at character {at}: "
                f"{old[max(at - 60, 0):at + 60]!r} committed, "
                f"{new[max(at - 60, 0):at + 60]!r} built"]
    out = []
    for (ref, a), (_, b) in zip(old_numbers, new_numbers, strict=True):
        if not (math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)
                or (math.isnan(a) and math.isnan(b))):
            out.append(f"{name} {ref}: {a!r} committed, {b!r} built "
                       f"(relative difference {abs(a - b) / max(abs(a), abs(b)):.1e}, "
                       f"tolerance {rel_tol:g})")
            if len(out) == limit:
                out.append(f"{name}: more cells differ")
                break
    return out


def package_differences(expected: bytes, actual: bytes, *, rel_tol: float, abs_tol: float,
                        binary: PartCompare | None = None) -> list[str]:
    """How two OOXML packages differ in meaning (empty: the same workbook).

    ``rel_tol`` / ``abs_tol``: tolerance of the numbers in cells (as in
    :func:`math.isclose`). ``binary`` compares parts that are not XML text
    (default: byte for byte).
    """
    with zipfile.ZipFile(io.BytesIO(expected)) as old, \
            zipfile.ZipFile(io.BytesIO(actual)) as new:
        if old.namelist() != new.namelist():
            return [f"the parts differ: {old.namelist()} committed, {new.namelist()} built"]
        out: list[str] = []
        for name in old.namelist():
            a, b = old.read(name), new.read(name)
            if name.endswith((".xml", ".rels")):
                out += xml_differences(name, a, b, rel_tol, abs_tol)
            elif binary is not None:
                out += binary(name, a, b)
            elif a != b:
                out.append(f"{name} differs")
        return out
