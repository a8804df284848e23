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


def _execute(defs: dg.Definitions, instance: dg.DagsterInstance, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    job = defs.resolve_job_def("siras_import")
    return job.execute_in_process(instance=instance, partition_key=request.partition_key, tags=request.tags,
                                  asset_selection=request.asset_selection, raise_on_error=False)


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
