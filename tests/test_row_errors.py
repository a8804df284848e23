"""Messy real deliveries through the whole SIRAS pipeline, on DuckDB and PostgreSQL (issue 14): records of another
field count, truncated uploads, footers, control characters, and the row-error policy (reject_file | skip_rows)."""

from __future__ import annotations

import csv
import io
import os
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from dagster_project.definitions import build_definitions
from demo.siras_files import students as synthetic_students
from tests.conftest import CA_DISTRICTS, siras_integration, write_registry
from tests.harness import tick
from tests.test_import_log import failure, materialization, records
from tests.test_siras_pipeline import SENSOR, query

NAME = "1964212_demographics.csv"
# names last: a comma in a last name shifts the first name into the (blank) middle name and nothing else catches it
ORDER = ["SSID", "LOCAL_ID", "BIRTHDATE", "SCH_CODE", "DIST_RESI", "GRADE", "GENDER", "ETHNICITY", "RACE1", "EL_TYPE",
         "NATIV_LANG", "MIGRANT", "Designation", "LAST_NAME", "FIRST_NAME", "MIDDLE_NAME"]


def hub_with(tmp_path: Path, landing: Path, **policy: object) -> tuple[dg.Definitions, dg.DagsterInstance]:
    registry = write_registry(tmp_path / "registry.yaml", CA_DISTRICTS,
                              [siras_integration({"kind": "folder", "path": str(landing)}, **policy)])
    return build_definitions(registry), dg.DagsterInstance.ephemeral()


@pytest.fixture
def strict(tmp_path: Path, landing: Path, hub_env: dict) -> tuple[dg.Definitions, dg.DagsterInstance]:
    """The default policy: a row error rejects the file."""
    return hub_with(tmp_path, landing)


@pytest.fixture
def skipping(tmp_path: Path, landing: Path, hub_env: dict) -> tuple[dg.Definitions, dg.DagsterInstance]:
    """skip_rows with 10% of rows allowed to fail."""
    return hub_with(tmp_path, landing, on_row_error="skip_rows", max_row_error_share=0.1)


def frame(n: int) -> pd.DataFrame:
    return synthetic_students(n, "1964212").assign(Designation="SPED", MIDDLE_NAME="")[ORDER]


def csv_lines(df: pd.DataFrame) -> list[str]:
    buf = io.StringIO()
    df.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().splitlines(keepends=True)


def deliver(landing: Path, text: str | bytes) -> Path:
    path = landing / NAME
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    os.utime(path, (time.time(), time.time()))
    return path


def stored() -> dict[str, tuple]:
    return {s: (last, first, middle) for s, last, first, middle in
            query("SELECT state_student_id, last_name, first_name, middle_name FROM core.students")}


def delivery() -> tuple[str, str | None]:
    (status, reason), = query("SELECT status, reason FROM ops.deliveries")
    return status, reason


def ingest_reasons() -> list[str]:
    return [r for (r,) in query("SELECT reason FROM ops.ingest_errors")]


def row_errors() -> list[tuple]:
    return query("SELECT row_number, line_number, column_name, rule FROM ops.row_errors ORDER BY row_number, "
                 "column_name")


def test_a_record_with_an_extra_field_is_a_row_error_and_nothing_is_shifted(strict, landing):
    defs, instance = strict
    df = frame(6)
    lines = csv_lines(df)
    lines[3] = lines[3].replace(df.loc[2, "LAST_NAME"], "Smith, Jr.", 1)  # unquoted comma: 17 fields
    deliver(landing, "".join(lines))
    run = tick(defs, instance, SENSOR).runs[0]
    assert not run.success and stored() == {} and delivery()[0] == "rejected"
    assert row_errors() == [(4, 4, "*", "wrong field count (expected 16, found 17)")]
    assert "row 4, column *: wrong field count (expected 16, found 17)" in ingest_reasons()[0]
    assert "Smith" not in str(failure(run, "siras__demographics"))


