"""Ceilings for bench/ingest.py's ratio: what PostgreSQL alone needs to store a first import of N students.

    python bench/write_floor.py [--rows 1000000] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]

Every row is prepared beforehand, untimed, and loaded with binary COPY, PostgreSQL's fastest load; no Python,
validation or Dagster is timed. Two sets of tables:

- least: the four steps the issue names (parse, validate, stage, apply) with nothing but what its rules require:
  parsing by Arrow's multi-threaded CSV reader (no checks), staged rows in an unlogged table without an index,
  then in one transaction the students with the key they are matched by and one create audit row each of the
  issue's eight audit fields, without an index. Staging may overlap parsing (counted once, the longer);
  the apply may not start before the gates have seen the whole file. `ratio_bound` is the plain COPY's time over
  that sum: no implementation of the issue can beat it on this server.
- hub: the hub's own tables (staging with its delivery index, core.students, ops.field_audit with its columns and
  index), students and audit in one transaction as the apply writes them. `ratio_ceiling` is the best `ratio`
  any loader with this data model could reach.

Last line: copy_s=… parse_s=… least_stage_s=… least_apply_s=… ratio_bound=… staging_s=… students_s=… audit_s=…
ratio_ceiling=…
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.csv as pa_csv
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import create_database, drop_database, plain_copy  # noqa: E402
from demo.siras_files import HEADER, write_csv  # noqa: E402
from feeds import FEEDS  # noqa: E402
from hub.apply.upsert import AUDIT_COLUMNS  # noqa: E402
from hub.store.schema import ensure_tables, staging_table  # noqa: E402
from hub.store.tables import students  # noqa: E402
from resources.warehouse import Warehouse  # noqa: E402

DELIVERY, DISTRICT, RUN, FILE = "bench_delivery", "bench_unified", "bench_run", "1964212_demographics.csv"
# The audit row: student, field, old, new, source file, delivery, run id, time
LEAST_AUDIT = "student_key, field, old_value, new_value, source_file, delivery_id, run_id, changed_at"


def _staging_select(table: sa.Table) -> str:
    """The text table's columns under their staging names (the feed's header aliases), as the parser stages them."""
    ft = FEEDS["siras"].files[0]
    header = {h.upper(): f'"{h}"' for h in HEADER}
    cols = {c.name: next((header[a.upper()] for a in c.headers if a.upper() in header), "NULL") for c in ft.columns}
    exprs = [f"'{DELIVERY}'" if c.name == "delivery_id" else "row_number() OVER ()" if c.name == "source_row"
             else "row_number() OVER () + 1" if c.name == "source_line" else cols[c.name] for c in table.columns]
    return f"SELECT {', '.join(f'{e} AS {c.name}' for e, c in zip(exprs, table.columns))} FROM copy_bench"


def _students_select(staged: str) -> str:
    """Student rows from the staged ones: a hashed key, the district, typed dates, lineage columns."""
    staged_cols = {c.name for c in staging_table(FEEDS["siras"], FEEDS["siras"].files[0]).columns}
    special = {"student_key": f"md5('{DISTRICT}:' || ssid)", "district_id": f"'{DISTRICT}'", "state_student_id": "ssid",
               "status": "'active'", "last_delivery_id": "delivery_id", "created_at": "now()", "updated_at": "now()"}
    exprs = [special.get(c.name) or (f"CAST({c.name} AS {c.type.compile(dialect=postgresql.dialect())})"
                                     if c.name in staged_cols else "NULL") for c in students.columns]
    return f"SELECT {', '.join(exprs)} FROM {staged}"


def _audit_select(staged: str) -> str:
    return (f"SELECT '{DISTRICT}', 'core.students', md5('{DISTRICT}:' || ssid), 'create', NULL, NULL, NULL, "
            f"'{FILE}', delivery_id, '{RUN}', now() FROM {staged}")


def _least_audit_select(staged: str) -> str:
    return f"SELECT md5('{DISTRICT}:' || ssid), NULL, NULL, NULL, '{FILE}', delivery_id, '{RUN}', now() FROM {staged}"


def _spool(conn: sa.Connection, select: str, path: Path) -> None:
    with conn.connection.driver_connection.cursor() as cur, path.open("wb") as out:
        with cur.copy(f"COPY ({select}) TO STDOUT (FORMAT binary)") as copy:
            for block in copy:
                out.write(block)


def _load(engine: sa.Engine, *loads: tuple[str, str, Path]) -> tuple[list[float], list[int]]:
    """Binary COPYs (table, columns, rows file) in one transaction: seconds each (the last with the commit) and
    rows each stored. Each load starts from a fresh checkpoint, as the plain COPY does."""
    with engine.connect() as conn:
        conn.exec_driver_sql("CHECKPOINT")
    marks, rows = [time.perf_counter()], []
    with engine.begin() as conn, conn.connection.driver_connection.cursor() as cur:
        for table, columns, path in loads:
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT binary)") as copy, path.open("rb") as fh:
                while block := fh.read(1 << 20):
                    copy.write(block)
            rows.append(cur.rowcount)
            marks.append(time.perf_counter())
    marks[-1] = time.perf_counter()
    return [b - a for a, b in zip(marks, marks[1:])], rows


def _parse(csv_path: Path) -> float:
    """Arrow's multi-threaded CSV reader over the whole file, every cell read as text, no checks."""
    started = time.perf_counter()
    pa_csv.read_csv(csv_path, convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(HEADER, "string")))
    return time.perf_counter() - started


