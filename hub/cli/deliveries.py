"""`hub deliveries reapply ID --by NAME`: re-apply an archived delivery on purpose (e.g. the last good export after
a bad one: re-sending its bytes starts nothing, as identical bytes are a duplicate). Runs the feed's import job for
the delivery's partition with the delivery's file and the apply step; audited in ops.reapplications and the
delivery's history; the import log says which delivery the state now follows."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from hub.cli.commands import UsageError, subcommand


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("delivery_id", metavar="ID", help="the delivery (ops.deliveries.delivery_id)")
    parser.add_argument("--by", required=True, help="who asks (kept in the audit trail)")
    parser.add_argument("--registry", type=Path, metavar="FILE", help="registry YAML (default: $HUB_REGISTRY or the demo)")


@subcommand("deliveries reapply", "Re-apply an archived delivery on purpose (audited).", _arguments)
def reapply(args: argparse.Namespace) -> int:
    import dagster as dg

    from dagster_project.definitions import build_definitions, load_hub_registry
    from feeds import FEEDS
    from hub.intake import ledger
    from hub.intake.fetch import fetch_config
    from hub.registry.registry import RegistryError
    from hub.intake.retention import purged_reason
    from hub.store.schema import ensure_tables
    from resources.warehouse import Warehouse

    url = os.environ.get("HUB_WAREHOUSE_URL")
    if not url:
        raise UsageError("no warehouse: set HUB_WAREHOUSE_URL (the hub's warehouse)")
    path = args.registry.resolve() if args.registry else None
    try:
        load_hub_registry(path)
    except RegistryError as exc:
        raise UsageError(str(exc)) from exc
    wh = Warehouse(url)
    ensure_tables(wh, [])
    with wh.begin() as conn:
        d = ledger.get(conn, args.delivery_id)
    if d is None:
        raise UsageError(f"no delivery {args.delivery_id} in the warehouse")
    with wh.begin() as conn:
        if purged := purged_reason(conn, d):
            raise UsageError(purged)
    feed = FEEDS[d.feed]
    config = fetch_config(feed, fetch=False)
    for op in config["ops"].values():
        op["config"].update(delivery_id=d.delivery_id, requested_by=args.by)
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    result = build_definitions(path).resolve_job_def(f"{feed.name}_import").execute_in_process(
        instance=instance, run_config=config, raise_on_error=False,
        asset_selection=[dg.AssetKey([feed.name, d.file_type]), dg.AssetKey([feed.name, feed.apply_asset])],
        partition_key=dg.MultiPartitionKey({"date": d.partition_date, "district": d.district_id}),
        tags={"hub/trigger": "reapply"})
    if not result.success:
        print(f"re-applying {d.file_name} (delivery {d.delivery_id}) failed: see run {result.run_id}")
        return 1
    print(f"re-applied {d.file_name} (delivery {d.delivery_id}, {d.partition_date}) on purpose by {args.by}: run "
          f"{result.run_id}; {feed.name} now follows it")
    return 0
