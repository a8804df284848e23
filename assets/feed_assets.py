"""Asset factories: from a feed declaration, one partitioned source asset per file type (with blocking gates)
and one apply asset that changes the target tables. Partitions: date (daily) x district."""

import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from assets import hold_check
from assets.delta_apply import apply_delta
from assets.feed_context import OWNERS, WAREHOUSE_POOL, protected_errors
from assets.feed_context import open_warehouse as _open, partition_of as _partition, reuse as _reuse
from assets.file_assets import file_asset
from assets.metadata import apply_metadata
from assets.run_context import import_log_metadata, trigger_of
from hub.apply.days import apply_day, with_holds
from hub.apply.holds import staged_rows
from hub.intake import ledger
from hub.intake.fetch import ReuseConfig
from hub.load.staging import applied_outcome
from hub.registry.declarations import Feed
from hub.registry.registry import Registry
from resources.warehouse import WarehouseResource

def partitions_for(registry: Registry, feed: Feed) -> dg.MultiPartitionsDefinition:
    """District x day grid over the feed's enabled integrations."""
    integrations = registry.enabled(feed.name)
    return dg.MultiPartitionsDefinition({
        "date": dg.DailyPartitionsDefinition(start_date=min(i.start_date for i in integrations).isoformat(), end_offset=1),
        "district": dg.StaticPartitionsDefinition(sorted({i.district for i in integrations})),
    })

def _apply_asset(registry: Registry, feed: Feed, pdef: dg.PartitionsDefinition, deps: list[dg.AssetKey]) -> dg.AssetsDefinition:
    key = dg.AssetKey([feed.name, feed.apply_asset])

    @dg.asset(
        key=key, deps=deps, partitions_def=pdef, group_name=feed.name, owners=OWNERS, pool=WAREHOUSE_POOL,
        kinds={"sql"}, description=feed.apply_description, check_specs=[hold_check.check_spec(key, pdef)],
        metadata={"target tables": ", ".join(feed.target_tables)},
    )
    def _apply(context: dg.AssetExecutionContext, config: hold_check.ApplyConfig,
               warehouse: WarehouseResource) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        started = time.monotonic()
        district_id, day = _partition(context)
        integration = registry.integration_for(feed.name, district_id)
        wh = _open(warehouse, feed)
        decide = hold_check.decision_of(config, integration, day, context.run_id, context.log.info)
        reapplying = bool(config.delivery_id) and not config.decision
        if feed.load == "delta" and reapplying:
            raise dg.Failure(description="a delta feed's days apply in day order: materialize the delivery's day "
                                         "again instead of re-applying one delivery", allow_retries=False)
        if feed.load == "delta":
            with protected_errors(f"applying {feed.title} for {district_id} {day}"):
                yield from apply_delta(context, wh, registry, feed, integration, day, started, decide)
            return
        with protected_errors(f"applying {feed.title} for {district_id} {day}"):
            result = with_holds(wh, context.run_id, lambda conn: apply_day(  # runs of one integration: one at a time
                conn, wh, registry, feed, integration, day, _reuse(feed, config), context.run_id,
                _reapply(conn, config, integration.id, day) if reapplying else None, str(config.requested_by or "")),
                decide, integration.id)
        with protected_errors(f"reporting {feed.title} for {district_id} {day}"), wh.begin() as conn:
            logs, outcomes = {}, {}
            for ft_name, d in result.applied.items():
                outcomes[ft_name] = applied_outcome(conn, feed, ft_name, d.delivery_id)
                counts = {"rows staged": staged_rows(conn, d.delivery_id), "result": outcomes[ft_name], "state now follows": _follows(feed, d)}
                if reapplying:
                    counts["re-applied on purpose by"] = config.requested_by
                logs.update(import_log_metadata(context, conn, wh, d, counts))
            held, done = hold_check.waiting(conn, integration.id, day), hold_check.decided(conn, integration.id, day)
        check = hold_check.hold_result(key, held, done, None, context.op_handle.name)
        md = apply_metadata(result.stats, time.monotonic() - started)
        md.update(logs, trigger=trigger_of(context))
        md["files applied"] = ", ".join(d.file_name for d in result.applied.values()) or "none"
        if outcomes:  # 'applied', or 'applied with N rows rejected' when skip_rows set rows aside
            md["result"] = "; ".join(outcomes.values()) if len(outcomes) == 1 else "; ".join(
                f"{ft_name}: {o}" for ft_name, o in outcomes.items())
        if result.notes:
            md["not applied"] = "; ".join(result.notes)
        if held and not result.applied:  # nothing applied: a failed partition that says why, like a blocked file
            yield check
            raise dg.Failure(description=f"{', '.join(r.file_name for r in held)}: {held[0].reason}; nothing was "
                                         "applied", metadata={**md, **check.metadata}, allow_retries=False)
        yield dg.MaterializeResult(metadata=md)
        yield check

    return _apply


def _reapply(conn: sa.Connection, config: ReuseConfig, integration_id: str, day: str) -> dict[str, ledger.Delivery]:
    """File type -> the delivery a re-apply run applies on purpose."""
    try:
        d = ledger.reapply_target(conn, config.delivery_id or "", config.requested_by, integration_id, day)
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
