"""Benchmark: how soon a file dropped into the demo is applied, under a running `dagster dev` (embedded default).

    python bench/turnaround.py [--files 4] [--timeout 600] [--config deploy/dagster.yaml]

Copies the demo into a temporary directory (SIRAS integrations only, no quiet wait beyond 5 s, no hold rules: each
dropped file is a new cohort that a mass-change rule would hold for review), starts `dagster dev`
with deploy/dagster.yaml, waits until it is idle, then drops one new SIRAS file at a time into each district's
folder. Per run, from the UI's GraphQL: run_start_s = started - created (queue, process start, definitions load),
turnaround_s = run end - (file stable: written + the quiet period), from it `sensed` = the run's creation - stable;
run_start_s split into queued (creation to the daemon's launch), launch (the run process's start, `import dagster`
and instance open, which the daemon waits for) and defs (the hub's imports, definitions, the run's plan). Prints a
table and, last line, the medians:
turnaround_s=… run_start_s=…
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from demo.seed import dmy  # noqa: E402
from demo.siras_files import students  # noqa: E402
from tests.loopback import dagster_dev, graphql  # noqa: E402

RUNS = "{ runsOrError { ... on Runs { results { runId status creationTime startTime endTime tags { key value } } } } }"
EVENTS = """query($id: ID!) { logsForRun(runId: $id) { ... on EventConnection { events { __typename
  ... on MessageEvent { timestamp message } ... on ExecutionStepFailureEvent { error { message } } } } } }"""
# queued -> launched by the daemon -> its process has opened the instance (the daemon's launch returns) -> started
STAGES = ("RunStartingEvent", "Started process for run", "RunStartEvent")


def _runs(port: int) -> list[dict]:
    return graphql(port, RUNS)["runsOrError"]["results"]


def _stages(port: int, run: dict) -> tuple[list[float], str]:
    """Seconds from creation to launch (queued), to the run process's instance open (spawn: process start,
    `import dagster`, the instance; the daemon's launch waits for it), to start (definitions load); a failure's
    cause."""
    events = graphql(port, EVENTS, id=run["runId"])["logsForRun"]["events"]
    at = {}
    for e in events:
        stage = e["__typename"] if e["__typename"] in STAGES else (e.get("message") or "").split(" (pid")[0]
        if stage in STAGES:
            at.setdefault(stage, int(e["timestamp"]) / 1000)
    marks = [run["creationTime"], *(at.get(t, float("nan")) for t in STAGES)]
    error = next((e["error"]["message"] for e in events if e["__typename"] == "ExecutionStepFailureEvent"), "")
    return [b - a for a, b in zip(marks, marks[1:])], error.splitlines()[0].split(": ", 1)[-1][:70] if error else ""


def _wait(port: int, until: float, done) -> list[dict]:  # noqa: ANN001
    while time.monotonic() < until:
        try:
            runs = _runs(port)
        except OSError:
            time.sleep(2)
            continue
        if done(runs):
            return runs
        time.sleep(2)
    raise SystemExit("timed out waiting for dagster dev")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=4, help="files dropped per district, one at a time")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--config", type=Path, default=ROOT / "deploy" / "dagster.yaml", help="the instance's dagster.yaml")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="turnaround-"))
    demo = yaml.safe_load((ROOT / "demo" / "registry.yaml").read_text())
    holds = {"first_file": False, "deleted": None, "updated": None, "identity_changed": None, "smaller_than_median": None}
    demo["integrations"] = [dict(i, quiet_period_seconds=5, poll_seconds=5, window=None, pause=None, holds=holds)
                            for i in demo["integrations"] if i["feed"] == "siras" and i.get("enabled", True)]
    (root / "demo").mkdir()
    (root / "demo" / "registry.yaml").write_text(yaml.safe_dump(demo))
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(args.config, home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "HUB_REGISTRY": str(root / "demo" / "registry.yaml"),
           "HUB_HOME": str(root / ".hub"), "PYTHONPATH": str(ROOT)}
    env.pop("HUB_WAREHOUSE_URL", None)
    dropped: dict[str, float] = {}  # integration/file -> stable at (epoch)
    with dagster_dev(env) as server:
        port = server.port
        until = time.monotonic() + args.timeout
        _wait(port, until, lambda runs: all(r["status"] in ("SUCCESS", "FAILURE") for r in runs))  # up and idle
        for n in range(args.files):
            for i in demo["integrations"]:
                code = next(d for d in demo["districts"] if d["id"] == i["district"])["state_district_id"]
                folder = root / ".hub" / "landing" / i["district"]
                folder.mkdir(parents=True, exist_ok=True)
                frame = dmy(students(200, code, seed=n))
                path = folder / f"{code}_demographics.csv"
                frame.to_csv(path, index=False)
                dropped[f"{i['id']}#{n}"] = path.stat().st_mtime + i["quiet_period_seconds"]
            ids = {r["runId"] for r in _runs(port)}
            _wait(port, until, lambda runs: len([r for r in runs if r["runId"] not in ids and r["status"] in (
                "SUCCESS", "FAILURE")]) >= len(demo["integrations"]))
        runs = [dict(r, stages=_stages(port, r)) for r in _runs(port)]
    rows = []
    for r in runs:
        tags = {t["key"]: t["value"] for t in r["tags"]}
        if tags.get("hub/trigger") != "sensor" or not r["startTime"] or not r["endTime"]:
            continue
        candidates = [s for k, s in dropped.items() if k.split("#")[0] == tags.get("hub/integration")
                      and s <= r["creationTime"]]
        if candidates:
            rows.append((tags["hub/integration"], r["status"], r["startTime"] - r["creationTime"],
                         r["endTime"] - max(candidates), r["creationTime"] - max(candidates), *r["stages"]))
    print(f"{'integration':<28} {'status':<8} {'run_start_s':>11} {'turnaround_s':>12} {'sensed':>6} {'queued':>6} "
          f"{'launch':>6} {'defs':>6}  failure   (load average {os.getloadavg()[0]:.1f})")
    for integration, status, start, turn, sensed, stages, error in sorted(rows):
        print(f"{integration:<28} {status:<8} {start:>11.1f} {turn:>12.1f} {sensed:>6.1f} "
              + " ".join(f"{s:>6.1f}" for s in stages) + f"  {error}")
    shutil.rmtree(root, ignore_errors=True)
    if not rows:
        raise SystemExit("no sensor runs of the dropped files")
    print(f"turnaround_s={statistics.median(r[3] for r in rows):.1f} "
          f"run_start_s={statistics.median(r[2] for r in rows):.1f}")


if __name__ == "__main__":
    main()
