"""Pareto/NBD with static covariates: CLVTools' published apparel fit, gradients, recovery."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ltvxl.errors import LtvxlError
from ltvxl.models import base, covariates, paretonbd, simulate
from ltvxl.transactions import TransactionLog, customer_summary

DATA = Path(__file__).parent / "data"

# CLVTools 0.12.1, vignette "advanced techniques": apparel, weekly, estimation to
# 2006-12-31 (104 weeks), Gender and Channel in both processes: estimates (standard errors)
CLVTOOLS = {
    "r": (1.8378, 0.3455), "alpha": (92.9123, 16.9670), "s": (0.5920, 0.2609),
    "beta": (49.6227, 36.2509),
    "purchase: Gender": (0.2859, 0.1041), "purchase: Channel": (0.6241, 0.1050),
    "dropout: Gender": (-0.6430, 0.2955), "dropout: Channel": (0.7907, 0.3059),
}  # fmt: skip
CLVTOOLS_LL = -5821.0627
CLVTOOLS_PLAIN = {"r": 1.4490, "alpha": 48.6361, "s": 0.5613, "beta": 46.8844}


@pytest.fixture(scope="module")
def apparel():
    tr = pd.read_csv(DATA / "apparelTrans.csv")
    cov = pd.read_csv(DATA / "apparelStaticCov.csv").set_index("Id")
    log = TransactionLog.from_arrays(tr.Id.to_numpy(), tr.Date.to_numpy(), tr.Price.to_numpy(float))
    s = customer_summary(log, "2006-12-31", "weeks").table
    c = cov.loc[s["customer"].astype(int), ["Gender", "Channel"]]
    return s, covariates.design(c)


@pytest.fixture(scope="module")
def apparel_fit(apparel):
    s, d = apparel
    return covariates.fit(s["frequency"], s["recency"], s["T"], d)


def test_clvtools_apparel_fit_is_reproduced(apparel_fit):
    fit = apparel_fit.fit
    assert fit.converged, fit.status
    for name, (value, se) in CLVTOOLS.items():
        got = fit.params[name]
        if name.startswith(("purchase", "dropout")):
            assert abs(got - value) <= 0.003, (name, got, value)
        else:
            assert got == pytest.approx(value, rel=0.01), name
        assert fit.std_errors[name] == pytest.approx(se, rel=0.02), name
    assert fit.log_likelihood == pytest.approx(CLVTOOLS_LL, abs=0.01)
    for name, value in CLVTOOLS_PLAIN.items():
        assert apparel_fit.plain.params[name] == pytest.approx(value, rel=0.002), name


def test_likelihood_ratio_test(apparel_fit):
    # 2 (LL_cov - LL_plain) with 4 coefficients; the plain LL is -5848.10 (-5821.06 with them)
    assert apparel_fit.lr_df == 4
    assert apparel_fit.lr_statistic == pytest.approx(
        2 * (apparel_fit.fit.log_likelihood - apparel_fit.plain.log_likelihood))
    assert 50 < apparel_fit.lr_statistic < 60
    assert apparel_fit.lr_p_value < 1e-9


def test_without_covariate_effect_the_likelihood_is_the_plain_one(apparel):
    s, d = apparel
    groups = covariates._groups(s["frequency"].to_numpy(float), s["recency"].to_numpy(float),
                                s["T"].to_numpy(float), d.matrix)
    theta = np.log([1.4, 50.0, 0.6, 45.0])
    k = d.matrix.shape[1]
    f_cov, _ = covariates._negll(np.concatenate([theta, np.zeros(2 * k)]), groups, k, True, True)
    comp_x = s[["frequency", "recency", "T"]].to_numpy(float).T
    f_plain, _ = paretonbd.negll(theta, paretonbd.Data(*comp_x, np.ones(len(s))))
    assert f_cov == pytest.approx(f_plain, rel=1e-12)


def test_gradient_equals_finite_differences(apparel):
    s, d = apparel
    x, tx, big_t = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    groups = covariates._groups(x, tx, big_t, d.matrix)
    k = d.matrix.shape[1]
    theta = np.array([np.log(1.8), np.log(90.0), np.log(0.6), np.log(50.0), 0.3, 0.6, -0.6, 0.8])
    _, g = covariates._negll(theta, groups, k, True, True)
    h = 1e-6
    for i in range(theta.size):
        e = np.zeros(theta.size)
        e[i] = h
        num = (covariates._negll(theta + e, groups, k, True, True)[0]
               - covariates._negll(theta - e, groups, k, True, True)[0]) / (2 * h)
        assert g[i] == pytest.approx(num, rel=1e-5, abs=1e-4), i


def test_recovers_coefficients_from_simulated_data():
    rng = np.random.default_rng(5)
    n = 4000
    channel = rng.choice(["Facebook", "Instagram", "Search"], n, p=[0.5, 0.3, 0.2])
    truth = {"Instagram": (0.5, -0.4), "Search": (-0.3, 0.6)}  # (purchase, dropout)
    r, alpha0, s, beta0 = 0.9, 12.0, 0.8, 30.0
    big_t = rng.uniform(30, 80, n)
    frames = []
    for level in ("Facebook", "Instagram", "Search"):
        rows = channel == level
        gt, gl = truth.get(level, (0.0, 0.0))
        frames.append(simulate.paretonbd(r, alpha0 * np.exp(-gt), s, beta0 * np.exp(-gl),
                                         big_t[rows], seed=rng).assign(channel=level))
    data = pd.concat(frames, ignore_index=True)
    d = covariates.design(data[["channel"]])
    assert d.references == {"channel": "Facebook"}
    assert d.names == ("channel=Instagram", "channel=Search")
    fit = covariates.fit(data["frequency"], data["recency"], data["T"], d).fit
    assert fit.converged, fit.status
    for level, (gt, gl) in truth.items():
        for proc, value in (("purchase", gt), ("dropout", gl)):
            name = f"{proc}: channel={level}"
            assert abs(fit.params[name] - value) < 3.5 * fit.std_errors[name], name


def test_purchase_only_and_messages(apparel):
    s, d = apparel
    cov = covariates.fit(s["frequency"], s["recency"], s["T"], d, processes=("purchase",))
    assert cov.lr_df == 2
    assert set(cov.coefficients) == {"purchase: Gender", "purchase: Channel"}
    with pytest.raises(LtvxlError, match="processes must name"):
        covariates.fit(s["frequency"], s["recency"], s["T"], d, processes=("spend",))
    n = covariates.MAX_GROUPS + 1
    many = covariates.design(pd.DataFrame({"age": np.arange(n, dtype=float)}))
    x, tx, big_t = (np.resize(s[c].to_numpy(float), n) for c in ("frequency", "recency", "T"))
    with pytest.raises(LtvxlError, match=r"2,001 distinct combinations.*bin numeric covariates"):
        covariates.fit(x, tx, big_t, many)
    with pytest.raises(LtvxlError, match=r'covariate "channel" row 2: the value is missing'):
        covariates.design(pd.DataFrame({"channel": ["a", None, "b"]}))


def test_p_alive_uses_each_customers_rates(apparel, apparel_fit):
    s, d = apparel
    p = covariates.p_alive(apparel_fit, s["frequency"], s["recency"], s["T"], d.matrix)
    assert np.all((p >= 0) & (p <= 1))
    params = covariates.group_params(apparel_fit, d.matrix[:1])[0]
    first = paretonbd.p_alive(params, s["frequency"][:1], s["recency"][:1], s["T"][:1])
    assert p[0] == pytest.approx(float(first[0]), rel=1e-12)


def test_predictions_per_customer(apparel, apparel_fit):
    from ltvxl.models import clv

    s, d = apparel
    opts = dict(horizon=12, horizon_unit="months", time_unit="weeks", annual_discount_rate=0.1)
    table = covariates.predict(apparel_fit, s, d.matrix, **opts)
    assert list(table["customer"]) == list(s["customer"])
    p = covariates.p_alive(apparel_fit, s["frequency"], s["recency"], s["T"], d.matrix)
    assert np.allclose(table["p_alive"], p, rtol=1e-12)
    # the customers of one covariate group get the plain model's predictions at its rates
    rows = np.flatnonzero((d.matrix == d.matrix[0]).all(axis=1))
    params = covariates.group_params(apparel_fit, d.matrix[:1])[0]
    spend = clv.fit_spend(s["frequency"], s["monetary_value"])
    alone = clv.predict(s.iloc[rows], model="pnbd", fits=clv.Fits(params, *spend), **opts).table
    assert np.allclose(table["expected_purchases"].to_numpy()[rows],
                       alone["expected_purchases"], rtol=1e-12)
    assert np.allclose(table["clv"].to_numpy()[rows], alone["clv"], rtol=1e-12)
    # channel 1 buys more (purchase coefficient 0.62): more expected purchases on average
    ch = d.matrix[:, d.names.index("Channel")] == 1
    assert table["expected_purchases"][ch].mean() > table["expected_purchases"][~ch].mean()


def test_cli_clv_with_covariates(tmp_path, capsys):
    from ltvxl.cli import main

    out = tmp_path / "clv.csv"
    args = ["clv", str(DATA / "apparelTrans.csv"), "--as-of", "2006-12-31", "-o", str(out)]
    assert main([*args, "--covariates", str(DATA / "apparelStaticCov.csv")]) == 0
    text = capsys.readouterr().out
    assert "purchase: Channel" in text and "LR 54.07 on 4 df" in text
    table = pd.read_csv(out)
    assert len(table) == 600 and table["clv"].notna().all()
    short = tmp_path / "short.csv"
    pd.read_csv(DATA / "apparelStaticCov.csv").iloc[:-1].to_csv(short, index=False)
    assert main([*args, "--covariates", str(short)]) == 1
    assert '1 customers have no covariate row (first: "600")' in capsys.readouterr().err
    # --shared: Gender's one coefficient in both processes, against the core
    assert main([*args, "--covariates", str(DATA / "apparelStaticCov.csv"), "--shared",
                 "Gender"]) == 0
    text = capsys.readouterr().out
    s = customer_summary(TransactionLog.from_arrays(
        *(pd.read_csv(DATA / "apparelTrans.csv")[c].to_numpy() for c in ("Id", "Date",
                                                                         "Price"))),
        "2006-12-31", "weeks").table
    c = pd.read_csv(DATA / "apparelStaticCov.csv").set_index("Id").loc[
        s["customer"].astype(int), ["Gender", "Channel"]]
    want = covariates.fit(s["frequency"], s["recency"], s["T"], covariates.design(c),
                          shared=("Gender",))
    printed = float(re.search(r"both: Gender\s+(-?[0-9.e-]+)", text).group(1))
    assert printed == pytest.approx(want.fit.params["both: Gender"], rel=1e-5)
    assert f"on {want.lr_df} df" in text and want.lr_df == 3
    assert main([*args, "--shared", "Gender"]) == 1
    assert "--shared uses the covariates of --covariates FILE" in capsys.readouterr().err
    # --spend-covariates: the spend fit and each customer's CLV at her own gamma_i
    spent = tmp_path / "spend.csv"
    assert main(["clv", str(DATA / "apparelTrans.csv"), "--as-of", "2006-12-31", "-o",
                 str(spent), "--covariates", str(DATA / "apparelStaticCov.csv"),
                 "--spend-covariates"]) == 0
    text = capsys.readouterr().out
    assert "Gamma-Gamma with covariates" in text and "spend: Channel" in text
    d = covariates.design(c)
    sf = covariates.fit_spend(s["frequency"], s["monetary_value"], d)
    free = covariates.fit(s["frequency"], s["recency"], s["T"], d)
    want = covariates.predict(free, s, d.matrix, spend=sf, horizon=12, horizon_unit="months",
                              time_unit="weeks", annual_discount_rate=0.1, gross_margin=1.0)
    got = pd.read_csv(spent)
    assert got["clv"].to_numpy() == pytest.approx(want["clv"].to_numpy(), rel=1e-9)
    plain_spend = pd.read_csv(out)  # the first run's: one Gamma-Gamma for all
    assert not np.allclose(got["expected_spend"], plain_spend["expected_spend"])


def test_bgnbd_recovers_coefficients_from_simulated_data():
    """BG/NBD: alpha_i = alpha_0 exp(-g_p x), a_i, b_i = a_0, b_0 exp(g_d x)."""
    rng = np.random.default_rng(8)
    n = 6000
    paid = rng.random(n) < 0.4
    gp, gd = 0.5, 0.7
    r, alpha0, a0, b0 = 0.7, 8.0, 0.6, 2.5
    big_t = rng.uniform(30, 80, n)
    frames = []
    for flag in (False, True):
        rows = paid == flag
        shift = float(flag)
        frames.append(simulate.bgnbd(r, alpha0 * np.exp(-gp * shift), a0 * np.exp(gd * shift),
                                     b0 * np.exp(gd * shift), big_t[rows], seed=rng)
                      .assign(paid=shift))
    data = pd.concat(frames, ignore_index=True)
    d = covariates.design(data[["paid"]])
    cov = covariates.fit(data["frequency"], data["recency"], data["T"], d, model="bgnbd")
    fit = cov.fit
    assert fit.converged, fit.status
    assert list(fit.params)[:4] == ["r", "alpha", "a", "b"]
    for name, value in (("purchase: paid", gp), ("dropout: paid", gd)):
        assert abs(fit.params[name] - value) < 3.5 * fit.std_errors[name], name
    p = covariates.p_alive(cov, data["frequency"], data["recency"], data["T"], d.matrix)
    assert np.all((p >= 0) & (p <= 1))


def test_bgnbd_gradient_equals_finite_differences(apparel):
    s, d = apparel
    x, tx, big_t = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    link = covariates.LINKS["bgnbd"]
    groups = covariates._groups(x, tx, big_t, d.matrix, link.module)
    theta = np.array([np.log(1.5), np.log(50.0), np.log(0.5), np.log(3.0), 0.3, 0.6, -0.4, 0.2])
    _, g = covariates._negll(theta, groups, 2, True, True, link)
    h = 1e-6
    for i in range(theta.size):
        e = np.zeros(theta.size)
        e[i] = h
        num = (covariates._negll(theta + e, groups, 2, True, True, link)[0]
               - covariates._negll(theta - e, groups, 2, True, True, link)[0]) / (2 * h)
        assert g[i] == pytest.approx(num, rel=1e-5, abs=1e-4), i


# ---------------------------------------------------------------- worksheet: a covariates range


def _worksheet_log():
    import datetime as dt

    tr = pd.read_csv(DATA / "apparelTrans.csv")
    ids = [["id"], *([float(v)] for v in tr.Id)]
    dates = [["date"], *([dt.datetime.fromisoformat(v)] for v in tr.Date)]
    amounts = [["amount"], *([float(v)] for v in tr.Price)]
    return ids, dates, amounts


def _covariate_range(channel_as_text=False):
    cov = pd.read_csv(DATA / "apparelStaticCov.csv")
    channel = [("Store" if c else "Online") if channel_as_text else float(c) for c in cov.Channel]
    return [["Id", "Gender", "Channel"],
            *([float(i), float(g), c] for i, g, c in zip(cov.Id, cov.Gender, channel,
                                                          strict=True)),
            [None, None, None]]  # a whole-column range ends in blanks


def test_clv_fit_with_a_covariates_range_reproduces_clvtools():
    import ltvxl.udfs as udfs

    out = udfs.CLV_FIT(*_worksheet_log(), "2006-12-31", "PNBD", _covariate_range())
    rows = {r[1]: r for r in out[1:] if r[0] == out[1][0]}  # the purchase model's rows
    for name, (value, se) in CLVTOOLS.items():
        got, got_se = rows[name][2], rows[name][3]
        if name.startswith(("purchase", "dropout")):
            assert abs(got - value) <= 0.003, (name, got, value)
        else:
            assert got == pytest.approx(value, rel=0.01), name
        assert got_se == pytest.approx(se, rel=0.02), name
    assert rows["log-likelihood"][2] == pytest.approx(CLVTOOLS_LL, abs=0.01)
    assert rows["LR test: degrees of freedom"][2] == 4.0
    assert 50 < rows["LR test against no covariates: statistic"][2] < 60
    assert rows["LR test: p-value"][2] < 1e-9


def test_a_category_is_one_hot_against_its_most_frequent_level():
    import ltvxl.udfs as udfs

    log = _worksheet_log()
    numeric = {r[1]: r[2] for r in udfs.CLV_FIT(*log, "2006-12-31", "PNBD",
                                                 _covariate_range())[1:]}
    text = {r[1]: r[2] for r in udfs.CLV_FIT(*log, "2006-12-31", "PNBD",
                                              _covariate_range(True))[1:]}
    cov = pd.read_csv(DATA / "apparelStaticCov.csv")
    ref, other = ("Online", "Store") if (cov.Channel == 0).mean() >= 0.5 else ("Store", "Online")
    sign = 1.0 if other == "Store" else -1.0  # Channel = 1 is "Store"
    assert text["reference level of Channel"] == ref
    for proc in ("purchase", "dropout"):
        assert text[f"{proc}: Channel={other}"] == pytest.approx(
            sign * numeric[f"{proc}: Channel"], abs=1e-4)


def test_clv_predict_uses_each_customers_covariates(apparel, apparel_fit):
    import ltvxl.udfs as udfs

    out = udfs.CLV_PREDICT(*_worksheet_log(), 12, 0.1, 1, "2006-12-31", "PNBD", "months",
                           _covariate_range())
    assert out[0][1].startswith("P(alive) (with covariates)")
    s, d = apparel
    core = covariates.predict(apparel_fit, s, d.matrix, horizon=12, horizon_unit="months",
                              time_unit="weeks", annual_discount_rate=0.1, gross_margin=1.0)
    got = {r[0]: r for r in out[1:]}
    for _, row in core.iloc[::25].iterrows():
        mine = got[float(row["customer"])] if float(row["customer"]) in got else \
            got[row["customer"]]
        assert mine[1] == pytest.approx(row["p_alive"], rel=1e-6)
        assert mine[4] == pytest.approx(row["clv"], rel=1e-6)


def test_covariates_range_problems_are_named():
    import ltvxl.udfs as udfs

    log = _worksheet_log()
    cov = _covariate_range()
    out = udfs.CLV_FIT(*log, "2006-12-31", "MBGNBD", cov)
    assert out == "#VALUE! covariates work with Pareto/NBD and BG/NBD, not MBG/NBD"
    short = cov[:-10]
    assert udfs.CLV_FIT(*log, "2006-12-31", "PNBD", short).startswith(
        "#VALUE! covariates: 9 customers have no covariate row")
    assert udfs.CLV_FIT(*log, "2006-12-31", "PNBD", [["Id", None], [1.0, 2.0]]).startswith(
        "#VALUE! covariates: column 2 of the header row must name the covariate")
    assert udfs.CLV_PREDICT(*log, 12, 0.1, 1, "2006-12-31", "AUTO", "months", cov).startswith(
        "#VALUE! model AUTO chooses among the models without covariates")


@pytest.fixture(scope="module")
def apparel_groups(apparel):
    s, _ = apparel
    cov = pd.read_csv(DATA / "apparelStaticCov.csv").set_index("Id")
    channel = np.where(cov.loc[s["customer"].astype(int), "Channel"].to_numpy() == 1,
                       "online", "store")
    table, fit = covariates.by_group(s, channel, time_unit="weeks", horizon=52,
                                     horizon_unit="weeks", annual_discount_rate=0.0,
                                     gross_margin=1.0)
    return s, channel, table, fit


def test_by_group_means_and_coefficients(apparel_groups):
    s, channel, table, fit = apparel_groups
    assert list(table["group"]) == sorted(set(channel), key=lambda g: -(channel == g).sum())
    assert table["customers"].sum() == len(s)
    ref, other = table["group"]
    assert fit.design.references == {"group": ref}
    # each group's value is the mean of the per-customer predictions at its own rates
    per = covariates.predict(fit, s, fit.design.matrix, time_unit="weeks", horizon=52,
                             horizon_unit="weeks", annual_discount_rate=0.0,
                             gross_margin=1.0)
    for g, value in zip(table["group"], table["clv_per_customer"], strict=True):
        assert value == pytest.approx(per["clv"][channel == g].mean(), rel=1e-12)
    row = table.set_index("group")
    assert row.loc[ref, "exp_purchase"] == row.loc[ref, "exp_dropout"] == 1.0
    assert row.loc[other, "exp_purchase"] == pytest.approx(
        np.exp(fit.fit.params[f"purchase: group={other}"]))
    assert (table["clv_low"] < table["clv_per_customer"]).all()
    assert (table["clv_per_customer"] < table["clv_high"]).all()


def test_by_group_interval_against_a_parametric_bootstrap(apparel_groups):
    """The delta method's 90 % interval of each group's mean CLV against the 5th and 95th
    percentiles of the mean CLV at 400 parameter vectors drawn from the fit's normal
    approximation (an independent computation of the same uncertainty)."""
    s, channel, table, fit = apparel_groups
    rng = np.random.default_rng(0)
    theta = np.log(np.array(list(fit.fit.params.values())[:4]))
    theta = np.concatenate([theta, list(fit.fit.params.values())[4:]])
    draws = rng.multivariate_normal(theta, fit.fit.covariance, 400)
    spend, overall = covariates._spend(s, fit, {"time_unit": "weeks", "horizon": 52,
                                                "horizon_unit": "weeks",
                                                "annual_discount_rate": 0.0,
                                                "gross_margin": 1.0})
    options = {"time_unit": "weeks", "horizon": 52, "horizon_unit": "weeks",
               "annual_discount_rate": 0.0, "gross_margin": 1.0}
    for g, low, high in zip(table["group"], table["clv_low"], table["clv_high"], strict=True):
        rows = np.flatnonzero(channel == g)
        vector = fit.design.matrix[rows[0]]
        jac = covariates._jacobian(fit, vector)
        means = []
        for th in draws:
            logs = jac @ th
            p = dict(zip(("r", "alpha", "s", "beta"), np.exp(logs), strict=True))
            means.append(covariates._at(fit, s.iloc[rows], p, spend[rows], overall,
                                        options)["clv"].mean())
        lo, hi = np.percentile(means, [5, 95])
        assert low == pytest.approx(lo, rel=0.08), g
        assert high == pytest.approx(hi, rel=0.08), g


def test_by_group_needs_two_groups(apparel):
    s, _ = apparel
    with pytest.raises(LtvxlError, match='needs at least two groups; all customers are in "x"'):
        covariates.by_group(s, ["x"] * len(s), time_unit="weeks")


def test_ltv_by_group_model_view(apparel_groups):
    """LTV_BY_GROUP(..., "MODEL") on the apparel log with each customer's channel as the
    group of her transactions: the core's figures, the reference first, CAC columns."""
    from ltvxl.udfs.transactions import LTV_BY_GROUP

    s, channel, table, _ = apparel_groups
    tr = pd.read_csv(DATA / "apparelTrans.csv")
    by_id = dict(zip(s["customer"].astype(int), channel, strict=True))
    group = [by_id[i] for i in tr.Id]

    def col(name, values):
        return [[name], *([v] for v in values)]

    args = (col("channel", group), col("id", tr.Id.tolist()), col("date", tr.Date.tolist()),
            col("amount", tr.Price.tolist()))
    out = LTV_BY_GROUP(*args, None, "2006-12-31", None, None, "MODEL", 12, 0, 1)
    head, *rows = out
    assert head[:3] == ["group", "customers",
                        "predicted CLV per customer (12 months, Pareto/NBD with the group)"]
    assert head[3:] == ["90% low", "90% high", "exp(purchase coef.)", "exp(dropout coef.)",
                        "caution"]
    assert [r[0] for r in rows] == list(table["group"])
    assert rows[0][-1] == "reference" and rows[1][-1] == ""
    # the core at a 12-month horizon (the table fixture is at 52 weeks: not equal)
    want, _ = covariates.by_group(s, channel, time_unit="weeks", horizon=12,
                                  horizon_unit="months", annual_discount_rate=0.0,
                                  gross_margin=1.0)
    for r, (_, w) in zip(rows, want.iterrows(), strict=True):
        assert r[1] == w["customers"]
        assert r[2:7] == pytest.approx([w["clv_per_customer"], w["clv_low"], w["clv_high"],
                                        w["exp_purchase"], w["exp_dropout"]], rel=1e-9)
    cac = [["channel", "CAC"], ["online", 50.0], ["store", 80.0]]
    head, *rows = LTV_BY_GROUP(*args, cac, "2006-12-31", None, None, "MODEL", 12, 0, 1)
    assert head[-3:] == ["CAC", "predicted CLV:CAC", "caution"]
    for r in rows:
        assert r[-3] == {"online": 50.0, "store": 80.0}[r[0]]
        assert r[-2] == pytest.approx(r[2] / r[-3])
    bad = LTV_BY_GROUP(*args, None, "2006-12-31", None, None, "MODEL", 12, 0, 1, "MBGNBD")
    assert "the model view works with Pareto/NBD and BG/NBD, not MBG/NBD" in str(bad)


