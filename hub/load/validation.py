"""Row-level validation of parsed chunks: value maps, strict dates, and a pandera schema built from the declaration.

Errors name the row, column and rule — never the value (values may be student data).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pandera.pandas as pa

from hub.load.dates import parse_dates
from hub.read.errors import RowError
from hub.read.parsing import LINE, ROW
from hub.registry.declarations import Column, FileType, RowCheck

_TEXT = "string[pyarrow]"
_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"  # C0 controls and DEL; tab and line breaks are text
EXCEL_FLOAT = r"^(\d+)\.0+$"  # 345678.0: a whole number Excel saved as a float; the digits stay as written


def _column_schema(col: Column) -> pa.Column:
    checks: list[pa.Check] = []
    if not col.nullable:
        checks.append(pa.Check(lambda s: s != "", element_wise=False, error="value required"))
    if col.pattern:
        rx = col.pattern
        checks.append(pa.Check(lambda s, rx=rx: (s == "") | s.str.fullmatch(rx), element_wise=False,
                               error=col.pattern_rule or f"must match {rx}"))
    if col.codes:
        allowed = frozenset(col.codes)
        shown = ", ".join(col.codes) if len(col.codes) <= 20 else ", ".join(col.codes[:20]) + ", …"
        checks.append(pa.Check(lambda s, a=allowed: (s == "") | s.isin(a), element_wise=False,
                               error=f"must be one of {shown}"))
    return pa.Column(None, checks=checks, required=False, nullable=True)


def build_schema(ft: FileType) -> pa.DataFrameSchema:
    """A pandera schema for a file type's values (presence of columns is checked separately)."""
    checks = [pa.Check(lambda df, rc=rc: _row_check(df, rc), element_wise=False, name=rc.name, error=rc.rule)
              for rc in ft.checks]
    return pa.DataFrameSchema({c.name: _column_schema(c) for c in ft.columns}, checks=checks, strict=False)


def _row_check(df: pd.DataFrame, rc: RowCheck) -> pd.Series:
    if not all(c in df for c in rc.columns):
        return pd.Series(True, index=df.index)
    return rc.test(df)


def missing_columns(ft: FileType, present: Sequence[str]) -> list[RowError]:
    """Required columns the file lacks, reported against the header row (row 1)."""
    return [RowError(1, c.name, f"required column missing (accepted headers: {', '.join(c.headers[1:] or c.headers)})")
            for c in ft.columns if c.required and c.name not in present]


def prepare_chunk(ft: FileType, chunk: pd.DataFrame, schema: pa.DataFrameSchema, date_formats: Sequence[str],
                  value_maps: Mapping[str, Mapping[str, str]]) -> tuple[pd.DataFrame, list[RowError]]:
    """Normalise codes, map values, parse dates to ISO text; validate; return the chunk and its row errors.
    A value holding a control character (NUL, ...) is an error and is blanked: no warehouse stores it."""
    errors: list[RowError] = []
    lines = chunk[LINE].to_numpy() if LINE in chunk else np.full(len(chunk), None)
    for col in ft.columns:
        if col.name not in chunk:
            continue
        s = chunk[col.name].astype(_TEXT)  # Arrow-backed strings: checks run in pyarrow compute, not Python loops
        if (bad := s.str.contains(_CONTROL, regex=True).to_numpy(dtype=bool, na_value=False)).any():
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
    try:
        schema.validate(chunk, lazy=True)
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
        fc = fc[fc["index"].notna()]
        at = fc["index"].astype(int).to_numpy()
        rows = chunk.loc[at, ROW].to_numpy()
        names = {rc.rule: rc.name for rc in ft.checks}
        errors += [RowError(int(r), names.get(str(chk), str(c)), str(chk), _line(n))
                   for r, n, c, chk in zip(rows, lines[at], fc["column"], fc["check"])]
    first: dict[tuple[int, str], RowError] = {}
    for e in errors:  # a bad date or control character is reported once, not again as "value required"
        first.setdefault((e.row_number, e.column), e)
    return chunk, sorted(first.values(), key=lambda e: (e.row_number, e.column))


def _line(n: object) -> int | None:
    return None if n is None or pd.isna(n) else int(n)
