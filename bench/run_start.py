"""Where a run's start goes: the run process's own floor, measured one process at a time (no daemon, no UI).

    python bench/run_start.py [--repeat 3]

Each row starts a fresh Python process and times it to its exit, wall and CPU (user + system; CPU barely moves
with a busy machine's load, wall does):
- python: the interpreter alone;
- dagster: `import dagster`, the least any run process pays;
- empty_run: `dagster job execute` of a job with one op that does nothing (an ephemeral instance): the floor of a
  Dagster run, whatever the project;
- feeds_location: what a feed's run loads (`make dev` and production): import, definitions, its job;
- all_definitions: the same from all definitions in one location (dagster-dbt, dbt-core, the dbt manifest), as
  production served them before it split the feeds and the marts too.
Last line: the medians, e.g. empty_run_s=… feeds_location_s=… all_definitions_s=… (wall) and …_cpu_s=… (CPU).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EMPTY_JOB = ("import dagster as dg\n\n@dg.op\ndef nothing():\n    pass\n\n"
             "@dg.job(executor_def=dg.in_process_executor)  # as the hub's runs\ndef empty():\n    nothing()\n")
LOAD = ("import {module} as m; d = m.defs() if callable(m.defs) else m.defs; "
        "d.get_repository_def().get_job('siras_import')")


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="run-start-") as tmp:
        (Path(tmp) / "empty_job.py").write_text(EMPTY_JOB)
        env = {**os.environ, "DAGSTER_HOME": tmp, "HUB_HOME": str(Path(tmp) / ".hub"), "PYTHONPATH": str(ROOT)}
        env.pop("HUB_WAREHOUSE_URL", None)
        py = [sys.executable, "-c"]
        cases = {
            "python": py + ["pass"],
            "dagster": py + ["import dagster"],
            "empty_run": [sys.executable, "-m", "dagster", "job", "execute", "-f", str(Path(tmp) / "empty_job.py"),
                          "-j", "empty"],
            "feeds_location": py + [LOAD.format(module="dagster_project.feeds_location")],
            "all_definitions": py + [LOAD.format(module="dagster_project.definitions")],
        }
        results = {name: [_timed(cmd, env) for _ in range(args.repeat)] for name, cmd in cases.items()}
    print(f"{'process':<16} {'wall_s':>7} {'cpu_s':>7}   (median of {args.repeat}; load {os.getloadavg()[0]:.1f})")
    medians = {name: (statistics.median(w for w, _ in r), statistics.median(c for _, c in r))
               for name, r in results.items()}
    for name, (wall, cpu) in medians.items():
        print(f"{name:<16} {wall:>7.2f} {cpu:>7.2f}")
    keys = ("empty_run", "feeds_location", "all_definitions")
    print(" ".join(f"{k}_s={medians[k][0]:.2f}" for k in keys) + " "
          + " ".join(f"{k}_cpu_s={medians[k][1]:.2f}" for k in keys))


if __name__ == "__main__":
    main()
