"""SIRAS end to end through a drop folder, on DuckDB and PostgreSQL: sensor -> run -> gates -> students + audit."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from dagster_project.definitions import build_definitions
from demo.siras_files import students as synthetic_students
from hub.store.tables import audited_records
from tests.conftest import CA_DISTRICTS, siras_integration, write_registry
from tests.harness import rematerialize, tick

SENSOR = "siras__deliveries"


@pytest.fixture
def hub(tmp_path: Path, landing: Path, hub_env: dict) -> tuple[dg.Definitions, dg.DagsterInstance]:
    registry = write_registry(tmp_path / "registry.yaml", CA_DISTRICTS,
                              [siras_integration({"kind": "folder", "path": str(landing)})])
    return build_definitions(registry), dg.DagsterInstance.ephemeral()


def query(sql: str, **params: object) -> list[tuple]:
    engine = sa.create_engine(os.environ["HUB_WAREHOUSE_URL"], poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params)]


def drop(landing: Path, name: str, frame: pd.DataFrame, age_seconds: float = 0, **csv: object) -> Path:
    """A file modified `age_seconds` ago (by default now: after any import before it, as a new upload is; a file
    modified before the latest import of its type is skipped)."""
    path = landing / name
    if name.endswith(".xlsx"):
        frame.to_excel(path, index=False)
    else:
        frame.to_csv(path, index=False, **csv)
    mtime = time.time() - age_seconds
    os.utime(path, (mtime, mtime))
    return path


def students_table() -> pd.DataFrame:
    return pd.DataFrame(query("SELECT state_student_id, local_student_id, first_name, last_name, grade, el_type, "
                              "designation, CAST(birthdate AS VARCHAR) FROM core.students ORDER BY 1"))


def test_delivery_creates_designated_students_with_audit(hub, landing):
    defs, instance = hub
    frame = synthetic_students(30, "1964212")
    drop(landing, "1964212_demographics.csv", frame)
    t = tick(defs, instance, SENSOR)
    assert [r.success for r in t.runs] == [True]
    designated = frame[frame["Designation"] != ""]
    assert query("SELECT count(*) FROM core.students")[0][0] == len(designated)
    assert query(f"SELECT {audited_records()} FROM ops.field_audit WHERE action = 'create'")[0][0] == len(designated)
    row = query("SELECT first_name, last_name FROM core.students WHERE state_student_id = :s",
                s=designated.iloc[0]["SSID"])[0]
    assert row == (designated.iloc[0]["FIRST_NAME"], designated.iloc[0]["LAST_NAME"])  # headers mean what they say
    assert query("SELECT status FROM ops.deliveries")[0][0] == "applied"
    again = tick(defs, instance, SENSOR, cursor=t.cursor)
    assert again.runs == [] and "already received" in again.skip_reason


def test_update_rules_freeze_identity_skip_inactive_and_audit_fields(hub, landing):
    defs, instance = hub
    frame = synthetic_students(6, "1964212").assign(Designation="SPED", GRADE="05")
    drop(landing, "1964212_demographics_prev.csv", frame, age_seconds=7200)
    t = tick(defs, instance, SENSOR)
    assert all(r.success for r in t.runs)
    inactive = frame.iloc[1]["SSID"]
    engine = sa.create_engine(os.environ["HUB_WAREHOUSE_URL"], poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE core.students SET status = 'exited' WHERE state_student_id = :s"), {"s": inactive})
    changed = frame.copy()
    changed.loc[0, ["GRADE", "LAST_NAME", "LOCAL_ID"]] = ["12", "Renamed", "9999999"]
    changed.loc[1, "GRADE"] = "12"
    drop(landing, "1964212_demographics.csv", changed)
    t2 = tick(defs, instance, SENSOR, cursor=t.cursor)
    assert [r.success for r in t2.runs] == [True]
    audit = query("SELECT field, old_value, new_value FROM ops.field_audit WHERE action = 'update'")
    assert audit == [("grade", "05", "12")]
    first = query("SELECT last_name, local_student_id, grade FROM core.students WHERE state_student_id = :s",
                  s=frame.iloc[0]["SSID"])[0]
    assert first == (frame.iloc[0]["LAST_NAME"], frame.iloc[0]["LOCAL_ID"], "12")  # name and local id frozen
    assert query("SELECT grade FROM core.students WHERE state_student_id = :s", s=inactive)[0][0] == "05"
    md = t2.runs[0].asset_materializations_for_node("siras__student_updates")[0].metadata
    assert md["core.students rows skipped (inactive)"].value == 1


def test_reimport_of_partition_changes_nothing(hub, landing):
    defs, instance = hub
    path = drop(landing, "1964212_demographics.csv", synthetic_students(20, "1964212"))
    t = tick(defs, instance, SENSOR)
    assert all(r.success for r in t.runs)
    before = (students_table(), query("SELECT count(*) FROM ops.field_audit")[0][0])
    path.unlink()  # the landing copy is gone: re-imports read the archive
    day = t.result.run_requests[0].partition_key.keys_by_dimension["date"]
    result = rematerialize(defs, instance, "siras_import", "abc_unified", day)
    assert result.success
    assert students_table().equals(before[0])
    assert query("SELECT count(*) FROM ops.field_audit")[0][0] == before[1]


@pytest.mark.parametrize("variant", ["cp1252", "utf-8-sig", "xlsx"])
def test_encodings_and_excel_import_identically(hub, landing, variant):
    defs, instance = hub
    frame = synthetic_students(15, "1964212").assign(Designation="SPED")
    frame.loc[0, "LAST_NAME"], frame.loc[1, "FIRST_NAME"] = "Núñez", "José"
    if variant == "xlsx":
        drop(landing, "1964212_demographics.xlsx", frame)
    else:
        drop(landing, "1964212_demographics.csv", frame, encoding=variant)
    assert all(r.success for r in tick(defs, instance, SENSOR).runs)
    got = students_table()
    assert list(got[0]) == list(frame["SSID"]) and list(got[2]) == list(frame["FIRST_NAME"])
    assert list(got[3]) == list(frame["LAST_NAME"]) and list(got[1]) == list(frame["LOCAL_ID"])  # leading zeros kept
    assert list(got[7]) == [f"{b[:4]}-{b[4:6]}-{b[6:]}" for b in frame["BIRTHDATE"]]


def test_suffixed_504_file_applies_and_an_older_file_of_the_day_is_superseded(hub, landing):
    defs, instance = hub
    sped = synthetic_students(12, "1964212").assign(Designation="SPED")
    plans = synthetic_students(4, "1964212", start=500).assign(Designation="")  # designated 504 by the file
    drop(landing, "1964212_demographics_early.csv", sped.iloc[:8], age_seconds=180)
    drop(landing, "1964212_demographics.csv", sped.iloc[4:], age_seconds=120)
    drop(landing, "1964212_demographics_504_20240901.csv", plans)
    t = tick(defs, instance, SENSOR)
    assert [r.success for r in t.runs] == [True]
    assert query("SELECT designation, count(*) FROM core.students GROUP BY 1 ORDER BY 1") == [("504", 4), ("SPED", 8)]
    assert query("SELECT file_name, status, reason FROM ops.deliveries ORDER BY file_name") == [
        ("1964212_demographics.csv", "applied", None), ("1964212_demographics_504_20240901.csv", "applied", None),
        ("1964212_demographics_early.csv", "skipped",
         "superseded by 1964212_demographics.csv, a newer file of the same type and day")]
    md = t.runs[0].asset_materializations_for_node("siras__demographics")[0].metadata
    assert md["superseded (same day, older)"].value == "1964212_demographics_early.csv"


def test_integration_headers_map_a_districts_own_column_names(tmp_path, landing, hub_env):
    """SIRAS maps the headers of a district's first file: the registry's `headers` add them to the declared ones."""
    registry = write_registry(tmp_path / "registry.yaml", CA_DISTRICTS, [siras_integration(
        {"kind": "folder", "path": str(landing)}, headers={"ssid": ["State Student Number"], "gender": ["Sex"]})])
    defs, instance = build_definitions(registry), dg.DagsterInstance.ephemeral()
    frame = synthetic_students(5, "1964212").assign(Designation="SPED")
    drop(landing, "1964212_demographics.csv", frame.rename(columns={"SSID": "State Student Number", "GENDER": "Sex"}))
    assert [r.success for r in tick(defs, instance, SENSOR).runs] == [True]
    assert query("SELECT state_student_id, gender FROM core.students ORDER BY 1") == list(
        zip(frame["SSID"], frame["GENDER"]))


def test_a_districts_own_file_names_are_recognised(tmp_path, landing, hub_env):
    """File names are flexible (SIRAS only recommends {code}_demographics.csv): `file_patterns` names a district's."""
    registry = write_registry(tmp_path / "registry.yaml", CA_DISTRICTS, [siras_integration(
        {"kind": "folder", "path": str(landing)}, file_patterns={"demographics": ["sped_students_*.csv"]})])
    defs, instance = build_definitions(registry), dg.DagsterInstance.ephemeral()
    drop(landing, "sped_students_20261201.csv", synthetic_students(5, "1964212").assign(Designation="SPED"))
    drop(landing, "1964212_demographics.csv", synthetic_students(3, "1964212", start=100).assign(Designation="SPED"))
    t = tick(defs, instance, SENSOR)
    assert [r.success for r in t.runs] == [True]
    assert query("SELECT file_name, file_type, status FROM ops.deliveries") == [
        ("sped_students_20261201.csv", "demographics", "applied")]  # the feed's own name no longer applies
    assert query("SELECT count(*) FROM core.students")[0][0] == 5
    checks = {c.check_name: c for c in t.runs[0].get_asset_check_evaluations()}
    assert "attached the integration's district abc_unified" in checks["district"].metadata["result"].value


