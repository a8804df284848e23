"""EdReflect end to end through a drop folder with Dagster: a week of deltas, deprecated exports, a held day, the
legacy-id join tables as reference data, SLO status codes in any case."""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from dagster_project.definitions import build_definitions
from demo.edreflect_files import write_week
from feeds.edreflect.layout import DEPRECATED
from tests.conftest import CA_DISTRICTS, write_registry
from tests.harness import tick

SENSOR = "edreflect__deliveries"


def query(sql: str) -> list[tuple]:
    engine = sa.create_engine(os.environ["HUB_WAREHOUSE_URL"], poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]


def org_registry(tmp_path: Path, landing: Path, start_date: str = "2024-01-01") -> Path:
    return write_registry(tmp_path / "registry.yaml", CA_DISTRICTS, [{
        "id": "edreflect_abc", "district": "abc_unified", "feed": "edreflect", "source": "EdReflect",
        "destination": "hub", "transport": {"kind": "folder", "path": str(landing)}, "contact": {"role": "x"},
        "start_date": start_date, "quiet_period_seconds": 0, "holds": {"first_file": False}}])


def put(path: Path, text: str, mtime: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (mtime, mtime))


def test_week_of_deltas_applies_in_order(tmp_path: Path, hub_env: dict, caplog: pytest.LogCaptureFixture):
    landing = tmp_path / "landing"
    now = time.time()
    for name in DEPRECATED:  # the three exports BloomBoard no longer produces
        put(landing / name, "a,b\n1,2\n", now - 86_400)
    defs, instance = build_definitions(org_registry(tmp_path, landing)), dg.DagsterInstance.ephemeral()
    with caplog.at_level(logging.WARNING, logger="hub.intake.tick"):
        t = tick(defs, instance, SENSOR)
    assert t.reason("edreflect_abc") == "3 deprecated exports (skipped)" and not t.runs
    assert sorted(r.getMessage().rsplit(": ", 1)[1] for r in caplog.records) == sorted(DEPRECATED)
    assert query("SELECT count(*) FROM ops.deliveries")[0][0] == 0  # recognised, never received
    write_week(landing, days=3, now=now - 3 * 86_400)  # the last delivered day is 3 days ago
    t = tick(defs, instance, SENSOR)
    assert len(t.runs) == 4 and all(r.success for r in t.runs)  # 3 days + the join tables on the day received
    days = query("SELECT DISTINCT partition_date, status FROM ops.deliveries WHERE status IN ('applied', 'staged') "
                 "ORDER BY 1")
    assert [s for _, s in days] == ["applied"] * 4
    assert query("SELECT count(*) FROM edreflect.observations")[0][0] == 9
    assert query("SELECT count(*) FROM edreflect.legacy_id_map WHERE model = 'artifact'")[0][0] == 2
    # a day after a gap is held, naming the missing day
    last = dt.date.fromtimestamp(now - 3 * 86_400 - 60)  # write_week's last day (its folder's date)
    gap = tmp_path / "landing" / (last + dt.timedelta(days=2)).isoformat()  # the day between is missing, at any hour
    gap.mkdir()
    path = gap / "Goals.csv"
    path.write_text("goal_id,goal_status\nG900,active\n")
    os.utime(path, (now - 86_400, now - 86_400))
    run = tick(defs, instance, SENSOR).runs[0]
    assert run.success
    held = [m for m in run.asset_materializations_for_node("edreflect__changes")]
    assert "is missing" in str(held[0].metadata["held"].value)
    assert query("SELECT count(*) FROM edreflect.goals WHERE goal_id = 'G900'")[0][0] == 0


def test_identical_bytes_on_another_day_are_a_new_change_set(tmp_path: Path, hub_env: dict):
    """The same ids deleted on two days (re-created between): the second day's reference file must apply too (not a
    duplicate). A file without a date of its own (a *_modified_date file's date names its day, issue 17 item 8)."""
    landing = tmp_path / "landing"
    now = time.time()
    for n, age in enumerate((2, 1)):
        folder = landing / f"day{n}"
        folder.mkdir(parents=True)
        path = folder / "Goals_Deleted.csv"
        path.write_text("goal_id\nG1\n")
        os.utime(path, (now - age * 86_400, now - age * 86_400))
    registry = write_registry(tmp_path / "registry.yaml", CA_DISTRICTS, [{
        "id": "edreflect_abc", "district": "abc_unified", "feed": "edreflect", "source": "EdReflect",
        "destination": "hub", "transport": {"kind": "folder", "path": str(landing)}, "contact": {"role": "x"},
        "start_date": "2024-01-01", "quiet_period_seconds": 0}])
    t = tick(build_definitions(registry), dg.DagsterInstance.ephemeral(), SENSOR, execute=False)
    assert len(t.result.run_requests) == 2
    assert sorted(s for (s,) in query("SELECT status FROM ops.deliveries")) == ["queued", "queued"]


