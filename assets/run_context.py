"""Run-level facts the assets show: who triggered the run, and the per-delivery import log."""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg
import sqlalchemy as sa

from assets.metadata import fields_changed
from hub.apply.import_log import write_import_log
from hub.intake.ledger import Delivery
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
    """Write the delivery's import log next to its archived file; show its counts, its first lines and the fields
    this run changed (a path alone cannot be opened from the browser)."""
    log = write_import_log(conn, warehouse, delivery, run_id=context.run_id, trigger=trigger_of(context),
                           counts=counts)
    ft = delivery.file_type
    md: dict[str, object] = {f"import log ({ft})": dg.MetadataValue.path(str(log.path)),
                             f"row errors CSV ({ft})": dg.MetadataValue.path(str(log.errors_csv)),
                             f"import log preview ({ft})": dg.MetadataValue.md(log.preview(counts)),
                             f"import log text ({ft})": dg.MetadataValue.md(f"```\n{log.head()}```")}
    changed = fields_changed(conn, delivery.delivery_id, context.run_id)
    if changed is not None:
        md[f"fields changed ({ft})"] = changed
    return md
