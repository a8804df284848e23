"""Two runs of the same partition at once (a sensor run and an operator's, or a backfill beside a retry): they
serialize in the warehouse, so staged rows, import-log counts and targets are those of one run."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from tests.faults.siras_hub import JOB, SENSOR, build_hub, contents, drop, engine, report, reset_warehouse, same
from tests.harness import rematerialize, tick


@pytest.fixture
def warehouse_url(pg_url: str) -> str:
    """PostgreSQL only: the test lets both runs go at once with a table lock."""
    return pg_url


def _waiting_on_locks() -> int:
    with engine().connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                    "AND wait_event_type = 'Lock'")).scalar_one()


def test_two_runs_of_one_partition_at_once_stage_and_apply_once(tmp_path: Path, hub_env):
    landing = tmp_path / "landing"
    landing.mkdir()
    defs = build_hub(tmp_path, landing)
    drop(landing, 300)
    first = tick(defs, dg.DagsterInstance.ephemeral(), SENSOR)
    assert [r.success for r in first.runs] == [True]
    day = first.result.run_requests[0].partition_key.keys_by_dimension["date"]
    clean = contents()
    reset_warehouse()
    tick(defs, dg.DagsterInstance.ephemeral(), SENSOR, execute=False)  # recorded, no run yet
    results: list[tuple[bool, str]] = []  # success, import log counts

    def run() -> None:
        with dg.DagsterInstance.ephemeral() as instance:  # one instance per thread, closed in it
            result = rematerialize(defs, instance, JOB, "abc_unified", day)
            mats = result.asset_materializations_for_node("siras__student_updates") if result.success else []
            results.append((result.success, str(mats[0].metadata["import log preview (demographics)"].value)
                            if mats else ""))

    # both runs are let go at the same moment: the staging table is locked until both wait for it
    with engine().connect() as holder:
        holder.begin()
        holder.exec_driver_sql("LOCK TABLE staging.siras__demographics IN ACCESS EXCLUSIVE MODE")
        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 120
        while _waiting_on_locks() < 2:
            assert time.monotonic() < deadline, "the two runs never reached the staging table"
            assert all(t.is_alive() for t in threads), "a run ended before staging"
            time.sleep(0.1)
        holder.rollback()
    for t in threads:
        t.join(timeout=300)
    assert [ok for ok, _ in results] == [True, True]
    assert all("| rows staged | 300 |" in log for _, log in results)  # not 600: staged once
    created = sorted(int(re.search(r"\| records created \| (\d+) \|", log).group(1)) for _, log in results)
    assert created == [0, len(clean["core.students"])]  # the second run finds everything applied
    equal = same(contents(), clean)
    report("two runs of one partition at once", "applied once", equal)
    assert equal
