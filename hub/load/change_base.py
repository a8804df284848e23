"""Which applied delivery a night may be staged as its changes against (hub/load/changes.py), and whether it still
is when the night is applied: the last applied delivery of the type, older than the night's file, on no
limited-import day, with no other file type on either day, and nothing else written to the feed's target tables
since; the fingerprint of what a staged row's apply depends on besides the file."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import sys
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa

from hub.intake.ledger import Delivery
from hub.registry.declarations import Feed, FileType
from hub.registry.registry import Integration, Registry
from hub.registry.schedule_rules import limited_reason
from hub.store.tables import deliveries, delivery_events, field_audit, unchanged_rows

CODE = ("hub/load", "hub/read", "hub/apply", "hub/store", "resources/warehouse.py")  # code a row's apply depends on
OPEN = ("staged", "held", "queued", "waiting", "applied")  # statuses of a delivery that is or may be applied


class StaleChanges(RuntimeError):
    """A delivery staged as its changes may no longer be applied so: its base is not the last applied delivery any
    more, or something else wrote the target tables since (the message names files and deliveries only)."""


def base_of(conn: sa.Connection, registry: Registry, feed: Feed, integration: Integration,
          delivery: Delivery) -> Delivery | None:
    """The applied delivery `delivery` may be staged as changes against, or None."""
    d, e = deliveries.c, delivery_events.c
    same_type = sa.and_(d.integration_id == delivery.integration_id, d.file_type == delivery.file_type)
    last = conn.execute(sa.select(deliveries, e.occurred_at).join(delivery_events, e.delivery_id == d.delivery_id)
                        .where(same_type, e.status == "applied")
                        .order_by(e.occurred_at.desc()).limit(1)).first()
    if last is None or last.status != "applied" or last.delivery_id == delivery.delivery_id \
            or last.mtime >= delivery.mtime:
        return None  # nothing applied, a re-import, an older file, or the last applied was re-imported over it
    base, applied_at = Delivery.from_row(last), last.occurred_at
    for day in (base.partition_date, delivery.partition_date):
        if limited_reason(registry, integration, dt.date.fromisoformat(day)):
            return None
    other_types = sa.select(d.delivery_id).where(
        d.integration_id == delivery.integration_id, d.file_type != delivery.file_type, d.status.in_(OPEN),
        d.partition_date.in_((base.partition_date, delivery.partition_date))).limit(1)
    if conn.execute(other_types).first() is not None:
        return None
    return None if _written_since(conn, feed, integration, delivery.file_type, applied_at) else base


def check_base(conn: sa.Connection, registry: Registry, feed: Feed, integration: Integration,
               delivery: Delivery) -> None:
    """Before `delivery` is applied: a delivery staged as its changes still has its base as the last applied
    delivery of its type, and nothing else wrote the target tables since; else StaleChanges."""
    recorded = conn.execute(sa.select(unchanged_rows.c.base_delivery_id)
                            .where(unchanged_rows.c.delivery_id == delivery.delivery_id)).scalar()
    if recorded is None:
        return
    base = base_of(conn, registry, feed, integration, delivery)
    if base is None or base.delivery_id != recorded:
        raise StaleChanges(f"{delivery.file_name} ({delivery.delivery_id}) was staged as its changes against delivery "
                           f"{recorded}, which is no longer the last applied {delivery.file_type} file of "
                           f"{integration.id} with nothing else written since: import its day again (the whole file "
                           "is staged then)")


def same_day_changes(conn: sa.Connection, delivery: Delivery) -> list[Delivery]:
    """Deliveries of the feed's other file types on `delivery`'s day staged as their changes: a day of several files
    merges them field by field, so they are staged again whole before it is applied."""
    d = deliveries.c
    rows = conn.execute(sa.select(deliveries).join(unchanged_rows, unchanged_rows.c.delivery_id == d.delivery_id).where(
        d.integration_id == delivery.integration_id, d.file_type != delivery.file_type, d.status.in_(OPEN),
        d.partition_date == delivery.partition_date))
    return [Delivery.from_row(r) for r in rows]


def _written_since(conn: sa.Connection, feed: Feed, integration: Integration, file_type: str,
                   since: dt.datetime) -> bool:
    """Whether anything but this integration's deliveries of this file type wrote the feed's target tables of its
    district since (another feed, another file type of the feed: a 504-only day, a status change by hand)."""
    a, d, e = field_audit.c, deliveries.c, delivery_events.c
    targets = a.entity.in_(feed.target_tables)
    by_hand = sa.select(a.delivery_id).where(a.delivery_id.is_(None), targets, a.district_id == integration.district,
                                             a.changed_at > since).limit(1)
    others = sa.select(d.delivery_id).join(delivery_events, e.delivery_id == d.delivery_id).where(
        d.district_id == integration.district, sa.or_(d.integration_id != integration.id, d.file_type != file_type),
        e.status == "applied", e.occurred_at > since)
    by_others = sa.select(a.delivery_id).where(a.delivery_id.in_(others), targets).limit(1)
    return conn.execute(by_hand).first() is not None or conn.execute(by_others).first() is not None


def fingerprint(registry: Registry, feed: Feed, ft: FileType, integration: Integration, state: str) -> str:
    """Digest of what a staged row's values and their apply depend on besides the file: the integration's and its
    district's registry entries, the file type's declaration, the feed's state and the code that stages and applies."""
    parts = [integration.model_dump_json(), registry.district(integration.district).model_dump_json(),
             re.sub(r" at 0x[0-9a-f]+", "", repr(ft)), state, _code(feed.apply.__module__)]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


@lru_cache(maxsize=None)
def _code(module: str) -> str:
    root = Path(__file__).resolve().parents[2]
    own = Path(sys.modules[module].__file__ or "").parent
    files = sorted(p for c in CODE for p in ((root / c).rglob("*.py") if (root / c).is_dir() else [root / c]))
    files += sorted(own.glob("*.py"))
    h = hashlib.sha256()
    for p in files:
        h.update(p.read_bytes())
    return h.hexdigest()
