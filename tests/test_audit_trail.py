"""The audit trail answers "which file, which row, which run" for every field of a created and an updated record,
on DuckDB and PostgreSQL, while creates are audited by reference (one audit row per delivery, not per record)."""

from __future__ import annotations

import os

import sqlalchemy as sa

from demo.siras_files import students as synthetic_students
from hub.apply.audit import Source, provenance
from hub.store.tables import students
from tests.harness import tick
from tests.test_siras_pipeline import SENSOR, drop, hub, query  # noqa: F401 (fixtures)


def _sources(ssid: str) -> dict[str, Source]:
    engine = sa.create_engine(os.environ["HUB_WAREHOUSE_URL"], poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        key = conn.execute(sa.select(students.c.student_key).where(students.c.state_student_id == ssid)).scalar_one()
        return provenance(conn, students, "student_key", key)


def test_every_field_of_created_and_updated_records_names_file_row_and_run(hub, landing):  # noqa: F811
    defs, instance = hub
    frame = synthetic_students(40, "1964212").assign(Designation="SPED", GRADE="05")
    drop(landing, "1964212_demographics_prev.csv", frame, age_seconds=7200)
    first = tick(defs, instance, SENSOR)
    assert [r.success for r in first.runs] == [True]
    # creates by reference: one audit row for the delivery's 40 creates, the keys are on the rows
    assert query("SELECT entity_key, field, new_value, source_file FROM ops.field_audit WHERE action = 'create'") == [
        ("*", "student_key", "40", "1964212_demographics_prev.csv")]
    changed = frame.copy()
    changed.loc[7, "GRADE"] = "06"
    drop(landing, "1964212_demographics.csv", changed)
    second = tick(defs, instance, SENSOR, cursor=first.cursor)
    assert [r.success for r in second.runs] == [True]

    created_run, update_run = first.runs[0].run_id, second.runs[0].run_id
    # data row i of the file is spreadsheet row i + 2 (header = 1)
    kept = _sources(frame.iloc[3]["SSID"])
    assert set(kept) >= {"student_key", "state_student_id", "first_name", "birthdate", "grade", "designation"}
    assert {(s.action, s.file_name, s.row, s.run_id) for s in kept.values()} == {
        ("create", "1964212_demographics_prev.csv", 5, created_run)}
    updated = _sources(frame.iloc[7]["SSID"])
    assert (updated["grade"].action, updated["grade"].file_name, updated["grade"].row, updated["grade"].run_id) == (
        "update", "1964212_demographics.csv", 9, update_run)
    assert {(s.action, s.file_name, s.row, s.run_id) for f, s in updated.items() if f != "grade"} == {
        ("create", "1964212_demographics_prev.csv", 9, created_run)}
    assert query("SELECT field, old_value, new_value, source_row FROM ops.field_audit WHERE action = 'update'") == [
        ("grade", "05", "06", 9)]
