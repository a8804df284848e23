"""The demo's Belleville district end to end on PostgreSQL and DuckDB: seeded ClassLink, PowerSchool and Star zip."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml

from dagster_project.definitions import build_definitions
from demo.seed import one_night, seed_star
from hub.registry.loading import load_registry
from hub.store.tables import audited_records
from tests.harness import tick

DEMO = Path(__file__).resolve().parents[1] / "demo" / "registry.yaml"


def test_demo_belleville_links_its_star_zip(tmp_path: Path, warehouse_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HUB_ARCHIVE_DIR", str(tmp_path / "archive"))
    monkeypatch.setenv("HUB_WAREHOUSE_URL", warehouse_url)
    monkeypatch.delenv("HUB_DISTRICT_DIRECTORY", raising=False)
    registry = tmp_path / "demo" / "registry.yaml"
    registry.parent.mkdir()
    demo = yaml.safe_load(DEMO.read_text())
    for i in demo["integrations"]:
        i["quiet_period_seconds"] = 0  # the daemon would wait a few seconds; the test does not
    registry.write_text(yaml.safe_dump(demo))  # the demo's relative drop folders now live under tmp_path
    written = seed_star(load_registry(registry), registry, one_night(load_registry(registry), time.time()))
    assert any(p.suffix == ".zip" for p in written)
    defs, instance = build_definitions(registry), dg.DagsterInstance.ephemeral()
    for feed in ("classlink", "powerschool", "renaissance_star"):
        t = tick(defs, instance, f"{feed}__deliveries")
        assert [r.success for r in t.runs] == [True], feed
    engine = sa.create_engine(os.environ["HUB_WAREHOUSE_URL"], poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM core.star_assessments")).scalar() == 3 * 197
        assert conn.execute(sa.text(f"SELECT {audited_records()} FROM ops.field_audit WHERE action = 'create' AND "
                                    "entity = 'core.star_assessments'")).scalar() == 3 * 197  # one each, not per file
        assert conn.execute(sa.text("SELECT reason, count(*) FROM ops.identity_review GROUP BY 1")).all() == [
            ("no_email_match", 9)]
        assert conn.execute(sa.text("SELECT count(*) FROM core.star_assessments a JOIN core.student_crosswalk w ON "
                                    "w.hub_student_key = a.hub_student_key AND w.system = 'classlink'")).scalar() == 591