@pytest.mark.parametrize("model", ["pnbd", "bgnbd"])
def test_a_shared_coefficient_is_recovered(model):
    """Gender moves both processes by one coefficient (0.4), Channel by two different
    ones: the constrained fit (shared=("Gender",)) recovers all three within 3.5 standard
    errors, has one coefficient fewer than the free fit and, the constraint being true,
    a likelihood-ratio statistic against it below chi-squared(1)'s 99.9th percentile."""
    rng = np.random.default_rng(8)
    n = 6000
    gender = rng.integers(0, 2, n).astype(float)
    channel = rng.integers(0, 2, n).astype(float)
    big_t = rng.uniform(30, 80, n)
    g_both, c_p, c_d = 0.4, 0.5, -0.6
    frames = []
    for gv in (0.0, 1.0):
        for cv in (0.0, 1.0):
            rows = (gender == gv) & (channel == cv)
            sp, sd = g_both * gv + c_p * cv, g_both * gv + c_d * cv
            if model == "pnbd":
                part = simulate.paretonbd(0.9, 12.0 * np.exp(-sp), 0.8, 30.0 * np.exp(-sd),
                                          big_t[rows], seed=rng)
            else:
                part = simulate.bgnbd(0.9, 12.0 * np.exp(-sp), 0.8 * np.exp(sd),
                                      2.5 * np.exp(sd), big_t[rows], seed=rng)
            frames.append(part.assign(Gender=gv, Channel=cv))
    data = pd.concat(frames, ignore_index=True)
    d = covariates.design(data[["Gender", "Channel"]])
    args = (data["frequency"], data["recency"], data["T"], d)
    con = covariates.fit(*args, model=model, shared=("Gender",))
    free = covariates.fit(*args, model=model)
    fit = con.fit
    assert fit.converged, fit.status
    assert [k for k in fit.params if ":" in k] == [
        "purchase: Channel", "dropout: Channel", "both: Gender"]
    assert con.lr_df == free.lr_df - 1 == 3
    for name, value in (("both: Gender", g_both), ("purchase: Channel", c_p),
                        ("dropout: Channel", c_d)):
        assert abs(fit.params[name] - value) < 3.5 * fit.std_errors[name], name
    assert con.coefficient("purchase", "Gender") == con.coefficient("dropout", "Gender") \
        == fit.params["both: Gender"]
    assert 0 <= 2 * (free.fit.log_likelihood - fit.log_likelihood) < 10.83
    # the shared customers' rates: both processes moved by the one coefficient
    p0, p1 = covariates.group_params(con, np.array([[0.0, 0.0], [1.0, 0.0]]))
    assert p1["alpha"] / p0["alpha"] == pytest.approx(np.exp(-fit.params["both: Gender"]))


