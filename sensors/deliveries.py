"""The delivery sensor: one per enabled integration, built from its registry entry."""

import hashlib
import json
import time
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from hub.declarations import Feed
from hub.intake import make_transport, scan
from hub.registry import Integration, Registry
from hub.tables import ensure_tables
from resources.archive import ArchiveResource
from resources.warehouse import WarehouseResource

def sensor_name(integration: Integration) -> str:
    return f"{integration.id}__deliveries"

def build_delivery_sensor(registry: Registry, feed: Feed, integration: Integration, job_name: str, base_dir: Path) -> dg.SensorDefinition:
    """Watch the integration's SFTP or drop folder; start one run per new delivery day."""
    file_keys = {ft.name: dg.AssetKey([feed.name, ft.name]) for ft in feed.files}
    apply_key = dg.AssetKey([feed.name, feed.apply_asset])
    where = integration.transport.kind

    @dg.sensor(
        name=sensor_name(integration), job_name=job_name, minimum_interval_seconds=integration.poll_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"{feed.title} for {registry.district(integration.district).name}: watches the {where} location, "
                    f"waits {integration.quiet_period_seconds}s of no change, archives new bytes, starts a run.",
    )
    def _sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource,
                archive: ArchiveResource) -> dg.SensorResult:
        wh = warehouse.get()
        try:
            ensure_tables(wh, [feed])
        except sa.exc.SQLAlchemyError as exc:  # the warehouse is down: say so, the next tick tries again
            return dg.SensorResult(skip_reason=f"integration {integration.id}: the warehouse cannot be reached "
                                               f"({type(getattr(exc, 'orig', None) or exc).__name__}); retried on the "
                                               "next tick", cursor=context.cursor)
        tick = scan(registry=registry, feed=feed, integration=integration, transport=make_transport(integration, base_dir),
                    archive=archive.get(), warehouse=wh, cursor=json.loads(context.cursor or "{}"), now=time.time())
        requests = [
            dg.RunRequest(
                partition_key=dg.MultiPartitionKey({"date": run.day, "district": run.district_id}),
                run_key=hashlib.sha256(",".join(sorted(run.delivery_ids) + sorted(run.after)).encode()).hexdigest()[:20],
                asset_selection=[file_keys[f] for f in sorted(run.file_types)] + [apply_key],
                tags={"hub/integration": integration.id, "hub/trigger": "sensor",
                      "hub/deliveries": ",".join(sorted(run.delivery_ids))},
            )
            for run in tick.runs
        ]
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(tick.cursor),
                               skip_reason=None if requests else tick.skip_reason)

    return _sensor
