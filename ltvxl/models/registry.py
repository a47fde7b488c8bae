"""The registry of models: the one place that knows which models ltvxl has.

Every purchase model (Pareto/NBD, BG/NBD, MBG/NBD) is one :class:`PurchaseModel`
entry: its key, display name, the spellings users write, its parameters, its
functions and the published parameters its examples use. Everything else
reads the registry: the ``model`` choices and default of the worksheet
functions and of ``ltvxl clv``, the flat worksheet functions of each model
(``<KEY>_PALIVE``, ``<KEY>_EXPECTED``, ``<KEY>_EXPECTED_NEW``, ``<KEY>_PROB``),
the documentation and the contract tests that every model must pass
(tests/test_models_contract.py).

The model functions are referenced lazily (:class:`Lazy`): importing the
registry loads neither scipy nor pandas, so the worksheet declarations built
from it stay cheap to import.

Adding a purchase model: write its module (``fit``, ``p_alive``, ``expected``,
``alive_expected``, ``conditional_expected``, optionally ``prob_purchases``;
``negll`` and ``Data`` for the contract's gradient check; a simulator in
:mod:`ltvxl.models.simulate`), then add one entry to :data:`PURCHASE_MODELS`
(docs/models.md, "Adding a model"); its ``covariate_links`` say how static covariates
enter it (:mod:`ltvxl.models.covariates` reads them).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ltvxl.errors import LtvxlError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from .base import FitResult, ParamsLike


@dataclass(frozen=True)
class Lazy:
    """A function of a module, imported on the first call (``module:name``)."""

    module: str
    name: str

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.target(*args, **kwargs)

    @property
    def target(self) -> Callable[..., Any]:
        """The function itself (importing its module)."""
        return getattr(importlib.import_module(self.module), self.name)


FLAT_KINDS = ("PALIVE", "EXPECTED", "EXPECTED_NEW", "PROB")
"""The flat worksheet functions a purchase model may have, named ``<KEY>_<KIND>``:
P(alive), conditional expected purchases, expected purchases of a new customer,
probability of n purchases of a new customer."""


@dataclass(frozen=True)
class PurchaseModel:
    """One purchase (buy-till-you-die) model for (frequency, recency, T) data.

    key: the short name (lower case) used in ``model`` arguments; its upper case
    is the worksheet choice and the prefix of the flat worksheet functions.
    name: the display name ("Pareto/NBD"). aliases: further spellings users
    write, compared without case, spaces or punctuation (the key and the name
    are always accepted). params: parameter names, in the order of the
    functions' parameter tuples; param_help: what each one is (worksheet help);
    time_params: the parameters that carry the data's time unit.
    fit(frequency, recency, T, weights=None, *, time_unit) -> FitResult;
    p_alive(params, frequency, recency, T); expected(params, t) for a new
    customer; alive_expected(params, t, frequency, T) given alive;
    conditional_expected(params, t, frequency, recency, T); prob_purchases(
    params, n, t) or None; negll(theta, data) and data(x, t_x, T, w): the
    likelihood in log-parameters with its gradient; simulate(*params, T, seed):
    a DataFrame of (frequency, recency, T) drawn from the model.
    example: published parameters (CDNOW, weeks) used in examples and tests;
    example_results: the worksheet example results by flat kind (text, as the
    documentation shows them); summary: one line for the documentation.
    """

    key: str
    name: str
    params: tuple[str, ...]
    param_help: tuple[str, ...]
    time_params: tuple[str, ...]
    fit: Callable[..., FitResult]
    p_alive: Callable[..., np.ndarray]
    expected: Callable[..., np.ndarray]
    alive_expected: Callable[..., np.ndarray]
    conditional_expected: Callable[..., np.ndarray]
    prob_purchases: Callable[..., np.ndarray] | None
    negll: Callable[..., tuple[float, np.ndarray]]
    data: Callable[..., Any]
    simulate: Callable[..., Any]
    example: tuple[float, ...]
    example_source: str
    example_results: Mapping[str, str]
    summary: str
    aliases: tuple[str, ...] = ()
    covariate_links: tuple[tuple[tuple[str, int], ...], tuple[tuple[str, int], ...]] | None \
        = None
    """How static covariates enter the model (:mod:`ltvxl.models.covariates`), or None when
    they do not: for the purchase process, then the dropout process, each (parameter,
    sign) with log theta_i = log theta_0 + sign * gamma' x_i."""

    @property
    def choice(self) -> str:
        """The worksheet spelling of the model (``PNBD``) and prefix of its flat functions."""
        return self.key.upper()

    @property
    def flat_kinds(self) -> tuple[str, ...]:
        """The flat worksheet functions this model has (see :data:`FLAT_KINDS`)."""
        return tuple(k for k in FLAT_KINDS if k in self.example_results)

    def example_params(self) -> dict[str, float]:
        """The example parameters by name."""
        return dict(zip(self.params, self.example, strict=True))

    def spellings(self) -> tuple[str, ...]:
        """Every accepted spelling, normalised (see :func:`normal`)."""
        return tuple(dict.fromkeys(normal(s) for s in (self.key, self.name, *self.aliases)))


