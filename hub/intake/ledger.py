"""The delivery ledger (ops.deliveries) and the ingest error log (ops.ingest_errors)."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Self

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert  # DuckDB's dialect compiles it too

from hub.store.statuses import FINAL, STATUSES, rank
from hub.store.tables import deliveries, delivery_events, ingest_errors, reapplications
from resources.transport import printable

log = logging.getLogger("hub.intake.ledger")

# statuses that mean "this delivery's bytes are the ones to import for its partition"
IMPORTABLE = ("waiting", "queued", "staged", "held", "rejected", "applied")
_CAS_ROUNDS = 5  # a delivery another transaction keeps moving while set_status judges it is left as that one set it


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def delivery_id(integration_id: str, remote_path: str, size: int, mtime: float, rewritten: str = "") -> str:
    """Stable id of one observed version of a remote file (its path as the ledger shows it: hostile names too);
    `rewritten`: the content hash of new bytes under an unchanged name, size and mtime."""
    raw = f"{integration_id}\x00{printable(remote_path)}\x00{size}\x00{mtime:.3f}"
    raw += f"\x00{rewritten}" if rewritten else ""
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    integration_id: str
    district_id: str
    feed: str
    file_type: str
    file_name: str
    sha256: str | None
    archive_path: str | None
    partition_date: str
    status: str
    mtime: dt.datetime

    @classmethod
    def from_row(cls, row: sa.Row) -> Self:
        m = row._mapping
        return cls(**{f: m[f] for f in cls.__dataclass_fields__})


def get(conn: sa.Connection, did: str) -> Delivery | None:
    row = conn.execute(sa.select(deliveries).where(deliveries.c.delivery_id == did)).first()
    return Delivery.from_row(row) if row else None


def hashes(conn: sa.Connection, dids: list[str]) -> dict[str, str | None]:
    """Delivery id -> content hash (None for a file refused before it was received) of those of `dids` recorded."""
    rows = conn.execute(sa.select(deliveries.c.delivery_id, deliveries.c.sha256)
                        .where(deliveries.c.delivery_id.in_(dids)))
    return {did: sha for did, sha in rows}


def find_same_bytes(conn: sa.Connection, integration_id: str, file_type: str, sha256: str,
                    day: str | None = None) -> Delivery | None:
    """An earlier delivery of this integration and file type with identical bytes (only on partition `day` when
    given)."""
    query = sa.select(deliveries).where(deliveries.c.integration_id == integration_id, deliveries.c.sha256 == sha256,
                                        deliveries.c.file_type == file_type, deliveries.c.status.in_(IMPORTABLE))
    if day is not None:
        query = query.where(deliveries.c.partition_date == day)
    row = conn.execute(query.order_by(deliveries.c.discovered_at).limit(1)).first()
    return Delivery.from_row(row) if row else None


def record(conn: sa.Connection, **values: object) -> bool:
    """A newly seen delivery, with its first status (and that status in its history). False when the ledger has it
    already (a tick racing on the same file recorded it first): then nothing is written."""
    _check(str(values["status"]))
    now = utcnow()
    added = conn.execute(pg_insert(deliveries).values(discovered_at=now, updated_at=now, **values)
                         .on_conflict_do_nothing(index_elements=[deliveries.c.delivery_id])
                         .returning(deliveries.c.delivery_id)).first()
    if added:
        _events(conn, [str(values["delivery_id"])], str(values["status"]), values.get("reason"), values.get("run_id"),
                now)
    return added is not None


def set_status(conn: sa.Connection, dids: list[str], status: str, reason: str | None = None,
               run_id: str | None = None, *, back_from: Collection[str] = ()) -> list[str]:
    """Move deliveries to `status`; returns the ids that moved. Status only moves forward along the path (a re-import
    of an applied delivery stays applied), except to leave a final state other than applied for a new outcome
    (a re-imported rejected file can be staged) or back from one of `back_from` (a replay that removed a day's rows,
    a retry of a delivery a run left behind). Each row moves only from the status it was decided on (compare and
    set): a transaction that moved it meanwhile (a run applying it while a sensor tick retries it) is not overwritten;
    its new status is judged again. Every call is written to the delivery's history (ops.delivery_events), moved or
    not."""
    _check(status)
    if not dids:
        return []
    now = utcnow()
    moved: list[str] = []
    seen: set[str] = set()
    todo = list(dids)
    for _ in range(_CAS_ROUNDS):
        current = dict(conn.execute(sa.select(deliveries.c.delivery_id, deliveries.c.status)
                                    .where(deliveries.c.delivery_id.in_(todo))).all())
        seen |= set(current)
        todo = []
        for old in sorted(set(current.values())):
            ids = [d for d, s in current.items() if s == old]
            if old not in back_from and not _may_move(old, status):
                continue
            done = set(conn.execute(sa.update(deliveries)
                                    .where(deliveries.c.delivery_id.in_(ids), deliveries.c.status == old)
                                    .values(status=status, reason=reason, run_id=run_id, updated_at=now)
                                    .returning(deliveries.c.delivery_id)).scalars())
            moved += [d for d in ids if d in done]
            todo += [d for d in ids if d not in done]  # moved by another transaction since it was read
        if not todo:
            break
    _events(conn, [d for d in dict.fromkeys(dids) if d in seen], status, reason, run_id, now, moved=set(moved))
    return moved


def record_rows(conn: sa.Connection, did: str, rows: int) -> None:
    """The rows read from the delivery's file when it was staged (every feed's delivery health reads them)."""
    conn.execute(sa.update(deliveries).where(deliveries.c.delivery_id == did).values(row_count=rows))


def _may_move(old: str, new: str) -> bool:
    if old == new or rank(new) > rank(old):
        return True
    return old in FINAL and old != "applied" and new in {"staged", "held"} | FINAL  # a new outcome of a re-import


def _check(status: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"unknown delivery status {status!r} (known: {', '.join(STATUSES)})")


def _events(conn: sa.Connection, dids: list[str], status: str, reason: object, run_id: object, at: dt.datetime,
            moved: set[str] | None = None) -> None:
    conn.execute(sa.insert(delivery_events), [
        {"delivery_id": d, "status": status, "reason": reason, "run_id": run_id, "occurred_at": at,
         "moved": moved is None or d in moved} for d in dids])


def history(conn: sa.Connection, did: str) -> list[sa.Row]:
    """A delivery's history, oldest first: (status, reason, run_id, occurred_at, moved)."""
    return conn.execute(sa.select(delivery_events.c.status, delivery_events.c.reason, delivery_events.c.run_id,
                                  delivery_events.c.occurred_at, delivery_events.c.moved)
                        .where(delivery_events.c.delivery_id == did).order_by(delivery_events.c.occurred_at)).all()


