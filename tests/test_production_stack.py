"""`make prod`'s promise: the hub runs as separate services (gRPC code server, daemon, operator webserver, read-only
viewer webserver) on PostgreSQL, and files a district drops on its SFTP server become applied deliveries, seen
through the webserver's GraphQL; the runs' steps execute on Celery workers that share only PostgreSQL, the broker
and the archive with the stack; a viewer cannot start anything."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import kombu
import pytest
import sqlalchemy as sa
import yaml

from dagster_project.definitions import PROJECT_ROOT
from dagster_project.executor import hub_executor
from demo.siras_files import students as synthetic_students
from tests.conftest import CA_DISTRICTS, fresh_database, need, siras_integration, write_registry
from tests.loopback import free_port
from tests.sshd import KEY_ENV, Sshd

STUDENTS = {"abc_unified": 25, "fresno_unified": 40}
CODES = {d["id"]: d["state_district_id"] for d in CA_DISTRICTS}
START_SECONDS = 600  # two cores shared by several test sessions: loading definitions alone can take a minute
RUNS = '{ runsOrError { ... on Runs { results { runId status tags { key value } } } } }'
APPLIED = """{ assetOrError(assetKey: {path: ["siras", "student_updates"]}) { ... on Asset {
  assetMaterializations { partition runId metadataEntries { label
    ... on TextMetadataEntry { text } ... on IntMetadataEntry { intValue } } } } } }"""
INSTANCE = """{ instance { runQueuingSupported runQueueConfig { maxConcurrentRuns tagConcurrencyLimitsYaml }
  daemonHealth { allDaemonStatuses { daemonType required healthy } } }
  workspaceOrError { ... on Workspace { locationEntries { name locationOrLoadError { __typename } } } } }"""
STEPS = """query($id: ID!) { logsForRun(runId: $id) { ... on EventConnection { events { __typename
  ... on MessageEvent { message stepKey } ... on EngineEvent { metadataEntries { label ... on TextMetadataEntry { text } } }
  } } } }"""
PERMISSIONS = "{ permissions { permission value } }"
SENSORS = """{ sensorsOrError(repositorySelector: {repositoryName: "__repository__",
  repositoryLocationName: "k12_data_hub"}) { ... on Sensors { results { name sensorState { id status } } } } }"""
STOP_SENSOR = """mutation($id: String!) { stopSensor(id: $id) { __typename ... on UnauthorizedError { message } } }"""
BACKFILL = """mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) { __typename
  ... on UnauthorizedError { message } } }"""
LAUNCH = """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
  ... on UnauthorizedError { message } ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""


def graphql(port: int, query: str, variables: dict | None = None) -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/graphql",
                                 data=json.dumps({"query": query, "variables": variables or {}}).encode(),
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        body = json.load(resp)
    assert "errors" not in body, body["errors"]
    return body["data"]


