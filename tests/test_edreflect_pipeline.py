"""EdReflect end to end through a drop folder with Dagster: a week of deltas, a deprecated export, a held day."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from dagster_project.definitions import build_definitions
from demo.edreflect_files import write_week
from tests.conftest import CA_DISTRICTS, write_registry
from tests.harness import tick

SENSOR = "edreflect_abc__deliveries"


def query(sql: str) -> list[tuple]:
    engine = sa.create_engine(os.environ["HUB_WAREHOUSE_URL"], poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]


def test_week_of_deltas_applies_in_order(tmp_path: Path, hub_env: dict):
    landing = tmp_path / "landing"
    now = time.time()
    write_week(landing, days=3, now=now - 3 * 86_400)  # the last delivered day is 3 days ago
    (landing / "Observation_Survey.csv").write_text("a,b\n1,2\n")
    registry = write_registry(tmp_path / "registry.yaml", CA_DISTRICTS, [{
        "id": "edreflect_abc", "district": "abc_unified", "feed": "edreflect", "source": "EdReflect",
        "destination": "hub", "transport": {"kind": "folder", "path": str(landing)}, "contact": {"role": "x"},
        "start_date": "2024-01-01", "quiet_period_seconds": 0}])
    defs, instance = build_definitions(registry), dg.DagsterInstance.ephemeral()
    t = tick(defs, instance, SENSOR)
    assert "deprecated exports (skipped)" in (t.skip_reason or "") or t.runs
    assert len(t.runs) == 3 and all(r.success for r in t.runs)
    days = query("SELECT DISTINCT partition_date, status FROM ops.deliveries WHERE status IN ('applied', 'staged') "
                 "ORDER BY 1")
    assert [s for _, s in days] == ["applied"] * 3
    assert query("SELECT count(*) FROM edreflect.observations")[0][0] == 9
    assert query("SELECT count(*) FROM edreflect.legacy_id_map WHERE model = 'artifact'")[0][0] == 2
    # a day after a gap is held, naming the missing day
    gap = tmp_path / "landing" / "late"
    gap.mkdir()
    path = gap / "Goals.csv"
    path.write_text("goal_id,goal_status\nG900,active\n")
    os.utime(path, (now - 86_400, now - 86_400))  # yesterday: the day before it is missing
    run = tick(defs, instance, SENSOR).runs[0]
    assert run.success
    held = [m for m in run.asset_materializations_for_node("edreflect__changes")]
    assert "is missing" in str(held[0].metadata["held"].value)
    assert query("SELECT count(*) FROM edreflect.goals WHERE goal_id = 'G900'")[0][0] == 0


def test_identical_bytes_on_another_day_are_a_new_change_set(tmp_path: Path, hub_env: dict):
    """The same ids modified on two days: the second day's reference file must apply too (not a duplicate)."""
    landing = tmp_path / "landing"
    now = time.time()
    for n, age in enumerate((2, 1)):
        folder = landing / f"day{n}"
        folder.mkdir(parents=True)
        path = folder / "Observation_Modified.csv"
        path.write_text("observation_group_id,observation_modified_date\nOG1,2026-01-01\n")
        os.utime(path, (now - age * 86_400, now - age * 86_400))
    registry = write_registry(tmp_path / "registry.yaml", CA_DISTRICTS, [{
        "id": "edreflect_abc", "district": "abc_unified", "feed": "edreflect", "source": "EdReflect",
        "destination": "hub", "transport": {"kind": "folder", "path": str(landing)}, "contact": {"role": "x"},
        "start_date": "2024-01-01", "quiet_period_seconds": 0}])
    t = tick(build_definitions(registry), dg.DagsterInstance.ephemeral(), SENSOR, execute=False)
    assert len(t.result.run_requests) == 2
    assert sorted(s for (s,) in query("SELECT status FROM ops.deliveries")) == ["queued", "queued"]