def latest_for_partition(conn: sa.Connection, integration_id: str, file_type: str, day: str,
                         statuses: tuple[str, ...] = IMPORTABLE) -> Delivery | None:
    """The newest delivery of a file type for one partition day (full files: newest wins); a file refused before it
    was received (no archived bytes, e.g. a name the hub cannot keep) is never one."""
    row = conn.execute(
        sa.select(deliveries)
        .where(deliveries.c.integration_id == integration_id, deliveries.c.file_type == file_type,
               deliveries.c.partition_date == day, deliveries.c.status.in_(statuses),
               deliveries.c.archive_path.is_not(None))
        .order_by(deliveries.c.mtime.desc(), deliveries.c.discovered_at.desc()).limit(1)
    ).first()
    return Delivery.from_row(row) if row else None


def for_run(conn: sa.Connection, integration_id: str, file_type: str, day: str, reuse_latest: bool) -> Delivery | None:
    """The delivery a run of partition `day` imports: that day's newest file; with `reuse_latest`, when the day has
    none, the newest file applied or staged on an earlier day (Focus's "reuse the files last downloaded")."""
    delivery = latest_for_partition(conn, integration_id, file_type, day)
    if delivery is not None or not reuse_latest:
        return delivery
    row = conn.execute(
        sa.select(deliveries)
        .where(deliveries.c.integration_id == integration_id, deliveries.c.file_type == file_type,
               deliveries.c.partition_date < day, deliveries.c.status.in_(("staged", "applied")))
        .order_by(deliveries.c.partition_date.desc(), deliveries.c.mtime.desc()).limit(1)
    ).first()
    return Delivery.from_row(row) if row else None


def supersede_same_day(conn: sa.Connection, kept: Delivery) -> list[str]:
    """Files of `kept`'s type and day that wait while a newer one is processed: recorded as skipped, with the reason
    (the newest file of a day is its delivery). Returns their file names."""
    older = sa.and_(deliveries.c.integration_id == kept.integration_id, deliveries.c.file_type == kept.file_type,
                    deliveries.c.partition_date == kept.partition_date, deliveries.c.delivery_id != kept.delivery_id,
                    deliveries.c.status.in_(("queued", "waiting")), deliveries.c.mtime <= kept.mtime)
    rows = conn.execute(sa.select(deliveries.c.delivery_id, deliveries.c.file_name).where(older)).all()
    set_status(conn, [r.delivery_id for r in rows], "skipped",
               f"superseded by {kept.file_name}, a newer file of the same type and day")
    return [r.file_name for r in rows]


def earlier_same_day(conn: sa.Connection, kept: Delivery) -> list[Delivery]:
    """Reference files: the other versions of `kept`'s type and day still to import, in the order received (each
    applies, as received; none supersedes another)."""
    rows = conn.execute(sa.select(deliveries).where(
        deliveries.c.integration_id == kept.integration_id, deliveries.c.file_type == kept.file_type,
        deliveries.c.partition_date == kept.partition_date, deliveries.c.delivery_id != kept.delivery_id,
        deliveries.c.status.in_(("queued", "waiting"))).order_by(deliveries.c.discovered_at, deliveries.c.mtime))
    return [Delivery.from_row(r) for r in rows]


