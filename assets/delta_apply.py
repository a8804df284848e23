"""The apply step of a delta feed (`load: "delta"`): days apply in date order per integration (hub/delta.py)."""

from __future__ import annotations

import time

import dagster as dg
import sqlalchemy as sa

from assets.metadata import apply_metadata
from hub.apply import ApplyContext
from hub.declarations import Feed
from hub.delta import apply_in_order
from hub.ledger import Delivery
from hub.registry import Integration, Registry
from hub.staging import applied_outcome, rows_set_aside
from hub.tables import deliveries
from resources.warehouse import Warehouse


def apply_delta(context: dg.AssetExecutionContext, wh: Warehouse, registry: Registry, feed: Feed,
                integration: Integration, day: str, started: float) -> dg.MaterializeResult:
    """Apply pending reference files, this partition's day and every later day that becomes applicable, or report
    why the day is held."""
    options = feed.options_model.model_validate(integration.options)
    district = registry.district(integration.district)
    with wh.begin(lock=integration.id) as conn:  # runs of one integration apply one after the other
        def one_day(files: dict[str, Delivery]):  # noqa: ANN202
            return feed.apply(ApplyContext(conn, wh, feed, registry, integration, district, files, options,
                                           context.run_id))

        result = apply_in_order(conn, feed, integration.id, integration.district, getattr(options, "cadence_days", 1),
                                one_day, context.run_id)
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
    return dg.MaterializeResult(metadata=md)


def _outcomes(conn: sa.Connection, feed: Feed, run_id: str) -> list[tuple[str, str]]:
    """(file, 'applied with N rows rejected') of the files this run applied with rows set aside; their deliveries
    say so too."""
    applied = conn.execute(sa.select(deliveries.c.delivery_id, deliveries.c.file_name, deliveries.c.file_type)
                           .where(deliveries.c.run_id == run_id, deliveries.c.feed == feed.name,
                                  deliveries.c.status == "applied")).all()
    out = []
    for delivery_id, name, file_type in applied:
        if n := rows_set_aside(conn, feed, file_type, delivery_id):
            conn.execute(sa.update(deliveries).where(deliveries.c.delivery_id == delivery_id)
                         .values(reason=applied_outcome(n)))
            out.append((name, applied_outcome(n)))
    return out
