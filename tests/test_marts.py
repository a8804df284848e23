"""A real SIRAS import, then the dbt marts built through Dagster on DuckDB and PostgreSQL; the inventory and the
dropped-column report read the same warehouse."""

import csv
import datetime as dt
import io
import os
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml

from assets.dbt_assets import DBT_DIR
from assets.inventory import INVENTORY_KEY
from dagster_project.definitions import build_definitions, load_hub_registry
from demo.seed import DEFAULT_REGISTRY as DEMO, seed
from demo.siras_files import students as synthetic_students
from feeds import FEEDS
from feeds.peer.rules import LAYOUT
from hub.cli.main import main as cli_main
from hub.inventory.build import build_inventory
from resources.warehouse import Warehouse
from tests.conftest import CA_DISTRICTS, siras_integration, write_registry
from tests.harness import rematerialize, tick
from tests.test_siras_pipeline import SENSOR, drop, query

PROFILE = dg.AssetKey(["marts", "student_profile"])
HEALTH = dg.AssetKey(["marts", "delivery_health"])


@pytest.fixture
def hub(tmp_path: Path, hub_env: dict) -> tuple[dg.Definitions, dg.DagsterInstance, Path]:
    landing = tmp_path / "landing"
    landing.mkdir()
    quiet = siras_integration({"kind": "folder", "path": str(tmp_path / "nothing")}, id="siras_fresno_unified",
                              district="fresno_unified")
    registry = write_registry(tmp_path / "registry.yaml", CA_DISTRICTS,
                              [siras_integration({"kind": "folder", "path": str(landing)}), quiet])
    return build_definitions(registry), dg.DagsterInstance.ephemeral(), registry


def test_import_then_marts_build_with_checks_inventory_and_dropped_columns(hub, tmp_path):
    defs, instance, registry_file = hub
    frame = synthetic_students(30, "1964212").assign(Favorite_Color="blue-ish")  # not declared: dropped
    bad = frame.drop(columns=["Favorite_Color"]).assign(EL_TYPE=["XX"] * len(frame))  # every row breaks the code set
    drop(tmp_path / "landing", "1964212_demographics_old.csv", bad, age_seconds=3 * 86400)
    blocked = tick(defs, instance, SENSOR)  # an older file first: later ones would make it stale (freshness rule)
    assert [r.success for r in blocked.runs] == [False]
    drop(tmp_path / "landing", "1964212_demographics.csv", frame)
    t = tick(defs, instance, SENSOR, cursor=blocked.cursor)
    assert [r.success for r in t.runs] == [True]
    md = t.runs[0].asset_materializations_for_node("siras__demographics")[0].metadata
    assert md["headers not used"].text == "Favorite_Color"
    assert query("SELECT column_name FROM ops.dropped_columns") == [("Favorite_Color",)]
    assert "blue-ish" not in str(query("SELECT * FROM ops.dropped_columns"))  # names the column, never a value
    day = t.result.run_requests[0].partition_key.keys_by_dimension["date"]
    assert rematerialize(defs, instance, "siras_import", "abc_unified", day).success
    assert query("SELECT count(*) FROM ops.dropped_columns") == [(1,)]  # once per delivery, also on re-import
    bad_day = blocked.result.run_requests[0].partition_key.keys_by_dimension["date"]

    marts = defs.resolve_assets_def(PROFILE)
    result = dg.materialize([marts], instance=instance, raise_on_error=False)  # resources are bound
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert len(checks) >= 6 and all(c.passed for c in checks)  # dbt tests ran as asset checks
    designated = int((frame["Designation"] != "").sum())
    rows = query("SELECT count(*), count(distinct student_key), count(last_update_siras) FROM marts.student_profile")
    assert rows == [(designated, designated, designated)]
    assert query("SELECT count(star_reading_score) FROM marts.student_profile") == [(0,)]  # no Star model yet
    health = dict((r[0], r[1:]) for r in query(
        "SELECT CAST(day AS VARCHAR), delivered, files, staged_rows, rejected_rows, gate_result "
        "FROM marts.delivery_health WHERE integration_id = 'siras_abc_unified'"))
    assert health[day] == (True, 1, 30, 0, "passed") and health[bad_day] == (True, 1, 0, 30, "blocked")
    quiet_day = (dt.date.fromisoformat(bad_day) + dt.timedelta(days=1)).isoformat()
    assert health[quiet_day] == (False, 0, 0, 0, "no file")  # one row per day, files or not

    rows = {r.integration.id: r for r in build_inventory(load_hub_registry(registry_file), FEEDS,
                                                        Warehouse(os.environ["HUB_WAREHOUSE_URL"]), stale_days=30)}
    active, quiet = rows["siras_abc_unified"], rows["siras_fresno_unified"]
    assert (active.activity.rows, active.days_since_last_file, active.disable_candidate) == (30, 0, False)
    assert active.activity.last_success_at is not None and "birthdate" in active.elements
    assert (quiet.activity.last_success_at, quiet.days_since_last_file, quiet.disable_candidate) == (None, None, True)


