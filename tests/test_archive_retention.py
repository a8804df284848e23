"""Archive retention (`retention_days` per integration, `hub archive purge`), on both warehouses and in object
storage: archived files of older days go with their import logs, reports and staged rows, the purge is recorded, and
a re-import or re-apply of a purged delivery fails saying why. Archived files are 0600 in 0700 folders."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import dagster as dg
import pytest

from dagster_project.definitions import build_definitions
from demo.siras_files import students as synthetic_students
from hub.cli.main import main as hub_cli
from resources.archive import exists
from tests.conftest import CA_DISTRICTS, siras_integration, write_registry
from tests.harness import rematerialize, tick
from tests.s3server import S3Archive
from tests.test_siras_pipeline import SENSOR, drop, query

RETENTION = 30


@pytest.fixture
def kept(tmp_path: Path, hub_env: dict) -> tuple[dg.Definitions, dg.DagsterInstance, Path, Path]:
    """SIRAS with retention_days: definitions, instance, drop folder, registry."""
    landing = tmp_path / "landing"
    landing.mkdir()
    registry = write_registry(tmp_path / "registry.yaml", CA_DISTRICTS, [
        siras_integration({"kind": "folder", "path": str(landing)}, retention_days=RETENTION)])
    return build_definitions(registry), dg.DagsterInstance.ephemeral(), landing, registry


def _import_one(defs: dg.Definitions, instance: dg.DagsterInstance, landing: Path) -> tuple[str, str, str, list[str]]:
    """One applied delivery: (delivery id, day, archive path, its reports)."""
    path = drop(landing, "1964212_demographics.csv", synthetic_students(5, "1964212").assign(Designation="SPED"))
    assert [r.success for r in tick(defs, instance, SENSOR).runs] == [True]
    path.unlink()  # re-imports read the archive only
    ((did, day, archived),) = query("SELECT delivery_id, partition_date, archive_path FROM ops.deliveries")
    reports = [m for m in _objects(archived) if m != archived]
    assert exists(archived) and reports  # the import log and row-error report beside it
    return did, day, archived, reports


def _objects(archived: str) -> list[str]:
    from resources.archive import beside
    return [archived, *beside(f"{archived}.")] if exists(archived) else beside(f"{archived}.")


def _purge_then_reimport(kept, capsys: pytest.CaptureFixture) -> str:
    defs, instance, landing, registry = kept
    did, day, archived, reports = _import_one(defs, instance, landing)
    at = dt.date.fromisoformat(day)
    args = ["archive", "purge", "--registry", str(registry), "--by", "nightly retention"]
    assert hub_cli([*args, "--today", str(at + dt.timedelta(days=RETENTION))]) == 0  # the last day it is kept
    assert "nothing to purge" in capsys.readouterr().out and exists(archived)
    assert hub_cli([*args, "--today", str(at + dt.timedelta(days=RETENTION + 1)), "--dry-run"]) == 0
    assert "would purge 1 deliveries" in capsys.readouterr().out and exists(archived)

    assert hub_cli([*args, "--today", str(at + dt.timedelta(days=RETENTION + 1))]) == 0
    out = capsys.readouterr().out
    assert f"siras_abc_unified: purged 1 deliveries ({1 + len(reports)} archived files)" in out
    assert not exists(archived) and not any(exists(r) for r in reports)
    assert query("SELECT delivery_id, retention_days, files, purged_by FROM ops.archive_purges") == [
        (did, RETENTION, 1 + len(reports), "nightly retention")]
    assert query("SELECT count(*) FROM staging.siras__demographics") == [(0,)]
    assert query("SELECT count(*) FROM core.students") == [(5,)]  # the applied state stays
    assert hub_cli([*args, "--today", str(at + dt.timedelta(days=RETENTION + 2))]) == 0  # once only
    assert "nothing to purge" in capsys.readouterr().out

    again = rematerialize(defs, instance, "siras_import", "abc_unified", day)
    assert not again.success
    why = " ".join(str(e.event_specific_data.error.message) for e in again.get_step_failure_events())
    assert f"1964212_demographics.csv (delivery {did}, {day}) cannot be imported again" in why
    assert f"retention_days ({RETENTION})" in why
    assert hub_cli(["deliveries", "reapply", did, "--by", "Dana Data", "--registry", str(registry)]) == 2
    assert "cannot be imported again: its archived file was purged" in capsys.readouterr().err
    return archived


def test_retention_purges_local_archive_and_a_reimport_says_why(kept, hub_env: dict, capsys: pytest.CaptureFixture):
    defs, instance, landing, _ = kept
    archive = Path(hub_env["home"]) / "archive"
    archived = _purge_then_reimport(kept, capsys)
    assert not Path(archived).parent.exists()  # the emptied day folder goes too
    drop(landing, "1964212_demographics.csv", synthetic_students(3, "1964212").assign(Designation="SPED"))
    assert [r.success for r in tick(defs, instance, SENSOR).runs] == [True]
    modes = {p: stat.S_IMODE(p.stat().st_mode) for p in archive.rglob("*")}
    assert modes and all(m == (0o700 if p.is_dir() else 0o600) for p, m in modes.items()), modes


def test_retention_purges_the_bucket(hub_env: dict, s3_archive: S3Archive, kept, capsys: pytest.CaptureFixture):
    """(Fixture order: hub_env clears HUB_ARCHIVE_URL, s3_archive sets it, kept builds the definitions.)"""
    archived = _purge_then_reimport(kept, capsys)
    assert archived.startswith(s3_archive.url) and s3_archive.keys() == []