def _columns(table: sa.Table) -> str:
    return ", ".join(c.name for c in table.columns)


def _prepare(engine: sa.Engine, staging: sa.Table, work: Path) -> dict[str, Path]:
    """Untimed: the least tables, and each table's rows spooled from the plain COPY's text table."""
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE UNLOGGED TABLE least_staging (LIKE staging.{staging.name})")
        conn.exec_driver_sql("CREATE TABLE least_students (LIKE core.students INCLUDING DEFAULTS, "
                             "PRIMARY KEY (district_id, state_student_id))")
        conn.exec_driver_sql(f"CREATE TABLE least_audit ({LEAST_AUDIT.replace(',', ' text,')} timestamp)")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE TEMP TABLE staged AS {_staging_select(staging)}")
        selects = {"staging": "SELECT * FROM staged", "students": _students_select("staged"),
                   "audit": _audit_select("staged"), "least_audit": _least_audit_select("staged")}
        for name, select in selects.items():
            _spool(conn, select, work / f"{name}.bin")
    return {name: work / f"{name}.bin" for name in selects}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--pg", default=os.environ.get("HUB_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        csv_path = write_csv(work / FILE, args.rows, "1964212")
        name, url = create_database(args.pg)
        try:
            ensure_tables(Warehouse(url), [FEEDS["siras"]])
            staging = staging_table(FEEDS["siras"], FEEDS["siras"].files[0])
            engine = sa.create_engine(url)
            parse_s = _parse(csv_path)
            with engine.connect() as conn:
                conn.exec_driver_sql("CHECKPOINT")
            copy_s = plain_copy(url, csv_path)
            bins = _prepare(engine, staging, work)
            (least_stage_s,), (least_staged,) = _load(engine, ("least_staging", _columns(staging), bins["staging"]))
            (least_students_s, least_audit_s), least_rows = _load(
                engine, ("least_students", _columns(students), bins["students"]),
                ("least_audit", LEAST_AUDIT, bins["least_audit"]))
            (staging_s,), (staged,) = _load(engine, (f"staging.{staging.name}", _columns(staging), bins["staging"]))
            (students_s, audit_s), (stored, audited) = _load(
                engine, ("core.students", _columns(students), bins["students"]),
                ("ops.field_audit", AUDIT_COLUMNS, bins["audit"]))
            engine.dispose()
        finally:
            drop_database(args.pg, name)
    least_apply_s = least_students_s + least_audit_s
    least_s, hub_s = max(parse_s, least_stage_s) + least_apply_s, staging_s + students_s + audit_s
    print(f"{'what is stored, from rows prepared beforehand':<58}{'rows':>10}{'seconds':>10}{'x COPY':>8}")
    rows = [("the text table (bench/ingest.py's COPY, CSV)", args.rows, copy_s),
            ("least  parse: Arrow's CSV reader, all threads, no checks", args.rows, parse_s),
            ("least  stage: unlogged, no index", least_staged, least_stage_s),
            ("least  apply: students with their key", least_rows[0], least_students_s),
            ("least  apply: create audit, eight fields, no index", least_rows[1], least_audit_s),
            ("least  the four steps (stage overlaps parse)", sum(least_rows) + least_staged, least_s),
            ("hub    staging (unlogged, delivery index)", staged, staging_s),
            ("hub    core.students (logged, primary key)", stored, students_s),
            ("hub    ops.field_audit (its columns and index)", audited, audit_s),
            ("hub    all three: the least this data model stores", staged + stored + audited, hub_s)]
    for label, n, s in rows:
        print(f"{label:<58}{n:>10}{s:>10.2f}{s / copy_s:>8.2f}")
    figures = dict(copy_s=copy_s, parse_s=parse_s, least_stage_s=least_stage_s, least_apply_s=least_apply_s,
                   ratio_bound=copy_s / least_s, staging_s=staging_s, students_s=students_s, audit_s=audit_s,
                   ratio_ceiling=copy_s / hub_s)
    print(" ".join(f"{k}={v:.3f}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