def test_a_short_record_is_never_padded_and_skip_rows_applies_the_others(skipping, landing):
    defs, instance = skipping
    df = frame(20)  # 2 of 20 rows: 10%, the share allowed
    lines = csv_lines(df)
    lines[3] = lines[3].replace(df.loc[2, "LAST_NAME"], "Smith, Jr.", 1)  # 17 fields
    lines[5] = lines[5].rsplit(",", 2)[0] + "\n"  # 14 fields: never padded with blanks
    deliver(landing, "".join(lines))
    run = tick(defs, instance, SENSOR).runs[0]
    assert run.success
    bad = {df.loc[2, "SSID"], df.loc[4, "SSID"]}
    assert stored() == {s: (last, first, None) for s, last, first in
                        zip(df["SSID"], df["LAST_NAME"], df["FIRST_NAME"]) if s not in bad}
    assert row_errors() == [(4, 4, "*", "wrong field count (expected 16, found 17)"),
                            (6, 6, "*", "wrong field count (expected 16, found 14)")]
    kept = query("SELECT source_row, source_line, errors, ssid FROM staging.siras__demographics__rejected "
                 "ORDER BY source_row")
    assert kept == [(4, 4, "*: wrong field count (expected 16, found 17)", None),
                    (6, 6, "*: wrong field count (expected 16, found 14)", None)]
    md = materialization(run, "siras__student_updates")
    assert md["result"].value == "applied with 2 rows rejected"
    assert delivery() == ("applied", "applied with 2 rows rejected")


@pytest.mark.parametrize("cut", ["mid-record", "inside quotes"])
@pytest.mark.parametrize("policy", ["reject_file", "skip_rows"])
def test_a_truncated_upload_is_rejected_whole(tmp_path, landing, hub_env, cut, policy):
    defs, instance = hub_with(tmp_path, landing, **({} if policy == "reject_file" else  # the default
                                                     {"on_row_error": policy, "max_row_error_share": 0.5}))
    df = frame(8)
    df.loc[7, "LAST_NAME"] = "Line one\nline two"  # quoted by the writer
    text = "".join(csv_lines(df))
    at = text.index(df.loc[7, "LOCAL_ID"]) + 3 if cut == "mid-record" else text.index("line two") + 2
    deliver(landing, text[:at])
    run = tick(defs, instance, SENSOR).runs[0]
    assert not run.success and stored() == {} and delivery()[0] == "rejected"
    (reason,) = ingest_reasons()
    assert reason.startswith(f"{NAME}: truncated file (") and "row 9" in reason
    assert [e[:3] for e in row_errors()] == [(0, None, "*")]  # the file as a whole, not a row error of its last row
    assert query("SELECT count(*) FROM staging.siras__demographics__rejected")[0][0] == 0


@pytest.mark.parametrize(("footer", "applies"), [
    ("Total Records: 5\n,,,,,,,,,,,,,,,\n", True), ("\nEND OF FILE\n", True), (",,,,,,,,,,,,,,,\n,,,,,\n", True),
    ("Total Records: 57\n", False), ("Total Records,4,,,,,,,,,,,,,,\n", False),
])
def test_footers_are_not_rows_and_a_stated_count_is_checked(strict, landing, footer, applies):
    defs, instance = strict
    df = frame(5)
    deliver(landing, "".join(csv_lines(df)) + footer)
    run = tick(defs, instance, SENSOR).runs[0]
    assert run.success is applies
    if applies:
        assert set(stored()) == set(df["SSID"]) and row_errors() == []
        assert materialization(run, "siras__demographics")["rows read"].value == 5
    else:
        assert stored() == {} and delivery()[0] == "rejected"
        (reason,) = ingest_reasons()
        assert reason.startswith(f"{NAME}: truncated file (the footer on row 7 states ")
        assert reason.endswith("records; the file has 5)")


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f"])
def test_control_characters_are_row_errors_naming_row_and_column(strict, landing, char):
    defs, instance = strict
    df = frame(5)
    df.loc[3, "FIRST_NAME"] = f"An{char}a"
    deliver(landing, "".join(csv_lines(df)))
    run = tick(defs, instance, SENSOR).runs[0]
    assert not run.success and stored() == {} and delivery()[0] == "rejected"
    assert row_errors() == [(5, 5, "first_name", f"control character U+{ord(char):04X} in the value")]


