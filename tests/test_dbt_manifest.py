"""The dbt manifest every process loads is parsed again when a model or config changed, and only then: dbt's own
output under the project (target/, logs/) never makes it stale."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assets import dbt_assets


def _touch(path: Path, mtime: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("select 1\n")
    os.utime(path, (mtime, mtime))
    return path


@pytest.mark.parametrize("edited, stale", [
    (None, False),
    ("target/compiled/hub/models/marts/student_profile.sql", False),  # dbt's output, written after the parse
    ("logs/run.yml", False),
    ("models/marts/student_profile.sql", True),
    ("models/staging/sources.yml", True),
    ("dbt_project.yml", True),
])
def test_manifest_is_stale_only_when_the_projects_own_files_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    edited: str | None, stale: bool):
    monkeypatch.setattr(dbt_assets, "DBT_DIR", tmp_path)
    for name in ("dbt_project.yml", "models/marts/student_profile.sql", "models/staging/sources.yml"):
        _touch(tmp_path / name, 1_000)
    manifest = _touch(tmp_path / "target" / "manifest.json", 2_000)
    if edited:
        _touch(tmp_path / edited, 3_000)
    assert dbt_assets._manifest_stale(manifest) is stale


def test_a_missing_manifest_is_stale(tmp_path: Path):
    assert dbt_assets._manifest_stale(tmp_path / "target" / "manifest.json")
