"""SIRAS rules: grade code maps per SIS, EL_TYPE codes, inactive students, 504 designation by file or column."""

from __future__ import annotations

import os

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from dagster_project.definitions import build_definitions
from demo.siras_files import students as synthetic_students
from feeds.siras import FEED
from hub.read.parsing import ROW
from hub.load.validation import build_schema, prepare_chunk
from tests.conftest import CA_DISTRICTS, siras_integration, write_registry
from tests.harness import tick
from tests.test_siras_pipeline import SENSOR, drop, hub, query  # noqa: F401  (fixtures)

DEMOGRAPHICS = FEED.files[1]
# Each SIS's spellings of the early-childhood and ungraded levels, as declared in a registry's value_maps.
GRADE_MAPS = {
    "aeries": {"0": "KN", "-1": "TK", "-2": "PS", "-3": "IN", "14": "UG", **{str(g): f"{g:02d}" for g in range(1, 13)}},
    "powerschool": {"0": "KN", "-1": "TK", "-2": "PS", "99": "UG", "1": "01", "9": "09"},
    "synergy": {"K": "KN", "KG": "KN", "TK": "TK", "PK": "PS", "INF": "IN", "UNG": "UG"},
}


def prepared(column: str, values: list[str], value_maps: dict | None = None) -> tuple[list[str], list[tuple]]:
    chunk = pd.DataFrame({ROW: range(2, 2 + len(values)), column: values})
    out, errs = prepare_chunk(DEMOGRAPHICS, chunk, build_schema(DEMOGRAPHICS), ("YYYYMMDD",), value_maps or {})
    return list(out[column]), [(e.row_number, e.column) for e in errs]


@pytest.mark.parametrize("sis", sorted(GRADE_MAPS))
def test_grade_maps_apply_before_validation(sis):
    spellings = list(GRADE_MAPS[sis])
    got, errs = prepared("grade", spellings + ["05", "12"], {"grade": GRADE_MAPS[sis]})
    assert errs == [] and got == [GRADE_MAPS[sis][s] for s in spellings] + ["05", "12"]
    _, unmapped = prepared("grade", ["0", "-1", "K", "KG"])  # without the map these are not CALPADS codes
    assert unmapped == [(2, "grade"), (3, "grade"), (4, "grade"), (5, "grade")]


def test_el_type_accepts_exactly_the_five_codes():
    got, errs = prepared("el_type", ["EL", "EO", "IFEP", "RFEP", "TBD", "", "rfep"])
    assert errs == [] and got == ["EL", "EO", "IFEP", "RFEP", "TBD", "", "RFEP"]  # codes compare upper-cased
    _, bad = prepared("el_type", ["LEP", "FEP", "R-FEP", "ELL", "EL/EO"])
    assert bad == [(r, "el_type") for r in range(2, 7)]


def test_sch_code_must_be_seven_digits():
    _, errs = prepared("school_code", ["6000001", "600001", "60000011", "600000A", ""])
    assert errs == [(3, "school_code"), (4, "school_code"), (5, "school_code")]


@pytest.fixture
def aeries_hub(tmp_path, landing, hub_env):  # noqa: ANN001, ANN201
    path = write_registry(tmp_path / "registry.yaml", CA_DISTRICTS, [siras_integration(
        {"kind": "folder", "path": str(landing)}, value_maps={"grade": GRADE_MAPS["aeries"]})])
    return build_definitions(path), dg.DagsterInstance.ephemeral()


def test_grade_map_from_registry_end_to_end(aeries_hub, landing):
    defs, instance = aeries_hub
    frame = synthetic_students(5, "1964212").assign(Designation="SPED", GRADE=["0", "-1", "-2", "3", "14"])
    drop(landing, "1964212_demographics.csv", frame)
    assert [r.success for r in tick(defs, instance, SENSOR).runs] == [True]
    assert [g for (g,) in query("SELECT grade FROM core.students ORDER BY state_student_id")] == ["KN", "TK", "PS", "03", "UG"]


@pytest.mark.parametrize("status", ["exited", "not_eligible", "inactive"])
def test_students_inactive_in_the_hub_are_never_updated(hub, landing, status):
    defs, instance = hub
    frame = synthetic_students(3, "1964212").assign(Designation="SPED", GRADE="05", EL_TYPE="EL")
    drop(landing, "1964212_demographics_prev.csv", frame, age_seconds=7200)
    first = tick(defs, instance, SENSOR)
    engine = sa.create_engine(os.environ["HUB_WAREHOUSE_URL"], poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE core.students SET status = :st WHERE state_student_id = :s"),
                     {"st": status, "s": frame.loc[1, "SSID"]})
    drop(landing, "1964212_demographics.csv", frame.assign(GRADE="06", EL_TYPE="RFEP", MIDDLE_NAME="Changed"))
    run = tick(defs, instance, SENSOR, cursor=first.cursor).runs[0]
    assert run.success
    got = dict(query("SELECT state_student_id, grade || el_type || COALESCE(middle_name, '') FROM core.students"))
    assert got[frame.loc[1, "SSID"]] == "05EL" + frame.loc[1, "MIDDLE_NAME"]
    assert got[frame.loc[0, "SSID"]] == got[frame.loc[2, "SSID"]] == "06RFEPChanged"
    assert query("SELECT count(*) FROM ops.field_audit WHERE action = 'update' AND entity_key = "
                 "(SELECT student_key FROM core.students WHERE status = :st)", st=status)[0][0] == 0


def test_504_records_come_only_from_designated_files_or_rows(hub, landing):
    defs, instance = hub
    sped = synthetic_students(4, "1964212").assign(Designation=["SPED", "504", "", ""])
    plan504 = synthetic_students(3, "1964212", start=100).drop(columns=["Designation"])
    drop(landing, "1964212_demographics.csv", sped)
    drop(landing, "1964212_demographics_504.csv", plan504)
    run = tick(defs, instance, SENSOR).runs
    assert [r.success for r in run] == [True]
    got = dict(query("SELECT state_student_id, designation FROM core.students"))
    assert got == {sped.loc[0, "SSID"]: "SPED", sped.loc[1, "SSID"]: "504", **{s: "504" for s in plan504["SSID"]}}


def test_undesignated_file_updates_but_never_creates(hub, landing):
    defs, instance = hub
    frame = synthetic_students(3, "1964212").drop(columns=["Designation"])
    drop(landing, "1964212_demographics.csv", frame)
    run = tick(defs, instance, SENSOR).runs[0]
    assert run.success and query("SELECT count(*) FROM core.students")[0][0] == 0
    md = run.asset_materializations_for_node("siras__student_updates")[0].metadata
    assert md["core.students rows skipped (not_created)"].value == 3
