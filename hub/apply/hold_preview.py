"""What a hold shows a person before they decide: per table the rows the apply would change, the fields and identities
it would change, and a new integration's header mapping (names and counts only, never values)."""

from __future__ import annotations

import sqlalchemy as sa

from hub.apply.upsert import ApplyStats
from hub.intake.ledger import Delivery
from hub.read.errors import FileFormatError
from hub.read.parsing import open_table
from hub.registry.declarations import Feed
from hub.registry.registry import Integration
from hub.store.tables import CREATED_BY_REFERENCE, audited_records, field_audit, metadata, row_errors
from resources.archive import local_copy


def table_preview(before: dict[str, int], stats: ApplyStats) -> dict[str, dict[str, object]]:
    """Per target table the apply would change: rows before, to create, update and delete, unchanged, skipped."""
    out: dict[str, dict[str, object]] = {}
    for name, s in stats.items():
        skipped = {f"would skip ({k})": v for k, v in s.skipped.items() if v}
        if s.inserted or s.updated or s.deleted or skipped:
            out[name] = {"rows before": before.get(name.split(" (")[0]), "would create": s.inserted,
                         "would update": s.updated, "would delete": s.deleted, "unchanged": s.unchanged, **skipped}
    return out


def identity_changes(conn: sa.Connection, judged: list[Delivery], run_id: str) -> dict[str, int]:
    """Per target table, the records this run changed an identifying field of (columns declared with
    info={"identifying": True}) or matched loosely to another identity."""
    a = field_audit.c
    rows = conn.execute(sa.select(a.entity, a.action, a.field, a.entity_key).distinct().where(
        a.run_id == run_id, a.delivery_id.in_([d.delivery_id for d in judged]),
        a.action.in_(("update", "loose_match")))).all()
    out: dict[str, set[str]] = {}
    for entity, action, column, key in rows:
        table = metadata.tables.get(entity)
        identifying = action == "loose_match" or (table is not None and column in table.c
                                                  and table.c[column].info.get("identifying", False))
        if identifying:
            out.setdefault(entity, set()).add(key)
    return {t: len(keys) for t, keys in sorted(out.items())}


def changed_fields(conn: sa.Connection, judged: list[Delivery], run_id: str) -> list[list[object]]:
    """[table, action, field, records] this run would change (names and counts, never values)."""
    a = field_audit.c
    field = sa.case((a.entity_key == CREATED_BY_REFERENCE, None), else_=a.field)  # by reference: the whole record
    rows = conn.execute(sa.select(a.entity, a.action, field, sa.literal_column(audited_records()))
                        .where(a.run_id == run_id, a.delivery_id.in_([d.delivery_id for d in judged]))
                        .group_by(a.entity, a.action, field).order_by(a.entity, a.action, field)).all()
    return [[e, act, f or "", int(n)] for e, act, f, n in rows]


def file_mapping(conn: sa.Connection, feed: Feed, integration: Integration, d: Delivery) -> dict[str, object]:
    """How the file's headers map to the feed's columns, the headers dropped, the codes the registry maps and the
    row errors: what a person checks on a new integration's first file (header names and codes only)."""
    ft = next(f for f in feed.files if f.name == d.file_type)
    aliases = {c: (*hs, *integration.headers.get(c, ())) for c, hs in ft.aliases().items()}
    try:
        with local_copy(d.archive_path or "") as source:
            reader = open_table(source, aliases, chunk_rows=1)
            columns, dropped = reader.columns, list(reader.unmatched_headers)
    except FileFormatError:
        columns, dropped = {}, []
    errors = conn.execute(sa.select(sa.func.count()).where(row_errors.c.delivery_id == d.delivery_id)).scalar_one()
    return {"header -> column": {header: column for column, header in columns.items()},
            "headers dropped": dropped,
            "codes mapped": {c: dict(m) for c, m in integration.value_maps.items() if c in aliases},
            "columns not delivered": [c.name for c in ft.columns if c.name not in columns],
            "row errors": int(errors)}
