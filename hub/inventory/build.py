"""The integration inventory: the registry (who, what, when, where, why, how) joined with the delivery ledger.

One row per integration with the NERIC inventory columns and the DIG's "why" (purpose, data-sharing agreement),
plus what the hub knows from ops.deliveries. The district contact is shown by role only: the inventory names no
person, student or e-mail address.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa

from hub.registry.declarations import Feed
from hub.registry.registry import Integration, Registry
from hub.store.schema import staging_table_name
from hub.store.tables import deliveries
from resources.warehouse import Warehouse

DEFAULT_STALE_DAYS = 30
SUCCESS = ("staged", "applied")
COLUMNS = ("Source", "Destination", "District Contact", "Method", "Filtering", "Path", "Timing", "Start Date",
           "Ticket Number", "Local Location", "Notes", "Integration", "District", "Feed", "Enabled",
           "Last Successful Delivery", "Rows In It", "Days Since Last File", "Data Elements", "Why",
           "Data Sharing Agreement", "Rejected Today", "Disable Candidate")


@dataclass(frozen=True)
class Activity:
    """What the ledger knows about one integration."""

    last_file_at: dt.datetime | None = None
    last_success_at: dt.datetime | None = None
    last_success_id: str | None = None
    rows: int | None = None  # of the last successful day's main file (Feed.main_file_type), else its newest file
    rejected_today: int = 0  # files blocked today (UTC)


@dataclass(frozen=True)
class InventoryRow:
    integration: Integration
    district_name: str
    feed_title: str
    elements: tuple[str, ...]
    activity: Activity
    days_since_last_file: int | None
    disable_candidate: bool

    def method(self) -> str:
        return "SFTP" if self.integration.transport.kind == "sftp" else "Hub drop folder"

    def path(self) -> str:
        return f"{self.integration.source} > {self.method()} > hub ({self.feed_title}) > {self.integration.destination}"

    def cells(self) -> dict[str, str]:
        i, a = self.integration, self.activity
        return dict(zip(COLUMNS, (
            i.source, i.destination, i.contact.role, self.method(), i.filtering, self.path(), i.timing,
            i.start_date.isoformat(), i.ticket, i.local_location, i.notes, i.id, self.district_name, i.feed,
            "yes" if i.enabled else "no",
            a.last_success_at.isoformat(sep=" ", timespec="minutes") if a.last_success_at else "",
            "" if a.rows is None else str(a.rows),
            "" if self.days_since_last_file is None else str(self.days_since_last_file),
            "; ".join(self.elements), i.purpose, i.agreement, str(a.rejected_today) if a.rejected_today else "",
            "yes" if self.disable_candidate else "")))


def build_inventory(registry: Registry, feeds: Mapping[str, Feed], warehouse: Warehouse | None = None, *,
                    stale_days: int = DEFAULT_STALE_DAYS, today: dt.date | None = None) -> list[InventoryRow]:
    """Every integration of the registry (disabled ones too), ordered by district and id."""
    today = today or dt.date.today()
    activity = _activity(warehouse, registry, feeds) if warehouse else {}
    rows = []
    for i in sorted(registry.integrations, key=lambda x: (x.district, x.id)):
        a = activity.get(i.id, Activity())
        since = (today - a.last_file_at.date()).days if a.last_file_at else None
        # No file for N days (or none since a start date N days ago): a candidate to disable.
        quiet = since if since is not None else (today - i.start_date).days
        feed = feeds.get(i.feed)
        rows.append(InventoryRow(i, registry.district(i.district).name, feed.title if feed else i.feed,
                                 feed.elements() if feed else (), a, since, i.enabled and quiet > stale_days))
    return rows


def _activity(warehouse: Warehouse, registry: Registry, feeds: Mapping[str, Feed]) -> dict[str, Activity]:
    """Last file, last successful delivery (the newest successful day's main file) and today's rejections per
    integration."""
    with warehouse.begin() as conn:
        if not sa.inspect(conn).has_table("deliveries", schema="ops"):
            return {}
        d = deliveries.c
        last_file = dict(conn.execute(sa.select(d.integration_id, sa.func.max(d.mtime)).group_by(d.integration_id)).all())
        midnight = dt.datetime.combine(dt.datetime.now(dt.timezone.utc).date(), dt.time())
        rejected = dict(conn.execute(sa.select(d.integration_id, sa.func.count()).where(
            d.status == "rejected", d.updated_at >= midnight).group_by(d.integration_id)).all())
        newest_day = sa.select(d.integration_id, sa.func.max(d.partition_date).label("day")).where(
            d.status.in_(SUCCESS)).group_by(d.integration_id).subquery()
        candidates = conn.execute(sa.select(d.integration_id, d.delivery_id, d.mtime, d.feed, d.file_type, d.row_count)
                                  .join(newest_day, sa.and_(newest_day.c.integration_id == d.integration_id,
                                                            newest_day.c.day == d.partition_date))
                                  .where(d.status.in_(SUCCESS))).all()
        best: dict[str, tuple[tuple[bool, dt.datetime], sa.Row]] = {}
        for c in candidates:  # the main file first (a SIRAS day's demographics, not its 504 file), then the newest
            feed = feeds.get(c.feed)
            rank = (feed is not None and feed.main_file_type() == c.file_type, c.mtime)
            if c.integration_id not in best or rank > best[c.integration_id][0]:
                best[c.integration_id] = (rank, c)
        out = {}
        for iid, (_, c) in best.items():
            rows = c.row_count if c.row_count is not None else _rows(conn, feeds.get(c.feed), c.delivery_id)
            out[iid] = Activity(last_file.get(iid), c.mtime, c.delivery_id, rows, rejected.get(iid, 0))
        for iid, mtime in last_file.items():
            out.setdefault(iid, Activity(last_file_at=mtime, rejected_today=rejected.get(iid, 0)))
    return out


def _rows(conn: sa.Connection, feed: Feed | None, delivery_id: str) -> int | None:
    """Rows the delivery staged (it is in exactly one file type's staging table): deliveries staged before the
    ledger kept row_count."""
    if feed is None:
        return None
    inspector = sa.inspect(conn)
    total = 0
    for ft in feed.files:
        schema, table = staging_table_name(feed, ft).split(".")
        if inspector.has_table(table, schema=schema):
            total += conn.execute(sa.text(f"SELECT count(*) FROM {schema}.{table} WHERE delivery_id = :d"),
                                  {"d": delivery_id}).scalar_one()
    return total