@pytest.mark.parametrize("warehouse_url", ["duckdb"], indirect=True)  # automation logic is warehouse-blind
def test_marts_refresh_once_per_batch_of_feed_updates(hub, tmp_path):
    defs, instance, _ = hub
    first, built, _ = _automate(defs, instance)
    assert built == set()  # an empty hub: nothing to build yet (the inventory is, at start)
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    assert first.total_requested == 0
    # two partitions land before the next evaluation (a day without a file materializes nothing, so they are files)
    for folder, code in (("landing", "1964212"), ("nothing", "1062166")):  # ABC's, then Fresno's folder
        (tmp_path / folder).mkdir(exist_ok=True)
        drop(tmp_path / folder, f"{code}_demographics.csv", synthetic_students(10, code), age_seconds=86400)
        assert [r.success for r in tick(defs, instance, "siras__deliveries").runs] == [True]
    after, requested, result = _automate(defs, instance, first.cursor)
    # each model downstream of the feeds once (one run of the dbt multi-asset), not once per landed partition;
    # and the inventory after them (after each batch of deliveries)
    assert requested == {PROFILE, HEALTH} and after.total_requested == len(requested) + 1 and result.success
    assert after.get_requested_partitions(INVENTORY_KEY) == {None}
    again = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=after.cursor)
    assert again.total_requested == 0


def _demo(tmp_path: Path, drop_feeds: tuple[str, ...] = ("edreflect",)) -> Path:
    """The demo registry under tmp_path (its drop folders with it), seeded, without a quiet wait or a window."""
    demo = yaml.safe_load(DEMO.read_text())
    demo["integrations"] = [dict(i, quiet_period_seconds=0, window=None, pause=None) for i in demo["integrations"]
                            if i["feed"] not in drop_feeds]  # any time of day
    registry = tmp_path / "demo" / "registry.yaml"
    registry.parent.mkdir()
    registry.write_text(yaml.safe_dump(demo))
    seed(registry)
    return registry


def _automate(defs: dg.Definitions, instance: dg.DagsterInstance, cursor=None):
    """What the reporting_automation sensor does: evaluate, then run what it requested (the marts and the inventory,
    one run); returns the marts requested."""
    evaluation = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
    keys = {k for k in (*defs.resolve_assets_def(PROFILE).keys, INVENTORY_KEY) if evaluation.get_requested_partitions(k)}
    result = None
    if keys:
        result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance, asset_selection=list(keys), raise_on_error=False)
    return evaluation, keys - {INVENTORY_KEY}, result


