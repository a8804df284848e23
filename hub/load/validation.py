"""Row-level validation of parsed chunks: value maps, strict dates, value checks (required, pattern, code set) in
Arrow, and a pandera schema of the declared cross-column row checks.

Errors name the row, column and rule — never the value (values may be student data).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pandera.pandas as pa_schema
import pyarrow as pa
import pyarrow.compute as pc

from hub.load.dates import parse_dates
from hub.read.arrow_text import byte_set, has_bytes
from hub.read.errors import RowError
from hub.read.parsing import LINE, ROW
from hub.registry.declarations import Column, FileType, RowCheck

_TEXT = "string[pyarrow]"
_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"  # C0 controls and DEL; tab and line breaks are text
_CONTROL_BYTES = byte_set("".join(map(chr, [*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])))
EXCEL_FLOAT = r"^(\d+)\.0+$"  # 345678.0: a whole number Excel saved as a float; the digits stay as written


def _column_failures(col: Column, values: pa.Array) -> list[tuple[np.ndarray, str]]:
    """(failing rows, rule) of each value check of a column, in order: required, pattern, code set. Computed in
    Arrow; a missing (null) value fails none, as under pandera's `ignore_na`."""
    checks: list[tuple[pa.Array, str]] = []
    given = pc.not_equal(values, "")
    if not col.nullable:
        checks.append((pc.invert(given), "value required"))
    if col.pattern:
        full = pc.match_substring_regex(values, f"^(?:{col.pattern})$")
        checks.append((pc.and_not(given, full), col.pattern_rule or f"must match {col.pattern}"))
    if col.codes:
        shown = ", ".join(col.codes) if len(col.codes) <= 20 else ", ".join(col.codes[:20]) + ", …"
        known = pc.is_in(values, value_set=pa.array(col.codes, pa.large_string()))
        checks.append((pc.and_not(given, known), f"must be one of {shown}"))
    return [(pc.fill_null(fail, False).to_numpy(zero_copy_only=False), rule) for fail, rule in checks]


def build_schema(ft: FileType) -> pa_schema.DataFrameSchema:
    """A pandera schema of the file type's cross-column row checks (value checks run in Arrow, presence of
    columns is checked separately)."""
    checks = [pa_schema.Check(lambda df, rc=rc: _row_check(df, rc), element_wise=False, name=rc.name, error=rc.rule)
              for rc in ft.checks]
    return pa_schema.DataFrameSchema({}, checks=checks, strict=False)


def _row_check(df: pd.DataFrame, rc: RowCheck) -> pd.Series:
    if not all(c in df for c in rc.columns):
        return pd.Series(True, index=df.index)
    return rc.test(df)


def missing_columns(ft: FileType, present: Sequence[str]) -> list[RowError]:
    """Required columns the file lacks, reported against the header row (row 1)."""
    return [RowError(1, c.name, f"required column missing (accepted headers: {', '.join(c.headers[1:] or c.headers)})")
            for c in ft.columns if c.required and c.name not in present]


def prepare_chunk(ft: FileType, chunk: pd.DataFrame, schema: pa_schema.DataFrameSchema, date_formats: Sequence[str],
                  value_maps: Mapping[str, Mapping[str, str]]) -> tuple[pd.DataFrame, list[RowError]]:
    """Normalise codes, map values, parse dates to ISO text; validate; return the chunk and its row errors.
    A value holding a control character (NUL, ...) is an error and is blanked: no warehouse stores it."""
    errors: list[RowError] = []
    lines = chunk[LINE].to_numpy() if LINE in chunk else np.full(len(chunk), None)
    for col in ft.columns:
        if col.name not in chunk:
            continue
        s = chunk[col.name].astype(_TEXT)  # Arrow-backed strings: checks run in pyarrow compute, not Python loops
        if has_bytes(pa.array(s.array), _CONTROL_BYTES) and (
                bad := s.str.contains(_CONTROL, regex=True).to_numpy(dtype=bool, na_value=False)).any():
            codes = s[bad].str.extract(f"({_CONTROL})", expand=False)
            errors += [RowError(int(r), col.name, f"control character U+{ord(c):04X} in the value", _line(n))
                       for r, n, c in zip(chunk[ROW].to_numpy()[bad], lines[bad], codes)]
            s = s.mask(bad, "")
        if col.blanks:
            s = s.mask(s.isin(col.blanks), "")
        if col.kind == "code":
            s = s.str.upper()
        if col.kind == "identifier":
            s = s.str.replace(EXCEL_FLOAT, r"\1", regex=True)
        if col.name in value_maps:
            vm = {str(k).upper() if col.kind == "code" else str(k): v for k, v in value_maps[col.name].items()}
            s = s.replace(vm)
        if col.kind == "date":
            iso, err = parse_dates(s, date_formats)
            bad = err.notna()
            errors += [RowError(int(r), col.name, str(e), _line(n))
                       for r, n, e in zip(chunk.loc[bad, ROW], lines[bad.to_numpy()], err[bad])]
            s = iso.where(iso.notna(), "")
        chunk[col.name] = s
        values = pa.array(s.astype(_TEXT).array)
        rows = chunk[ROW].to_numpy()
        for fail, rule in _column_failures(col, values):
            errors += [RowError(int(r), col.name, rule, _line(n)) for r, n in zip(rows[fail], lines[fail])]
    if not schema.checks:
        return chunk, _first(errors)
    try:
        schema.validate(chunk, lazy=True)
    except pa_schema.errors.SchemaErrors as exc:
        fc = exc.failure_cases
        fc = fc[fc["index"].notna()]
        at = fc["index"].astype(int).to_numpy()
        rows = chunk.loc[at, ROW].to_numpy()
        names = {rc.rule: rc.name for rc in ft.checks}
        errors += [RowError(int(r), names.get(str(chk), str(c)), str(chk), _line(n))
                   for r, n, c, chk in zip(rows, lines[at], fc["column"], fc["check"])]
    return chunk, _first(errors)


def _first(errors: list[RowError]) -> list[RowError]:
    """The first error of each (row, column), by row and column: a bad date or control character is reported once,
    not again as "value required"."""
    first: dict[tuple[int, str], RowError] = {}
    for e in errors:
        first.setdefault((e.row_number, e.column), e)
    return sorted(first.values(), key=lambda e: (e.row_number, e.column))


def _line(n: object) -> int | None:
    return None if n is None or pd.isna(n) else int(n)
