"""Limited imports (a blackout in mode `limited`, e.g. ClassLink's rollover), on both warehouses: deliveries of those
days create records but never update or delete them, and say how many they left alone; afterwards updates apply."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from dagster_project.definitions import build_definitions
from demo.siras_files import students as synthetic_students
from feeds import FEEDS
from hub.apply.fields import apply_values, sync_logs
from hub.apply.upsert import LIMITED, LIMITED_DELETE, ApplyContext
from hub.intake.ledger import Delivery
from hub.registry.loading import parse_registry
from hub.store.schema import ensure_tables
from resources.warehouse import Warehouse
from tests.conftest import CA_DISTRICTS, siras_integration, write_registry
from tests.harness import tick
from tests.test_siras_pipeline import drop, query

SENSOR = "siras__deliveries"


def rollover(days: int = 2) -> dict:
    today = dt.date.today()
    return {"start": (today - dt.timedelta(days=days)).isoformat(), "end": (today + dt.timedelta(days=days)).isoformat(),
            "reason": "SIS rollover", "mode": "limited"}


def test_limited_import_creates_but_never_updates(tmp_path: Path, hub_env):
    landing = tmp_path / "landing"
    landing.mkdir()
    path = write_registry(tmp_path / "registry.yaml", CA_DISTRICTS, [siras_integration(
        {"kind": "folder", "path": str(landing)}, blackouts=[rollover()])])
    defs, instance = build_definitions(path), dg.DagsterInstance.ephemeral()
    frame = synthetic_students(6, "1964212").assign(Designation="SPED", GRADE="05")
    drop(landing, "1964212_demographics.csv", frame, age_seconds=600)
    assert [r.success for r in tick(defs, instance, SENSOR).runs] == [True]
    more = frame.assign(GRADE="12")._append(synthetic_students(2, "1964212", seed=7, start=900)
                                            .assign(Designation="SPED", GRADE="03"), ignore_index=True)
    drop(landing, "1964212_demographics_2.csv", more, age_seconds=0)
    t = tick(defs, instance, SENSOR)
    assert [r.success for r in t.runs] == [True]
    assert query("SELECT grade, count(*) FROM core.students GROUP BY grade ORDER BY grade") == [("03", 2), ("05", 6)]
    assert query("SELECT count(*) FROM ops.field_audit WHERE action = 'update'")[0][0] == 0
    md = t.runs[0].asset_materializations_for_node("siras__student_updates")[0].metadata
    assert md[f"core.students rows skipped ({LIMITED})"].value == 6
    assert md["core.students rows inserted"].value == 2


@pytest.mark.parametrize("limited", [True, False])
def test_field_values_and_logs_honour_limited_imports(tmp_path: Path, warehouse_url: str, limited: bool):
    wh = Warehouse(warehouse_url)
    ensure_tables(wh, [FEEDS["peer"]])
    registry = parse_registry({"districts": CA_DISTRICTS, "integrations": [siras_integration(
        {"kind": "folder", "path": str(tmp_path)}, feed="peer", id="peer_abc", blackouts=[rollover()] if limited else [])]},
        FEEDS)
    day = dt.date.today().isoformat()
    delivery = Delivery("d1", "peer_abc", "abc_unified", "peer", "ese", "ese.txt", None, None, day, "staged",
                        dt.datetime(2026, 1, 1))

    def rows(*values: tuple[str, str, str]) -> str:
        return " UNION ALL ".join(f"SELECT 'abc_unified' AS district_id, '{k}' AS student_key, '{f}' AS field_id, "
                                  f"'{v}' AS value, 'ese.txt' AS source_file, 'd1' AS delivery_id" for k, f, v in values)

    with wh.begin() as conn:
        now = dt.datetime(2026, 1, 1)
        conn.execute(sa.text("INSERT INTO core.student_fields VALUES ('abc_unified', 'k1', 'f', 'old', 'd0', :n, :n)"),
                     {"n": now})
        conn.execute(sa.text("INSERT INTO core.student_field_logs VALUES ('abc_unified', 'k1', 'log', 'a', 'd0', :n)"),
                     {"n": now})
        ctx = ApplyContext(conn, wh, FEEDS["peer"], registry, registry.integrations[0], registry.district("abc_unified"),
                           {"ese": delivery}, FEEDS["peer"].options_model(), "run1")
        assert bool(ctx.limited) is limited
        values = apply_values(ctx, rows(("k1", "f", "new"), ("k2", "f", "first")))
        logs = sync_logs(ctx, rows(("k1", "log", "b")), "SELECT 'k1' AS student_key", ("log",))
        stored = dict(conn.execute(sa.text("SELECT student_key, value FROM core.student_fields")).all())
        kept = sorted(v for (v,) in conn.execute(sa.text("SELECT value FROM core.student_field_logs")))
    assert values.inserted == 1 and logs.inserted == 1
    if limited:
        assert stored == {"k1": "old", "k2": "first"} and kept == ["a", "b"]
        assert values.skipped == {LIMITED: 1} and logs.skipped == {LIMITED_DELETE: 1} and logs.deleted == 0
    else:
        assert stored == {"k1": "new", "k2": "first"} and kept == ["b"] and values.updated == 1 and logs.deleted == 1