BAD_FILES = {
    "ssid_column_missing": ("1964212_demographics.csv", lambda f: f.drop(columns=["SSID"]), (1, "ssid")),
    "impossible_date": ("1964212_demographics.csv", lambda f: f.assign(BIRTHDATE=["20100230"] + list(f["BIRTHDATE"][1:])),
                        (2, "birthdate")),
    "bad_code": ("1964212_demographics.csv", lambda f: f.assign(EL_TYPE=list(f["EL_TYPE"][:3]) + ["XX"] + list(f["EL_TYPE"][4:])),
                 (5, "el_type")),
    "other_district": ("1062166_demographics.csv", lambda f: f, None),
    "repeated_ssid": ("1964212_demographics.csv", lambda f: f.assign(SSID=list(f["SSID"][:7]) + [f["SSID"][2]] + list(f["SSID"][8:])),
                      (4, "ssid")),  # every copy is reported (rows 4 and 9): none of them can be trusted
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_files_are_blocked_whole(hub, landing, case):
    defs, instance = hub
    name, spoil, first_error = BAD_FILES[case]
    drop(landing, name, spoil(synthetic_students(10, "1964212").assign(Designation="SPED")))
    t = tick(defs, instance, SENSOR)
    assert len(t.runs) == 1 and not t.runs[0].success
    checks = {c.check_name: c.passed for c in t.runs[0].get_asset_check_evaluations()}
    assert checks["district" if case == "other_district" else "schema"] is False
    applied = {e.asset_key for e in t.runs[0].get_asset_materialization_events()}
    assert dg.AssetKey(["siras", "student_updates"]) not in applied  # downstream did not run
    assert query("SELECT count(*) FROM core.students")[0][0] == 0
    assert query("SELECT count(*) FROM staging.siras__demographics")[0][0] == 0
    gate, file_name, district = query("SELECT gate, file_name, district_id FROM ops.ingest_errors")[0]
    assert (file_name, district) == (name, "abc_unified")
    if first_error:
        assert query("SELECT row_number, column_name FROM ops.row_errors ORDER BY row_number")[0] == first_error
    assert query("SELECT status FROM ops.deliveries")[0][0] == "rejected"
