"""Strict, vectorized date parsing: never guesses, reports ambiguity, reasons never contain the value."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_D2 = r"(?P<d>\d{2})"
_M2 = r"(?P<m>\d{2})"
_Y4 = r"(?P<y>\d{4})"
_TIME = r"[T ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?"

# spec name -> anchored RE2 regex with named groups y, m, d
FORMATS: dict[str, str] = {
    "YYYYMMDD": f"^{_Y4}{_M2}{_D2}$",
    "MMDDYYYY": f"^{_M2}{_D2}{_Y4}$",
    "YYYY-MM-DD": f"^{_Y4}-{_M2}-{_D2}$",
    "DD-MM-YYYY": f"^{_D2}-{_M2}-{_Y4}$",
    "MM-DD-YYYY": f"^{_M2}-{_D2}-{_Y4}$",
    "DD/MM/YYYY": rf"^(?P<d>\d{{1,2}})/(?P<m>\d{{1,2}})/{_Y4}$",
    "MM/DD/YYYY": rf"^(?P<m>\d{{1,2}})/(?P<d>\d{{1,2}})/{_Y4}$",
    "ISO_DATETIME": f"^{_Y4}-{_M2}-{_D2}{_TIME}$",
}
MIN_YEAR, MAX_YEAR = 1900, 2100
_NO_DAY = "impossible date (no such day)"
_BAD_YEAR = f"impossible date (year outside {MIN_YEAR}..{MAX_YEAR})"
_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
_EPOCH = np.datetime64(f"{MIN_YEAR}-01-01")
_ISO = np.datetime_as_string(np.arange(_EPOCH, np.datetime64(f"{MAX_YEAR + 1}-01-01")), unit="D").astype(object)


def _group(groups: pa.StructArray, name: str) -> np.ndarray:
    return pc.cast(pc.struct_field(groups, name), pa.int32()).fill_null(0).to_numpy()


def _parse_one(text: pa.Array, fmt: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(matched, year in range, key) for one format; key = y*10000+m*100+d, 0 where not a valid date."""
    groups = pc.extract_regex(text, FORMATS[fmt])
    matched = groups.is_valid().to_numpy(zero_copy_only=False)
    y, m, d = (_group(groups, g) for g in "ymd")
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    month_ok = (m >= 1) & (m <= 12)
    days = _DAYS[np.where(month_ok, m, 0)] + (month_ok & (m == 2) & leap)
    year_ok = matched & (y >= MIN_YEAR) & (y <= MAX_YEAR)
    valid = year_ok & month_ok & (d >= 1) & (d <= days)
    return matched, year_ok, np.where(valid, y * 10000 + m * 100 + d, 0)


def parse_dates(values: pd.Series, formats: Sequence[str]) -> tuple[pd.Series, pd.Series]:
    """Return (iso 'YYYY-MM-DD' or None, error reason or None) for each value; blank -> (None, None).

    A value that two formats read as different dates is ambiguous; reasons never include the value. Each distinct
    value is parsed once (a file's dates repeat: a million birthdates hold a few thousand days).
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"unknown date formats {unknown}; known: {sorted(FORMATS)}")
    text = pa.array(values.astype("string[pyarrow]"))
    text = pc.utf8_trim_whitespace(text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text)
    encoded = pc.dictionary_encode(text)
    iso, reasons = _parse_distinct(encoded.dictionary, formats)
    at = pc.fill_null(encoded.indices, len(iso) - 1).to_numpy(zero_copy_only=False)  # a null is blank
    return (pd.Series(iso[at], index=values.index, dtype=object),
            pd.Series(reasons[at], index=values.index, dtype=object))


def _parse_distinct(text: pa.Array, formats: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(iso, reason) of each distinct value, and (None, None) last for a null."""
    blank = np.append(pc.equal(text, "").to_numpy(zero_copy_only=False), True)
    parsed = [[np.append(a, 0) for a in _parse_one(text, f)] for f in formats]
    keys = np.stack([k for _, _, k in parsed])
    key = keys.max(axis=0)  # any valid reading; conflicts are checked below
    conflicts = [((keys[i] > 0) & (keys[j] > 0) & (keys[i] != keys[j]), f"ambiguous date: fits {a} and {b}")
                 for i, a in enumerate(formats) for j, b in enumerate(formats) if i < j]
    matched = np.logical_or.reduce([m for m, _, _ in parsed])
    year_ok = np.logical_or.reduce([y for _, y, _ in parsed])
    not_date = "not a date in " + " or ".join([", ".join(formats[:-1]), formats[-1]] if len(formats) > 1 else formats)
    cases = [(blank, None), *conflicts, (key > 0, None), (year_ok, _NO_DAY), (matched, _BAD_YEAR)]
    reasons = np.array([r for _, r in cases] + [not_date], dtype=object)
    code = np.select([c for c, _ in cases], list(range(len(cases))), default=len(cases))
    valid = code == 1 + len(conflicts)
    k = key[valid]
    months = (k // 10000 - 1970).astype("datetime64[Y]") + (k // 100 % 100 - 1).astype("timedelta64[M]")
    iso = np.full(len(key), None, dtype=object)
    iso[valid] = _ISO[(months + (k % 100 - 1).astype("timedelta64[D]") - _EPOCH).astype(np.int64)]  # shared strings
    return iso, reasons[code]
