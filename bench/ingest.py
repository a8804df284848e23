"""Benchmark: the hub's whole SIRAS import of an N-row file vs a plain bulk load of it, then the next night.

    python bench/ingest.py [--rows 1000000] [--changes 10000] [--warehouse postgres|duckdb] [--repeat 1]
                           [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test] [--dlt-path DIR]
                           [--no-changes-only] [--scattered]

In one run: a plain load of the CSV into a table of text columns (PostgreSQL COPY, or DuckDB's read_csv), the
hub's first import (sensor tick: list, hash, archive; run: parse, validate, stage, apply with audit and import log)
and the next night's file (the same students, `--changes` of them moved up a grade; default 1% up to 10,000), and,
when dlt is importable (not a dependency of the hub; `--dlt-path` adds a folder it was installed to), a dlt merge of
the same two files. The bench's integration opts in to `stage_changes_only: true` (off by default in the
registry), so the next night measures the shortcut that stages only changed rows (hub/load/changes.py);
`--no-changes-only` measures the default, which stages the whole file every night. Each night runs in a process of
its own, as each delivery's run does under Dagster (each peak RSS its own; its CPU seconds, which load inflates far
less than wall seconds, printed too), after the warehouse was left as a day between deliveries leaves it (`settle`)
and with its file on disk. `--repeat N`: medians of N. Last line:
hub_rows_per_s=… copy_rows_per_s=… ratio=… night_ratio=… dlt_ratio=… peak_rss_mb=…
(night_ratio = next night's seconds / first import's; dlt_ratio = hub rows/s / dlt merge rows/s on the first file,
`n/a` without dlt.)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from demo.siras_files import HEADER, write_csv  # noqa: E402


def create_database(admin_url: str) -> tuple[str, str]:
    name = f"hub_bench_{uuid.uuid4().hex[:8]}"
    with sa.create_engine(admin_url, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    return name, admin_url.rsplit("/", 1)[0] + "/" + name


def drop_database(admin_url: str, name: str) -> None:
    with sa.create_engine(admin_url, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


DLT_PATH = "BENCH_DLT_PATH"  # the --dlt-path of a child process


def plain_copy(url: str, csv_path: Path) -> float:
    """Load the same CSV into a table of text columns, the warehouse's own fastest way: the floor any loader is
    compared with (PostgreSQL: COPY; DuckDB: read_csv into a table)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)  # DuckDB: the file is free for the hub after it
    if url.startswith("duckdb"):
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE TABLE copy_bench AS SELECT * FROM read_csv('{csv_path}', all_varchar = true, "
                                 "header = true)")
        return time.perf_counter() - started
    cols = ", ".join(f'"{h}" text' for h in HEADER)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE copy_bench ({cols})")
    started = time.perf_counter()
    with engine.begin() as conn, conn.connection.driver_connection.cursor() as cur:
        with cur.copy("COPY copy_bench FROM STDIN (FORMAT csv, HEADER true)") as copy, csv_path.open("rb") as fh:
            while block := fh.read(1 << 20):
                copy.write(block)
    return time.perf_counter() - started


