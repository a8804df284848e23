"""Applying a partition's staged deliveries, with holds: the apply asset and `hub holds approve` both run these.

A day that breaks a hold rule (hub/apply/holds.py) rolls its transaction back; the hold is recorded in a transaction of
its own and the day is tried again, now without the held deliveries (a delta feed applies the days before the held
one and holds the days after it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import sqlalchemy as sa

from hub.apply import holds
from hub.apply.delta import OrderResult, apply_in_order
from hub.apply.upsert import ApplyContext, ApplyStats
from hub.intake import ledger
from hub.intake.ledger import Delivery
from hub.load.pruning import prune_staged
from hub.load.change_base import check_base
from hub.load.changes import unchanged
from hub.registry.declarations import Feed
from hub.registry.registry import Integration, Registry
from resources.warehouse import Warehouse

T = TypeVar("T")


@dataclass
class DayResult:
    """What applying one day of a snapshot or append feed did."""

    applied: dict[str, Delivery] = field(default_factory=dict)  # file type -> delivery applied
    stats: ApplyStats = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # why a staged file was not applied
    held: dict[str, str] = field(default_factory=dict)  # file type -> its delivery held for approval (hub/apply/holds.py)


def with_holds(wh: Warehouse, run_id: str, attempt: Callable[[sa.Connection], T],
               prepare: Callable[[sa.Connection], object] | None = None, lock: str | None = None,
               tries: int = 1000) -> T:
    """`attempt(conn)` in one transaction (after `prepare(conn)`, e.g. a decision; holding the integration's `lock`);
    each hold it raises is recorded and the attempt made again, until one commits."""
    for _ in range(tries):
        try:
            with wh.begin(lock=lock) as conn:
                if prepare is not None:
                    prepare(conn)
                return attempt(conn)
        except holds.HoldNeeded as hold:
            with wh.begin(lock=lock) as conn:
                holds.record(conn, hold, run_id)
    raise RuntimeError(f"more than {tries} holds in one run")


def _context(conn: sa.Connection, wh: Warehouse, registry: Registry, feed: Feed, integration: Integration,
             files: dict[str, Delivery], run_id: str) -> ApplyContext:
    return ApplyContext(conn, wh, feed, registry, integration, registry.district(integration.district), files,
                        feed.options_model.model_validate(integration.options), run_id)


def apply_day(conn: sa.Connection, wh: Warehouse, registry: Registry, feed: Feed, integration: Integration, day: str,
              reuse_latest: bool, run_id: str, reapply: dict[str, Delivery] | None = None, requested_by: str = "") -> DayResult:
    """Apply the day's staged files of a snapshot or append feed (a snapshot older than one applied is not), or
    only the archived deliveries an operator `reapply`s on purpose (audited in ops.reapplications)."""
    result = DayResult()
    for ft in feed.files:
        if reapply is not None:
            if ft.name in reapply:
                result.applied[ft.name] = reapply[ft.name]
            continue
        d = ledger.for_run(conn, integration.id, ft.name, day, reuse_latest)
        if d is not None and d.status == "held":
            result.held[ft.name] = d.delivery_id
        if d is None or d.status not in ("staged", "applied"):
            continue
        newest = ledger.newest_applied(conn, integration.id, ft.name)
        if feed.load == "snapshot" and newest and newest.mtime > d.mtime:  # final, with why: no run takes it again
            ledger.set_status(conn, [d.delivery_id], "skipped", f"superseded by {newest.file_name}, the newer file of "
                              f"{ft.name} applied before it", run_id)
            result.notes.append(f"{ft.name}: superseded by the newer delivery of {newest.partition_date}")
            continue
        result.applied[ft.name] = d
    if result.applied:
        todo = result.applied
        for d in todo.values():  # staged as its changes: still against the last applied file (hub/load/changes.py)
            check_base(conn, registry, feed, integration, d)
        result.stats = holds.checked_apply(conn, feed, integration, todo, run_id, lambda: feed.apply(
            _context(conn, wh, registry, feed, integration, todo, run_id)))
        ledger.set_status(conn, [d.delivery_id for d in todo.values()], "applied", run_id=run_id)
        if len(feed.target_tables) == 1 and feed.target_tables[0] in result.stats:  # rows not staged as unchanged
            result.stats[feed.target_tables[0]].unchanged += sum(unchanged(conn, d.delivery_id) for d in todo.values())
        prune_staged(conn, feed, integration.id, todo)
        for d in todo.values() if reapply else ():
            ledger.record_reapplication(conn, d, requested_by, run_id)
    return result


def apply_delta(conn: sa.Connection, wh: Warehouse, registry: Registry, feed: Feed, integration: Integration,
                run_id: str) -> OrderResult:
    """Apply a delta feed's pending reference files and days in order (hub/apply/delta.py), each day judged by the hold
    rules."""
    options = feed.options_model.model_validate(integration.options)

    def one_day(files: dict[str, Delivery]) -> ApplyStats:
        return holds.checked_apply(conn, feed, integration, files, run_id, lambda: feed.apply(
            _context(conn, wh, registry, feed, integration, files, run_id)))

    return apply_in_order(conn, feed, integration.id, integration.district, getattr(options, "cadence_days", 1),
                          one_day, run_id)
