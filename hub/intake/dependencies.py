"""Feeds that need another feed's delivery of the same night (declared on the feed: `Feed.needs`).

A dependent delivery waits (status `waiting`, the reason names what for) until the needed integration of its
district has applied a delivery of that day or later and none of that day is still on its way (a night's files
that run apart: the needed feed's day is complete), or, when none arrives, for the integration's
`dependency_wait_minutes` after it was received; then it runs with the latest applied one. When the needed delivery
of that day is applied after the dependent one ran, the dependent day is applied again (`reapply`).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from hub.registry.declarations import Feed
from hub.registry.registry import Integration, Registry
from hub.store.tables import deliveries, ingest_errors

PENDING = ("waiting", "queued", "staged")  # on its way to a final state: worth waiting for without a bound


def needed(registry: Registry, feed: Feed, integration: Integration) -> list[Integration]:
    """The enabled integrations of the district whose deliveries this feed's days need."""
    return [i for n in feed.needs for i in registry.enabled(n.feed) if i.district == integration.district]


def dependency_hold(conn: sa.Connection, registry: Registry, feed: Feed, integration: Integration, day: str,
                    received: float, now: float) -> str | None:
    """Why a delivery of `day` received at `received` (epoch seconds) waits for a feed it needs; None: go."""
    bound = integration.dependency_wait_minutes * 60
    for dep in needed(registry, feed, integration):
        d = deliveries.c
        pending = conn.execute(sa.select(sa.func.count()).where(  # a file of the night applied, another on its way:
            d.integration_id == dep.id, d.partition_date == day, d.status.in_(PENDING))).scalar_one()  # not complete
        if pending:
            return f"waits for {dep.feed} ({dep.id}) of {day}: received, not applied yet"
        applied = conn.execute(sa.select(sa.func.count()).where(
            d.integration_id == dep.id, d.status == "applied", d.partition_date >= day)).scalar_one()
        if applied:
            continue
        if now - received < bound:
            return (f"waits for {dep.feed} ({dep.id}) of {day}: not received yet; runs with its latest applied "
                    f"delivery after {integration.dependency_wait_minutes} min")
    return None


def reapply(conn: sa.Connection, registry: Registry, feed: Feed, integration: Integration
            ) -> list[tuple[str, str, str, str]]:
    """Days this integration ran before a needed delivery of the same day was applied: (delivery id, day, file type,
    the cause: the needed delivery's id and when it was applied). Applied deliveries, and deliveries blocked by the
    match-rate gate. The cause goes into the run key: a needed delivery applied a second time (an operator's
    materialization) is a new cause, whose run Dagster would drop under a key it has seen."""
    deps = [dep.id for dep in needed(registry, feed, integration)]
    if not deps:
        return []
    d, x, e = deliveries.alias("d"), deliveries.alias("x"), ingest_errors
    blocked_by_match = sa.exists().where(e.c.delivery_id == d.c.delivery_id, e.c.gate == "match_rate")
    rows = conn.execute(
        sa.select(d.c.delivery_id, d.c.partition_date, d.c.file_type, sa.func.max(x.c.delivery_id),
                  sa.func.max(x.c.updated_at))
        .join(x, sa.and_(x.c.integration_id.in_(deps), x.c.status == "applied",
                         x.c.partition_date == d.c.partition_date, x.c.updated_at > d.c.updated_at))
        .where(d.c.integration_id == integration.id,
               sa.or_(d.c.status == "applied", sa.and_(d.c.status == "rejected", blocked_by_match)))
        .group_by(d.c.delivery_id, d.c.partition_date, d.c.file_type)).all()
    return [(did, day, ft, f"{need}@{at.isoformat()}") for did, day, ft, need, at in rows]


def epoch(naive_utc: dt.datetime) -> float:
    return naive_utc.replace(tzinfo=dt.timezone.utc).timestamp()
