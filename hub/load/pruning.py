"""Staged rows an applied snapshot delivery makes stale: earlier deliveries' rows of the keys it delivers again."""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa

from hub.intake.ledger import Delivery
from hub.registry.declarations import Feed, FileType
from hub.store.schema import quarantine_table, staging_table
from hub.store.tables import deliveries, unchanged_rows

PRUNED = ("applied", "rejected", "failed", "skipped", "discarded", "duplicate")  # final: never applied from staging
PRUNE_SHARE = 10  # a file staged whole is pruned each time the nights after it staged another 1/10 of its rows


def prune_staged(conn: sa.Connection, feed: Feed, integration_id: str, kept: Mapping[str, Delivery]) -> int:
    """Delete the staged rows of a snapshot feed's earlier deliveries whose key `kept` (file type -> delivery just
    applied) delivers again; returns how many. Staging then holds the latest file plus the last row of each key
    that left it (when a record last arrived: dbt's stg_<feed>__student_updates), not one more file every night.
    A night staged as its changes (hub/load/changes.py) prunes the nights before it since the last file staged
    whole, and that file only each time those nights staged another 1/PRUNE_SHARE of its rows (then by the keys of
    all of them): a night's prune costs what changed, on average, not a pass over the whole file; the rows it leaves
    are older rows of keys a later night holds.
    A run re-stages what it imports from the archive; held and staged deliveries (to be approved or applied) keep
    their rows; append and delta feeds, whose applies read earlier staged rows (a score linked again, replays), and
    file types without a unique key are left alone."""
    if feed.load != "snapshot":
        return 0
    pruned = 0
    for ft in (f for f in feed.files if f.name in kept and f.unique_key):
        new = kept[ft.name]
        done = sa.select(deliveries.c.delivery_id).where(
            deliveries.c.integration_id == integration_id, deliveries.c.file_type == ft.name,
            deliveries.c.status.in_(PRUNED), deliveries.c.delivery_id != new.delivery_id)
        nights = _nights(conn, new)
        if nights is None:  # staged whole: every earlier delivery by its keys
            pruned += _prune(conn, feed, ft, done, [new.delivery_id])
            continue
        since, due = nights
        pruned += _prune(conn, feed, ft, [i for i in since if i != new.delivery_id], [new.delivery_id])
        if due:
            pruned += _prune(conn, feed, ft, done.where(deliveries.c.delivery_id.not_in(
                sa.select(unchanged_rows.c.delivery_id))), since)
    return pruned


def _prune(conn: sa.Connection, feed: Feed, ft: FileType, among: sa.Select | list[str], by: list[str]) -> int:
    """Delete the staged and set-aside rows of the deliveries `among` whose key a delivery of `by` holds."""
    if isinstance(among, list) and not among:
        return 0
    n = 0
    for t in (staging_table(feed, ft), quarantine_table(feed, ft)):
        again = sa.select(sa.literal(1)).select_from(k := staging_table(feed, ft).alias("k")).where(
            k.c.delivery_id.in_(by), k.c.delivery_id != t.c.delivery_id, *[k.c[c] == t.c[c] for c in ft.unique_key])
        n += conn.execute(sa.delete(t).where(t.c.delivery_id.in_(among), again.exists())).rowcount
    return n


def _nights(conn: sa.Connection, new: Delivery) -> tuple[list[str], bool] | None:
    """For `new` staged as its changes: the applied deliveries staged as their changes since the last one of its
    type staged whole (`new` among them), and whether that whole one is pruned now: when the rows they staged pass
    another 1/PRUNE_SHARE of its rows with `new`. None: `new` was staged whole."""
    d, u = deliveries.c, unchanged_rows.c
    same = sa.and_(d.integration_id == new.integration_id, d.file_type == new.file_type, d.status == "applied")
    if conn.execute(sa.select(u.delivery_id).where(u.delivery_id == new.delivery_id)).first() is None:
        return None
    whole = conn.execute(sa.select(d.mtime, d.row_count).where(
        same, d.mtime < new.mtime, d.delivery_id.not_in(sa.select(u.delivery_id))).order_by(d.mtime.desc())
        .limit(1)).first()
    nights = conn.execute(sa.select(d.delivery_id, sa.func.coalesce(d.row_count, 0) - u.rows).join(
        unchanged_rows, u.delivery_id == d.delivery_id).where(
        same, d.mtime <= new.mtime, *([d.mtime > whole.mtime] if whole else []))).all()
    after = sum(max(0, int(n)) for _, n in nights)
    before = after - sum(max(0, int(n)) for i, n in nights if i == new.delivery_id)
    step = max(1, int(whole.row_count or 0) // PRUNE_SHARE) if whole else 1
    return [i for i, _ in nights], after // step > before // step
