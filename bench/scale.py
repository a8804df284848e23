"""Benchmark: the hub at consortium scale, N districts x 4 feeds (SIRAS, EdReflect, ClassLink, PowerSchool).

    python bench/scale.py [--districts 1000] [--files 5] [--history DAYS] [--warehouse postgresql+psycopg2://…/empty_db]

Writes a registry of N districts, each with four drop-folder integrations (no window, no pause, no first-file hold,
no quiet wait) under a temporary directory, then, each in a fresh child process (what a code server does):
  - definitions: import the project, build_definitions(), resolve the repository and serialize the snapshot the code
    server sends the webserver and daemon; wall time and peak RSS of the process;
  - sweep: tick each feed's delivery sensor (what the daemon's ticks do, minus gRPC and tick storage), handing each
    tick the last one's cursor, until its walk has checked every integration of the feed once, on the warehouse
    (DuckDB unless --warehouse), with one SIRAS file waiting in --files districts' folders and every other folder
    empty (those files' runs are requested; nothing is executed). With --history DAYS the ledger first holds that
    many days of applied deliveries of every integration (a consortium's year: --history 365), as a long-running
    hub's does; the per-run ledger queries are timed too.
Prints a table (with CPU seconds beside wall times: on a loaded shared machine wall time is mostly waiting) and,
last line: defs_load_s=… defs_rss_mb=… sweep_s=… assets=… sensors=… (sweep_s: the whole
sweep). Floors (issue 20): definitions ≤ 20 s and ≤ 1.5 GB; a sweep over 4,000 integrations ≤ 60 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
FEEDS = ("siras", "edreflect", "classlink", "powerschool")


def district(i: int) -> dict:
    return {"id": f"d{i:04d}", "name": f"Bench District {i}", "state": "CA", "nces_leaid": f"{6000000 + i:07d}",
            "state_district_id": f"{1000000 + i:07d}", "timezone": "America/Los_Angeles"}


def integration(d: dict, feed: str, landing: Path) -> dict:
    entry = {"id": f"{feed}_{d['id']}", "district": d["id"], "feed": feed, "source": "bench SIS",
             "destination": "hub", "transport": {"kind": "folder", "path": str(landing / d["id"] / feed)},
             "contact": {"role": "SIS Administrator"}, "start_date": "2026-01-01", "quiet_period_seconds": 0,
             "window": None, "pause": None, "holds": {"first_file": False}}
    if feed == "edreflect":
        entry["options"] = {"cadence_days": 1}
    return entry


def write_registry(root: Path, n: int) -> Path:
    districts = [district(i) for i in range(1, n + 1)]
    integrations = [integration(d, feed, root / "landing") for d in districts for feed in FEEDS]
    for entry in integrations:
        Path(entry["transport"]["path"]).mkdir(parents=True)
    path = root / "registry.yaml"
    path.write_text(yaml.safe_dump({"districts": districts, "integrations": integrations}, sort_keys=False))
    return path


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def cpu_s() -> float:
    """CPU seconds of this process: beside wall time, what the load of a shared machine does not inflate."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child_defs() -> dict:
    """Import and build the definitions as a code server does; counts of what the UI lists."""
    start = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    from dagster_project.definitions import build_definitions
    imported = time.perf_counter()
    defs = build_definitions()
    built = time.perf_counter()
    repo = defs.get_repository_def()  # jobs resolved and the asset graph the UI's pages read
    keys = repo.asset_graph.get_all_asset_keys()
    resolved = time.perf_counter()
    # what the code server sends the webserver and daemon (Dagster's internal API; the tiny-scale test keeps it honest)
    from dagster._core.remote_representation.external_data import RepositorySnap
    from dagster._serdes import serialize_value
    snapshot = serialize_value(RepositorySnap.from_def(repo, defer_snapshots=True))
    done = time.perf_counter()
    return {"import_s": imported - start, "build_s": built - imported, "repo_s": resolved - built,
            "snap_s": done - resolved, "snap_mb": len(snapshot) / 2**20, "load_s": done - start, "rss_mb": rss_mb(),
            "cpu_s": cpu_s(), "assets": len(keys),
            "sensors": len(repo.sensor_defs), "schedules": len(repo.schedule_defs), "jobs": len(repo.get_all_jobs()),
            "checks": len(repo.asset_graph.asset_check_keys)}


