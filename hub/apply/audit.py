"""Where each field of a stored record came from: file, source row and run (docs/audit.md).

A field's latest audit row (update, loose match, status) answers for it; a field never changed since the record was
created answers with the creating delivery and source row kept on the record, and the run of that delivery's
'create' audit row (by reference, or one per record as hubs before issue 19 wrote them).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from hub.store.tables import CREATED_BY_REFERENCE, deliveries, field_audit, lineage_columns

LINEAGE = frozenset(c.name for c in lineage_columns())


@dataclass(frozen=True)
class Source:
    """One field's origin; `row` is the file's row (header = 1), None where it was not recorded."""

    action: str
    file_name: str | None
    row: int | None
    run_id: str | None
    delivery_id: str | None


def provenance(conn: sa.Connection, table: sa.Table, key_column: str, key: str) -> dict[str, Source]:
    """Field -> where its stored value came from, for the record of `table` whose `key_column` (its audited hub
    key) is `key`. Empty when there is no such record."""
    record = conn.execute(sa.select(table).where(table.c[key_column] == key)).mappings().first()
    if record is None:
        return {}
    entity, a = f"{table.schema}.{table.name}", field_audit.c
    created = conn.execute(
        sa.select(a.action, a.source_file, a.run_id, a.delivery_id, a.entity_key)
        .where(a.entity == entity, a.action == "create", a.entity_key.in_((key, CREATED_BY_REFERENCE)),
               # a delivery may create records in more than one run (a score linked again later): the apply's
               # one timestamp tells its run
               sa.and_(a.delivery_id == record["created_delivery_id"], a.changed_at == record["created_at"])
               if record["created_delivery_id"] else a.entity_key == key)
        .order_by(a.changed_at)).first()
    creation = Source("create", None, record["created_source_row"], None, record["created_delivery_id"])
    if created is not None:
        file_name = created.source_file or conn.execute(
            sa.select(deliveries.c.file_name).where(deliveries.c.delivery_id == created.delivery_id)).scalar()
        creation = Source("create", file_name, record["created_source_row"], created.run_id, created.delivery_id)
    out = {c.name: creation for c in table.columns if c.name not in LINEAGE}
    for row in conn.execute(
            sa.select(a.field, a.action, a.source_file, a.source_row, a.run_id, a.delivery_id)
            .where(a.entity == entity, a.entity_key == key, a.action != "create", a.field.is_not(None))
            .order_by(a.changed_at)):
        if row.field in out:
            out[row.field] = Source(row.action, row.source_file, row.source_row, row.run_id, row.delivery_id)
    return out
