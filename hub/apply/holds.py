"""Holds: a delivery that would change too much (the integration's rules, hub/registry/hold_rules.py) is staged and gated,
then held instead of applied, until a person approves or discards it (`hub holds`, or the apply asset's run config).

Generic over feeds: the day's apply runs inside its transaction, its counts (created, updated, deleted per target
table; fields changed from ops.field_audit) are compared with the rules, and a hold rolls the transaction back
(HoldNeeded) before the caller records it. The hold's reason and preview hold counts and column names only.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from hub.apply.hold_preview import changed_fields, file_mapping, identity_changes, table_preview
from hub.apply.rows_before import enough_rows, few_rows, rows_before
from hub.apply.upsert import ApplyStats
from hub.intake import ledger
from hub.intake.ledger import Delivery, utcnow
from hub.load.changes import unchanged
from hub.registry.declarations import Feed
from hub.registry.registry import Integration
from hub.store.tables import deliveries, delivery_sizes, field_audit, holds

HELD = "held for approval: "
DECISIONS = {"approve": "approved", "discard": "discarded"}


class HoldNeeded(Exception):
    """The day's deliveries broke a hold rule: the caller rolls back its transaction, then calls `record`."""

    def __init__(self, files: Iterable[Delivery], reasons: list[str], preview: dict[str, object]) -> None:
        self.files = list(files)
        self.reason = HELD + "; ".join(reasons)
        self.preview = preview
        super().__init__(self.reason)


class HoldError(ValueError):
    """A decision that cannot be made (unknown delivery, not held); the message says why."""


def checked_apply(conn: sa.Connection, feed: Feed, integration: Integration, files: dict[str, Delivery], run_id: str,
                  apply: Callable[[], ApplyStats]) -> ApplyStats:
    """`apply()` the day's `files` in the caller's transaction; raise HoldNeeded when a rule holds them (the hold
    covers its deliveries not applied before and not approved: a replay or an approved delivery is not judged)."""
    rules = integration.holds
    sizes = _record_sizes(conn, feed, files)
    approved = _approved(conn, list(files.values()))
    judged = [d for d in files.values() if d.status != "applied" and d.delivery_id not in approved]
    if not judged:
        return apply()
    reasons = []
    new = not _has_applied(conn, integration.id)
    first = rules.first_file and new
    if first:
        reasons.append("the first delivery of a new integration: review its mapping, then approve")
    reasons += _size_reasons(conn, integration, judged, sizes)
    few = few_rows(conn, feed, integration.district) if new else {}  # a first delivery creates all it brings
    stats = apply()
    totals = _totals(stats)
    identity = identity_changes(conn, judged, run_id)
    enough = enough_rows(integration.holds, totals, identity)
    reasons += _share_reasons(integration, rows_before(conn, feed, integration.district, totals, few, enough),
                              totals, identity)
    if not reasons:
        return stats
    before = rows_before(conn, feed, integration.district, totals, few)  # exact, for the preview
    preview: dict[str, object] = {
        "files": {d.file_type: {"file": d.file_name, "rows": sizes[d.delivery_id]} for d in judged},
        "tables": table_preview(before, stats),
        "fields": changed_fields(conn, judged, run_id),
        "identities": identity}
    if first:
        preview["mapping"] = {d.file_type: file_mapping(conn, feed, integration, d) for d in judged}
    raise HoldNeeded(judged, reasons, preview)


def record(conn: sa.Connection, hold: HoldNeeded, run_id: str) -> None:
    """Mark the held deliveries `held` with the reason and keep the hold (reason, preview) in ops.holds."""
    ids = [d.delivery_id for d in hold.files]
    ledger.set_status(conn, ids, "held", hold.reason, run_id)
    conn.execute(sa.delete(holds).where(holds.c.delivery_id.in_(ids)))
    now, preview = utcnow(), json.dumps(hold.preview)
    conn.execute(sa.insert(holds), [
        {"delivery_id": d.delivery_id, "integration_id": d.integration_id, "district_id": d.district_id,
         "partition_date": d.partition_date, "reason": hold.reason, "preview": preview, "held_at": now,
         "run_id": run_id} for d in hold.files])


@dataclass(frozen=True)
class Decision:
    """What a decision did: the deliveries of the held day it covered, or an earlier decision (nothing done)."""

    decision: str  # approved | discarded
    by: str
    at: object
    integration_id: str
    partition_date: str
    delivery_ids: tuple[str, ...]
    already: bool  # the hold was decided before: nothing was done now


