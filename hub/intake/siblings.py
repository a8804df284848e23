"""Files of one feed that belong together on a night (declared on a file type: `FileType.after`).

A file type staged after others (the Focus enrollment after its students file: its match gate reads their staged rows,
the apply reads both) runs in one run with the same night's files of those types. A delivery of it waits (status
`waiting`, the reason says for which file) while such a file of its day is on its way, or, when none was received,
for the integration's `dependency_wait_minutes` after it was received; then it runs alone. A run of one of them takes
along the other files of the night already applied, or blocked by the match gate (which they may have caused): a file
that ran alone is applied again with the other, and none stays rejected for lack of it.
"""

from __future__ import annotations

from typing import Protocol

import sqlalchemy as sa

from hub.intake.dependencies import PENDING
from hub.registry.declarations import Feed, FileType
from hub.registry.registry import Integration
from hub.store.tables import deliveries, ingest_errors


class PartitionRun(Protocol):
    """What this module reads and adds of a run to start (hub/intake/receive.py, which imports this module)."""

    file_types: set[str]
    delivery_ids: list[str]

ON_ITS_WAY = (*PENDING, "held")


def sibling_hold(conn: sa.Connection, feed: Feed, integration: Integration, file_type: str, day: str,
                 received: float, now: float, run: PartitionRun | None) -> str | None:
    """Why a delivery of `file_type` and `day`, received at `received` (epoch seconds), waits for a file of the same
    night it is staged after; None: it goes (with it, when `run` holds it)."""
    ft = next((f for f in feed.files if f.name == file_type), None)
    for other in ft.after if ft else ():
        if run is not None and other in run.file_types:
            continue
        statuses = set(conn.execute(sa.select(deliveries.c.status).where(
            deliveries.c.integration_id == integration.id, deliveries.c.file_type == other,
            deliveries.c.partition_date == day)).scalars())
        if statuses & set(ON_ITS_WAY):
            return f"waits for the {other} file of {day} (the same night's): received, not applied yet"
        if not statuses and now - received < integration.dependency_wait_minutes * 60:
            return (f"waits for the {other} file of {day} (the same night's): not received yet; runs without it "
                    f"after {integration.dependency_wait_minutes} min")
    return None


def take_along(conn: sa.Connection, feed: Feed, integration: Integration, runs: dict[str, PartitionRun]) -> int:
    """Add to each run the same night's files of the types its files go with: applied ones (imported again with it)
    and ones the match gate blocked. Returns how many were added."""
    added = 0
    for day, run in runs.items():
        for ft in feed.files:
            partners = _partners(feed, ft)
            if ft.name in run.file_types or not partners & run.file_types:
                continue
            for delivery_id in _to_take(conn, integration, ft, day):
                if delivery_id not in run.delivery_ids:
                    run.file_types.add(ft.name)
                    run.delivery_ids.append(delivery_id)
                    added += 1
    return added


def _partners(feed: Feed, ft: FileType) -> set[str]:
    """The file types a file type goes with: those it is staged after and those staged after it."""
    return set(ft.after) | {f.name for f in feed.files if ft.name in f.after}


def _to_take(conn: sa.Connection, integration: Integration, ft: FileType, day: str) -> list[str]:
    """The day's newest delivery of `ft` when it was applied or blocked by the match gate (else nothing)."""
    d = deliveries.c
    row = conn.execute(sa.select(d.delivery_id, d.status).where(
        d.integration_id == integration.id, d.file_type == ft.name, d.partition_date == day,
        d.archive_path.is_not(None), d.status.in_(("applied", "rejected", *ON_ITS_WAY)))
        .order_by(d.mtime.desc(), d.discovered_at.desc()).limit(1)).first()
    if row is None or row.status in ON_ITS_WAY:
        return []
    if row.status == "rejected" and not conn.execute(sa.select(sa.func.count()).where(
            ingest_errors.c.delivery_id == row.delivery_id, ingest_errors.c.gate == "match_rate")).scalar_one():
        return []
    return [row.delivery_id]
