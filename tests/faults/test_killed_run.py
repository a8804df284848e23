"""kill -9 of a run process in the middle of its apply (issue 15 item 1): nothing of the apply stays, the delivery is
retried by itself (backoff, bounded) and ends applied, with the same tables as a clean run."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import yaml
from dagster._utils import get_run_crash_explanation

from hub.intake import ledger
from resources.warehouse import Warehouse
from tests.faults.siras_hub import (FILE, ROOT, SENSOR, apply_started, build_hub, clean_run, contents, drop, engine,
                                    free_slots_of_ended_runs, is_postgres, lock_waiters, query, report, same, start_run,
                                    statuses)
from tests.harness import tick


def test_a_run_killed_mid_apply_is_retried_and_applies_once(tmp_path: Path, hub_env, instance):
    landing = tmp_path / "landing"
    landing.mkdir()
    rows = 3_000 if is_postgres() else 20_000  # DuckDB: an apply long enough to be killed in
    clean = clean_run(tmp_path, landing, rows)
    defs = build_hub(tmp_path, landing, retry_backoff_seconds=0)
    drop(landing, rows)
    first = tick(defs, instance, SENSOR, execute=False)
    holder = engine().connect() if is_postgres() else None
    if holder is not None:  # PostgreSQL: the apply waits for the students table until it is killed
        holder.begin()
        holder.exec_driver_sql("LOCK TABLE core.students IN ACCESS EXCLUSIVE MODE")
    proc = start_run(tmp_path, first.result.run_requests[0])
    deadline = time.monotonic() + 180
    while (run := apply_started(instance)) is None or (holder is not None and lock_waiters() < 1):
        assert proc.poll() is None, (tmp_path / "run_worker.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "the run never reached its apply"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    if holder is not None:
        holder.rollback()
        holder.close()
    killed_mid_apply = statuses() == {FILE: "staged"}
    assert killed_mid_apply or not is_postgres()
    if killed_mid_apply:  # nothing of the apply stays
        assert query("SELECT count(*) FROM core.students") == [(0,)]
    # what run monitoring does when a run worker dies (ForkRunLauncher.check_run_worker_health: test_fork_launcher)
    instance.report_engine_event(get_run_crash_explanation(f"Run execution process for {run.run_id}", -9), run)
    instance.report_run_failed(run)
    free_slots_of_ended_runs(instance)
    assert instance.get_run_by_id(run.run_id).tags.get("dagster/will_retry") == "true"  # deploy/dagster.yaml
    retry = tick(defs, instance, SENSOR, cursor=first.cursor)
    if killed_mid_apply:
        assert [r.success for r in retry.runs] == [True]
        assert retry.result.run_requests[0].tags["hub/retry"] == "1"
    assert statuses() == {FILE: "applied"}
    did = query("SELECT delivery_id FROM ops.deliveries")[0][0]
    with Warehouse(hub_env["url"]).begin() as conn:
        reasons = [e.reason or "" for e in ledger.history(conn, did)]
    assert not killed_mid_apply or any("retry 1 of 3" in r and run.run_id[:8] in r for r in reasons), reasons
    equal = same(contents(), clean)
    report("kill -9 of the run process mid-apply",
           "retried, applied" if killed_mid_apply else "killed after its apply committed: applied", equal)
    assert equal


@pytest.mark.parametrize("name", ["dagster.yaml", "dagster.postgres.yaml"])
def test_both_instance_configs_retry_dead_runs_and_free_their_slots(name: str):
    config = yaml.safe_load((ROOT / "deploy" / name).read_text())
    assert config["run_retries"]["enabled"] and config["run_retries"]["max_retries"] >= 1
    assert config["run_retries"]["retry_on_asset_or_op_failure"] is False  # gate failures are never retried
    assert config["run_monitoring"]["enabled"] and config["run_monitoring"]["free_slots_after_run_end_seconds"] > 0
