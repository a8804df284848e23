"""One delivery sensor per feed (sensors/deliveries.py): it checks every integration of the feed in a tick, names
each one with something to say, and asks Dagster for an integration's runs only when the ledger holds queued or
staged deliveries of it (the retry sweep), on DuckDB and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from dagster_project.definitions import build_definitions
from hub.intake import ledger
from resources.warehouse import Warehouse
from tests.conftest import CA_DISTRICTS, siras_integration, write_registry
from tests.harness import tick


def test_the_feed_sensor_asks_dagster_only_about_integrations_with_open_deliveries(tmp_path: Path, hub_env: dict,
                                                                                    wh: Warehouse, monkeypatch):
    folders = {d: tmp_path / d for d in ("abc", "fresno")}
    for folder in folders.values():
        folder.mkdir()
    registry = write_registry(tmp_path / "registry.yaml", CA_DISTRICTS, [
        siras_integration({"kind": "folder", "path": str(folders["abc"])}),
        siras_integration({"kind": "folder", "path": str(folders["fresno"])}, id="siras_fresno_unified",
                          district="fresno_unified")])
    with wh.begin() as conn:  # a delivery an hour old that no run took (its run was lost): Fresno's only
        ledger.record(conn, delivery_id="lost", integration_id="siras_fresno_unified", district_id="fresno_unified",
                      feed="siras", file_type="demographics", remote_path="1062166_demographics.csv",
                      file_name="1062166_demographics.csv", size=1, mtime=dt.datetime(2026, 1, 1),
                      partition_date="2026-01-01", status="queued")
        conn.execute(sa.text("UPDATE ops.deliveries SET updated_at = updated_at - INTERVAL '1 hour'"))
    defs, instance = build_definitions(registry), dg.DagsterInstance.ephemeral()
    asked = []
    real = instance.get_run_records
    monkeypatch.setattr(instance, "get_run_records", lambda filters=None, **kw: asked.append(filters.tags) or real(
        filters, **kw))

    t = tick(defs, instance, "siras__deliveries", execute=False)
    assert asked == [{"hub/integration": "siras_fresno_unified"}]  # ABC has nothing open: Dagster is not asked
    assert [(r.tags["hub/integration"], r.tags["hub/trigger"], r.tags["hub/deliveries"])
            for r in t.result.run_requests] == [("siras_fresno_unified", "retry", "lost")]
    with wh.begin() as conn:
        assert conn.execute(sa.text("SELECT reason FROM ops.deliveries")).scalar() == (
            "no run was started for it; retry 1 of 3")

    asked.clear()  # the retry's run is on its way (queued in the ledger, no run yet, within the backoff)
    again = tick(defs, instance, "siras__deliveries", cursor=t.cursor, execute=False)
    assert asked == [{"hub/integration": "siras_fresno_unified"}] and again.result.run_requests == []
    assert again.skip_reason == "siras: 2 of 2 integration(s) checked, 2 with no matching files"
