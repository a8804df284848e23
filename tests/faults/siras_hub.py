"""A SIRAS hub on a drop folder for the fault suite, and what a clean run of the same file leaves behind."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from dagster_project.definitions import build_definitions
from demo.siras_files import students
from hub.store import schema as hub_schema
from tests.conftest import CA_DISTRICTS, siras_integration, write_registry
from tests.harness import tick

ROOT = Path(__file__).resolve().parents[2]
SENSOR = "siras__deliveries"
APPLY_STEP = "siras__student_updates"
JOB = "siras_import"
FILE = "1964212_demographics.csv"
REPORT: list[tuple[str, str, bool]] = []  # fault, outcome, tables equal a clean run's


def report(fault: str, outcome: str, equal: bool) -> None:
    """One row of the summary table (the warehouse in brackets)."""
    kind = "postgres" if is_postgres() else "duckdb"
    REPORT.append((f"{fault} [{kind}]", outcome, equal))


def build_hub(tmp_path: Path, landing: Path, **integration: object) -> dg.Definitions:
    registry = write_registry(tmp_path / "registry.yaml", CA_DISTRICTS,
                              [siras_integration({"kind": "folder", "path": str(landing)}, **integration)])
    return build_definitions(registry)


def drop(landing: Path, rows: int, name: str = FILE, seed: int = 0, mtime: float | None = None,
         regrade: bool = False) -> Path:
    """A demographics file of `rows` synthetic students, modified now (or at `mtime`); `regrade`: every third
    student in grade 12 (a correction of fields that updates may change)."""
    path = landing / name
    frame = students(rows, "1964212", seed=seed)
    if regrade:
        frame.loc[frame.index % 3 == 0, "GRADE"] = "12"
    frame.to_csv(path, index=False)
    stamp = time.time() if mtime is None else mtime
    os.utime(path, (stamp, stamp))
    return path


def clean_run(tmp_path: Path, landing: Path, rows: int, regrade: bool = False) -> dict[str, pd.DataFrame]:
    """Contents after one clean run of one file; the warehouse and the landing folder are emptied again."""
    defs = build_hub(tmp_path, landing)
    drop(landing, rows, regrade=regrade)
    with dg.DagsterInstance.ephemeral() as instance:
        assert [r.success for r in tick(defs, instance, SENSOR).runs] == [True]
    clean = contents()
    reset_warehouse()
    for f in landing.iterdir():
        f.unlink()
    return clean


def is_postgres() -> bool:
    return not os.environ["HUB_WAREHOUSE_URL"].startswith("duckdb")


def engine() -> sa.Engine:
    return sa.create_engine(os.environ["HUB_WAREHOUSE_URL"], poolclass=sa.pool.NullPool)


def query(sql: str, **params: object) -> list[tuple]:
    with engine().connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params)]


def statuses() -> dict[str, str]:
    return dict(query("SELECT file_name, status FROM ops.deliveries"))


def _frame(sql: str) -> pd.DataFrame:
    frame = pd.DataFrame(query(sql))
    return frame.sort_values(list(frame.columns)).reset_index(drop=True) if len(frame) else frame


CONTENTS = {
    "core.students": "SELECT state_student_id, local_student_id, first_name, last_name, middle_name, grade, el_type, "
                     "designation, CAST(birthdate AS VARCHAR), status FROM core.students",
    "ops.field_audit": "SELECT entity_key, action, field, old_value, new_value, source_file FROM ops.field_audit",
    "staging rows": "SELECT d.file_name, count(*) FROM staging.siras__demographics s "
                    "JOIN ops.deliveries d ON d.delivery_id = s.delivery_id GROUP BY d.file_name",
}


def contents(*names: str) -> dict[str, pd.DataFrame]:
    """What deliveries leave in the warehouse, without what differs between two runs (times, run ids)."""
    return {name: _frame(CONTENTS[name]) for name in names or CONTENTS}


def same(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> bool:
    return a.keys() == b.keys() and all(a[k].equals(b[k]) for k in a)


def reset_warehouse() -> None:
    """Empty the warehouse (the clean run is compared with a faulted run of the same file in the same place)."""
    url = os.environ["HUB_WAREHOUSE_URL"]
    if url.startswith("duckdb:///"):
        Path(url.removeprefix("duckdb:///")).unlink(missing_ok=True)
    else:
        with sa.create_engine(url).begin() as conn:
            for schema in ("ops", "staging", "core", "marts", "edreflect"):
                conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    hub_schema._ready.clear()


def start_run(tmp_path: Path, req: dg.RunRequest) -> subprocess.Popen:
    """A run process (tests/faults/run_worker.py) for a run request, logging to tmp_path/run_worker.log."""
    payload = {"partition": dict(req.partition_key.keys_by_dimension), "tags": dict(req.tags),
               "assets": [list(k.path) for k in req.asset_selection]}
    log = open(tmp_path / "run_worker.log", "wb")  # noqa: SIM115 (the child keeps it)
    return subprocess.Popen([sys.executable, "-m", "tests.faults.run_worker", str(tmp_path / "registry.yaml"),
                             json.dumps(payload)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


def apply_started(instance: dg.DagsterInstance) -> dg.DagsterRun | None:
    """The integration's run whose apply step has started, if any."""
    for run in instance.get_runs(dg.RunsFilter(tags={"hub/integration": "siras_abc_unified"})):
        if any(e.step_key == APPLY_STEP for e in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START)):
            return run
    return None


def lock_waiters() -> int:
    """PostgreSQL sessions of the warehouse waiting for a lock."""
    with engine().connect() as conn:
        return conn.exec_driver_sql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                    "AND wait_event_type = 'Lock'").scalar_one()


def free_slots_of_ended_runs(instance: dg.DagsterInstance) -> None:
    """What the daemon's run monitoring does every poll (run_monitoring.free_slots_after_run_end_seconds): pool slots
    of runs that ended (a killed run never gives its slot back) are freed."""
    from types import SimpleNamespace

    from dagster._daemon.monitoring.concurrency import execute_concurrency_slots_iteration

    time.sleep(1.5)  # the instance frees them 1 s after the run ended (tests/faults/conftest.py)
    list(execute_concurrency_slots_iteration(SimpleNamespace(instance=instance), logging.getLogger("test")))
