"""The apply step of a delta feed (`load: "delta"`): days apply in date order per integration (hub/apply/delta.py), each
judged by the hold rules (hub/apply/holds.py)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import dagster as dg
import sqlalchemy as sa

from assets import hold_check
from assets.metadata import apply_metadata
from hub.apply.days import apply_delta as apply_days_in_order, with_holds
from hub.load.staging import applied_outcome
from hub.registry.declarations import Feed
from hub.registry.registry import Integration, Registry
from hub.store.tables import deliveries
from resources.warehouse import Warehouse


def apply_delta(context: dg.AssetExecutionContext, wh: Warehouse, registry: Registry, feed: Feed,
                integration: Integration, day: str, started: float,
                decide: Callable[[sa.Connection], object] | None,
                ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Apply pending reference files, this partition's day and every later day that becomes applicable, or report
    why the day is held (a held day of its own is a failed partition; a day behind a held or missing one is
    materialized with the reason and a warning)."""
    result = with_holds(wh, context.run_id, lambda conn: apply_days_in_order(conn, wh, registry, feed, integration,
                                                                              context.run_id), decide, integration.id)
    with wh.begin() as conn:
        outcomes = _outcomes(conn, feed, context.run_id)
    md = apply_metadata(result.stats, time.monotonic() - started)
    md["days applied"] = ", ".join(result.applied_days) or "none"
    md["replayed from the first day"] = result.replayed
    md["files applied"] = len(result.files)
    md["reference files applied"] = len(result.references)
    if outcomes:  # skip_rows set rows of these files aside
        md["result"] = "; ".join(f"{name}: {outcome}" for name, outcome in outcomes)
    if day in result.held:
        md["held"] = result.held[day]
        context.log.warning("%s %s: %s", integration.id, day, result.held[day])
    if result.held:
        md["days held"] = "; ".join(f"{d}: {r}" for d, r in result.held.items())
    key = dg.AssetKey([feed.name, feed.apply_asset])
    with wh.begin() as conn:
        held, done = hold_check.waiting(conn, integration.id, day), hold_check.decided(conn, integration.id, day)
    check = hold_check.hold_result(key, held, done, result.held.get(day), context.op_handle.name)
    if held:
        yield check
        raise dg.Failure(description=f"{', '.join(r.file_name for r in held)}: {held[0].reason}; nothing of this "
                                     "day was applied", metadata={**md, **check.metadata}, allow_retries=False)
    yield dg.MaterializeResult(metadata=md)
    yield check


def _outcomes(conn: sa.Connection, feed: Feed, run_id: str) -> list[tuple[str, str]]:
    """(file, 'applied with N rows rejected') of the files this run applied with rows set aside."""
    applied = conn.execute(sa.select(deliveries.c.delivery_id, deliveries.c.file_name, deliveries.c.file_type)
                           .where(deliveries.c.run_id == run_id, deliveries.c.feed == feed.name,
                                  deliveries.c.status == "applied")).all()
    outcomes = [(name, applied_outcome(conn, feed, file_type, delivery_id)) for delivery_id, name, file_type in applied]
    return [(name, o) for name, o in outcomes if o != "applied"]
