"""Adding a feed is one declaration, its rules and its tests (docs/architecture.md): this module declares a small
course-catalog feed and nothing else, registers it like feeds/__init__.py does, and runs it end to end on both
warehouses: a file in a drop folder, the sensor tick, staging, gates, apply, the audit and the ledger."""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from dagster_project.definitions import build_definitions
from feeds import FEEDS
from hub.apply.upsert import ApplyContext, ApplyStats, UpsertPlan, lit, upsert_with_audit
from hub.registry.declarations import Column, Feed, FileType
from hub.store.tables import lineage_columns, metadata
from tests.conftest import CA_DISTRICTS, write_registry
from tests.harness import tick
from tests.test_star_pipeline import put, query

# --- the feed: what a new feed module under feeds/ would hold --------------------------------------------------------

courses = sa.Table(
    "example_courses", metadata,
    sa.Column("course_key", sa.String, primary_key=True),  # hub key: district and course code
    sa.Column("district_id", sa.String, nullable=False),
    sa.Column("course_code", sa.String, nullable=False),
    sa.Column("title", sa.String),
    sa.Column("credits", sa.String),
    *lineage_columns(),  # which delivery created and last changed each row (hub/apply/upsert.py writes them)
    schema="core")


def apply(ctx: ApplyContext) -> ApplyStats:
    """Upsert the day's courses by code; courses the file leaves out are kept."""
    d = ctx.deliveries["courses"]
    source = (f"SELECT {lit(ctx.district.id + ':')} || s.course_code AS course_key, {lit(ctx.district.id)} AS "
              f"district_id, s.course_code, s.title, s.credits, {lit(d.file_name)} AS source_file, s.delivery_id, "
              f"s.source_row "
              f"FROM {ctx.staged('courses')} s")
    return {"core.example_courses": upsert_with_audit(ctx, UpsertPlan(
        target=courses, key=("district_id", "course_code"), entity_key="course_key", source_sql=source,
        update_columns=("title", "credits"), insert_columns=("course_key", "district_id", "course_code", "title",
                                                             "credits"), can_insert="TRUE"))}


FEED = Feed(
    name="example_courses",
    title="Example course catalog",
    description="A district's course catalog (CSV): code, title, credits.",
    files=(FileType("courses", ("courses*.csv",), (
        Column("course_code", ("Course Code", "CRS_CODE"), required=True, nullable=False),
        Column("title", ("Course Title",)),
        Column("credits", ("Credits",), pattern=r"\d{1,2}", pattern_rule="whole credits"),
    ), unique_key=("course_code",)),),
    apply=apply,
    target_tables=("core.example_courses",),
)

# --- its test ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def hub(tmp_path, warehouse_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(FEEDS, FEED.name, FEED)  # what adding the module to feeds/__init__.py does
    monkeypatch.setenv("HUB_ARCHIVE_DIR", str(tmp_path / "archive"))
    monkeypatch.setenv("HUB_WAREHOUSE_URL", warehouse_url)
    drop = tmp_path / "drop"
    drop.mkdir()
    registry = write_registry(tmp_path / "registry.yaml", CA_DISTRICTS[:1], [{
        "id": "courses_abc", "district": "abc_unified", "feed": FEED.name, "source": "SIS", "destination": "hub",
        "transport": {"kind": "folder", "path": str(drop)}, "contact": {"role": "Data coordinator"},
        "start_date": "2024-01-01", "quiet_period_seconds": 0, "holds": {"first_file": False}}])
    return build_definitions(registry), dg.DagsterInstance.ephemeral(), drop


def test_a_declared_feed_runs_from_its_drop_folder_to_the_audit_trail(hub):
    defs, instance, drop = hub
    put(drop / "courses.csv", pd.DataFrame({"Course Code": ["ALG1", "BIO"], "Course Title": ["Algebra I", "Biology"],
                                            "Credits": ["5", "5"]}))
    assert [r.success for r in tick(defs, instance, "example_courses__deliveries").runs] == [True]
    assert query("SELECT course_code, title FROM core.example_courses ORDER BY 1") == [("ALG1", "Algebra I"),
                                                                                     ("BIO", "Biology")]
    assert query("SELECT file_name, status FROM ops.deliveries") == [("courses.csv", "applied")]

    put(drop / "courses_2.csv", pd.DataFrame({"CRS_CODE": ["BIO"], "Course Title": ["Biology (Honors)"]}))
    assert [r.success for r in tick(defs, instance, "example_courses__deliveries").runs] == [True]
    assert query("SELECT title, credits FROM core.example_courses WHERE course_code = 'BIO'") == [("Biology (Honors)",
                                                                                                    "5")]
    assert query("SELECT action, field, old_value, new_value, source_file FROM ops.field_audit "
                 "WHERE entity = 'core.example_courses' AND action = 'update'") == [
        ("update", "title", "Biology", "Biology (Honors)", "courses_2.csv")]


def test_a_declared_feed_blocks_a_file_its_declaration_rejects_and_says_where(hub):
    defs, instance, drop = hub
    put(drop / "courses.csv", pd.DataFrame({"Course Code": ["ALG1", "BIO"], "Credits": ["5", "five"]}))
    assert [r.success for r in tick(defs, instance, "example_courses__deliveries").runs] == [False]
    assert query("SELECT count(*) FROM core.example_courses") == [(0,)]
    (gate, reason), = query("SELECT gate, reason FROM ops.ingest_errors")
    assert gate == "schema" and "row 3, column credits: whole credits" in reason
    # the ledger (notifications, the CLI, delivery health) says why in words, not "see a table"
    assert query("SELECT status, reason FROM ops.deliveries") == [("rejected", f"blocked: schema: {reason}")]
