"""Numbers written as text: the fast path (each shape of text taken apart once, digits read
as integers) agrees with the plain text-by-text reference on varied samples, values,
dialects and messages alike; and the values are the numbers the texts were written from."""

from __future__ import annotations

import numpy as np
import pytest

from ltvxl.errors import LtvxlError
from ltvxl.transactions.number_text import parse_number_texts, parse_number_texts_each

NBSP, NNBSP = "\u00a0", "\u202f"


def written(x: float, decimals: int, decimal: str, group: str | None) -> str:
    """x as an export writes it: ``decimals`` places, ``decimal`` mark, ``group`` thousands."""
    text = f"{abs(x):,.{decimals}f}"
    whole, _, frac = text.partition(".")
    whole = whole.replace(",", group if group is not None else "")
    return whole + (decimal + frac if decimals else "")


STYLES = [  # (decimal, thousands) pairs that exports use
    (".", ","), (",", "."), (",", " "), (",", NBSP), (",", NNBSP), (".", "'"), (".", None),
    (",", None), (".", "\u2009"),
]
DRESS = [  # sign and currency around the digits
    "{}", "-{}", "{} €", "-{} €", "€{}", "£{}", "$ {}", "({})", "{}-", "CHF {}", "{} EUR",
    "−{}", "+{}", "  {}  ", "({} €)", "US${}", "{} kr", "R$ {}",
]
ODD = ["abc", "1,23,4", "12..3", "1.2.3,4", "", " ", "€", "()", "(12", "--5", "1e5", "2.5E-3",
       "٣٤٥", "１２", "12345678901234567890", "0,123", "0.123", "1,234", "1.234", "12,5",
       "1 2 3", "1'234'567.5", "9" * 16 + ".5", "0", "-0", "(0,00)", "1,000,000", "1.000.000",
       "12,345.6e2", "#N/A", "1,2345", "0012,50"]


def sample(rng: np.random.Generator, n: int, mixed: bool) -> list[str]:
    """n distinct-ish texts of one column: one style (or several when ``mixed``)."""
    styles = [STYLES[i] for i in rng.choice(len(STYLES), 3 if mixed else 1, replace=False)]
    out = []
    for _ in range(n):
        decimal, group = styles[rng.integers(len(styles))]
        decimals = int(rng.choice([0, 1, 2, 2, 2, 3, 4]))
        x = float(rng.choice([rng.gamma(1.0, 50.0), rng.gamma(1.0, 5000.0),
                              rng.gamma(1.0, 5e6), 10 ** rng.uniform(-3, 13)]))
        dress = DRESS[rng.integers(len(DRESS))] if rng.random() < 0.5 else "{}"
        out.append(dress.format(written(x, decimals, decimal, group)))
        if rng.random() < 0.03:
            out.append(str(rng.choice(ODD)))
    return out


def outcome(fn, texts, **kw):
    """(values as bits, dialect) or the message: what a caller can see."""
    try:
        values, dialect = fn(texts, 'column "amount"', lambda i: i + 2, **kw)
    except LtvxlError as exc:
        return str(exc)
    return values.view(np.int64).tolist(), dialect


@pytest.mark.parametrize("mixed", [False, True])
def test_fast_path_agrees_with_the_text_by_text_reference(mixed):
    rng = np.random.default_rng(20261202 + mixed)
    errors = agreed = 0
    for _ in range(120):
        texts = sample(rng, int(rng.integers(64, 400)), mixed)
        options = [{}, {"decimal": ","}, {"decimal": "."}, {"thousands": "."},
                   {"thousands": " "}][rng.integers(5)]
        fast = outcome(parse_number_texts, texts, **options)
        each = outcome(parse_number_texts_each, texts, **options)
        assert fast == each, (texts[:20], options)
        errors += isinstance(fast, str)
        agreed += not isinstance(fast, str)
    assert agreed >= 20 and (errors >= 10 or not mixed)  # both outcomes were exercised


def test_odd_texts_agree_one_by_one_and_in_a_long_column():
    rng = np.random.default_rng(7)
    for odd in ODD:
        for decimal in (None, ".", ","):
            texts = [odd, *sample(rng, 80, False)] if decimal else [odd] * 70
            kw = {"decimal": decimal} if decimal else {}
            assert outcome(parse_number_texts, texts, **kw) == \
                outcome(parse_number_texts_each, texts, **kw), (odd, decimal)


def test_values_are_the_numbers_written():
    """Texts written from known cents are read back as exactly float(the plain text)."""
    rng = np.random.default_rng(3)
    cents = rng.integers(-10**9, 10**9, 5000)
    truth = cents / 100.0
    for decimal, group in STYLES:
        texts = [("-" if c < 0 else "") + written(abs(c) / 100, 2, decimal, group) + " €"
                 for c in cents]
        values, dialect = parse_number_texts(texts, "amount")
        expected = np.array([float(f"{c / 100:.2f}") for c in cents])
        assert np.array_equal(values, expected) and np.array_equal(values, truth)
        assert dialect.decimal == decimal and dialect.currencies == ("€",)


def test_long_numbers_and_exponents_go_through_float():
    texts = ["12345678901234567.25", "1.5e3", "2,5E-2", "\u0663\u0664\u0665.\u0665"] * 20
    values, _ = parse_number_texts(texts, "amount", decimal=".")
    assert values[:2].tolist() == [12345678901234567.25, 1500.0]
    assert np.isnan(values[2]) and values[3] == 345.5  # Arabic-Indic digits, as float() reads
    assert outcome(parse_number_texts, texts, decimal=".") == \
        outcome(parse_number_texts_each, texts, decimal=".")
