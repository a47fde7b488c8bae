"""`ltvxl early`: the first-purchase value model on the command line."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ltvxl.cli import main

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory):
    raw = pd.read_csv(DATA / "CDNOW_sample.txt", sep=r"\s+", header=None,
                      names=["master", "customer_id", "date", "quantity", "amount"])
    raw["date"] = pd.to_datetime(raw["date"].astype(str), format="%Y%m%d").dt.strftime("%Y-%m-%d")
    path = tmp_path_factory.mktemp("early") / "cdnow.csv"
    raw[["customer_id", "date", "quantity", "amount"]].to_csv(path, index=False)
    return raw, path


def test_cdnow_prints_features_validation_and_writes_the_predictions(cdnow, tmp_path, capsys):
    raw, path = cdnow
    # customers to predict: ten customers' rows, and the same with their later rows
    # (which the prediction must not read: only the first window counts)
    some = raw[raw["customer_id"].isin(raw["customer_id"].unique()[:10])]
    first = some.groupby("customer_id")["date"].transform("min")
    early_rows = some[pd.to_datetime(some["date"]) < pd.to_datetime(first) + pd.Timedelta(30, "D")]
    for name, rows in (("new.csv", early_rows), ("all.csv", some)):
        rows[["customer_id", "date", "quantity", "amount"]].to_csv(tmp_path / name, index=False)
    out = tmp_path / "out.csv"
    code = main(["early", str(path), "--window", "30", "--horizon", "6", "--predict",
                 str(tmp_path / "new.csv"), "-o", str(out)])
    text = capsys.readouterr().out
    assert code == 0
    assert "columns: id=customer_id, date=date, amount=amount" in text
    assert ("features of the first 30 days: first_day_value, window_value, window_orders, "
            "window_purchase_days, window_lines, days_to_second, no_second, month_sin, "
            "month_cos, window_quantity") in text
    assert "2,357 of 2,357 customers have both inside the data (to 1998-06-30)" in text
    assert ("model: left out of the model: month_sin, month_cos (the trained-on customers "
            "were acquired over fewer than 365 days") in text
    assert "validation: split by acquisition date:" in text
    for row in ("model: ", "window value x ratio", "BTYD (Pareto/NBD + Gamma-Gamma)"):
        assert f"\n  {row}" in text
    assert "against window value x ratio: Gini " in text
    assert "against BTYD (Pareto/NBD + Gamma-Gamma): Gini " in text
    table = pd.read_csv(out, dtype={"customer": str})
    assert list(table.columns) == ["customer", "acquired", "observed_days", "p_repeat",
                                   "predicted_value"]
    assert len(table) == 10 and table["p_repeat"].between(0, 1).all()
    assert (table["predicted_value"] >= 0).all()
    assert f"Wrote {out}: the 10 customers of {tmp_path / 'new.csv'}" in text
    again = tmp_path / "again.csv"
    assert main(["early", str(path), "--predict", str(tmp_path / "all.csv"), "-o",
                 str(again)]) == 0
    cols = ["customer", "acquired", "p_repeat", "predicted_value"]
    pd.testing.assert_frame_equal(pd.read_csv(again, dtype={"customer": str})[cols],
                                  table[cols])


def test_default_predicts_the_customers_inside_their_window(tmp_path, capsys):
    out = tmp_path / "e.csv"
    assert main(["early", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "transactions: the built-in sample" in text
    table = pd.read_csv(out)
    assert len(table) > 0 and (table["observed_days"] <= 30).all()
    assert "customers still inside their 30-day window on 2024-12-31" in text


def test_ids_are_written_inert(tmp_path, capsys):
    rng = np.random.default_rng(5)
    n = 200
    ids = [f"=HYPERLINK({i})" for i in range(n)]
    start = np.datetime64("2024-01-01") + rng.integers(0, 120, n).astype("timedelta64[D]")
    rows = [(i, d, float(rng.uniform(5, 50))) for i, d in zip(ids, start, strict=True)]
    for i, d in zip(ids, start, strict=True):
        for _ in range(rng.poisson(1.5)):
            later = d + np.timedelta64(int(rng.integers(0, 300)), "D")
            rows.append((i, later, float(rng.uniform(5, 50))))
    frame = pd.DataFrame(rows, columns=["customer_id", "date", "amount"])
    frame = frame[frame["date"] <= np.datetime64("2024-12-31")]
    late = pd.DataFrame({"customer_id": ["=cmd|x", "=cmd|x"],
                         "date": [np.datetime64("2024-12-20"), np.datetime64("2024-12-31")],
                         "amount": [10.0, 5.0]})
    pd.concat([frame, late]).to_csv(tmp_path / "t.csv", index=False)
    out = tmp_path / "o.csv"
    assert main(["early", str(tmp_path / "t.csv"), "-o", str(out)]) == 0
    capsys.readouterr()
    assert "'=cmd|x" in out.read_text()


@pytest.mark.parametrize(("argv", "words"), [
    (["--window", "0"], "argument --window: must be a whole number of days from 1 to 3660"),
    (["--window", "2.5"], "argument --window: must be a whole number of days"),
    (["--horizon", "-1"], "argument --horizon: must be a number of months > 0"),
    (["--horizon", "soon"], 'argument --horizon: must be a number of months > 0 and <= 1200; '
                            'got "soon"'),
])
def test_bad_options_are_one_line(argv, words, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["early", *argv])
    assert exc.value.code == 2
    assert words in capsys.readouterr().err


def test_bad_files_are_one_line(tmp_path, capsys):
    assert main(["early", str(tmp_path / "none.csv")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ltvxl: error: transaction file not found") and "Traceback" not in err
    small = tmp_path / "small.csv"
    small.write_text("customer_id,date,amount\na,2024-01-01,5\nb,2024-01-02,6\n")
    assert main(["early", str(small), "-o", str(tmp_path / "o.csv")]) == 1
    err = capsys.readouterr().err
    assert "0 customers have their 30-day window and 6-month horizon inside the data" in err
    assert not (tmp_path / "o.csv").exists()
    assert main(["early", "--as-of", "1990-01-01", "-o", str(tmp_path / "o.csv")]) == 1
    assert "--as-of 1990-01-01 is before the first transaction" in capsys.readouterr().err
    assert main(["early", "--as-of", "1997-13-01", "-o", str(tmp_path / "o.csv")]) == 1
    assert '--as-of: "1997-13-01" is not a date' in capsys.readouterr().err
    assert main(["early", "--predict", str(tmp_path / "none.csv"), "-o",
                 str(tmp_path / "o.csv")]) == 1
    assert "transaction file not found" in capsys.readouterr().err


def test_covariates_file_adds_features(tmp_path, capsys):
    from test_early import _simulated

    log = _simulated(n=600, seed=2)
    frame = pd.DataFrame({"customer_id": log.ids, "date": log.dates.astype(str),
                          "amount": log.amounts})
    frame.to_csv(tmp_path / "t.csv", index=False)
    ids = log.customers
    cov = pd.DataFrame({"id": ids, "segment": ["gold" if int(i) % 3 == 0 else "std"
                                               for i in ids],
                        "age": [20 + int(i) % 50 for i in ids]})
    cov.to_csv(tmp_path / "cov.csv", index=False)
    out = tmp_path / "o.csv"
    assert main(["early", str(tmp_path / "t.csv"), "--covariates", str(tmp_path / "cov.csv"),
                 "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "month_cos, cov_age, cov_segment" in text
    cov.iloc[:-1].to_csv(tmp_path / "short.csv", index=False)
    assert main(["early", str(tmp_path / "t.csv"), "--covariates", str(tmp_path / "short.csv"),
                 "-o", str(out)]) == 1
    assert "customers have no covariate row" in capsys.readouterr().err


def test_new_from_leaves_out_existing_customers(cdnow, tmp_path, capsys):
    _, path = cdnow
    out = tmp_path / "out.csv"
    assert main(["early", str(path), "--new-from", "1997-02-01", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    raw = pd.read_csv(path, dtype={"customer_id": str})
    first = raw.groupby("customer_id")["date"].min()
    old = int((first < "1997-02-01").sum())
    assert f"customers first seen before --new-from 1997-02-01 (not new), left out: {old:,}" \
        in text
    assert f"{len(first) - old:,} of {len(first) - old:,} customers have both inside" in text
    assert main(["early", str(path), "--new-from", "1997-13-01", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "--new-from: \"1997-13-01\" is not a date" in err and "Traceback" not in err
