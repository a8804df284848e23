"""The embedded default's run launcher (deploy/dagster.yaml, dagster_project/fork_launcher.py): a run forked from the
warm server executes its job in its own process; run monitoring finds a killed run process failed (so run retries
start it again), and a terminated run is canceled."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.launcher import WorkerStatus

from dagster_project.fork_launcher import PID_TAG, ForkRunLauncher

ROOT = Path(__file__).resolve().parents[1]


@dg.op(config_schema={"dir": str})
def note_pid(context) -> None:  # noqa: ANN001 (Dagster reads the annotation, a string here)
    Path(context.op_config["dir"], "pid").write_text(str(os.getpid()))


@dg.op
def wait() -> None:
    time.sleep(120)  # the test kills or cancels the run long before


@dg.job(executor_def=dg.in_process_executor)
def noting() -> None:
    note_pid()


@dg.job(executor_def=dg.in_process_executor)
def waiting() -> None:
    wait()


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dg.DagsterInstance]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as inst:
        assert isinstance(inst.run_launcher, ForkRunLauncher)
        yield inst


def _launch(instance: dg.DagsterInstance, job: dg.JobDefinition, run_config: dict | None = None) -> str:
    run = instance.create_run_for_job(job_def=job, run_config=run_config,
                                      job_code_origin=dg.reconstructable(job).get_python_origin())
    instance.launch_run(run.run_id, workspace=None)  # the fork launcher needs no code server
    return run.run_id


def _until(instance: dg.DagsterInstance, run_id: str, statuses: set[dg.DagsterRunStatus]) -> dg.DagsterRun:
    deadline = time.monotonic() + 120
    while (run := instance.get_run_by_id(run_id)).status not in statuses:
        assert time.monotonic() < deadline, f"run still {run.status}"
        time.sleep(0.1)
    return run


def test_a_forked_run_executes_its_job_in_its_own_process(instance, tmp_path):
    run_config = {"ops": {"note_pid": {"config": {"dir": str(tmp_path)}}}}
    ended = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE}
    run = _until(instance, _launch(instance, noting, run_config), ended)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    pid = int((tmp_path / "pid").read_text())
    assert pid == int(run.tags[PID_TAG]) != os.getpid()


def test_run_monitoring_finds_a_killed_run_process_failed(instance):
    run = _until(instance, _launch(instance, waiting), {dg.DagsterRunStatus.STARTED})
    assert instance.run_launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING
    os.kill(int(run.tags[PID_TAG]), signal.SIGKILL)
    deadline = time.monotonic() + 30
    while (health := instance.run_launcher.check_run_worker_health(run)).status == WorkerStatus.RUNNING:
        assert time.monotonic() < deadline, "the killed process is still reported running"
        time.sleep(0.05)
    assert health.status == WorkerStatus.FAILED and run.tags[PID_TAG] in (health.msg or "")


def test_a_terminated_run_is_canceled(instance):
    run = _until(instance, _launch(instance, waiting), {dg.DagsterRunStatus.STARTED})
    assert instance.run_launcher.terminate(run.run_id)
    assert _until(instance, run.run_id, {dg.DagsterRunStatus.CANCELED, dg.DagsterRunStatus.FAILURE,
                                         dg.DagsterRunStatus.SUCCESS}).status == dg.DagsterRunStatus.CANCELED