def hub_import(url: str, work: Path, night: str) -> dict[str, float]:
    """Child process, one per night as in production (each delivery's run is a process of its own): the night's
    sensor tick (its cursor kept in `work`) and run, exactly as the daemon would. `first`: the first delivery;
    `next`: the next night's delivery of the same students with some changed (`work/next/`)."""
    os.environ.update(HUB_WAREHOUSE_URL=url, HUB_ARCHIVE_DIR=str(work / "archive"), HUB_HOME=str(work))
    import dagster as dg

    from dagster_project.definitions import build_definitions
    from tests.harness import tick

    defs, instance = build_definitions(work / "registry.yaml"), dg.DagsterInstance.ephemeral()
    cursors = work / "cursor.json"
    cursor = json.loads(cursors.read_text()) if cursors.exists() else None
    if night == "next":  # the next night's file replaces the first in the drop folder
        path = next(work.glob("next/*.csv"))
        landed = work / "landing" / path.name
        shutil.copyfile(path, landed)  # not read into this process: its peak RSS is the hub's
        os.utime(landed, (time.time(), time.time()))  # uploaded after the first night's import
        os.sync()  # its upload ended before the night (a quiet period): its writeback is not the night's
    _warm(url)
    out: dict[str, float] = {}
    wal, started, cpu = _wal_lsn(url), time.perf_counter(), _cpu_s()
    t = tick(defs, instance, "siras__deliveries", cursor=cursor)
    out[f"{night}_s"] = time.perf_counter() - started
    out[f"{night}_cpu_s"] = _cpu_s() - cpu
    out[f"{night}_wal_mb"] = _wal_mb_since(url, wal)
    out[f"{night}_peak_mb"] = _peak_rss_mb()
    if not t.runs or not all(r.success for r in t.runs):
        raise SystemExit(f"hub import failed ({night}): {t.skip_reason}")
    cursors.write_text(json.dumps(t.cursor))
    for e in t.runs[0].get_asset_materialization_events():
        out[f"{night}_{e.asset_key.path[-1]}_s"] = e.materialization.metadata["seconds"].value
    if night == "first":
        return out
    with sa.create_engine(url).connect() as conn:
        out["students"] = conn.exec_driver_sql("SELECT count(*) FROM core.students").scalar_one()
        out["updated"] = conn.exec_driver_sql("SELECT count(DISTINCT entity_key) FROM ops.field_audit "
                                              "WHERE action = 'update'").scalar_one()
        out["staged"] = conn.exec_driver_sql("SELECT count(*) FROM staging.siras__demographics").scalar_one()
        out["next_staged"] = conn.exec_driver_sql(  # the next night's rows that reached the database
            "SELECT count(*) FROM staging.siras__demographics WHERE delivery_id = (SELECT delivery_id FROM "
            "ops.deliveries ORDER BY mtime DESC LIMIT 1)").scalar_one()
    return out


def _warm(url: str) -> None:
    """The steps' modules imported and the warehouse reached, as in a long-running process (see bench/run_start.py)."""
    import assets.apply_step  # noqa: F401
    import assets.file_step  # noqa: F401
    import resources.bulk_load  # noqa: F401

    with sa.create_engine(url, poolclass=sa.pool.NullPool).connect() as conn:
        conn.exec_driver_sql("SELECT 1")


def _cpu_s() -> float:
    """CPU seconds of this process (all its threads): the hub's own Python, not the warehouse server's work."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _wal_lsn(url: str) -> str | None:
    """PostgreSQL: the server's WAL position (WAL is server-wide: other databases' writes count too)."""
    return None if url.startswith("duckdb") else _one(url, "SELECT CAST(pg_current_wal_lsn() AS text)")


def _wal_mb_since(url: str, lsn: str | None) -> float:
    return 0.0 if lsn is None else float(_one(url, f"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '{lsn}')")) / 1e6


def _one(url: str, sql: str) -> object:
    with sa.create_engine(url, poolclass=sa.pool.NullPool).connect() as conn:
        return conn.exec_driver_sql(sql).scalar_one()


def settle(url: str) -> None:
    """A day between deliveries, before the next night's clock: autovacuum (hint bits, statistics), a checkpoint."""
    duck = url.startswith("duckdb")
    with sa.create_engine(url, poolclass=sa.pool.NullPool, **({} if duck else {"isolation_level": "AUTOCOMMIT"})
                          ).connect() as conn:
        for sql in ("CHECKPOINT",) if duck else ("VACUUM (ANALYZE)", "CHECKPOINT"):
            conn.exec_driver_sql(sql)
        conn.commit()


