"""Servers the tests and benches start on this machine's loopback: a free port, `dagster dev` on the project's
workspace, and its GraphQL."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(port: int, query: str, **variables: object) -> dict:
    """The data of one GraphQL query to the Dagster webserver on `port`."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", headers={"content-type": "application/json"},
                                 data=json.dumps({"query": query, "variables": variables}).encode())
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)["data"]


@dataclass
class DagsterDev:
    port: int
    stopped: bool = False  # after the block: it stopped on SIGTERM (within 30 s; else it was killed)


@contextmanager
def dagster_dev(env: dict[str, str], *target: str, cwd: Path = ROOT) -> Iterator[DagsterDev]:
    """`dagster dev` of `target` (by default the project's workspace) on a free port of 127.0.0.1, in its own process
    group with the default signal handlers restored (it must stop on SIGTERM); sent SIGTERM when the block ends,
    killed after 30 s."""
    server = DagsterDev(free_port())
    proc = subprocess.Popen(
        [sys.executable, "-m", "dagster", "dev", *(target or ("-w", str(ROOT / "workspace.yaml"))), "-h", "127.0.0.1",
         "-p", str(server.port)], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, preexec_fn=lambda: (signal.signal(signal.SIGINT, signal.SIG_DFL),
                                                    signal.signal(signal.SIGTERM, signal.SIG_DFL)))
    try:
        yield server
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
            server.stopped = True
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