def test_shared_gradient_and_messages(apparel):
    s, d = apparel
    names, free = covariates._free(("r", "alpha", "s", "beta"), d.names,
                                   ("purchase", "dropout"), ("Gender",))
    assert names[4:] == ["purchase: Channel", "dropout: Channel", "both: Gender"]
    x, tx, big_t = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    groups = covariates._groups(x, tx, big_t, d.matrix)
    theta = np.array([np.log(1.8), np.log(90.0), np.log(0.6), np.log(50.0), 0.6, 0.8, -0.2])
    _, g = covariates._negll(free @ theta, groups, 2, True, True)
    g = free.T @ g
    h = 1e-6
    for i in range(theta.size):
        e = np.zeros(theta.size)
        e[i] = h
        num = (covariates._negll(free @ (theta + e), groups, 2, True, True)[0]
               - covariates._negll(free @ (theta - e), groups, 2, True, True)[0]) / (2 * h)
        assert g[i] == pytest.approx(num, rel=1e-5, abs=1e-4), i
    args = (s["frequency"], s["recency"], s["T"], d)
    with pytest.raises(LtvxlError, match='shared covariate "Age" is not one of the covariates'):
        covariates.fit(*args, shared=("Age",))
    with pytest.raises(LtvxlError, match="a shared coefficient needs both processes"):
        covariates.fit(*args, processes=("purchase",), shared=("Gender",))