def test_legacy_id_tables_apply_whenever_received(tmp_path: Path, hub_env: dict):
    """export/all join tables are reference data: older than max_file_age_days and the start date, they still apply;
    they neither hold nor are held by the daily order; one arriving late with an old date starts no replay."""
    landing, now = tmp_path / "landing", time.time()
    old = now - 400 * 86_400
    put(landing / "export" / "all" / "user_ids.csv", "legacy_id,new_id\n77,E0001\n", old)
    put(landing / "export" / "all" / "organization_ids.csv", "legacy_id,new_id\n1,ORG1\n", old)
    put(landing / "export" / "all" / "user_group_ids.csv", "legacy_id,new_id\n1,ORG1\n", old)  # same bytes
    for age in (2, 1):
        put(landing / f"d{age}" / "Goals.csv", f"goal_id,goal_status\nG{age},active\n", now - age * 86_400)
    start = (dt.date.fromtimestamp(now) - dt.timedelta(days=10)).isoformat()
    defs, instance = build_definitions(org_registry(tmp_path, landing, start)), dg.DagsterInstance.ephemeral()
    t = tick(defs, instance, SENSOR)
    assert len(t.runs) == 3 and all(r.success for r in t.runs)
    assert sorted(s for (s,) in query("SELECT status FROM ops.deliveries")) == ["applied"] * 5
    assert query("SELECT legacy_model, new_id FROM edreflect.legacy_id_map ORDER BY 1") == [
        ("organization", "ORG1"), ("user", "E0001"), ("user_group", "ORG1")]
    assert query("SELECT goal_id FROM edreflect.goals ORDER BY 1") == [("G1",), ("G2",)]
    put(landing / "export" / "all" / "goal_ids.csv", "legacy_id,new_id\n9,G1\n", now - 90 * 86_400)  # late, old
    run = tick(defs, instance, SENSOR).runs[0]
    md = run.asset_materializations_for_node("edreflect__changes")[0].metadata
    assert run.success and md["replayed from the first day"].value is False and "held" not in md
    assert md["reference files applied"].value == 1
    assert query("SELECT count(*) FROM edreflect.legacy_ids")[0][0] == 4
    assert query("SELECT goal_id FROM edreflect.goals ORDER BY 1") == [("G1",), ("G2",)]


def test_slo_status_in_any_case_is_stored_in_the_spec_spelling(tmp_path: Path, hub_env: dict):
    landing, now = tmp_path / "landing", time.time()
    put(landing / "Slos.csv", "slo_id,slo_status\ns1,Approved\ns2,AWAITING APPROVAL\ns3,created\n", now - 86_400)
    defs = build_definitions(org_registry(tmp_path, landing))
    t = tick(defs, dg.DagsterInstance.ephemeral(), SENSOR)
    assert len(t.runs) == 1 and t.runs[0].success
    assert query("SELECT status FROM ops.deliveries") == [("applied",)]
    assert query("SELECT slo_id, slo_status FROM edreflect.slos ORDER BY 1") == [
        ("s1", "approved"), ("s2", "awaiting approval"), ("s3", "created")]


def test_two_versions_of_a_legacy_id_table_on_one_day_both_apply_in_the_order_received(tmp_path: Path,
                                                                                       hub_env: dict):
    landing, now = tmp_path / "landing", time.time()
    put(landing / "a" / "export" / "all" / "user_ids.csv", "legacy_id,new_id\n77,E0001\n78,E0002\n", now - 7200)
    put(landing / "b" / "export" / "all" / "user_ids.csv", "legacy_id,new_id\n78,E0009\n79,E0003\n", now - 3600)
    defs, instance = build_definitions(org_registry(tmp_path, landing)), dg.DagsterInstance.ephemeral()
    t = tick(defs, instance, SENSOR)  # both arrive in one tick
    assert t.runs and all(r.success for r in t.runs)
    assert query("SELECT status FROM ops.deliveries") == [("applied",), ("applied",)]
    assert query("SELECT legacy_id, new_id FROM edreflect.legacy_ids ORDER BY 1") == [
        ("77", "E0001"), ("78", "E0009"), ("79", "E0003")]  # 77 only the first had; 78 as the second says
