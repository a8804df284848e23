"""The embedded default's run launcher: each run process is forked from a warm server that has already imported
Dagster and its SQLite storage (Python's multiprocessing forkserver), instead of a fresh interpreter per run.

Dagster's DefaultRunLauncher has the code server spawn a new interpreter per run and waits until it has imported
Dagster and opened the instance (~2 CPU-s), one launch at a time, before the daemon launches the next queued run.
Here the daemon returns once the run is forked; the run process opens the instance, loads its job from the run's
own code origin (the hub's modules load fresh in every run: a code change is picked up by the next run) and
executes it as `dagster api execute_run` does. Only third-party modules are preloaded (`preload_modules`).
Run monitoring asks whether a started run's process is alive (a killed one is failed, then retried), as Dagster's
code server does for the processes it spawned.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.instance import DagsterInstance, InstanceRef
from dagster._core.launcher import CheckRunHealthResult, LaunchRunContext, RunLauncher, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun
from dagster._serdes import ConfigurableClass, ConfigurableClassData

PID_TAG = "hub/run_pid"


def _run_worker(run_id: str, instance_ref: InstanceRef) -> None:
    """The forked run process: what `dagster api execute_run` does, interrupted (SIGINT) on termination."""
    from dagster._cli.api import _execute_run_command_body
    from dagster._utils.interrupts import capture_interrupts

    with capture_interrupts(), DagsterInstance.from_ref(instance_ref) as instance:
        _execute_run_command_body(run_id, instance, lambda _event: None, set_exit_code_on_failure=False)


class ForkRunLauncher(RunLauncher, ConfigurableClass):
    """Launches each run in a process forked from a server with `preload_modules` imported."""

    def __init__(self, preload_modules: Sequence[str] = (), inst_data: ConfigurableClassData | None = None):
        self._inst_data = inst_data
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(list(preload_modules))
        super().__init__()

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> dict:
        return {"preload_modules": dg.Field([str], is_required=False, default_value=[],
                                            description="modules the fork server imports once (third-party only)")}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]) -> ForkRunLauncher:
        return cls(inst_data=inst_data, **config_value)

    def launch_run(self, context: LaunchRunContext) -> None:
        run_id = context.dagster_run.run_id
        process = self._context.Process(target=_run_worker, args=(run_id, self._instance.get_ref()),
                                        name=f"dagster-run-{run_id}")
        process.start()
        self._instance.add_run_tags(run_id, {PID_TAG: str(process.pid)})

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        pid = run.tags.get(PID_TAG)
        if pid and _alive(int(pid)):
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(WorkerStatus.FAILED, f"run process {pid or '?'} is gone")

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        if not run or run.is_finished or PID_TAG not in run.tags:
            return False
        self._instance.report_run_canceling(run)
        try:
            os.kill(int(run.tags[PID_TAG]), signal.SIGINT)  # the run stops its step and reports itself canceled
        except ProcessLookupError:
            return False
        return True


def _alive(pid: int) -> bool:
    """Whether the process exists and has not exited (on Linux, a zombie waits for the fork server to reap it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return True  # no /proc (macOS): the signal reached it
