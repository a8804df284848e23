"""Benchmark: the hub's whole SIRAS import of an N-row file into PostgreSQL vs a plain PostgreSQL COPY of it.

    python bench/ingest.py [--rows 1000000] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]

The hub import runs in a child process (sensor tick: list, hash, archive; run: parse, validate, stage, apply with
audit and import log) so its peak RSS is measured alone. The first delivery creates every student; the next
night's delivery of the same students, 1% of them changed, is timed too. Last line (first delivery):
hub_rows_per_s=… copy_rows_per_s=… ratio=… peak_rss_mb=…
"""

from __future__ import annotations

import argparse
import json
import os
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


def plain_copy(url: str, csv_path: Path) -> float:
    """COPY the same CSV into a table of text columns: the floor any loader is compared with."""
    engine = sa.create_engine(url)
    cols = ", ".join(f'"{h}" text' for h in HEADER)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE copy_bench ({cols})")
    started = time.perf_counter()
    with engine.begin() as conn, conn.connection.driver_connection.cursor() as cur:
        with cur.copy("COPY copy_bench FROM STDIN (FORMAT csv, HEADER true)") as copy, csv_path.open("rb") as fh:
            while block := fh.read(1 << 20):
                copy.write(block)
    return time.perf_counter() - started


def hub_import(url: str, work: Path) -> dict[str, float]:
    """Child process: the first delivery's sensor tick and run, exactly as the daemon would; then the next
    night's delivery of the same students with 1% changed (`work/next/`)."""
    os.environ.update(HUB_WAREHOUSE_URL=url, HUB_ARCHIVE_DIR=str(work / "archive"), HUB_HOME=str(work))
    import dagster as dg

    from dagster_project.definitions import build_definitions
    from tests.harness import tick

    defs, instance = build_definitions(work / "registry.yaml"), dg.DagsterInstance.ephemeral()
    out: dict[str, float] = {}
    cursor = None
    for night, path in (("first", None), ("next", next(work.glob("next/*.csv")))):
        if path is not None:  # the next night's file replaces the first in the drop folder
            landed = path.replace(work / "landing" / path.name)
            os.utime(landed, (time.time(), time.time()))  # uploaded after the first night's import
        started = time.perf_counter()
        t = tick(defs, instance, "siras__deliveries", cursor=cursor)
        out[f"{night}_s"] = time.perf_counter() - started
        if not t.runs or not all(r.success for r in t.runs):
            raise SystemExit(f"hub import failed ({night}): {t.skip_reason}")
        cursor = t.cursor
        for e in t.runs[0].get_asset_materialization_events():
            out[f"{night}_{e.asset_key.path[-1]}_s"] = e.materialization.metadata["seconds"].value
    out["peak_mb"] = _peak_rss_mb()
    with sa.create_engine(url).connect() as conn:
        out["students"] = conn.exec_driver_sql("SELECT count(*) FROM core.students").scalar_one()
        out["updated"] = conn.exec_driver_sql("SELECT count(DISTINCT entity_key) FROM ops.field_audit "
                                              "WHERE action = 'update'").scalar_one()
    return out


def _peak_rss_mb() -> float:
    """Peak RSS of this program since exec (VmHWM). getrusage's ru_maxrss would also count the forked image of
    the parent, whose size grows with the file it generated."""
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024


def registry(work: Path, landing: Path) -> Path:
    path = work / "registry.yaml"
    path.write_text(json.dumps({
        "districts": [{"id": "bench_unified", "name": "Bench Unified", "state": "CA", "nces_leaid": "0600000",
                       "state_district_id": "1964212", "timezone": "America/Los_Angeles"}],
        "integrations": [{"id": "siras_bench", "district": "bench_unified", "feed": "siras", "source": "bench",
                          "destination": "bench", "transport": {"kind": "folder", "path": str(landing)},
                          "contact": {"role": "bench"}, "start_date": "2020-01-01", "quiet_period_seconds": 0,
                          "window": None, "pause": None,  # imports whenever the file is there
                          "options": {"designated_file": "SPED"},
                          "holds": {"first_file": False}}]}))  # a bench measures imports, not reviews
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--pg", default=os.environ.get("HUB_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        url, work = args.child.split("|", 1)
        print(json.dumps(hub_import(url, Path(work))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        landing = work / "landing"
        csv_path = write_csv(landing / "1964212_demographics.csv", args.rows, "1964212")
        write_csv(work / "next" / csv_path.name, args.rows, "1964212", regrade_every=100)
        size_mb = csv_path.stat().st_size / 1e6
        os.utime(csv_path, (time.time() - 3600, time.time() - 3600))
        registry(work, landing)
        name, url = create_database(args.pg)
        try:
            copy_s = plain_copy(url, csv_path)
            out = subprocess.run([sys.executable, __file__, "--child", f"{url}|{work}"],
                                 capture_output=True, text=True, cwd=ROOT)
            if out.returncode:
                raise SystemExit(f"the hub import failed:\n{out.stderr[-3000:]}")
            hub = json.loads(out.stdout.strip().splitlines()[-1])
        finally:
            drop_database(args.pg, name)
    hub_rps, copy_rps = args.rows / hub["first_s"], args.rows / copy_s
    print(f"{'step':<40}{'rows':>10}{'seconds':>10}{'rows/s':>12}")
    print(f"{'PostgreSQL COPY (text table)':<40}{args.rows:>10}{copy_s:>10.2f}{copy_rps:>12.0f}")
    print(f"{'hub import, first (tick+stage+apply)':<40}{args.rows:>10}{hub['first_s']:>10.2f}{hub_rps:>12.0f}")
    print(f"{'  of which parse+validate+stage':<40}{args.rows:>10}{hub['first_demographics_s']:>10.2f}")
    print(f"{'  of which apply (+audit, import log)':<40}{args.rows:>10}{hub['first_student_updates_s']:>10.2f}")
    print(f"{'hub import, next night (1% changed)':<40}{args.rows:>10}{hub['next_s']:>10.2f}"
          f"{args.rows / hub['next_s']:>12.0f}")
    print(f"{'  of which parse+validate+stage':<40}{args.rows:>10}{hub['next_demographics_s']:>10.2f}")
    print(f"{'  of which apply (+audit, import log)':<40}{args.rows:>10}{hub['next_student_updates_s']:>10.2f}")
    print(f"students: {hub['students']}  updated the next night: {hub['updated']}  file: {size_mb:.0f} MB  "
          f"hub peak RSS: {hub['peak_mb']:.0f} MB")
    print(f"hub_rows_per_s={hub_rps:.0f} copy_rows_per_s={copy_rps:.0f} ratio={hub_rps / copy_rps:.3f} "
          f"peak_rss_mb={hub['peak_mb']:.0f}")


if __name__ == "__main__":
    main()
