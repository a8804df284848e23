"""Florida PEER and Focus roster end to end on PostgreSQL: roster -> PEER files -> students' fields and logs."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from dagster_project.definitions import build_definitions
from demo.peer_files import fleid
from feeds import FEEDS
from hub.intake.fetch import fetch_config
from tests.conftest import write_registry
from tests.harness import rematerialize, tick

FL = [{"id": "broward", "name": "Broward County Public Schools", "state": "FL", "nces_leaid": "1200180",
       "state_district_id": "06", "timezone": "America/New_York"}]
SSH_KEY = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
IDS = list(fleid(pd.Series(range(1, 7)).to_numpy()))  # 1 regular, 2 excluded school, 3 withdrawn, 4, 5, 6 regular
ENV = ("custom_863", "custom_878", "custom_879")


def integration(feed: str, transport: dict) -> dict:
    return {"id": f"{feed}_broward", "district": "broward", "feed": feed, "source": "FLDOE / Focus",
            "destination": "Focus student fields", "transport": transport, "contact": {"role": "ESE data"},
            "start_date": "2024-01-01", "quiet_period_seconds": 0, "holds": {"first_file": False}}


def query(sql: str, **params: object) -> list[tuple]:
    engine = sa.create_engine(os.environ["HUB_WAREHOUSE_URL"], poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        result = conn.execute(sa.text(sql), params)
        return [tuple(r) for r in result] if result.returns_rows else []


def drop(folder: Path, name: str, frame: pd.DataFrame, age_seconds: float = 0) -> None:
    """A file modified `age_seconds` ago (default now: after any import before it, as a new upload is)."""
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / name, index=False)
    os.utime(folder / name, (time.time() - age_seconds,) * 2)


@pytest.fixture
def hub(tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[dg.Definitions, dg.DagsterInstance, Path]:
    monkeypatch.setenv("HUB_WAREHOUSE_URL", pg_url)
    monkeypatch.setenv("HUB_ARCHIVE_DIR", str(tmp_path / "archive"))
    registry = write_registry(tmp_path / "registry.yaml", FL, [
        integration("focus_roster", {"kind": "folder", "path": str(tmp_path / "roster")}),
        integration("peer", {"kind": "folder", "path": str(tmp_path / "peer")})])
    defs, instance = build_definitions(registry), dg.DagsterInstance.ephemeral()
    students = pd.DataFrame({"STDT_ID": [f"{n:010d}" for n in range(1, 7)], "FLEID": IDS, "LAST_NAME": "Doe"})
    enrollment = pd.DataFrame({"SCHOOL_ID": ["0011", "3518", "0011", "0021", "0011", "0011"],
                               "STUDENT_ID": students["STDT_ID"], "START_DATE": "2024-08-10",
                               "END_DATE": ["", "", "2024-09-30", "", "", ""]})
    drop(tmp_path / "roster", "06_students.csv", students)
    drop(tmp_path / "roster", "06_student_enrollment.csv", enrollment)
    assert all(r.success for r in tick(defs, instance, "focus_roster__deliveries").runs)
    return defs, instance, tmp_path / "peer"


def ese(**changes: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame({"FLEID": IDS, "PRIMARY_EXCEPTIONALITY": "K", "OTHER_EXCEPTIONALITIES": "FZZZZZZZZ",
                          "IDEA_ENVIRONMENT": "Z", "TIME_TOTAL_WEEK": "1800", "TIME_NON_DISABLED": "1500",
                          "PLAN_DATE": "09152024", "EXPIRATION_DATE": "09142025", "PLACEMENT_STATUS": "P"})
    return frame.assign(**changes)


def accommodations(rows: list[tuple[int, str]]) -> pd.DataFrame:
    return pd.DataFrame([(IDS[n], "ESE", "CLASSROOM", a) for n, a in rows],
                        columns=["FLEID", "PROGRAM", "SETTING", "ACCOMMODATION"])


def deliver(defs: dg.Definitions, instance: dg.DagsterInstance, folder: Path, age: float, ese_frame: pd.DataFrame,
            acc: pd.DataFrame, stamp: str) -> dg.ExecuteInProcessResult:
    drop(folder, f"06_PEER_ESE_{stamp}.csv", ese_frame, age)
    drop(folder, f"06_PEER_ACCOM_{stamp}.csv", acc, age)
    runs = tick(defs, instance, "peer__deliveries").runs
    assert [r.success for r in runs] == [True]
    return runs[0]


def fields(student: int) -> dict[str, str]:
    return dict(query("SELECT f.field_id, f.value FROM core.student_fields f JOIN core.students s ON s.student_key = "
                      "f.student_key WHERE s.state_student_id = :s", s=IDS[student]))


def logs(student: int) -> list[tuple[str, str]]:
    return query("SELECT l.field_id, l.value FROM core.student_field_logs l JOIN core.students s ON s.student_key = "
                 "l.student_key WHERE s.state_student_id = :s ORDER BY 1, 2", s=IDS[student])


def snapshot() -> tuple:
    return (query("SELECT * FROM core.student_fields ORDER BY 1, 2, 3"),
            query("SELECT district_id, student_key, field_id, value FROM core.student_field_logs ORDER BY 1, 2, 3, 4"),
            query("SELECT count(*) FROM ops.field_audit"))


def test_roster_sets_status_and_primary_school(hub):
    assert query("SELECT state_student_id, school_code, status FROM core.students ORDER BY 1")[:3] == [
        (IDS[0], "0011", "active"), (IDS[1], "3518", "active"), (IDS[2], None, "inactive")]


def test_fields_import_only_for_eligible_students_and_are_audited(hub):
    defs, instance, folder = hub
    first = deliver(defs, instance, folder, 60, ese(), accommodations([(0, "EXT_TIME")]), "A")
    assert fields(0) == {"custom_863": "Z", "custom_878": "1800", "custom_879": "1500", "custom_864": "K",
                         "custom_873": "2024-09-15", "custom_940": "2025-09-14", "custom_875": "P"}
    assert logs(0) == [("custom_l880", "F"), ("custom_l885", "EXT_TIME")]
    assert fields(1) == {} and logs(1) == []  # excluded school 3518 untouched
    assert fields(2) == {} and logs(2) == []  # withdrawn (inactive) student untouched
    audit = query("SELECT entity, action, count(*) FROM ops.field_audit WHERE entity LIKE 'core.student_field%' "
                  "GROUP BY 1, 2 ORDER BY 1, 2")
    assert audit == [("core.student_field_logs", "create", 5), ("core.student_fields", "create", 28)]
    md = first.asset_materializations_for_node("peer__student_fields")[0].metadata
    assert md["core.student_fields rows skipped (inactive or excluded school)"].value == 2
    staged = first.asset_materializations_for_node("peer__ese")[0].metadata
    assert staged["staging.peer__ese rows inserted"].value == 6 and "seconds" in staged


def test_excluded_and_inactive_students_keep_existing_records(hub):
    defs, instance, folder = hub
    query("INSERT INTO core.student_field_logs SELECT district_id, student_key, 'custom_l885', 'OLD', NULL, now() "
          "FROM core.students WHERE state_student_id IN (:a, :b)", a=IDS[1], b=IDS[2])
    deliver(defs, instance, folder, 60, ese(), accommodations([(0, "EXT_TIME")]), "A")
    assert logs(1) == [("custom_l885", "OLD")] and logs(2) == [("custom_l885", "OLD")]
    query("UPDATE core.students SET status = 'inactive' WHERE state_student_id = :s", s=IDS[0])
    deliver(defs, instance, folder, 0, ese(TIME_TOTAL_WEEK="1700"), accommodations([]), "B")
    assert fields(0)["custom_878"] == "1800" and logs(0)[1] == ("custom_l885", "EXT_TIME")


def test_blank_time_with_non_disabled_leaves_the_group(hub):
    defs, instance, folder = hub
    deliver(defs, instance, folder, 7200, ese(), accommodations([]), "A")
    blank = ese(TIME_NON_DISABLED=["1500", "1500", "1500", "", "1500", "1500"], TIME_TOTAL_WEEK="1700",
                IDEA_ENVIRONMENT="D", PLACEMENT_STATUS="T")
    run = deliver(defs, instance, folder, 0, blank, accommodations([]), "B")
    assert [fields(3)[f] for f in ENV] == ["Z", "1800", "1500"]  # none of the three changed
    assert fields(3)["custom_875"] == "T"  # the other fields still import
    assert [fields(0)[f] for f in ENV] == ["D", "1700", "1500"]
    md = run.asset_materializations_for_node("peer__student_fields")[0].metadata
    assert md["core.student_fields rows skipped (incomplete group)"].value == 1


def test_not_applicable_dates_are_blank_and_each_log_field_takes_its_program_and_setting(hub):
    defs, instance, folder = hub
    dates = ese(DISMISSAL_DATE="00000000", EXPIRATION_DATE=["00000000", *["09142025"] * 5])  # FLDOE: not applicable
    acc = pd.DataFrame([(IDS[0], program, setting, f"{program}_{setting}") for program in ("ESE", "504")
                        for setting in ("ASSESSMENT", "CLASSROOM")], columns=["FLEID", "PROGRAM", "SETTING",
                                                                              "ACCOMMODATION"])
    drop(folder, "06_PEER_504_A.csv", pd.DataFrame({"FLEID": [IDS[0], IDS[3]], "PLAN_DATE": "08202024",
                                                    "SECTION_504_ELIGIBLE": "Y"}))
    deliver(defs, instance, folder, 60, dates, acc, "A")
    assert "custom_874" not in fields(0) and "custom_940" not in fields(0)  # blank: nothing to import
    assert fields(3)["custom_940"] == "2025-09-14"
    assert logs(0) == [("custom_l880", "F"), ("custom_l881", "2024-08-20"), ("custom_l882", "504_ASSESSMENT"),
                       ("custom_l883", "504_CLASSROOM"), ("custom_l884", "ESE_ASSESSMENT"),
                       ("custom_l885", "ESE_CLASSROOM")]
    assert ("custom_l881", "2024-08-20") in logs(3)


def test_log_records_mirror_peer_without_duplicates_and_reimport_changes_nothing(hub):
    defs, instance, folder = hub
    deliver(defs, instance, folder, 7200, ese(), accommodations([(4, "EXT_TIME"), (4, "BREAKS"), (4, "EXT_TIME"),
                                                                  (5, "BREAKS")]), "A")
    assert logs(4) == [("custom_l880", "F"), ("custom_l885", "BREAKS"), ("custom_l885", "EXT_TIME")]  # stored once
    before = query("SELECT count(*) FROM ops.field_audit")[0][0]
    run = deliver(defs, instance, folder, 0, ese(), accommodations([(4, "EXT_TIME"), (5, "BREAKS")]), "B")
    assert logs(4) == [("custom_l880", "F"), ("custom_l885", "EXT_TIME")]
    assert logs(5) == [("custom_l880", "F"), ("custom_l885", "BREAKS")]
    assert query("SELECT action, field, old_value FROM ops.field_audit") [before:] == [
        ("delete", "custom_l885", "BREAKS")]
    state = snapshot()
    for path in folder.iterdir():
        path.unlink()  # re-imports read the archive
    day = run.dagster_run.tags["dagster/partition/date"]
    assert rematerialize(defs, instance, "peer_import", "broward", day).success
    assert snapshot() == state


def test_nightly_schedule_fetches_in_the_run(hub):
    defs, instance, folder = hub
    schedule = next(s for s in defs.schedules if s.name == "peer_broward__nightly")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 2 * * *", "America/New_York")
    at = dt.datetime.now(dt.timezone.utc)
    ctx = dg.build_schedule_context(instance=instance, scheduled_execution_time=at,
                                    repository_def=defs.get_repository_def())
    req = schedule.evaluate_tick(ctx).run_requests[0]
    drop(folder, "06_PEER_ESE_A.csv", ese())
    job = defs.resolve_job_def("peer_import")
    assert job.execute_in_process(instance=instance, partition_key=req.partition_key, run_config=req.run_config).success
    assert fields(0)["custom_879"] == "1500"
    assert query("SELECT partition_date FROM ops.deliveries WHERE feed = 'peer'")[0][0] == \
        req.partition_key.keys_by_dimension["date"]


def test_nightly_run_without_a_new_file_imports_the_last_downloaded_files(hub):
    """Focus's nightly job: no new PEER file, so the files last downloaded are imported again, and a student who
    became eligible since gets the fields; a plain re-materialization of a day without files imports nothing."""
    defs, instance, folder = hub
    deliver(defs, instance, folder, 3 * 86_400, ese(), accommodations([(2, "EXT_TIME")]), "A")
    assert fields(2) == {}  # withdrawn when the files came
    query("UPDATE core.students SET status = 'active', school_code = '0011' WHERE state_student_id = :s", s=IDS[2])
    schedule = next(s for s in defs.schedules if s.name == "peer_broward__nightly")
    ctx = dg.build_schedule_context(instance=instance, scheduled_execution_time=dt.datetime.now(dt.timezone.utc),
                                    repository_def=defs.get_repository_def())
    req = schedule.evaluate_tick(ctx).run_requests[0]
    job = defs.resolve_job_def("peer_import")
    today = req.partition_key.keys_by_dimension["date"]
    plain = rematerialize(defs, instance, "peer_import", "broward", today)
    assert plain.success and fields(2) == {}
    run = job.execute_in_process(instance=instance, partition_key=req.partition_key, run_config=req.run_config)
    assert run.success and fields(2)["custom_864"] == "K" and logs(2) == [("custom_l880", "F"),
                                                                           ("custom_l885", "EXT_TIME")]
    staged = run.asset_materializations_for_node("peer__ese")[0].metadata
    assert staged["delivered on"].value < today and staged["file"].value == "06_PEER_ESE_A.csv"


def test_missing_sftp_credentials_name_integration_and_env_var(tmp_path, pg_url, monkeypatch):
    monkeypatch.setenv("HUB_WAREHOUSE_URL", pg_url)
    monkeypatch.setenv("HUB_ARCHIVE_DIR", str(tmp_path / "archive"))
    monkeypatch.delenv("HUB_SFTP_PASSWORD_PEER_BROWARD", raising=False)
    sftp = {"kind": "sftp", "host": "127.0.0.1", "port": 9, "username": "peer", "remote_dir": "PEER/OUT",
            "host_key": SSH_KEY, "password_env": "HUB_SFTP_PASSWORD_PEER_BROWARD"}
    defs = build_definitions(write_registry(tmp_path / "registry.yaml", FL, [integration("peer", sftp)]))
    instance = dg.DagsterInstance.ephemeral()
    reason = tick(defs, instance, "peer__deliveries").skip_reason
    assert "peer_broward" in reason and "HUB_SFTP_PASSWORD_PEER_BROWARD" in reason
    key = dg.MultiPartitionKey({"date": dt.date.today().isoformat(), "district": "broward"})
    run = defs.resolve_job_def("peer_import").execute_in_process(
        instance=instance, partition_key=key, run_config=fetch_config(FEEDS["peer"]), raise_on_error=False)
    assert not run.success
    failure = next(e for e in run.all_events if e.is_step_failure).step_failure_data.user_failure_data
    assert "peer_broward" in failure.description and "HUB_SFTP_PASSWORD_PEER_BROWARD" in failure.description


def test_demo_has_broward_with_roster_peer_and_the_nightly_schedule():
    from dagster_project.definitions import PROJECT_ROOT
    defs = build_definitions(PROJECT_ROOT / "demo" / "registry.yaml")
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"peer/ese", "peer/accommodations", "peer/sec504", "peer/student_fields", "focus_roster/roster_updates"} <= keys
    schedule = next(s for s in defs.schedules if s.name == "peer_broward__nightly")
    assert "Florida PEER nightly import" in schedule.description and schedule.execution_timezone == "America/New_York"


def test_field_map_declares_the_14_peer_fields():
    from feeds.peer.rules import LAYOUT
    kinds = [(f.kind, f.state_reportable) for f in LAYOUT.fields.values()]
    assert len(kinds) == 14 and kinds.count(("log", False)) == 6 and sum(s for _, s in kinds) == 4
    assert {"custom_873", "custom_940", "custom_878", "custom_879", "custom_863"} <= set(LAYOUT.fields)
