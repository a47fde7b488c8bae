"""The transaction worksheet functions through xlwings' own argument conversion (classic UDFs):
ranges as tuples of row tuples, dates as pywin32 times, blanks, omitted optional arguments."""

import datetime as dt

from conftest import MISSING

import ltvxl.udfs.transactions as family


def rng(*values):
    return tuple((v,) for v in values)


IDS = rng("Customer", 1001.0, 1001.0, 1002.0, "")
DATES = rng("Date", dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 15), dt.datetime(2024, 2, 1),
            None)
AMOUNTS = rng("Amount", 10.0, 20.0, 5.0, None)


def test_customers_through_xlwings(xl_call):
    out = xl_call(family.LTV_CUSTOMERS, IDS, DATES, AMOUNTS, MISSING, "days")
    assert out[0][0] == "customer" and out[0][7] == "recency (days)"
    assert out[1][0] == "1001" and out[1][3:9] == [2.0, 30.0, 15.0, 1.0, 14.0, 31.0]
    assert out[2][0] == "1002" and out[2][8] == 0.0
    assert out[1][1] == dt.datetime(2024, 1, 1)


def test_optional_arguments_omitted_and_blank(xl_call):
    a = xl_call(family.LTV_CUSTOMERS, IDS, DATES, AMOUNTS, MISSING, MISSING)
    b = xl_call(family.LTV_CUSTOMERS, IDS, DATES, AMOUNTS, None, "")
    assert a == b and a[0][7] == "recency (weeks)"
    stats = xl_call(family.LTV_STATS, IDS, DATES, AMOUNTS, dt.datetime(2024, 2, 1), MISSING)
    assert stats[0] == ["measure", "value"] and dict(map(tuple, stats[1:]))["customers"] == 2.0


def test_every_table_function_spills_a_header_row(xl_call):
    channel = rng("Channel", "Email", "Email", "Ads", "")
    assert xl_call(family.COHORT_TABLE, IDS, DATES, AMOUNTS, MISSING, MISSING, MISSING)[0][:3] \
        == ["cohort", "customers", "month 0"]
    assert xl_call(family.RFM_SEGMENTS, IDS, DATES, AMOUNTS, MISSING)[0][-1] == "segment"
    assert len(xl_call(family.RFM_SUMMARY, IDS, DATES, AMOUNTS, MISSING)) == 12
    out = xl_call(family.LTV_BY_GROUP, channel, IDS, DATES, AMOUNTS,
                  (("Email", 10.0), ("Ads", 5.0)), MISSING)
    assert out[0][-2:] == ["LTV:CAC", "caution"] and out[-1][0] == "Total"
    assert xl_call(family.LTV_TIER, rng(1.0, 2.0, 3.0, 4.0, 5.0), MISSING, MISSING, MISSING,
                   MISSING) == [["Low"], ["Low"], ["Medium"], ["Medium"], ["High"]]


def test_error_cells_in_the_log(xl_call, com_error_codes):
    bad = rng("Amount", 10.0, com_error_codes["#N/A"], 5.0, None)
    out = xl_call(family.LTV_CUSTOMERS, IDS, DATES, bad, MISSING, MISSING)
    assert out == "#VALUE! amounts row 3: the cell holds the error #N/A"
