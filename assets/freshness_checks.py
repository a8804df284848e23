"""Freshness checks: per feed, an asset for its incoming deliveries (the districts' SFTP or drop folders, never
materialized by the hub) with one check per integration that declares a cadence. The notification sensor reports
them as the state changes; executing them in the UI evaluates them now. Imports never run them."""

import time

import dagster as dg

from hub.monitor.freshness import check_name, deliveries_key, due_time, evaluate, last_deliveries
from hub.registry.declarations import Feed
from hub.registry.registry import Registry
from hub.store.schema import ensure_tables
from resources.warehouse import WarehouseResource


def build_freshness_checks(registry: Registry, feed: Feed
                           ) -> tuple[dg.AssetSpec, dg.AssetChecksDefinition] | None:
    """The feed's deliveries asset and its freshness checks (None when no enabled integration of the feed declares
    a cadence)."""
    integrations = [i for i in registry.enabled(feed.name) if i.cadence]
    if not integrations:
        return None
    key = dg.AssetKey(deliveries_key(feed.name))
    spec = dg.AssetSpec(key, group_name=feed.name, owners=["team:district-data"], kinds={"file"},
                        description=f"{feed.title}: the files districts deliver (SFTP or hub drop folders). Its "
                                    "checks say whether each district's delivery is late for its cadence.")
    specs = [dg.AssetCheckSpec(check_name(i), asset=key, description=(
        f"{registry.district(i.district).name}: a {i.cadence} delivery by {due_time(i):%H:%M} "
        f"{registry.timezone_of(i)}; paused days expect none")) for i in integrations]

    @dg.multi_asset_check(specs=specs, name=f"{feed.name}__freshness", can_subset=True,
                          description=f"{feed.title}: is each district's delivery late for its cadence?")
    def _freshness(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):  # noqa: ANN202
        wh = warehouse.get()
        ensure_tables(wh, [])
        with wh.begin() as conn:
            last = last_deliveries(conn)
        selected = {k.name for k in context.selected_asset_check_keys}
        for i in integrations:
            if check_name(i) in selected:
                state = evaluate(registry, i, last.get(i.id), time.time())
                yield dg.AssetCheckResult(asset_key=key, check_name=check_name(i), passed=not state.late,
                                          severity=dg.AssetCheckSeverity.ERROR, metadata=state.metadata())

    return spec, _freshness
