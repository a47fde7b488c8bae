"""The contract every registered purchase model passes (ltvxl.models.registry).

Written once, parametrized over :data:`registry.PURCHASE_MODELS`: a model added to
the registry is tested by these checks without a line here. Each check is a helper
(``check_*``) taking the registry entry, in the manner of CLVTools' shared
correctness and runability test helpers, so a model's own tests can call them too.

- fit: data simulated from known parameters are fitted back within a few standard
  errors, with a converged status and finite standard errors;
- gradient: the analytic gradient of the negative log-likelihood equals central
  finite differences;
- likelihood: the model's likelihood is a probability distribution over the
  histories (x, t_x) at T: summed over x and integrated over t_x (Gauss-Legendre)
  it is 1;
- expectations: integrated over the same distribution, the conditional expectation
  of purchases in (T, T+t] equals E[X(T+t)] - E[X(T)] and the mean of x equals
  E[X(T)], the model's own expectations for a new customer; a customer of age 0
  expects what a new customer expects; P(n purchases) sums to 1 with mean E[X(t)];
- P(alive) lies in [0, 1] on histories from the ordinary to the extreme;
- runability: no check raises a warning (warnings are errors here).

Published figures (CDNOW, lifetimes' per-customer values) stay in
test_models_published.py and test_models_predictions.py.
"""

import numpy as np
import pytest
from scipy.special import gammaln

from ltvxl.models import registry
from ltvxl.models.registry import PurchaseModel

pytestmark = pytest.mark.filterwarnings("error")

MODELS = pytest.mark.parametrize("model", registry.PURCHASE_MODELS, ids=lambda m: m.key)

# ---------------------------------------------------------------- helpers


def check_fit_recovers(model: PurchaseModel, truth: tuple[float, ...], ages, k=4.0, seed=5):
    """A fit to data simulated from ``truth`` lands within k standard errors of it."""
    d = model.simulate(*truth, ages, seed=seed)
    fit = model.fit(d.frequency, d.recency, d["T"], time_unit="weeks")
    assert fit.converged, fit.status
    assert fit.n_customers == len(ages)
    assert tuple(fit.params) == model.params
    for name, value in zip(model.params, truth, strict=True):
        se = fit.std_errors[name]
        assert np.isfinite(se) and se > 0, name
        assert abs(fit.params[name] - value) < k * se, (name, fit.params[name], value, se)
    return fit


def _history_sample(n=200, seed=1):
    rng = np.random.default_rng(seed)
    big_t = rng.uniform(10, 40, n).round(2)
    x = rng.poisson(2, n).astype(float)
    tx = np.where(x > 0, (big_t * rng.uniform(0.05, 1, n)).round(2), 0.0)
    return x, tx, big_t, rng.uniform(0.5, 2, n)


def check_gradient(model: PurchaseModel, params: tuple[float, ...], h=1e-6):
    """The analytic gradient in log-parameters equals central finite differences."""
    data = model.data(*_history_sample())
    theta = np.log(params)
    grad = model.negll(theta, data)[1]
    eye = np.eye(len(params))
    fd = [(model.negll(theta + h * e, data)[0] - model.negll(theta - h * e, data)[0]) / (2 * h)
          for e in eye]  # fmt: skip
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-5)


class HistoryGrid:
    """The histories at age T with their probabilities under the model: x = 0 (t_x = 0)
    and, for x = 1 .. max_x, Gauss-Legendre nodes in t_x over (0, T).

    The likelihood of a history is the density of its purchase times; the density of
    (x, t_x) is that times t_x^(x-1) / (x-1)! (the earlier purchase times integrated
    out over (0, t_x))."""

    def __init__(self, model: PurchaseModel, params, big_t=12.0, max_x=30, nodes=16):
        u, w = np.polynomial.legendre.leggauss(nodes)
        tx = big_t * (u + 1) / 2
        xs = np.repeat(np.arange(1, max_x + 1, dtype=float), nodes)
        self.x = np.r_[0.0, xs]
        self.tx = np.r_[0.0, np.tile(tx, max_x)]
        self.T = big_t
        pairs = zip(self.x, self.tx, strict=True)
        log_lik = np.array([self._log_lik(model, params, x, t) for x, t in pairs])
        jac = np.r_[0.0, (xs - 1) * np.log(np.tile(tx, max_x)) - gammaln(xs)]
        self.prob = np.exp(log_lik + jac) * np.r_[1.0, np.tile(big_t / 2 * w, max_x)]

    def _log_lik(self, model, params, x, tx):
        data = model.data(np.array([x]), np.array([tx]), np.array([self.T]), np.array([1.0]))
        return -model.negll(np.log(params), data)[0]

    def mean(self, values) -> float:
        return float(np.sum(self.prob * values))


@pytest.fixture(scope="module")
def grids():
    return {m.key: HistoryGrid(m, m.example) for m in registry.PURCHASE_MODELS}


def check_likelihood_is_a_distribution(grid: HistoryGrid):
    assert np.all(grid.prob >= 0)
    assert grid.prob.sum() == pytest.approx(1.0, abs=2e-6)


def check_expectations_integrate(model: PurchaseModel, grid: HistoryGrid, t=26.0):
    """E over histories of the model's conditional predictions equals its unconditional
    ones: E[x] = E[X(T)], E[E[X(T, T+t] | history]] = E[X(T+t)] - E[X(T)]."""
    p = model.example
    at_t = float(model.expected(p, grid.T))
    assert grid.mean(grid.x) == pytest.approx(at_t, rel=1e-4)
    future = model.conditional_expected(p, t, grid.x, grid.tx, grid.T)
    want = float(model.expected(p, grid.T + t)) - at_t
    assert grid.mean(future) == pytest.approx(want, rel=1e-4)


