"""`make prod`: the hub as separate Dagster services on PostgreSQL, supervised as one process group.

Starts two code servers (`dagster api grpc`: the feeds, and the dbt marts, so that a feed's run process never
imports dagster-dbt and dbt-core), then `dagster-daemon` (sensors, schedules, run queue), the operator webserver and
a read-only webserver for viewers. If one of them exits, the others are stopped and this exits non-zero;
SIGTERM or SIGINT stops them all. Standard library only: it runs before anything else of the hub is imported.

Environment (secrets only here, never in YAML):
  DAGSTER_HOME         holds dagster.yaml (a copy of deploy/dagster.postgres.yaml)
  DAGSTER_PG_URL       Dagster's run, event-log and schedule storage: postgresql+psycopg2://user:pw@host:5432/db
  HUB_WAREHOUSE_URL    the warehouse: postgresql+psycopg://user:pw@host:5432/db
  HUB_HASH_KEY         the secret key of every keyed hash of a student identifier (32+ characters, never changed)
  HUB_ENV              production (the default here): a missing HUB_HASH_KEY stops every process of the hub
  HUB_GRPC_HOST / HUB_GRPC_PORT       the feeds' code server (location k12_data_hub): 127.0.0.1 / 4266
  HUB_MARTS_GRPC_PORT                 the marts' code server (location k12_marts) on the same host: 4267
  HUB_WEBSERVER_HOST                  where both webservers listen (127.0.0.1: put a reverse proxy in front)
  HUB_WEBSERVER_PORT / HUB_VIEWER_PORT  operator (3000) and read-only viewer (3001) webservers
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKSPACE = ROOT / "deploy" / "workspace.yaml"
# code server -> (code location, module, env var of its port); deploy/workspace.yaml names the same
CODE_SERVERS = {"code-server": ("k12_data_hub", "dagster_project.feeds_location", "HUB_GRPC_PORT"),
                "marts-code-server": ("k12_marts", "dagster_project.marts_location", "HUB_MARTS_GRPC_PORT")}
MIN_HASH_KEY_CHARS = 32  # as hub/store/keyed.py (this file imports nothing of the hub)
DEFAULTS = {"HUB_ENV": "production", "HUB_GRPC_HOST": "127.0.0.1", "HUB_GRPC_PORT": "4266",
            "HUB_MARTS_GRPC_PORT": "4267", "HUB_WEBSERVER_HOST": "127.0.0.1", "HUB_WEBSERVER_PORT": "3000",
            "HUB_VIEWER_PORT": "3001"}
CODE_SERVER_START_SECONDS = 300  # loading definitions parses every registry entry and the dbt manifest
STOP_SECONDS = 15  # `dagster api grpc` may ignore SIGTERM for seconds; then SIGKILL


def check_environment(env: dict[str, str]) -> list[str]:
    """Reasons the stack cannot start (empty when it can)."""
    problems = []
    home = env.get("DAGSTER_HOME")
    if not home or not (Path(home) / "dagster.yaml").is_file():
        problems.append("DAGSTER_HOME must name a directory holding dagster.yaml (copy deploy/dagster.postgres.yaml)")
    if not env.get("DAGSTER_PG_URL", "").startswith("postgresql"):
        problems.append("DAGSTER_PG_URL must be a PostgreSQL URL (postgresql+psycopg2://user@host:5432/db)")
    if not env.get("HUB_WAREHOUSE_URL", "").startswith("postgresql"):
        problems.append("HUB_WAREHOUSE_URL must be a PostgreSQL URL (postgresql+psycopg://user@host:5432/db)")
    if len(env.get("HUB_HASH_KEY", "")) < MIN_HASH_KEY_CHARS:
        problems.append(f"HUB_HASH_KEY must be set to a secret of at least {MIN_HASH_KEY_CHARS} characters "
                        "(e.g. `openssl rand -hex 32`), kept with the warehouse's backups")
    return problems


def commands(env: dict[str, str]) -> dict[str, list[str]]:
    """The services in start order, each an argv."""
    bin_dir = Path(sys.executable).parent
    web = [str(bin_dir / "dagster-webserver"), "-w", str(WORKSPACE), "-h", env["HUB_WEBSERVER_HOST"]]
    servers = {name: [str(bin_dir / "dagster"), "api", "grpc", "-m", module, "-h", env["HUB_GRPC_HOST"],
                      "-p", env[port], "--location-name", location]
               for name, (location, module, port) in CODE_SERVERS.items()}
    return {
        **servers,
        "daemon": [str(bin_dir / "dagster-daemon"), "run", "-w", str(WORKSPACE)],
        "webserver": [*web, "-p", env["HUB_WEBSERVER_PORT"]],
        "viewer": [*web, "-p", env["HUB_VIEWER_PORT"], "--read-only"],
    }


def _listening(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def _stop(procs: dict[str, subprocess.Popen]) -> None:
    """Stop the services in reverse start order (the code server last: the others call it while they stop): SIGTERM
    to each service's process group, a grace period, then SIGKILL to whatever is left of the group (a service's own
    children, such as a run in progress, may outlive it)."""
    for proc in reversed(procs.values()):
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            pass
        _signal_group(proc.pid, signal.SIGKILL)
        proc.wait()


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)  # each service leads its own group
    except ProcessLookupError:
        pass


def main() -> int:
    env = {**DEFAULTS, **os.environ}
    if problems := check_environment(env):
        print("deploy/stack.py cannot start:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    ports = {name: int(env[port]) for name, (_location, _module, port) in CODE_SERVERS.items()}
    for port in ports.values():
        if _listening(env["HUB_GRPC_HOST"], port):  # gRPC would share the port silently
            print(f"port {port} is in use: is another code server running?", file=sys.stderr)
            return 2
    procs: dict[str, subprocess.Popen] = {}
    try:
        for name, argv in commands(env).items():
            procs[name] = subprocess.Popen(argv, cwd=ROOT, env=env, start_new_session=True)
            print(f"started {name} (pid {procs[name].pid}): {' '.join(argv)}", flush=True)
            if name in ports:  # the others load the code locations from them
                deadline = time.monotonic() + CODE_SERVER_START_SECONDS
                while not _listening(env["HUB_GRPC_HOST"], ports[name]):
                    if stopping:
                        return 0
                    if procs[name].poll() is not None or time.monotonic() > deadline:
                        print(f"{name} did not start", file=sys.stderr)
                        return 1
                    time.sleep(1)
        while not stopping:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    print(f"{name} exited with {proc.returncode}; stopping the stack", file=sys.stderr)
                    return 1
            time.sleep(1)
        return 0
    finally:
        _stop(procs)


if __name__ == "__main__":
    sys.exit(main())
