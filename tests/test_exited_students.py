"""Exited students, on both warehouses: `hub students exit` marks them inactive with the reason (audited), SIRAS
files leave them untouched (no update, no loose match) and count them, the SIS gets them as CSV with reasons, and
`hub students reactivate` makes them updatable again. The command prints counts, never an SSID."""

from __future__ import annotations

import csv
import datetime as dt
import os
from pathlib import Path

import dagster as dg
import pytest

from dagster_project.definitions import build_definitions
from demo.siras_files import students as synthetic_students
from hub.cli.main import main
from tests.conftest import CA_DISTRICTS, siras_integration, write_registry
from tests.harness import tick
from tests.test_siras_pipeline import drop, query

SENSOR = "siras__deliveries"


@pytest.fixture
def siras(tmp_path: Path, hub_env: dict):  # noqa: ANN201
    landing = tmp_path / "landing"
    landing.mkdir()
    path = write_registry(tmp_path / "registry.yaml", CA_DISTRICTS, [siras_integration(
        {"kind": "folder", "path": str(landing)}, options={"loose_matching": True, "loose_match_threshold": 80})])
    return build_definitions(path), dg.DagsterInstance.ephemeral(), landing, path


def hub(registry: Path, *args: str) -> int:
    return main(["students", *args, "--district", "abc_unified", "--registry", str(registry),
                 "--warehouse", os.environ["HUB_WAREHOUSE_URL"]])


def grades() -> dict[str, str]:
    return dict(query("SELECT state_student_id, grade FROM core.students"))


def test_exited_students_are_left_untouched_counted_exported_and_reactivated(siras, tmp_path, capsys):
    defs, instance, landing, registry = siras
    frame = synthetic_students(6, "1964212").assign(Designation="SPED", GRADE="05")
    drop(landing, "1964212_demographics.csv", frame, age_seconds=600)
    assert [r.success for r in tick(defs, instance, SENSOR).runs] == [True]
    ssid = list(frame["SSID"])

    assert hub(registry, "exit", "--ssid", ssid[0], "--ssid", ssid[1], "--reason", "exited", "--by", "Pat Lee") == 0
    assert hub(registry, "exit", "--ssid", ssid[2], "--ssid", "9999999999", "--reason", "not_eligible",
               "--by", "Pat Lee") == 1  # one SSID the district does not have
    out = capsys.readouterr().out
    assert "1 student(s) now not_eligible, 0 already not_eligible, 1 SSID(s) not found" in out
    assert not any(s in out for s in [*ssid, "9999999999"])
    audit = query("SELECT old_value, new_value, source_file FROM ops.field_audit WHERE field = 'status' "
                  "ORDER BY new_value")
    assert audit == [("active", "exited", "hub students exit (by Pat Lee)")] * 2 + [
        ("active", "not_eligible", "hub students exit (by Pat Lee)")]

    changed = frame.assign(GRADE="12")
    changed.loc[0, "FIRST_NAME"] = changed.loc[0, "FIRST_NAME"] + "a"  # a loose match if the student were active
    changed.loc[3, "FIRST_NAME"] = changed.loc[3, "FIRST_NAME"] + "a"
    drop(landing, "1964212_demographics_2.csv", changed, age_seconds=0)
    t = tick(defs, instance, SENSOR)
    assert [r.success for r in t.runs] == [True]
    assert grades() == {**{s: "05" for s in ssid[:3]}, **{s: "12" for s in ssid[3:]}}
    names = dict(query("SELECT state_student_id, first_name FROM core.students"))
    assert names[ssid[0]] == frame.loc[0, "FIRST_NAME"] and names[ssid[3]] == changed.loc[3, "FIRST_NAME"]
    md = t.runs[0].asset_materializations_for_node("siras__student_updates")[0].metadata
    assert md["core.students rows skipped (inactive)"].value == 3
    assert md["core.students (loose matches) rows updated"].value == 1  # only the active student's name

    export = tmp_path / "inactive.csv"
    assert hub(registry, "inactive", "-o", str(export)) == 0
    rows = list(csv.DictReader(export.open(encoding="utf-8")))
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    assert [(r["ssid"], r["inactive_reason"], r["inactive_since"]) for r in rows] == [
        (ssid[0], "exited", today), (ssid[1], "exited", today), (ssid[2], "not_eligible", today)]
    assert rows[0]["local_student_id"] == frame.loc[0, "LOCAL_ID"]

    assert hub(registry, "reactivate", "--ssid", ssid[0], "--by", "Pat Lee") == 0
    drop(landing, "1964212_demographics_3.csv", changed.assign(GRADE="11"), age_seconds=0)
    assert [r.success for r in tick(defs, instance, SENSOR).runs] == [True]
    assert grades() == {ssid[0]: "11", ssid[1]: "05", ssid[2]: "05", **{s: "11" for s in ssid[3:]}}
    assert hub(registry, "exit", "--reason", "exited", "--by", "Pat Lee") == 2  # no SSID given: usage error