def log_ingest_error(conn: sa.Connection, *, integration_id: str, district_id: str, file_name: str, gate: str,
                     reason: str, delivery_id: str | None = None, run_id: str | None = None) -> None:
    """Record a blocked file: file name, district, timestamp and reason (no student data in `reason`)."""
    now = utcnow()
    conn.execute(sa.insert(ingest_errors).values(
        delivery_id=delivery_id, integration_id=integration_id, district_id=district_id, file_name=file_name,
        gate=gate, reason=reason, run_id=run_id, occurred_at=now))
    log.warning("ingest blocked: file=%s district=%s gate=%s at=%s reason=%s",
                file_name, district_id, gate, now.isoformat(timespec="seconds"), reason)


def received(conn: sa.Connection, did: str) -> tuple[dt.datetime, str | None]:
    """When the delivery was first received (naive UTC), and the reason of its status."""
    row = conn.execute(sa.select(deliveries.c.discovered_at, deliveries.c.reason)
                       .where(deliveries.c.delivery_id == did)).one()
    return row.discovered_at, row.reason


def with_status(conn: sa.Connection, integration_id: str, status: str) -> list[Delivery]:
    """An integration's deliveries in one status, oldest modification first."""
    rows = conn.execute(sa.select(deliveries).where(deliveries.c.integration_id == integration_id,
                                                    deliveries.c.status == status).order_by(deliveries.c.mtime))
    return [Delivery.from_row(r) for r in rows]


def open_statuses(conn: sa.Connection, feed: str, statuses: tuple[str, ...]) -> dict[str, set[str]]:
    """Integration id -> which of `statuses` its deliveries of `feed` are in (integrations with none are left out):
    one query where a sensor tick would otherwise ask once per integration."""
    rows = conn.execute(sa.select(deliveries.c.integration_id, deliveries.c.status).distinct()
                        .where(deliveries.c.feed == feed, deliveries.c.status.in_(statuses)))
    out: dict[str, set[str]] = {}
    for integration_id, status in rows:
        out.setdefault(integration_id, set()).add(status)
    return out


def newest_applied(conn: sa.Connection, integration_id: str, file_type: str) -> Delivery | None:
    """The most recently modified delivery of a file type that was applied."""
    row = conn.execute(
        sa.select(deliveries)
        .where(deliveries.c.integration_id == integration_id, deliveries.c.file_type == file_type,
               deliveries.c.status == "applied")
        .order_by(deliveries.c.mtime.desc()).limit(1)
    ).first()
    return Delivery.from_row(row) if row else None


def last_processed_at(conn: sa.Connection, integration_id: str, file_type: str) -> dt.datetime | None:
    """When a file type was last processed (the SIRAS spec's "most recent log"): the latest time one of its deliveries
    was applied, re-imports included (naive UTC)."""
    return conn.execute(
        sa.select(sa.func.max(delivery_events.c.occurred_at))
        .select_from(deliveries.join(delivery_events, delivery_events.c.delivery_id == deliveries.c.delivery_id))
        .where(deliveries.c.integration_id == integration_id, deliveries.c.file_type == file_type,
               delivery_events.c.status == "applied", delivery_events.c.moved)
    ).scalar()


class ReapplyError(ValueError):
    """A re-apply request that cannot be carried out (the message says why; ids and names of files only)."""


def reapply_target(conn: sa.Connection, delivery_id: str, requested_by: str | None, integration_id: str,
                   day: str) -> Delivery:
    """The archived delivery an operator asked to re-apply in a run of `integration_id` and `day`, checked."""
    if not (requested_by or "").strip():
        raise ReapplyError(f"re-applying delivery {delivery_id} needs requested_by: who asks (kept in the audit)")
    d = get(conn, delivery_id)
    if d is None or d.integration_id != integration_id:
        raise ReapplyError(f"delivery {delivery_id} is not a delivery of integration {integration_id}")
    if d.partition_date != day:
        raise ReapplyError(f"delivery {delivery_id} belongs to {d.partition_date}: re-apply it in that partition")
    if not d.archive_path:
        raise ReapplyError(f"delivery {delivery_id} ({d.file_name}) has no archived file to re-apply")
    return d


def record_reapplication(conn: sa.Connection, d: Delivery, requested_by: str, run_id: str) -> None:
    """Audit a re-apply on purpose: ops.reapplications and the delivery's history."""
    conn.execute(sa.insert(reapplications).values(
        delivery_id=d.delivery_id, integration_id=d.integration_id, district_id=d.district_id,
        file_type=d.file_type, requested_by=requested_by, run_id=run_id, applied_at=utcnow()))
    set_status(conn, [d.delivery_id], "applied", f"re-applied on purpose by {requested_by}", run_id)