def test_gamma_gamma_with_covariates_recovers_the_spend_ratio():
    """Mean spends simulated from Gamma-Gamma (p 6, q 4) with gamma 15 for store customers
    and 15 e^0.5 online: the spend coefficient is recovered within 3.5 standard errors,
    the likelihood-ratio test finds it, and each customer's expected spend is the plain
    Gamma-Gamma formula at her own gamma."""
    from ltvxl.models import gammagamma

    rng = np.random.default_rng(4)
    n = 5000
    online = rng.random(n) < 0.4
    freq = rng.poisson(3.0, n).astype(float)
    spend = np.empty(n)
    for flag, gamma in ((False, 15.0), (True, 15.0 * np.exp(0.5))):
        rows = online == flag
        spend[rows] = simulate.gammagamma(6.0, 4.0, gamma, freq[rows], seed=rng)
    d = covariates.design(pd.DataFrame({"online": online.astype(float)}))
    sf = covariates.fit_spend(freq, spend, d)
    assert sf.fit.converged, sf.fit.status
    delta, se = sf.fit.params["spend: online"], sf.fit.std_errors["spend: online"]
    assert abs(delta - 0.5) < 3.5 * se and se < 0.1
    assert sf.lr_df == 1 and sf.lr_p_value < 1e-6
    assert sf.fit.log_likelihood > sf.plain.log_likelihood
    got = covariates.expected_spend(sf, freq, spend, d.matrix)
    p, q, g0 = (sf.fit.params[k] for k in ("p", "q", "gamma"))
    i = int(np.flatnonzero(online & (freq > 0))[0])
    assert got[i] == pytest.approx(float(gammagamma.expected_spend(
        (p, q, g0 * np.exp(delta)), freq[i:i + 1], spend[i:i + 1])[0]))
    # a customer without repeat purchases gets her group's population mean
    j = int(np.flatnonzero(~online & (freq == 0))[0])
    assert got[j] == pytest.approx(p * g0 / (q - 1))