@dataclass
class Stack:
    """`deploy/stack.py` running against fresh databases, with files waiting on the SFTP server."""

    proc: subprocess.Popen
    log: Path
    operator_port: int
    viewer_port: int
    dagster_db: str
    warehouse_db: str
    files: dict[str, str]  # district -> file name dropped on its SFTP folder
    workers: dict[str, subprocess.Popen]  # Celery node name -> worker process

    def wait(self, what: str, ready: Callable[[], object]) -> object:
        """Poll `ready` until it returns something truthy; fail (with the stack's log) if the stack exits or the
        generous deadline passes."""
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None or any(w.poll() is not None for w in self.workers.values()):
                pytest.fail(f"the stack or a worker exited waiting for {what}:\n{self.tail()}")
            try:
                if result := ready():
                    return result
            except OSError:  # a webserver not listening yet
                pass
            time.sleep(3)
        pytest.fail(f"no {what} within {START_SECONDS} s:\n{self.tail()}")

    def tail(self) -> str:
        logs = [self.log, *sorted(self.log.parent.glob("worker-*/worker.log"))]
        return "\n".join(f"--- {p}\n" + p.read_text(errors="replace")[-4000:] for p in logs)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, sshd: Sshd) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("prod")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "deploy" / "dagster.postgres.yaml", home / "dagster.yaml")
    integrations, files = [], {}
    for district, n in STUDENTS.items():
        remote = sshd.root / f"prod-{district}-{uuid.uuid4().hex[:6]}"
        remote.mkdir()
        transport = {"kind": "sftp", "host": sshd.host, "port": sshd.port, "username": sshd.username,
                     "remote_dir": str(remote), "host_key": sshd.host_key_line, "private_key_env": KEY_ENV}
        integrations.append(siras_integration(transport, id=f"siras_{district}", district=district,
                                              quiet_period_seconds=1, poll_seconds=5))
        files[district] = f"{CODES[district]}_demographics.csv"
        data = synthetic_students(n, CODES[district]).assign(Designation="SPED").to_csv(index=False)
        (remote / files[district]).write_text(data)
    registry = write_registry(root / "registry.yaml", CA_DISTRICTS, integrations)
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=5).close()
    except OSError as exc:
        need(f"RabbitMQ at 127.0.0.1:5672 is not reachable: {exc}")
    tag = uuid.uuid4().hex[:8]  # this session's own queue and worker names on a broker other sessions share
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "DAGSTER_", "CELERY_"))}
    with fresh_database("hub_prod_dagster") as dagster_db, fresh_database("hub_prod_warehouse") as warehouse_db:
        shared = {"DAGSTER_PG_URL": dagster_db.replace("+psycopg:", "+psycopg2:"), "HUB_WAREHOUSE_URL": warehouse_db,
                  "HUB_ARCHIVE_DIR": str(root / "archive"), "HUB_EXECUTOR": "celery", "HUB_CELERY_QUEUE": f"hub_{tag}",
                  "HUB_CELERY_BROKER_URL": "pyamqp://guest:guest@127.0.0.1:5672//",
                  "HUB_HASH_KEY": os.environ["HUB_HASH_KEY"]}
        operator_port, viewer_port = free_port(), free_port()
        env = {**base, **shared, "DAGSTER_HOME": str(home), "HUB_REGISTRY": str(registry), "HUB_HOME": str(root / "hub"),
               "HUB_GRPC_PORT": str(free_port()), "HUB_MARTS_GRPC_PORT": str(free_port()),
               "HUB_WEBSERVER_PORT": str(operator_port),
               "HUB_VIEWER_PORT": str(viewer_port), KEY_ENV: str(sshd.user_key_path)}
        log = root / "stack.log"
        procs: list[subprocess.Popen] = []
        try:
            with open(log, "wb") as out:
                procs.append(subprocess.Popen([sys.executable, str(PROJECT_ROOT / "deploy" / "stack.py")], cwd=root,
                                              env=env, stdout=out, stderr=out, start_new_session=True,
                                              preexec_fn=_login_umask))
            workers = {f"hub{tag}w{i}@{socket.gethostname()}": _start_worker(root / f"worker-{i}", base, shared,
                                                                            registry, f"hub{tag}w{i}")
                       for i in (1, 2)}
            procs += workers.values()
            yield Stack(procs[0], log, operator_port, viewer_port, dagster_db, warehouse_db, files, workers)
        finally:
            for proc in procs:  # the supervisor stops every service it started; a worker stops on SIGTERM
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(timeout=90)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            _delete_queue(shared["HUB_CELERY_BROKER_URL"], shared["HUB_CELERY_QUEUE"])
            left = _kill_services_left(log)
            assert (procs[0].returncode, left) == (0, []), f"the stack did not stop cleanly:\n{log.read_text()[-3000:]}"