# ---------------------------------------------------------------- the contract


@pytest.fixture(scope="module")
def ages():
    # first purchases spread over a year, observed in weeks, rounded to days as real data are
    return np.round(np.random.default_rng(11).uniform(14, 52, 8000) * 7) / 7


@MODELS
def test_fit_recovers_simulated_parameters(model, ages):
    check_fit_recovers(model, model.example, ages)


@MODELS
def test_analytic_gradient_equals_finite_differences(model):
    check_gradient(model, model.example)
    moved = zip(model.example, (1.3, 0.8, 1.2, 0.7), strict=False)
    check_gradient(model, tuple(v * f for v, f in moved))


@MODELS
def test_likelihood_is_a_distribution_over_histories(model, grids):
    check_likelihood_is_a_distribution(grids[model.key])


@MODELS
def test_expectations_equal_integrals_over_histories(model, grids):
    check_expectations_integrate(model, grids[model.key])


@MODELS
def test_a_customer_of_age_zero_expects_what_a_new_customer_expects(model):
    t = np.array([1.0, 13.0, 52.0, 260.0])
    np.testing.assert_allclose(
        model.conditional_expected(model.example, t, 0.0, 0.0, 0.0),
        model.expected(model.example, t),
        rtol=1e-9,
    )


@MODELS
def test_conditional_expectation_is_alive_expectation_times_p_alive(model):
    x, tx, big_t, _ = _history_sample(50, seed=3)
    p = model.example
    np.testing.assert_allclose(
        model.conditional_expected(p, 39.0, x, tx, big_t),
        model.alive_expected(p, 39.0, x, big_t) * model.p_alive(p, x, tx, big_t),
        rtol=1e-12,
    )


@MODELS
def test_p_alive_is_a_probability_from_ordinary_to_extreme_histories(model):
    x = np.array([0, 0, 1, 1, 2, 10, 50, 400, 1000, 5, 5], dtype=float)
    tx = np.array([0, 0, 0.1, 52, 30, 51.9, 52, 52, 1.0, 1e-3, 1e4], dtype=float)
    big_t = np.array([0, 1e4, 52, 52, 52, 52, 52, 52, 1e4, 1e4, 1e4], dtype=float)
    for scale in (1e-3, 1.0, 1e3):
        params = tuple(v * scale for v in model.example)
        alive = model.p_alive(params, x, tx, big_t)
        assert np.all(np.isfinite(alive)) and np.all((alive >= 0) & (alive <= 1)), params
    # more time since the last purchase, less alive
    later = model.p_alive(model.example, 3.0, 10.0, np.array([20.0, 40.0, 80.0]))
    assert np.all(np.diff(later) < 0)


@pytest.mark.parametrize(
    "model", [m for m in registry.PURCHASE_MODELS if m.prob_purchases is not None],
    ids=lambda m: m.key,
)  # fmt: skip
def test_probabilities_of_n_purchases_are_a_distribution_with_the_expected_mean(model):
    n = np.arange(3000)
    for t in (39.0, 500.0):
        prob = model.prob_purchases(model.example, n, t)
        assert np.all(prob >= 0) and prob.sum() == pytest.approx(1.0, abs=1e-9)
        assert (n * prob).sum() == pytest.approx(float(model.expected(model.example, t)), rel=1e-8)
    assert model.prob_purchases(model.example, [0, 1], 0.0).tolist() == [1.0, 0.0]


@MODELS
def test_every_spelling_names_the_model(model):
    spellings = {model.key, model.key.upper(), model.name, model.name.lower(), *model.aliases}
    spellings |= {model.name.replace("/", "-"), model.name.replace("/", "_"), f" {model.name} "}
    for text in spellings:
        assert registry.purchase_model(text) is model, text
    assert registry.read_choice(model.name) == model.choice


def test_the_registry_speaks_for_the_modules():
    import importlib

    for model in registry.PURCHASE_MODELS:
        module = importlib.import_module(model.fit.module)
        assert (model.name, model.params) == (module.NAME, module.PARAMS)
        assert len(model.param_help) == len(model.params) == len(model.example)
        assert set(model.time_params) <= set(model.params)
        assert set(model.example_results) <= set(registry.FLAT_KINDS)
        assert ("PROB" in model.flat_kinds) == (model.prob_purchases is not None)


def test_names_users_write_and_one_message_otherwise():
    for text, key in [("PNBD", "pnbd"), ("Pareto/NBD", "pnbd"), ("pareto_nbd", "pnbd"),
                      ("BG/NBD", "bgnbd"), ("bgnbd", "bgnbd"), ("bg-nbd", "bgnbd"),
                      ("MBG/NBD", "mbgnbd"), (None, "pnbd"), ("  ", "pnbd")]:  # fmt: skip
        assert registry.purchase_model(text).key == key, text
    with pytest.raises(Exception, match=r'model must be one of PNBD \(Pareto/NBD\), BGNBD '
                       r'\(BG/NBD\), MBGNBD \(MBG/NBD\); got "BG/BB"'):  # fmt: skip
        registry.purchase_model("BG/BB")


def test_the_registry_imports_neither_scipy_nor_pandas():
    import subprocess
    import sys

    code = (
        "import sys, ltvxl.models.registry as r; r.choices(); "
        "print(sorted(m for m in ('scipy', 'pandas', 'pyarrow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
