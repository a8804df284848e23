"""The hub's own retry of deliveries a dead run left behind (hub/intake/retries.py): backoff, a bound, then `failed` with the
reason; gate rejections and runs still going are left alone."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from hub.intake import ledger
from hub.intake.retries import RunState, sweep
from hub.registry.registry import Integration
from resources.warehouse import Warehouse
from tests.conftest import siras_integration

T0 = 1_800_000_000.0
INTEGRATION = Integration.model_validate(siras_integration({"kind": "folder", "path": "/landing"}, run_retries=2,
                                                           retry_backoff_seconds=60))


def _record(conn: sa.Connection, did: str, status: str) -> None:
    ledger.record(conn, delivery_id=did, integration_id=INTEGRATION.id, district_id="abc_unified", feed="siras",
                  file_type="demographics", remote_path=f"{did}.csv", file_name=f"{did}.csv", size=1,
                  mtime=dt.datetime(2026, 1, 1), partition_date="2026-01-01", status=status)


def _failed(n: int, why: str = "STEP_FAILURE") -> list[RunState]:
    """n failed runs, newest first, the newest ended at T0."""
    return [RunState(f"run{i:05d}-x", "failed", T0 - 1000 * i, why) for i in range(n)]


def _reason(conn: sa.Connection, did: str) -> tuple[str, str | None]:
    row = conn.execute(sa.text("SELECT status, reason FROM ops.deliveries WHERE delivery_id = :d"), {"d": did}).one()
    return row.status, row.reason


def test_a_dead_run_is_retried_after_its_backoff_then_given_up(wh: Warehouse):
    with wh.begin() as conn:
        _record(conn, "a", "staged")
        waiting = sweep(conn, INTEGRATION, lambda d, r: _failed(1), T0 + 10)
        assert waiting.retries == [] and waiting.counts == {"waiting to retry": 1}
        assert _reason(conn, "a") == ("staged", "run run00000 failed (STEP_FAILURE); retry 1 of 2 at "
                                                f"{dt.datetime.fromtimestamp(T0 + 60, dt.timezone.utc):%Y-%m-%d %H:%M:%S} UTC")
        due = sweep(conn, INTEGRATION, lambda d, r: _failed(1), T0 + 61)
        assert [(r.day, r.attempt, r.delivery_ids) for r in due.retries] == [("2026-01-01", 1, ["a"])]
        assert _reason(conn, "a") == ("queued", "run run00000 failed (STEP_FAILURE); retry 1 of 2")
        second = sweep(conn, INTEGRATION, lambda d, r: _failed(2), T0 + 61)  # the backoff doubles: 120 s
        assert second.retries == []
        assert [r.attempt for r in sweep(conn, INTEGRATION, lambda d, r: _failed(2), T0 + 121).retries] == [2]
        last = sweep(conn, INTEGRATION, lambda d, r: _failed(3), T0 + 10_000)
        assert last.retries == [] and last.counts == {"failed after every retry": 1}
        assert _reason(conn, "a") == ("failed", "run run00000 failed (STEP_FAILURE); gave up after 3 run(s)")


def test_rejected_running_and_dagster_retried_deliveries_are_left_alone(wh: Warehouse):
    with wh.begin() as conn:
        _record(conn, "gate", "rejected")  # a gate failure: final, never retried
        _record(conn, "busy", "queued")
        _record(conn, "dagster", "staged")
        runs = {"gate": _failed(1), "busy": [RunState("r-busy", "running", T0), *_failed(1)],
                "dagster": [RunState("r-dag", "failed", T0, "", will_retry=True)]}
        out = sweep(conn, INTEGRATION, lambda d, r: runs[d], T0 + 30)
        assert out.retries == [] and out.counts == {"waiting for Dagster's retry of a failed run": 1}
        # the daemon never retried it (not running): the hub does, once the backoff has passed
        assert [r.delivery_ids for r in sweep(conn, INTEGRATION, lambda d, r: runs[d], T0 + 61).retries] == [["dagster"]]
        assert {d: _reason(conn, d)[0] for d in runs} == {"gate": "rejected", "busy": "queued", "dagster": "queued"}


def test_a_delivery_no_run_took_is_retried_once_its_run_should_have_started(wh: Warehouse):
    with wh.begin() as conn:
        _record(conn, "lost", "queued")
        now = dt.datetime.now(dt.timezone.utc).timestamp()
        assert sweep(conn, INTEGRATION, lambda d, r: [], now).counts == {}  # its run may be on its way
        assert sweep(conn, INTEGRATION, lambda d, r: [], now, started={"lost"}).counts == {}
        late = sweep(conn, INTEGRATION, lambda d, r: [], now + 120)
        assert [r.delivery_ids for r in late.retries] == [["lost"]]
        assert _reason(conn, "lost") == ("queued", "no run was started for it; retry 1 of 2")