def test_skip_rows_quarantines_bad_rows_with_their_errors_and_applies_the_rest(skipping, landing):
    defs, instance = skipping
    df = frame(30)  # 3 of 30 rows: 10%, the share allowed
    df.loc[2, "BIRTHDATE"] = "20100230"
    df.loc[5, "LAST_NAME"] = "Null\x00Byte"
    df.loc[6, "FIRST_NAME"] = "Two\nlines"  # row 8 takes lines 8-9: later rows' lines are one more than their rows
    df.loc[9, "GRADE"] = "99"
    deliver(landing, "".join(csv_lines(df)))
    run = tick(defs, instance, SENSOR).runs[0]
    assert run.success
    bad = {2, 5, 9}
    assert set(stored()) == {s for i, s in enumerate(df["SSID"]) if i not in bad}
    errors = row_errors()
    assert [e[:3] for e in errors] == [(4, 4, "birthdate"), (7, 7, "last_name"), (11, 12, "grade")]
    kept = query("SELECT source_row, source_line, errors, ssid FROM staging.siras__demographics__rejected "
                 "ORDER BY source_row")
    assert [(r, ln, s) for r, ln, _, s in kept] == [(4, 4, df.loc[2, "SSID"]), (7, 7, df.loc[5, "SSID"]),
                                                    (11, 12, df.loc[9, "SSID"])]
    assert kept[1][2] == "last_name: control character U+0000 in the value"
    assert query("SELECT count(*) FROM staging.siras__demographics__rejected WHERE last_name LIKE '%Byte%'")[0][0] == 0
    staged = materialization(run, "siras__demographics")
    assert staged["result"].value == "staged with 3 rows rejected" and staged["rows rejected"].value == 3
    assert [r[:3] for r in records(staged["row errors (first 500)"])] == [e[:3] for e in errors]
    listed = Path(staged["row errors CSV (demographics)"].value).read_text()
    assert listed.splitlines()[0] == "row,line,column,rule" and listed.splitlines()[3].startswith('11,12,"grade",')
    assert "Byte" not in listed and "20100230" not in listed
    assert materialization(run, "siras__student_updates")["result"].value == "applied with 3 rows rejected"


def test_skip_rows_rejects_every_copy_of_a_duplicated_key(skipping, landing):
    defs, instance = skipping
    df = frame(20)
    df.loc[7, "SSID"] = df.loc[3, "SSID"]  # which of the two is right cannot be told
    deliver(landing, "".join(csv_lines(df)))
    run = tick(defs, instance, SENSOR).runs[0]
    assert run.success
    assert df.loc[3, "SSID"] not in stored() and len(stored()) == 18
    assert [e[:3] for e in row_errors()] == [(5, 5, "ssid"), (9, 9, "ssid")]
    assert query("SELECT source_row FROM staging.siras__demographics__rejected ORDER BY 1") == [(5,), (9,)]


def test_skip_rows_above_the_share_rejects_the_whole_file(tmp_path, landing, hub_env):
    defs, instance = hub_with(tmp_path, landing, on_row_error="skip_rows")  # default share: 1%
    df = frame(100)
    df.loc[[10, 20], "GRADE"] = "99"
    deliver(landing, "".join(csv_lines(df)))
    run = tick(defs, instance, SENSOR).runs[0]
    assert not run.success and stored() == {} and delivery()[0] == "rejected"
    (reason,) = ingest_reasons()
    assert reason.startswith("2 of 100 rows have errors (2.0%), above the integration's max_row_error_share of 1.0%")
    assert query("SELECT count(*) FROM staging.siras__demographics__rejected")[0][0] == 0
    assert len(row_errors()) == 2
