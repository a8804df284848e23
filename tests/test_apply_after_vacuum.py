"""An emptied and vacuumed core.students on PostgreSQL (issue 15 item 6): statistics say the table is empty, and an
apply whose INSERT read its own target (the NOT EXISTS anti-join) planned a nested-loop anti-join that rescanned the
pages it was adding (minutes for 200k rows). Checked on the plans, not on the clock: every INSERT into core.students
of the re-import is EXPLAINed just before it runs and must not scan core.students (the rows to create are set aside
first), and the apply leaves the table's statistics counting its rows (ANALYZE inside the apply), so later
statements plan with its size. How long it takes is bench work (bench/), not a test's."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from demo.siras_files import write_csv
from resources.warehouse import Warehouse
from tests.faults.siras_hub import FILE, JOB, SENSOR, build_hub, query
from tests.harness import rematerialize, tick

ROWS = 20_000  # more than hub.apply.upsert.ANALYZE_AFTER_ROWS: the apply analyzes what it added
INSERT = re.compile(r"\bINSERT\s+INTO\s+core\.students\b", re.IGNORECASE)  # also inside a WITH


@pytest.fixture
def warehouse_url(pg_url: str) -> str:
    return pg_url


def _admin(url: str, sql: str) -> None:
    with sa.create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.exec_driver_sql(sql)


def _estimated_rows(url: str) -> float:
    """What the planner believes core.students holds (pg_class.reltuples; 0 once vacuumed empty)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            sql = "SELECT reltuples FROM pg_class WHERE oid = 'core.students'::regclass"
            return conn.exec_driver_sql(sql).scalar_one()
    finally:
        engine.dispose()


def _scans(plan: dict, schema: str, table: str) -> list[str]:
    """The plan nodes below the insert itself that read schema.table."""
    found = [plan["Node Type"]] if (plan["Node Type"] != "ModifyTable" and plan.get("Schema") == schema
                                    and plan.get("Relation Name") == table) else []
    return found + [n for child in plan.get("Plans", []) for n in _scans(child, schema, table)]


def test_a_reimport_into_an_emptied_vacuumed_table_never_reads_its_target_while_inserting(tmp_path: Path, hub_env):
    url = hub_env["url"]
    landing = tmp_path / "landing"
    write_csv(landing / FILE, ROWS, "1964212")
    defs, instance = build_hub(tmp_path, landing), dg.DagsterInstance.ephemeral()
    first = tick(defs, instance, SENSOR)  # a normal first import into a new table
    assert [r.success for r in first.runs] == [True]
    created = query("SELECT count(*) FROM core.students")[0][0]
    day = first.result.run_requests[0].partition_key.keys_by_dimension["date"]
    _admin(url, "DELETE FROM core.students")
    _admin(url, "VACUUM core.students")
    _admin(url, "ALTER TABLE core.students SET (autovacuum_enabled = false)")  # only the apply may analyze it
    assert _estimated_rows(url) == 0  # the planner's worst case: statistics say empty

    reading: list[str] = []
    planned: list[str] = []

    def explain(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001, ARG001
        if not INSERT.search(statement):
            return
        cursor.execute(f"EXPLAIN (VERBOSE, FORMAT JSON) {statement}", parameters)
        scans = _scans(cursor.fetchone()[0][0]["Plan"], "core", "students")
        planned.append(statement)
        if scans:  # the old plan rescans for minutes: stop the apply here
            reading.append(f"{', '.join(scans)} of core.students in: {statement[:200]}")
            raise RuntimeError("an INSERT into core.students reads core.students")

    engine = Warehouse(url).engine
    sa.event.listen(engine, "before_cursor_execute", explain)
    try:
        again = rematerialize(defs, instance, JOB, "abc_unified", day)  # re-import: every student created again
    finally:
        sa.event.remove(engine, "before_cursor_execute", explain)
    assert reading == []
    assert planned, "the re-import inserted no students"
    assert again.success
    assert query("SELECT count(*) FROM core.students")[0][0] == created
    assert _estimated_rows(url) == pytest.approx(created, rel=0.1)  # analyzed inside the apply