def test_demo_marts_build_from_every_feed(tmp_path: Path, hub_env: dict):
    """`make dev`'s night: every demo feed delivered (dependencies first), then the marts as the automation sensor
    builds them: SIRAS demographics, PEER ESE fields, the Focus roster's enrollment, Star scores linked through
    ClassLink and PowerSchool, and delivery health for every integration."""
    registry = _demo(tmp_path)
    defs, instance = build_definitions(registry), dg.DagsterInstance.ephemeral()
    order = ["siras_abc_unified", "siras_santa_ana_unified", "siras_fresno_unified", "focus_roster_broward",
             "peer_broward", "classlink_belleville", "powerschool_belleville", "renaissance_star_belleville"]
    for feed in ["siras", "focus_roster", "peer", "classlink", "powerschool", "renaissance_star"]:  # needed ones first
        t = tick(defs, instance, f"{feed}__deliveries")
        assert t.runs and all(r.success for r in t.runs), feed
    evaluation, requested, result = _automate(defs, instance)
    assert {PROFILE, HEALTH} <= requested and result is not None and result.success
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks), [c.check_name for c in checks if not c.passed]

    by_district = dict((r[0], r[1:]) for r in query(
        "SELECT district_id, count(*), count(ethnicity), count(primary_exceptionality), count(enrollment_school_code), "
        "count(star_math_score), count(star_reading_score), count(linked_systems) FROM marts.student_profile "
        "GROUP BY district_id"))
    abc = by_district["abc_unified"]
    assert abc[0] > 0 and abc[1] == abc[0] and abc[2:6] == (0, 0, 0, 0)  # SIRAS demographics only
    broward = by_district["broward"]
    assert broward[0] > 0 and 0 < broward[2] < broward[0] and 0 < broward[3] <= broward[0]  # PEER fields, enrollment
    belleville = by_district["belleville"]
    assert belleville[0] > 0 and belleville[4] == belleville[5] > 0 and belleville[6] == belleville[0]
    assert query("SELECT count(*) FROM marts.student_profile p JOIN core.star_assessments a ON a.hub_student_key = "
                 "p.student_key AND a.subject = 'math' AND a.scaled_score = p.star_math_score") != [(0,)]
    health = {r[0]: r[1:] for r in query(
        "SELECT integration_id, sum(files), sum(staged_rows), max(gate_result) FROM marts.delivery_health "
        "WHERE delivered GROUP BY integration_id")}
    assert set(health) == set(order)  # every integration, every feed
    assert all(files > 0 for files, _, _ in health.values())
    assert all(rows > 0 and result == "passed" for _, rows, result in health.values())
    again, requested, _ = _automate(defs, instance, evaluation.cursor)
    assert requested == set()  # nothing new upstream: no rebuild

    # the inventory page was built with the marts (no 06:00 wait): rows of the main file, not the 504 file
    page = {r["Integration"]: r for r in csv.DictReader(io.StringIO(
        (Path(hub_env["home"]) / "reports" / "inventory.csv").read_text()))}
    assert page["siras_santa_ana_unified"]["Rows In It"] == str(len(pd.read_csv(
        next((tmp_path / ".hub" / "landing" / "santa_ana_unified").glob("*_demographics.csv")), encoding="cp1252")))
    assert not any(page[i]["Disable Candidate"] for i in order)


def test_hub_inventory_reads_the_warehouse_of_the_ui_by_default(tmp_path: Path, monkeypatch, capsys):
    """`hub inventory` without --warehouse under `make dev`'s environment (no HUB_WAREHOUSE_URL) reads the DuckDB
    file the UI's runs write, instead of marking every integration a candidate to disable."""
    monkeypatch.setenv("HUB_HOME", str(tmp_path / ".hub"))
    monkeypatch.setenv("HUB_ARCHIVE_DIR", str(tmp_path / ".hub" / "archive"))
    monkeypatch.delenv("HUB_WAREHOUSE_URL", raising=False)
    registry = _demo(tmp_path, drop_feeds=("edreflect", "peer", "focus_roster", "classlink", "powerschool",
                                           "renaissance_star"))
    for seeded in (tmp_path / ".hub" / "landing" / "santa_ana_unified").rglob("*.csv"):
        seeded.unlink()  # Santa Ana never delivers (its feed's sensor checks it with ABC's)
    defs, instance = build_definitions(registry), dg.DagsterInstance.ephemeral()
    assert all(r.success for r in tick(defs, instance, "siras__deliveries").runs)
    assert cli_main(["inventory", "--registry", str(registry), "--format", "csv"]) == 0
    rows = {r["Integration"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert rows["siras_abc_unified"]["Disable Candidate"] == "" and rows["siras_abc_unified"]["Rows In It"]
    assert rows["siras_santa_ana_unified"]["Disable Candidate"] == "yes"  # never delivered: no file for the hub


def test_profile_peer_fields_are_fields_the_peer_layout_declares():
    """The profile's ESE columns name Focus custom fields of feeds/peer/layout.yaml (a field renamed there is found)."""
    fields = yaml.safe_load((Path(DBT_DIR) / "dbt_project.yml").read_text())["vars"]["peer_profile_fields"]
    assert fields and set(fields) <= set(LAYOUT.fields)
    assert all(LAYOUT.fields[f].kind == "value" for f in fields)  # one value per student, not a log