def _start_worker(workdir: Path, base: dict[str, str], shared: dict[str, str], registry: Path,
                  name: str) -> subprocess.Popen:
    """A Celery worker standing in for another machine: its own directory, HOME, hub home and copy of the registry
    (the code's configuration); it shares only PostgreSQL, the broker and the archive with the stack."""
    workdir.mkdir()
    shutil.copy(registry, workdir / "registry.yaml")
    env = {**base, **shared, "HOME": str(workdir), "HUB_HOME": str(workdir / "hub"),
           "HUB_REGISTRY": str(workdir / "registry.yaml")}
    argv = [str(Path(sys.executable).parent / "celery"), "-A", "dagster_project.celery_app", "worker",
            "-Q", shared["HUB_CELERY_QUEUE"], "-n", f"{name}@%h", "--concurrency", "1", "--prefetch-multiplier", "1",
            "--without-gossip", "--without-mingle", "-l", "INFO"]
    with open(workdir / "worker.log", "wb") as out:
        return subprocess.Popen(argv, cwd=workdir, env=env, stdout=out, stderr=out, start_new_session=True,
                                preexec_fn=_login_umask)


def _delete_queue(broker_url: str, queue: str) -> None:
    """Leave nothing of this session on the shared broker (Celery declares a durable queue and its exchange)."""
    with kombu.Connection(broker_url) as conn:
        channel = conn.default_channel
        channel.queue_delete(queue)
        channel.exchange_delete(queue)


def _kill_services_left(log: Path) -> list[str]:
    """Processes of the services the stack's log says it started that are still alive (killed, then named)."""
    groups = {int(pid): name for name, pid in
              re.findall(r"^started (\S+) \(pid (\d+)\)", log.read_text(errors="replace"), re.M)}
    left = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _ppid, pgid = stat.read_text().rsplit(")", 1)[1].split()[:3]
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
        if int(pgid) in groups and state != "Z":  # an exited child nobody reaped is no running service
            left.append(f"{groups[pgid]}: {cmdline[:200]}")
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    return left


def _login_umask() -> None:
    """Services start with a server's usual umask (022), whatever this test process has."""
    os.umask(0o022)


def _tag(run: dict, key: str) -> str | None:
    return next((t["value"] for t in run["tags"] if t["key"] == key), None)


def _applied(stack: Stack) -> list[dict] | None:
    """The delivery runs (tagged with their integration) once both integrations' have succeeded; fails at the first
    run of the stack that did not succeed (delivery runs and the marts runs that follow them alike)."""
    runs = graphql(stack.operator_port, RUNS)["runsOrError"]["results"]
    bad = [r for r in runs if r["status"] in ("FAILURE", "CANCELED")]
    assert not bad, f"runs ended {[(r['runId'], r['status']) for r in bad]}:\n{stack.tail()}"
    deliveries = [r for r in runs if _tag(r, "hub/integration")]
    done = {_tag(r, "hub/integration") for r in deliveries if r["status"] == "SUCCESS"}
    return deliveries if done >= {f"siras_{d}" for d in STUDENTS} else None


def test_files_dropped_on_sftp_are_applied_by_the_separate_services(stack: Stack):
    runs = stack.wait("applied deliveries", lambda: _applied(stack))
    assert {_tag(r, "hub/trigger") for r in runs} == {"sensor"}  # the daemon's sensors started them
    materializations = graphql(stack.operator_port, APPLIED)["assetOrError"]["assetMaterializations"]
    by_district = {m["partition"].split("|")[1]: {e["label"]: e.get("text", e.get("intValue"))
                                                 for e in m["metadataEntries"]} for m in materializations}
    assert set(by_district) == set(STUDENTS)
    for district, n in STUDENTS.items():
        assert by_district[district]["files applied"] == stack.files[district]
        assert by_district[district]["core.students rows inserted"] == n
    with sa.create_engine(stack.warehouse_db, poolclass=sa.pool.NullPool).connect() as conn:
        statuses = conn.execute(sa.text("SELECT integration_id, status FROM ops.deliveries")).all()
        assert sorted(statuses) == [(f"siras_{d}", "applied") for d in sorted(STUDENTS)]
        assert conn.execute(sa.text("SELECT count(*) FROM core.students")).scalar_one() == sum(STUDENTS.values())
    with sa.create_engine(stack.dagster_db, poolclass=sa.pool.NullPool).connect() as conn:  # Dagster's storage
        stored = set(conn.execute(sa.text("SELECT run_id FROM runs")).scalars())
    assert {r["runId"] for r in runs} <= stored


