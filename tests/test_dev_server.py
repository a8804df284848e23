"""`make dev`'s promise: the Dagster UI starts with sensors on, and seeded deliveries become materialized partitions."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from dagster_project.definitions import PROJECT_ROOT
from demo.seed import seed
from hub.registry import load_registry

RUNS = '{ runsOrError { ... on Runs { results { status tags { key value } } } } }'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(port: int, query: str) -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)["data"]


def _districts(runs: list[dict]) -> set[str]:
    return {t["value"].split("|")[1] for r in runs for t in r["tags"] if t["key"] == "dagster/partition"}


def test_dagster_dev_runs_the_demo_deliveries(tmp_path: Path):
    demo = tmp_path / "demo"
    shutil.copytree(PROJECT_ROOT / "demo", demo)
    seed(demo / "registry.yaml")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "HUB_REGISTRY": str(demo / "registry.yaml"),
           "HUB_HOME": str(tmp_path / ".hub"), "PYTHONPATH": str(PROJECT_ROOT)}
    env.pop("HUB_WAREHOUSE_URL", None)
    proc = subprocess.Popen(  # default signal handlers restored: `dagster dev` must stop on SIGTERM
        [sys.executable, "-m", "dagster", "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"), "-h", "127.0.0.1",
         "-p", str(port)], cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, preexec_fn=lambda: (signal.signal(signal.SIGINT, signal.SIG_DFL),
                                                    signal.signal(signal.SIGTERM, signal.SIG_DFL)))
    expected = {i.district for i in load_registry(demo / "registry.yaml").enabled()}
    try:
        deadline, runs = time.monotonic() + 300, []
        while time.monotonic() < deadline:
            time.sleep(3)
            try:
                runs = _graphql(port, RUNS)["runsOrError"]["results"]
            except OSError:
                continue
            done = [r for r in runs if r["status"] in ("SUCCESS", "FAILURE")]
            if len(done) == len(runs) and _districts(done) == expected:
                break
        failed = [t["value"] for r in runs if r["status"] != "SUCCESS" for t in r["tags"] if t["key"] == "dagster/partition"]
        assert runs and not failed, f"runs not successful for partitions {failed}"
        assert _districts(runs) == expected  # every demo district's deliveries became partitions
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("dagster dev did not stop on SIGTERM")
