"""A configuration error met while a delivery is processed: the delivery fails with the reason (ops.deliveries and
ops.ingest_errors), its staged rows go, and the run stops with a message that names the setting."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import sqlalchemy as sa

from hub.intake import ledger
from hub.registry.configuration import ConfigurationError
from hub.registry.registry import Integration
from resources.warehouse import Warehouse


@contextmanager
def configuration_failure(wh: Warehouse, integration: Integration, delivery: ledger.Delivery, staging_table: str,
                          run_id: str) -> Iterator[None]:
    try:
        yield
    except ConfigurationError as exc:
        with wh.begin() as conn:
            conn.execute(sa.text(f"DELETE FROM {staging_table} WHERE delivery_id = :d"), {"d": delivery.delivery_id})
            ledger.log_ingest_error(conn, integration_id=integration.id, district_id=integration.district,
                                    file_name=delivery.file_name, gate="configuration", reason=str(exc),
                                    delivery_id=delivery.delivery_id, run_id=run_id)
            ledger.set_status(conn, [delivery.delivery_id], "failed", f"configuration error: {exc}", run_id)
        raise dg.Failure(f"{delivery.file_name}: not imported, the hub's configuration is wrong: {exc}. Fix the "
                         "setting, then re-import the partition.", allow_retries=False) from None
