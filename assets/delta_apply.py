"""The apply step of a delta feed (`load: "delta"`): days apply in date order per integration (hub/delta.py)."""

from __future__ import annotations

import time

import dagster as dg

from assets.metadata import apply_metadata
from hub.apply import ApplyContext
from hub.declarations import Feed
from hub.delta import apply_in_order
from hub.ledger import Delivery
from hub.registry import Integration, Registry
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
    md = apply_metadata(result.stats, time.monotonic() - started)
    md["days applied"] = ", ".join(result.applied_days) or "none"
    md["replayed from the first day"] = result.replayed
    md["files applied"] = len(result.files)
    md["reference files applied"] = len(result.references)
    if day in result.held:
        md["held"] = result.held[day]
        context.log.warning("%s %s: %s", integration.id, day, result.held[day])
    if result.held:
        md["days held"] = "; ".join(f"{d}: {r}" for d, r in result.held.items())
    return dg.MaterializeResult(metadata=md)
