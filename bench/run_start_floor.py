"""Benchmark: the run start Dagster itself imposes under `dagster dev` with the demo's instance (deploy/dagster.yaml).

    python bench/run_start_floor.py [--rounds 3] [--config deploy/dagster.yaml]

The smallest prototype of what bench/turnaround.py measures: a job with one op that does nothing, and a sensor
that requests it for three integrations at once (tag hub/integration a, b, c, as three districts' files) each time
a trigger file appears. Per run, from the UI's GraphQL: run_start_s = started - created, split into queued (to the
daemon's launch), launch (run process start, `import dagster`, the instance) and load (the job). Whatever
bench/turnaround.py measures above these figures is the hub's own (imports, definitions). Last line: empty_run_start_s=… (median).
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.turnaround import _runs, _stages, _wait  # noqa: E402
from tests.loopback import dagster_dev  # noqa: E402

INTEGRATIONS = ("a", "b", "c")
DEFS = '''import os
from pathlib import Path

import dagster as dg


@dg.op
def nothing():
    pass


@dg.job(executor_def=dg.in_process_executor)  # as the hub's runs
def empty():
    nothing()


@dg.sensor(job=empty, minimum_interval_seconds=1, default_status=dg.DefaultSensorStatus.RUNNING)
def trigger(context):
    new = [f.name for f in sorted(Path(os.environ["FLOOR_DIR"]).glob("trigger-*")) if f.name > (context.cursor or "")]
    if not new:
        return dg.SkipReason("no trigger")
    context.update_cursor(new[-1])
    return [dg.RunRequest(run_key=f"{n}-{i}", tags={"hub/integration": i}) for n in new for i in %r]


defs = dg.Definitions(jobs=[empty], sensors=[trigger])
''' % (INTEGRATIONS,)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="trigger files, one at a time (3 runs each)")
    ap.add_argument("--config", type=Path, default=ROOT / "deploy" / "dagster.yaml")
    ap.add_argument("--timeout", type=float, default=600)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="run-start-floor-"))
    (root / "floor_defs.py").write_text(DEFS)
    (root / "home").mkdir()
    shutil.copy(args.config, root / "home" / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(root / "home"), "FLOOR_DIR": str(root),
           "PYTHONPATH": os.pathsep.join((str(root), str(ROOT)))}  # the config may name the project's launcher
    try:
        with dagster_dev(env, "-m", "floor_defs", cwd=root) as server:
            port = server.port
            until = time.monotonic() + args.timeout
            _wait(port, until, lambda runs: True)  # the webserver answers
            for n in range(args.rounds):
                (root / f"trigger-{n:03d}").touch()
                _wait(port, until,
                      lambda runs: sum(r["status"] == "SUCCESS" for r in runs) >= len(INTEGRATIONS) * (n + 1))
            runs = [(r["startTime"] - r["creationTime"], *_stages(port, r)[0]) for r in _runs(port)]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"{'run_start_s':>11} {'queued':>6} {'launch':>6} {'load':>6}   (load average {os.getloadavg()[0]:.1f})")
    for start, queued, launch, load in sorted(runs):
        print(f"{start:>11.1f} {queued:>6.1f} {launch:>6.1f} {load:>6.1f}")
    print(f"empty_run_start_s={statistics.median(r[0] for r in runs):.1f}")


if __name__ == "__main__":
    main()
