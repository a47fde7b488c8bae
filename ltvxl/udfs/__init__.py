"""The ltvxl worksheet functions: the module named in xlwings' "UDF Modules" setting.

Put ``ltvxl.udfs`` into the "UDF Modules" box of the xlwings add-in (or the
``UDF_MODULES`` setting) and import the functions; every function declared
here appears in Excel's category "ltvxl". Each family of functions lives in
a submodule and is re-exported here under its Excel name.
"""

from __future__ import annotations

from ltvxl.worksheet import REGISTRY

from .decisions import *  # noqa: F403
from .decisions import __all__ as _decisions
from .early import *  # noqa: F403
from .early import __all__ as _early
from .models import *  # noqa: F403
from .models import __all__ as _models
from .transactions import *  # noqa: F403
from .transactions import __all__ as _transactions
from .unit_economics import *  # noqa: F403
from .unit_economics import __all__ as _unit_economics

__all__ = [*_unit_economics, *_transactions, *_models, *_decisions, *_early]

FUNCTIONS = REGISTRY
"""Every worksheet function by Excel name (used by the headless refresh)."""
