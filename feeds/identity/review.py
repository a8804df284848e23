"""The identity review queue (ops.identity_review): one entry per record that cannot be linked now."""

from __future__ import annotations

import sqlalchemy as sa

from hub.apply import ApplyContext, lit


def sync_review(ctx: ApplyContext, feed: str, file_type: str, items_sql: str) -> int:
    """Make the district's open items of one file type the rows of `items_sql` (delivery_id, source_row, file_name,
    record_key, reason): the type's other items leave (they link now, or their record is queued again here); an
    item still open for the same reason keeps the time it was first queued. Returns the open items."""
    d = lit(ctx.district.id)
    ours = (f"district_id = {d} AND (delivery_id IN (SELECT delivery_id FROM ops.deliveries WHERE district_id = {d} "
            f"AND feed = {lit(feed)} AND file_type = {lit(file_type)}) OR record_key IN (SELECT record_key FROM "
            f"({items_sql}) i))")
    run = ctx.conn.exec_driver_sql
    run("DROP TABLE IF EXISTS _review_open")
    run(f"CREATE TEMP TABLE _review_open AS SELECT record_key, reason, min(queued_at) AS queued_at "
        f"FROM ops.identity_review WHERE {ours} GROUP BY record_key, reason")
    run(f"DELETE FROM ops.identity_review WHERE {ours}")
    queued = ctx.conn.execute(sa.text(
        f"INSERT INTO ops.identity_review (delivery_id, source_row, district_id, file_name, record_key, reason, "
        f"queued_at) SELECT i.delivery_id, i.source_row, {d}, i.file_name, i.record_key, i.reason, "
        f"COALESCE(o.queued_at, :now) FROM ({items_sql}) i LEFT JOIN _review_open o ON o.record_key = i.record_key "
        f"AND o.reason = i.reason"), {"now": ctx.now}).rowcount
    run("DROP TABLE _review_open")
    return queued
