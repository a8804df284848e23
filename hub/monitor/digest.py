"""The daily digest per district: deliveries applied, rejected, held and failed, and records changed, in the 24
hours before it is sent (once a day, after the registry's `notifications.digest_at`, local time); counts only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import sqlalchemy as sa

from hub.monitor.freshness import Freshness
from hub.monitor.notices import Notice
from hub.registry.declarations import Feed
from hub.registry.registry import District, Registry
from hub.registry.windows import local_now
from hub.store.tables import audited_records

OUTCOMES = ("applied", "rejected", "held", "failed")
ACTIONS = {"create": "created", "update": "updated", "delete": "deleted"}


def period(registry: Registry, district: District, now: float) -> tuple[dt.datetime, dt.datetime] | None:
    """The 24 hours the digest covers, as naive UTC [start, end): those before now, once today's digest time has
    passed in the district's timezone (the notification sensor sends it at its first tick after); None before it."""
    local = local_now(now, district.timezone)
    if local.time() < registry.notifications.digest_at:
        return None
    end = local.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return end - dt.timedelta(days=1), end


def digest_notices(conn: sa.Connection, registry: Registry, feeds: Mapping[str, Feed], states: list[Freshness],
                   now: float) -> list[Notice]:
    """Today's digest of every district with an enabled integration, once its digest time has passed."""
    out = []
    for district in registry.districts:
        integrations = [i for i in registry.enabled() if i.district == district.id]
        span = period(registry, district, now) if integrations else None
        if span is None:
            continue
        day = local_now(now, district.timezone).date().isoformat()
        outcomes = _outcomes(conn, district.id, span)
        changed = _changed(conn, district.id, span)
        lines = [f"Daily digest: {district.name}",
                 f"Period: {span[0]:%Y-%m-%d %H:%M} to {span[1]:%Y-%m-%d %H:%M} UTC",
                 "Deliveries: " + ", ".join(f"{o} {sum(n for (_, s), n in outcomes.items() if s == o)}"
                                            for o in OUTCOMES)]
        for i in integrations:
            mine = {s: n for (iid, s), n in outcomes.items() if iid == i.id}
            title = feeds[i.feed].title if i.feed in feeds else i.feed
            lines.append(f"  {i.id} ({title}): " + (", ".join(f"{o} {mine[o]}" for o in OUTCOMES if o in mine)
                                                     or "no delivery"))
        lines.append("Records changed:" + ("" if changed else " none"))
        lines += [f"  {table}: " + ", ".join(f"{ACTIONS[a]} {n}" for a, n in sorted(acts.items()))
                  for table, acts in sorted(changed.items())]
        mine = [f for f in states if f.district_id == district.id and f.state in ("late", "paused")]
        lines += [f"{'Late' if f.late else 'Paused'}: {f.integration_id}: {f.reason}" for f in mine]
        totals = {o: sum(n for (_, s), n in outcomes.items() if s == o) for o in OUTCOMES}
        out.append(Notice(f"digest:{district.id}:{day}", "digest", district.id, None, None,
                          f"[{district.name}] Daily digest {day}: " + ", ".join(f"{n} {o}" for o, n in totals.items()),
                          tuple(lines), {"event": "digest", "district": district.id, "day": day, **totals,
                                         "records_changed": {t: dict(a) for t, a in changed.items()}}))
    return out


def _outcomes(conn: sa.Connection, district_id: str, span: tuple[dt.datetime, dt.datetime]
              ) -> dict[tuple[str, str], int]:
    """(integration, outcome) -> deliveries that reached the outcome in the period."""
    rows = conn.execute(sa.text(
        "SELECT d.integration_id, e.status, count(DISTINCT e.delivery_id) FROM ops.delivery_events e "
        "JOIN ops.deliveries d ON d.delivery_id = e.delivery_id WHERE d.district_id = :d AND e.moved "
        "AND e.status IN ('applied', 'rejected', 'held', 'failed') AND e.occurred_at >= :a AND e.occurred_at < :b "
        "GROUP BY d.integration_id, e.status"), {"d": district_id, "a": span[0], "b": span[1]})
    return {(iid, status): int(n) for iid, status, n in rows}


def _changed(conn: sa.Connection, district_id: str, span: tuple[dt.datetime, dt.datetime]) -> dict[str, dict[str, int]]:
    """Target table -> action -> records the period's deliveries created, updated or deleted (hashed keys counted)."""
    rows = conn.execute(sa.text(
        f"SELECT a.entity, a.action, {audited_records('a')} FROM ops.field_audit a WHERE a.delivery_id IN ("
        "SELECT e.delivery_id FROM ops.delivery_events e JOIN ops.deliveries d ON d.delivery_id = e.delivery_id "
        "WHERE d.district_id = :d AND e.status = 'applied' AND e.occurred_at >= :a AND e.occurred_at < :b) "
        "AND a.district_id = :d AND a.changed_at >= :a AND a.changed_at < :b "
        "AND a.action IN ('create', 'update', 'delete') GROUP BY a.entity, a.action"),
        {"d": district_id, "a": span[0], "b": span[1]})
    out: dict[str, dict[str, int]] = {}
    for entity, action, n in rows:
        out.setdefault(entity, {})[action] = int(n)
    return out
