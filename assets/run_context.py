"""Run-level facts the assets show: who triggered the run, and the per-delivery import log."""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg
import sqlalchemy as sa

from hub.import_log import write_import_log
from hub.ledger import Delivery
from resources.warehouse import Warehouse

TRIGGER_TAG = "hub/trigger"


def trigger_of(context: dg.AssetExecutionContext) -> str:
    """'sensor' for sensor runs; any other run (a UI materialization, a backfill) is tagged 'manual' here."""
    trigger = context.run.tags.get(TRIGGER_TAG)
    if trigger is None:
        trigger = "manual"
        context.instance.add_run_tags(context.run_id, {TRIGGER_TAG: trigger})
    return trigger


def import_log_metadata(context: dg.AssetExecutionContext, conn: sa.Connection, warehouse: Warehouse,
                        delivery: Delivery, counts: Mapping[str, object]) -> dict[str, object]:
    """Write the delivery's import log next to its archived file; link it and preview its counts."""
    log = write_import_log(conn, warehouse, delivery, run_id=context.run_id, trigger=trigger_of(context),
                           counts=counts)
    return {f"import log ({delivery.file_type})": dg.MetadataValue.path(str(log.path)),
            f"import log preview ({delivery.file_type})": dg.MetadataValue.md(log.preview(counts))}