def test_by_group_pools_the_small_groups(apparel_groups):
    """Eight customers moved from their channel into groups of one each: with
    min_customers 30 the eight are one level of the fit, their rates shared, each row's
    CLV the mean of its own customer's prediction at the pooled rates."""
    s, channel, _, _ = apparel_groups
    groups = channel.astype(object).copy()
    tiny = np.flatnonzero(channel == "online")[:8]
    for k, i in enumerate(tiny):
        groups[i] = f"x{k}"
    options = dict(time_unit="weeks", horizon=52, horizon_unit="weeks",
                   annual_discount_rate=0.0, gross_margin=1.0)
    table, fit = covariates.by_group(s, groups, min_customers=30, **options)
    assert fit.design.references == {"group": "store"}  # levels: store, online, the pool
    assert set(fit.design.names) == {"group=online", f"group={covariates.POOLED}"}
    rows = table.set_index("group")
    assert rows.loc[[f"x{k}" for k in range(8)], "pooled"].all()
    assert not rows.loc[["store", "online"], "pooled"].any()
    assert rows.loc["x0", "exp_purchase"] == rows.loc["x7", "exp_purchase"]
    per = covariates.predict(fit, s, fit.design.matrix, **options)
    assert rows.loc["x3", "clv_per_customer"] == pytest.approx(per["clv"][tiny[3]],
                                                               rel=1e-12)
    assert table["customers"].sum() == len(s)
    with pytest.raises(LtvxlError, match="needs two groups of at least 400 customers"):
        covariates.by_group(s, groups, min_customers=400, **options)


