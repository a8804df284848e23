"""One delivery sensor per feed (sensors/deliveries.py): it checks every integration of the feed in a tick, names
each one with something to say, and asks Dagster for an integration's runs only when the ledger holds queued or
staged deliveries of it (the retry sweep), on DuckDB and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from dagster_project.definitions import build_definitions
from demo.edreflect_files import write_week
from feeds import FEEDS
from hub.intake import ledger
from hub.intake.receive import TickResult
from hub.intake.tick import make_transport, scan
from hub.registry.loading import load_registry
from hub.store.schema import ensure_tables
from resources.archive import Archive
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


def test_a_tick_opens_the_warehouse_a_fixed_number_of_times_however_many_files_it_receives(tmp_path: Path,
                                                                                            hub_env: dict,
                                                                                            monkeypatch):
    """Each DuckDB transaction opens the database file (about 0.3 s on a busy machine): one per listed or received
    file made the demo's first EdReflect tick (66 new files) miss Dagster's 60 s deadline for a sensor evaluation, and
    the run requests of a tick past it are lost (its deliveries waited for the retry sweep). A first tick over 2 days
    of files and one over 6 days open it equally often; a second tick over received files twice at most."""
    wh = Warehouse(hub_env["url"])
    ensure_tables(wh, [FEEDS["edreflect"]])

    def tick_once(integration, cursor: dict) -> tuple[int, TickResult]:  # noqa: ANN001
        opened = []
        begin = Warehouse.begin
        monkeypatch.setattr(Warehouse, "begin", lambda self, *a, **k: opened.append(1) or begin(self, *a, **k))
        result = scan(registry=registry, feed=FEEDS["edreflect"], integration=integration,
                      transport=make_transport(integration), archive=Archive(str(tmp_path / "archive")),
                      warehouse=wh, cursor=cursor, now=time.time(), waiting=False)
        monkeypatch.setattr(Warehouse, "begin", begin)
        return len(opened), result

    for days in (2, 6):
        write_week(tmp_path / f"landing{days}", days=days)
    registry = load_registry(write_registry(tmp_path / "registry.yaml", CA_DISTRICTS, [{
        "id": f"edreflect_{days}", "district": district, "feed": "edreflect", "source": "EdReflect",
        "destination": "hub", "transport": {"kind": "folder", "path": str(tmp_path / f"landing{days}")},
        "contact": {"role": "x"}, "start_date": "2024-01-01", "quiet_period_seconds": 0}
        for days, district in ((2, "abc_unified"), (6, "fresno_unified"))]))
    (few, short), (many, week) = (tick_once(i, {}) for i in registry.integrations)
    assert short.counts["new deliveries"] == 2 * 9 + 3 and week.counts["new deliveries"] == 6 * 9 + 3
    assert few == many <= 3  # the listing's hashes, the tick's ledger rows
    opened, again = tick_once(registry.integrations[1], week.cursor)
    assert again.counts == {"already received": 57} and opened <= 2
