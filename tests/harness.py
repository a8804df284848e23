"""Drive the hub like the Dagster daemon does: evaluate a sensor tick, then execute its run requests in process."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from feeds.siras import FEED as SIRAS
from hub.intake.receive import TickResult
from hub.intake.tick import scan
from hub.intake.walk import BULLET
from hub.registry.registry import Integration, Registry
from resources.archive import Archive
from resources.transport import FolderTransport, Transport
from resources.warehouse import Warehouse


@dataclass
class Tick:
    result: dg.SensorResult
    runs: list[dg.ExecuteInProcessResult]

    @property
    def cursor(self) -> str | None:
        return self.result.cursor

    @property
    def skip_reason(self) -> str | None:
        r = self.result.skip_reason
        return r.skip_message if r else None

    def reason(self, integration_id: str) -> str | None:
        return reason_of(self.skip_reason, integration_id)


def reason_of(skip_reason: str | None, integration_id: str) -> str | None:
    """One integration's line of a feed sensor's skip reason (None: not named, e.g. its folder had nothing)."""
    lines = (skip_reason or "").splitlines()
    return next((line.split(": ", 1)[1] for line in lines if line.startswith(f"{BULLET}{integration_id}: ")), None)


def tick(defs: dg.Definitions, instance: dg.DagsterInstance, sensor_name: str, cursor: str | None = None,
         execute: bool = True) -> Tick:
    """One sensor evaluation; each RunRequest is executed with its partition, tags and asset selection."""
    sensor = next(s for s in defs.sensors if s.name == sensor_name)
    ctx = dg.build_sensor_context(instance=instance, cursor=cursor, resources=defs.resources)
    result = sensor(ctx)
    runs = []
    if execute:
        job = defs.resolve_job_def(sensor.job_name)
        for req in result.run_requests or []:
            runs.append(job.execute_in_process(instance=instance, partition_key=req.partition_key, tags=req.tags,
                                               asset_selection=req.asset_selection, raise_on_error=False))
    return Tick(result, runs)


def scan_folder(registry: Registry, integration: Integration, landing: Path, warehouse: Warehouse, archive: Archive,
                now: float, cursor: dict | None = None, transport: Transport | None = None) -> TickResult:
    """One SIRAS integration's part of a sensor tick without Dagster (hub.intake.tick.scan), on its drop folder
    `landing` unless another transport is given."""
    return scan(registry=registry, feed=SIRAS, integration=integration,
                transport=transport or FolderTransport(integration.id, landing), archive=archive, warehouse=warehouse,
                cursor=cursor or {}, now=now)


def ledger(warehouse: Warehouse) -> list[tuple]:
    """The ledger (ops.deliveries) as (file name, status, reason), by file name."""
    with warehouse.begin() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT file_name, status, reason FROM ops.deliveries ORDER BY file_name"))]


def rematerialize(defs: dg.Definitions, instance: dg.DagsterInstance, job_name: str, district: str, day: str,
                  ) -> dg.ExecuteInProcessResult:
    """What an operator's 'Materialize' of one partition in the UI does."""
    key = dg.MultiPartitionKey({"date": day, "district": district})
    return defs.resolve_job_def(job_name).execute_in_process(instance=instance, partition_key=key, raise_on_error=False)
