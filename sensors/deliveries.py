"""The delivery sensors: one per feed, walking the feed's enabled integrations with a cursor (hub/intake/walk.py;
docs/architecture.md, "Delivery sensors at scale")."""

import hashlib
import json
import time
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from hub.intake import ledger
from hub.intake.receive import PartitionRun
from hub.intake.retries import STUCK, RunState, sweep
from hub.intake.tick import make_transport, scan
from hub.intake.walk import Walk
from hub.registry.declarations import Feed
from hub.registry.registry import Integration, Registry
from hub.store.schema import ensure_tables
from resources.archive import Archive, ArchiveResource
from resources.warehouse import Warehouse, WarehouseResource

BUDGET_SECONDS = 30.0  # of walking per tick: Dagster gives a sensor evaluation 60 s before it gives up on it


def sensor_name(feed: Feed) -> str:
    return f"{feed.name}__deliveries"


def build_delivery_sensor(registry: Registry, feed: Feed, integrations: list[Integration], job_name: str,
                          base_dir: Path) -> dg.SensorDefinition:
    """Watch the SFTP or drop folder of each of the feed's integrations; start one run per new delivery day."""
    file_keys = {ft.name: dg.AssetKey([feed.name, ft.name]) for ft in feed.files}
    apply_key = dg.AssetKey([feed.name, feed.apply_asset])
    by_id = {i.id: i for i in integrations}
    shown = ", ".join(sorted(by_id)[:5]) + (", …" if len(by_id) > 5 else "")

    def request(integration: Integration, run: PartitionRun) -> dg.RunRequest:
        retry = run.attempt  # 0: the deliveries' first run
        key = ",".join(sorted(run.delivery_ids) + sorted(run.after)) + (f":retry {retry}" if retry else "")
        return dg.RunRequest(
            partition_key=dg.MultiPartitionKey({"date": run.day, "district": run.district_id}),
            run_key=hashlib.sha256(key.encode()).hexdigest()[:20],
            asset_selection=[file_keys[f] for f in sorted(run.file_types)] + [apply_key],
            tags={"hub/integration": integration.id, "hub/trigger": "retry" if retry else "sensor",
                  "hub/deliveries": ",".join(sorted(run.delivery_ids)), **({"hub/retry": str(retry)} if retry else {}),
                  "dagster/retry_on_asset_or_op_failure": "false"})  # a gate failure is never retried

    @dg.sensor(
        name=sensor_name(feed), job_name=job_name, minimum_interval_seconds=min(i.poll_seconds for i in integrations),
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"{feed.title}: checks the SFTP or drop folder of each of its {len(by_id)} integration(s) "
                    f"({shown}), resuming where the last tick stopped (at most {BUDGET_SECONDS:.0f} s a tick); waits "
                    "each file's quiet period, archives new bytes, starts a run per district and day. The skip reason "
                    "names each integration with something to say; the cursor keeps where the walk is.",
    )
    def _sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource,
                archive: ArchiveResource) -> dg.SensorResult:
        wh, store = warehouse.get(), archive.get()
        try:
            ensure_tables(wh, [feed])
            with wh.begin() as conn:  # one query for the whole feed: which integrations have deliveries to follow up
                open_ = ledger.open_statuses(conn, feed.name, ("waiting", *STUCK))
        except sa.exc.SQLAlchemyError as exc:  # the warehouse is down: say so, the next tick tries again
            return dg.SensorResult(skip_reason=f"{feed.name}: the warehouse cannot be reached "
                                               f"({type(getattr(exc, 'orig', None) or exc).__name__}); none of its "
                                               f"integrations was checked ({shown}); retried on the next tick",
                                   cursor=context.cursor)
        walk = Walk(list(by_id), json.loads(context.cursor or "{}"), BUDGET_SECONDS)
        requests: list[dg.RunRequest] = []
        for integration_id, scan_cursor in walk:
            integration = by_id[integration_id]
            runs, reason, scan_cursor = _check(context, registry, feed, integration, wh, store, scan_cursor,
                                               open_.get(integration_id, set()), base_dir)
            requests += [request(integration, run) for run in runs]
            walk.record(integration_id, reason, scan_cursor)
        summary = walk.summary(feed.name)
        context.log.info("\n".join([summary.splitlines()[0], *walk.lines()]))
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(walk.cursor),
                               skip_reason=None if requests else summary)

    return _sensor


def _check(context: dg.SensorEvaluationContext, registry: Registry, feed: Feed, integration: Integration,
           wh: Warehouse, store: Archive, scan_cursor: dict, open_: set[str], base_dir: Path
           ) -> tuple[list[PartitionRun], str, dict]:
    """One integration's part of a tick: its scan, then (only when the ledger holds queued or staged deliveries of
    it) the retry sweep, which asks Dagster for its runs. Returns its runs to start (new deliveries', then retries),
    its skip reason, its cursor."""
    try:
        tick = scan(registry=registry, feed=feed, integration=integration, archive=store, warehouse=wh,
                    transport=make_transport(integration, base_dir), cursor=scan_cursor, now=time.time(),
                    waiting="waiting" in open_)
        runs = list(tick.runs)
        parts = [tick.skip_reason]
        if open_ & set(STUCK):  # deliveries left behind by a run that died
            with wh.begin() as conn:
                swept = sweep(conn, integration, _runs_of(context.instance, integration.id), time.time(),
                              {d for run in tick.runs for d in run.delivery_ids})
            runs += swept.retries
            parts += [f"{n} {what}" for what, n in sorted(swept.counts.items())]
        return runs, "; ".join(parts), tick.cursor
    except Exception as exc:  # noqa: BLE001 -- one integration's fault must not stop the feed's others
        why = type(getattr(exc, "orig", None) or exc).__name__  # the type only: a message may carry a file's data
        context.log.error(f"integration {integration.id}: its check stopped with {why}")
        return [], f"its check stopped with {why}; retried on the next tick", scan_cursor


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
                        run.tags.get("dagster/will_retry") == "true",
                        hub=run.tags.get("hub/trigger") in ("sensor", "retry"))

    def runs_of(delivery_id: str, run_id: str | None) -> list[RunState]:
        mine = [r for r in records if delivery_id in r.dagster_run.tags.get("hub/deliveries", "").split(",")]
        if run_id and run_id not in by_id and (extra := instance.get_run_records(dg.RunsFilter(run_ids=[run_id]))):
            mine += extra
        elif run_id in by_id and by_id[run_id] not in mine:
            mine.append(by_id[run_id])
        return [state(r) for r in sorted(mine, key=lambda r: r.create_timestamp, reverse=True)]

    return runs_of
