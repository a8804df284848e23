"""The SFTP session is frozen, then killed, in the middle of a transfer (a real sshd): nothing is recorded or
archived from the broken transfer, and the next tick receives the whole file and applies it like a clean run."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import dagster as dg
import pytest

from dagster_project.definitions import build_definitions
from demo.siras_files import write_csv
from tests.conftest import CA_DISTRICTS, siras_integration, write_registry
from tests.faults.siras_hub import FILE, SENSOR, contents, query, report, reset_warehouse, same, statuses
from tests.harness import Tick, tick
from tests.sshd import Sshd

ROWS = 60_000  # megabytes: the transfer takes long enough to be caught


@pytest.fixture
def warehouse_url(pg_url: str) -> str:
    """The transport's fault: one warehouse (PostgreSQL, as deployed) keeps the suite short."""
    return pg_url


def _sessions(sshd: Sshd) -> list[int]:
    """The per-connection processes under the listening sshd."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found, frontier = set(), {sshd._proc.pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - found
        found |= frontier
    return sorted(found)


def test_sftp_session_killed_mid_transfer_leaves_nothing_and_is_received_again(tmp_path, hub_env, sshd, sftp_dir,
                                                                               sftp_env):
    landing = tmp_path / "landing"
    landing.mkdir()
    data = write_csv(landing / FILE, ROWS, "1964212").read_bytes()
    defs_clean = build_definitions(write_registry(tmp_path / "clean.yaml", CA_DISTRICTS, [siras_integration(
        {"kind": "folder", "path": str(landing)})]))
    with dg.DagsterInstance.ephemeral() as inst:
        assert [r.success for r in tick(defs_clean, inst, SENSOR).runs] == [True]
    clean = contents()
    reset_warehouse()

    transport = {"kind": "sftp", "host": sshd.host, "port": sshd.port, "username": sshd.username,
                 "remote_dir": str(sftp_dir), "host_key": sshd.host_key_line, "private_key_env": sftp_env}
    defs = build_definitions(write_registry(tmp_path / "registry.yaml", CA_DISTRICTS,
                                            [siras_integration(transport, quiet_period_seconds=0)]))
    (sftp_dir / FILE).write_bytes(data)
    tmp_dir = hub_env["home"] / "archive" / ".tmp"
    broken: list[Tick | BaseException] = []

    def first_tick() -> None:
        try:
            with dg.DagsterInstance.ephemeral() as inst:
                broken.append(tick(defs, inst, SENSOR))
        except BaseException as exc:  # the tick's own outcome is what the test looks at
            broken.append(exc)

    thread = threading.Thread(target=first_tick)
    thread.start()
    deadline = time.monotonic() + 120
    while not any(p.stat().st_size > 0 for p in (tmp_dir.glob("*") if tmp_dir.exists() else [])):
        assert thread.is_alive() and time.monotonic() < deadline, "the transfer was never seen in progress"
        time.sleep(0.005)
    for pid in _sessions(sshd):
        os.kill(pid, signal.SIGSTOP)  # frozen mid-transfer
    received = sum(p.stat().st_size for p in tmp_dir.glob("*"))
    sshd.drop_connections()  # then killed
    thread.join(timeout=120)
    assert 0 < received < len(data)
    outcome = broken[0]
    if isinstance(outcome, Tick):
        assert outcome.runs == [] and outcome.skip_reason
    assert query("SELECT count(*) FROM ops.deliveries") == [(0,)]  # nothing recorded from the broken transfer
    assert list(tmp_dir.glob("*")) == []  # and nothing half-written kept
    with dg.DagsterInstance.ephemeral() as inst:
        again = tick(defs, inst, SENSOR)
        assert [r.success for r in again.runs] == [True]
    assert statuses() == {FILE: "applied"}
    equal = same(contents(), clean)
    report("SFTP session frozen, then killed, mid-transfer", "nothing recorded; next tick applied", equal)
    assert equal
