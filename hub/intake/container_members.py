"""Members of a container (zip) that are not files of the feed: recorded in the ledger as skipped with the reason,
and listed on the materialization of the files that came in the same container."""

from __future__ import annotations

import sqlalchemy as sa

from hub.intake import ledger
from hub.store.tables import deliveries
from resources.transport import printable


def record_skipped_members(conn: sa.Connection, container: dict, mtime: float, members: list[tuple[str, str, int]],
                           reason: str) -> None:
    """One `skipped` ledger row per member (base name, path inside, size) of the container's ledger row (`mtime`:
    the container's, as the transport listed it)."""
    for name, inner, size in members:
        path = printable(f"{container['remote_path']}!{inner}")
        did = ledger.delivery_id(container["integration_id"], path, size, mtime)
        if ledger.get(conn, did) is None:
            ledger.record(conn, **{**container, "delivery_id": did, "remote_path": path, "file_name": printable(name),
                                   "size": size}, status="skipped", reason=reason)


def skipped_beside(conn: sa.Connection, delivery_id: str) -> list[str]:
    """'name: reason' of the members skipped in the container a delivery came in (none for a loose file)."""
    row = conn.execute(sa.select(deliveries.c.integration_id, deliveries.c.remote_path, deliveries.c.mtime)
                       .where(deliveries.c.delivery_id == delivery_id)).first()
    if row is None or "!" not in row.remote_path:
        return []
    prefix = row.remote_path.split("!", 1)[0] + "!"
    rows = conn.execute(sa.select(deliveries.c.file_name, deliveries.c.reason).where(
        deliveries.c.integration_id == row.integration_id, deliveries.c.status == "skipped",
        deliveries.c.mtime == row.mtime, deliveries.c.remote_path.startswith(prefix, autoescape=True))
        .order_by(deliveries.c.file_name))
    return [f"{name}: {reason}" for name, reason in rows]
