"""Ceiling for bench/ingest.py's ratio: PostgreSQL alone storing what a first import of N students must store.

    python bench/write_floor.py [--rows 1000000] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]

A first SIRAS delivery is stored three times, in the hub's own tables: the staged rows (unlogged, the gates and
re-imports read them), the students with their primary key, and one create audit row per student. Here those
rows are prepared beforehand, untimed, and each table is loaded with binary COPY, PostgreSQL's fastest load, with
no parsing, validation or Dagster at all. `ratio_ceiling` is the plain COPY's time over the sum: no loader with
this data model can beat it on this server, whatever it does in Python. Last line:
copy_s=… staging_s=… students_s=… audit_s=… ratio_ceiling=…
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import create_database, drop_database, plain_copy  # noqa: E402
from demo.siras_files import HEADER, write_csv  # noqa: E402
from feeds import FEEDS  # noqa: E402
from hub.apply import AUDIT_COLUMNS  # noqa: E402
from hub.tables import ensure_tables, staging_table, students  # noqa: E402
from resources.warehouse import Warehouse  # noqa: E402

DELIVERY, DISTRICT, RUN = "bench_delivery", "bench_unified", "bench_run"


def _staging_select(table: sa.Table) -> str:
    """The text table's columns under their staging names (the feed's header aliases), as the parser stages them."""
    ft = FEEDS["siras"].files[0]
    header = {h.upper(): f'"{h}"' for h in HEADER}
    cols = {c.name: next((header[a.upper()] for a in c.headers if a.upper() in header), "NULL") for c in ft.columns}
    exprs = [f"'{DELIVERY}'" if c.name == "delivery_id" else "row_number() OVER ()" if c.name == "source_row"
             else cols[c.name] for c in table.columns]
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
            f"'1964212_demographics.csv', delivery_id, '{RUN}', now() FROM {staged}")


def _spool(conn: sa.Connection, select: str, path: Path) -> None:
    with conn.connection.driver_connection.cursor() as cur, path.open("wb") as out:
        with cur.copy(f"COPY ({select}) TO STDOUT (FORMAT binary)") as copy:
            for block in copy:
                out.write(block)


def _load(engine: sa.Engine, table: str, columns: str, path: Path) -> tuple[float, int]:
    """One binary COPY in its own transaction, as the hub commits each step: seconds and rows stored."""
    started = time.perf_counter()
    with engine.begin() as conn, conn.connection.driver_connection.cursor() as cur:
        with cur.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT binary)") as copy, path.open("rb") as fh:
            while block := fh.read(1 << 20):
                copy.write(block)
        rows = cur.rowcount
    return time.perf_counter() - started, rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--pg", default=os.environ.get("HUB_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        csv_path = write_csv(work / "1964212_demographics.csv", args.rows, "1964212")
        name, url = create_database(args.pg)
        try:
            ensure_tables(Warehouse(url), [FEEDS["siras"]])
            staging = staging_table(FEEDS["siras"], FEEDS["siras"].files[0])
            copy_s = plain_copy(url, csv_path)
            engine = sa.create_engine(url)
            with engine.connect() as conn:  # untimed: the rows each table will receive
                conn.exec_driver_sql(f"CREATE TEMP TABLE staged AS {_staging_select(staging)}")
                _spool(conn, "SELECT * FROM staged", work / "staging.bin")
                _spool(conn, _students_select("staged"), work / "students.bin")
                _spool(conn, _audit_select("staged"), work / "audit.bin")
            names = lambda t: ", ".join(c.name for c in t.columns)  # noqa: E731
            (staging_s, staged), (students_s, stored), (audit_s, audited) = (
                _load(engine, f"staging.{staging.name}", names(staging), work / "staging.bin"),
                _load(engine, "core.students", names(students), work / "students.bin"),
                _load(engine, "ops.field_audit", AUDIT_COLUMNS, work / "audit.bin"))
            engine.dispose()
        finally:
            drop_database(args.pg, name)
    total = staging_s + students_s + audit_s
    print(f"{'binary COPY of prepared rows into':<48}{'rows':>10}{'seconds':>10}{'x COPY':>8}")
    rows = [("the text table (bench/ingest.py's COPY, CSV)", args.rows, copy_s),
            ("staging (unlogged, delivery index)", staged, staging_s),
            ("core.students (logged, primary key)", stored, students_s),
            ("ops.field_audit, one create row each", audited, audit_s),
            ("all three: the least a first import stores", staged + stored + audited, total)]
    for label, n, s in rows:
        print(f"{label:<48}{n:>10}{s:>10.2f}{s / copy_s:>8.2f}")
    print(f"copy_s={copy_s:.2f} staging_s={staging_s:.2f} students_s={students_s:.2f} audit_s={audit_s:.2f} "
          f"ratio_ceiling={copy_s / total:.3f}")


if __name__ == "__main__":
    main()
