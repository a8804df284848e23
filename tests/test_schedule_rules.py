"""Processing window, blackouts and freshness: injected clock and timezone, real warehouse for the ledger."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from feeds.siras import FEED
from hub.registry.loading import parse_registry
from hub.registry.registry import RegistryError
from hub.registry.schedule_rules import hold_reason
from hub.store.schema import ensure_tables
from resources.archive import Archive
from resources.warehouse import Warehouse
from tests import harness
from tests.conftest import CA_DISTRICTS, siras_integration

LA = ZoneInfo("America/Los_Angeles")
SUMMER = {"start": "2026-06-20", "end": "2026-08-05", "reason": "summer pause", "feeds": ["siras"],
          "except_districts": ["fresno_unified"]}


def at(*args: int) -> float:
    """A Los Angeles wall-clock time as a timestamp (the injected clock)."""
    return dt.datetime(*args, tzinfo=LA).timestamp()


def registry(tmp_path: Path, blackouts: list[dict] | None = None, district_blackouts: list[dict] | None = None,
             integration_blackouts: list[dict] | None = None):
    districts = [dict(CA_DISTRICTS[0], blackouts=district_blackouts or []), CA_DISTRICTS[1]]
    integrations = [siras_integration({"kind": "folder", "path": str(tmp_path)}, window={"start": "02:00", "end": "07:00"},
                                      blackouts=integration_blackouts or []),
                    siras_integration({"kind": "folder", "path": str(tmp_path)}, id="siras_fresno", district="fresno_unified",
                                      window={"start": "02:00", "end": "07:00"})]
    return parse_registry({"districts": districts, "integrations": integrations, "blackouts": blackouts or []})


def test_window_in_district_timezone_says_when_it_runs(tmp_path):
    reg = registry(tmp_path)
    abc = reg.integrations[0]
    assert hold_reason(reg, abc, at(2026, 11, 24, 3, 0)) is None
    assert hold_reason(reg, abc, at(2026, 11, 24, 7, 0)) == (
        "outside the processing window 02:00-07:00 America/Los_Angeles; will run from 2026-11-25 02:00 America/Los_Angeles")
    assert "will run from 2026-11-24 02:00" in hold_reason(reg, abc, at(2026, 11, 24, 1, 59))
    # 10:30 UTC is 02:30 in Los Angeles: inside, although the UTC hour is outside 2-7
    assert hold_reason(reg, abc, dt.datetime(2026, 11, 24, 10, 30, tzinfo=dt.timezone.utc).timestamp()) is None


def test_blackouts_registry_district_and_exceptions(tmp_path):
    rollover = {"start": "2026-07-01", "end": "2026-07-02", "reason": "SIS rollover"}
    reg = registry(tmp_path, [SUMMER], [{"start": "2026-08-06", "end": "2026-08-07", "reason": "rollover"}])
    abc, fresno = reg.integrations
    reason = hold_reason(reg, abc, at(2026, 7, 15, 3, 0))
    assert reason == ("paused (rollover 2026-08-06..2026-08-07, summer pause 2026-06-20..2026-08-05); "
                      "will run from 2026-08-08 02:00 America/Los_Angeles")  # back-to-back pauses chain
    assert hold_reason(reg, fresno, at(2026, 7, 15, 3, 0)) is None  # per-district exception
    assert hold_reason(reg, abc, at(2026, 8, 8, 3, 0)) is None
    everyone = registry(tmp_path, [rollover])
    assert "SIS rollover" in hold_reason(everyone, everyone.integrations[1], at(2026, 7, 2, 23, 0))
    own = registry(tmp_path, integration_blackouts=[rollover])
    assert "SIS rollover" in hold_reason(own, own.integrations[0], at(2026, 7, 1, 3, 0))
    assert hold_reason(own, own.integrations[1], at(2026, 7, 1, 3, 0)) is None
    with pytest.raises(RegistryError, match="blackout"):
        registry(tmp_path, [{"start": "2026-08-01", "end": "2026-07-01"}])


@pytest.fixture
def intake(tmp_path: Path, landing: Path, warehouse_url: str):
    wh = Warehouse(warehouse_url)
    ensure_tables(wh, [FEED])
    reg = registry(landing)

    def tick(now: float, cursor: dict | None = None, reg=reg):  # noqa: ANN001, ANN202
        return harness.scan_folder(reg, reg.integrations[0], landing, wh, Archive(tmp_path / "archive"), now, cursor)

    def drop(name: str, mtime: float) -> None:
        path = landing / name
        path.write_text("SSID\n1234567890\n")
        os.utime(path, (mtime, mtime))

    def ledger() -> list[tuple]:
        return harness.ledger(wh)
    return tick, drop, ledger


def test_stable_file_waits_for_the_window_then_runs(intake):
    tick, drop, ledger = intake
    drop("1964212_demographics.csv", at(2026, 11, 23, 22, 0))
    t = tick(at(2026, 11, 23, 23, 0))
    assert t.runs == [] and "1 waiting: outside the processing window" in t.skip_reason
    assert "will run from 2026-11-24 02:00" in t.skip_reason
    assert [r[1] for r in ledger()] == ["waiting"]  # archived and visible, not run
    again = tick(at(2026, 11, 24, 1, 0), t.cursor)
    assert again.runs == [] and "1 waiting: outside" in again.skip_reason
    t2 = tick(at(2026, 11, 24, 2, 5), again.cursor)
    assert [r.day for r in t2.runs] == ["2026-11-23"] and ledger()[0][1:] == ("queued", None)
    assert tick(at(2026, 11, 24, 2, 6), t2.cursor).runs == []  # released once


def test_held_file_that_turns_stale_during_a_blackout_is_skipped(intake, tmp_path):
    tick, drop, ledger = intake
    paused = registry(tmp_path / "landing", [SUMMER])
    drop("1964212_demographics.csv", at(2026, 7, 1, 22, 0))
    t = tick(at(2026, 7, 2, 3, 0), reg=paused)
    assert t.runs == [] and "summer pause" in t.skip_reason and ledger()[0][1] == "waiting"
    t2 = tick(at(2026, 8, 6, 3, 0), t.cursor, reg=paused)
    assert t2.runs == [] and ledger()[0][1] == "skipped" and "more than 7 days" in ledger()[0][2]


def test_stale_files_are_skipped_once_with_reason(intake):
    tick, drop, ledger = intake
    drop("1964212_demographics.csv", at(2026, 11, 10, 22, 0))  # two weeks old
    t = tick(at(2026, 11, 24, 3, 0))
    assert t.runs == [] and "skipped: last modified more than 7 days ago" in t.skip_reason
    again = tick(at(2026, 11, 24, 3, 1), t.cursor)
    assert again.runs == [] and "skipped" not in again.skip_reason  # recorded once, not retried
    assert ledger() == [("1964212_demographics.csv", "skipped",
                         "last modified more than 7 days ago; upload a new file to trigger an update")]


def test_file_older_than_newest_processed_is_skipped(intake, warehouse_url):
    tick, drop, ledger = intake
    drop("1964212_demographics.csv", at(2026, 11, 23, 22, 0))
    assert len(tick(at(2026, 11, 24, 3, 0)).runs) == 1
    with Warehouse(warehouse_url).begin() as conn:
        conn.execute(sa.text("UPDATE ops.deliveries SET status = 'applied'"))
    drop("1964212_demographics_old.csv", at(2026, 11, 22, 22, 0))
    t = tick(at(2026, 11, 24, 3, 5))
    assert t.runs == [] and "before the newest processed delivery" in t.skip_reason
    assert [r[1] for r in ledger()] == ["applied", "skipped"]


def test_manual_materialization_bypasses_the_window(tmp_path, hub_env):
    import dagster as dg
    from dagster_project.definitions import build_definitions
    from demo.siras_files import students
    from tests.conftest import write_registry
    from tests.harness import rematerialize, tick as sensor_tick
    from tests.test_siras_pipeline import query

    landing = tmp_path / "drop"
    landing.mkdir()
    local = dt.datetime.now(LA)  # a window that opens two hours from now: the sensor always finds it closed
    window = {"start": f"{(local.hour + 2) % 24:02d}:00", "end": f"{(local.hour + 3) % 24:02d}:00"}
    path = write_registry(tmp_path / "registry.yaml", CA_DISTRICTS,
                          [siras_integration({"kind": "folder", "path": str(landing)}, window=window)])
    defs, instance = build_definitions(path), dg.DagsterInstance.ephemeral()
    students(4, "1964212").assign(Designation="SPED").to_csv(landing / "1964212_demographics.csv", index=False)
    t = sensor_tick(defs, instance, "siras__deliveries")
    assert t.runs == [] and "waiting: outside the processing window" in t.skip_reason
    (day,) = query("SELECT partition_date FROM ops.deliveries WHERE status = 'waiting'")[0]
    result = rematerialize(defs, instance, "siras_import", "abc_unified", day)
    assert result.success and query("SELECT count(*) FROM core.students")[0][0] == 4
    assert instance.get_run_by_id(result.run_id).tags["hub/trigger"] == "manual"
    assert query("SELECT status FROM ops.deliveries")[0][0] == "applied"
