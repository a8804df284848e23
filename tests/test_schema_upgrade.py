"""A warehouse an older hub created is brought up to its declaration when the hub starts, on both warehouses."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from dagster_project.definitions import build_definitions
from demo.siras_files import students as synthetic_students
from feeds import FEEDS
from feeds.edreflect.targets import TARGETS, ensure_targets
from hub.store import schema as hub_schema
from hub.store import tables
from resources.warehouse import Warehouse
from tests.conftest import CA_DISTRICTS, siras_integration, write_registry
from tests.harness import tick

SIRAS = FEEDS["siras"]
OLD_STUDENT = ("bench_old", "0000000001")  # (district, SSID) of a profile the older hub stored


NEW = {"last_delivery_id", "created_delivery_id", "created_source_row"}  # lineage columns added over time


def _create(conn: sa.Connection, table: sa.Table, without: set[str], extra: str = "") -> None:
    cols = ", ".join(f"{c.name} {c.type.compile(dialect=conn.dialect)}" + ("" if c.nullable else " NOT NULL")
                     + (f" DEFAULT '{c.server_default.arg}'" if c.server_default is not None else "")
                     for c in table.columns if c.name not in without)
    conn.exec_driver_sql(f"CREATE TABLE {table.schema}.{table.name} ({cols}{extra})")


def _older_warehouse(url: str) -> None:
    """core.students, ops.field_audit, ops.deliveries and SIRAS demographics' staging as a hub stored them before
    school_entity, last_delivery_id, the (delivery_id, action) audit index, creates audited by reference (issue 19),
    the ledger's indexes and staging's index of rows without their keyed hash existed, with one student in it."""
    with sa.create_engine(url, poolclass=sa.pool.NullPool).begin() as conn:
        for schema in tables.SCHEMAS:
            conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        _create(conn, tables.students, {"school_entity", *NEW},
                ", PRIMARY KEY (district_id, state_student_id)")
        _create(conn, tables.field_audit, {"source_row"})
        _create(conn, tables.deliveries, set(), ", PRIMARY KEY (delivery_id)")
        _create(conn, hub_schema.staging_table(SIRAS, SIRAS.files[1]), set())  # no index at all
        conn.execute(sa.text("INSERT INTO core.students (student_key, district_id, state_student_id, first_name, "
                             "status, created_at, updated_at) VALUES ('k', :d, :s, 'Ada', 'active', "
                             "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"), {"d": OLD_STUDENT[0], "s": OLD_STUDENT[1]})


def _indexes(conn: sa.Connection, schema: str, table: str) -> set[str]:
    sql = (f"SELECT index_name FROM duckdb_indexes() WHERE schema_name = '{schema}' AND table_name = '{table}'"
           if conn.dialect.name == "duckdb" else
           f"SELECT indexname FROM pg_indexes WHERE schemaname = '{schema}' AND tablename = '{table}'")
    return {r[0] for r in conn.exec_driver_sql(sql)}


def test_older_warehouse_gains_new_columns_and_indexes_and_keeps_its_students(tmp_path: Path, hub_env: dict):
    _older_warehouse(hub_env["url"])
    landing = tmp_path / "landing"
    landing.mkdir()
    registry = write_registry(tmp_path / "registry.yaml", CA_DISTRICTS,
                              [siras_integration({"kind": "folder", "path": str(landing)})])
    frame = synthetic_students(12, "1964212").assign(Designation="SPED")
    frame.to_csv(landing / "1964212_demographics.csv", index=False)
    os.utime(landing / "1964212_demographics.csv", (time.time() - 60, time.time() - 60))

    t = tick(build_definitions(registry), dg.DagsterInstance.ephemeral(), "siras__deliveries")

    assert [r.success for r in t.runs] == [True]
    with sa.create_engine(hub_env["url"], poolclass=sa.pool.NullPool).connect() as conn:
        assert {"school_entity", *NEW} <= {
            c["name"] for c in sa.inspect(conn).get_columns("students", schema="core")}
        assert "ix_field_audit_delivery_action" in _indexes(conn, "ops", "field_audit")
        assert {"ix_deliveries_integration", "ix_deliveries_feed_status"} <= _indexes(conn, "ops", "deliveries")
        staged = _indexes(conn, "staging", "siras__demographics")
        assert "ix_staging_siras__demographics_delivery_id" in staged
        # PostgreSQL only: DuckDB has no partial index (and the upgrade did not try one)
        assert ("ix_siras__demographics_ssid_key_unfilled" in staged) == (conn.dialect.name == "postgresql")
        if conn.dialect.name == "postgresql":  # the older hub's logged staging table skips the WAL from now on
            assert _logged_staging(conn) == []
        created = conn.exec_driver_sql("SELECT count(*), count(last_delivery_id), count(created_delivery_id), "
                                       "count(created_source_row) FROM core.students "
                                       f"WHERE district_id <> '{OLD_STUDENT[0]}'").one()
        assert tuple(created) == (12, 12, 12, 12)
        assert conn.exec_driver_sql("SELECT entity_key, new_value FROM ops.field_audit WHERE action = 'create'"
                                    ).all() == [("*", "12")]
        old = conn.exec_driver_sql("SELECT first_name, last_delivery_id FROM core.students "
                                   f"WHERE state_student_id = '{OLD_STUDENT[1]}'").one()
        assert tuple(old) == ("Ada", None)


def _logged_staging(conn: sa.Connection) -> list[str]:
    """PostgreSQL: staging tables (and their indexes) written to the WAL."""
    return conn.exec_driver_sql("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                                "WHERE n.nspname = 'staging' AND c.relpersistence <> 'u'").scalars().all()


def test_a_new_postgresql_warehouse_stages_without_the_wal(pg_url: str):
    """Staging is rebuilt from the archive at will: every staging table and index of every feed is unlogged from
    its creation."""
    hub_schema.ensure_tables(Warehouse(pg_url), FEEDS.values())
    with sa.create_engine(pg_url, poolclass=sa.pool.NullPool).connect() as conn:
        staged = set(conn.exec_driver_sql("SELECT table_name FROM information_schema.tables "
                                          "WHERE table_schema = 'staging'").scalars())
        # each feed's file type and its quarantine (tables other tests of the process declared may be there too)
        assert staged >= {f"{f.name}__{ft.name}{q}" for f in FEEDS.values() for ft in f.files for q in ("", "__rejected")}
        assert _logged_staging(conn) == []


def test_new_required_column_is_added_with_its_default_or_refused_by_name(warehouse_url: str):
    wh = Warehouse(warehouse_url)
    def probe(*added: sa.Column) -> sa.Table:
        return sa.Table("upgrade_probe", sa.MetaData(), sa.Column("a", sa.String), *added, schema="ops")

    state = sa.Column("state", sa.String, nullable=False, server_default="active")
    with wh.begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS ops")
        probe().create(conn)
        conn.exec_driver_sql("INSERT INTO ops.upgrade_probe (a) VALUES ('x')")
        hub_schema.add_missing(conn, [probe(state)])
        assert tuple(conn.exec_driver_sql("SELECT a, state FROM ops.upgrade_probe").one()) == ("x", "active")

    required = probe(sa.Column("state", sa.String), sa.Column("term", sa.String, nullable=False))
    with wh.begin() as conn, pytest.raises(RuntimeError, match=r"ops\.upgrade_probe .* required column term"):
        hub_schema.add_missing(conn, [required])


def test_a_starting_process_does_not_wait_for_a_running_import(pg_url: str):
    """Every run's process checks the tables at start; an import writing staging and the audit meanwhile must not
    hold it up (a catalog read, no DDL when nothing is missing)."""
    hub_schema.ensure_tables(Warehouse(pg_url), FEEDS.values())
    hub_schema._ready.clear()
    engine = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
    with engine.connect() as running:
        running.begin()
        running.exec_driver_sql("INSERT INTO staging.siras__demographics (delivery_id, source_row) VALUES ('d', 1)")
        running.exec_driver_sql("INSERT INTO ops.field_audit (district_id, entity, entity_key, action, changed_at) "
                                "VALUES ('x', 'core.students', 'k', 'create', CURRENT_TIMESTAMP)")
        impatient = Warehouse(pg_url + "?options=-c%20lock_timeout%3D2000")  # a wait fails instead of hanging
        hub_schema.ensure_tables(impatient, FEEDS.values())
        running.rollback()


def test_edreflect_tables_of_an_older_hub_gain_new_columns_and_indexes(warehouse_url: str):
    wh = Warehouse(warehouse_url)
    table = next(iter(TARGETS.values()))
    index = f"ix_edreflect_{table.name}_0"
    with wh.begin() as conn:
        ensure_targets(conn)
        conn.exec_driver_sql(f"DROP INDEX edreflect.{index}")
        conn.exec_driver_sql(f"ALTER TABLE edreflect.{table.name} DROP COLUMN last_delivery_id")
    with wh.begin() as conn:
        ensure_targets(conn)
        assert "last_delivery_id" in {c["name"] for c in sa.inspect(conn).get_columns(table.name, schema="edreflect")}
        listed = ("SELECT index_name FROM duckdb_indexes() WHERE schema_name = 'edreflect'" if wh.is_duckdb else
                  "SELECT indexname FROM pg_indexes WHERE schemaname = 'edreflect'")
        assert index in {r[0] for r in conn.exec_driver_sql(listed)}