class SpendModel(Protocol):
    """A model of the spend per purchase given a customer's repeat purchases."""

    @property
    def key(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def params(self) -> tuple[str, ...]: ...

    def fit(self, frequency: Any, avg_spend: Any, weights: Any = None) -> FitResult:
        """Fit to per-customer repeat purchases and their mean value."""
        ...

    def expected_spend(self, params: ParamsLike, frequency: Any, avg_spend: Any) -> np.ndarray:
        """Expected spend per purchase of each customer (currency)."""
        ...

    def usable(self, fit: FitResult) -> str:
        """Why the fitted spend model cannot predict ("" when it can)."""
        ...


@dataclass(frozen=True)
class GammaGammaSpend:
    """Gamma-Gamma (Fader, Hardie & Lee 2005), the spend model of the CLV functions."""

    key: str = "gg"
    name: str = "Gamma-Gamma"
    params: tuple[str, ...] = ("p", "q", "gamma")
    _module: str = field(default="ltvxl.models.gammagamma", repr=False)

    def fit(self, frequency: Any, avg_spend: Any, weights: Any = None) -> FitResult:
        return Lazy(self._module, "fit")(frequency, avg_spend, weights)

    def expected_spend(self, params: ParamsLike, frequency: Any, avg_spend: Any) -> np.ndarray:
        return Lazy(self._module, "expected_spend")(params, frequency, avg_spend)

    def usable(self, fit: FitResult) -> str:
        if fit.params["q"] <= 1:
            return "Gamma-Gamma q <= 1 (mean spend undefined)"
        return ""


def _model(key: str, name: str, module: str, **fields: Any) -> PurchaseModel:
    path = f"ltvxl.models.{module}"

    def ref(function: str) -> Lazy:
        return Lazy(path, function)

    prob = fields.pop("prob", True)
    return PurchaseModel(
        key=key,
        name=name,
        fit=ref("fit"),
        p_alive=ref("p_alive"),
        expected=ref("expected"),
        alive_expected=ref("alive_expected"),
        conditional_expected=ref("conditional_expected"),
        prob_purchases=ref("prob_purchases") if prob else None,
        negll=ref("negll"),
        data=ref("Data"),
        simulate=Lazy("ltvxl.models.simulate", module),
        **fields,
    )


_R = "shape of the purchase-rate distribution"
_ALPHA = "scale of the purchase rate, in the time unit of recency and age"
_A = "dropout-probability Beta shape a"
_B = "dropout-probability Beta shape b"
_CDNOW = "CDNOW 1/10th sample, weeks"

PNBD = _model(
    "pnbd",
    "Pareto/NBD",
    "paretonbd",
    aliases=("pareto", "pareto_nbd"),
    params=("r", "alpha", "s", "beta"),
    param_help=(_R, _ALPHA, "shape of the dropout-rate distribution",
                "scale of the dropout rate, in the time unit of recency and age"),
    time_params=("alpha", "beta"),
    example=(0.5533, 10.578, 0.6062, 11.669),
    example_source=f"{_CDNOW} (Fader, Hardie & Lee 2005)",
    example_results={"PALIVE": "0.8691", "EXPECTED": "1.4551", "EXPECTED_NEW": "1.213",
                     "PROB": "0.5935"},
    covariate_links=((("alpha", -1),), (("beta", -1),)),  # as CLVTools
    summary="Poisson purchases during an exponential lifetime (Schmittlein, Morrison & "
    "Colombo 1987); customers may drop out at any time.",
)  # fmt: skip

BGNBD = _model(
    "bgnbd",
    "BG/NBD",
    "bgnbd",
    params=("r", "alpha", "a", "b"),
    param_help=(_R, _ALPHA, _A, _B),
    time_params=("alpha",),
    example=(0.2426, 4.4136, 0.7929, 2.4259),
    example_source=f"{_CDNOW} (Fader, Hardie & Lee 2005a)",
    example_results={"PALIVE": "0.7266", "EXPECTED": "1.226", "EXPECTED_NEW": "1.195",
                     "PROB": "0.5743"},
    covariate_links=((("alpha", -1),), (("a", 1), ("b", 1))),
    summary="Poisson purchases; after each repeat purchase the customer may drop out "
    "(Fader, Hardie & Lee 2005). Customers without repeat purchases are taken as alive.",
)  # fmt: skip

MBGNBD = _model(
    "mbgnbd",
    "MBG/NBD",
    "mbgnbd",
    prob=False,
    params=("r", "alpha", "a", "b"),
    param_help=(_R, _ALPHA, _A, _B),
    time_params=("alpha",),
    example=(0.525, 6.183, 0.891, 1.614),
    example_source=f"{_CDNOW} (Batislam, Denizel & Filiztekin 2007)",
    example_results={"PALIVE": "0.7062", "EXPECTED": "1.2630"},
    summary="As BG/NBD, but a customer may also drop out right after her first purchase "
    "(Batislam, Denizel & Filiztekin 2007).",
)  # fmt: skip

PURCHASE_MODELS: tuple[PurchaseModel, ...] = (PNBD, BGNBD, MBGNBD)
"""Every purchase model, the default first."""

DEFAULT: PurchaseModel = PNBD
"""The default purchase model of CLV_PREDICT, CLV_FIT, BTYD_FIT and ``ltvxl clv``:
Pareto/NBD, because BG/NBD gives every customer without a repeat purchase
P(alive) = 1 however long ago she bought, so it would call one-time buyers of long
ago "low" churn risk (docs/models.md)."""

GAMMA_GAMMA = GammaGammaSpend()
"""The spend model of the CLV functions."""

SPEND_MODELS: tuple[SpendModel, ...] = (GAMMA_GAMMA,)


def normal(text: str) -> str:
    """``text`` without case, spaces or punctuation: "Pareto/NBD" -> "paretonbd"."""
    return re.sub(r"[^0-9a-z]", "", str(text).lower())


def _index() -> dict[str, PurchaseModel]:
    out: dict[str, PurchaseModel] = {}
    for model in PURCHASE_MODELS:
        for spelling in model.spellings():
            if out.setdefault(spelling, model) is not model:
                raise ValueError(f"{spelling!r} names two models")
    return out


_BY_SPELLING = _index()


def choices() -> tuple[str, ...]:
    """The worksheet choices of a ``model`` argument, the default first (PNBD, BGNBD, ...)."""
    return tuple(m.choice for m in PURCHASE_MODELS)


def choices_text() -> str:
    """The choices as a message lists them: "PNBD (Pareto/NBD), BGNBD (BG/NBD), ..."."""
    return ", ".join(f"{m.choice} ({m.name})" for m in PURCHASE_MODELS)


def in_words() -> str:
    """ "Pareto/NBD by default, or BG/NBD, MBG/NBD", for descriptions and help."""
    others = ", ".join(m.name for m in PURCHASE_MODELS if m is not DEFAULT)
    return f"{DEFAULT.name} by default, or {others}"


def purchase_model(name: str | PurchaseModel | None, arg: str = "model") -> PurchaseModel:
    """The purchase model a user means by ``name`` ("PNBD", "Pareto/NBD", "bg-nbd", ...).

    Case, spaces and punctuation do not matter; blank is :data:`DEFAULT`. Any other
    name is an error naming ``arg`` and listing the choices.
    """
    if isinstance(name, PurchaseModel):
        return name
    if name is None or (isinstance(name, str) and not name.strip()):
        return DEFAULT
    model = _BY_SPELLING.get(normal(name)) if isinstance(name, str) else None
    if model is None:
        text = str(name)
        shown = text if len(text) <= 24 else text[:21] + "..."
        raise LtvxlError(f'{arg} must be one of {choices_text()}; got "{shown}"')
    return model


def read_choice(name: str) -> str:
    """The worksheet choice (``PNBD``) for any accepted spelling of a model."""
    return purchase_model(name).choice


__all__ = [
    "BGNBD",
    "DEFAULT",
    "FLAT_KINDS",
    "GAMMA_GAMMA",
    "MBGNBD",
    "PNBD",
    "PURCHASE_MODELS",
    "SPEND_MODELS",
    "GammaGammaSpend",
    "Lazy",
    "PurchaseModel",
    "SpendModel",
    "choices",
    "choices_text",
    "in_words",
    "normal",
    "purchase_model",
    "read_choice",
]
