"""Yearly blackouts, SIRAS's default window and summer pause, limited imports, and the SIRAS spec's file freshness
(a file modified before the latest processing of its type is not processed). Injected clock."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from feeds import FEEDS
from hub.intake import ledger
from hub.monitor.freshness import evaluate
from hub.registry.registry import RegistryError
from hub.registry.loading import parse_registry
from hub.registry.schedule_rules import hold_reason, limited_reason
from tests.conftest import CA_DISTRICTS, siras_integration
from tests.test_schedule_rules import at, intake  # noqa: F401  (fixture)

SUMMER = {"start": "06-20", "end": "08-10", "reason": "summer pause"}


def reg(tmp_path: Path, feeds=FEEDS, blackouts=(), **extra):  # noqa: ANN001, ANN201
    integration = siras_integration({"kind": "folder", "path": str(tmp_path)}, **extra)
    return parse_registry({"districts": CA_DISTRICTS, "integrations": [integration], "blackouts": list(blackouts)},
                          feeds)


def test_yearly_blackout_pauses_every_year_and_across_new_year(tmp_path):
    yearly = reg(tmp_path, blackouts=[SUMMER, {"start": "12-24", "end": "01-02", "reason": "winter break"}])
    abc = yearly.integrations[0]
    for year in (2027, 2031):
        assert hold_reason(yearly, abc, at(year, 7, 1, 3, 0)) == (
            f"paused (summer pause {year}-06-20..{year}-08-10); will run from {year}-08-11 00:00 America/Los_Angeles")
    assert hold_reason(yearly, abc, at(2027, 8, 11, 3, 0)) is None
    assert "winter break 2026-12-24..2027-01-02" in hold_reason(yearly, abc, at(2027, 1, 1, 3, 0))
    assert "will run from 2027-01-03" in hold_reason(yearly, abc, at(2026, 12, 30, 3, 0))
    with pytest.raises(RegistryError, match="both be dates or both month-days"):
        reg(tmp_path, blackouts=[{"start": "06-20", "end": "2027-08-10"}])
    with pytest.raises(RegistryError, match="blackout"):
        reg(tmp_path, blackouts=[{"start": "02-30", "end": "03-02"}])


def test_siras_gets_the_spec_window_and_summer_pause_unless_the_registry_says_otherwise(tmp_path):
    data = {"districts": CA_DISTRICTS, "integrations": [
        {k: v for k, v in siras_integration({"kind": "folder", "path": str(tmp_path)}).items()
         if k not in ("window", "pause")}]}
    defaults = parse_registry(data, FEEDS).integrations[0]
    assert str(defaults.window) == "02:00-07:00" and defaults.cadence == "nightly"
    r = parse_registry(data, FEEDS)
    assert "outside the processing window 02:00-07:00" in hold_reason(r, defaults, at(2026, 11, 24, 9, 0))
    assert hold_reason(r, defaults, at(2026, 11, 24, 3, 0)) is None
    assert "SIRAS summer pause 2027-06-20..2027-08-10" in hold_reason(r, defaults, at(2027, 7, 4, 3, 0))
    own = reg(tmp_path, pause={"start": "07-01", "end": "07-31", "reason": "district summer"})  # the district's dates
    assert hold_reason(own, own.integrations[0], at(2027, 6, 25, 3, 0)) is None
    assert "district summer" in hold_reason(own, own.integrations[0], at(2027, 7, 4, 3, 0))
    off = reg(tmp_path)  # window: null, pause: null
    assert off.integrations[0].window is None and hold_reason(off, off.integrations[0], at(2027, 7, 4, 9, 0)) is None


def test_limited_blackout_runs_and_marks_the_day_limited_and_is_refused_on_a_delta_feed(tmp_path):
    rollover = {"start": "07-01", "end": "08-31", "reason": "SIS rollover", "mode": "limited"}
    r = reg(tmp_path, blackouts=[rollover])
    abc = r.integrations[0]
    assert hold_reason(r, abc, at(2027, 7, 15, 3, 0)) is None  # limited imports run
    assert limited_reason(r, abc, dt.date(2027, 7, 15)) == "SIS rollover 2027-07-01..2027-08-31"
    assert limited_reason(r, abc, dt.date(2027, 9, 1)) is None
    edreflect = dict(siras_integration({"kind": "folder", "path": str(tmp_path)}), id="edreflect_abc", feed="edreflect")
    with pytest.raises(RegistryError, match="limited-import blackout reaches the delta feed edreflect"):
        parse_registry({"districts": CA_DISTRICTS, "integrations": [edreflect], "blackouts": [rollover]}, FEEDS)
    narrowed = parse_registry({"districts": CA_DISTRICTS, "integrations": [edreflect],
                               "blackouts": [dict(rollover, feeds=["siras"])]}, FEEDS)
    assert narrowed.integrations[0].id == "edreflect_abc"


def test_file_modified_before_the_latest_processing_of_its_type_is_skipped(intake, warehouse_url, tmp_path):
    from resources.warehouse import Warehouse
    tick, drop, ledger_rows = intake
    drop("1964212_demographics.csv", at(2026, 11, 23, 22, 0))
    t = tick(at(2026, 11, 24, 3, 0))
    assert len(t.runs) == 1
    wh = Warehouse(warehouse_url)
    with wh.begin() as conn:  # the import ran at 03:30
        (did,) = conn.execute(sa.text("SELECT delivery_id FROM ops.deliveries")).one()
        ledger.set_status(conn, [did], "applied")
        conn.execute(sa.text("UPDATE ops.delivery_events SET occurred_at = :t WHERE status = 'applied'"),
                     {"t": dt.datetime(2026, 11, 24, 11, 30)})  # 03:30 Los Angeles, in UTC
    drop("1964212_demographics_b.csv", at(2026, 11, 24, 2, 0))  # newer than the first file, older than its import
    t2 = tick(at(2026, 11, 24, 3, 45), t.cursor)
    assert t2.runs == [] and "before the latest processing of its file type (2026-11-24 11:30:00 UTC)" in t2.skip_reason
    newer = tmp_path / "landing" / "1964212_demographics_c.csv"
    newer.write_text("SSID\n1234567891\n")  # other bytes than the first file
    os.utime(newer, (at(2026, 11, 24, 3, 40),) * 2)
    assert len(tick(at(2026, 11, 24, 3, 50), t2.cursor).runs) == 1
    assert [r[1] for r in ledger_rows()] == ["applied", "skipped", "queued"]


def test_freshness_by_cadence_with_pauses(tmp_path):
    r = reg(tmp_path, pause=SUMMER, due="08:00")
    abc = r.integrations[0]

    def state(last: dt.datetime | None, *now: int, cadence: str = "nightly") -> str:
        i = abc.model_copy(update={"cadence": cadence})
        return evaluate(r, i, last, at(*now)).state

    monday = dt.datetime(2026, 11, 23, 10, 0)  # 02:00 Monday in Los Angeles (UTC naive)
    assert state(monday, 2026, 11, 24, 7, 59) == "fresh"  # Tuesday before 08:00: Monday's file is the latest due
    assert state(monday, 2026, 11, 24, 9, 0) == "late"  # Tuesday 08:00 passed: nothing since Monday 08:00
    friday = dt.datetime(2026, 11, 27, 10, 0)
    assert state(friday, 2026, 11, 30, 7, 0, cadence="weekdays") == "fresh"  # Monday morning: the weekend expects none
    assert state(friday, 2026, 11, 30, 9, 0, cadence="weekdays") == "late"  # Monday's file missing
    assert state(monday, 2026, 11, 29, 9, 0, cadence="weekly") == "fresh"
    assert state(monday, 2026, 12, 1, 9, 0, cadence="weekly") == "late"
    june = dt.datetime(2027, 6, 1, 10, 0)
    assert state(june, 2027, 7, 4, 9, 0) == "paused"  # the yearly summer pause: nothing is late
    before = dt.datetime(2027, 6, 19, 10, 0)  # the last file before the pause
    assert state(before, 2027, 8, 11, 7, 0) == "fresh"  # the first day back, before its deadline
    assert state(before, 2027, 8, 11, 9, 0) == "late"  # its file is missing
    assert state(None, 2023, 12, 31, 9, 0) == "not_due"  # before the start date


def test_freshness_of_an_integration_without_cadence_is_not_evaluated(tmp_path):
    r = reg(tmp_path, cadence=None)
    assert evaluate(r, r.integrations[0], None, at(2026, 11, 24, 9, 0)) is None