def test_worksheet_spend_covariates_and_shared(apparel):
    """CLV_FIT and CLV_PREDICT's spend COVARIATES and shared_covariates: the core's spend fit,
    shared coefficient and per-customer CLV at each customer's own gamma_i (the CLI's
    --spend-covariates and --shared on the worksheet)."""
    import ltvxl.udfs as udfs

    log, cov = _worksheet_log(), _covariate_range()
    s, d = apparel
    out = udfs.CLV_FIT(*log, "2006-12-31", "PNBD", cov, None, "COVARIATES", "Gender")
    rows = {(r[0], r[1]): r[2] for r in out[1:]}
    free = covariates.fit(s["frequency"], s["recency"], s["T"], d, shared=("Gender",))
    sf = covariates.fit_spend(s["frequency"], s["monetary_value"], d)
    purchase, spend = free.fit.model, sf.fit.model
    assert rows[(purchase, "both: Gender")] == pytest.approx(
        free.fit.params["both: Gender"], rel=1e-6)
    assert (purchase, "purchase: Gender") not in rows
    for name in ("p", "q", "gamma", "spend: Gender", "spend: Channel"):
        assert rows[(spend, name)] == pytest.approx(sf.fit.params[name], rel=1e-6), name
    assert rows[(spend, "LR test: degrees of freedom")] == 2.0
    assert rows[(spend, "LR test: p-value")] == pytest.approx(sf.lr_p_value, rel=1e-6)
    got = udfs.CLV_PREDICT(*log, 12, 0.1, 1, "2006-12-31", "PNBD", "months", cov, None,
                           "COVARIATES", "Gender")
    assert got[0][3] == "expected spend per purchase (with covariates)"
    want = covariates.predict(free, s, d.matrix, spend=sf, horizon=12, horizon_unit="months",
                              time_unit="weeks", annual_discount_rate=0.1, gross_margin=1.0)
    mine = {str(r[0]).removesuffix(".0"): r for r in got[1:]}
    for _, row in want.iloc[::25].iterrows():
        r = mine[str(row["customer"]).removesuffix(".0")]
        assert r[3] == pytest.approx(row["expected_spend"], rel=1e-6)
        assert r[4] == pytest.approx(row["clv"], rel=1e-6)
    # without covariates, or a name that is not a covariate: a message naming the argument
    bad = udfs.CLV_PREDICT(*log, 12, 0.1, 1, "2006-12-31", "PNBD", "months", None, None,
                           "COVARIATES")
    assert "spend COVARIATES uses the covariates argument" in str(bad)
    bad = udfs.CLV_FIT(*log, "2006-12-31", "PNBD", None, None, None, "Gender")
    assert "shared_covariates uses the covariates argument" in str(bad)
    bad = udfs.CLV_FIT(*log, "2006-12-31", "PNBD", cov, None, None, "Age")
    assert 'shared covariate "Age" is not one of the covariates' in str(bad)


def test_report_spend_covariates_and_shared(tmp_path, capsys):
    """ltvxl report --covariates F --spend-covariates --shared Gender: the Predictions
    sheet's formulas carry both, and its refreshed values are the worksheet function's."""
    import openpyxl

    import ltvxl.udfs as udfs
    from ltvxl.cli import main

    out = tmp_path / "r.xlsx"
    args = ["report", str(DATA / "apparelTrans.csv"), "-o", str(out), "--covariates",
            str(DATA / "apparelStaticCov.csv")]
    assert main([*args, "--spend-covariates", "--shared", "Gender"]) == 0
    book = openpyxl.load_workbook(out)
    formula = str(book["Predictions"]["A3"].value.text)
    assert formula.endswith(', covariates, , "COVARIATES", "Gender")'), formula
    assert str(book["Predictions"]["I3"].value.text).endswith(
        ', covariates, , "COVARIATES", "Gender")')
    ws = openpyxl.load_workbook(out, data_only=True)["Predictions"]
    assert ws["D3"].value == "expected spend per purchase (with covariates)"
    want = udfs.CLV_PREDICT(*_worksheet_log(), 12, 0.1, 1, None, "PNBD", None,
                            _covariate_range(), None, "COVARIATES", "Gender")
    assert ws["E4"].value == pytest.approx(want[1][4], rel=1e-6)
    fits = {ws.cell(r, 10).value for r in range(4, 60)}
    assert {"both: Gender", "spend: Channel"} <= fits
    assert main([*args[:4], "--spend-covariates"]) == 1
    assert "--spend-covariates uses the covariates of --covariates FILE" in \
        capsys.readouterr().err
    assert main([*args, "--shared", "Age"]) == 1
    assert 'shared covariate "Age" is not a covariate of apparelStaticCov.csv' in \
        capsys.readouterr().err


def test_hessian_by_groups_equals_differences_of_the_whole_gradient(apparel):
    """The Hessian from each group's 4 x 4 block (chain rule) against forward differences
    of the total gradient in all 8 coordinates (base.fit_mle's own Hessian)."""
    from ltvxl.models.base import _hessian

    s, d = apparel
    x, tx, big_t = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    groups = covariates._groups(x, tx, big_t, d.matrix)
    theta = np.array([np.log(1.8), np.log(90.0), np.log(0.6), np.log(50.0), 0.3, 0.6, -0.6, 0.8])
    link = covariates.LINKS["pnbd"]
    whole = _hessian(lambda th: covariates._negll(th, groups, 2, True, True, link), theta,
                     covariates._negll(theta, groups, 2, True, True, link)[1])
    blocks = covariates._hessian(theta, groups, 2, True, True, link)
    assert blocks == pytest.approx(whole, rel=1e-4, abs=1e-4 * np.abs(whole).max())


def _simulated_channels(seed: int, n: int, truth: dict, mu: float | None = None
                        ) -> pd.DataFrame:
    """Pareto/NBD customers in three channels with (purchase, dropout) coefficients
    ``truth`` against Facebook; with ``mu``, one dropout rate mu exp(dropout coef.) per
    channel (s = 1e8: no spread of the dropout rates within a channel)."""
    rng = np.random.default_rng(seed)
    channel = rng.choice(["Facebook", "Instagram", "Search"], n, p=[0.5, 0.3, 0.2])
    big_t = rng.uniform(30, 80, n)
    frames = []
    for level in ("Facebook", "Instagram", "Search"):
        rows = channel == level
        gt, gl = truth.get(level, (0.0, 0.0))
        s, beta = (0.8, 30.0 * np.exp(-gl)) if mu is None else (1e8, 1e8 / (mu * np.exp(gl)))
        frames.append(simulate.paretonbd(0.9, 12.0 * np.exp(-gt), s, beta, big_t[rows],
                                         seed=rng).assign(channel=level))
    return pd.concat(frames, ignore_index=True)


