"""Holds on suspicious changes, on both warehouses: a delivery over one of its integration's hold rules is staged and
gated, then held (nothing applied; the partition fails with the reason and a preview of counts); a person approves
it (applied exactly once) or discards it (later deliveries proceed), from `hub holds` or the apply asset's run
config; a held delta day holds the days after it; a new integration's first file waits for approval with a preview
of its mapping."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from dagster_project.definitions import build_definitions
from demo.siras_files import students as synthetic_students
from feeds import FEEDS
from hub.cli.main import main
from hub.monitor.notices import Notice, delivery_notices
from hub.registry.loading import load_registry
from hub.registry.registry import RegistryError
from tests.conftest import CA_DISTRICTS, siras_integration, write_registry
from tests.harness import tick
from tests.test_edreflect_pipeline import put, query

DAY = 86_400


def hub(registry: Path, *args: str) -> int:
    return main(["holds", *args, "--registry", str(registry), "--warehouse", os.environ["HUB_WAREHOUSE_URL"]])


def decide_in_ui(defs: dg.Definitions, instance: dg.DagsterInstance, job: str, op: str, key: dg.AssetKey,
                 district: str, day: str, **config: str) -> dg.ExecuteInProcessResult:
    """What an operator does in the UI: materialize the apply asset's partition with a decision in its run config."""
    return defs.resolve_job_def(job).execute_in_process(
        instance=instance, partition_key=dg.MultiPartitionKey({"date": day, "district": district}),
        asset_selection=[key], run_config={"ops": {op: {"config": config}}}, raise_on_error=False)


