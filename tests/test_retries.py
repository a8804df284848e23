"""The hub's own retry of deliveries a dead run left behind (hub/intake/retries.py): backoff, a bound, then `failed` with the
reason; gate rejections and runs still going are left alone."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
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


def _succeeded(n: int, **state: object) -> list[RunState]:
    """n runs that succeeded, newest first, the newest ended at T0 (by default the hub's)."""
    return [RunState(f"ok{i:06d}-x", "succeeded", T0 - 1000 * i, **state) for i in range(n)]


def test_a_delivery_the_hubs_run_succeeded_without_finishing_is_retried_then_failed_with_the_reason(wh: Warehouse):
    """An EdReflect delivery stayed queued after its run succeeded, holding up every later day: the sweep left it
    for good because its newest run had succeeded. A delivery always ends in a final state that says why."""
    with wh.begin() as conn:
        _record(conn, "left", "queued")
        due = sweep(conn, INTEGRATION, lambda d, r: _succeeded(1), T0 + 61)
        assert [(r.attempt, r.delivery_ids) for r in due.retries] == [(1, ["left"])]
        assert _reason(conn, "left") == ("queued", "run ok000000 succeeded but left it queued; retry 1 of 2")
        last = sweep(conn, INTEGRATION, lambda d, r: _succeeded(3), T0 + 10_000)
        assert last.retries == [] and _reason(conn, "left") == (
            "failed", "run ok000000 succeeded but left it queued; gave up after 3 run(s)")


def test_an_operators_staging_and_a_delta_day_held_behind_an_earlier_one_stay_staged(wh: Warehouse):
    with wh.begin() as conn:
        _record(conn, "operator", "staged")  # materialized without the apply step: the operator's choice
        _record(conn, "behind", "queued")
        ledger.set_status(conn, ["behind"], "staged", "held: the delivery of 2026-01-01 is not staged yet", "run1")
        _record(conn, "unheld", "staged")  # staged by the hub's run, which succeeded without applying it: retried
        runs = {"operator": _succeeded(1, hub=False), "behind": _succeeded(1), "unheld": _succeeded(1)}
        out = sweep(conn, INTEGRATION, lambda d, r: runs[d], T0 + 61)
        assert [r.delivery_ids for r in out.retries] == [["unheld"]]
        assert [_reason(conn, d)[0] for d in runs] == ["staged", "staged", "queued"]


@pytest.mark.parametrize("warehouse_url", ["postgres"], indirect=True)  # DuckDB runs one writer at a time
def test_a_retry_never_overwrites_the_status_a_run_committed_meanwhile(wh: Warehouse):
    """READ COMMITTED: the sweep read the delivery `staged`, its run applied it and committed, then the sweep's
    UPDATE (waiting on the row) moved it back to `queued`: a lost update that re-imports an applied day."""
    with wh.begin() as conn:
        _record(conn, "raced", "staged")
    with wh.engine.connect() as run:
        applying = run.begin()
        ledger.set_status(run, ["raced"], "applied", run_id="run-x")  # the run's apply, not committed yet
        swept: list = []
        sweeper = threading.Thread(target=lambda: swept.append(_sweep_once(wh)))
        sweeper.start()
        _wait_for_a_lock_wait(wh)  # the sweep's UPDATE waits for the run's row lock
        applying.commit()
        sweeper.join(30)
    assert swept and swept[0].retries == []
    with wh.begin() as conn:
        assert _reason(conn, "raced") == ("applied", None)


def _sweep_once(wh: Warehouse):
    with wh.begin() as conn:
        return sweep(conn, INTEGRATION, lambda d, r: _failed(1), T0 + 61)


def _wait_for_a_lock_wait(wh: Warehouse) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with wh.engine.connect() as conn:
            if conn.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                    "AND datname = current_database()")).scalar_one():
                return
        time.sleep(0.05)
    raise AssertionError("the sweep never waited for the run's row lock")
