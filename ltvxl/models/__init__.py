"""Buy-till-you-die models of customer lifetime value.

Non-contractual purchases: :mod:`~ltvxl.models.bgnbd` (BG/NBD),
:mod:`~ltvxl.models.paretonbd` (Pareto/NBD), :mod:`~ltvxl.models.mbgnbd`
(MBG/NBD); spend per transaction: :mod:`~ltvxl.models.gammagamma`;
contract renewals: :mod:`~ltvxl.models.sbg`; discrete opportunities:
:mod:`~ltvxl.models.bgbb`; discounted CLV: :mod:`~ltvxl.models.clv`.

Every model is fitted by the one maximum-likelihood routine of
:mod:`~ltvxl.models.base` (``fit_mle``) and returns a
:class:`~ltvxl.models.base.FitResult`. Prediction functions take the
parameters (a FitResult, a mapping or a tuple) and arrays, and broadcast.
"""

from __future__ import annotations

import importlib
from typing import Any

_MODULES = ("bgbb", "bgnbd", "clv", "gammagamma", "mbgnbd", "paretonbd", "registry", "sbg")
_NAMES = {
    "FitResult": "ltvxl.models.base",
    "compress": "ltvxl.models.base",
    "fit_mle": "ltvxl.models.base",
    "convert_time": "ltvxl.units",
    "periodic_rate": "ltvxl.units",
}


def __getattr__(name: str) -> Any:
    """The submodules and names load on first use: importing :mod:`ltvxl.models.registry`
    loads neither scipy nor pandas."""
    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [*_NAMES, *_MODULES]
