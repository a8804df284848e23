"""A feed's file assets: one partitioned source asset per file type, staged and held back by blocking gates
(schema, district, identity match rate). What the step does is assets/file_step.py."""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg

from assets.feed_context import OWNERS, WAREHOUSE_POOL
from assets.metadata import column_schema
from hub.intake.fetch import FetchConfig
from hub.registry.declarations import Feed, FileType
from hub.registry.registry import Registry
from hub.store.schema import staging_table_name
from resources.archive import ArchiveResource
from resources.warehouse import WarehouseResource


def file_asset(registry: Registry, feed: Feed, ft: FileType, pdef: dg.PartitionsDefinition,
               base_dir: Path | None) -> dg.AssetsDefinition:
    """The partitioned source asset of one file type. A partition is materialized only for a day whose file passed
    every gate; a blocked file is a failed partition with its failed checks (yielded, then dg.Failure); a day
    without a file yields nothing, so no partition turns green for it (checks are per partition)."""
    key = dg.AssetKey([feed.name, ft.name])
    table = staging_table_name(feed, ft)
    spec = dg.AssetSpec(
        key, group_name=f"{feed.name}_{ft.group}" if ft.group else feed.name, owners=OWNERS,
        kinds={"file", *feed.kinds}, skippable=True, deps=[dg.AssetKey([feed.name, a]) for a in ft.after],
        description=f"{feed.title}: {ft.description} Parsed, validated and staged into {table}. File patterns: "
                    f"{', '.join(ft.patterns)}.",
        metadata={"dagster/column_schema": column_schema(ft), "staging table": table})
    checks = [
        dg.AssetCheckSpec("schema", asset=key, blocking=True, partitions_def=pdef,
                          description="required columns, formats and code sets (Arrow), row rules (pandera); row-level report"),
        dg.AssetCheckSpec("district", asset=key, blocking=True, partitions_def=pdef,
                          description="the district the file names must be in the registry and match the integration"),
        *([dg.AssetCheckSpec("identifiers", asset=key, blocking=True, partitions_def=pdef,
                             description="identifiers must look as exported: no leading zeros lost against the stored "
                                         "ones, no scientific notation or decimals (a file saved through Excel)")]
          if ft.stored_identifiers() else []),
        *([dg.AssetCheckSpec("match_rate", asset=key, blocking=True, partitions_def=pdef,
                             description="share of rows linked to a hub student must reach the integration's "
                                         "min_match_rate")] if ft.link else []),
    ]

    # can_subset: outputs and check results are optional, so a day without a file yields nothing at all
    @dg.multi_asset(name=f"{feed.name}__{ft.name}", specs=[spec], check_specs=checks, partitions_def=pdef,
                    pool=WAREHOUSE_POOL, can_subset=True)
    def _asset(context: dg.AssetExecutionContext, config: FetchConfig, warehouse: WarehouseResource,
               archive: ArchiveResource) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        from assets.file_step import stage_file  # the step's libraries load in the run, not with the definitions

        yield from stage_file(context, config, warehouse, archive, registry, feed, ft, base_dir)

    return _asset