def test_a_fit_on_many_rows_starts_from_a_subsample_and_ends_at_the_same_optimum(monkeypatch):
    """With WARM_ROWS lowered to 100 the fit starts from the optimum on every k-th distinct
    row of each group (as the plain fits do above 5 WARM_ROWS rows) and must reach the
    optimum of the fit from the plain fit's values: the same parameters to a thousandth of
    their standard errors, the same log-likelihood."""
    from ltvxl.models import base

    data = _simulated_channels(5, 4000, {"Instagram": (0.5, -0.4), "Search": (-0.3, 0.6)})
    d = covariates.design(data[["channel"]])
    cold = covariates.fit(data["frequency"], data["recency"], data["T"], d).fit
    x, tx, big_t = (data[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    groups = covariates._groups(x, tx, big_t, d.matrix)
    assert sum(g.x.size for g in groups.data) > 5 * 100
    monkeypatch.setattr(base, "WARM_ROWS", 100)
    _, free = covariates._free(paretonbd.PARAMS, d.names, ("purchase", "dropout"), ())
    start = np.concatenate([np.log(cold.values()[:4]), np.zeros(4)])
    got, inv = covariates._warm_start(groups, start, free, 2, True, True,
                                      covariates.LINKS["pnbd"])
    assert inv is not None and not np.array_equal(got, start)
    warm = covariates.fit(data["frequency"], data["recency"], data["T"], d).fit
    assert cold.converged and warm.converged, (cold.status, warm.status)
    assert warm.log_likelihood == pytest.approx(cold.log_likelihood, rel=1e-9)
    for name, value in cold.params.items():
        tol = 1e-3 * cold.std_errors[name] * (value if name in paretonbd.PARAMS else 1.0)
        assert abs(warm.params[name] - value) <= tol, name


def test_at_the_limit_of_one_dropout_rate_the_fit_is_that_limit_with_covariates():
    """Customers with one dropout rate (s = 1e8) and channels that differ in purchases
    only: the plain fit is Pareto/NBD's limit of one dropout rate, and so is the covariate
    fit (each channel's own rate). It converges where the full model's s and beta run up
    their ridge, with a likelihood at least as high as the full model's best, and recovers
    the coefficients (0 in the dropout)."""
    truth = {"Instagram": (0.4, 0.0), "Search": (-0.3, 0.0)}
    data = _simulated_channels(7, 6000, truth, mu=0.03)
    d = covariates.design(data[["channel"]])
    x, tx, big_t = (data[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    groups = covariates._groups(x, tx, big_t, d.matrix)
    names, free = covariates._free(paretonbd.PARAMS, d.names, ("purchase", "dropout"), ())
    # the full model's own fit, as before the limit was used
    full = covariates._fit_coordinates(
        covariates.LINKS["pnbd"], names, free,
        np.array([np.log(0.9), np.log(12.0), np.log(1.0), np.log(33.0), 0, 0, 0, 0]),
        groups, 2, True, True, float(x.size), sum(g.x.size for g in groups.data), "weeks")
    assert full.params["s"] > 1e4, full.params  # on the ridge s, beta -> infinity
    cov = covariates.fit(x, tx, big_t, d, time_unit="weeks")
    assert cov.plain.limit == "one dropout rate (s, beta -> infinity)", cov.plain.status
    fit = cov.fit
    assert fit.limit == cov.plain.limit and fit.converged, fit.status
    assert fit.params["s"] == paretonbd.COMMON_S
    assert fit.log_likelihood >= full.log_likelihood - 1e-3
    for name in names[4:]:  # the full model's stopped fit reports exp of its coefficients
        assert fit.params[name] == pytest.approx(np.log(full.params[name]), abs=1e-3), name
    for level, (gt, gl) in truth.items():
        for proc, value in (("purchase", gt), ("dropout", gl)):
            name = f"{proc}: channel={level}"
            assert abs(fit.params[name] - value) < 3.5 * fit.std_errors[name], name


def test_by_group_interval_at_the_limit_of_one_dropout_rate():
    """The model view where the fits are at the limit of one dropout rate: intervals
    (the full model gave none: not converged) that agree with the percentiles of the mean
    CLV at 300 parameter vectors drawn from the limit fit's normal approximation."""
    data = _simulated_channels(7, 6000, {"Instagram": (0.4, 0.0), "Search": (-0.3, 0.0)},
                               mu=0.03)
    rng = np.random.default_rng(1)
    spend = np.where(data["frequency"] > 0, rng.gamma(4.0, 10.0, len(data)), 0.0)
    s = data.assign(customer=np.arange(len(data)), monetary_value=spend)
    options = {"time_unit": "weeks", "horizon": 52, "horizon_unit": "weeks",
               "annual_discount_rate": 0.0, "gross_margin": 1.0}
    table, fit = covariates.by_group(s, data["channel"].to_numpy(), **options)
    assert fit.fit.limit and fit.fit.converged, fit.fit.status
    theta = np.log(np.array(list(fit.fit.params.values())[:4]))
    theta = np.concatenate([theta, list(fit.fit.params.values())[4:]])
    draws = rng.multivariate_normal(theta, fit.fit.covariance, 300)
    # s has no variance at the limit: the draws leave it there but for the SVD's rounding
    assert np.abs(draws[:, 2] - theta[2]).max() < 1e-8
    draws[:, 2] = theta[2]
    per_purchase, overall = covariates._spend(s, fit, options)
    for g, low, high in zip(table["group"], table["clv_low"], table["clv_high"], strict=True):
        rows = np.flatnonzero(data["channel"].to_numpy() == g)
        jac = covariates._jacobian(fit, fit.design.matrix[rows[0]])
        means = [covariates._at(fit, s.iloc[rows], dict(zip(paretonbd.PARAMS, np.exp(jac @ th),
                                                            strict=True)),
                                per_purchase[rows], overall, options)["clv"].mean()
                 for th in draws]
        lo, hi = np.percentile(means, [5, 95])
        assert low == pytest.approx(lo, rel=0.03), g
        assert high == pytest.approx(hi, rel=0.03), g


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_by_group_at_the_no_dropout_limit_divides_by_nothing():
    """Customers who never leave: the plain fit is at the NBD limit (s = 0), and the model
    view starts its covariate fit just inside it, without log(0)."""
    rng = np.random.default_rng(11)
    ids, days = [], []
    for i, rate in enumerate(rng.gamma(2.0, 0.05, 300)):
        start = int(rng.integers(0, 120))
        gaps = np.cumsum(rng.exponential(7 / rate, 400)).astype(int) + start
        for d in sorted({start, *gaps[gaps < 730].tolist()}):
            ids.append(f"c{i}")
            days.append(np.datetime64("2023-01-01") + np.timedelta64(d, "D"))
    log = TransactionLog.from_arrays(np.array(ids), np.array(days), np.full(len(ids), 20.0))
    s = customer_summary(log, None, "weeks").table
    plain = paretonbd.fit(s["frequency"], s["recency"], s["T"])
    assert plain.limit.startswith("NBD")
    groups = np.where(s["customer"].str[1:].astype(int) % 2 == 0, "Web", "Shop")
    table, _ = covariates.by_group(s, groups, time_unit="weeks", horizon=52,
                                   horizon_unit="weeks", annual_discount_rate=0.0,
                                   gross_margin=1.0)
    assert np.isfinite(table["clv_per_customer"]).all()


def _no_dropout(seed: int = 3, n: int = 4000) -> pd.DataFrame:
    """Channels that differ in purchases only, and customers who never leave (a mean
    dropout rate of 1e-12 per week)."""
    rng = np.random.default_rng(seed)
    channel = rng.choice(["Facebook", "Instagram", "Search"], n, p=[0.5, 0.3, 0.2])
    big_t = rng.uniform(30, 80, n)
    frames = []
    for level, gt in (("Facebook", 0.0), ("Instagram", 0.5), ("Search", -0.4)):
        frames.append(simulate.paretonbd(0.9, 12.0 * np.exp(-gt), 1.0, 1e12,
                                         big_t[channel == level], seed=rng
                                         ).assign(channel=level))
    return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize("model", ["pnbd", "bgnbd"])
def test_at_the_no_dropout_limit_the_fit_is_the_nbd_with_purchase_covariates(model):
    """No dropout: the plain fit is the NBD limit, and so is the covariate fit (converged,
    where the full model's Hessian is singular), recovering the purchase coefficients
    within 3 standard errors; the dropout coefficients and beta (b) are not identified."""
    data = _no_dropout()
    d = covariates.design(data[["channel"]])
    cov = covariates.fit(data["frequency"], data["recency"], data["T"], d, model=model,
                         time_unit="weeks")
    fit = cov.fit
    assert cov.plain.limit == base.NBD_LIMIT, cov.plain.status
    assert fit.limit == base.NBD_LIMIT and fit.converged, fit.status
    assert "not identified" in fit.status
    zero, other = covariates.LINKS[model].module.PARAMS[2:]
    assert fit.params[zero] == 0.0 and np.isnan(fit.std_errors[other])
    for level, truth in (("Instagram", 0.5), ("Search", -0.4)):
        name = f"purchase: channel={level}"
        assert 0 < fit.std_errors[name] < 0.2, name
        assert abs(fit.params[name] - truth) < 3 * fit.std_errors[name], name
        assert np.isnan(fit.std_errors[f"dropout: channel={level}"])
        assert fit.params[f"dropout: channel={level}"] == 0.0


def test_the_no_dropout_limit_is_the_supremum_and_its_errors_the_inverse_hessian():
    """The full Pareto/NBD with covariates at the limit's r, alpha and purchase
    coefficients, s = 1e-2, 1e-3, 1e-4 (beta = 1) rises toward the limit's log-likelihood
    from below; the limit's standard errors agree with the inverse of a central-difference
    Hessian of its likelihood (step 1e-4 in its coordinates)."""
    data = _no_dropout()
    d = covariates.design(data[["channel"]])
    x, tx, big_t = (data[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    fit = covariates.fit(x, tx, big_t, d, time_unit="weeks").fit
    assert fit.limit == base.NBD_LIMIT, fit.status
    groups = covariates._groups(x, tx, big_t, d.matrix)
    p = fit.params
    coefs = [p["purchase: channel=Instagram"], p["purchase: channel=Search"]]
    lls = []
    for s in (1e-2, 1e-3, 1e-4):
        theta = np.array([np.log(p["r"]), np.log(p["alpha"]), np.log(s), 0.0, *coefs, 0, 0])
        lls.append(-covariates._negll(theta, groups, 2, True, True)[0])
    assert lls[0] < lls[1] < lls[2] < fit.log_likelihood
    assert fit.log_likelihood - lls[2] < 0.1 * (fit.log_likelihood - lls[0])
    lim = covariates._Groups(groups.vectors,
                             [covariates._NoDropoutData(*c) for c in groups.columns],
                             groups.inverse, groups.columns)
    at = np.array([np.log(p["r"]), np.log(p["alpha"]), *coefs])

    def grad(th: np.ndarray) -> np.ndarray:
        return covariates._negll(th, lim, 2, True, False, covariates.NO_DROPOUT)[1]

    step = 1e-4
    hess = np.column_stack([(grad(at + step * e) - grad(at - step * e)) / (2 * step)
                            for e in np.eye(4)])
    se = np.sqrt(np.diag(np.linalg.inv((hess + hess.T) / 2)))
    got = [fit.std_errors["r"] / p["r"], fit.std_errors["alpha"] / p["alpha"],
           fit.std_errors["purchase: channel=Instagram"],
           fit.std_errors["purchase: channel=Search"]]
    np.testing.assert_allclose(got, se, rtol=1e-3)


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_by_group_intervals_at_the_no_dropout_limit():
    """The model view at the limit without dropout: every group has an interval around
    its mean CLV (the full model gave none), and its purchase multiple is exp of the
    fitted coefficient."""
    data = _no_dropout(seed=4, n=3000)
    rng = np.random.default_rng(2)
    spend = np.where(data["frequency"] > 0, rng.gamma(4.0, 10.0, len(data)), 0.0)
    s = data.assign(customer=np.arange(len(data)), monetary_value=spend)
    table, fit = covariates.by_group(s, data["channel"].to_numpy(), time_unit="weeks",
                                     horizon=52, horizon_unit="weeks")
    assert fit.fit.limit == base.NBD_LIMIT, fit.fit.status
    assert (table["clv_low"] < table["clv_per_customer"]).all(), table
    assert (table["clv_per_customer"] < table["clv_high"]).all(), table
    row = table.set_index("group").loc["Instagram"]
    assert row["exp_purchase"] == pytest.approx(
        np.exp(fit.fit.params["purchase: group=Instagram"]))
    assert row["exp_dropout"] == 1.0
