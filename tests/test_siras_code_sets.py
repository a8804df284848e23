"""SIRAS columns the spec marks "CALPADS code value" are checked against the CALPADS code sets
(feeds/siras/calpads_codes.py); a district's spellings are mapped with the registry's value_maps; the demo passes."""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest

from dagster_project.definitions import build_definitions
from demo.siras_files import students as synthetic_students
from feeds.siras import FEED
from hub.read.parsing import ROW
from hub.load.validation import build_schema, prepare_chunk
from tests.conftest import CA_DISTRICTS, siras_integration, write_registry
from tests.harness import tick
from tests.test_siras_pipeline import SENSOR, drop, query

DEMOGRAPHICS = FEED.file_type_for("1964212_demographics.csv")
CASES = {  # column: (accepted, refused)
    "ethnicity": (["Y", "N", "y", ""], ["Yes", "H", "Hispanic", "1"]),
    "race1": (["100", "201", "208", "299", "304", "399", "400", "600", "700"], ["200", "500", "999", "White", "7"]),
    "race3": (["205", ""], ["800"]),
    "native_language": (["00", "01", "82", "99", "UU", "A9", "eng", "SPA", "yue", "mis", "sgn"],
                        ["1", "14", "ZZ", "Spanish", "es", "QQQ"]),
    "residential_status": (["100", "A", ""], ["Foster Home", "with parents"]),
    "school_type": (["60", "PUB1"], ["Public School", "12345"]),
}


def errors(column: str, values: list[str], value_maps: dict | None = None) -> tuple[list[str], list[int]]:
    chunk = pd.DataFrame({ROW: range(2, 2 + len(values)), column: values})
    out, errs = prepare_chunk(DEMOGRAPHICS, chunk, build_schema(DEMOGRAPHICS), ("YYYYMMDD",), value_maps or {})
    assert {e.column for e in errs} <= {column}
    return list(out[column]), [e.row_number for e in errs]


@pytest.mark.parametrize("column", sorted(CASES))
def test_calpads_code_columns_accept_the_code_set_and_refuse_anything_else(column):
    accepted, refused = CASES[column]
    assert errors(column, accepted)[1] == []
    assert errors(column, refused)[1] == list(range(2, 2 + len(refused)))


def test_value_maps_turn_a_districts_spellings_into_calpads_codes():
    maps = {"ethnicity": {"Yes": "Y", "No": "N"}, "race1": {"999": ""}, "native_language": {"1": "01", "0": "00"}}
    assert errors("ethnicity", ["Yes", "no"], maps) == (["Y", "N"], [])
    assert errors("race1", ["999", "700"], maps) == (["", "700"], [])  # declined: blank, not a code
    assert errors("native_language", ["1", "0", "spa"], maps) == (["01", "00", "SPA"], [])


def test_the_demo_files_pass():
    frame = synthetic_students(500, "1964212").rename(columns=str.lower).rename(columns={
        "nativ_lang": "native_language", "sch_code": "school_code", "dist_resi": "district_of_residence",
        "local_id": "local_student_id"})
    frame.insert(0, ROW, range(2, 2 + len(frame)))
    _, errs = prepare_chunk(DEMOGRAPHICS, frame, build_schema(DEMOGRAPHICS), FEED.date_formats, {})
    assert errs == []


def test_a_file_with_a_non_calpads_code_is_rejected_and_mapped_spellings_apply(tmp_path, landing, hub_env):
    registry = write_registry(tmp_path / "registry.yaml", CA_DISTRICTS, [siras_integration(
        {"kind": "folder", "path": str(landing)}, value_maps={"ethnicity": {"Yes": "Y", "No": "N"}})])
    defs, instance = build_definitions(registry), dg.DagsterInstance.ephemeral()
    frame = synthetic_students(4, "1964212").assign(Designation="SPED", ETHNICITY=["Yes", "No", "Yes", "No"])
    bad = frame.assign(RACE1=["100", "200", "600", "700"])  # 200 is a reporting group, not a CALPADS race code
    drop(landing, "1964212_demographics.csv", bad, age_seconds=600)
    first = tick(defs, instance, SENSOR)
    assert [r.success for r in first.runs] == [False]
    assert query("SELECT row_number, column_name FROM ops.row_errors") == [(3, "race1")]
    drop(landing, "1964212_demographics.csv", frame)
    assert [r.success for r in tick(defs, instance, SENSOR, cursor=first.cursor).runs] == [True]
    assert query("SELECT ethnicity, count(*) FROM core.students GROUP BY 1 ORDER BY 1") == [("N", 2), ("Y", 2)]