def dlt_merge(url: str, work: Path) -> dict[str, float]:
    """Child process: dlt merges the first file, then the next night's, into one table keyed by SSID (its
    documented way to upsert a snapshot); every column as text, read by Arrow."""
    import dlt
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    if url.startswith("duckdb"):
        dest = dlt.destinations.duckdb(url.removeprefix("duckdb:///").replace(".duckdb", "_dlt.duckdb"))
    else:
        plain = sa.engine.make_url(url).set(drivername="postgresql")  # dlt wants a password: trust ignores it
        dest = dlt.destinations.postgres(plain.set(password=plain.password or "unused").render_as_string(False))
    pipeline = dlt.pipeline(pipeline_name="bench", destination=dest, dataset_name="dlt_bench",
                            pipelines_dir=str(work / "dlt"))
    text = pa_csv.ConvertOptions(column_types={h: pa.string() for h in HEADER})
    out: dict[str, float] = {}
    for night, path in (("first", work / "landing"), ("next", work / "next")):
        started = time.perf_counter()
        table = pa_csv.read_csv(next(path.glob("*.csv")), convert_options=text)
        pipeline.run(table, table_name="students", write_disposition="merge", primary_key="SSID")
        out[f"{night}_s"] = time.perf_counter() - started
    out["peak_mb"] = _peak_rss_mb()
    return out