def decide(conn: sa.Connection, delivery_id: str, verb: str, by: str, run_id: str) -> Decision:
    """Approve or discard a held delivery and the deliveries held with it (its integration's held day), once: a
    second decision does nothing and says who decided when. Approved deliveries go back to `staged` (the caller
    applies them, unjudged); discarded ones are final. The decision goes to ops.holds, the delivery's history and
    ops.field_audit."""
    if verb not in DECISIONS:
        raise HoldError(f"unknown decision {verb!r} (approve or discard)")
    if not by.strip():
        raise HoldError("say who decides (--by NAME)")
    h = holds.c
    row = conn.execute(sa.select(holds).where(h.delivery_id == delivery_id)).first()
    if row is None:
        found = ledger.get(conn, delivery_id)
        raise HoldError(f"delivery {delivery_id} is not held" + (f" (it is {found.status})" if found else
                                                                 " (no such delivery)"))
    if row.decision is not None:
        return Decision(row.decision, row.decided_by, row.decided_at, row.integration_id, row.partition_date,
                        (delivery_id,), already=True)
    same_day = sa.and_(h.integration_id == row.integration_id, h.partition_date == row.partition_date,
                       h.decision.is_(None))
    ids = tuple(conn.execute(sa.select(h.delivery_id).where(same_day).order_by(h.delivery_id)).scalars())
    decision, now = DECISIONS[verb], utcnow()
    conn.execute(sa.update(holds).where(h.delivery_id.in_(ids)).values(decision=decision, decided_by=by,
                                                                          decided_at=now))
    note = f"{decision} by {by}"
    if decision == "approved":
        ledger.set_status(conn, list(ids), "staged", note, run_id, back_from=("held",))
    else:
        ledger.set_status(conn, list(ids), "discarded", note, run_id)
    names = dict(conn.execute(sa.select(deliveries.c.delivery_id, deliveries.c.file_name)
                              .where(deliveries.c.delivery_id.in_(ids))).all())
    conn.execute(sa.insert(field_audit), [
        {"district_id": row.district_id, "entity": "ops.deliveries", "entity_key": d, "action": "hold decision",
         "field": "status", "old_value": "held", "new_value": decision, "source_file": f"hub holds {verb} (by {by})",
         "delivery_id": d, "run_id": run_id, "changed_at": now} for d in ids])
    ledger.log.info("hold %s: %s (%s) by an operator at %s", decision, ", ".join(names[d] for d in ids),
                    row.integration_id, now.isoformat(timespec="seconds"))
    return Decision(decision, by, now, row.integration_id, row.partition_date, ids, already=False)


def pending(conn: sa.Connection, integration_id: str | None = None, decided: bool = False) -> list[sa.Row]:
    """Holds waiting for a decision (with `decided`, every hold), oldest first, with the file name and type."""
    d, h = deliveries.c, holds.c
    query = (sa.select(h.delivery_id, h.integration_id, h.district_id, h.partition_date, d.file_type, d.file_name,
                       h.reason, h.preview, h.held_at, h.decision, h.decided_by, h.decided_at)
             .join(deliveries, d.delivery_id == h.delivery_id).order_by(h.held_at, h.partition_date, d.file_type))
    if integration_id:
        query = query.where(h.integration_id == integration_id)
    if not decided:
        query = query.where(h.decision.is_(None))
    return list(conn.execute(query))


def hold_of(conn: sa.Connection, delivery_id: str) -> sa.Row | None:
    return conn.execute(sa.select(holds).where(holds.c.delivery_id == delivery_id)).first()


def _approved(conn: sa.Connection, files: list[Delivery]) -> set[str]:
    return set(conn.execute(sa.select(holds.c.delivery_id).where(
        holds.c.delivery_id.in_([d.delivery_id for d in files]), holds.c.decision == "approved")).scalars())


def _has_applied(conn: sa.Connection, integration_id: str) -> bool:
    return conn.execute(sa.select(deliveries.c.delivery_id).where(
        deliveries.c.integration_id == integration_id, deliveries.c.status == "applied").limit(1)).first() is not None


def _record_sizes(conn: sa.Connection, feed: Feed, files: dict[str, Delivery]) -> dict[str, int]:
    """Rows staged per delivery, and rows left out as unchanged (hub/load/changes.py), kept in ops.delivery_sizes
    (the history of the size rule)."""
    sizes = {d.delivery_id: int(conn.execute(sa.text(
        f"SELECT count(*) FROM staging.{feed.name}__{ft} WHERE delivery_id = :d"), {"d": d.delivery_id}).scalar_one())
        + unchanged(conn, d.delivery_id) for ft, d in files.items()}
    conn.execute(sa.delete(delivery_sizes).where(delivery_sizes.c.delivery_id.in_(list(sizes))))
    conn.execute(sa.insert(delivery_sizes), [{"delivery_id": k, "rows": v} for k, v in sizes.items()])
    return sizes


