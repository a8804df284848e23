"""The demo's state lives in one folder: the project's .hub (ignored by git, removed by `make clean`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from hub.registry.registry import FolderTransportConfig
from hub.registry.loading import load_registry
from hub.store.keyed import hub_home

PROJECT = Path(__file__).resolve().parents[1]


def test_default_hub_home_is_the_projects_dot_hub(monkeypatch):
    monkeypatch.delenv("HUB_HOME", raising=False)
    assert hub_home() == PROJECT / ".hub"  # not inside the hub/ package


def test_demo_landing_folders_sit_in_the_hub_home(monkeypatch):
    monkeypatch.delenv("HUB_HOME", raising=False)
    registry_file = PROJECT / "demo" / "registry.yaml"
    folders = [(registry_file.parent / i.transport.path).resolve() for i in load_registry(registry_file).enabled()
               if isinstance(i.transport, FolderTransportConfig)]
    assert folders and all(f.is_relative_to(hub_home() / "landing") for f in folders)
    ignored = subprocess.run(["git", "check-ignore", "-q", str(hub_home() / "warehouse.duckdb")], cwd=PROJECT)
    assert ignored.returncode == 0
