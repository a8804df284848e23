"""Every delivery a run took reaches a final state that says why, whichever order the runs of one integration
execute in (a loaded daemon, a retry after backoff): real files, sensor ticks and runs, on both warehouses."""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg

from dagster_project.definitions import build_definitions
from demo.siras_files import students as synthetic_students
from tests.conftest import CA_DISTRICTS, siras_integration, write_registry
from tests.harness import tick
from tests.test_siras_pipeline import SENSOR, drop, query

DAY = 86_400


def _execute(defs: dg.Definitions, instance: dg.DagsterInstance, request: dg.RunRequest,
             run_config: dict | None = None) -> dg.ExecuteInProcessResult:
    job = defs.resolve_job_def("siras_import")
    return job.execute_in_process(run_config=run_config, instance=instance, partition_key=request.partition_key,
                                  tags=request.tags, asset_selection=request.asset_selection, raise_on_error=False)


def test_a_snapshot_run_after_a_newer_day_was_applied_skips_its_file_with_the_reason(tmp_path: Path, landing: Path,
                                                                                     hub_env: dict):
    """Santa Ana's `_prev` file stayed `staged` after its run succeeded: the newer day's run went first, so the
    apply left the older snapshot unapplied (rightly) without a final state; the retry sweep then skipped it for
    good (its newest run succeeded)."""
    registry = write_registry(tmp_path / "registry.yaml", CA_DISTRICTS,
                              [siras_integration({"kind": "folder", "path": str(landing)})])
    defs, instance = build_definitions(registry), dg.DagsterInstance.ephemeral()
    frame = synthetic_students(20, "1964212")
    drop(landing, "1964212_demographics_prev.csv", frame, age_seconds=DAY)
    drop(landing, "1964212_demographics.csv", frame.assign(GRADE="07"), age_seconds=60)
    requested = tick(defs, instance, SENSOR, execute=False).result.run_requests
    assert len(requested) == 2  # yesterday's day, today's day
    for request in reversed(requested):  # today's run first
        assert _execute(defs, instance, request).success
    assert query("SELECT file_name, status, reason FROM ops.deliveries ORDER BY file_name") == [
        ("1964212_demographics.csv", "applied", None),
        ("1964212_demographics_prev.csv", "skipped", "superseded by 1964212_demographics.csv, the newer file of "
                                                     "demographics applied before it"),
    ]
    assert tick(defs, instance, SENSOR, execute=False).result.run_requests == []


def test_every_retry_of_a_delivery_is_a_run_of_its_own(tmp_path: Path, landing: Path, hub_env: dict):
    """Dagster silently drops a run request whose run key it has seen: a delivery whose first run was lost (a sensor
    tick past its 60 s deadline) was retried as 'retry 1', and after that run failed, as 'retry 1' again: a dropped
    request, so it stayed queued, retried every backoff, without a run."""
    registry = write_registry(tmp_path / "registry.yaml", CA_DISTRICTS, [siras_integration(
        {"kind": "folder", "path": str(landing)}, run_retries=2, retry_backoff_seconds=0)])
    defs, instance = build_definitions(registry), dg.DagsterInstance.ephemeral()
    drop(landing, "1964212_demographics.csv", synthetic_students(10, "1964212"), age_seconds=60)
    lost = tick(defs, instance, SENSOR, execute=False)  # its run request never reaches Dagster
    first = tick(defs, instance, SENSOR, cursor=lost.cursor, execute=False)
    assert [r.tags["hub/trigger"] for r in first.result.run_requests] == ["retry"]
    down = {"resources": {"warehouse": {"config": {"url": "postgresql://hub@127.0.0.1:9/gone"}}}}
    assert not _execute(defs, instance, first.result.run_requests[0], down).success  # the warehouse was lost
    second = tick(defs, instance, SENSOR, cursor=first.cursor)
    assert [r.success for r in second.runs] == [True]
    keys = [r.run_key for t in (lost, first, second) for r in t.result.run_requests]
    assert len(keys) == 3 and len(set(keys)) == 3, "a retry reused a run key Dagster has seen"
    assert query("SELECT status FROM ops.deliveries") == [("applied",)]