def staged_rows(conn: sa.Connection, delivery_id: str) -> int:
    """Rows of a delivery the apply just applied that are in its staging table, as the apply counted them
    (ops.delivery_sizes less the rows left out as unchanged): a million-row file is not counted twice."""
    rows = conn.execute(sa.select(delivery_sizes.c.rows).where(delivery_sizes.c.delivery_id == delivery_id)).scalar_one()
    return int(rows) - unchanged(conn, delivery_id)


def _size_reasons(conn: sa.Connection, integration: Integration, judged: list[Delivery],
                  sizes: dict[str, int]) -> list[str]:
    """A file with fewer rows than `smaller_than_median` of the median of its type's last applied deliveries."""
    rules, out = integration.holds, []
    if rules.smaller_than_median is None:
        return out
    d, s = deliveries.c, delivery_sizes.c
    for delivery in judged:
        history = list(conn.execute(
            sa.select(s.rows).join(deliveries, d.delivery_id == s.delivery_id)
            .where(d.integration_id == integration.id, d.file_type == delivery.file_type, d.status == "applied",
                   d.delivery_id != delivery.delivery_id)
            .order_by(d.mtime.desc()).limit(rules.size_history)).scalars())
        if len(history) < 3:
            continue
        usual, rows = statistics.median(history), sizes[delivery.delivery_id]
        if usual >= rules.min_rows and rows < rules.smaller_than_median * usual:
            out.append(f"{delivery.file_type}: {rows} rows, under {rules.smaller_than_median:.0%} of the usual "
                       f"{usual:g} (the median of its last {len(history)} deliveries)")
    return out


def _totals(stats: ApplyStats) -> dict[str, dict[str, int]]:
    """Rows created, updated and deleted per target table (stats of one table under several names added up)."""
    totals: dict[str, dict[str, int]] = {}
    for name, s in stats.items():
        t = totals.setdefault(name.split(" (")[0], {"deleted": 0, "updated": 0, "created": 0})
        t["deleted"] += s.deleted
        t["updated"] += s.updated
        t["created"] += s.inserted
    return totals


def _share_reasons(integration: Integration, before: dict[str, int], totals: dict[str, dict[str, int]],
                   identity: dict[str, int]) -> list[str]:
    """The shares of each target table's rows (the district's, before the delivery) it would create, update or
    delete, and of its records whose identifying fields would change, against the rules."""
    rules, out = integration.holds, []
    for table, rows in before.items():
        if rows < max(rules.min_rows, 1):
            continue
        for rule, n in {**totals.get(table, {}), "identity_changed": identity.get(table, 0)}.items():
            limit = getattr(rules, rule)
            if limit is not None and n / rows > limit:
                what = ("records would change identifying fields" if rule == "identity_changed"
                        else f"rows would be {rule}")
                out.append(f"{table}: {n} of {rows} {what} ({n / rows:.0%}; the limit is {limit:.0%})")
    return out


def preview_lines(preview: dict[str, object]) -> list[str]:
    """The preview as text lines (notifications, `hub holds list`): counts and names only."""
    lines = []
    for ft, f in dict(preview.get("files", {})).items():  # type: ignore[arg-type]
        lines.append(f"File {ft}: {f['file']}, {f['rows']} rows")
    for table, counts in dict(preview.get("tables", {})).items():  # type: ignore[arg-type]
        lines.append(f"Table {table}: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v is not None))
    for table, action, column, n in list(preview.get("fields", [])):  # type: ignore[arg-type]
        lines.append(f"Field {table} {action}{' ' + column if column else ''}: {n} record(s)")
    for table, n in dict(preview.get("identities", {})).items():  # type: ignore[arg-type]
        lines.append(f"Identities {table}: {n} record(s) whose identifying fields would change")
    for ft, m in dict(preview.get("mapping", {})).items():  # type: ignore[arg-type]
        pairs = ", ".join(f"{h} -> {c}" for h, c in m["header -> column"].items())
        lines.append(f"Mapping {ft}: {pairs}; headers dropped: {', '.join(m['headers dropped']) or 'none'}; "
                     f"codes mapped: {json.dumps(m['codes mapped'], sort_keys=True)}; row errors: {m['row errors']}")
    return lines
