"""The fault suite: each test records `fault | outcome | tables equal clean run`; the table is printed at the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml

from tests.faults.siras_hub import REPORT, ROOT


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dg.DagsterInstance]:
    """A persistent Dagster instance configured as deployed (deploy/dagster.yaml: run retries, run monitoring), shared
    with the run processes the tests start."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    config = yaml.safe_load((ROOT / "deploy" / "dagster.yaml").read_text())
    config["run_monitoring"]["free_slots_after_run_end_seconds"] = 1  # the test does not wait a minute
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as inst:
        yield inst


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not REPORT:
        return
    width = max(len(r[0]) for r in REPORT)
    out = max(len(r[1]) for r in REPORT)
    terminalreporter.section("fault suite")
    terminalreporter.write_line(f"{'fault':<{width}} | {'outcome':<{out}} | tables equal clean run")
    for fault, outcome, equal in REPORT:
        terminalreporter.write_line(f"{fault:<{width}} | {outcome:<{out}} | {'yes' if equal else 'NO'}")
