"""A run process for the fault suite: executes one run request of the delivery sensor against the Dagster instance
in DAGSTER_HOME, as Dagster's run worker does. Usage: python -m tests.faults.run_worker REGISTRY REQUEST_JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import dagster as dg

from dagster_project.definitions import build_definitions
from tests.faults.siras_hub import JOB


def main(registry: str, request: str) -> int:
    req = json.loads(request)
    defs = build_definitions(Path(registry))
    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def(JOB).execute_in_process(
            instance=instance, partition_key=dg.MultiPartitionKey(req["partition"]), tags=req["tags"],
            asset_selection=[dg.AssetKey(k) for k in req["assets"]], raise_on_error=False)
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
