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

from . import bgbb, bgnbd, clv, gammagamma, mbgnbd, paretonbd, sbg
from .base import FitResult, compress, convert_time, fit_mle, periodic_rate

__all__ = [
    "FitResult",
    "bgbb",
    "bgnbd",
    "clv",
    "compress",
    "convert_time",
    "fit_mle",
    "gammagamma",
    "mbgnbd",
    "paretonbd",
    "periodic_rate",
    "sbg",
]
