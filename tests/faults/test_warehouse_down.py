"""The warehouse server stops in the middle of a run (a private PostgreSQL, never the shared one): the step fails
without writing, the delivery says why and when it is retried, and once the server is back the retry applies it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.intake import ledger
from resources.warehouse import Warehouse
from tests.conftest import need
from tests.faults.private_pg import PrivatePostgres
from tests.faults.siras_hub import (FILE, SENSOR, apply_started, build_hub, clean_run, contents, drop, engine,
                                    lock_waiters, query, report, same, start_run, statuses)
from tests.harness import tick


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PrivatePostgres]:
    try:
        server = PrivatePostgres()
    except (FileNotFoundError, OSError) as exc:
        need(f"a private PostgreSQL cannot be started: {exc}")
    server.start()
    yield server
    server.remove()


@pytest.fixture
def warehouse_url(private_pg: PrivatePostgres) -> str:
    return private_pg.url


def test_warehouse_stopped_mid_run_is_retried_when_it_is_back(tmp_path: Path, hub_env, instance, private_pg):
    landing = tmp_path / "landing"
    landing.mkdir()
    clean = clean_run(tmp_path, landing, 2_000)
    defs = build_hub(tmp_path, landing, retry_backoff_seconds=0)
    drop(landing, 2_000)
    first = tick(defs, instance, SENSOR, execute=False)
    holder = engine().connect()  # the apply waits for the students table while the server goes down
    holder.begin()
    holder.exec_driver_sql("LOCK TABLE core.students IN ACCESS EXCLUSIVE MODE")
    proc = start_run(tmp_path, first.result.run_requests[0])
    deadline = time.monotonic() + 180
    while (run := apply_started(instance)) is None or lock_waiters() < 1:
        assert proc.poll() is None, (tmp_path / "run_worker.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "the run never reached its apply"
        time.sleep(0.05)
    private_pg.stop("immediate")
    assert proc.wait(timeout=180) == 1  # the run failed by itself
    holder.invalidate()
    private_pg.start()
    assert statuses() == {FILE: "staged"} and query("SELECT count(*) FROM core.students") == [(0,)]
    assert instance.get_run_by_id(run.run_id).tags.get("dagster/will_retry") == "false"  # a failed step: the hub
    retry = tick(defs, instance, SENSOR, cursor=first.cursor)
    assert [r.success for r in retry.runs] == [True]
    assert statuses() == {FILE: "applied"}
    with Warehouse(hub_env["url"]).begin() as conn:
        reasons = [e.reason or "" for e in ledger.history(conn, query("SELECT delivery_id FROM ops.deliveries")[0][0])]
    assert any(f"run {run.run_id[:8]} failed (STEP_FAILURE); retry 1 of 3" == r for r in reasons), reasons
    equal = same(contents(), clean)
    report("warehouse server stopped mid-run", "retried when back, applied", equal)
    assert equal
