"""What a feed's apply step does: apply the day's staged files to the target tables under the hold rules (a delta
feed's days in date order, assets/delta_apply.py), decide a hold when the run config asks, and show the outcome.
Imported by the step (assets/feed_assets.py), so its libraries load in the run, not with the definitions."""

import time
from collections.abc import Iterator

import dagster as dg
import sqlalchemy as sa

from assets import hold_check
from assets.delta_apply import apply_delta
from assets.feed_context import open_warehouse, partition_of, protected_errors, reuse
from assets.hold_spec import ApplyConfig
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


def apply_feed_day(context: dg.AssetExecutionContext, config: ApplyConfig, warehouse: WarehouseResource,
                   registry: Registry, feed: Feed) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """The apply step of one partition (district, day): a held day yields its failed hold check, then fails."""
    key = dg.AssetKey([feed.name, feed.apply_asset])
    started = time.monotonic()
    district_id, day = partition_of(context)
    integration = registry.integration_for(feed.name, district_id)
    wh = open_warehouse(warehouse, feed)
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
            conn, wh, registry, feed, integration, day, reuse(feed, config), context.run_id,
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
