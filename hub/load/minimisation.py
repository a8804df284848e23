"""Data minimisation: columns a delivery carries that its feed does not declare are dropped at ingest and
reported once per delivery in ops.dropped_columns, by header name only (never a value)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from hub.intake.ledger import Delivery, utcnow
from hub.store.tables import dropped_columns


def record_dropped_columns(conn: sa.Connection, delivery: Delivery, headers: Sequence[str]) -> None:
    """Replace the delivery's report with `headers` (a re-import reports the same delivery once)."""
    conn.execute(sa.delete(dropped_columns).where(dropped_columns.c.delivery_id == delivery.delivery_id))
    if headers:
        now = utcnow()
        conn.execute(sa.insert(dropped_columns), [
            {"delivery_id": delivery.delivery_id, "file_name": delivery.file_name, "column_name": h, "reported_at": now}
            for h in dict.fromkeys(headers)])
