"""Asset factories: from a feed declaration, one partitioned source asset per file type (with blocking gates)
and one apply asset that changes the target tables. Partitions: date (daily) x district."""

import time
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from assets.delta_apply import apply_delta
from assets.feed_context import OWNERS, WAREHOUSE_POOL, protected_errors
from assets.feed_context import open_warehouse as _open, partition_of as _partition, reuse as _reuse
from assets.file_assets import file_asset
from assets.metadata import apply_metadata
from assets.run_context import import_log_metadata, trigger_of
from hub import ledger
from hub.apply import ApplyContext
from hub.declarations import Feed
from hub.fetch import ReuseConfig
from hub.registry import Registry
from hub.staging import applied_outcome, rows_set_aside
from resources.warehouse import WarehouseResource

def partitions_for(registry: Registry, feed: Feed) -> dg.MultiPartitionsDefinition:
    """District x day grid over the feed's enabled integrations."""
    integrations = registry.enabled(feed.name)
    return dg.MultiPartitionsDefinition({
        "date": dg.DailyPartitionsDefinition(start_date=min(i.start_date for i in integrations).isoformat(), end_offset=1),
        "district": dg.StaticPartitionsDefinition(sorted({i.district for i in integrations})),
    })

def _apply_asset(registry: Registry, feed: Feed, pdef: dg.PartitionsDefinition, deps: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey([feed.name, feed.apply_asset]), deps=deps, partitions_def=pdef, group_name=feed.name,
        owners=OWNERS, pool=WAREHOUSE_POOL, kinds={"sql"}, description=feed.apply_description,
        metadata={"target tables": ", ".join(feed.target_tables)},
    )
    def _apply(context: dg.AssetExecutionContext, config: ReuseConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
        started = time.monotonic()
        district_id, day = _partition(context)
        integration = registry.integration_for(feed.name, district_id)
        wh = _open(warehouse, feed)
        if feed.load == "delta" and config.delivery_id:
            raise dg.Failure(description="a delta feed's days apply in day order: materialize the delivery's day "
                                         "again instead of re-applying one delivery", allow_retries=False)
        if feed.load == "delta":
            with protected_errors(f"applying {feed.title} for {district_id} {day}"):
                return apply_delta(context, wh, registry, feed, integration, day, started)
        with protected_errors(f"applying {feed.title} for {district_id} {day}"), wh.begin(lock=integration.id) as conn:
            todo, notes = {}, []
            chosen = _reapply(conn, config, integration.id, day)
            for ft in feed.files:
                d = chosen.get(ft.name) if config.delivery_id else \
                    ledger.for_run(conn, integration.id, ft.name, day, _reuse(feed, config))
                newest = ledger.newest_applied(conn, integration.id, ft.name)
                if d is None or d.status not in ("staged", "applied"):
                    continue
                if feed.load == "snapshot" and newest and newest.mtime > d.mtime and not config.delivery_id:
                    notes.append(f"{ft.name}: superseded by the newer delivery of {newest.partition_date}")
                    continue
                todo[ft.name] = d
            stats = {}
            if todo:
                stats = feed.apply(ApplyContext(conn, wh, feed, registry, integration, registry.district(district_id),
                                                todo, feed.options_model.model_validate(integration.options), context.run_id))
            logs, outcomes = {}, {}
            for ft_name, d in todo.items():
                outcomes[ft_name] = applied_outcome(rows_set_aside(conn, feed, ft_name, d.delivery_id))
                ledger.set_status(conn, [d.delivery_id], "applied", None if outcomes[ft_name] == "applied" else
                                  outcomes[ft_name], run_id=context.run_id)
                if config.delivery_id:
                    ledger.record_reapplication(conn, d, str(config.requested_by), context.run_id)
                staged_rows = conn.execute(sa.text(f"SELECT count(*) FROM staging.{feed.name}__{ft_name} "
                                                   "WHERE delivery_id = :d"), {"d": d.delivery_id}).scalar_one()
                counts = {"rows staged": staged_rows, "result": outcomes[ft_name], "state now follows": _follows(feed, d)}
                if config.delivery_id:
                    counts["re-applied on purpose by"] = config.requested_by
                logs.update(import_log_metadata(context, conn, wh, d, counts))
        md = apply_metadata(stats, time.monotonic() - started)
        md.update(logs, trigger=trigger_of(context))
        md["files applied"] = ", ".join(d.file_name for d in todo.values()) or "none"
        if outcomes:  # 'applied', or 'applied with N rows rejected' when skip_rows set rows aside
            md["result"] = "; ".join(outcomes.values()) if len(outcomes) == 1 else "; ".join(
                f"{ft_name}: {o}" for ft_name, o in outcomes.items())
        if notes:
            md["not applied"] = "; ".join(notes)
        return dg.MaterializeResult(metadata=md)

    return _apply

def _reapply(conn: sa.Connection, config: ReuseConfig, integration_id: str, day: str) -> dict[str, ledger.Delivery]:
    """File type -> the delivery a re-apply run applies on purpose (empty for other runs)."""
    if not config.delivery_id:
        return {}
    try:
        d = ledger.reapply_target(conn, config.delivery_id, config.requested_by, integration_id, day)
    except ledger.ReapplyError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    return {d.file_type: d}


def _follows(feed: Feed, d: ledger.Delivery) -> str:
    """Which delivery the target state now follows, for the import log."""
    what = "delivery" if feed.load == "snapshot" else "delivery (with the earlier ones it adds to)"
    return f"{what} {d.delivery_id}: {d.file_name} of {d.partition_date}"


def build_feed_assets(registry: Registry, feed: Feed, base_dir: Path | None = None) -> list[dg.AssetsDefinition]:
    """All assets of one feed; empty when no integration of the feed is enabled. `base_dir` resolves relative
    drop-folder paths (the registry's folder)."""
    if not registry.enabled(feed.name):
        return []
    pdef = partitions_for(registry, feed)
    files = [file_asset(registry, feed, ft, pdef, base_dir) for ft in feed.files]
    return [*files, _apply_asset(registry, feed, pdef, [a.key for a in files])]