def write_history(days: int) -> None:
    """DAYS days of applied deliveries (one file a day, with its event) of every integration in the ledger."""
    import pandas as pd

    from feeds import FEEDS as ALL
    from hub.store.schema import ensure_tables
    from resources.warehouse import Warehouse

    wh = Warehouse(os.environ["HUB_WAREHOUSE_URL"])
    ensure_tables(wh, ALL.values())
    with wh.begin() as conn:
        registry = yaml.safe_load(Path(os.environ["HUB_REGISTRY"]).read_text())
        for i in registry["integrations"]:
            day = pd.date_range("2025-01-01", periods=days, freq="D")
            ids = [f"h{i['id']}{d:%Y%m%d}" for d in day]
            wh.load_frame(conn, "ops.deliveries", {
                "delivery_id": ids, "integration_id": [i["id"]] * days, "district_id": [i["district"]] * days,
                "feed": [i["feed"]] * days, "file_type": ["history"] * days, "remote_path": ["/history.csv"] * days,
                "file_name": ["history.csv"] * days, "size": ["1000"] * days, "mtime": [str(d) for d in day],
                "sha256": ids, "archive_path": ids, "partition_date": [f"{d:%Y-%m-%d}" for d in day],
                "status": ["applied"] * days, "discovered_at": [str(d) for d in day],
                "updated_at": [str(d) for d in day], "row_count": ["100"] * days})
            wh.load_frame(conn, "ops.delivery_events", {"delivery_id": ids, "status": ["applied"] * days,
                                                        "occurred_at": [str(d) for d in day], "moved": ["true"] * days})
        wh.analyze(conn, "ops.deliveries")
        wh.analyze(conn, "ops.delivery_events")


