"""Feeds that need another feed's delivery of the same night: PEER waits for the Focus roster (the registry bounds
the wait), a PEER file matching almost no student is blocked, and a day that ran early is applied again when the
roster arrives. Real files, sensors and runs, on both warehouses."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from dagster_project.definitions import build_definitions
from demo.peer_files import peer, roster
from tests.conftest import write_registry
from tests.harness import rematerialize, tick

FL = [{"id": "broward", "name": "Broward County Public Schools", "state": "FL", "nces_leaid": "1200180",
       "state_district_id": "06", "timezone": "America/New_York"}]


def _integration(feed: str, folder: Path, **extra: object) -> dict:
    return {"id": f"{feed}_broward", "district": "broward", "feed": feed, "source": "Focus / FLDOE",
            "destination": "hub", "transport": {"kind": "folder", "path": str(folder)},
            "contact": {"role": "ESE data"}, "start_date": "2024-01-01", "quiet_period_seconds": 0,
            "holds": {"first_file": False}, **extra}


def _query(sql: str) -> list[tuple]:
    engine = sa.create_engine(os.environ["HUB_WAREHOUSE_URL"], poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]


def _drop(folder: Path, frames: dict[str, pd.DataFrame], mtime: float | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        frame.to_csv(folder / f"06_{name}.csv", index=False)
        if mtime is not None:  # files of one night: the same delivery day whenever each is written
            os.utime(folder / f"06_{name}.csv", (mtime, mtime))


def _hub(tmp_path: Path, wait_minutes: int, roster_wait: int = 120) -> tuple[dg.Definitions, dg.DagsterInstance]:
    registry = write_registry(tmp_path / "registry.yaml", FL, [
        _integration("focus_roster", tmp_path / "roster", dependency_wait_minutes=roster_wait),
        _integration("peer", tmp_path / "peer", dependency_wait_minutes=wait_minutes)])
    _drop(tmp_path / "peer", {f"PEER_{k.upper()}": v for k, v in peer(30).items() if k == "ese"})
    return build_definitions(registry), dg.DagsterInstance.ephemeral()


def _roster_arrives(tmp_path: Path, defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
    students, enrollment = roster(40)
    _drop(tmp_path / "roster", {"students": students, "student_enrollment": enrollment})
    assert [r.success for r in tick(defs, instance, "focus_roster__deliveries").runs] == [True]


def test_peer_waits_for_the_roster_of_the_same_night(tmp_path: Path, hub_env: dict):
    defs, instance = _hub(tmp_path, wait_minutes=60)
    early = tick(defs, instance, "peer__deliveries")
    assert early.runs == [] and "waits for focus_roster (focus_roster_broward)" in early.skip_reason
    assert _query("SELECT status, reason FROM ops.deliveries WHERE feed = 'peer'") == [
        ("waiting", early.reason("peer_broward").split("waiting: ", 1)[1])]  # the ledger (and the UI) say what for
    _roster_arrives(tmp_path, defs, instance)
    after = tick(defs, instance, "peer__deliveries")
    assert [r.success for r in after.runs] == [True]
    assert _query("SELECT count(DISTINCT student_key) > 20 FROM core.student_fields") == [(True,)]
    assert tick(defs, instance, "peer__deliveries").runs == []  # applied after the roster: done


@pytest.mark.parametrize("warehouse_url", ["duckdb"], indirect=True)  # the ledger logic is warehouse-blind
def test_peer_without_its_roster_is_blocked_then_applied_again_when_the_roster_arrives(tmp_path: Path, hub_env: dict):
    defs, instance = _hub(tmp_path, wait_minutes=0)  # no wait: it runs with the latest roster (none)
    alone = tick(defs, instance, "peer__deliveries").runs
    assert [r.success for r in alone] == [False]  # not a green run that wrote 0 fields
    check = next(e for e in alone[0].get_asset_check_evaluations() if e.check_name == "match_rate")
    assert not check.passed and check.metadata["result"].value.startswith("0 of 30 rows linked")
    assert _query("SELECT count(*) FROM core.student_fields") == [(0,)]
    _roster_arrives(tmp_path, defs, instance)
    again = tick(defs, instance, "peer__deliveries")
    assert [r.success for r in again.runs] == [True]  # the same day, applied again
    assert _query("SELECT count(DISTINCT student_key) > 20 FROM core.student_fields") == [(True,)]
    assert tick(defs, instance, "peer__deliveries").runs == []  # once


def test_a_roster_whose_enrollment_matches_almost_no_student_is_blocked(tmp_path: Path, hub_env: dict):
    """The first roster creates the students; an enrollment file naming other ids (here the FLEIDs in the
    STUDENT_ID column) would have turned every student inactive: it is a failed gate, nothing applied."""
    defs, instance = _hub(tmp_path, wait_minutes=60)
    students, enrollment = roster(40)
    wrong = enrollment.assign(STUDENT_ID=students["FLEID"].where(enrollment.index >= 2, students["STDT_ID"]))
    _drop(tmp_path / "roster", {"students": students, "student_enrollment": wrong})
    runs = tick(defs, instance, "focus_roster__deliveries").runs
    assert [r.success for r in runs] == [False]  # not a green run with every student inactive
    check = next(e for e in runs[0].get_asset_check_evaluations() if e.check_name == "match_rate")
    assert check.asset_key == dg.AssetKey(["focus_roster", "enrollment"]) and not check.passed
    assert check.metadata["result"].value.startswith("2 of 40 rows linked (5.0%); threshold 90%")
    assert _query("SELECT count(*) FROM core.students") == [(0,)]
    ((gate, name, reason),) = _query("SELECT gate, file_name, reason FROM ops.ingest_errors")
    assert (gate, name) == ("match_rate", "06_student_enrollment.csv")
    assert not any(v in reason for v in [*students["STDT_ID"], *students["FLEID"]])  # counts only
    assert _query("SELECT status FROM ops.deliveries WHERE file_type = 'enrollment'") == [("rejected",)]


def _roster_runs(result) -> list[tuple[bool, list[str]]]:  # noqa: ANN001 -- a harness Tick
    """Each roster run of a tick: success and the roster assets it ran."""
    return [(run.success, sorted(k.path[-1] for k in req.asset_selection))
            for req, run in zip(result.result.run_requests or [], result.runs)]


def test_an_enrollment_file_waits_for_the_students_file_of_the_same_night(tmp_path: Path, hub_env: dict):
    """The demo's first start: the night's enrollment file was taken one tick before its students file (a tick
    stopped between them). It waits, saying for what, then runs with the students file; PEER waits for both."""
    defs, instance = _hub(tmp_path, wait_minutes=60)
    students, enrollment = roster(40)
    night = time.time() - 120
    _drop(tmp_path / "roster", {"student_enrollment": enrollment}, night)
    first = tick(defs, instance, "focus_roster__deliveries")
    assert first.runs == [] and "waits for the students file of" in first.reason("focus_roster_broward")
    assert _query("SELECT status FROM ops.deliveries WHERE file_type = 'enrollment'") == [("waiting",)]
    assert tick(defs, instance, "peer__deliveries").runs == []  # the roster of the night is not complete
    _drop(tmp_path / "roster", {"students": students}, night)
    both = tick(defs, instance, "focus_roster__deliveries")
    assert _roster_runs(both) == [(True, ["enrollment", "roster_updates", "students"])]
    assert _query("SELECT count(*) FROM core.students WHERE status IS NOT NULL") == [(40,)]
    assert _query("SELECT DISTINCT status FROM ops.deliveries WHERE feed = 'focus_roster'") == [("applied",)]
    assert [r.success for r in tick(defs, instance, "peer__deliveries").runs] == [True]
    assert _query("SELECT count(DISTINCT student_key) > 20 FROM core.student_fields") == [(True,)]


@pytest.mark.parametrize("warehouse_url", ["duckdb"], indirect=True)  # the ledger logic is warehouse-blind
@pytest.mark.parametrize("first", ["students", "student_enrollment"])
def test_a_roster_file_that_ran_alone_runs_again_with_the_other_file_of_its_night(tmp_path: Path, hub_env: dict,
                                                                                  first: str):
    """Without a wait (or once it is over) one file of the night runs alone: students alone create no student,
    enrollment alone links none (blocked). When the other file arrives, both run together: none stays rejected."""
    defs, instance = _hub(tmp_path, wait_minutes=60, roster_wait=0)
    students, enrollment = roster(40)
    files, night = {"students": students, "student_enrollment": enrollment}, time.time() - 120
    _drop(tmp_path / "roster", {first: files.pop(first)}, night)
    assert len(tick(defs, instance, "focus_roster__deliveries").runs) == 1
    _drop(tmp_path / "roster", files, night)
    again = tick(defs, instance, "focus_roster__deliveries")
    assert _roster_runs(again) == [(True, ["enrollment", "roster_updates", "students"])]
    assert _query("SELECT count(*) FROM core.students WHERE status IS NOT NULL") == [(40,)]
    assert _query("SELECT DISTINCT status FROM ops.deliveries WHERE feed = 'focus_roster'") == [("applied",)]
    assert tick(defs, instance, "focus_roster__deliveries").runs == []  # once
    assert [r.success for r in tick(defs, instance, "peer__deliveries").runs] == [True]


@pytest.mark.parametrize("warehouse_url", ["duckdb"], indirect=True)  # the ledger logic is warehouse-blind
def test_peer_is_applied_again_each_time_its_roster_is_applied_again(tmp_path: Path, hub_env: dict):
    """Dagster starts one run per run key and drops a request whose key it has seen, silently: the re-apply after a
    roster applied a second time (here an operator's materialization of its day) needs a key of its own."""
    defs, instance = _hub(tmp_path, wait_minutes=0)
    tick(defs, instance, "peer__deliveries")
    _roster_arrives(tmp_path, defs, instance)
    first = tick(defs, instance, "peer__deliveries")
    job = next(s for s in defs.sensors if s.name == "focus_roster__deliveries").job_name
    ((day,),) = _query("SELECT DISTINCT partition_date FROM ops.deliveries WHERE feed = 'focus_roster'")
    assert rematerialize(defs, instance, job, "broward", str(day)).success
    second = tick(defs, instance, "peer__deliveries")
    assert [r.success for r in second.runs] == [True]
    assert first.result.run_requests[0].run_key != second.result.run_requests[0].run_key
    assert tick(defs, instance, "peer__deliveries").runs == []  # once per cause
