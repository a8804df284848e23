"""Delta feeds: apply delivery days in date order per integration, hold days after a gap, replay on re-import.

Rules (docs/feeds/edreflect.md):
- A delivery day is applied only when every earlier day is applied; days apply oldest first.
- "Missing" means a gap: a day more than `cadence_days` after the previous delivery day. The later day (and every day
  after it) is held with a reason naming the first missing day. A day whose files are not all staged (queued or
  rejected) also holds the days after it.
- A new delivery for a day that is already applied or older than an applied day (a re-import or late arrival)
  empties the integration's rows in the target tables and replays every day in order, so the result always equals
  applying all deliveries once in order. A re-upload replaces its file type of that day; a day's other files stay.
- A day held for a person's approval (hub/apply/holds.py) holds the days after it, as a gap does; a discarded day
  counts as delivered (the days after it proceed) and is never applied.
- File types declared `load="reference"` (reference data such as a crosswalk) are outside the day order: each
  delivery applies on its own as soon as it is staged, before the days; they never hold a day, are never held and
  never start a replay. A replay re-applies them (in the order received) before the days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa

from hub.apply.upsert import ApplyStats, TableStats
from hub.intake import ledger
from hub.registry.declarations import Feed
from hub.store.statuses import HELD
from hub.store.tables import deliveries

DONE = ("applied", "discarded")  # a day of these needs nothing more


@dataclass
class OrderResult:
    """What one ordering pass did."""

    applied_days: list[str] = field(default_factory=list)
    held: dict[str, str] = field(default_factory=dict)  # day -> reason
    replayed: bool = False
    stats: ApplyStats = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)  # reference files applied (outside the day order)


def _days(conn: sa.Connection, integration_id: str,
          reference: frozenset[str]) -> tuple[dict[str, dict[str, ledger.Delivery]], set[str]]:
    """Per delivery day, the newest importable delivery of each dated file type; and the days with any applied one."""
    rows = conn.execute(sa.select(deliveries).where(
        deliveries.c.integration_id == integration_id, deliveries.c.status.in_((*ledger.IMPORTABLE, "discarded")),
        deliveries.c.file_type.not_in(reference) if reference else sa.true())
        .order_by(deliveries.c.discovered_at, deliveries.c.mtime)).all()  # as received: never by mtime
    days: dict[str, dict[str, ledger.Delivery]] = {}
    applied: set[str] = set()
    for row in rows:
        d = ledger.Delivery.from_row(row)
        if d.status == "applied":
            applied.add(d.partition_date)
        files = days.setdefault(d.partition_date, {})
        kept = files.get(d.file_type)
        if d.status in ("rejected", "discarded") and kept is not None and kept.status in ("staged", "applied"):
            continue  # a rejected re-upload leaves the day's good version in place
        files[d.file_type] = d  # otherwise the version received last wins
    return dict(sorted(days.items())), applied


def _references(conn: sa.Connection, integration_id: str, reference: frozenset[str]) -> list[ledger.Delivery]:
    """The staged and applied deliveries of reference file types, in the order they were received."""
    if not reference:
        return []
    rows = conn.execute(sa.select(deliveries).where(
        deliveries.c.integration_id == integration_id, deliveries.c.file_type.in_(reference),
        deliveries.c.status.in_(("staged", "applied"))).order_by(deliveries.c.discovered_at, deliveries.c.mtime))
    return [ledger.Delivery.from_row(r) for r in rows]


def _merge(total: ApplyStats, stats: ApplyStats) -> None:
    for table, s in stats.items():
        t = total.setdefault(table, TableStats())
        t.inserted += s.inserted
        t.updated += s.updated
        t.deleted += s.deleted
        t.seconds += s.seconds
        for k, v in s.skipped.items():
            t.skipped[k] = t.skipped.get(k, 0) + v


def apply_in_order(conn: sa.Connection, feed: Feed, integration_id: str, district_id: str, cadence_days: int,
                   apply_day: Callable[[dict[str, ledger.Delivery]], ApplyStats], run_id: str) -> OrderResult:
    """Apply pending reference deliveries, then every pending day that may be applied now, in order, inside the
    caller's transaction."""
    reference = feed.reference_types()
    days, applied = _days(conn, integration_id, reference)
    references = _references(conn, integration_id, reference)
    result = OrderResult()
    pending = [day for day, files in days.items() if any(d.status not in DONE for d in files.values())]
    result.replayed = bool(pending) and any(day >= pending[0] for day in applied)  # a re-import or late day
    if result.replayed:
        for table in feed.target_tables:
            conn.execute(sa.text(f"DELETE FROM {table} WHERE district_id = :d"), {"d": district_id})
    for d in references:
        if result.replayed or d.status != "applied":  # each reference delivery on its own, as received
            _merge(result.stats, apply_day({d.file_type: d}))
            ledger.set_status(conn, [d.delivery_id], "applied", run_id=run_id)
            result.references.append(d.file_name)
    if not pending:
        return result
    previous: str | None = None
    hold: str | None = None
    for day, files in days.items():
        if hold is None and previous is not None:
            gap = (dt.date.fromisoformat(day) - dt.date.fromisoformat(previous)).days
            if gap > cadence_days:
                first_missing = dt.date.fromisoformat(previous) + dt.timedelta(days=1)
                hold = f"{HELD}the delivery of {first_missing.isoformat()} is missing"
        if hold is None and any(d.status == "held" for d in files.values()):
            hold = f"{HELD}the delivery of {day} is held for approval"
            result.held[day] = hold
            previous = day
            continue
        if hold is None and any(d.status not in ("staged", *DONE) for d in files.values()):
            hold = f"{HELD}the delivery of {day} is not staged yet (or was rejected)"
            result.held[day] = hold
            previous = day
            continue
        previous = day
        if hold is not None:
            ids = [d.delivery_id for d in files.values() if d.status in ("staged", "applied")]
            # a replay removed an applied day's rows: back to staged, with the hold
            ledger.set_status(conn, ids, "staged", hold, run_id, back_from=("staged", "applied"))
            result.held[day] = hold
            continue
        files = {t: d for t, d in files.items() if d.status != "discarded"}
        if not files or (not result.replayed and all(d.status == "applied" for d in files.values())):
            continue
        _merge(result.stats, apply_day(files))
        ledger.set_status(conn, [d.delivery_id for d in files.values()], "applied", run_id=run_id)
        result.applied_days.append(day)
        result.files += [d.file_name for d in files.values()]
    return result
