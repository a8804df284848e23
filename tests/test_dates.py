"""Tests for hub.load.dates.parse_dates: formats, impossible, ambiguous, blank and garbage values."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.load.dates import FORMATS, parse_dates

SPEC = ["YYYYMMDD", "DD/MM/YYYY"]
BOTH_SLASH = ["DD/MM/YYYY", "MM/DD/YYYY"]
NO_DAY = "impossible date (no such day)"


def parse(values: list, formats: list[str]) -> list[tuple[str | None, str | None]]:
    iso, error = parse_dates(pd.Series(values, dtype=object), formats)
    assert iso.dtype == object and error.dtype == object
    return list(zip(iso, error))


@pytest.mark.parametrize(("fmt", "value"), [
    ("YYYYMMDD", "20100102"),
    ("DD/MM/YYYY", "02/01/2010"),
    ("DD/MM/YYYY", "2/1/2010"),
    ("MM/DD/YYYY", "01/02/2010"),
    ("MM/DD/YYYY", "1/2/2010"),
    ("YYYY-MM-DD", "2010-01-02"),
    ("MMDDYYYY", "01022010"),
    ("DD-MM-YYYY", "02-01-2010"),
    ("MM-DD-YYYY", "01-02-2010"),
    ("ISO_DATETIME", "2010-01-02T17:16:48.415Z"),
    ("ISO_DATETIME", "2010-01-02 00:00:00.000"),
    ("ISO_DATETIME", "2010-01-02T00:00:00Z"),
    ("ISO_DATETIME", "2010-01-02T23:59:59+05:30"),
])
def test_each_format(fmt: str, value: str) -> None:
    assert parse([value], [fmt]) == [("2010-01-02", None)]
    assert parse([f" {value} "], [fmt]) == [("2010-01-02", None)]


@pytest.mark.parametrize(("value", "formats"), [
    ("31/02/2010", SPEC), ("20100230", SPEC), ("20101301", SPEC), ("00/01/2010", SPEC), ("29/02/1900", SPEC),
    ("02292011", ["MMDDYYYY"]), ("2010-04-31T00:00:00Z", ["ISO_DATETIME"]),
])
def test_impossible_dates(value: str, formats: list[str]) -> None:
    assert parse([value], formats) == [(None, NO_DAY)]


def test_leap_days_and_year_range() -> None:
    assert parse(["29/02/2000", "29/02/2012", "20000229"], SPEC) == [("2000-02-29", None), ("2012-02-29", None),
                                                                     ("2000-02-29", None)]
    assert parse(["19000101", "21001231"], SPEC) == [("1900-01-01", None), ("2100-12-31", None)]
    for value in ("18991231", "21010101", "01/01/0001"):
        assert parse([value], SPEC) == [(None, "impossible date (year outside 1900..2100)")]


def test_ambiguous_only_when_two_allowed_formats_disagree() -> None:
    assert parse(["01/02/2010"], BOTH_SLASH) == [(None, "ambiguous date: fits DD/MM/YYYY and MM/DD/YYYY")]
    assert parse(["1/2/2010"], ["YYYYMMDD", *BOTH_SLASH])[0][1].startswith("ambiguous date")
    assert parse(["01/02/2010"], ["DD/MM/YYYY"]) == [("2010-02-01", None)]
    assert parse(["01/02/2010"], ["MM/DD/YYYY"]) == [("2010-01-02", None)]
    assert parse(["13/01/2010", "01/13/2010"], BOTH_SLASH) == [("2010-01-13", None), ("2010-01-13", None)]
    assert parse(["05/05/2010"], BOTH_SLASH) == [("2010-05-05", None)]  # same date either way
    assert parse(["31/02/2010"], BOTH_SLASH) == [(None, NO_DAY)]


def test_blank_and_garbage() -> None:
    got = parse(["", "   ", None, np.nan, "garbage", "2010", "2010-1-2", "1/2/10", "20100102x", "12345678901"], SPEC)
    assert got[:4] == [(None, None)] * 4
    assert got[4:] == [(None, "not a date in YYYYMMDD or DD/MM/YYYY")] * 6
    not_iso = ["2010-01-02", "2010-01-02Tjunk", "2010-01-02T24:00:00Z", "2010-01-02T10:00:00Zx", "2010-01-02 10"]
    assert parse(not_iso, ["ISO_DATETIME"]) == [(None, "not a date in ISO_DATETIME")] * len(not_iso)
    assert parse(["x"], ["YYYYMMDD", "YYYY-MM-DD", "DD/MM/YYYY"]) == [
        (None, "not a date in YYYYMMDD, YYYY-MM-DD or DD/MM/YYYY")]


def test_keeps_index_and_handles_empty_and_mixed() -> None:
    values = pd.Series(["20100102", "02/01/2010", "bad"], index=[10, 20, 30])
    iso, error = parse_dates(values, SPEC)
    assert iso.index.tolist() == error.index.tolist() == [10, 20, 30]
    assert iso.tolist() == ["2010-01-02", "2010-01-02", None]
    assert error.isna().tolist() == [True, True, False]
    empty_iso, empty_error = parse_dates(pd.Series([], dtype=object), SPEC)
    assert len(empty_iso) == len(empty_error) == 0


def test_spec_format_names_present() -> None:
    required = {"YYYYMMDD", "DD/MM/YYYY", "MM/DD/YYYY", "YYYY-MM-DD", "MMDDYYYY", "DD-MM-YYYY", "ISO_DATETIME"}
    assert required <= FORMATS.keys()


def test_unknown_format_rejected() -> None:
    with pytest.raises(ValueError, match="unknown date formats"):
        parse_dates(pd.Series(["20100102"]), ["YYYY.MM.DD"])


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=pd.Timestamp("1900-01-01").date(), max_value=pd.Timestamp("2100-12-31").date()))
def test_round_trip_any_real_date(day) -> None:
    values = [day.strftime("%Y%m%d"), day.strftime("%d/%m/%Y"), f"{day.day}/{day.month}/{day.year}"]
    assert parse(values, SPEC) == [(day.isoformat(), None)] * 3