def test_the_archive_is_private_to_the_hub(stack: Stack):
    """Received files, zip members, import logs and row-error reports: readable by the hub's user only."""
    stack.wait("applied deliveries", lambda: _applied(stack))
    archive = stack.log.parent / "archive"
    modes = {p.relative_to(archive).as_posix(): (p.is_dir(), p.stat().st_mode & 0o777)
             for p in [archive, *archive.rglob("*")]}
    assert any(name.endswith(".import-log.txt") for name in modes)
    wrong = {name: oct(mode) for name, (is_dir, mode) in modes.items() if mode != (0o700 if is_dir else 0o600)}
    assert wrong == {}


def test_steps_execute_on_the_celery_workers(stack: Stack):
    """Every step of every delivery run ran in a Celery worker (Dagster records the worker's node name)."""
    runs = stack.wait("applied deliveries", lambda: _applied(stack))
    for run in runs:
        events = graphql(stack.operator_port, STEPS, {"id": run["runId"]})["logsForRun"]["events"]
        started = {e["stepKey"] for e in events if e["__typename"] == "ExecutionStepStartEvent"}
        on_workers = {e["stepKey"]: {m["text"] for m in e["metadataEntries"] if m["label"] == "Celery worker"}
                      for e in events if e["__typename"] == "EngineEvent" and "in celery worker" in e["message"]}
        assert started and set(on_workers) == started, (started, on_workers)
        assert set().union(*on_workers.values()) <= set(stack.workers)


