"""The readers' quick paths give what the plain ones give: a Windows-1252 file split into
fields as bytes (each distinct text decoded once) reads as the same file in UTF-8 and as
pandas reads it; text columns gathered whole know their distinct values exactly as
pd.factorize finds them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from ltvxl.errors import LtvxlError
from ltvxl.transactions import ReadOptions, read_transactions
from ltvxl.transactions.arrow import TextColumn
from ltvxl.transactions.columns import blank_mask, factorize, known_distinct
from ltvxl.transactions.dialect import single_byte

NAMES = ["Zoé", "Jérôme", "Ærøskøbing", "Œuvre…", "“quoted”", "Müller", "plain", "Ševčík"]


def write_rows(n: int, seed: int = 5) -> list[str]:
    rng = np.random.default_rng(seed)
    lines = ["Client;Date;Montant;Canal"]
    for _ in range(n):
        name = NAMES[rng.integers(len(NAMES))] + f" {rng.integers(300)}"
        day = f"{rng.integers(1, 29):02d}/{rng.integers(1, 13):02d}/2024"
        cents = int(rng.integers(-5000, 900000))
        amount = f"{abs(cents) // 100:,}".replace(",", "\u00a0") + f",{abs(cents) % 100:02d} €"
        amount = ("-" if cents < 0 else "") + amount
        channel = ["Boutique", "Télé", '"Web; été"', ""][rng.integers(4)]
        lines.append(f"{name};{day};{amount};{channel}")
    return lines


@pytest.mark.parametrize("n", [40, 30_000])  # one block, and many blocks of 64 KiB
def test_windows_1252_as_bytes_reads_as_the_utf8_file_and_as_pandas(tmp_path, n):
    lines = write_rows(n)
    text = "\r\n".join(lines) + "\r\n"
    text = text.replace("Ševčík", "Sevcik")  # not in Windows-1252
    cp, utf = tmp_path / "cp.csv", tmp_path / "utf.csv"
    cp.write_bytes(text.encode("cp1252"))
    utf.write_bytes(text.encode("utf-8"))
    a, b = read_transactions(cp), read_transactions(utf)
    assert a.customers.tolist() == b.customers.tolist()
    assert np.array_equal(a.codes, b.codes) and np.array_equal(a.dates, b.dates)
    assert np.array_equal(a.amounts, b.amounts)
    assert a.extra["Canal"].tolist() == b.extra["Canal"].tolist()
    assert a.columns_line.replace("Windows-1252, ", "") == b.columns_line
    df = pd.read_csv(cp, sep=";", encoding="cp1252", dtype=str, keep_default_na=False)
    assert sorted(a.customers.tolist()) == sorted(set(df["Client"]))
    cents = df["Montant"].str.replace("\u00a0", "").str.replace(" €", "").str.replace(",", "")
    assert round(a.amounts.sum() * 100) == cents.astype(int).sum()
    assert [v if v is not None else "" for v in a.extra["Canal"]] == df["Canal"].tolist()


def test_a_byte_the_code_page_lacks_is_named(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"Client;Date;Montant\r\nA\x81;01/02/2024;1,5\r\n")
    with pytest.raises(LtvxlError, match=r"bad\.csv: cannot read as cp1252 text .*--encoding"):
        read_transactions(path, options=ReadOptions(encoding="cp1252"))


def test_single_byte_code_pages():
    assert all(map(single_byte, ["cp1252", "cp1250", "latin_1", "iso-8859-15", "cp1251"]))
    assert not any(map(single_byte, ["utf-8", "utf-8-sig", "utf-16", "shift_jis", "gb18030",
                                     "cp500", "no-such-codec"]))


def test_text_columns_know_their_distinct_values_as_factorize_finds_them():
    rng = np.random.default_rng(11)
    words = np.array(["a", "b", "", " ", "é", "zz", "b "], dtype=object)
    col = TextColumn()
    chunks = []
    for size in (0, 7, 1000, 3, 2500):
        values = words[rng.integers(len(words), size=size)].tolist()
        values = [None if rng.random() < 0.1 else v for v in values]
        chunks.extend(values)
        col.add(pa.array(values, type=pa.string()))
    out = col.result()
    assert out.tolist() == chunks
    codes, uniques = pd.factorize(np.array(chunks, dtype=object), use_na_sentinel=True)
    known = known_distinct(out)
    assert known is not None
    assert np.array_equal(known[0], codes) and known[1].tolist() == list(uniques)
    assert np.array_equal(factorize(out)[0], codes)
    with pytest.raises(ValueError):  # read-only: the recorded values cannot go stale
        out[0] = "changed"
    copy = out.copy()  # not recorded: computed, the same
    assert known_distinct(copy) is None and np.array_equal(factorize(copy)[0], codes)
    assert np.array_equal(blank_mask([out]), blank_mask([copy]))
    assert blank_mask([out]).sum() == sum(v is None or not v.strip() for v in chunks)


ID_TEXTS = ["C-1", "12", "007", " 7 ", "1e3", "inf", "-inf", "Infinity", "nan", "abc", "B12",
            "1,5", "\uff11\uff12", "+5", "-0", ".5", "5.", "Inf", "e5", "0x10", "1_000", "True",
            "Émile", "#N/A", "#REF!", "#hashtag", "  ", "", "#VALUE! no", "x\u00a0", "\u0663"]


def test_text_ids_quick_paths_agree_with_one_by_one():
    """Ids as texts: keys stripped in one pass and numbers looked for only where a text
    could be one give what format_id and pd.to_numeric give text by text."""
    from ltvxl.transactions.ids import _id_keys, format_id, natural_order

    rng = np.random.default_rng(2)
    for _ in range(200):
        uniq = np.array(list(dict.fromkeys(rng.choice(ID_TEXTS, 10).tolist())), dtype=object)
        assert _id_keys(uniq) == [format_id(u) for u in uniq]
        keys = np.array([k for k in _id_keys(uniq) if k is not None], dtype=object)
        as_num = pd.to_numeric(pd.Series(keys, dtype=object), errors="coerce").to_numpy(float)
        by_text = np.argsort(keys.astype(str), kind="stable")
        expected = by_text[np.argsort(as_num[by_text], kind="stable")]
        assert natural_order(keys).tolist() == expected.tolist()
    mixed = np.array(["A", 12.0, 7], dtype=object)
    assert _id_keys(mixed) == ["A", "12", "7"]
