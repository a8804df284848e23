"""SIRAS school of attendance: shared codes resolve to the default entity, SITE_CODE disambiguates, same code: no change."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from demo.siras_files import students as synthetic_students
from feeds.siras import FEED
from hub.apply.schools import replace_schools
from hub.store.schema import ensure_tables
from resources.warehouse import Warehouse
from tests.harness import tick
from tests.test_siras_pipeline import SENSOR, drop, hub, query  # noqa: F401  (fixtures)

SHARED = "1964212"  # programs without their own CDE code share the district's code
ENTITIES = [
    {"entity_id": "prog_adult", "school_code": SHARED, "site_code": "A1", "name": "Adult Transition", "is_default": True},
    {"entity_id": "prog_infant", "school_code": SHARED, "site_code": "B2", "name": "Infant Program"},
    {"entity_id": "lincoln", "school_code": "6000001", "name": "Lincoln Elementary"},
]


def schools_of() -> dict[str, tuple]:
    return {r[0]: r[1:] for r in query("SELECT state_student_id, school_code, site_code, school_entity FROM core.students")}


def test_school_of_attendance_resolution(hub, landing):
    defs, instance = hub
    wh = Warehouse(os.environ["HUB_WAREHOUSE_URL"])
    ensure_tables(wh, [FEED])
    with wh.begin() as conn:
        replace_schools(conn, "abc_unified", ENTITIES)
    frame = synthetic_students(4, "1964212").assign(Designation="SPED")
    frame["SCH_CODE"], frame["SITE_CODE"] = [SHARED, SHARED, "6000001", "6999999"], ["", "B2", "", ""]
    ssid = list(frame["SSID"])
    drop(landing, "1964212_demographics_prev.csv", frame, age_seconds=7200)
    first = tick(defs, instance, SENSOR)
    assert [r.success for r in first.runs] == [True]
    assert schools_of() == {ssid[0]: (SHARED, None, "prog_adult"),  # shared code, no site: the default
                            ssid[1]: (SHARED, "B2", "prog_infant"),  # site code tells them apart
                            ssid[2]: ("6000001", None, "lincoln"),  # the only entity with that code
                            ssid[3]: (None, None, None)}  # unknown to the district's entities: held
    md = first.runs[0].asset_materializations_for_node("siras__student_updates")[0].metadata
    assert md["core.students rows skipped (school_code_unknown)"].value == 1

    frame["SCH_CODE"], frame["SITE_CODE"] = [SHARED, SHARED, SHARED, "6000001"], ["B2", "A1", "", ""]
    drop(landing, "1964212_demographics.csv", frame)
    assert [r.success for r in tick(defs, instance, SENSOR, cursor=first.cursor).runs] == [True]
    got = schools_of()
    assert got[ssid[0]] == (SHARED, None, "prog_adult")  # already has that code: nothing changes
    assert got[ssid[1]] == (SHARED, "B2", "prog_infant")  # an operator's choice among same-coded entities stays
    assert got[ssid[2]] == (SHARED, None, "prog_adult")  # moved to a shared code: the default
    assert got[ssid[3]] == ("6000001", None, "lincoln")
    fields = query("SELECT field FROM ops.field_audit WHERE action = 'update' AND field LIKE 'school%' ORDER BY 1")
    assert fields == [("school_code",), ("school_code",), ("school_entity",), ("school_entity",)]


def test_without_registered_entities_codes_apply_as_delivered(hub, landing):
    defs, instance = hub
    frame = synthetic_students(2, "1964212").assign(Designation="SPED", SCH_CODE=["6000002", "6999999"])
    drop(landing, "1964212_demographics.csv", frame)
    assert [r.success for r in tick(defs, instance, SENSOR).runs] == [True]
    assert sorted(v[0] for v in schools_of().values()) == ["6000002", "6999999"]


def test_a_shared_code_needs_exactly_one_default_entity(tmp_path):
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    ensure_tables(wh, [FEED])
    with wh.begin() as conn:
        replace_schools(conn, "abc_unified", ENTITIES)
    for defaults in ((False, False), (True, True)):
        shared = [{**e, "is_default": d} for e, d in zip(ENTITIES[:2], defaults)]
        with pytest.raises(ValueError, match=f"school code {SHARED} is shared by 2 entities and {sum(defaults)} are"):
            with wh.begin() as conn:
                replace_schools(conn, "abc_unified", [*shared, ENTITIES[2]])
    with wh.begin() as conn:  # the registered entities stay as they were
        assert conn.execute(sa.text("SELECT count(*) FROM core.schools WHERE is_default")).scalar_one() == 1