def _child(kind: str, url: str, work: Path, extra_path: str | None = None) -> dict[str, float]:
    env = {**os.environ, **({DLT_PATH: extra_path} if extra_path else {})}
    out = subprocess.run([sys.executable, __file__, "--child", f"{kind}|{url}|{work}"], capture_output=True,
                         text=True, cwd=ROOT, env=env)
    if out.returncode:
        raise SystemExit(f"the {kind} import failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _dlt_available(extra_path: str | None) -> bool:
    probe = f"import sys; sys.path.append({str(extra_path)!r}); import dlt" if extra_path else "import dlt"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0


def _peak_rss_mb() -> float:
    """Peak RSS since exec (VmHWM; ru_maxrss would count the forked parent's image, which grows with its file)."""
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024


def registry(work: Path, landing: Path, changes_only: bool = True) -> Path:
    path = work / "registry.yaml"
    path.write_text(json.dumps({
        "districts": [{"id": "bench_unified", "name": "Bench Unified", "state": "CA", "nces_leaid": "0600000",
                       "state_district_id": "1964212", "timezone": "America/Los_Angeles"}],
        "integrations": [{"id": "siras_bench", "district": "bench_unified", "feed": "siras", "source": "bench",
                          "destination": "bench", "transport": {"kind": "folder", "path": str(landing)},
                          "contact": {"role": "bench"}, "start_date": "2020-01-01", "quiet_period_seconds": 0,
                          "window": None, "pause": None,  # imports whenever the file is there
                          "options": {"designated_file": "SPED"}, "stage_changes_only": changes_only,
                          "holds": {"first_file": False}}]}))  # a bench measures imports, not reviews
    return path


def one_run(args: argparse.Namespace, with_dlt: bool) -> dict[str, float]:
    """Plain load, hub (first, next night) and dlt (when available) on fresh files and a fresh warehouse."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        landing = work / "landing"
        changes = args.changes if args.changes is not None else min(10_000, args.rows // 100)
        csv_path = write_csv(landing / "1964212_demographics.csv", args.rows, "1964212", scattered=args.scattered)
        size_mb = csv_path.stat().st_size / 1e6
        write_csv(work / "next" / csv_path.name, args.rows, "1964212", regrade_every=max(1, args.rows // changes),
                  scattered=args.scattered)
        os.utime(csv_path, (time.time() - 3600, time.time() - 3600))
        registry(work, landing, not args.no_changes_only)
        name, url = (None, f"duckdb:///{work / 'warehouse.duckdb'}") if args.warehouse == "duckdb" \
            else create_database(args.pg)
        try:
            copy_s = plain_copy(url, csv_path)
            first = _child("hub:first", url, work)
            settle(url)
            hub = {**first, **_child("hub:next", url, work)}
            hub["peak_mb"] = max(hub["first_peak_mb"], hub["next_peak_mb"])
            dlt = _child("dlt", url, work, args.dlt_path) if with_dlt else {}
        finally:
            if name:
                drop_database(args.pg, name)
    return {"copy_s": copy_s, "size_mb": size_mb, **hub,
            **{f"dlt_{k}": v for k, v in dlt.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--changes", type=int, help="students changed the next night (default 1%% up to 10,000)")
    ap.add_argument("--warehouse", choices=("postgres", "duckdb"), default="postgres")
    ap.add_argument("--repeat", type=int, default=1, help="runs; figures are their medians")
    ap.add_argument("--pg", default=os.environ.get("HUB_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--dlt-path", help="a folder dlt was installed to (pip install --target), for its column")
    ap.add_argument("--no-changes-only", action="store_true", help="the registry's default: stage every row nightly")
    ap.add_argument("--scattered", action="store_true", help="SSIDs out of order, as in an export sorted by name")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, url, work = args.child.split("|", 2)
        if os.environ.get(DLT_PATH):
            sys.path.append(os.environ[DLT_PATH])  # after the hub's own packages
        print(json.dumps(hub_import(url, Path(work), kind.split(":")[1]) if kind.startswith("hub")
                         else dlt_merge(url, Path(work))))
        return
    with_dlt = _dlt_available(args.dlt_path)
    runs = [one_run(args, with_dlt) for _ in range(args.repeat)]
    m = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    n, plain = args.rows, "PostgreSQL COPY" if args.warehouse == "postgres" else "DuckDB read_csv"
    hub_rps, copy_rps = n / m["first_s"], n / m["copy_s"]
    print(f"{'step (' + args.warehouse + f', medians of {args.repeat})':<44}{'rows':>10}{'seconds':>10}{'rows/s':>12}")
    print(f"{plain + ' (text table)':<44}{n:>10}{m['copy_s']:>10.2f}{copy_rps:>12.0f}")
    for night, label in (("first", "hub import, first (tick+stage+apply)"), ("next", "hub import, next night")):
        wal = f"  WAL {m[night + '_wal_mb']:.0f} MB" if args.warehouse == "postgres" else ""
        print(f"{label:<44}{n:>10}{m[night + '_s']:>10.2f}{n / m[night + '_s']:>12.0f}{wal}")
        print(f"{'  of which parse+validate+stage':<44}{n:>10}{m[night + '_demographics_s']:>10.2f}")
        print(f"{'  of which apply (+audit, import log)':<44}{n:>10}{m[night + '_student_updates_s']:>10.2f}")
        print(f"{'  hub process CPU (warehouse server not in it)':<44}{n:>10}{m[night + '_cpu_s']:>10.2f}")
        print(f"{'  hub process peak RSS (MB)':<44}{n:>10}{m[night + '_peak_mb']:>10.0f}")
    print(f"{'  rows staged the next night (changed, new)':<44}{m['next_staged']:>10.0f}")
    if with_dlt:
        print(f"{'dlt merge, first':<44}{n:>10}{m['dlt_first_s']:>10.2f}{n / m['dlt_first_s']:>12.0f}")
        print(f"{'dlt merge, next night':<44}{n:>10}{m['dlt_next_s']:>10.2f}{n / m['dlt_next_s']:>12.0f}")
    else:
        print("dlt merge: dlt is not importable (not a hub dependency; see --dlt-path)")
    print(f"students: {m['students']:.0f}  updated the next night: {m['updated']:.0f}  staged rows kept: "
          f"{m['staged']:.0f}  file: {m['size_mb']:.0f} MB  hub peak RSS: {m['peak_mb']:.0f} MB")
    dlt_ratio = f"{m['dlt_first_s'] / m['first_s']:.2f}" if with_dlt else "n/a"
    print(f"hub_rows_per_s={hub_rps:.0f} copy_rows_per_s={copy_rps:.0f} ratio={hub_rps / copy_rps:.3f} "
          f"night_ratio={m['next_s'] / m['first_s']:.3f} dlt_ratio={dlt_ratio} peak_rss_mb={m['peak_mb']:.0f}")


if __name__ == "__main__":
    main()
