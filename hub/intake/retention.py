"""Archive retention: `retention_days` per integration. Archived files of older delivery days are removed with the
reports beside them (import logs, row-error CSVs) and their staged rows; each purge is recorded in ops.archive_purges,
and a later re-import or re-apply of a purged delivery fails, saying so."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from hub.intake.ledger import Delivery, utcnow
from hub.registry.declarations import Feed
from hub.registry.registry import Registry
from hub.store.schema import quarantine_table, staging_table
from hub.store.tables import archive_purges, deliveries
from resources.archive import beside, remove
from resources.warehouse import Warehouse


@dataclass(frozen=True)
class Purged:
    delivery: Delivery
    retention_days: int
    files: int


def purge_archive(warehouse: Warehouse, registry: Registry, feeds: dict[str, Feed], today: dt.date, by: str,
                  dry_run: bool = False) -> list[Purged]:
    """Remove what retention no longer keeps: for each integration with `retention_days`, its deliveries of days
    before today - retention_days that still have an archived file."""
    done: list[Purged] = []
    for integration in (i for i in registry.integrations if i.retention_days):
        cutoff = (today - dt.timedelta(days=integration.retention_days)).isoformat()
        with warehouse.begin(lock=integration.id) as conn:  # not while a run of the integration stages a file
            due = [Delivery.from_row(r) for r in conn.execute(
                sa.select(deliveries).where(
                    deliveries.c.integration_id == integration.id, deliveries.c.partition_date < cutoff,
                    deliveries.c.archive_path.is_not(None),
                    deliveries.c.delivery_id.not_in(sa.select(archive_purges.c.delivery_id)))
                .order_by(deliveries.c.partition_date, deliveries.c.delivery_id))]
            for d in due:
                files = [d.archive_path, *beside(f"{d.archive_path}.")]
                done.append(Purged(d, integration.retention_days, len(files)))
                if dry_run:
                    continue
                _drop_staged(conn, feeds, d)
                conn.execute(sa.insert(archive_purges).values(
                    delivery_id=d.delivery_id, integration_id=d.integration_id, partition_date=d.partition_date,
                    retention_days=integration.retention_days, files=len(files), purged_at=utcnow(), purged_by=by))
                for location in files:  # recorded first: a purge that stops half way is still refused on re-import
                    remove(location)
    return done


def _drop_staged(conn: sa.Connection, feeds: dict[str, Feed], d: Delivery) -> None:
    """The delivery's rows in its staging and quarantine tables (a copy of the file's values)."""
    feed = feeds.get(d.feed)
    for ft in (f for f in (feed.files if feed else ()) if f.name == d.file_type):
        for table in (staging_table(feed, ft), quarantine_table(feed, ft)):
            conn.execute(sa.delete(table).where(table.c.delivery_id == d.delivery_id))


def purged_reason(conn: sa.Connection, d: Delivery) -> str | None:
    """Why a delivery cannot be imported again (its archived file was purged), or None."""
    row = conn.execute(sa.select(archive_purges).where(archive_purges.c.delivery_id == d.delivery_id)).first()
    if row is None:
        return None
    return (f"{d.file_name} (delivery {d.delivery_id}, {d.partition_date}) cannot be imported again: its archived "
            f"file was purged on {row.purged_at:%Y-%m-%d} under the integration's retention_days ({row.retention_days})"
            f"; ask the district to send the file again")


def summary(purged: Iterable[Purged], dry_run: bool) -> list[str]:
    """One line per integration: deliveries and archived files removed (or that would be)."""
    per: dict[str, list[Purged]] = {}
    for p in purged:
        per.setdefault(p.delivery.integration_id, []).append(p)
    verb = "would purge" if dry_run else "purged"
    return [f"{i}: {verb} {len(ps)} deliveries ({sum(p.files for p in ps)} archived files) older than "
            f"{ps[0].retention_days} days" for i, ps in sorted(per.items())]