def hold_check(run: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    return next(e for e in run.get_asset_check_evaluations() if e.check_name == "hold")


def held_notices(registry: Path) -> list[Notice]:
    engine = sa.create_engine(os.environ["HUB_WAREHOUSE_URL"], poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        notices = delivery_notices(conn, load_registry(registry, FEEDS), FEEDS, dt.datetime(2000, 1, 1))
    engine.dispose()
    return [n for n in notices if n.kind == "held"]


def goals(ids: range) -> str:
    return "goal_id,goal_status\n" + "".join(f"G{n:03d},active\n" for n in ids)


def deleted(ids: range) -> str:
    return "goal_id,goal_deleted_date\n" + "".join(f"G{n:03d},2026-01-05\n" for n in ids)


EDREFLECT = "edreflect__deliveries"
CHANGES = dg.AssetKey(["edreflect", "changes"])


@pytest.fixture
def org(tmp_path: Path, hub_env: dict):  # noqa: ANN201
    landing = tmp_path / "landing"
    registry = write_registry(tmp_path / "registry.yaml", CA_DISTRICTS, [{
        "id": "edreflect_abc", "district": "abc_unified", "feed": "edreflect", "source": "EdReflect",
        "destination": "hub", "transport": {"kind": "folder", "path": str(landing)}, "contact": {"role": "x"},
        "start_date": "2024-01-01", "quiet_period_seconds": 0, "holds": {"first_file": False}}])
    return build_definitions(registry), dg.DagsterInstance.ephemeral(), landing, registry


def test_a_delivery_deleting_a_fifth_of_a_table_is_held_approved_once_and_another_discarded(org, capsys):
    defs, instance, landing, registry = org
    now = time.time()
    put(landing / "d1" / "Goals.csv", goals(range(100)), now - 5 * DAY)
    assert [r.success for r in tick(defs, instance, EDREFLECT).runs] == [True]
    assert query("SELECT count(*) FROM edreflect.goals") == [(100,)]

    # day 2 would delete 20 of the 100 goals (over the 10% rule); day 3 comes after it
    put(landing / "d2" / "Goals_Deleted.csv", deleted(range(20)), now - 4 * DAY)
    put(landing / "d3" / "Goals.csv", goals(range(100, 101)), now - 3 * DAY)
    held_run, behind_run = tick(defs, instance, EDREFLECT).runs
    assert not held_run.success and behind_run.success
    assert query("SELECT count(*) FROM edreflect.goals") == [(100,)]  # nothing applied
    (held_id, day2, reason), = query("SELECT delivery_id, partition_date, reason FROM ops.deliveries "
                                     "WHERE status = 'held'")
    assert "edreflect.goals: 20 of 100 rows would be deleted (20%; the limit is 10%)" in reason
    check = hold_check(held_run)
    assert not check.passed and check.metadata["result"].value == reason
    preview = check.metadata["preview"].value
    assert "Table edreflect.goals: rows before 100, would create 0, would update 0, would delete 20" in preview
    failure = held_run.get_step_failure_events()[0].step_failure_data.error.message
    assert "held for approval" in failure and "nothing of this day was applied" in failure
    # the day after the held one waits behind it, as it would behind a missing day
    assert query("SELECT status, reason FROM ops.deliveries WHERE file_name = 'Goals.csv' AND status <> 'applied'") \
        == [("staged", f"held: the delivery of {day2} is held for approval")]
    assert not hold_check(behind_run).passed and hold_check(behind_run).severity == dg.AssetCheckSeverity.WARN
    # the held notice (hub/monitor/notices.py) carries the preview and how to decide
    notice, = [n for n in held_notices(registry) if n.delivery_id == held_id]
    assert "Table edreflect.goals: rows before 100" in notice.text() and f"hub holds approve {held_id}" in notice.text()

    assert hub(registry, "list") == 0
    listed = capsys.readouterr().out
    assert held_id in listed and "would delete 20" in listed and "1 hold(s) waiting" in listed
    assert hub(registry, "approve", held_id, "--by", "Pat Lee") == 0
    assert "1 delivery(ies) approved by Pat Lee; days applied: " in capsys.readouterr().out
    assert query("SELECT count(*) FROM edreflect.goals") == [(81,)]  # 20 deleted, G100 added
    assert hub(registry, "approve", held_id, "--by", "Sam Cho") == 0  # a second approve does nothing
    assert "already approved by Pat Lee" in capsys.readouterr().out
    assert query("SELECT count(*) FROM edreflect.goals") == [(81,)]
    assert query(f"SELECT count(*) FROM ops.delivery_events WHERE delivery_id = '{held_id}' AND status = 'applied'"
                 " AND moved") == [(1,)]  # applied exactly once
    assert query(f"SELECT decision, decided_by FROM ops.holds WHERE delivery_id = '{held_id}'") == [
        ("approved", "Pat Lee")]
    assert query(f"SELECT action, old_value, new_value, source_file FROM ops.field_audit WHERE delivery_id = "
                 f"'{held_id}' AND entity = 'ops.deliveries'") == [
        ("hold decision", "held", "approved", "hub holds approve (by Pat Lee)")]

    # another deletion (20 of 81), discarded from the UI: nothing of it applied, the next day proceeds
    put(landing / "d4" / "Goals_Deleted.csv", deleted(range(20, 40)), now - 2 * DAY)
    put(landing / "d5" / "Goals.csv", goals(range(101, 102)), now - DAY)
    assert [r.success for r in tick(defs, instance, EDREFLECT).runs] == [False, True]
    (other, day4), = query("SELECT delivery_id, partition_date FROM ops.deliveries WHERE status = 'held'")
    run = decide_in_ui(defs, instance, "edreflect_import", "edreflect__changes", CHANGES, "abc_unified", day4,
                       decision="discard", delivery_id=other, by="Sam Cho")
    assert run.success
    assert "discarded by Sam Cho" in str(hold_check(run).metadata["result"].value)
    assert query(f"SELECT status FROM ops.deliveries WHERE delivery_id = '{other}'") == [("discarded",)]
    assert query("SELECT count(*) FROM edreflect.goals") == [(82,)]  # none deleted, G101 added
    assert query("SELECT count(*) FROM ops.deliveries WHERE status NOT IN ('applied', 'discarded')") == [(0,)]


SIRAS = "siras__deliveries"
UPDATES = dg.AssetKey(["siras", "student_updates"])


def drop(landing: Path, name: str, frame, age: float) -> None:  # noqa: ANN001
    path = landing / name
    frame.to_csv(path, index=False)
    os.utime(path, (time.time() - age, time.time() - age))


def test_first_file_of_a_new_integration_waits_for_approval_with_its_mapping(tmp_path: Path, hub_env: dict):
    landing = tmp_path / "landing"
    landing.mkdir()
    registry = write_registry(tmp_path / "registry.yaml", CA_DISTRICTS, [siras_integration(
        {"kind": "folder", "path": str(landing)}, holds={}, value_maps={"grade": {"K": "KN"}})])
    defs, instance = build_definitions(registry), dg.DagsterInstance.ephemeral()
    frame = synthetic_students(8, "1964212").assign(Designation="SPED", GRADE="K", Locker="12")
    drop(landing, "1964212_demographics.csv", frame, 600)
    run, = tick(defs, instance, SIRAS).runs
    assert not run.success
    assert query("SELECT count(*) FROM core.students") == [(0,)]
    (did, reason, preview), = query("SELECT d.delivery_id, d.reason, h.preview FROM ops.deliveries d JOIN ops.holds h "
                                    "ON h.delivery_id = d.delivery_id WHERE d.status = 'held'")
    assert reason == "held for approval: the first delivery of a new integration: review its mapping, then approve"
    preview = json.loads(preview)
    mapping = preview["mapping"]["demographics"]
    assert mapping["header -> column"]["SSID"] == "ssid" and mapping["headers dropped"] == ["Locker"]
    assert mapping["codes mapped"] == {"grade": {"K": "KN"}} and mapping["row errors"] == 0
    assert preview["tables"]["core.students"]["would create"] == 8
    text = hold_check(run).metadata["preview"].value
    assert "Mapping demographics: " in text and "SSID -> ssid" in text and "headers dropped: Locker" in text
    assert not any(v in text + json.dumps(preview) for v in frame["SSID"])  # counts and names, never values

    run = decide_in_ui(defs, instance, "siras_import", "siras__student_updates", UPDATES, "abc_unified",
                       query(f"SELECT partition_date FROM ops.deliveries WHERE delivery_id = '{did}'")[0][0],
                       decision="approve", delivery_id=did, by="Pat Lee")
    assert run.success and hold_check(run).passed
    assert "approved by Pat Lee" in str(hold_check(run).metadata["result"].value)
    assert query("SELECT count(*), min(grade) FROM core.students") == [(8, "KN")]
    # nightly processing runs once the first file is approved: the next file applies without a hold
    drop(landing, "1964212_demographics.csv", frame.assign(GRADE="01"), 0)
    assert [r.success for r in tick(defs, instance, SIRAS).runs] == [True]
    assert query("SELECT count(*) FROM core.students WHERE grade = '01'") == [(8,)]


def test_a_snapshot_updating_most_rows_or_much_smaller_than_usual_is_held(tmp_path: Path, hub_env: dict, capsys):
    landing = tmp_path / "landing"
    landing.mkdir()
    registry = write_registry(tmp_path / "registry.yaml", CA_DISTRICTS, [siras_integration(
        {"kind": "folder", "path": str(landing)}, holds={"first_file": False, "size_history": 3})])
    defs, instance = build_definitions(registry), dg.DagsterInstance.ephemeral()
    name, frame = "1964212_demographics.csv", synthetic_students(60, "1964212").assign(Designation="SPED", GRADE="05")

    def deliver(f) -> bool:  # noqa: ANN001
        drop(landing, name, f, 0)
        return [r.success for r in tick(defs, instance, SIRAS).runs] == [True]

    assert deliver(frame)
    regraded = frame.assign(GRADE=["06"] * 50 + ["05"] * 10)  # 50 of 60 students updated: over 75%
    assert not deliver(regraded)
    (did, reason), = query("SELECT delivery_id, reason FROM ops.deliveries WHERE status = 'held'")
    assert "core.students: 50 of 60 rows would be updated (83%; the limit is 75%)" in reason
    assert hub(registry, "discard", did, "--by", "Pat Lee") == 0
    assert "1 delivery(ies) discarded by Pat Lee" in capsys.readouterr().out
    assert query("SELECT count(*) FROM core.students WHERE grade = '05'") == [(60,)]  # nothing of it applied
    assert deliver(frame.assign(GRADE=["07"] * 5 + ["05"] * 55))  # later deliveries proceed
    assert deliver(frame.assign(GRADE=["08"] * 3 + ["05"] * 57))
    assert not deliver(frame.head(20))  # 20 rows where the last 3 applied files had 60
    (reason,), = query("SELECT reason FROM ops.deliveries WHERE status = 'held'")
    assert reason == ("held for approval: demographics: 20 rows, under 50% of the usual 60 (the median of its last 3 "
                      "deliveries)")


def test_hold_rules_come_from_the_feed_unless_the_integration_sets_them(tmp_path: Path):
    def entry(feed: str, **extra: object) -> dict:
        return {"id": f"{feed}_abc", "district": "abc_unified", "feed": feed, "source": "x", "destination": "hub",
                "transport": {"kind": "folder", "path": str(tmp_path)}, "contact": {"role": "x"},
                "start_date": "2024-01-01", **extra}

    registry = load_registry(write_registry(tmp_path / "r.yaml", CA_DISTRICTS, [
        entry("edreflect", holds={"deleted": 0.2}), entry("siras")]), FEEDS)
    edreflect, siras = registry.integrations
    assert (edreflect.holds.deleted, edreflect.holds.updated, edreflect.holds.smaller_than_median) == (0.2, 0.75, None)
    assert (siras.holds.first_file, siras.holds.deleted, siras.holds.smaller_than_median) == (True, 0.1, 0.5)
    with pytest.raises(RegistryError, match="integration 'siras_abc' field 'holds.deleted'"):
        load_registry(write_registry(tmp_path / "r.yaml", CA_DISTRICTS, [entry("siras", holds={"deleted": 1.5})]),
                      FEEDS)
