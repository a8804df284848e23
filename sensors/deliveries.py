"""The delivery sensor: one per enabled integration, built from its registry entry."""

import hashlib
import json
import time
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from hub.intake.retries import RunState, sweep
from hub.intake.tick import make_transport, scan
from hub.registry.declarations import Feed
from hub.registry.registry import Integration, Registry
from hub.store.schema import ensure_tables
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
        with wh.begin() as conn:  # deliveries left behind by a run that died
            swept = sweep(conn, integration, _runs_of(context.instance, integration.id), time.time(),
                          {d for run in tick.runs for d in run.delivery_ids})

        def request(day: str, district: str, file_types: set[str], delivery_ids: list[str], after: list[str] | tuple[()] = (),
                    retry: int = 0) -> dg.RunRequest:
            key = ",".join(sorted(delivery_ids) + sorted(after)) + (f":retry {retry}" if retry else "")
            return dg.RunRequest(
                partition_key=dg.MultiPartitionKey({"date": day, "district": district}),
                run_key=hashlib.sha256(key.encode()).hexdigest()[:20],
                asset_selection=[file_keys[f] for f in sorted(file_types)] + [apply_key],
                tags={"hub/integration": integration.id, "hub/trigger": "retry" if retry else "sensor",
                      "hub/deliveries": ",".join(sorted(delivery_ids)), **({"hub/retry": str(retry)} if retry else {}),
                      "dagster/retry_on_asset_or_op_failure": "false"})  # a gate failure is never retried

        requests = [request(run.day, run.district_id, run.file_types, run.delivery_ids, run.after) for run in tick.runs]
        requests += [request(r.day, integration.district, r.file_types, r.delivery_ids, retry=r.attempt)
                     for r in swept.retries]
        skip = "; ".join([tick.skip_reason, *(f"{n} {what}" for what, n in sorted(swept.counts.items()))])
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(tick.cursor),
                               skip_reason=None if requests else skip)

    return _sensor


_RUNNING = {dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
            dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING, dg.DagsterRunStatus.MANAGED}


def _runs_of(instance: dg.DagsterInstance, integration_id: str):  # noqa: ANN202
    """(delivery id, its last run id) -> the runs that imported it, newest first: the integration's runs (sensor runs
    and retries name their deliveries in a tag) and the delivery's last run (e.g. an operator's)."""
    records = instance.get_run_records(dg.RunsFilter(tags={"hub/integration": integration_id}), limit=500)
    by_id = {r.dagster_run.run_id: r for r in records}

    def state(record) -> RunState:  # noqa: ANN001
        run = record.dagster_run
        kind = ("running" if run.status in _RUNNING else "succeeded" if run.status == dg.DagsterRunStatus.SUCCESS
                else "failed")
        return RunState(run.run_id, kind, record.end_time or record.update_timestamp.timestamp(),
                        run.tags.get("dagster/failure_reason") or ("canceled" if run.status == dg.DagsterRunStatus.CANCELED
                                                                   else "the run process stopped or was lost"),
                        run.tags.get("dagster/will_retry") == "true")

    def runs_of(delivery_id: str, run_id: str | None) -> list[RunState]:
        mine = [r for r in records if delivery_id in r.dagster_run.tags.get("hub/deliveries", "").split(",")]
        if run_id and run_id not in by_id and (extra := instance.get_run_records(dg.RunsFilter(run_ids=[run_id]))):
            mine += extra
        elif run_id in by_id and by_id[run_id] not in mine:
            mine.append(by_id[run_id])
        return [state(r) for r in sorted(mine, key=lambda r: r.create_timestamp, reverse=True)]

    return runs_of