def test_the_stack_refuses_to_start_without_its_settings(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "DAGSTER_"))}
    env.update(DAGSTER_HOME=str(tmp_path), DAGSTER_PG_URL="sqlite:///not-postgres.db",
               HUB_WAREHOUSE_URL="duckdb:///secret-path.duckdb")
    done = subprocess.run([sys.executable, str(PROJECT_ROOT / "deploy" / "stack.py")], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert "DAGSTER_HOME must name a directory holding dagster.yaml" in done.stderr
    assert "DAGSTER_PG_URL must be a PostgreSQL URL" in done.stderr
    assert "HUB_WAREHOUSE_URL must be a PostgreSQL URL" in done.stderr
    assert "HUB_HASH_KEY must be set" in done.stderr
    assert "secret-path" not in done.stderr and "not-postgres" not in done.stderr  # URLs carry passwords


def test_the_embedded_default_runs_steps_in_process(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("HUB_EXECUTOR", raising=False)
    assert hub_executor() is dg.in_process_executor
    monkeypatch.setenv("HUB_EXECUTOR", "multiprocess")
    with pytest.raises(ValueError, match="HUB_EXECUTOR='multiprocess' is not one of in_process, celery"):
        hub_executor()


def _intake_sensor(port: int) -> dict:
    sensors = graphql(port, SENSORS)["sensorsOrError"]["results"]
    return next(s for s in sensors if s["name"] == "siras__deliveries")


def test_runs_are_queued_with_a_global_limit_and_one_run_per_integration(stack: Stack):
    data = stack.wait("loaded code locations", lambda: _loaded(stack))
    instance = data["instance"]
    assert instance["runQueuingSupported"]
    assert instance["runQueueConfig"]["maxConcurrentRuns"] == 8
    limits = yaml.safe_load(instance["runQueueConfig"]["tagConcurrencyLimitsYaml"])
    assert limits == [{"key": "hub/integration", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}]
    daemons = {d["daemonType"]: d for d in instance["daemonHealth"]["allDaemonStatuses"] if d["required"]}
    assert {"SENSOR", "SCHEDULER", "QUEUED_RUN_COORDINATOR"} <= set(daemons)
    assert all(d["healthy"] for d in daemons.values()), daemons  # dagster-daemon is running beside the webserver


def test_feeds_and_marts_are_served_by_their_own_code_servers(stack: Stack):
    """As under `make dev`: a feed's run process loads the feeds' location only (no dagster-dbt, dbt-core)."""
    data = stack.wait("loaded code locations", lambda: _loaded(stack))
    assert [e["name"] for e in data["workspaceOrError"]["locationEntries"]] == ["k12_data_hub", "k12_marts"]
    started = re.findall(r"^started (\S+) \(pid \d+\): .* -m (\S+) .*--location-name (\S+)", stack.log.read_text(),
                         re.M)
    assert started == [("code-server", "dagster_project.feeds_location", "k12_data_hub"),
                       ("marts-code-server", "dagster_project.marts_location", "k12_marts")]


def _loaded(stack: Stack) -> dict | None:
    """The instance and workspace once every code location has loaded and the daemons are healthy."""
    data = graphql(stack.operator_port, INSTANCE)
    entries = data["workspaceOrError"]["locationEntries"]
    if not entries or any((e["locationOrLoadError"] or {}).get("__typename") != "RepositoryLocation" for e in entries):
        return None
    healthy = all(d["healthy"] for d in data["instance"]["daemonHealth"]["allDaemonStatuses"] if d["required"])
    return data if healthy else None


def test_viewers_cannot_launch_runs_or_switch_off_intake(stack: Stack):
    runs = stack.wait("applied deliveries", lambda: _applied(stack))
    viewer_runs = graphql(stack.viewer_port, RUNS)["runsOrError"]["results"]
    assert {r["runId"] for r in runs} <= {r["runId"] for r in viewer_runs}  # viewers see the runs
    allowed = {p["permission"]: p["value"] for p in graphql(stack.viewer_port, PERMISSIONS)["permissions"]}
    assert allowed["launch_pipeline_execution"] is False and allowed["start_schedule"] is False
    operator = {p["permission"]: p["value"] for p in graphql(stack.operator_port, PERMISSIONS)["permissions"]}
    assert operator["launch_pipeline_execution"] is True
    params = {"selector": {"repositoryLocationName": "k12_data_hub", "repositoryName": "__repository__",
                           "jobName": "siras_import"},
              "executionMetadata": {"tags": [{"key": "dagster/partition", "value": "2026-01-05|abc_unified"}]}}
    refused = graphql(stack.viewer_port, LAUNCH, {"p": params})["launchRun"]
    assert refused["__typename"] == "UnauthorizedError", refused
    backfill = {"assetSelection": [{"path": ["siras", "student_updates"]}], "partitionNames": ["2026-01-05|abc_unified"]}
    refused = graphql(stack.viewer_port, BACKFILL, {"p": backfill})["launchPartitionBackfill"]  # "Materialize" in the UI
    assert refused["__typename"] == "UnauthorizedError", refused
    sensor = _intake_sensor(stack.viewer_port)
    refused = graphql(stack.viewer_port, STOP_SENSOR, {"id": sensor["sensorState"]["id"]})["stopSensor"]
    assert refused["__typename"] == "UnauthorizedError", refused
    assert _intake_sensor(stack.operator_port)["sensorState"]["status"] == "RUNNING"
    partitions = {_tag(r, "dagster/partition") for r in graphql(stack.operator_port, RUNS)["runsOrError"]["results"]}
    assert "2026-01-05|abc_unified" not in partitions  # nothing was started
