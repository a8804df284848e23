"""A night costs what changed: the next delivery of a snapshot file stages (and so applies) only the rows that differ
from the applied delivery before it; rows read, unchanged and the audit's file/row/run stay truthful, and whatever
could make the shortcut wrong stages the whole file (hub/load/changes.py)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from demo.siras_files import students as synthetic_students
from hub.apply.audit import provenance
from hub.apply.student_status import set_status
from hub.store.tables import students
from tests.harness import rematerialize, tick
from tests.test_row_errors import hub_with
from tests.test_siras_same_day_files import at
from tests.test_siras_pipeline import SENSOR, drop, query, students_table


@pytest.fixture
def hub(tmp_path: Path, landing: Path, hub_env: dict) -> tuple[dg.Definitions, dg.DagsterInstance]:
    """The SIRAS integration opted in to the shortcut (`stage_changes_only: true`)."""
    return hub_with(tmp_path, landing, stage_changes_only=True)


def _nights(defs, instance, landing, first: pd.DataFrame, second: pd.DataFrame):  # noqa: ANN001, ANN202
    drop(landing, "1964212_demographics_prev.csv", first, age_seconds=7200)
    one = tick(defs, instance, SENSOR)
    assert [r.success for r in one.runs] == [True]
    drop(landing, "1964212_demographics.csv", second)
    two = tick(defs, instance, SENSOR, cursor=one.cursor)
    return one, two


def _staged(file_name: str) -> int:
    return query("SELECT count(*) FROM staging.siras__demographics s JOIN ops.deliveries d ON d.delivery_id = "
                 "s.delivery_id WHERE d.file_name = :f", f=file_name)[0][0]


def _changed(frame: pd.DataFrame, rows: list[int]) -> pd.DataFrame:
    out = frame.copy()
    out.loc[rows, "GRADE"] = ["12" if g != "12" else "11" for g in out.loc[rows, "GRADE"]]
    return out


def test_next_night_stages_only_changed_rows_with_truthful_counts(hub, landing):  # noqa: F811
    defs, instance = hub
    first = synthetic_students(40, "1964212").assign(Designation="SPED")
    new = synthetic_students(1, "1964212", start=40).assign(Designation="SPED")
    second = pd.concat([_changed(first, [5, 30]).iloc[:39], new], ignore_index=True)  # row 39 left, one new
    _, two = _nights(defs, instance, landing, first, second)
    assert [r.success for r in two.runs] == [True]
    assert _staged("1964212_demographics.csv") == 3  # two changed, one new: the night's work follows the changes
    assert query("SELECT rows FROM ops.unchanged_rows")[0][0] == 37
    assert query("SELECT rows FROM ops.delivery_sizes s JOIN ops.deliveries d ON d.delivery_id = s.delivery_id "
                 "WHERE d.file_name = '1964212_demographics.csv'")[0][0] == 40  # the size rule sees the file's rows
    assert query("SELECT row_count FROM ops.deliveries WHERE file_name = '1964212_demographics.csv'")[0][0] == 40
    got = students_table().set_index(0)
    assert len(got) == 41 and got.loc[second.loc[5, "SSID"], 4] == second.loc[5, "GRADE"]
    assert got.loc[first.loc[39, "SSID"], 4] == first.loc[39, "GRADE"]  # absent from the file: kept, as before
    assert query("SELECT count(*) FROM ops.field_audit WHERE action = 'update'")[0][0] == 2
    md = two.runs[0].get_asset_materialization_events()
    meta = {e.asset_key.path[-1]: e.materialization.metadata for e in md}
    assert meta["demographics"]["rows read"].value == 40
    assert meta["demographics"]["rows unchanged since the last applied file (not staged)"].value == 37
    assert meta["student_updates"]["core.students rows unchanged"].value == 37
    assert meta["student_updates"]["core.students rows updated"].value == 2


def test_without_the_option_a_night_stages_the_whole_file(tmp_path, landing, hub_env):  # noqa: F811
    defs, instance = hub_with(tmp_path, landing)  # the registry's default: stage_changes_only off, as on main
    first = synthetic_students(100, "1964212").assign(Designation="SPED")
    _, two = _nights(defs, instance, landing, first, _changed(first, [5]))  # 1% changed
    assert [r.success for r in two.runs] == [True]
    assert _staged("1964212_demographics.csv") == 100  # every row staged: last_update_siras means "last arrived"
    assert query("SELECT count(*) FROM ops.unchanged_rows")[0][0] == 0
    assert query("SELECT count(*) FROM ops.row_hashes")[0][0] == 0  # no digests kept either
    assert query("SELECT count(*) FROM ops.field_audit WHERE action = 'update'")[0][0] == 1


def test_unchanged_field_still_answers_which_file_row_and_run(hub, landing):  # noqa: F811
    defs, instance = hub
    first = synthetic_students(20, "1964212").assign(Designation="SPED")
    second = pd.concat([_changed(first, [3]).iloc[[3]], first.drop(index=3)], ignore_index=True)  # row 3 moves up
    one, two = _nights(defs, instance, landing, first, second)
    engine = sa.create_engine(os.environ["HUB_WAREHOUSE_URL"], poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        key = lambda ssid: conn.execute(sa.select(students.c.student_key).where(  # noqa: E731
            students.c.state_student_id == ssid)).scalar_one()
        kept = provenance(conn, students, "student_key", key(first.loc[7, "SSID"]))
        moved = provenance(conn, students, "student_key", key(first.loc[3, "SSID"]))
    assert (kept["grade"].file_name, kept["grade"].row, kept["grade"].run_id) == \
        ("1964212_demographics_prev.csv", 9, one.runs[0].run_id)  # first delivered there (header = row 1)
    assert (moved["grade"].file_name, moved["grade"].row, moved["grade"].run_id) == \
        ("1964212_demographics.csv", 2, two.runs[0].run_id)  # the original row number of the changed row
    assert moved["last_name"].file_name == "1964212_demographics_prev.csv"


def test_reimport_stages_the_whole_file_and_changes_nothing(hub, landing):  # noqa: F811
    defs, instance = hub
    first = synthetic_students(30, "1964212").assign(Designation="SPED")
    _, two = _nights(defs, instance, landing, first, _changed(first, [2]))
    assert _staged("1964212_demographics.csv") == 1
    before = (students_table(), query("SELECT count(*) FROM ops.field_audit")[0][0])
    day = two.result.run_requests[0].partition_key.keys_by_dimension["date"]
    assert rematerialize(defs, instance, "siras_import", "abc_unified", day).success
    assert _staged("1964212_demographics.csv") == 30  # a re-import is compared with nothing: the file as it is
    assert students_table().equals(before[0])
    assert query("SELECT count(*) FROM ops.field_audit")[0][0] == before[1]


def test_a_status_change_since_the_last_file_stages_the_whole_file(hub, landing):  # noqa: F811
    defs, instance = hub
    first = synthetic_students(30, "1964212").assign(Designation="SPED")
    drop(landing, "1964212_demographics_prev.csv", first, age_seconds=7200)
    one = tick(defs, instance, SENSOR)
    engine = sa.create_engine(os.environ["HUB_WAREHOUSE_URL"], poolclass=sa.pool.NullPool)
    with engine.begin() as conn:  # an operator marks a student inactive, then active again
        set_status(conn, "abc_unified", [first.loc[4, "SSID"]], "exited", "ops", "hub students exit")
        set_status(conn, "abc_unified", [first.loc[4, "SSID"]], "active", "ops", "hub students return")
    drop(landing, "1964212_demographics.csv", _changed(first, [2]))
    assert [r.success for r in tick(defs, instance, SENSOR, cursor=one.cursor).runs] == [True]
    assert _staged("1964212_demographics.csv") == 30
    assert query("SELECT count(*) FROM ops.unchanged_rows")[0][0] == 0


def test_a_key_repeated_across_changed_and_unchanged_rows_is_still_caught(hub, landing):  # noqa: F811
    defs, instance = hub
    first = synthetic_students(30, "1964212").assign(Designation="SPED")
    twin = _changed(first, [6]).iloc[[6]]  # the same SSID as row 6 (unchanged), with another grade
    _, two = _nights(defs, instance, landing, first, pd.concat([first, twin], ignore_index=True))
    assert [r.success for r in two.runs] == [False]
    rows = query("SELECT row_number, column_name FROM ops.row_errors e JOIN ops.deliveries d ON d.delivery_id = "
                 "e.delivery_id WHERE d.file_name = '1964212_demographics.csv' ORDER BY 1")
    assert rows == [(8, "ssid"), (32, "ssid")]  # both rows, as in the file
    assert _staged("1964212_demographics.csv") == 0  # a blocked file writes nothing


def test_a_row_error_names_the_original_row_and_stages_nothing(hub, landing):  # noqa: F811
    defs, instance = hub
    first = synthetic_students(30, "1964212").assign(Designation="SPED")
    bad = _changed(first, [2])
    bad.loc[20, "BIRTHDATE"] = "not a date"
    _, two = _nights(defs, instance, landing, first, bad)
    assert [r.success for r in two.runs] == [False]
    assert query("SELECT row_number, column_name FROM ops.row_errors")[0] == (22, "birthdate")
    assert _staged("1964212_demographics.csv") == 0
    assert query("SELECT count(*) FROM ops.row_hashes r JOIN ops.deliveries d ON d.delivery_id = r.delivery_id "
                 "WHERE d.file_name = '1964212_demographics.csv'")[0][0] == 0


def test_a_later_file_of_the_day_merges_with_the_whole_main_file(hub, landing):  # noqa: F811
    defs, instance = hub
    first = synthetic_students(30, "1964212").assign(Designation="SPED")
    yesterday = time.time() - at(1, 0)
    drop(landing, "1964212_demographics_prev.csv", first, age_seconds=yesterday)
    one = tick(defs, instance, SENSOR)
    drop(landing, "1964212_demographics.csv", _changed(first, [2]))  # today
    two = tick(defs, instance, SENSOR, cursor=one.cursor)
    assert _staged("1964212_demographics.csv") == 1
    plans = _changed(first, [9]).iloc[[9]].assign(Designation="504")  # another grade than the main file's
    drop(landing, "1964212_demographics_504.csv", plans)  # later today
    three = tick(defs, instance, SENSOR, cursor=two.cursor)
    assert [r.success for r in three.runs] == [True]
    assert _staged("1964212_demographics.csv") == 30  # staged again whole: the day's files merge field by field
    grade = query("SELECT grade FROM core.students WHERE state_student_id = :s", s=first.loc[9, "SSID"])[0][0]
    assert grade == first.loc[9, "GRADE"]  # the main file's value is kept, as a whole main file keeps it


def test_a_day_of_another_file_type_between_stages_the_next_file_whole(hub, landing):  # noqa: F811
    defs, instance = hub
    first = synthetic_students(30, "1964212").assign(Designation="SPED")
    drop(landing, "1964212_demographics_prev.csv", first, age_seconds=time.time() - at(2, 0))
    one = tick(defs, instance, SENSOR)
    plans = _changed(first, [9]).iloc[[9]].assign(Designation="504")  # a 504-only day sets another grade
    drop(landing, "1964212_demographics_504.csv", plans, age_seconds=time.time() - at(1, 0))
    two = tick(defs, instance, SENSOR, cursor=one.cursor)
    assert [r.success for r in two.runs] == [True]
    drop(landing, "1964212_demographics.csv", _changed(first, [2]))
    assert [r.success for r in tick(defs, instance, SENSOR, cursor=two.cursor).runs] == [True]
    assert _staged("1964212_demographics.csv") == 30  # the main file's values are asserted again, as every night
    grade = query("SELECT grade FROM core.students WHERE state_student_id = :s", s=first.loc[9, "SSID"])[0][0]
    assert grade == first.loc[9, "GRADE"]


@pytest.mark.parametrize("warehouse_url", ["postgres"], indirect=True)  # DuckDB keeps no planner statistics
def test_an_opted_in_import_leaves_its_staged_rows_analyzed_for_the_apply(hub, landing):
    defs, instance = hub
    drop(landing, "1964212_demographics.csv", synthetic_students(40, "1964212").assign(Designation="SPED"))
    assert [r.success for r in tick(defs, instance, SENSOR).runs] == [True]
    assert query("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE schemaname = 'staging' "
                 "AND relname = 'siras__demographics'") == [(True,)]


def test_nights_prune_what_changed_and_the_whole_file_each_tenth(hub, landing):  # noqa: F811
    """A night prunes the nights before it; the file staged whole keeps its older rows of the keys nights delivered
    again until those nights staged another tenth of its rows (4 of 40), then loses them all at once."""
    defs, instance = hub
    first = synthetic_students(40, "1964212").assign(Designation="SPED")
    one, two = _nights(defs, instance, landing, first, a := _changed(first, [1, 2, 3]))
    assert [r.success for r in two.runs] == [True]
    rows = "SELECT count(*), count(DISTINCT ssid) FROM staging.siras__demographics"
    assert query(rows) == [(43, 40)]  # 3 of 40 staged: the whole file is not read
    drop(landing, "1964212_demographics_b.csv", b := _changed(a, [5, 6]))
    three = tick(defs, instance, SENSOR, cursor=two.cursor)
    assert [r.success for r in three.runs] == [True]
    assert query(rows) == [(40, 40)]  # 5 of 40: the whole file pruned by the keys of both nights
    drop(landing, "1964212_demographics_c.csv", c := _changed(b, [1]))
    four = tick(defs, instance, SENSOR, cursor=three.cursor)
    assert [r.success for r in four.runs] == [True]
    assert query(rows) == [(40, 40)]  # the night before pruned by this one's key
    assert query("SELECT grade FROM core.students WHERE state_student_id = :s", s=first.loc[1, "SSID"]) == \
        [(c.loc[1, "GRADE"],)]  # changed on two nights: the last one's grade
