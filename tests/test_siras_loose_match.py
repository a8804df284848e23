"""SIRAS loose matching ("Update Identifying Data"): off by default, threshold configurable, every match audited."""

from __future__ import annotations

import dagster as dg
import pytest

from dagster_project.definitions import build_definitions
from demo.siras_files import students as synthetic_students
from feeds.siras.loose_match import score
from tests.conftest import CA_DISTRICTS, siras_integration, write_registry
from tests.harness import tick
from tests.test_siras_pipeline import SENSOR, drop, query


def test_name_score_ignores_case_punctuation_and_order():
    assert score("Mary-Ann", "O'Brien", "mary ann", "OBrien") < 100
    assert score("Sofia", "Garcia", "GARCIA", "sofia") == 100
    assert score("Jose", "Nunez", "Josue", "Nunez") >= 90 > score("Jose", "Nunez", "Maria", "Lopez")


def loose_hub(tmp_path, landing, threshold: float):  # noqa: ANN001, ANN201
    options = {"loose_matching": True, "loose_match_threshold": threshold}
    path = write_registry(tmp_path / "registry.yaml", CA_DISTRICTS,
                          [siras_integration({"kind": "folder", "path": str(landing)}, options=options)])
    return build_definitions(path), dg.DagsterInstance.ephemeral()


def people() -> "pd.DataFrame":  # noqa: F821
    frame = synthetic_students(4, "1964212").assign(Designation="SPED", GENDER="F")
    frame["FIRST_NAME"], frame["LAST_NAME"] = ["Sofia", "Jose", "Camila", "Priya"], ["Garcia", "Nunez", "Lopez", "Patel"]
    frame["BIRTHDATE"] = ["20120101", "20120202", "20120303", "20120303"]
    return frame


@pytest.mark.parametrize("threshold", [90.0, 100.0])
def test_loose_matches_update_identifying_fields(tmp_path, landing, hub_env, threshold):
    defs, instance = loose_hub(tmp_path, landing, threshold)
    frame = people()
    drop(landing, "1964212_demographics_prev.csv", frame, age_seconds=7200)
    first = tick(defs, instance, SENSOR)
    key = dict(query("SELECT state_student_id, student_key FROM core.students"))
    changed = frame.copy()
    changed.loc[0, ["SSID", "LOCAL_ID"]] = ["1999999999", "0424242"]  # SSID corrected in the SIS
    changed.loc[1, "FIRST_NAME"] = "Josue"  # spelling corrected, score about 89-95
    changed.loc[2, "LAST_NAME"] = "Smith"  # a different person's name on that SSID: no change
    changed.loc[3, ["SSID", "FIRST_NAME", "LAST_NAME"]] = ["1888888888", "Minh", "Tran"]  # another person, same birthdate
    drop(landing, "1964212_demographics.csv", changed)
    run = tick(defs, instance, SENSOR, cursor=first.cursor).runs[0]
    assert run.success
    got = {k: v for k, *v in query("SELECT student_key, state_student_id, local_student_id, first_name, last_name "
                                   "FROM core.students")}
    assert got[key[frame.loc[0, "SSID"]]] == ["1999999999", "0424242", "Sofia", "Garcia"]
    assert got[key[frame.loc[2, "SSID"]]][3] == "Lopez"
    assert got[key[frame.loc[3, "SSID"]]][0] == frame.loc[3, "SSID"]
    audits = query("SELECT entity_key, new_value FROM ops.field_audit WHERE action = 'loose_match' ORDER BY new_value")
    josue = score("Jose", "Nunez", "Josue", "Nunez")
    if threshold == 100.0:
        assert got[key[frame.loc[1, "SSID"]]][2] == "Jose" and audits == [(key[frame.loc[0, "SSID"]], "100.0")]
    else:
        assert got[key[frame.loc[1, "SSID"]]][2] == "Josue"
        assert sorted(audits) == sorted([(key[frame.loc[0, "SSID"]], "100.0"), (key[frame.loc[1, "SSID"]], f"{josue:.1f}")])
    md = run.asset_materializations_for_node("siras__student_updates")[0].metadata
    assert md["core.students (loose matches) rows updated"].value == len(audits)
    assert query("SELECT count(*) FROM core.students")[0][0] == 5  # only the other person is new


def test_loose_matching_is_off_by_default():
    from feeds.siras.rules import SirasOptions
    assert SirasOptions().loose_matching is False and SirasOptions().loose_match_threshold == 90.0
