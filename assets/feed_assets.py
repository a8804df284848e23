"""Asset factories: from a feed declaration, one partitioned source asset per file type (with blocking gates)
and one apply asset that changes the target tables. Partitions: date (daily) x district. What the steps do is
assets/file_step.py and assets/apply_step.py."""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg

from assets import hold_spec
from assets.feed_context import OWNERS, WAREHOUSE_POOL
from assets.file_assets import file_asset
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
        kinds={"sql"}, description=feed.apply_description, check_specs=[hold_spec.check_spec(key, pdef)],
        metadata={"target tables": ", ".join(feed.target_tables)},
    )
    def _apply(context: dg.AssetExecutionContext, config: hold_spec.ApplyConfig,
               warehouse: WarehouseResource) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        from assets.apply_step import apply_feed_day  # the step's libraries load in the run, not with the definitions

        yield from apply_feed_day(context, config, warehouse, registry, feed)

    return _apply


def build_feed_assets(registry: Registry, feed: Feed, base_dir: Path | None = None) -> list[dg.AssetsDefinition]:
    """All assets of one feed; empty when no integration of the feed is enabled. `base_dir` resolves relative
    drop-folder paths (the registry's folder)."""
    if not registry.enabled(feed.name):
        return []
    pdef = partitions_for(registry, feed)
    files = [file_asset(registry, feed, ft, pdef, base_dir) for ft in feed.files]
    return [*files, _apply_asset(registry, feed, pdef, [a.key for a in files])]