def ledger_queries(n: int) -> float:
    """Seconds per run of the ledger queries a run makes (its file, the newest applied, the base of a night), for
    `n` integrations."""
    from hub.intake import ledger
    from resources.warehouse import Warehouse

    registry = yaml.safe_load(Path(os.environ["HUB_REGISTRY"]).read_text())
    picked = [i["id"] for i in registry["integrations"]][:: max(1, len(registry["integrations"]) // n)][:n]
    started = time.perf_counter()
    with Warehouse(os.environ["HUB_WAREHOUSE_URL"]).begin() as conn:
        for iid in picked:
            ledger.for_run(conn, iid, "history", "2025-06-01", False)
            ledger.newest_applied(conn, iid, "history")
            ledger.with_status(conn, iid, "waiting")
    return (time.perf_counter() - started) / len(picked)


def child_sweep(root: Path, files: int, history: int) -> dict:
    """Every integration checked once by its feed's delivery sensor, as the daemon's first ticks do: a SIRAS file
    waits in --files districts' folders, every other folder is empty."""
    sys.path.insert(0, str(ROOT))
    import dagster as dg

    from dagster_project.definitions import build_definitions, load_hub_registry

    if history:
        write_history(history)
    run_s = ledger_queries(50) if history else 0.0
    defs, registry = build_definitions(), load_hub_registry()
    sensors = [s for s in defs.sensors if s.name.endswith("__deliveries")]
    instance = dg.DagsterInstance.local_temp(str(root / "dagster_home"))
    old = time.time() - 60  # written a minute ago: stable, past any quiet wait
    for i in range(1, files + 1):
        path = root / "landing" / f"d{i:04d}" / "siras" / f"{1000000 + i:07d}_demographics.csv"
        path.write_text("SSID,Last Name,First Name\n")
        os.utime(path, (old, old))
    ticks, checked, requested, slowest = 0, 0, 0, 0.0
    start, cpu = time.perf_counter(), cpu_s()
    for s in sensors:
        total, cursor, done = len(registry.enabled(s.name.removesuffix("__deliveries"))), None, 0
        while done < total:
            began = time.perf_counter()
            result = s(dg.build_sensor_context(instance=instance, resources=defs.resources, cursor=cursor))
            slowest = max(slowest, time.perf_counter() - began)
            cursor, ticks = result.cursor, ticks + 1
            done += json.loads(cursor)["checked"]
            requested += len(result.run_requests or [])
        checked += done
    return {"sensors": len(sensors), "integrations": checked, "ticks": ticks, "sweep_s": time.perf_counter() - start,
            "runs": requested, "per_ms": 1000 * (time.perf_counter() - start) / max(checked, 1),
            "slowest_tick_s": slowest, "cpu_s": cpu_s() - cpu, "rss_mb": rss_mb(), "run_ledger_ms": 1000 * run_s}


def run_child(args: list[str], env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], env=env, cwd=ROOT, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"child {args[0]} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--districts", type=int, default=1000)
    ap.add_argument("--files", type=int, default=5, help="districts whose SIRAS folder gets one file in the sweep")
    ap.add_argument("--warehouse", help="the warehouse URL the sensors use (default: a DuckDB file in the temporary "
                                        "directory); an empty PostgreSQL database measures production's")
    ap.add_argument("--history", type=int, default=0, help="days of applied deliveries of every integration first")
    ap.add_argument("--child", choices=["defs", "sweep"], help=argparse.SUPPRESS)
    ap.add_argument("--root", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child == "defs":
        print(json.dumps(child_defs()))
        return
    if args.child == "sweep":
        print(json.dumps(child_sweep(Path(args.root), args.files, args.history)))
        return
    with tempfile.TemporaryDirectory(prefix="scale-") as tmp:
        root = Path(tmp)
        registry = write_registry(root, args.districts)
        env = {k: v for k, v in os.environ.items() if k not in {"HUB_ARCHIVE_URL", "HUB_DISTRICT_DIRECTORY"}}
        env.update(HUB_REGISTRY=str(registry), HUB_HOME=str(root / "hub"), HUB_ARCHIVE_DIR=str(root / "hub" / "archive"),
                   HUB_WAREHOUSE_URL=args.warehouse or f"duckdb:///{root / 'hub' / 'warehouse.duckdb'}",
                   DAGSTER_HOME=str(root / "dagster_home"))
        (root / "dagster_home").mkdir()
        d = run_child(["--child", "defs"], env)
        s = run_child(["--child", "sweep", "--root", tmp, "--files", str(args.files), "--history", str(args.history)], env)
    n = s["sensors"]
    rows = [
        ("districts x feeds (integrations)", f"{args.districts} x {len(FEEDS)}", f"{args.districts * len(FEEDS)}"),
        ("definitions: import modules", "s", f"{d['import_s']:.2f}"),
        ("definitions: build_definitions()", "s", f"{d['build_s']:.2f}"),
        ("definitions: repository + asset graph", "s", f"{d['repo_s']:.2f}"),
        ("definitions: repository snapshot for the UI", "s", f"{d['snap_s']:.2f}"),
        ("definitions: repository snapshot size", "MB", f"{d['snap_mb']:.1f}"),
        ("definitions: total load (floor 20 s)", "s", f"{d['load_s']:.2f}"),
        ("definitions: CPU time of the process (user + system)", "s", f"{d['cpu_s']:.2f}"),
        ("definitions: peak RSS (floor 1536 MB)", "MB", f"{d['rss_mb']:.0f}"),
        ("UI: assets / checks / jobs", "count", f"{d['assets']} / {d['checks']} / {d['jobs']}"),
        ("UI: sensors / schedules", "count", f"{d['sensors']} / {d['schedules']}"),
        (f"sweep: {s['integrations']} integrations by {n} feed sensors (floor 60 s per 4000)", "s",
         f"{s['sweep_s']:.2f}"),
        ("sweep: ticks / slowest tick (budget 30 s)", "count / s", f"{s['ticks']} / {s['slowest_tick_s']:.2f}"),
        ("sweep: per integration", "ms", f"{s['per_ms']:.2f}"),
        ("sweep: CPU time (user + system)", "s", f"{s['cpu_s']:.2f}"),
        (f"run requests ({args.files} folders with a file)", "count", f"{s['runs']}"),
        ("sweep process peak RSS", "MB", f"{s['rss_mb']:.0f}"),
        (f"ledger: {args.history} days of deliveries; a run's ledger queries (3, mean of 50 integrations)", "ms",
         f"{s['run_ledger_ms']:.1f}"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'unit':>5}  value")
    for label, unit, value in rows:
        print(f"{label:<{width}}  {unit:>5}  {value}")
    print(f"defs_load_s={d['load_s']:.2f} defs_rss_mb={d['rss_mb']:.0f} sweep_s={s['sweep_s']:.2f} "
          f"assets={d['assets']} sensors={d['sensors']} run_ledger_ms={s['run_ledger_ms']:.1f}")


if __name__ == "__main__":
    main()
