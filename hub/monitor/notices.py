"""What the hub tells people, read from the delivery ledger: a blocked file, a held delivery, a run that failed
after its retries, a late integration. Each notice has a key that names its event, so it is sent once.

Messages hold counts, file names, reasons and where to look; never a student value (reasons in the ledger and in
ops.ingest_errors are written without values). To add a detail to a kind of message, append a function to
DETAILS[kind]: it gets the open transaction and the delivery and returns lines.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa

from hub.intake.ledger import Delivery
from hub.monitor.freshness import Freshness, check_name
from hub.registry.declarations import Feed
from hub.registry.registry import Registry
from hub.store.tables import deliveries, delivery_events, ingest_errors, row_errors
from resources.archive import beside


@dataclass(frozen=True)
class Notice:
    """One message about one event, ready for any channel."""

    key: str  # names the event: the hub sends a notice once per key and recipient
    kind: str  # blocked | held | failed | stale | digest
    district_id: str
    integration_id: str | None
    delivery_id: str | None
    subject: str
    lines: tuple[str, ...]
    facts: dict[str, object] = field(default_factory=dict)  # the same facts, structured (webhook payload)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


@dataclass(frozen=True)
class DeliveryEvent(Delivery):
    """A delivery in the state a notice is about (a row of ops.deliveries): the ledger's Delivery with the reason
    for its status and the run that set it."""

    reason: str | None
    run_id: str | None


KIND_OF = {"rejected": "blocked", "held": "held", "failed": "failed"}  # ledger status -> notice kind
TITLE = {"blocked": "File blocked", "held": "Delivery held for approval", "failed": "Import failed after its retries"}
NEXT_STEP = {
    "blocked": "Nothing was applied. Correct the file and upload it again: a new file starts a new import.",
    "held": "Nothing was applied. It waits until a person approves or discards it.",
    "failed": "Nothing was applied. The hub retried it; see the run in the Dagster UI, then materialize the partition "
              "again once the cause is fixed.",
}

Detail = Callable[[sa.Connection, DeliveryEvent], list[str]]


def gate_reasons(conn: sa.Connection, event: DeliveryEvent) -> list[str]:
    """Why: the gates that blocked it (ops.ingest_errors), else the ledger's reason."""
    e = ingest_errors.c
    rows = conn.execute(sa.select(e.gate, e.reason).where(e.delivery_id == event.delivery_id).distinct()
                        .order_by(e.gate, e.reason)).all()
    reasons = [f"Why: {gate} gate: {reason}" for gate, reason in rows]
    return reasons or ([f"Why: {event.reason}"] if event.reason else [])


def row_error_counts(conn: sa.Connection, event: DeliveryEvent) -> list[str]:
    """Counts of row errors, and where the full list is."""
    r = row_errors.c
    errors, rows = conn.execute(sa.select(sa.func.count(), sa.func.count(sa.distinct(r.row_number)))
                                .where(r.delivery_id == event.delivery_id)).one()
    if not errors:
        return []
    return [f"Row errors: {errors} in {rows} row(s)",
            f"Row errors (row, line, column, rule) are listed in ops.row_errors where delivery_id = '{event.delivery_id}'"]


def files_beside_archive(conn: sa.Connection, event: DeliveryEvent) -> list[str]:
    """The reports its last run wrote beside the archived file (the import log; row-error files too)."""
    if not (event.archive_path and event.run_id):
        return []
    return [f"Report: {p}" for p in beside(f"{event.archive_path}.{event.run_id[:8]}.")]


def reason_line(conn: sa.Connection, event: DeliveryEvent) -> list[str]:
    return [f"Why: {event.reason}"] if event.reason else []


def hold_preview(conn: sa.Connection, event: DeliveryEvent) -> list[str]:
    """What the held delivery would change (counts per table and field, the mapping of a first file), and how to
    decide."""
    from hub.apply import holds  # its apply side reads files (pandas, pyarrow): not loaded with the sensors

    row = holds.hold_of(conn, event.delivery_id)
    if row is None:
        return []
    return [*holds.preview_lines(json.loads(row.preview)),
            f"Decide: hub holds approve {event.delivery_id} --by NAME (or hub holds discard), or materialize the "
            "partition's apply asset in the Dagster UI with decision, delivery_id and by in its run config."]


DETAILS: dict[str, list[Detail]] = {
    "blocked": [gate_reasons, row_error_counts, files_beside_archive],
    "held": [reason_line, hold_preview, files_beside_archive],
    "failed": [reason_line, files_beside_archive],
}


def delivery_notices(conn: sa.Connection, registry: Registry, feeds: Mapping[str, Feed],
                     since: dt.datetime) -> list[Notice]:
    """A notice for each delivery that became rejected, held or failed since `since` (naive UTC) and still is."""
    d, e = deliveries.c, delivery_events.c
    moved = sa.exists().where(e.delivery_id == d.delivery_id, e.status == d.status, e.moved, e.occurred_at >= since)
    rows = conn.execute(sa.select(deliveries).where(d.status.in_(tuple(KIND_OF)), moved)
                        .order_by(d.discovered_at)).all()
    known = {i.id for i in registry.integrations}
    return [_delivery_notice(conn, registry, feeds, DeliveryEvent.from_row(row)) for row in rows
            if row.integration_id in known]


def _delivery_notice(conn: sa.Connection, registry: Registry, feeds: Mapping[str, Feed],
                     event: DeliveryEvent) -> Notice:
    kind = KIND_OF[event.status]
    district = registry.district(event.district_id).name
    feed = feeds[event.feed].title if event.feed in feeds else event.feed
    lines = [f"{TITLE[kind]}: {event.file_name}", f"District: {district}", f"Integration: {event.integration_id} ({feed})",
             f"File type: {event.file_type}; delivered on {event.partition_date}; delivery {event.delivery_id}"]
    for detail in DETAILS[kind]:
        lines += detail(conn, event)
    lines.append(NEXT_STEP[kind])
    facts = {"event": kind, "district": event.district_id, "integration": event.integration_id,
             "delivery": event.delivery_id, "file": event.file_name, "file_type": event.file_type,
             "delivered_on": event.partition_date, "status": event.status}
    return Notice(f"{kind}:{event.delivery_id}", kind, event.district_id, event.integration_id, event.delivery_id,
                  f"[{district}] {TITLE[kind]}: {event.file_name} ({feed})", tuple(lines), facts)


def stale_notices(registry: Registry, feeds: Mapping[str, Feed], states: list[Freshness]) -> list[Notice]:
    """A notice per late integration, once per lateness (a new delivery ends it)."""
    out = []
    for f in (s for s in states if s.late):
        integration = next(i for i in registry.integrations if i.id == f.integration_id)
        district = registry.district(f.district_id).name
        feed = feeds.get(integration.feed)
        where = f"{feed.name}/{feed.apply_asset}" if feed else integration.feed
        since = f.last_delivery.isoformat(timespec="seconds") if f.last_delivery else "never"
        lines = (f"No delivery within the expected cadence: {integration.id}", f"District: {district}",
                 f"Source: {integration.source}", f"Cadence: {f.cadence}", f"Status: {f.reason}",
                 f"The Dagster UI shows it as the failed check {check_name(integration)} on {where}.",
                 "Ask the source to deliver, or pause the integration in the registry (blackouts, pause).")
        out.append(Notice(f"stale:{integration.id}:{since}", "stale", f.district_id, integration.id, None,
                          f"[{district}] Integration late: {integration.id} ({f.cadence})", lines,
                          {"event": "stale", "district": f.district_id, "integration": integration.id,
                           "cadence": f.cadence, "last_delivery": since}))
    return out
